/**
 * Repository IDs: 32-byte SHA-256 values, written as 64 lowercase hex characters.
 * Storage IDs name files (hash of the stored bytes); blob IDs hash a blob's plaintext.
 */
import { ResticError } from '../errors.js';

/** 64 lowercase hex characters. */
export type Id = string;

export const ID_BYTES = 32;
const HEX_ID = /^[0-9a-fA-F]{64}$/;

export function isId(s: string): boolean {
  return HEX_ID.test(s);
}

/** Parses a full ID (upper-case accepted, as restic's ParseID does) and normalises it. */
export function parseId(s: string, what = 'ID'): Id {
  if (!isId(s)) throw new ResticError('CORRUPT', `invalid ${what} ${JSON.stringify(s)}: want 64 hex characters`);
  return s.toLowerCase();
}

export function idToBytes(id: Id): Uint8Array {
  return Uint8Array.from(Buffer.from(id, 'hex'));
}

export function idFromBytes(bytes: Uint8Array, offset = 0): Id {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, ID_BYTES).toString('hex');
}

/** The 8-character form restic prints (`ID.Str()`). */
export function shortId(id: Id): string {
  return id.slice(0, 8);
}
