/**
 * JSON exactly as restic (Go) reads and writes it.
 *
 * - `JsonReader` / `parseJsonLossless`: a small strict JSON parser. Integers beyond 2^53 come
 *   back as `bigint` (inode and device numbers are uint64), object key order is kept and a
 *   duplicate key keeps its last value (as Go's decoder does). Errors are CORRUPT and name
 *   what was being read. The schema-driven readers (tree nodes, snapshots) use the pull API
 *   so they can take raw value text (generic attributes, unknown fields) without a re-encode.
 * - `goJsonString`: a JSON string literal byte-identical to Go's `encoding/json` output
 *   (HTML escaping, U+2028/2029, each invalid UTF-8 byte as `\ufffd`).
 * - `goQuote` / `goUnquote`: Go's `strconv.Quote` / `strconv.Unquote` bodies, which restic
 *   applies to node names so that names can hold any bytes.
 * - `GoJsonObject`: a writer for Go structs (field order and omitempty are the caller's).
 */
import { ResticError } from '../errors.js';

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * Go ≥ 1.22 writes the control characters U+0008 and U+000C as `\b` and `\f`; Go ≤ 1.21
 * (restic ≤ 0.16, including Debian's restic 0.14 built with Go 1.19) wrote `\u0008` and
 * `\u000c`. Current restic is built with a new Go, so that is our default; pass
 * `{ legacyControlEscapes: true }` to reproduce an older restic's bytes.
 */
export const DEFAULT_LEGACY_CONTROL_ESCAPES = false;

export interface GoJsonOptions {
  /** Write U+0008/U+000C as `\u0008`/`\u000c` (Go ≤ 1.21) instead of `\b`/`\f`. */
  legacyControlEscapes?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Reading

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

const MAX_DEPTH = 10_000; // Go's decoder limit

/**
 * A pull parser over one JSON text. `what` names the source in error messages
 * (e.g. `tree 1a2b3c4d` or `snapshots/9f3c…`), `file` is attached to the error.
 */
export class JsonReader {
  pos = 0;
  /**
   * Counts what Go's encoder would have written differently: whitespace between tokens, raw
   * `<`, `>`, `&`, U+2028/U+2029 in strings, and escapes Go does not produce (`\/`, `\u0008`,
   * `\ufffd`, upper-case hex, …). Schema readers compare it before and after a value to know
   * whether re-encoding could change its bytes.
   */
  nonCanonical = 0;
  private depth = 0;
  private readonly firstStack: boolean[] = [];

  constructor(
    readonly text: string,
    readonly what = 'JSON',
    readonly file?: string,
  ) {}

  error(message: string, at = this.pos): ResticError {
    return new ResticError('CORRUPT', `${this.what}: invalid JSON at offset ${at}: ${message}`, this.file === undefined ? {} : { file: this.file });
  }

  /** A CORRUPT error about a well-formed value that has the wrong type or range. */
  typeError(message: string): ResticError {
    return new ResticError('CORRUPT', `${this.what}: ${message}`, this.file === undefined ? {} : { file: this.file });
  }

  private skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    if (p !== this.pos) this.nonCanonical++;
    this.pos = p;
  }

  private describe(at: number): string {
    if (at >= this.text.length) return 'unexpected end of input';
    return `unexpected character ${JSON.stringify(this.text[at])}`;
  }

  /** The kind of the next value (after whitespace). */
  peek(): JsonKind {
    this.skipWs();
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b:
        return 'object';
      case 0x5b:
        return 'array';
      case 0x22:
        return 'string';
      case 0x74: // t
      case 0x66: // f
        return 'boolean';
      case 0x6e: // n
        return 'null';
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return 'number';
        throw this.error(this.describe(this.pos));
    }
  }

  private expectLiteral(lit: string): void {
    if (this.text.startsWith(lit, this.pos)) this.pos += lit.length;
    else throw this.error(this.describe(this.pos));
  }

  /** Consumes `null` when it comes next and says so. */
  readNull(): boolean {
    if (this.peek() !== 'null') return false;
    this.expectLiteral('null');
    return true;
  }

  readBoolean(): boolean {
    if (this.peek() !== 'boolean') throw this.error('expected true or false');
    if (this.text.charCodeAt(this.pos) === 0x74) {
      this.expectLiteral('true');
      return true;
    }
    this.expectLiteral('false');
    return false;
  }

  /** The raw number token, validated against the JSON grammar. */
  readNumberToken(): string {
    this.skipWs();
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 0x2d) p++;
    const firstDigit = t.charCodeAt(p);
    if (firstDigit === 0x30) p++;
    else if (firstDigit >= 0x31 && firstDigit <= 0x39) {
      while (isDigit(t.charCodeAt(p))) p++;
    } else throw this.error(this.describe(p), p);
    if (t.charCodeAt(p) === 0x2e) {
      p++;
      if (!isDigit(t.charCodeAt(p))) throw this.error(this.describe(p), p);
      while (isDigit(t.charCodeAt(p))) p++;
    }
    const e = t.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      p++;
      const s = t.charCodeAt(p);
      if (s === 0x2b || s === 0x2d) p++;
      if (!isDigit(t.charCodeAt(p))) throw this.error(this.describe(p), p);
      while (isDigit(t.charCodeAt(p))) p++;
    }
    this.pos = p;
    return t.slice(start, p);
  }

  readNumber(): number | bigint {
    return numberFromToken(this.readNumberToken());
  }

  /**
   * An unsigned integer no larger than `max` (Go uint8..uint64 fields). Go refuses
   * fractions, exponents and negative numbers there; so do we.
   */
  readUnsigned(field: string, max: bigint): bigint {
    if (this.peek() !== 'number') throw this.typeError(`field ${field}: expected a number, got ${this.peek()}`);
    const tok = this.readNumberToken();
    if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw this.typeError(`field ${field}: ${tok} is not an unsigned integer`);
    const v = BigInt(tok);
    if (v > max) throw this.typeError(`field ${field}: ${tok} is out of range`);
    return v;
  }

  /** A signed integer in [min, max] (Go int fields). */
  readSigned(field: string, min: bigint, max: bigint): bigint {
    if (this.peek() !== 'number') throw this.typeError(`field ${field}: expected a number, got ${this.peek()}`);
    const tok = this.readNumberToken();
    if (!/^-?(0|[1-9][0-9]*)$/.test(tok)) throw this.typeError(`field ${field}: ${tok} is not an integer`);
    const v = BigInt(tok);
    if (v < min || v > max) throw this.typeError(`field ${field}: ${tok} is out of range`);
    return v;
  }

  readString(): string {
    this.skipWs();
    const t = this.text;
    if (t.charCodeAt(this.pos) !== 0x22) throw this.error(this.describe(this.pos) + ', expected a string');
    let p = this.pos + 1;
    let chunkStart = p;
    let out = '';
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        out += t.slice(chunkStart, p);
        this.pos = p + 1;
        return out;
      }
      if (c === 0x5c) {
        out += t.slice(chunkStart, p);
        const e = t.charCodeAt(p + 1);
        p += 2;
        switch (e) {
          case 0x22:
            out += '"';
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            this.nonCanonical++;
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            const hi = this.hex4(p);
            if (!isCanonicalUnicodeEscape(hi) || t.slice(p, p + 4) !== t.slice(p, p + 4).toLowerCase()) this.nonCanonical++;
            p += 4;
            if (hi >= 0xd800 && hi <= 0xdbff) {
              // A surrogate pair, or a lone surrogate that Go turns into U+FFFD.
              if (t.charCodeAt(p) === 0x5c && t.charCodeAt(p + 1) === 0x75) {
                const lo = this.hex4(p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                  out += String.fromCharCode(hi, lo);
                  p += 6;
                  break;
                }
              }
              out += '\ufffd';
            } else if (hi >= 0xdc00 && hi <= 0xdfff) {
              out += '\ufffd';
            } else {
              out += String.fromCharCode(hi);
            }
            break;
          }
          default:
            throw this.error(`invalid escape ${JSON.stringify(t.slice(p - 2, p))} in string`, p - 2);
        }
        chunkStart = p;
        continue;
      }
      if (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) this.nonCanonical++;
      else if (c < 0x20 || Number.isNaN(c)) {
        throw this.error(Number.isNaN(c) ? 'unterminated string' : `control character U+${c.toString(16).padStart(4, '0')} in string`, p);
      }
      p++;
    }
  }

  private hex4(p: number): number {
    const s = this.text.slice(p, p + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(s)) throw this.error('invalid \\u escape in string', p - 2);
    return parseInt(s, 16);
  }

  /** Consumes `{`. Then call `nextKey()` until it returns undefined. */
  beginObject(): void {
    if (this.peek() !== 'object') throw this.error(this.describe(this.pos) + ', expected an object');
    this.enter();
    this.pos++;
    this.firstStack.push(true);
  }

  /** The next key of the current object (the reader then stands before its value), or undefined at `}`. */
  nextKey(): string | undefined {
    this.skipWs();
    const first = this.firstStack[this.firstStack.length - 1];
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      this.firstStack.pop();
      this.depth--;
      return undefined;
    }
    if (!first) {
      if (this.text.charCodeAt(this.pos) !== 0x2c) throw this.error(this.describe(this.pos) + ", expected ',' or '}'");
      this.pos++;
      this.skipWs();
    }
    this.firstStack[this.firstStack.length - 1] = false;
    if (this.text.charCodeAt(this.pos) !== 0x22) throw this.error(this.describe(this.pos) + ', expected an object key');
    const key = this.readString();
    this.skipWs();
    if (this.text.charCodeAt(this.pos) !== 0x3a) throw this.error(this.describe(this.pos) + ", expected ':'");
    this.pos++;
    return key;
  }

  /** Consumes `[`. Then call `nextElement()` before each element. */
  beginArray(): void {
    if (this.peek() !== 'array') throw this.error(this.describe(this.pos) + ', expected an array');
    this.enter();
    this.pos++;
    this.firstStack.push(true);
  }

  /** True when another element follows (the reader then stands before it); false at `]`. */
  nextElement(): boolean {
    this.skipWs();
    const first = this.firstStack[this.firstStack.length - 1];
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      this.firstStack.pop();
      this.depth--;
      return false;
    }
    if (!first) {
      if (this.text.charCodeAt(this.pos) !== 0x2c) throw this.error(this.describe(this.pos) + ", expected ',' or ']'");
      this.pos++;
    }
    this.firstStack[this.firstStack.length - 1] = false;
    return true;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.error('nesting too deep');
  }

  readValue(): JsonValue {
    switch (this.peek()) {
      case 'object': {
        const obj: JsonObject = {};
        this.beginObject();
        for (let key = this.nextKey(); key !== undefined; key = this.nextKey()) setOwn(obj, key, this.readValue());
        return obj;
      }
      case 'array': {
        const arr: JsonValue[] = [];
        this.beginArray();
        while (this.nextElement()) arr.push(this.readValue());
        return arr;
      }
      case 'string':
        return this.readString();
      case 'number':
        return this.readNumber();
      case 'boolean':
        return this.readBoolean();
      case 'null':
        this.expectLiteral('null');
        return null;
    }
  }

  /** Skips the next value and returns its source text (whitespace inside kept). */
  readRaw(): string {
    this.peek();
    const start = this.pos;
    this.skipValue();
    return this.text.slice(start, this.pos);
  }

  /** Skips the next value, validating it. */
  skipValue(): void {
    switch (this.peek()) {
      case 'object':
        this.beginObject();
        while (this.nextKey() !== undefined) this.skipValue();
        return;
      case 'array':
        this.beginArray();
        while (this.nextElement()) this.skipValue();
        return;
      case 'string':
        this.readString();
        return;
      case 'number':
        this.readNumberToken();
        return;
      case 'boolean':
        this.readBoolean();
        return;
      case 'null':
        this.expectLiteral('null');
        return;
    }
  }

  /** Asserts that only whitespace remains. */
  finish(): void {
    this.skipWs();
    if (this.pos !== this.text.length) throw this.error(this.describe(this.pos) + ' after the top-level value');
  }
}

