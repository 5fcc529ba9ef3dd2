/**
 * restic's authenticated encryption: `IV(16) || AES-256-CTR(ciphertext) || Poly1305-AES tag(16)`.
 *
 * The tag covers the ciphertext only; the IV enters through the Poly1305 `s` half, which is
 * AES-128(macK, IV). The `r` half is the key's macR, clamped here at use: restic ≥ 0.17 stores r
 * unclamped while 2015-era repositories store it clamped, and clamping is idempotent.
 *
 * When the selected primitives carry the native addon (`node` with ./native/ built), each call
 * is one native call; otherwise the steps below run with the selected primitives. Both give the
 * same bytes and the same errors (tested in test/unit/native-crypto.test.ts).
 */
import { ResticError } from '../errors.js';
import { primitives, randomBytes, type CryptoPrimitives } from './primitives.js';
import type { MasterKey } from './master-key.js';

export const IV_SIZE = 16;
export const MAC_SIZE = 16;
/** Bytes a sealed object adds to its plaintext. */
export const SEAL_OVERHEAD = IV_SIZE + MAC_SIZE;

export function ciphertextLength(plaintextLength: number): number {
  return plaintextLength + SEAL_OVERHEAD;
}

export function plaintextLength(ciphertextLength: number): number {
  return ciphertextLength - SEAL_OVERHEAD;
}

/** The 32-byte one-time Poly1305 key `clamp(r) || AES-128(macK, iv)`. */
function poly1305Key(prims: CryptoPrimitives, key: MasterKey, iv: Uint8Array): Uint8Array {
  const k = new Uint8Array(32);
  k.set(key.macR, 0);
  k[3]! &= 0x0f;
  k[7]! &= 0x0f;
  k[11]! &= 0x0f;
  k[15]! &= 0x0f;
  k[4]! &= 0xfc;
  k[8]! &= 0xfc;
  k[12]! &= 0xfc;
  k.set(prims.aes128EncryptBlock(key.macK, iv), 16);
  return k;
}

/** Computes the Poly1305-AES tag restic stores after the ciphertext. */
export function computeMac(key: MasterKey, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const prims = primitives();
  if (prims.native) return prims.native.computeMac(key.macK, key.macR, iv, ciphertext);
  return prims.poly1305(ciphertext, poly1305Key(prims, key, iv));
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** A fresh random IV; restic rejects the all-zero IV, so we never produce it. */
function newIv(): Uint8Array {
  for (;;) {
    const iv = randomBytes(IV_SIZE);
    if (!isZero(iv)) return iv;
  }
}

/**
 * `seal` with a given IV and given primitives, step by step (never the native addon): the
 * reference the native path is tested against. Not for production use: IVs must be random.
 */
export function sealWithPrimitives(prims: CryptoPrimitives, key: MasterKey, plaintext: Uint8Array, iv: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + SEAL_OVERHEAD);
  out.set(iv, 0);
  out.set(prims.aes256Ctr(key.encrypt, iv, plaintext), IV_SIZE);
  const ciphertext = out.subarray(IV_SIZE, IV_SIZE + plaintext.length);
  out.set(prims.poly1305(ciphertext, poly1305Key(prims, key, iv)), IV_SIZE + plaintext.length);
  return out;
}

/** Encrypts and authenticates `plaintext`; returns `IV || ciphertext || MAC` (its own ArrayBuffer). */
export function seal(key: MasterKey, plaintext: Uint8Array): Uint8Array {
  const prims = primitives();
  if (prims.native) return prims.native.seal(key.encrypt, key.macK, key.macR, plaintext);
  return sealWithPrimitives(prims, key, plaintext, newIv());
}

/**
 * Seals `plaintext` into `out` at `offset` (`plaintext.length + SEAL_OVERHEAD` bytes), to build a
 * pack without copying each blob again. The plaintext may already sit at `out[offset + IV_SIZE]`
 * (sealed in place); any other overlap of the two is refused with a RangeError.
 */
