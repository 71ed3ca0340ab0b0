/**
 * A validator for the part of JSON Schema (draft 2020-12) that docs/site-check.schema.json uses,
 * so tests check `--json` output against the published file itself. A keyword outside the subset
 * throws: a schema edit the validator does not understand cannot pass silently.
 */

type Schema = { [k: string]: unknown } | boolean;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'required',
  'additionalProperties',
  'properties',
  'items',
  '$ref',
  'enum',
  'const',
  'minLength',
  'pattern',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function resolve(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) at = (at as Record<string, unknown>)[part];
  if (at === undefined) throw new Error(`dangling $ref ${ref}`);
  return at as Schema;
}

/** Every way `value` breaks `schema`, as `path: problem` lines; empty when it conforms. */
export function validateJsonSchema(schema: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const walk = (s: Schema, v: unknown, at: string) => {
    if (s === true) return;
    if (s === false) {
      errors.push(`${at}: not allowed`);
      return;
    }
    for (const k of Object.keys(s))
      if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${at} is outside the subset`);
    if (typeof s.$ref === 'string') walk(resolve(schema, s.$ref), v, at);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      const t = typeOf(v);
      if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
        errors.push(`${at}: is ${t}, not ${types.join(' or ')}`);
        return;
      }
    }
    if ('const' in s && v !== s.const) errors.push(`${at}: is not ${JSON.stringify(s.const)}`);
    if (Array.isArray(s.enum) && !s.enum.includes(v as never))
      errors.push(`${at}: ${JSON.stringify(v)} not in the enum`);
    if (typeof v === 'string') {
      if (typeof s.minLength === 'number' && v.length < s.minLength)
        errors.push(`${at}: shorter than ${s.minLength}`);
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v))
        errors.push(`${at}: does not match ${s.pattern}`);
    }
    if (Array.isArray(v) && s.items !== undefined)
      for (const [i, item] of v.entries()) walk(s.items as Schema, item, `${at}[${i}]`);
    if (typeOf(v) === 'object') {
      const obj = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in obj)) errors.push(`${at}: ${r} missing`);
      for (const [k, item] of Object.entries(obj)) {
        if (k in props) walk(props[k] as Schema, item, `${at}.${k}`);
        else if (s.additionalProperties !== undefined)
          walk(s.additionalProperties as Schema, item, `${at}.${k}`);
      }
    }
  };
  walk(schema, value, '$');
  return errors;
}