/** The `\uXXXX` escapes Go's HTML-escaping encoder writes (Go ≥ 1.22: \b and \f are short). */
function isCanonicalUnicodeEscape(c: number): boolean {
  if (c < 0x20) return c !== 0x08 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d;
  return c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function numberFromToken(tok: string): number | bigint {
  // Integers keep full precision: beyond 2^53 they become bigint.
  if (/^-?[0-9]+$/.test(tok)) {
    const n = Number(tok);
    return Number.isSafeInteger(n) ? n : BigInt(tok);
  }
  return Number(tok);
}

/** Own-property assignment that is safe for the key `__proto__`. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, configurable: true, writable: true });
  else obj[key] = value;
}

/**
 * Parses a whole JSON text. Integers beyond 2^53 become `bigint`; object key order is kept
 * (except that JS lists integer-like keys first); duplicate keys: the last one wins.
 */
export function parseJsonLossless(text: string, what = 'JSON', file?: string): JsonValue {
  const reader = new JsonReader(text, what, file);
  try {
    const value = reader.readValue();
    reader.finish();
    return value;
  } catch (err) {
    throw wrapStackOverflow(err, reader);
  }
}

/** A stack overflow on absurd nesting becomes a CORRUPT error, like any other bad input. */
export function wrapStackOverflow(err: unknown, reader: JsonReader): unknown {
  if (err instanceof RangeError) return reader.error('nesting too deep');
  return err;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 as Go sees it

/**
 * Decodes one rune at `i` following Go's utf8.DecodeRune: returns the code point and its
 * length, or -1 with length 1 for an invalid byte (each invalid byte is its own error).
 */
export function decodeGoRune(b: Uint8Array, i: number): [rune: number, size: number] {
  const c0 = b[i];
  if (c0 < 0x80) return [c0, 1];
  const n = b.length - i;
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    if (n >= 2 && isCont(b[i + 1])) return [((c0 & 0x1f) << 6) | (b[i + 1] & 0x3f), 2];
    return [-1, 1];
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    if (n < 3) return [-1, 1];
    const c1 = b[i + 1];
    const lo = c0 === 0xe0 ? 0xa0 : 0x80;
    const hi = c0 === 0xed ? 0x9f : 0xbf;
    if (c1 < lo || c1 > hi || !isCont(b[i + 2])) return [-1, 1];
    return [((c0 & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (b[i + 2] & 0x3f), 3];
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    if (n < 4) return [-1, 1];
    const c1 = b[i + 1];
    const lo = c0 === 0xf0 ? 0x90 : 0x80;
    const hi = c0 === 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi || !isCont(b[i + 2]) || !isCont(b[i + 3])) return [-1, 1];
    return [((c0 & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f), 4];
  }
  return [-1, 1];
}

function isCont(c: number | undefined): boolean {
  return c !== undefined && (c & 0xc0) === 0x80;
}

/** Go's utf8.Valid. */
export function isValidUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; ) {
    if (b[i] < 0x80) {
      i++;
      continue;
    }
    const [r, size] = decodeGoRune(b, i);
    if (r < 0) return false;
    i += size;
  }
  return true;
}

/** UTF-8 bytes of a JS string; lone surrogates become U+FFFD as in Go's string conversion. */
export function utf8Bytes(s: string): Uint8Array {
  const buf = Buffer.from(s, 'utf8');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Bytes as a JS string for display: each invalid byte becomes U+FFFD (Go's conversion to runes). */
export function utf8Text(b: Uint8Array): string {
  if (isAsciiOnly(b)) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  let out = '';
  for (let i = 0; i < b.length; ) {
    const [r, size] = decodeGoRune(b, i);
    out += r < 0 ? '\ufffd' : String.fromCodePoint(r);
    i += size;
  }
  return out;
}

function isAsciiOnly(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) return false;
  return true;
}

/** Go's string ordering (bytewise UTF-8 = code point order) for JS strings. */
export function compareGoStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (astral code points) below U+E000..U+FFFF; UTF-8 does not.
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------
// Go encoding/json string literals

const HEX = '0123456789abcdef';
// Printable ASCII that Go's HTML-escaping encoder writes unchanged.
const PLAIN_ASCII = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7f]*$/;

function asciiEscape(c: number, legacy: boolean): string {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x08:
      if (!legacy) return '\\b';
      break;
    case 0x0c:
      if (!legacy) return '\\f';
      break;
  }
  if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) return '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
  return String.fromCharCode(c);
}

