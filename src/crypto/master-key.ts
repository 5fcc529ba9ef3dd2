/**
 * The repository master key and its JSON form (the plaintext sealed inside every key file):
 * exactly `{"mac":{"k":"<b64 16>","r":"<b64 16>"},"encrypt":"<b64 32>"}`, standard base64 with
 * padding, no whitespace — 128 bytes, as restic's json.Marshal writes it.
 */
import { ResticError } from '../errors.js';
import { randomBytes } from './primitives.js';

export interface MasterKey {
  /** AES-256 key, 32 bytes. */
  encrypt: Uint8Array;
  /** AES-128 key that encrypts the IV into Poly1305's `s`, 16 bytes. */
  macK: Uint8Array;
  /** Poly1305 `r`, 16 bytes, stored clamped or unclamped (clamped at use). */
  macR: Uint8Array;
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** restic's `Key.Valid()`: every part present and non-zero. */
export function isValidMasterKey(key: MasterKey): boolean {
  return (
    key.encrypt.length === 32 && key.macK.length === 16 && key.macR.length === 16 &&
    !isZero(key.encrypt) && !isZero(key.macK) && !isZero(key.macR)
  );
}

/** A new random master key (r is stored unclamped, as current restic does). */
export function generateMasterKey(): MasterKey {
  for (;;) {
    const k: MasterKey = { encrypt: randomBytes(32), macK: randomBytes(16), macR: randomBytes(16) };
    if (isValidMasterKey(k)) return k;
  }
}

/**
 * Builds a master key from 64 derived bytes (scrypt output): 32 encryption, 16 MAC k, 16 MAC r.
 * The key that seals a key file's `data` is made this way from the password.
 */
export function masterKeyFromBytes(bytes: Uint8Array): MasterKey {
  if (bytes.length !== 64) throw new RangeError(`need 64 key bytes, got ${bytes.length}`);
  return { encrypt: bytes.slice(0, 32), macK: bytes.slice(32, 48), macR: bytes.slice(48, 64) };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** The byte-exact JSON restic writes for a master key. */
export function encodeMasterKey(key: MasterKey): Uint8Array {
  const text = `{"mac":{"k":"${b64(key.macK)}","r":"${b64(key.macR)}"},"encrypt":"${b64(key.encrypt)}"}`;
  return new TextEncoder().encode(text);
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeField(value: unknown, name: string, size: number, what: string): Uint8Array {
  if (typeof value !== 'string' || !STD_BASE64.test(value)) {
    throw new ResticError('CORRUPT', `${what}: master key field ${name} is not a base64 string`, { file: what });
  }
  const bytes = Uint8Array.from(Buffer.from(value, 'base64'));
  if (bytes.length !== size) {
    throw new ResticError('CORRUPT', `${what}: master key field ${name} has ${bytes.length} bytes, want ${size}`, { file: what });
  }
  return bytes;
}

/** Parses master-key JSON (any field order, as Go's json.Unmarshal accepts); CORRUPT naming `what` when malformed. */
export function decodeMasterKey(json: Uint8Array, what: string): MasterKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (cause) {
    throw new ResticError('CORRUPT', `${what}: master key is not valid JSON`, { file: what, cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ResticError('CORRUPT', `${what}: master key is not a JSON object`, { file: what });
  }
  const obj = parsed as Record<string, unknown>;
  const mac = obj.mac;
  if (typeof mac !== 'object' || mac === null || Array.isArray(mac)) {
    throw new ResticError('CORRUPT', `${what}: master key has no "mac" object`, { file: what });
  }
  const macObj = mac as Record<string, unknown>;
  const key: MasterKey = {
    encrypt: decodeField(obj.encrypt, 'encrypt', 32, what),
    macK: decodeField(macObj.k, 'mac.k', 16, what),
    macR: decodeField(macObj.r, 'mac.r', 16, what),
  };
  if (!isValidMasterKey(key)) {
    throw new ResticError('CORRUPT', `${what}: master key is invalid (an all-zero part)`, { file: what });
  }
  return key;
}
