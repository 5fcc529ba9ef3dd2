/**
 * The cryptographic primitives restic's format needs, in two interchangeable implementations:
 *
 * - `node`: node:crypto (hardware AES and SHA instructions through OpenSSL) plus libsodium's
 *   WebAssembly Poly1305 — node:crypto has no standalone Poly1305. When the native addon of
 *   ./native.ts is built, AES and Poly1305 (and whole seal/open calls) go through it instead:
 *   the same OpenSSL, without node:crypto's per-call set-up and with OpenSSL's Poly1305.
 * - `portable`: pure JavaScript (@noble/hashes, @noble/ciphers), for runtimes without node:crypto.
 *
 * Both give bit-identical results (tested); they differ only in speed (see docs/benchmarks.md).
 * libsodium needs an asynchronous WebAssembly start-up; without the addon this module awaits it
 * once at import (top-level await) so that the per-call hot path (`seal`/`open`) is synchronous.
 */
import * as nodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import type * as NobleSha2 from '@noble/hashes/sha2.js';
import type * as NobleScrypt from '@noble/hashes/scrypt.js';
import type * as NobleAes from '@noble/ciphers/aes.js';
import type * as NoblePoly1305 from '@noble/ciphers/_poly1305.js';
import { availableParallelism } from 'node:os';
import { nativeSeal, type NativeSealBinding } from './native.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** An incremental SHA-256. */
export interface Sha256Hasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** One implementation of every primitive. All byte arguments are read, never modified. */
export interface CryptoPrimitives {
  readonly sha256Name: string;
  readonly aesName: string;
  readonly poly1305Name: string;
  readonly scryptName: string;
  sha256(data: Uint8Array): Uint8Array;
  /** SHA-256 as 64 lowercase hex characters: a repository ID. */
  sha256Hex(data: Uint8Array): string;
  createSha256(): Sha256Hasher;
  /** AES-256-CTR; the 16-byte IV is the initial counter block, incremented as one 128-bit big-endian integer. */
  aes256Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** AES-128 encryption of exactly one 16-byte block (the MAC nonce for Poly1305-AES). */
  aes128EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array;
  /** Poly1305 with a 32-byte one-time key `r || s` (r clamped by the caller or the library). */
  poly1305(message: Uint8Array, key: Uint8Array): Uint8Array;
  scrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array>;
  /** Compares two equal-length MACs without data-dependent timing. */
  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean;
  /** Whole seal/open/MAC calls in native code (./native.ts); seal.ts uses it when present. */
  readonly native?: NativeSealBinding;
}

function toUint8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// --- the pure-JavaScript libraries, loaded when first used ----------------------------------------

interface NobleModules {
  sha2: typeof NobleSha2;
  scrypt: typeof NobleScrypt;
  aes: typeof NobleAes;
  poly1305: typeof NoblePoly1305;
}

/**
 * Where `require` can load ES modules (Node >= 20.19 / 22.12), noble's modules are loaded on
 * first use, synchronously: the `node` path never uses them, and evaluating them (AES tables, a
 * CMAC self-test) cost every thread ~30 ms of start-up — a backup starts three. Elsewhere
 * (older Nodes, other runtimes) they are imported here, at module load, as before.
 */
const requireModule = (globalThis.process?.features as { require_module?: boolean } | undefined)?.require_module === true ? createRequire(import.meta.url) : undefined;

async function importNoble(): Promise<NobleModules> {
  const [sha2, scrypt, aes, poly1305] = await Promise.all([
    import('@noble/hashes/sha2.js'),
    import('@noble/hashes/scrypt.js'),
    import('@noble/ciphers/aes.js'),
    import('@noble/ciphers/_poly1305.js'),
  ]);
  return { sha2, scrypt, aes, poly1305 };
}

let nobleLoaded: NobleModules | undefined = requireModule ? undefined : await importNoble();

function noble(): NobleModules {
  if (nobleLoaded === undefined) {
    const load = requireModule!;
    nobleLoaded = {
      sha2: load('@noble/hashes/sha2.js') as typeof NobleSha2,
      scrypt: load('@noble/hashes/scrypt.js') as typeof NobleScrypt,
      aes: load('@noble/ciphers/aes.js') as typeof NobleAes,
      poly1305: load('@noble/ciphers/_poly1305.js') as typeof NoblePoly1305,
    };
  }
  return nobleLoaded;
}

// --- Poly1305 fast path: libsodium (WebAssembly) ------------------------------------------------