/**
 * A JSON string literal (with quotes) exactly as Go's `encoding/json` writes the Go string
 * `s` (a JS string: lone surrogates count as invalid; bytes: may be any bytes).
 */
export function goJsonString(s: string | Uint8Array, options: GoJsonOptions = {}): string {
  const legacy = options.legacyControlEscapes ?? DEFAULT_LEGACY_CONTROL_ESCAPES;
  if (typeof s === 'string') {
    if (PLAIN_ASCII.test(s)) return '"' + s + '"';
    let out = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        out += asciiEscape(c, legacy);
      } else if (c === 0x2028 || c === 0x2029) {
        out += c === 0x2028 ? '\\u2028' : '\\u2029';
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        out += s[i] + s[i + 1];
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        out += '\\ufffd';
      } else {
        out += s[i];
      }
    }
    return out + '"';
  }
  let out = '"';
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c < 0x80) {
      out += asciiEscape(c, legacy);
      i++;
      continue;
    }
    const [r, size] = decodeGoRune(s, i);
    if (r < 0) out += '\\ufffd';
    else if (r === 0x2028 || r === 0x2029) out += r === 0x2028 ? '\\u2028' : '\\u2029';
    else out += String.fromCodePoint(r);
    i += size;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Go strconv.Quote / Unquote

