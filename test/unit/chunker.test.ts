import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { Chunker, chunkBuffer, type ChunkBoundary, type ChunkerOptions } from '../../src/chunker/chunker.js';
import { chunkStream } from '../../src/chunker/stream.js';
import { isIrreducible, polDeg, polMod, TEST_POLYNOMIAL, type Polynomial } from '../../src/chunker/polynomial.js';
import { chunkerTables, modTableEntry, outgoing } from '../../src/chunker/tables.js';
import { xorshiftBytes } from '../support/source-tree.js';

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes (xorshift32), so failures reproduce. */
function pseudoRandom(n: number, seed: number): Uint8Array {
  return xorshiftBytes(n, seed);
}

/** The derived vector's input: SHA-256(uint32 LE i) for i = 0 … n/32 − 1. */
function derivedInput(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const le = Buffer.alloc(4);
  for (let i = 0; i < n / 32; i++) {
    le.writeUInt32LE(i);
    out.set(createHash('sha256').update(le).digest(), i * 32);
  }
  return out;
}

/**
 * A deliberately naive implementation of restic-format.md §11.5/§11.6 (BigInt digest, ring
 * window, restic's reset with seed byte 1, the skip, the per-byte tests), as an oracle.
 */
function referenceChunks(data: Uint8Array, pol: Polynomial, opts: Required<ChunkerOptions>): ChunkBoundary[] {
  const k = polDeg(pol);
  const shift = BigInt(k - 8);
  const out: bigint[] = [];
  const mod: bigint[] = [];
  for (let b = 0; b < 256; b++) {
    out.push(outgoing(b, pol));
    mod.push(polMod(BigInt(b) << BigInt(k), pol) | (BigInt(b) << BigInt(k)));
  }
  const mask = (1n << BigInt(opts.averageBits)) - 1n;
  const res: ChunkBoundary[] = [];
  let window = new Uint8Array(64);
  let wpos = 0;
  let digest = 0n;
  let count = 0;
  let pre = 0;
  let chunkStart = 0;
  const slide = (b: number): void => {
    const o = window[wpos];
    window[wpos] = b;
    wpos = (wpos + 1) % 64;
    digest ^= out[o];
    const top = Number(digest >> shift);
    digest = ((digest << 8n) | BigInt(b)) ^ mod[top];
  };
  const reset = (): void => {
    window = new Uint8Array(64);
    wpos = 0;
    digest = 0n;
    count = 0;
    slide(1);
    pre = opts.minSize - 64;
  };
  reset();
  for (let i = 0; i < data.length; i++) {
    count++;
    if (pre > 0) {
      pre--;
      continue;
    }
    slide(data[i]);
    if (((digest & mask) === 0n || count >= opts.maxSize) && count >= opts.minSize) {
      res.push({ offset: chunkStart, length: count, cut: Number(digest) });
      chunkStart = i + 1;
      reset();
    }
  }
  if (chunkStart < data.length) res.push({ offset: chunkStart, length: data.length - chunkStart, cut: Number(digest) });
  return res;
}

/** A deterministic irreducible polynomial of the given degree. */
function irreducibleOfDegree(deg: number, seed: number): Polynomial {
  let x = BigInt(seed);
  for (;;) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    const p = (x & ((1n << BigInt(deg)) - 1n)) | (1n << BigInt(deg)) | 1n;
    if (isIrreducible(p)) return p;
  }
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

function lengths(cs: { length: number }[]): number[] {
  return cs.map((c) => c.length);
}

describe('tables (restic-format.md §11.4)', () => {
  it('match the sanity values for the test polynomial', () => {
    const t = chunkerTables(TEST_POLYNOMIAL);
    expect(outgoing(1, TEST_POLYNOMIAL)).toBe(0x17eb4232e19216n);
    expect(outgoing(255, TEST_POLYNOMIAL)).toBe(0xb80b98cecc39an);
    expect(modTableEntry(t, 1)).toBe(0x3da3358b4dc173n);
    expect(modTableEntry(t, 255)).toBe(0x1ff7ac8a5af476a7n);
  });

  it('are cached per polynomial', () => {
    expect(chunkerTables(TEST_POLYNOMIAL)).toBe(chunkerTables(TEST_POLYNOMIAL));
  });
});

