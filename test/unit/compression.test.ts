import { describe, expect, it } from 'vitest';
import {
  MODE_LEVELS,
  availableCompressionImplementations,
  compress,
  compressionImplementation,
  decompress,
  inspectFrames,
  type CompressionLevelMode,
} from '../../src/compression/index.js';
import { nativeZstd, wasmZstd } from '../../src/compression/implementations.js';
import { isResticError } from '../../src/errors.js';
import { compressibleText } from '../support/source-tree.js';

function sample(n: number): Uint8Array {
  return compressibleText(n);
}

async function expectCorrupt(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
    expect.unreachable('expected CORRUPT');
  } catch (err) {
    expect(isResticError(err, 'CORRUPT'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(re);
  }
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('implementation choice', () => {
  it('has the native and WebAssembly builds on this machine and says what it uses', () => {
    expect(availableCompressionImplementations()).toEqual(expect.arrayContaining(['native', 'wasm']));
    const desc = compressionImplementation();
    expect(desc).toMatch(/auto=/);
    expect(desc).toMatch(/max=/);
    expect(desc).toMatch(/decompress=/);
  });
  it('@mongodb-js/zstd 1.2 ignores the level (why max/better use another implementation)', async () => {
    const data = sample(300_000);
    const a = await nativeZstd!.compress(data, 1);
    const b = await nativeZstd!.compress(data, 19);
    expect(eq(a, b)).toBe(true);
    const w1 = await wasmZstd!.compress(data, 1);
    const w11 = await wasmZstd!.compress(data, 11);
    expect(w11.length).toBeLessThan(w1.length);
  });
});

describe('compress / decompress', () => {
  for (const mode of Object.keys(MODE_LEVELS) as CompressionLevelMode[]) {
    it(`round-trips in mode ${mode} with a checksum-free standard frame`, async () => {
      const data = sample(200_000);
      const frame = await compress(data, mode);
      expect(Array.from(frame.subarray(0, 4))).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
      const info = inspectFrames(frame);
      expect(info.frames).toBe(1);
      expect(info.hasChecksum).toBe(false);
      expect(frame.length).toBeLessThan(data.length / 2);
      expect(eq(await decompress(frame, data.length), data)).toBe(true);
      expect(eq(await decompress(frame), data)).toBe(true);
    });
  }

  it('compresses empty and tiny inputs', async () => {
    for (const data of [new Uint8Array(0), new TextEncoder().encode('{"a":1}')]) {
      const frame = await compress(data, 'auto');
      expect(eq(await decompress(frame, data.length), data)).toBe(true);
    }
  });

  it('decodes frames with and without Frame_Content_Size, and concatenated frames', async () => {
    const data = sample(400_000);
    const withFcs = await wasmZstd!.compress(data, 3);
    const withoutFcs = await nativeZstd!.compress(data, 3);
    expect(inspectFrames(withFcs).contentSize).toBe(data.length);
    expect(inspectFrames(withoutFcs).contentSize).toBeUndefined();
    expect(eq(await decompress(withFcs, data.length), data)).toBe(true);
    expect(eq(await decompress(withoutFcs, data.length), data)).toBe(true);
    expect(eq(await decompress(withoutFcs), data)).toBe(true);
    const both = new Uint8Array([...withFcs, ...withoutFcs]);
    expect((await decompress(both, 2 * data.length)).length).toBe(2 * data.length);
  });

  it('refuses a decompression bomb: a size other than expected is never produced', async () => {
    const zeros = new Uint8Array(16 * 1024 * 1024);
    const noFcs = await nativeZstd!.compress(zeros, 3);
    expect(noFcs.length).toBeLessThan(4096);
    await expectCorrupt(decompress(noFcs, 1000, 'data/ab/abcd'), /data\/ab\/abcd/);
    const fcs = await wasmZstd!.compress(zeros, 3);
    await expectCorrupt(decompress(fcs, 1000, 'blob x'), /declares 16777216 bytes, want 1000/);
  });

  it('rejects malformed data with CORRUPT naming the file', async () => {
    const data = sample(100_000);
    const frame = await compress(data, 'auto');
    await expectCorrupt(decompress(new TextEncoder().encode('not zstd at all'), undefined, 'index/12'), /index\/12.*bad frame magic/);
    await expectCorrupt(decompress(frame.subarray(0, frame.length - 5), data.length, 'index/12'), /index\/12/);
    await expectCorrupt(decompress(frame.subarray(0, 6), undefined, 'index/12'), /truncated/);
    await expectCorrupt(decompress(frame, data.length + 1, 'blob'), /want 100001/);
    const damaged = Uint8Array.from(frame);
    for (let i = 20; i < 60; i++) damaged[i]! ^= 0x5a;
    await expectCorrupt(decompress(damaged, data.length, 'blob'), /blob/);
  });

  it('treats empty input as no frames', async () => {
    expect((await decompress(new Uint8Array(0))).length).toBe(0);
    await expectCorrupt(decompress(new Uint8Array(0), 5, 'b'), /empty/);
  });
});
