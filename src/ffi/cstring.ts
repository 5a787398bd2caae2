/**
 * C string helpers for the calls that pass text to libzt.
 *
 * @module
 */

/** UTF-8 bytes of `text` followed by a NUL. */
export function nulTerminated(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The text before the first NUL of `bytes`. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