// unicode.IsPrint: categories L, M, N, P, S, plus ASCII space (handled by the ASCII path).
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isGoPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  return PRINTABLE.test(String.fromCodePoint(r));
}

function quoteAscii(c: number): string {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
  }
  if (c < 0x20 || c === 0x7f) return '\\x' + HEX[c >> 4] + HEX[c & 0xf];
  return String.fromCharCode(c);
}

const QUOTE_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Go `strconv.Quote(string(raw))` without the surrounding quotes. */
export function goQuote(raw: Uint8Array): string {
  if (isAsciiOnly(raw)) {
    const ascii = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
    if (QUOTE_PLAIN.test(ascii)) return ascii;
  }
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const c = raw[i];
    if (c < 0x80) {
      out += quoteAscii(c);
      i++;
      continue;
    }
    const [r, size] = decodeGoRune(raw, i);
    i += size;
    if (r < 0) {
      out += '\\x' + HEX[c >> 4] + HEX[c & 0xf];
    } else if (isGoPrint(r)) {
      out += String.fromCodePoint(r);
    } else if (r < 0x10000) {
      out += '\\u' + r.toString(16).padStart(4, '0');
    } else {
      out += '\\U' + r.toString(16).padStart(8, '0');
    }
  }
  return out;
}

/**
 * Go `strconv.Unquote('"' + s + '"')` as bytes. Throws CORRUPT when Go would refuse it
 * (a bare `"` or newline, a bad escape, `\'`, a surrogate or out-of-range `\u`).
 */
