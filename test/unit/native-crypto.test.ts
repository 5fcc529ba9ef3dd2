/**
 * The native seal/open addon (src/crypto/native/seal.c) against the pure implementations: the
 * same bytes for the same IV, the same errors, and safe loading in worker threads. In CI the
 * addon must be built (the install script builds it), so its absence fails there.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  computeMac,
  cryptoImplementation,
  generateMasterKey,
  nativeSealStatus,
  nodeJsPrimitives,
  nodePrimitives,
  open,
  portablePrimitives,
  randomBytes,
  reserveKeyDerivationMemory,
  seal,
  sealInto,
  setCryptoImplementation,
  verifyMac,
  type MasterKey,
} from '../../src/crypto/index.js';
import { nativeSeal } from '../../src/crypto/native.js';
import { scryptRuns } from '../../src/crypto/primitives.js';
import { sealWithPrimitives } from '../../src/crypto/seal.js';
import { ResticError } from '../../src/errors.js';

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** Deterministic pseudo-random sizes (xorshift), so a failure names a reproducible size. */
function sizes(count: number, max: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.push(x % (max + 1));
  }
  return out;
}

function caught(fn: () => unknown): ResticError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ResticError) return err;
    throw err;
  }
  throw new Error('expected a ResticError');
}

afterEach(() => setCryptoImplementation('node'));

describe('native seal addon presence', () => {
  it('is built and in use under the node implementation (required in CI)', () => {
    const status = nativeSealStatus();
    if (process.env.CI && !status.available) {
      throw new Error(`CI: the native seal addon must be built by the install script: ${status.reason}`);
    }
    if (!status.available) {
      // Locally the addon may be absent (no C compiler at install): the pure path is used.
      expect(cryptoImplementation().poly1305).not.toBe('openssl-native');
      expect(status.reason).toBeTruthy();
      return;
    }
    expect(nativeSeal).toBeDefined();
    expect(cryptoImplementation()).toMatchObject({ name: 'node', aes: 'openssl-native', poly1305: 'openssl-native' });
    setCryptoImplementation('portable');
    expect(cryptoImplementation()).toMatchObject({ aes: '@noble/ciphers', poly1305: '@noble/ciphers' });
  });
});

describe.skipIf(!nativeSeal)('native seal is byte-identical to the pure implementations', () => {
  const native = nativeSeal!;
  const key = generateMasterKey();

  it('on fixed IVs for boundary sizes (blocks, 16 KiB chunks) and counter-wrapping IVs', () => {
    const ivs = [randomBytes(16), hex('ffffffffffffffffffffffffffffffff'), hex('0000000000000000fffffffffffffffe'), hex('00000000000000000000000000000001')];
    for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 1000, 16383, 16384, 16385, 32768, 65543]) {
      const plain = randomBytes(size);
      for (const iv of ivs) {
        const want = toHex(sealWithPrimitives(nodeJsPrimitives, key, plain, iv));
        expect(toHex(native.sealWithIv(key.encrypt, key.macK, key.macR, iv, plain)), `size ${size}`).toBe(want);
        expect(toHex(sealWithPrimitives(portablePrimitives, key, plain, iv)), `size ${size}`).toBe(want);
      }
    }
  });

  it('on random sizes up to 2 MiB, each way through open', () => {
    for (const size of [...sizes(6, 2 * 1024 * 1024, 20261126), 2 * 1024 * 1024]) {
      const plain = randomBytes(size);
      const iv = randomBytes(16);
      const pure = sealWithPrimitives(nodeJsPrimitives, key, plain, iv);
      const fast = native.sealWithIv(key.encrypt, key.macK, key.macR, iv, plain);
      expect(Buffer.compare(fast, pure), `size ${size}`).toBe(0);
      // the public functions: native under `node`, pure under `portable` (same bytes either way)
      const sealed = seal(key, plain);
      expect(Buffer.compare(open(key, pure, 'x'), plain), `size ${size}`).toBe(0);
      setCryptoImplementation('portable');
      expect(Buffer.compare(open(key, sealed, 'x'), plain), `size ${size}`).toBe(0);
      setCryptoImplementation('node');
    }
  });

  it('computeMac and verifyMac agree with the pure path; the all-zero IV never verifies', () => {
    for (const size of [0, 5, 16, 4097]) {
      const iv = randomBytes(16);
      const ct = randomBytes(size);
      const mac = toHex(computeMac(key, iv, ct));
      setCryptoImplementation('portable');
      expect(toHex(computeMac(key, iv, ct))).toBe(mac);
      setCryptoImplementation('node');
    }
    const zeroIv = sealWithPrimitives(nodeJsPrimitives, key, randomBytes(40), new Uint8Array(16));
    for (const name of ['node', 'portable'] as const) {
      setCryptoImplementation(name);
      expect(verifyMac(key, seal(key, randomBytes(40)), 'x')).toBe(true);
      expect(verifyMac(key, zeroIv, 'x')).toBe(false);
      expect(caught(() => open(key, zeroIv, 'data/zero')).code).toBe('MAC_FAILED');
    }
  });

  it('re-keys correctly when calls alternate between master keys, and restarts the counter each call', () => {
    const other = generateMasterKey();
    const iv = randomBytes(16);
    for (const [k, size] of [[key, 17], [other, 33], [key, 1], [other, 16400], [key, 0], [other, 5]] as [MasterKey, number][]) {
      const plain = randomBytes(size);
      expect(toHex(native.sealWithIv(k.encrypt, k.macK, k.macR, iv, plain))).toBe(toHex(sealWithPrimitives(nodeJsPrimitives, k, plain, iv)));
      expect(toHex(native.aes256Ctr(k.encrypt, iv, plain))).toBe(toHex(nodeJsPrimitives.aes256Ctr(k.encrypt, iv, plain)));
      expect(toHex(native.aes128EncryptBlock(k.macK, iv))).toBe(toHex(nodeJsPrimitives.aes128EncryptBlock(k.macK, iv)));
    }
  });

  it('Poly1305 matches RFC 8439 2.5.2', () => {
    const rfcKey = hex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b');
    expect(toHex(native.poly1305(new TextEncoder().encode('Cryptographic Forum Research Group'), rfcKey))).toBe('a8061dc1305136c6c22b8baf0c0127a9');
  });

  it('returns plain Uint8Arrays that own their ArrayBuffer (transferable to a worker)', () => {
    for (const out of [seal(key, randomBytes(100)), open(key, seal(key, randomBytes(100)), 'x'), computeMac(key, randomBytes(16), randomBytes(3))]) {
      expect(out.constructor).toBe(Uint8Array);
      expect(out.byteOffset).toBe(0);
      expect(out.buffer.byteLength).toBe(out.length);
    }
  });

  it('uses a fresh non-zero IV per seal', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const iv = toHex(seal(key, new Uint8Array(1)).subarray(0, 16));
      expect(iv).not.toBe('0'.repeat(32));
      seen.add(iv);
    }
    expect(seen.size).toBe(200);
  });
});

