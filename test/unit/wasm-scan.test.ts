import { createCipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkAssembler } from '../../src/archiver/chunk-reader.js';
import { Chunker, chunkBuffer } from '../../src/chunker/chunker.js';
import { TEST_POLYNOMIAL, type Polynomial } from '../../src/chunker/polynomial.js';
import { WasmScanner } from '../../src/chunker/wasm-scan.js';

const MiB = 1024 * 1024;

/** Pseudo-random bytes: AES-CTR keystream from a seed, fast and repeatable. */
function pseudoRandom(n: number, seed: number): Uint8Array {
  const key = createHash('sha256').update(String(seed)).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

function lengths(chunks: { length: number }[]): number[] {
  return chunks.map((c) => c.length);
}

describe('WebAssembly body scan', () => {
  it('is available on Node (the hand-assembled module validates)', () => {
    expect(WasmScanner.create(1024)).toBeDefined();
  });

  it('cuts exactly where the JavaScript loop cuts, with the same fingerprints', () => {
    const data = pseudoRandom(24 * MiB, 1);
    const js = chunkBuffer(data, TEST_POLYNOMIAL);
    const scanner = WasmScanner.create(data.length)!;
    scanner.data.set(data);
    const chunker = new Chunker(TEST_POLYNOMIAL);
    expect(chunker.useWasm(scanner)).toBe(true);
    const viaWasm: { length: number; cut: number }[] = [];
    let start = 0;
    while (start < data.length) {
      const cut = chunker.nextBoundary(scanner.data, start, data.length);
      if (cut < 0) {
        viaWasm.push({ length: data.length - start, cut: chunker.digest });
        break;
      }
      viaWasm.push({ length: cut - start, cut: chunker.lastCut });
      start = cut;
    }
    expect(js.length).toBeGreaterThan(10);
    expect(viaWasm).toEqual(js.map((c) => ({ length: c.length, cut: c.cut })));
  });

  it('the assembler (which reads into WebAssembly memory) gives the same chunks for any piece sizes', () => {
    const all = pseudoRandom(20 * MiB + 12345, 2);
    for (const piece of [1, 63, 64, 65, 4096, 333_333, MiB, 3 * MiB + 7]) {
      // Tiny pieces on a shorter input (still several chunks) to keep the test quick.
      const data = piece < 4096 ? all.subarray(0, 3 * MiB + 999) : all;
      const want = lengths(chunkBuffer(data, TEST_POLYNOMIAL));
      const asm = new ChunkAssembler(TEST_POLYNOMIAL);
      const got: Uint8Array[] = [];
      for (let off = 0; off < data.length; off += piece) got.push(...asm.push(data.subarray(off, Math.min(data.length, off + piece))));
      const last = asm.finish();
      if (last) got.push(last);
      expect(lengths(got), `piece size ${piece}`).toEqual(want);
      expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    }
  });

  it('is not used for polynomials below degree 53 (the JavaScript loop scales the digest)', () => {
    const low: Polynomial = 0x3da3358b4dc173n >> 2n; // any polynomial of lower degree: the scan must decline
    const chunker = new Chunker(low, { minSize: 64, averageBits: 8 });
    const scanner = WasmScanner.create(1024)!;
    expect(chunker.useWasm(scanner)).toBe(false);
  });
});
