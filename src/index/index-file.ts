/**
 * Index files (`index/<id>`): JSON listing, for each pack, the blobs it holds and where.
 *
 * Current form (restic ≥ 0.2): `{"supersedes":[…]?, "packs":[{"id":…, "blobs":[{"id","type",
 * "offset","length","uncompressed_length"?}]}]}`. `supersedes` was written by restic < 0.17
 * and has always been informational only: we return it but nothing acts on it.
 * Legacy form (restic 0.1.x): the bare array of pack objects, with no wrapper.
 *
 * The bytes given here are the plaintext JSON (already decrypted and decompressed by the
 * repository). Every validation failure is CORRUPT and names `index/<fileId>`.
 *
 * Index files hold up to hundreds of thousands of blobs each, and a repository may have
 * millions, so decoding is a scanner over the bytes that fills typed arrays per pack
 * (`scanIndexFile`), never one object per blob: the master index loads from it directly.
 * `parseIndexFile` builds objects on top of it for everyone else. The scanner accepts what
 * Go's encoding/json accepts for restic's structs: any whitespace and key order, unknown keys
 * skipped, ASCII case-insensitive key names, `null` for lists and optional numbers.
 */
import { relativePath } from '../backend/backend.js';
import { ResticError } from '../errors.js';
import { ID_BYTES, idFromBytes, isId, type Id } from '../format/id.js';
import type { BlobType, PackedBlob } from '../pack/header.js';

export interface IndexedPack {
  id: Id;
  blobs: PackedBlob[];
}

export interface IndexFileContent {
  packs: IndexedPack[];
  /** Index IDs listed under the obsolete `supersedes` key, when present. Ignored by restic. */
  supersedes?: Id[];
  /** True for the restic 0.1.x form: a top-level array without the `packs` wrapper. */
  legacy: boolean;
}

/** Type codes in a BlobBatch. */
export const BLOB_TYPE_CODES: Record<BlobType, number> = { data: 0, tree: 1 };
export const BLOB_TYPE_NAMES: readonly BlobType[] = ['data', 'tree'];

/**
 * The blobs of one pack as parallel typed arrays, reused from pack to pack: only the first
 * `count` records are valid, and only during the visitor call.
 */
export interface BlobBatch {
  count: number;
  /** 0 data, 1 tree. */
  types: Uint8Array;
  /** 32 ID bytes per blob. */
  ids: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  /** 0 = stored uncompressed. */
  uncompressedLengths: Uint32Array;
}

export interface IndexFileSummary {
  legacy: boolean;
  supersedes?: Id[];
  packCount: number;
  blobCount: number;
}

const U32_MAX = 0xffff_ffff;

// Byte values.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x61 + i] = 10 + i;
  HEX_VALUE[0x41 + i] = 10 + i;
}

const enum Key {
  Other,
  Packs,
  Supersedes,
  Id,
  Blobs,
  Type,
  Offset,
  Length,
  UncompressedLength,
}

const KEY_NAMES: [string, Key][] = [
  ['packs', Key.Packs],
  ['supersedes', Key.Supersedes],
  ['id', Key.Id],
  ['blobs', Key.Blobs],
  ['type', Key.Type],
  ['offset', Key.Offset],
  ['length', Key.Length],
  ['uncompressed_length', Key.UncompressedLength],
];
/** Known keys grouped by byte length, for a quick classification. */
const KEYS_BY_LENGTH: { bytes: Uint8Array; key: Key }[][] = [];
for (const [name, key] of KEY_NAMES) (KEYS_BY_LENGTH[name.length] ??= []).push({ bytes: new TextEncoder().encode(name), key });
const END = -1;
const DATA_LITERAL = '"data"';
const TREE_LITERAL = '"tree"';

class Batch implements BlobBatch {
  count = 0;
  types = new Uint8Array(64);
  ids = new Uint8Array(64 * ID_BYTES);
  offsets = new Uint32Array(64);
  lengths = new Uint32Array(64);
  uncompressedLengths = new Uint32Array(64);

  /** Index of a new record (zeroed), growing the arrays when full. */
  push(): number {
    if (this.count === this.types.length) {
      const cap = this.count * 2;
      const types = new Uint8Array(cap);
      types.set(this.types);
      this.types = types;
      const ids = new Uint8Array(cap * ID_BYTES);
      ids.set(this.ids);
      this.ids = ids;
      for (const k of ['offsets', 'lengths', 'uncompressedLengths'] as const) {
        const a = new Uint32Array(cap);
        a.set(this[k]);
        this[k] = a;
      }
    }
    const i = this.count++;
    this.types[i] = 0;
    this.offsets[i] = 0;
    this.lengths[i] = 0;
    this.uncompressedLengths[i] = 0;
    return i;
  }
}