interface SodiumOneTimeAuth {
  crypto_onetimeauth(message: Uint8Array, key: Uint8Array): Uint8Array;
}

/** Loads libsodium once; undefined when the runtime cannot start it (then noble's Poly1305 is used). */
async function loadSodium(): Promise<SodiumOneTimeAuth | undefined> {
  try {
    const mod = (await import('libsodium-wrappers-sumo')) as unknown as {
      default?: SodiumOneTimeAuth & { ready: Promise<void> };
      ready?: Promise<void>;
    };
    const sodium = (mod.default ?? mod) as SodiumOneTimeAuth & { ready: Promise<void> };
    await sodium.ready;
    if (typeof sodium.crypto_onetimeauth !== 'function') return undefined;
    return sodium;
  } catch {
    return undefined;
  }
}

/**
 * libsodium is loaded at import only when the native addon is absent (it is then the Poly1305
 * of the `node` implementation): with the addon, nothing uses it, and loading it cost every
 * thread ~60 ms of start-up and ~12 MiB. Benchmarks and tests that compare the paths load it
 * with `loadLibsodium()`.
 */
let sodium: SodiumOneTimeAuth | undefined = nativeSeal ? undefined : await loadSodium();

/** Loads libsodium's WebAssembly Poly1305 if not loaded yet; whether it is available. */
export async function loadLibsodium(): Promise<boolean> {
  sodium ??= await loadSodium();
  return sodium !== undefined;
}

// --- scrypt implementations ---------------------------------------------------------------------

/**
 * node:crypto checks `128 * N * r` (plus the p blocks) against `maxmem`, whose default of 32 MiB
 * rejects restic's usual N=2^15, r=8 — so the limit is raised to what the parameters need.
 */
function nodeScrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
  const maxmem = 128 * params.r * (params.N + params.p + 2) + (32 << 20);
  return new Promise((resolve, reject) => {
    nodeCrypto.scrypt(asBuffer(password), asBuffer(salt), dkLen, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(toUint8(key));
    });
  });
}

/**
 * scrypt with its p lanes worked side by side (RFC 7914: B = PBKDF2-SHA256(P, S, 1, p * 128r);
 * each 128r-byte lane of B goes through ROMix independently; key = PBKDF2-SHA256(P, B, 1, dkLen)).
 * node:crypto, like restic's Go library, works the lanes one after another. Here the addon works
 * up to four lanes at once in one thread, one per 128-bit part of an AVX-512 vector (two with
 * AVX2), so restic's p = 4 costs about 1.4 lanes' time with AVX-512; the groups of lanes
 * are spread over the cores (p = 5 with AVX-512 on 2 cores: 4 lanes on one, 1 on the other; with
 * SSE2 only: 3 + 2). Results are identical to nodeScrypt's (tested), figures in
 * docs/benchmarks.md ("Sixth pass").
 */