export function goUnquote(s: string): Uint8Array {
  if (s.indexOf('\\') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0) return utf8Bytes(s);
  const bad = (why: string) => new ResticError('CORRUPT', `invalid Go-quoted string ${JSON.stringify(s)}: ${why}`);
  const parts: number[] = [];
  const pushString = (str: string) => {
    for (const b of utf8Bytes(str)) parts.push(b);
  };
  let chunk = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x22) throw bad('unescaped double quote');
    if (c === 0x0a) throw bad('newline');
    if (c !== 0x5c) {
      i++;
      continue;
    }
    pushString(s.slice(chunk, i));
    const e = s[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        parts.push(0x07);
        break;
      case 'b':
        parts.push(0x08);
        break;
      case 'f':
        parts.push(0x0c);
        break;
      case 'n':
        parts.push(0x0a);
        break;
      case 'r':
        parts.push(0x0d);
        break;
      case 't':
        parts.push(0x09);
        break;
      case 'v':
        parts.push(0x0b);
        break;
      case '\\':
        parts.push(0x5c);
        break;
      case '"':
        parts.push(0x22);
        break;
      case 'x': {
        const h = s.slice(i, i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw bad('bad \\x escape');
        parts.push(parseInt(h, 16));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        const len = e === 'u' ? 4 : 8;
        const h = s.slice(i, i + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw bad(`bad \\${e} escape`);
        const r = parseInt(h, 16);
        if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) throw bad(`\\${e}${h} is not a valid rune`);
        pushString(String.fromCodePoint(r));
        i += len;
        break;
      }
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        const o = s.slice(i - 1, i + 2);
        if (!/^[0-7]{3}$/.test(o)) throw bad('bad octal escape');
        const v = parseInt(o, 8);
        if (v > 255) throw bad('octal escape out of range');
        parts.push(v);
        i += 2;
        break;
      }
      default:
        throw bad(`unknown escape \\${e ?? ''}`);
    }
    chunk = i;
  }
  pushString(s.slice(chunk));
  return Uint8Array.from(parts);
}

// ---------------------------------------------------------------------------------------------
// Writing Go structs

/** Go's float64 / integer JSON number text. */
export function goJsonNumber(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw new RangeError(`JSON cannot hold ${v}`);
  if (Object.is(v, -0)) return '-0';
  return String(v); // JS and Go agree: shortest round-trip digits, exponent below 1e-6 and from 1e21
}