/** A recursive-descent scanner over the JSON bytes of one index file. */
class IndexScanner {
  private pos = 0;
  private readonly file: string;
  private readonly batch = new Batch();
  private readonly text: Buffer;
  packCount = 0;
  blobCount = 0;

  constructor(
    private readonly buf: Uint8Array,
    fileId: Id,
    private readonly onPack: (packId: Id, blobs: BlobBatch) => void,
  ) {
    this.file = relativePath('index', fileId);
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  scan(): IndexFileSummary {
    const summary: IndexFileSummary = { legacy: false, packCount: 0, blobCount: 0 };
    this.skipWs();
    const c = this.peek();
    if (c === LBRACKET) {
      summary.legacy = true;
      this.packList();
    } else if (c === LBRACE) {
      this.object((key) => {
        if (key === Key.Packs) {
          if (this.peek() === LBRACKET) this.packList();
          else if (!this.null()) this.fail(`"packs" is ${this.describeValue()}, want a list`);
        } else if (key === Key.Supersedes) {
          if (this.peek() === LBRACKET) summary.supersedes = this.idList();
          else if (!this.null()) this.fail(`"supersedes" is not a list`);
        } else {
          this.skipValue();
        }
      });
    } else {
      this.fail(`top level is ${this.describeValue()}, want an object or a list`);
    }
    this.skipWs();
    if (this.pos !== this.buf.length) this.syntax('after the top-level value');
    summary.packCount = this.packCount;
    summary.blobCount = this.blobCount;
    return summary;
  }

  // ---- index structure ----
  // Error context, kept as numbers and built into a message only on failure (the hot loop
  // must not build strings per blob).
  private ctxPack = 0;
  private ctxPackId: Id | undefined;
  private ctxBlob = -1;

  private where(): string {
    return `pack ${this.ctxPack}${short(this.ctxPackId)}${this.ctxBlob >= 0 ? ` blob ${this.ctxBlob}` : ''}`;
  }

  private packList(): void {
    const batch = this.batch;
    this.ctxBlob = -1;
    for (let more = this.firstElement(); more; more = this.nextElement()) {
      this.ctxPack = this.packCount;
      this.ctxPackId = undefined;
      this.ctxBlob = -1;
      if (this.peek() !== LBRACE) this.fail(`${this.where()} is ${this.describeValue()}, want an object`);
      batch.count = 0;
      let packId: Id | undefined;
      for (let key = this.firstMember(); key !== END; key = this.nextMember()) {
        if (key === Key.Id) {
          packId = this.ctxPackId = this.idString('"id"');
        } else if (key === Key.Blobs) {
          batch.count = 0;
          if (this.peek() === LBRACKET) {
            for (let b = this.firstElement(); b; b = this.nextElement()) this.blob(batch);
            this.ctxBlob = -1;
          } else if (!this.null()) this.fail(`${this.where()} "blobs" is ${this.describeValue()}, want a list`);
        } else {
          this.skipValue();
        }
      }
      if (packId === undefined) this.fail(`${this.where()} "id" is missing`);
      this.onPack(packId!, batch);
      this.packCount++;
      this.blobCount += batch.count;
    }
  }

  private blob(batch: Batch): void {
    this.ctxBlob = batch.count;
    if (this.peek() !== LBRACE) this.fail(`${this.where()} is ${this.describeValue()}, want an object`);
    const i = batch.push();
    let seen = 0;
    for (let key = this.firstMember(); key !== END; key = this.nextMember()) {
      switch (key) {
        case Key.Id:
          this.idInto(batch.ids, i * ID_BYTES, '"id"');
          seen |= 1;
          break;
        case Key.Type: {
          const start = this.pos;
          if (this.matchLiteral(DATA_LITERAL)) batch.types[i] = BLOB_TYPE_CODES.data;
          else if (this.matchLiteral(TREE_LITERAL)) batch.types[i] = BLOB_TYPE_CODES.tree;
          else {
            this.skipValue();
            this.fail(`${this.where()} has unknown type ${this.text.toString('utf8', start, Math.min(this.pos, start + 40))}, want "data" or "tree"`);
          }
          seen |= 2;
          break;
        }
        case Key.Offset:
          if (this.null()) break;
          batch.offsets[i] = this.u32('"offset"');
          seen |= 4;
          break;
        case Key.Length:
          if (this.null()) break;
          batch.lengths[i] = this.u32('"length"');
          seen |= 8;
          break;
        case Key.UncompressedLength:
          if (!this.null()) batch.uncompressedLengths[i] = this.u32('"uncompressed_length"');
          break;
        default:
          this.skipValue();
      }
    }
    if (seen !== 15) {
      const at = this.where();
      if (!(seen & 1)) this.fail(`${at} "id" is missing`);
      if (!(seen & 2)) this.fail(`${at} has no "type"`);
      if (!(seen & 4)) this.fail(`${at} "offset" is missing`);
      this.fail(`${at} "length" is missing`);
    }
  }

  private idList(): Id[] {
    const ids: Id[] = [];
    for (let more = this.firstElement(); more; more = this.nextElement()) ids.push(this.idString(`supersedes[${ids.length}]`, false));
    return ids;
  }

  /** A 64-hex-character ID string decoded into `dest` at `at`; `field` names it in errors (inside the current pack/blob unless `inContext` is false). */
  private idInto(dest: Uint8Array, at: number, field: string, inContext = true): void {
    const start = this.pos;
    const buf = this.buf;
    if (buf[start] === QUOTE && buf[start + 2 * ID_BYTES + 1] === QUOTE) {
      let ok = true;
      for (let k = 0; k < ID_BYTES; k++) {
        const hi = HEX_VALUE[buf[start + 1 + 2 * k]];
        const lo = HEX_VALUE[buf[start + 2 + 2 * k]];
        if (hi < 0 || lo < 0) {
          ok = false;
          break;
        }
        dest[at + k] = (hi << 4) | lo;
      }
      if (ok) {
        this.pos = start + 2 * ID_BYTES + 2;
        return;
      }
    }
    // Slow path: escapes, wrong length, not a string.
    const what = inContext ? `${this.where()} ${field}` : field;
    const value = this.decodedString(what);
    if (value === undefined || !isId(value)) {
      this.fail(`${what} is not a 64-character hex ID: ${this.text.toString('utf8', start, Math.min(this.pos, start + 80))}`);
    }
    dest.set(Buffer.from(value!, 'hex'), at);
  }

  private readonly idScratch = new Uint8Array(ID_BYTES);
  private idString(field: string, inContext = true): Id {
    this.idInto(this.idScratch, 0, field, inContext);
    return idFromBytes(this.idScratch);
  }

  /** The JSON string at pos decoded, or undefined (pos after the value) when it is another kind of value. */
  private decodedString(what: string): string | undefined {
    const start = this.pos;
    if (this.buf[start] !== QUOTE) {
      this.skipValue();
      return undefined;
    }
    const end = this.stringEnd();
    try {
      return JSON.parse(this.text.toString('utf8', start, end)) as string;
    } catch {
      return this.fail(`${what}: invalid string`);
    }
  }

  /** An unsigned 32-bit integer; `field` names it in errors. */
  private u32(field: string): number {
    const buf = this.buf;
    const start = this.pos;
    let i = start;
    let value = 0;
    let ok = buf[i] >= ZERO && buf[i] <= NINE;
    if (ok) {
      if (buf[i] === ZERO) i++;
      else while (buf[i] >= ZERO && buf[i] <= NINE) value = value * 10 + (buf[i++] - ZERO);
      const c = buf[i];
      // A fraction or exponent, or more digits after a leading zero: not an unsigned integer for Go.
      if (c === 0x2e || c === 0x65 || c === 0x45 || (c >= ZERO && c <= NINE)) ok = false;
    }
    if (!ok || value > U32_MAX) {
      this.pos = start;
      this.skipValue();
      this.fail(`${this.where()} ${field} is ${this.text.toString('utf8', start, Math.min(this.pos, start + 40))}, want an integer from 0 to ${U32_MAX}`);
    }
    this.pos = i;
    return value;
  }

  // ---- generic JSON ----

  /** At `{`: enters the object and returns the first member's key (pos at its value), or END for `{}`. */
  private firstMember(): Key | typeof END {
    this.pos++;
    this.skipWs();
    if (this.buf[this.pos] === RBRACE) {
      this.pos++;
      return END;
    }
    return this.memberKey();
  }

  /** After a member's value: the next member's key, or END after the closing `}`. */
  private nextMember(): Key | typeof END {
    this.skipWs();
    const c = this.buf[this.pos++];
    if (c === RBRACE) return END;
    if (c !== COMMA) this.syntax('after an object value', this.pos - 1);
    this.skipWs();
    return this.memberKey();
  }

  private memberKey(): Key {
    if (this.buf[this.pos] !== QUOTE) this.syntax('where an object key should be');
    const key = this.key();
    this.skipWs();
    if (this.buf[this.pos] !== COLON) this.syntax('after an object key');
    this.pos++;
    this.skipWs();
    return key;
  }

  /** At `[`: enters the list; true when an element follows (pos at it). */
  private firstElement(): boolean {
    this.pos++;
    this.skipWs();
    if (this.buf[this.pos] === RBRACKET) {
      this.pos++;
      return false;
    }
    return true;
  }

  /** After an element: true when another follows (pos at it), false after the closing `]`. */
  private nextElement(): boolean {
    this.skipWs();
    const c = this.buf[this.pos++];
    if (c === RBRACKET) return false;
    if (c !== COMMA) this.syntax('after a list element', this.pos - 1);
    this.skipWs();
    return true;
  }

  private object(onMember: (key: Key) => void): void {
    for (let key = this.firstMember(); key !== END; key = this.nextMember()) onMember(key);
  }

  /** Reads a key string and classifies it; Go matches struct field names case-insensitively. */
  private key(): Key {
    const buf = this.buf;
    const start = this.pos + 1;
    let i = start;
    for (let c = buf[i]; c !== QUOTE && c !== BACKSLASH && c >= 0x20; c = buf[++i]);
    let bytes = buf;
    let from = start;
    let length = i - start;
    if (buf[i] === QUOTE) {
      this.pos = i + 1;
    } else {
      // Escapes (or a broken string): decode the slow way.
      const end = this.stringEnd();
      bytes = new TextEncoder().encode(JSON.parse(this.text.toString('utf8', start - 1, end)) as string);
      from = 0;
      length = bytes.length;
    }
    const candidates = KEYS_BY_LENGTH[length];
    if (candidates === undefined) return Key.Other;
    outer: for (let n = 0; n < candidates.length; n++) {
      const name = candidates[n].bytes;
      for (let k = 0; k < length; k++) {
        const c = bytes[from + k];
        if (c !== name[k] && (c | 0x20) !== name[k]) continue outer;
      }
      return candidates[n].key;
    }
    return Key.Other;
  }

  /** Position just after the closing quote of the string starting at pos; moves pos there. */
  private stringEnd(): number {
    const buf = this.buf;
    let i = this.pos + 1;
    for (;;) {
      if (i >= buf.length) this.syntax('inside a string (unterminated)', buf.length);
      const c = buf[i];
      if (c === QUOTE) break;
      if (c === BACKSLASH) i++;
      else if (c < 0x20) this.syntax('inside a string (control character)', i);
      i++;
    }
    this.pos = i + 1;
    return this.pos;
  }

  private skipValue(): void {
    const c = this.buf[this.pos];
    if (c === QUOTE) this.stringEnd();
    else if (c === LBRACE) this.object(() => this.skipValue());
    else if (c === LBRACKET) for (let more = this.firstElement(); more; more = this.nextElement()) this.skipValue();
    else if (!this.matchLiteral('true') && !this.matchLiteral('false') && !this.null()) this.number();
  }

  private number(): void {
    const buf = this.buf;
    const start = this.pos;
    let i = start;
    if (buf[i] === MINUS) i++;
    const digits = (): boolean => {
      const s = i;
      while (buf[i] >= ZERO && buf[i] <= NINE) i++;
      return i > s;
    };
    if (buf[i] === ZERO) i++;
    else if (!digits()) this.syntax('where a value should be', start);
    if (buf[i] === 0x2e) {
      i++;
      if (!digits()) this.syntax('in a number', i);
    }
    if (buf[i] === 0x65 || buf[i] === 0x45) {
      i++;
      if (buf[i] === 0x2b || buf[i] === MINUS) i++;
      if (!digits()) this.syntax('in a number', i);
    }
    this.pos = i;
  }

  private null(): boolean {
    return this.matchLiteral('null');
  }

  private matchLiteral(lit: string): boolean {
    const buf = this.buf;
    for (let k = 0; k < lit.length; k++) if (buf[this.pos + k] !== lit.charCodeAt(k)) return false;
    this.pos += lit.length;
    return true;
  }

  private peek(): number {
    return this.buf[this.pos];
  }

  private skipWs(): void {
    const buf = this.buf;
    let c = buf[this.pos];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = buf[++this.pos];
  }

  private describeValue(): string {
    const c = this.buf[this.pos];
    if (c === QUOTE) return 'a string';
    if (c === LBRACE) return 'an object';
    if (c === LBRACKET) return 'a list';
    if (c === 0x74 || c === 0x66) return 'a boolean';
    if (c === 0x6e) return 'null';
    if (c === MINUS || (c >= ZERO && c <= NINE)) return 'a number';
    return this.syntax('where a value should be');
  }

  private syntax(where: string, at = this.pos): never {
    const what = at >= this.buf.length ? 'end of data' : `character ${JSON.stringify(String.fromCharCode(this.buf[at]))}`;
    throw new ResticError('CORRUPT', `${this.file}: index is not valid JSON: unexpected ${what} at byte ${at} ${where}`, { file: this.file });
  }

  private fail(what: string): never {
    throw new ResticError('CORRUPT', `${this.file}: invalid index: ${what}`, { file: this.file });
  }
}

function short(packId: Id | undefined): string {
  return packId === undefined ? '' : ` (${packId.slice(0, 8)})`;
}

/**
 * Decodes an index file without building an object per blob: calls `onPack` once per pack
 * object with its blobs in a reused typed-array batch. Returns what the file says besides packs.
 */
export function scanIndexFile(json: Uint8Array, fileId: Id, onPack: (packId: Id, blobs: BlobBatch) => void): IndexFileSummary {
  return new IndexScanner(json, fileId, onPack).scan();
}

/** Decodes an index file into plain objects (for tools, tests and small indexes). */
export function parseIndexFile(json: Uint8Array, fileId: Id): IndexFileContent {
  const packs: IndexedPack[] = [];
  const summary = scanIndexFile(json, fileId, (id, batch) => {
    const blobs: PackedBlob[] = new Array(batch.count);
    for (let i = 0; i < batch.count; i++) {
      blobs[i] = {
        type: BLOB_TYPE_NAMES[batch.types[i]],
        id: idFromBytes(batch.ids, i * ID_BYTES),
        offset: batch.offsets[i],
        length: batch.lengths[i],
        uncompressedLength: batch.uncompressedLengths[i],
      };
    }
    packs.push({ id, blobs });
  });
  const content: IndexFileContent = { packs, legacy: summary.legacy };
  if (summary.supersedes !== undefined) content.supersedes = summary.supersedes;
  return content;
}

/**
 * The JSON restic writes for an index file (Go `json.NewEncoder(…).Encode`): fields in the
 * order id, blobs / id, type, offset, length, uncompressed_length (only when non-zero), no
 * spaces, a trailing newline. No `supersedes` (restic stopped writing it in 0.17).
 */
export function encodeIndexFile(packs: readonly IndexedPack[]): Uint8Array {
  const parts: string[] = ['{"packs":['];
  for (const [p, pack] of packs.entries()) {
    if (!isId(pack.id)) throw new ResticError('FATAL', `index encode: pack ${p} has invalid ID ${JSON.stringify(pack.id)}`);
    parts.push(p === 0 ? '{"id":"' : ',{"id":"', pack.id.toLowerCase(), '","blobs":[');
    for (const [b, blob] of pack.blobs.entries()) {
      if (!isId(blob.id)) throw new ResticError('FATAL', `index encode: pack ${pack.id} blob ${b} has invalid ID ${JSON.stringify(blob.id)}`);
      if (blob.type !== 'data' && blob.type !== 'tree') {
        throw new ResticError('FATAL', `index encode: pack ${pack.id} blob ${b} has invalid type ${JSON.stringify(blob.type)}`);
      }
      parts.push(
        b === 0 ? '{"id":"' : ',{"id":"',
        blob.id.toLowerCase(),
        '","type":"',
        blob.type,
        '","offset":',
        String(blob.offset),
        ',"length":',
        String(blob.length),
        blob.uncompressedLength !== 0 ? `,"uncompressed_length":${blob.uncompressedLength}}` : '}',
      );
    }
    parts.push(']}');
  }
  parts.push(']}\n');
  return new TextEncoder().encode(parts.join(''));
}