describe('restic/chunker vectors', () => {
  it('chunks2: 4 × MinSize zero bytes give four 512 KiB chunks with cut 0', () => {
    const zeros = new Uint8Array(4 * 524288);
    const cs = chunkBuffer(zeros, TEST_POLYNOMIAL);
    expect(lengths(cs)).toEqual([524288, 524288, 524288, 524288]);
    for (const c of cs) {
      expect(c.cut).toBe(0);
      const h = sha256(zeros.subarray(c.offset, c.offset + c.length));
      expect(h.slice(0, 8)).toBe('07854d2f');
      expect(h.slice(-4)).toBe('1541');
    }
  });

  it('derived vector: SHA-256(uint32 LE i) input, 20 MiB', () => {
    const data = derivedInput(20 * MiB);
    expect(sha256(data)).toBe('2c0e8a37e997500a45a91323386b58979ad071e6947011e9f12db9cf2c164bcf');
    const cs = chunkBuffer(data, TEST_POLYNOMIAL);
    expect(lengths(cs)).toEqual([
      1451098, 1035820, 1818146, 698627, 1152066, 3127619, 832080, 1559452, 1672129, 1263118, 1666081, 1167381, 1001934,
      1103019, 1322463, 100487,
    ]);
    expect(cs.slice(0, 3).map((c) => c.cut)).toEqual([0x98c6d5c400000, 0x8a09141d00000, 0x1496264a100000]);
  });

  it('20 MiB of 0xFF cut at MaxSize', () => {
    const cs = chunkBuffer(new Uint8Array(20 * MiB).fill(0xff), TEST_POLYNOMIAL);
    expect(lengths(cs)).toEqual([8388608, 8388608, 4194304]);
    expect(cs[0].cut).toBe(0x6d9879d4c4d97);
  });

  it('empty input gives no chunks; short input gives one, with restic\'s final Cut value', () => {
    expect(chunkBuffer(new Uint8Array(0), TEST_POLYNOMIAL)).toEqual([]);
    expect(chunkBuffer(new Uint8Array(100 * 1024).fill(7), TEST_POLYNOMIAL)).toEqual([{ offset: 0, length: 102400, cut: 1 }]);
    const opts = { minSize: 512 * 1024, maxSize: 8 * MiB, averageBits: 20 };
    const short = pseudoRandom(512 * 1024 - 10, 3); // 54 bytes hashed: the seed is still in the window
    expect(chunkBuffer(short, TEST_POLYNOMIAL)).toEqual(referenceChunks(short, TEST_POLYNOMIAL, opts));
  });
});

describe('agrees with a naive BigInt implementation of §11.6', () => {
  const small = { minSize: 256, maxSize: 4096, averageBits: 8 };
  const polys: [string, Polynomial][] = [
    ['test polynomial', TEST_POLYNOMIAL],
    ['0x2482734cacca49', 0x2482734cacca49n],
    ['degree 53 (seeded)', irreducibleOfDegree(53, 1)],
    ['degree 47', irreducibleOfDegree(47, 2)],
    ['degree 40', irreducibleOfDegree(40, 3)],
    ['degree 31', irreducibleOfDegree(31, 4)],
    ['degree 29', irreducibleOfDegree(29, 5)],
  ];
  it.each(polys)('%s, small chunk parameters', (_name, pol) => {
    const data = pseudoRandom(300_000, 42);
    const expected = referenceChunks(data, pol, small);
    expect(expected.length).toBeGreaterThan(200);
    expect(chunkBuffer(data, pol, small)).toEqual(expected);
  });

  it('on degree 31 (digest scaled by x^22) with a mask in the low half and one reaching the hi half', () => {
    const pol = irreducibleOfDegree(31, 6);
    const opts = { minSize: 64, maxSize: 1000, averageBits: 3 };
    const data = pseudoRandom(50_000, 9);
    expect(chunkBuffer(data, pol, opts)).toEqual(referenceChunks(data, pol, opts));
    const wide = { minSize: 64, maxSize: 100_000, averageBits: 24 };
    expect(chunkBuffer(data, pol, wide)).toEqual(referenceChunks(data, pol, wide));
  });

  it('runs of zero and 0xFF bytes (maxSize cuts) with minSize = maxSize and minSize = 64', () => {
    const data = new Uint8Array(20_000);
    data.fill(0xff, 5000, 12000);
    data.set(pseudoRandom(3000, 5), 15000);
    for (const opts of [
      { minSize: 500, maxSize: 500, averageBits: 8 },
      { minSize: 64, maxSize: 3000, averageBits: 6 },
      { minSize: 1000, maxSize: 2000, averageBits: 30 },
    ]) {
      expect(chunkBuffer(data, TEST_POLYNOMIAL, opts)).toEqual(referenceChunks(data, TEST_POLYNOMIAL, opts));
    }
  });

  it('default parameters on 6 MiB', () => {
    const data = pseudoRandom(6 * MiB, 77);
    const opts = { minSize: 512 * 1024, maxSize: 8 * MiB, averageBits: 20 };
    expect(chunkBuffer(data, TEST_POLYNOMIAL)).toEqual(referenceChunks(data, TEST_POLYNOMIAL, opts));
  });
});

