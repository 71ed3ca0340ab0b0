import { type LayerPlace, layerError } from './layer-error.js';

/**
 * Parses the records of a pax extended header (POSIX.1-2008, pax "Extended Header Records"):
 * `<length> <keyword>=<value>\n`, the decimal length counting the whole record. Values stay
 * bytes, because SCHILY.xattr values are raw binary (NULs included) and are framed only by the
 * length. A later record of the same keyword replaces an earlier one.
 */
export function parsePaxRecords(body: Buffer, place: LayerPlace): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    // Some writers pad the header body with NULs; nothing can follow them.
    if (body[pos] === 0) {
      if (body.subarray(pos).every((b) => b === 0)) break;
      throw bad('a NUL byte between records', place);
    }
    const space = body.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw bad('a record without a length', place);
    const lengthText = body.toString('latin1', pos, space);
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw bad(`a record length ${JSON.stringify(lengthText)}`, place);
    const length = Number(lengthText);
    const end = pos + length;
    if (end > body.length || end <= space + 1) throw bad('a record longer than the header', place);
    if (body[end - 1] !== 0x0a) throw bad('a record not ended by a newline', place);
    const equals = body.indexOf(0x3d, space + 1);
    if (equals === -1 || equals >= end - 1 || equals === space + 1)
      throw bad('a record without a keyword', place);
    records.set(body.toString('utf8', space + 1, equals), body.subarray(equals + 1, end - 1));
    pos = end;
  }
  return records;
}

function bad(what: string, place: LayerPlace) {
  return layerError('LAYER_CORRUPT', `pax extended header has ${what}`, place);
}