describe('errors are the same with and without the native path', () => {
  const key = generateMasterKey();
  const sealed = seal(key, new TextEncoder().encode('hello restic, twenty-nine bytes'));

  it('MAC mismatch in IV, ciphertext or tag, or a wrong key: MAC_FAILED with the same message', () => {
    const cases: [string, Uint8Array, MasterKey][] = [];
    for (const pos of [0, 15, 16, 30, sealed.length - 17, sealed.length - 1]) {
      const bad = Uint8Array.from(sealed);
      bad[pos]! ^= 0x80;
      cases.push([`byte ${pos}`, bad, key]);
    }
    cases.push(['wrong key', sealed, generateMasterKey()]);
    for (const [label, data, k] of cases) {
      const fast = caught(() => open(k, data, 'data/ab/abcdef'));
      setCryptoImplementation('portable');
      const pure = caught(() => open(k, data, 'data/ab/abcdef'));
      setCryptoImplementation('node');
      expect(fast.code, label).toBe('MAC_FAILED');
      expect(fast.message, label).toBe(pure.message);
      expect(fast.message).toBe('data/ab/abcdef: ciphertext verification failed (MAC mismatch: wrong key, or the data is damaged or tampered with)');
      expect(verifyMac(k, data, 'x'), label).toBe(false);
    }
  });

  it('shorter than IV + MAC: CORRUPT with the same message', () => {
    const fast = caught(() => open(key, new Uint8Array(31), 'index/0123'));
    setCryptoImplementation('portable');
    const pure = caught(() => open(key, new Uint8Array(31), 'index/0123'));
    expect(fast.code).toBe('CORRUPT');
    expect(fast.message).toBe(pure.message);
    expect(() => verifyMac(key, new Uint8Array(3), 'index/0123')).toThrow(/index\/0123: ciphertext too short/);
  });
});

