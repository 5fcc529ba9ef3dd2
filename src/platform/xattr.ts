/**
 * Extended attributes of local files, through the small native addon in ./xattr/ (Node has
 * no xattr API). The addon is built by the package's `install` script with node-gyp; where
 * that was not possible (no C compiler, not Linux) it is absent: reading then gives no
 * attributes, writing does nothing, and `xattrSupport()` says why — the same as restic on a
 * platform without xattr support.
 *
 * The calls never follow symbolic links and are synchronous: one system call for a file
 * without attributes, microseconds from the page cache, cheaper than a thread-pool round trip.
 */
import { decodeGoRune } from '../format/json.js';
import type { ExtendedAttribute } from '../format/node.js';
import { loadNativeAddon } from './native-addon.js';

/** The addon's functions (src/platform/xattr/xattr.c). Names and paths are raw bytes. */
interface XattrBinding {
  llist(path: Uint8Array): Buffer[];
  lget(path: Uint8Array, name: Uint8Array): Buffer;
  lset(path: Uint8Array, name: Uint8Array, value: Uint8Array): void;
}

export interface XattrSupport {
  /** Whether extended attributes are read by backup and written by restore. */
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
}

/** An error of an xattr system call: `code` is the errno name (ENOTSUP, EACCES, …). */
export interface XattrError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path: string;
}

let binding: XattrBinding | null | undefined;
let unavailableReason: string | undefined;

function loadBinding(): XattrBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  if (process.platform !== 'linux') {
    unavailableReason = `extended attributes are supported on Linux only (this is ${process.platform})`;
    return binding;
  }
  const addon = loadNativeAddon<XattrBinding>(import.meta.url, {
    dir: 'platform/xattr',
    name: 'xattr',
    what: 'native xattr addon',
    needs: 'a C compiler, make and python3',
    exports: ['llist', 'lget', 'lset'],
  });
  unavailableReason = addon.reason;
  const loaded = addon.binding ?? null;
  binding = loaded;
  return loaded;
}

/** Whether this process can read and write extended attributes, and if not, why. */
export function xattrSupport(): XattrSupport {
  return loadBinding() ? { available: true } : { available: false, reason: unavailableReason };
}

function pathBytes(path: Uint8Array | string): Uint8Array {
  return typeof path === 'string' ? Buffer.from(path) : path;
}

function withPath(err: unknown, path: Uint8Array | string, name?: string): unknown {
  const e = err as Partial<XattrError>;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return err;
  const shown = typeof path === 'string' ? path : Buffer.from(path).toString();
  e.path = shown;
  err.message = `${err.message} '${shown}'${name !== undefined ? ` (attribute ${name})` : ''}`;
  return err;
}

/**
 * Go's view of a name's bytes as a string: valid UTF-8 as text; each byte that is not is
 * kept as a lone surrogate, which the tree encoder writes as `\ufffd` exactly where Go's
 * encoding/json does (one per invalid byte), so such trees stay byte-identical to restic's.
 */
function goStringFromBytes(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; ) {
    if (b[i] < 0x80) {
      out += String.fromCharCode(b[i++]);
      continue;
    }
    const [rune, size] = decodeGoRune(b, i);
    out += rune < 0 ? String.fromCharCode(0xdc00 | b[i]) : String.fromCodePoint(rune);
    i += size;
  }
  return out;
}

const isPlainAscii = (b: Uint8Array): boolean => b.every((c) => c < 0x80);

/** Codes meaning "this file system or file has no extended attributes" (restic ignores them). */
const NOT_SUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENODATA']);

/**
 * The extended attributes of `path` (not following a symlink) as restic 0.14 records them:
 * every name the listing gives (user.*, trusted.*, security.*, system.*), in the listing's
 * order, with its value (an empty value stays an empty array). A file system without xattr
 * support gives []. An attribute that vanishes between listing and reading gets a `null`
 * value, as restic's does. Another failure to read one attribute is passed to
 * `onAttributeError` and the attribute left out (restic warns and goes on); without the
 * callback it is thrown. A failure to list throws (restic then skips the file).
 * Without the addon this returns [] (see `xattrSupport()`).
 */
export function readExtendedAttributes(path: Uint8Array | string, onAttributeError?: (name: string, err: XattrError) => void): ExtendedAttribute[] {
  const xattr = loadBinding();
  if (!xattr) return [];
  const bytes = pathBytes(path);
  let names: Buffer[];
  try {
    names = xattr.llist(bytes);
  } catch (err) {
    if (NOT_SUPPORTED.has((err as XattrError).code)) return [];
    throw withPath(err, path);
  }
  const attrs: ExtendedAttribute[] = [];
  for (const raw of names) {
    const name = isPlainAscii(raw) ? raw.toString('latin1') : goStringFromBytes(raw);
    let value: Uint8Array | null;
    try {
      value = xattr.lget(bytes, raw);
    } catch (err) {
      const code = (err as XattrError).code;
      if (!NOT_SUPPORTED.has(code)) {
        const e = withPath(err, path, name);
        if (!onAttributeError) throw e;
        onAttributeError(name, e as XattrError);
        continue;
      }
      value = null;
    }
    attrs.push({ name, value });
  }
  return attrs;
}

/**
 * Sets each attribute on `path` (not following a symlink); a `null` value is written empty.
 * A file system without xattr support is not an error (restic ignores it too), nor is a
 * missing addon. Every attribute is tried; the first failure (with the names of all failed
 * attributes in its message) is thrown afterwards, unless `ignore(err)` says to skip it.
 */
export function writeExtendedAttributes(
  path: Uint8Array | string,
  attrs: readonly ExtendedAttribute[],
  ignore?: (err: XattrError) => boolean,
): void {
  if (attrs.length === 0) return;
  const xattr = loadBinding();
  if (!xattr) return;
  const bytes = pathBytes(path);
  let first: XattrError | undefined;
  const failed: string[] = [];
  for (const attr of attrs) {
    try {
      xattr.lset(bytes, Buffer.from(attr.name), attr.value ?? new Uint8Array(0));
    } catch (err) {
      const e = err as XattrError;
      if (typeof e.code === 'string' && NOT_SUPPORTED.has(e.code)) continue;
      if (typeof e.code === 'string' && ignore?.(e)) continue;
      failed.push(attr.name);
      first ??= e;
    }
  }
  if (first) {
    withPath(first, path);
    if (failed.length > 1) first.message += ` (attributes ${failed.join(', ')})`;
    else first.message += ` (attribute ${failed[0]})`;
    throw first;
  }
}