function laneParallelScrypt(binding: Pick<NativeSealBinding, 'romixLanesAsync' | 'romixWidths' | 'romixRelease'>) {
  const widest = widestRomixGroup(binding);
  return async (password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> => {
    const { N, r, p } = params;
    try {
      if (p === 1) return await nodeScrypt(password, salt, params, dkLen);
      const lanes = toUint8(nodeCrypto.pbkdf2Sync(password, salt, 1, p * 128 * r, 'sha256'));
      await romixInRuns(binding, lanes, N, r, widest);
      return toUint8(nodeCrypto.pbkdf2Sync(password, lanes, 1, dkLen, 'sha256'));
    } finally {
      // A table reserved for this derivation and not taken (other parameters) is not kept.
      binding.romixRelease();
    }
  };
}

/** The most lanes the addon works at once on this CPU (4 with AVX-512, 2 with AVX2, else 1). */
function widestRomixGroup(binding: Pick<NativeSealBinding, 'romixWidths'>): 1 | 2 | 4 {
  return Math.max(...binding.romixWidths()) as 1 | 2 | 4;
}

/** The scrypt parameters restic's calibration picks on current machines (its 60 MiB memory cap keeps N at 2^15 with r = 8). */
const USUAL_SCRYPT = { N: 32768, r: 8 };

/**
 * Faults in, on libuv's thread pool, the tables the next key derivation with restic's usual
 * parameters will need (one group of lanes: 32 MiB per lane, up to four lanes with AVX-512), so
 * that the derivation does not pay for first touching fresh memory: 60-150 ms of kernel time
 * for 128 MiB here, more than the mixing itself (docs/benchmarks.md, "Sixth pass"). For
 * programs that know a repository is about to be opened and have other work meanwhile (the CLI
 * calls it right after reading the command name, before loading the command's modules). The
 * memory goes to the next derivation that fits, or is freed after the next derivation. Does
 * nothing without the native addon or with the portable implementation.
 */
export function reserveKeyDerivationMemory(): void {
  if (!nativeSeal || activeName !== 'node') return;
  void nativeSeal.romixReserve(128 * USUAL_SCRYPT.r * USUAL_SCRYPT.N * widestRomixGroup(nativeSeal)).catch(() => undefined);
}

/**
 * ROMix of every 128r-byte lane of `lanes` in place: cut into runs by `scryptRuns` (groups of
 * `width` lanes spread over the cores), each run one call to the addon on libuv's pool. Exported
 * for benchmarks/scrypt.ts, which compares the widths.
 */
export async function romixInRuns(binding: Pick<NativeSealBinding, 'romixLanesAsync'>, lanes: Uint8Array, N: number, r: number, width: 1 | 2 | 4): Promise<void> {
  const laneBytes = 128 * r;
  let first = 0;
  await Promise.all(
    scryptRuns(lanes.length / laneBytes, width, availableParallelism()).map((count) => {
      const run = binding.romixLanesAsync(lanes.subarray(first * laneBytes, (first + count) * laneBytes), N, r, width);
      first += count;
      return run;
    }),
  );
}

/**
 * How many consecutive lanes each thread works: the lanes cut into groups of `width` (the last
 * may be smaller), the groups spread over at most `cores` threads, the first threads taking one
 * group more when they do not divide evenly. Exported for tests.
 */
export function scryptRuns(p: number, width: number, cores: number): number[] {
  const groups = Math.ceil(p / width);
  const threads = Math.max(1, Math.min(groups, cores));
  const runs: number[] = [];
  for (let t = 0, group = 0; t < threads; t++) {
    const take = Math.floor(groups / threads) + (t < groups % threads ? 1 : 0);
    const lanes = Math.min(p, (group + take) * width) - group * width;
    runs.push(lanes);
    group += take;
  }
  return runs;
}

function nobleScrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
  const maxmem = 128 * params.r * (params.N + params.p + 2) + (32 << 20);
  return noble().scrypt.scryptAsync(password, salt, { N: params.N, r: params.r, p: params.p, dkLen, maxmem });
}

/** scrypt-js: slower than noble, kept for comparison in the benchmarks. */
export async function scryptJs(password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
  const mod = (await import('scrypt-js')) as unknown as {
    scrypt?: (pw: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, dkLen: number) => Promise<Uint8Array>;
    default?: { scrypt: (pw: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, dkLen: number) => Promise<Uint8Array> };
  };
  const fn = mod.scrypt ?? mod.default?.scrypt;
  if (!fn) throw new Error('scrypt-js: no scrypt export');
  return fn(password, salt, params.N, params.r, params.p, dkLen);
}

function portableConstantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function noblePoly(message: Uint8Array, key: Uint8Array): Uint8Array {
  return noble().poly1305.poly1305(message, key);
}

/**
 * node:crypto's one-shot `hash()` (Node 20.12+): no Hash object per call, which saves 2-5 µs of
 * a 12 KiB blob's ~12 µs and more on small inputs — backups hash every blob at least twice.
 * Absent on older Nodes (then createHash is used).
 */
type OneShotHash = {
  (algorithm: string, data: Uint8Array, outputEncoding: 'hex'): string;
  (algorithm: string, data: Uint8Array, outputEncoding: 'buffer'): Buffer;
};
const oneShotHash = (nodeCrypto as unknown as { hash?: OneShotHash }).hash;

function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// --- the two implementations --------------------------------------------------------------------