describe('sealInto', () => {
  for (const name of ['node', 'portable'] as const) {
    it(`writes at an offset and seals in place (${name})`, () => {
      setCryptoImplementation(name);
      const key = generateMasterKey();
      const plain = randomBytes(20_000);
      const out = new Uint8Array(7 + plain.length + 32 + 5).fill(0xaa);
      sealInto(key, plain, out, 7);
      expect(toHex(out.subarray(0, 7))).toBe('aa'.repeat(7));
      expect(toHex(out.subarray(7 + plain.length + 32))).toBe('aa'.repeat(5));
      expect(Buffer.compare(open(key, out.subarray(7, 7 + plain.length + 32), 'x'), plain)).toBe(0);

      const pack = new Uint8Array(100 + plain.length + 32);
      pack.set(plain, 100 + 16);
      sealInto(key, pack.subarray(116, 116 + plain.length), pack, 100);
      expect(Buffer.compare(open(key, pack.subarray(100), 'x'), plain)).toBe(0);
    });

    it(`refuses no room and other overlaps (${name})`, () => {
      setCryptoImplementation(name);
      const key = generateMasterKey();
      const buf = new Uint8Array(200);
      expect(() => sealInto(key, new Uint8Array(100), buf, 69)).toThrow(RangeError);
      expect(() => sealInto(key, new Uint8Array(100), buf, -1)).toThrow(RangeError);
      expect(() => sealInto(key, buf.subarray(0, 100), buf, 10)).toThrow(/overlaps/);
    });
  }
});

describe.skipIf(!nativeSeal)('scrypt with parallel lanes (native ROMix)', () => {
  const pw = new TextEncoder().encode('correct horse');

  it('is the node implementation\'s scrypt when the addon is built', () => {
    expect(cryptoImplementation().scrypt).toBe('native-lanes');
  });
  it('equals node:crypto\'s scrypt for restic\'s parameters and for odd shapes (p > 1, odd r, tiny N)', async () => {
    const cases = [
      { N: 32768, r: 8, p: 5 },
      { N: 2, r: 1, p: 2 },
      { N: 16, r: 3, p: 7 },
      { N: 1024, r: 1, p: 3 },
      { N: 256, r: 5, p: 2 },
    ];
    for (const params of cases) {
      const salt = randomBytes(64);
      for (const dkLen of [64, 100]) {
        const want = toHex(await nodeJsPrimitives.scrypt(pw, salt, params, dkLen));
        expect(toHex(await nodePrimitives.scrypt(pw, salt, params, dkLen)), JSON.stringify({ ...params, dkLen })).toBe(want);
      }
    }
  });
  it('gives each of several concurrent derivations its own result', async () => {
    const salts = [randomBytes(64), randomBytes(64), randomBytes(64)];
    const params = { N: 4096, r: 8, p: 4 };
    const got = await Promise.all(salts.map((salt) => nodePrimitives.scrypt(pw, salt, params, 64)));
    for (let i = 0; i < salts.length; i++) expect(toHex(got[i]!)).toBe(toHex(await nodeJsPrimitives.scrypt(pw, salts[i]!, params, 64)));
  });
  it('works several lanes in one call as it works each alone (one table, lane after lane)', async () => {
    const romix = nativeSeal!.romixLanesAsync;
    const r = 2;
    const laneBytes = 128 * r;
    const together = new Uint8Array(randomBytes(3 * laneBytes));
    const alone = together.slice();
    await romix(together, 256, r);
    for (let lane = 0; lane < 3; lane++) await romix(alone.subarray(lane * laneBytes, (lane + 1) * laneBytes), 256, r);
    expect(toHex(together)).toBe(toHex(alone));
  });
  it('gives the same lanes with every group width the CPU has (1; 2 with AVX2; 4 with AVX-512)', async () => {
    const romix = nativeSeal!.romixLanesAsync;
    const widths = nativeSeal!.romixWidths();
    expect(widths).toContain(1);
    for (const r of [1, 3, 8]) {
      const laneBytes = 128 * r;
      // 7 lanes: with width 4 a group of 4, then 2, then 1; so every narrower path runs too.
      const input = new Uint8Array(randomBytes(7 * laneBytes));
      const oneByOne = input.slice();
      await romix(oneByOne, 64, r, 1);
      for (const width of widths) {
        const grouped = input.slice();
        await romix(grouped, 64, r, width);
        expect(toHex(grouped), `r=${r} width=${width}`).toBe(toHex(oneByOne));
      }
    }
  });
  it('uses a reserved table when it fits and frees one nobody took', async () => {
    const { romixLanesAsync: romix, romixReserve, romixRelease } = nativeSeal!;
    const r = 2;
    const laneBytes = 128 * r;
    const input = new Uint8Array(randomBytes(4 * laneBytes));
    const fresh = input.slice();
    await romix(fresh, 1024, r, 1);
    // Reserved for four lanes, taken by a four-lane call (or by its first group), same result.
    await romixReserve(4 * 128 * r * 1024);
    const reservedRun = input.slice();
    await romix(reservedRun, 1024, r);
    expect(toHex(reservedRun)).toBe(toHex(fresh));
    // Still being filled when the ROMix call comes: the call waits for it.
    const filling = romixReserve(4 * 128 * r * 1024);
    const whileFilling = input.slice();
    await romix(whileFilling, 1024, r);
    await filling;
    expect(toHex(whileFilling)).toBe(toHex(fresh));
    // Too large to fit a one-lane call: not taken; released afterwards (and releasing twice is fine).
    await romixReserve(64 * 128 * r * 1024);
    const notTaken = input.slice(0, laneBytes);
    await romix(notTaken, 1024, r, 1);
    expect(toHex(notTaken)).toBe(toHex(fresh.subarray(0, laneBytes)));
    romixRelease();
    romixRelease();
    expect(() => romixReserve(-1)).toThrow(RangeError);
  });
  it('derives the same key after reserveKeyDerivationMemory, whatever the parameters', async () => {
    const salt = randomBytes(64);
    for (const params of [{ N: 32768, r: 8, p: 4 }, { N: 1024, r: 8, p: 3 }]) {
      reserveKeyDerivationMemory();
      expect(toHex(await nodePrimitives.scrypt(pw, salt, params, 64)), JSON.stringify(params)).toBe(toHex(await nodeJsPrimitives.scrypt(pw, salt, params, 64)));
    }
  });
  it('cuts the lanes into runs of whole groups, one per core', () => {
    expect(scryptRuns(5, 4, 2)).toEqual([4, 1]);
    expect(scryptRuns(4, 4, 2)).toEqual([4]);
    expect(scryptRuns(5, 2, 2)).toEqual([4, 1]);
    expect(scryptRuns(4, 2, 2)).toEqual([2, 2]);
    expect(scryptRuns(5, 1, 2)).toEqual([3, 2]);
    expect(scryptRuns(9, 4, 8)).toEqual([4, 4, 1]);
    expect(scryptRuns(3, 1, 1)).toEqual([3]);
    for (const [p, w, c] of [[7, 4, 3], [13, 2, 4], [2, 4, 16]] as const) {
      const runs = scryptRuns(p, w, c);
      expect(runs.reduce((a, b) => a + b, 0)).toBe(p);
      expect(runs.length).toBeLessThanOrEqual(c);
    }
  });
  it('rejects arguments the ROMix cannot take, before any work', () => {
    const romix = nativeSeal!.romixLanesAsync;
    expect(() => romix(new Uint8Array(1024), 1000, 8)).toThrow(RangeError); // N not a power of two
    expect(() => romix(new Uint8Array(1000), 1024, 8)).toThrow(RangeError); // block not whole 128 * r lanes
    expect(() => romix(new Uint8Array(0), 1024, 8)).toThrow(RangeError); // no lane at all
    expect(() => romix(new Uint8Array(1024), 1, 8)).toThrow(RangeError); // N < 2
    expect(() => romix(new Uint8Array(1024), 1024, 0)).toThrow(RangeError); // r < 1
    expect(() => romix(new Uint8Array(1024), 2 ** 40, 8)).toThrow(RangeError); // a table beyond 1 TiB (checked before the block)
    expect(() => romix(new Uint16Array(512) as unknown as Uint8Array, 1024, 8)).toThrow(TypeError);
    expect(() => romix(new Uint8Array(1024), 1024, 8, 3 as 1)).toThrow(RangeError); // group width not 1, 2 or 4
  });
});

