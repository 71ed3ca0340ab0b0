import { posixAddon } from './native-addon.js';

let zlibCompress: ((data: Uint8Array, level: number) => Buffer | null) | null | undefined;

/**
 * zlib-format compression with libdeflate (native/deflate.c), or null when libdeflate or the
 * addon is not available on this machine: the caller then compresses with Node's zlib. Both
 * write valid zlib streams, which is all a CVMFS client needs.
 */
export function nativeZlibCompress(data: Uint8Array, level: number): Buffer | null {
  if (zlibCompress === undefined) {
    try {
      const addon = posixAddon();
      zlibCompress = addon.zlibCompress(new Uint8Array(0), level) ? addon.zlibCompress : null;
    } catch {
      zlibCompress = null;
    }
  }
  return zlibCompress ? zlibCompress(data, level) : null;
}
