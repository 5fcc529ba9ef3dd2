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
 */
import { relativePath } from '../backend/backend.js';
import { ResticError } from '../errors.js';
import { isId, type Id } from '../format/id.js';
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

const U32_MAX = 0xffff_ffff;

type JsonObject = { [key: string]: unknown };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseIndexFile(json: Uint8Array, fileId: Id): IndexFileContent {
  const file = relativePath('index', fileId);
  const fail = (what: string): never => {
    throw new ResticError('CORRUPT', `${file}: invalid index: ${what}`, { file });
  };

  let root: unknown;
  try {
    root = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (err) {
    throw new ResticError('CORRUPT', `${file}: index is not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }

  let packList: unknown;
  let supersedes: Id[] | undefined;
  let legacy = false;
  if (Array.isArray(root)) {
    legacy = true;
    packList = root;
  } else if (isObject(root)) {
    packList = root.packs;
    // Go decodes a missing or null `packs` as an empty list.
    if (packList === undefined || packList === null) packList = [];
    const sup = root.supersedes;
    if (sup !== undefined && sup !== null) {
      if (!Array.isArray(sup)) fail('"supersedes" is not a list');
      supersedes = (sup as unknown[]).map((s, i) => {
        if (typeof s !== 'string' || !isId(s)) return fail(`supersedes[${i}] is not a 64-character hex ID: ${JSON.stringify(s)}`);
        return s.toLowerCase();
      });
    }
  } else {
    return fail(`top level is ${describe(root)}, want an object or a list`);
  }
  if (!Array.isArray(packList)) return fail(`"packs" is ${describe(packList)}, want a list`);

  const packs: IndexedPack[] = [];
  for (const [p, rawPack] of packList.entries()) {
    if (!isObject(rawPack)) return fail(`pack ${p} is ${describe(rawPack)}, want an object`);
    const packId = hexId(rawPack.id, `pack ${p} "id"`, fail);
    const where = `pack ${p} (${packId.slice(0, 8)})`;
    let rawBlobs = rawPack.blobs;
    if (rawBlobs === undefined || rawBlobs === null) rawBlobs = [];
    if (!Array.isArray(rawBlobs)) return fail(`${where} "blobs" is ${describe(rawBlobs)}, want a list`);
    const blobs: PackedBlob[] = new Array(rawBlobs.length);
    for (const [b, rawBlob] of rawBlobs.entries()) {
      const at = `${where} blob ${b}`;
      if (!isObject(rawBlob)) return fail(`${at} is ${describe(rawBlob)}, want an object`);
      const type = rawBlob.type;
      if (type !== 'data' && type !== 'tree') {
        return fail(type === undefined ? `${at} has no "type"` : `${at} has unknown type ${JSON.stringify(type)}, want "data" or "tree"`);
      }
      blobs[b] = {
        type: type as BlobType,
        id: hexId(rawBlob.id, `${at} "id"`, fail),
        offset: u32(rawBlob.offset, `${at} "offset"`, fail, true),
        length: u32(rawBlob.length, `${at} "length"`, fail, true),
        uncompressedLength: u32(rawBlob.uncompressed_length, `${at} "uncompressed_length"`, fail, false),
      };
    }
    packs.push({ id: packId, blobs });
  }
  const content: IndexFileContent = { packs, legacy };
  if (supersedes !== undefined) content.supersedes = supersedes;
  return content;
}

function hexId(v: unknown, what: string, fail: (w: string) => never): Id {
  if (v === undefined) return fail(`${what} is missing`);
  if (typeof v !== 'string' || !isId(v)) return fail(`${what} is not a 64-character hex ID: ${JSON.stringify(v)}`);
  return v.toLowerCase();
}

function u32(v: unknown, what: string, fail: (w: string) => never, required: boolean): number {
  if (v === undefined || v === null) return required ? fail(`${what} is missing`) : 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) {
    return fail(`${what} is ${JSON.stringify(v)}, want an integer from 0 to ${U32_MAX}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
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