export function sealInto(key: MasterKey, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
  const size = plaintext.length + SEAL_OVERHEAD;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > out.length) {
    throw new RangeError(`sealInto: no room for ${size} sealed bytes at offset ${offset} of ${out.length}`);
  }
  const prims = primitives();
  if (prims.native) {
    prims.native.sealInto(key.encrypt, key.macK, key.macR, plaintext, out, offset);
    return;
  }
  if (plaintext.buffer === out.buffer && plaintext.length > 0) {
    const p0 = plaintext.byteOffset;
    const d0 = out.byteOffset + offset;
    if (p0 < d0 + size && d0 < p0 + plaintext.length && p0 !== d0 + IV_SIZE) {
      throw new RangeError('sealInto: plaintext overlaps out other than at offset + 16');
    }
  }
  // The step-by-step path makes its own copy first, so sealing in place needs no care here.
  out.set(sealWithPrimitives(prims, key, plaintext, newIv()), offset);
}

function macFailed(what: string): ResticError {
  return new ResticError('MAC_FAILED', `${what}: ciphertext verification failed (MAC mismatch: wrong key, or the data is damaged or tampered with)`, { file: what });
}

function tooShort(sealed: Uint8Array, what: string): ResticError {
  return new ResticError('CORRUPT', `${what}: ciphertext too short (${sealed.length} bytes, need at least ${SEAL_OVERHEAD})`, { file: what });
}

/**
 * Whether `sealed` (`IV || ciphertext || MAC`) carries a valid MAC, without decrypting it (as
 * `check --read-data` needs before it decrypts, or for data it only forwards). CORRUPT when too
 * short to hold an IV and a MAC; false for the all-zero IV, which restic refuses.
 */
export function verifyMac(key: MasterKey, sealed: Uint8Array, what: string): boolean {
  if (sealed.length < SEAL_OVERHEAD) throw tooShort(sealed, what);
  const prims = primitives();
  if (prims.native) return prims.native.verify(key.macK, key.macR, sealed);
  const iv = sealed.subarray(0, IV_SIZE);
  const expected = prims.poly1305(sealed.subarray(IV_SIZE, sealed.length - MAC_SIZE), poly1305Key(prims, key, iv));
  return prims.constantTimeEqual(expected, sealed.subarray(sealed.length - MAC_SIZE)) && !isZero(iv);
}

/**
 * Verifies the MAC (in constant time) and decrypts. `what` names the file or blob in errors.
 * Throws CORRUPT when `sealed` is too short to hold an IV and a MAC, MAC_FAILED on a tag mismatch.
 */
export function open(key: MasterKey, sealed: Uint8Array, what: string): Uint8Array {
  if (sealed.length < SEAL_OVERHEAD) throw tooShort(sealed, what);
  const prims = primitives();
  if (prims.native) {
    const plaintext = prims.native.open(key.encrypt, key.macK, key.macR, sealed);
    if (plaintext === null) throw macFailed(what);
    return plaintext;
  }
  return openWithPrimitives(prims, key, sealed, what);
}

/** `open` step by step with given primitives (never the native addon): the reference for tests and benchmarks. */
export function openWithPrimitives(prims: CryptoPrimitives, key: MasterKey, sealed: Uint8Array, what: string): Uint8Array {
  if (sealed.length < SEAL_OVERHEAD) throw tooShort(sealed, what);
  const iv = sealed.subarray(0, IV_SIZE);
  const ciphertext = sealed.subarray(IV_SIZE, sealed.length - MAC_SIZE);
  const tag = sealed.subarray(sealed.length - MAC_SIZE);
  // restic refuses the all-zero IV as invalid; report it as a failed verification like restic does.
  const expected = prims.poly1305(ciphertext, poly1305Key(prims, key, iv));
  if (isZero(iv) || !prims.constantTimeEqual(expected, tag)) throw macFailed(what);
  return prims.aes256Ctr(key.encrypt, iv, ciphertext);
}