describe.skipIf(!nativeSeal)('native seal in worker threads', () => {
  it('loads in two workers at once (per-thread state) and gives the main thread\'s bytes; unloads cleanly', async () => {
    const file = nativeSealStatus().file!;
    const key = generateMasterKey();
    const iv = randomBytes(16);
    const plain = randomBytes(50_000);
    const want = toHex(nativeSeal!.sealWithIv(key.encrypt, key.macK, key.macR, iv, plain));
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { createRequire } = require('node:module');
      const addon = createRequire(workerData.file)(workerData.file);
      const { key, iv, plain } = workerData;
      let last;
      for (let i = 0; i < 200; i++) last = addon.sealWithIv(key.encrypt, key.macK, key.macR, iv, plain);
      const opened = addon.open(key.encrypt, key.macK, key.macR, last);
      parentPort.postMessage({ sealed: Buffer.from(last).toString('hex'), roundTrip: Buffer.compare(opened, plain) === 0 });
    `;
    const run = (): Promise<{ sealed: string; roundTrip: boolean }> =>
      new Promise((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { file, key, iv, plain } });
        worker.once('message', (m) => {
          void worker.terminate().then(() => resolve(m as { sealed: string; roundTrip: boolean }));
        });
        worker.once('error', reject);
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) {
      expect(r.sealed).toBe(want);
      expect(r.roundTrip).toBe(true);
    }
    // the main thread's own state is untouched by the workers' coming and going
    expect(toHex(nativeSeal!.sealWithIv(key.encrypt, key.macK, key.macR, iv, plain))).toBe(want);
    const again = await run();
    expect(again.sealed).toBe(want);
  });
});