describe('boundaries do not depend on how the input is split', () => {
  const opts = { minSize: 256, maxSize: 4096, averageBits: 8 };
  const data = pseudoRandom(200_000, 1234);
  const expected = chunkBuffer(data, TEST_POLYNOMIAL, opts);
  const expectedEnds = expected.map((c) => c.offset + c.length);

  /** Feeds pieces through one Chunker and returns chunk ends (absolute) and cut values. */
  function ends(pieces: Uint8Array[]): { ends: number[]; cuts: number[] } {
    const ch = new Chunker(TEST_POLYNOMIAL, opts);
    const out: number[] = [];
    const cuts: number[] = [];
    let base = 0;
    for (const p of pieces) {
      let s = 0;
      for (;;) {
        const c = ch.nextBoundary(p, s, p.length);
        if (c < 0) break;
        out.push(base + c);
        cuts.push(ch.lastCut);
        s = c;
      }
      base += p.length;
    }
    if (ch.pending > 0) out.push(base);
    return { ends: out, cuts };
  }

  function splitAt(points: number[]): Uint8Array[] {
    const sorted = [...new Set(points.filter((p) => p > 0 && p < data.length))].sort((a, b) => a - b);
    const pieces: Uint8Array[] = [];
    let prev = 0;
    for (const p of [...sorted, data.length]) {
      pieces.push(data.slice(prev, p)); // copies, so no piece can see its neighbours' bytes
      prev = p;
    }
    return pieces;
  }

  it('random splits (50 seeds)', () => {
    let x = 99;
    const rnd = (n: number): number => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % n;
    };
    for (let trial = 0; trial < 50; trial++) {
      const count = 1 + rnd(400);
      const points = Array.from({ length: count }, () => rnd(data.length));
      const r = ends(splitAt(points));
      expect(r.ends).toEqual(expectedEnds);
      expect(r.cuts).toEqual(expected.slice(0, r.cuts.length).map((c) => c.cut));
    }
  });

  it('1-byte pieces around every boundary, the skip end and the 64-byte head', () => {
    const points: number[] = [];
    for (const c of expected) {
      for (const anchor of [c.offset, c.offset + opts.minSize - 64, c.offset + opts.minSize, c.offset + c.length]) {
        for (let d = -70; d <= 70; d++) points.push(anchor + d);
      }
    }
    expect(ends(splitAt(points)).ends).toEqual(expectedEnds);
  });

  it('one byte at a time (first 30 000 bytes)', () => {
    const part = data.subarray(0, 30_000);
    const want = chunkBuffer(part, TEST_POLYNOMIAL, opts).map((c) => c.offset + c.length);
    const pieces = Array.from(part, (b) => Uint8Array.of(b));
    const ch = new Chunker(TEST_POLYNOMIAL, opts);
    const got: number[] = [];
    pieces.forEach((p, i) => {
      if (ch.nextBoundary(p) === 1) got.push(i + 1);
    });
    if (ch.pending > 0) got.push(part.length);
    expect(got).toEqual(want);
  });

  it('start/end sub-ranges of one large buffer behave like separate buffers', () => {
    const ch = new Chunker(TEST_POLYNOMIAL, opts);
    const got: number[] = [];
    for (let s = 0; s < data.length; ) {
      const e = Math.min(data.length, s + 1 + ((s * 7919) % 3000));
      let from = s;
      for (;;) {
        const c = ch.nextBoundary(data, from, e);
        if (c < 0) break;
        got.push(c);
        from = c;
      }
      s = e;
    }
    if (ch.pending > 0) got.push(data.length);
    expect(got).toEqual(expectedEnds);
  });
});