/** Standard base64 with padding (Go's `[]byte` in JSON). */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/** Strict standard base64 (Go's StdEncoding accepts CR/LF, which it strips). */
export function decodeBase64(text: string, what: string): Uint8Array {
  const clean = text.replace(/[\r\n]/g, '');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw new ResticError('CORRUPT', `${what}: invalid base64`);
  }
  const buf = Buffer.from(clean, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/**
 * Go's `json.Compact` with HTML escaping, as `json.Marshal` applies it to a `json.RawMessage`:
 * whitespace outside strings removed, `<`, `>`, `&`, U+2028, U+2029 inside strings escaped.
 * The input must be valid JSON.
 */
export function goCompactJson(raw: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        out += ch + raw[i + 1];
        i++;
        continue;
      }
      if (c === 0x22) inString = false;
      if (c === 0x3c || c === 0x3e || c === 0x26) out += '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
      else if (c === 0x2028 || c === 0x2029) out += c === 0x2028 ? '\\u2028' : '\\u2029';
      else out += ch;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x22) inString = true;
    out += ch;
  }
  return out;
}

/** Any JsonValue as Go would marshal the equivalent `interface{}` (object keys in the given order unless sorted). */
export function goJsonValue(v: JsonValue, options: GoJsonOptions & { sortKeys?: boolean } = {}): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
    case 'bigint':
      return goJsonNumber(v);
    case 'string':
      return goJsonString(v, options);
  }
  if (Array.isArray(v)) return '[' + v.map((e) => goJsonValue(e, options)).join(',') + ']';
  let keys = Object.keys(v);
  if (options.sortKeys) keys = keys.sort(compareGoStrings);
  return '{' + keys.map((k) => goJsonString(k, options) + ':' + goJsonValue(v[k], options)).join(',') + '}';
}

/**
 * Builds one JSON object the way Go marshals a struct: fields are appended in declaration
 * order by the caller; the `omitEmpty` flags follow the struct tags.
 */
export class GoJsonObject {
  private readonly parts: string[] = [];

  constructor(private readonly options: GoJsonOptions = {}) {}

  /** A field whose value is already JSON text. */
  raw(key: string, json: string): this {
    this.parts.push(goJsonString(key, this.options) + ':' + json);
    return this;
  }

  string(key: string, value: string | undefined, omitEmpty = false): this {
    if (omitEmpty && !value) return this;
    return this.raw(key, goJsonString(value ?? '', this.options));
  }

  number(key: string, value: number | bigint | undefined, omitEmpty = false): this {
    if (omitEmpty && (value === undefined || value === 0 || value === 0n)) return this;
    return this.raw(key, goJsonNumber(value ?? 0));
  }

  bool(key: string, value: boolean | undefined, omitEmpty = false): this {
    if (omitEmpty && !value) return this;
    return this.raw(key, value ? 'true' : 'false');
  }

  /** `[]string`: nil (undefined/null) → `null`; with omitEmpty, nil and empty are omitted. */
  strings(key: string, value: readonly string[] | null | undefined, omitEmpty = false): this {
    if (omitEmpty && (!value || value.length === 0)) return this;
    if (!value) return this.raw(key, 'null');
    return this.raw(key, '[' + value.map((s) => goJsonString(s, this.options)).join(',') + ']');
  }

  /** `[]byte`: nil → `null`, else base64. */
  bytes(key: string, value: Uint8Array | null | undefined, omitEmpty = false): this {
    if (omitEmpty && (!value || value.length === 0)) return this;
    return this.raw(key, value ? '"' + base64(value) + '"' : 'null');
  }

  /** Anything with a Go-style JSON form via `toString()` (GoTime). */
  time(key: string, value: { toString(): string }): this {
    return this.raw(key, '"' + value.toString() + '"');
  }

  /** Unknown fields kept from a parsed document (raw JSON text, compacted as Go does). */
  extra(fields: Readonly<Record<string, string>> | undefined, known?: ReadonlySet<string>): this {
    if (!fields) return this;
    for (const key of Object.keys(fields)) {
      if (known?.has(key)) continue;
      this.raw(key, goCompactJson(fields[key]));
    }
    return this;
  }

  toString(): string {
    return '{' + this.parts.join(',') + '}';
  }
}