/** node:crypto + libsodium, without the native addon (what `node` is when the addon is absent). */
export const nodeJsPrimitives: CryptoPrimitives = {
  sha256Name: 'node:crypto',
  aesName: 'node:crypto',
  get poly1305Name() {
    return sodium ? 'libsodium-wasm' : '@noble/ciphers';
  },
  scryptName: 'node:crypto',
  sha256(data) {
    return toUint8(oneShotHash ? oneShotHash('sha256', data, 'buffer') : nodeCrypto.createHash('sha256').update(data).digest());
  },
  sha256Hex(data) {
    return oneShotHash ? oneShotHash('sha256', data, 'hex') : nodeCrypto.createHash('sha256').update(data).digest('hex');
  },
  createSha256() {
    const h = nodeCrypto.createHash('sha256');
    return {
      update(data) {
        h.update(data);
      },
      digest() {
        return toUint8(h.digest());
      },
    };
  },
  aes256Ctr(key, iv, data) {
    const c = nodeCrypto.createCipheriv('aes-256-ctr', key, iv);
    const out = c.update(data);
    // CTR has no final block; final() only releases the context.
    c.final();
    return toUint8(out);
  },
  aes128EncryptBlock(key, block) {
    const c = nodeCrypto.createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return toUint8(c.update(block));
  },
  poly1305: (message, key) => (sodium ? sodium.crypto_onetimeauth(message, key) : noblePoly(message, key)),
  scrypt: nodeScrypt,
  constantTimeEqual(a, b) {
    return a.length === b.length && nodeCrypto.timingSafeEqual(a, b);
  },
};

/**
 * The `node` implementation: with the native addon, AES, Poly1305 and whole seal/open calls go
 * through it (SHA-256 stays with node:crypto, which already calls OpenSSL directly), and
 * scrypt's lanes run in parallel.
 */
export const nodePrimitives: CryptoPrimitives = nativeSeal
  ? {
      ...nodeJsPrimitives,
      aesName: 'openssl-native',
      poly1305Name: 'openssl-native',
      aes256Ctr: nativeSeal.aes256Ctr,
      aes128EncryptBlock: nativeSeal.aes128EncryptBlock,
      poly1305: nativeSeal.poly1305,
      scryptName: 'native-lanes',
      scrypt: laneParallelScrypt(nativeSeal),
      native: nativeSeal,
    }
  : nodeJsPrimitives;

export const portablePrimitives: CryptoPrimitives = {
  sha256Name: '@noble/hashes',
  aesName: '@noble/ciphers',
  poly1305Name: '@noble/ciphers',
  scryptName: '@noble/hashes',
  sha256(data) {
    return noble().sha2.sha256(data);
  },
  sha256Hex(data) {
    return bytesToHex(noble().sha2.sha256(data));
  },
  createSha256() {
    const h = noble().sha2.sha256.create();
    return {
      update(data) {
        h.update(data);
      },
      digest() {
        return h.digest();
      },
    };
  },
  aes256Ctr(key, iv, data) {
    return noble().aes.ctr(key, iv).encrypt(data);
  },
  aes128EncryptBlock(key, block) {
    return noble().aes.ecb(key, { disablePadding: true }).encrypt(block);
  },
  poly1305: noblePoly,
  scrypt: nobleScrypt,
  constantTimeEqual: portableConstantTimeEqual,
};

export type CryptoImplementationName = 'node' | 'portable';

let active: CryptoPrimitives = nodePrimitives;
let activeName: CryptoImplementationName = 'node';

/** Chooses the implementation every crypto function uses from now on (default `node`). */
export function setCryptoImplementation(name: CryptoImplementationName): void {
  if (name === 'node') active = nodePrimitives;
  else if (name === 'portable') active = portablePrimitives;
  else throw new Error(`unknown crypto implementation ${JSON.stringify(name)}`);
  activeName = name;
}

/** Which library provides each primitive right now. */
export function cryptoImplementation(): { name: CryptoImplementationName; sha256: string; aes: string; poly1305: string; scrypt: string } {
  return { name: activeName, sha256: active.sha256Name, aes: active.aesName, poly1305: active.poly1305Name, scrypt: active.scryptName };
}

/** The primitives currently selected (for modules that call several in a row). */
export function primitives(): CryptoPrimitives {
  return active;
}

export function sha256(data: Uint8Array): Uint8Array {
  return active.sha256(data);
}

/** The SHA-256 of `data` as a repository ID (64 lowercase hex characters). */
export function sha256Hex(data: Uint8Array): string {
  return active.sha256Hex(data);
}

export function createSha256(): Sha256Hasher {
  return active.createSha256();
}

/** Cryptographically secure random bytes (node:crypto when present, else Web Crypto). */
export function randomBytes(n: number): Uint8Array {
  if (typeof nodeCrypto.randomBytes === 'function') return toUint8(nodeCrypto.randomBytes(n));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** scrypt key derivation with the selected implementation. */
export function scrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
  return active.scrypt(password, salt, params, dkLen);
}