describe('chunkStream', () => {
  it('yields the same chunks as chunkBuffer for any piece sizes, default parameters', async () => {
    const data = derivedInput(4 * MiB);
    const want = chunkBuffer(data, TEST_POLYNOMIAL).map((c) => sha256(data.subarray(c.offset, c.offset + c.length)));
    expect(want.length).toBeGreaterThan(1);
    for (const size of [1000, 65536, 512 * 1024, 3 * MiB, 8 * MiB]) {
      async function* pieces(): AsyncGenerator<Uint8Array> {
        for (let o = 0; o < data.length; o += size) yield data.slice(o, o + size);
      }
      const got = await collect(chunkStream(pieces(), TEST_POLYNOMIAL));
      expect(got.map(sha256), `piece size ${size}`).toEqual(want);
    }
  });

  it('yields views (no copy) for chunks inside one input buffer, one exact-size copy otherwise', async () => {
    const opts = { minSize: 256, maxSize: 4096, averageBits: 8 };
    const data = pseudoRandom(100_000, 5);
    const big = data.slice();
    const got = await collect(chunkStream([big.subarray(0, 50_000), big.subarray(50_000)], TEST_POLYNOMIAL, opts));
    const want = chunkBuffer(data, TEST_POLYNOMIAL, opts);
    expect(lengths(got)).toEqual(lengths(want));
    const spanning = want.findIndex((c) => c.offset < 50_000 && c.offset + c.length > 50_000);
    got.forEach((c, i) => {
      if (i === spanning) {
        expect(c.buffer).not.toBe(big.buffer);
        expect(c.byteLength).toBe(c.buffer.byteLength);
      } else {
        expect(c.buffer).toBe(big.buffer);
      }
    });
  });

  it('reads a Node Readable, skips empty buffers, and yields nothing for an empty stream', async () => {
    const data = pseudoRandom(20_000, 8);
    const opts = { minSize: 512, maxSize: 4096, averageBits: 9 };
    const src = Readable.from([Buffer.alloc(0), Buffer.from(data.subarray(0, 7)), Buffer.alloc(0), Buffer.from(data.subarray(7))]);
    const got = await collect(chunkStream(src, TEST_POLYNOMIAL, opts));
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(lengths(got)).toEqual(lengths(chunkBuffer(data, TEST_POLYNOMIAL, opts)));
    expect(await collect(chunkStream(Readable.from([]), TEST_POLYNOMIAL))).toEqual([]);
  });

  it('rejects a stream of strings with a clear TypeError', async () => {
    const src = Readable.from(['abc'], { objectMode: true });
    await expect(collect(chunkStream(src, TEST_POLYNOMIAL))).rejects.toThrow(/yielded string, want Uint8Array/);
  });
});

describe('bad parameters', () => {
  it('refuses polynomials of unusable degree with a ResticError', () => {
    for (const pol of [0x13n /* degree 4 */, 1n << 54n | 1n]) {
      try {
        new Chunker(pol);
        expect.unreachable();
      } catch (err) {
        expect(isResticError(err, 'UNSUPPORTED')).toBe(true);
        expect((err as Error).message).toMatch(/chunker polynomial [0-9a-f]+ has degree/);
      }
    }
  });

  it('refuses sizes restic/chunker cannot work with', () => {
    expect(() => new Chunker(TEST_POLYNOMIAL, { minSize: 63 })).toThrow(RangeError);
    expect(() => new Chunker(TEST_POLYNOMIAL, { minSize: 1000, maxSize: 999 })).toThrow(RangeError);
    expect(() => new Chunker(TEST_POLYNOMIAL, { averageBits: 0 })).toThrow(RangeError);
    expect(() => new Chunker(TEST_POLYNOMIAL, { averageBits: 54 })).toThrow(RangeError);
    expect(() => new Chunker(TEST_POLYNOMIAL).nextBoundary(new Uint8Array(4), 2, 8)).toThrow(RangeError);
  });
});
