/**
 * The libzstd addon (src/compression/native/zstd.c): levels honoured, standard frames the other
 * implementations (and so restic) decode, frames of any producer decoded, output never beyond
 * the bound it is given, and safe loading in worker threads. In CI it must be built.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AUTO_SMALL_INPUT, compress, compressionImplementation, decompress, inspectFrames, libzstdStatus } from '../../src/compression/index.js';
import { libzstd, libzstdBinding, nativeZstd, wasmZstd } from '../../src/compression/implementations.js';
import { isResticError } from '../../src/errors.js';
import { compressibleText, seededBytes } from '../support/source-tree.js';

/** Compressible, deterministic text of `n` bytes. */
function text(n: number, seed = 7): Uint8Array {
  return compressibleText(n, seed);
}

/** Deterministic noise (incompressible) of `n` bytes. */
function noise(n: number, seed = 99): Uint8Array {
  return seededBytes(seed, n);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

describe('libzstd addon presence', () => {
  it('is built and preferred for every mode and for decompression (required in CI)', () => {
    const status = libzstdStatus();
    if (process.env.CI && !status.available) {
      throw new Error(`CI: the native zstd addon must be built by the install script: ${status.reason}`);
    }
    if (!status.available) {
      expect(compressionImplementation()).not.toMatch(/libzstd/);
      expect(status.reason).toBeTruthy();
      return;
    }
    expect(status.version).toMatch(/^1\.\d+\.\d+$/);
    expect(compressionImplementation()).toBe('fastest=libzstd(level 1) auto=libzstd(level 3, 2 up to 16 KiB) better=libzstd(level 7) max=libzstd(level 11) decompress=libzstd');
  });
});

describe.skipIf(!libzstdBinding)('libzstd addon', () => {
  const z = libzstdBinding!;

  it('auto is level 2 up to 16 KiB and level 3 above (same frames as the addon gives at those levels)', async () => {
    for (const n of [1, 4_000, AUTO_SMALL_INPUT]) expect(same(await compress(text(n), 'auto'), z.compress(text(n), 2)), `${n} bytes`).toBe(true);
    for (const n of [AUTO_SMALL_INPUT + 1, 100_000]) expect(same(await compress(text(n), 'auto'), z.compress(text(n), 3)), `${n} bytes`).toBe(true);
    expect(same(await compress(text(4_000), 'fastest'), z.compress(text(4_000), 1))).toBe(true);
  });

  it('compressInto writes the same frame in place, says -1 when it does not fit, and checks its range', () => {
    const data = text(10_000);
    const frame = z.compress(data, 3);
    const out = new Uint8Array(20_000).fill(7);
    expect(z.compressInto(data, 3, out, 100, data.length - 1)).toBe(frame.length);
    expect(same(out.subarray(100, 100 + frame.length), frame)).toBe(true);
    expect(out[99]).toBe(7); // nothing before the offset
    expect(z.compressInto(noise(10_000), 3, out, 0, 9_999)).toBe(-1); // incompressible: no room
    expect(z.compressInto(data, 3, out, 0, frame.length - 1)).toBe(-1);
    expect(() => z.compressInto(data, 3, out, 15_000, 10_000)).toThrow(RangeError);
  });

  it('honours levels and writes one checksum-free frame that declares its size', async () => {
    const data = text(300_000);
    const sizes = [1, 3, 7, 11].map((level) => {
      const frame = z.compress(data, level);
      const info = inspectFrames(frame);
      expect(info).toMatchObject({ frames: 1, contentSize: data.length, hasChecksum: false });
      return frame.length;
    });
    expect(sizes[3]).toBeLessThan(sizes[0]!);
    expect(new Set(sizes).size).toBeGreaterThan(2);
  });

  it('round-trips random sizes up to 2 MiB, sync and on the thread pool, text and noise', async () => {
    let x = 20261126;
    const sizes = [0, 1, 100, 10_240, 131_072, 2 * 1024 * 1024];
    for (let i = 0; i < 5; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      sizes.push(x % (2 * 1024 * 1024 + 1));
    }
    for (const size of sizes) {
      for (const data of [text(size, size), noise(size, size)]) {
        const frame = z.compress(data, 3);
        const frameAsync = await z.compressAsync(data, 3);
        expect(same(frame, frameAsync), `size ${size}`).toBe(true);
        expect(same(z.decompress(frame, size), data), `size ${size}`).toBe(true);
        expect(same(await z.decompressAsync(frame, size), data), `size ${size}`).toBe(true);
        // through the public functions, which pick sync or async by size
        expect(same(await decompress(await compress(data, 'auto'), size), data), `size ${size}`).toBe(true);
      }
    }
  });

  it('its frames decode with @mongodb-js/zstd and the WebAssembly build; it decodes theirs', async () => {
    const data = text(400_000);
    const ours = z.compress(data, 3);
    expect(same(await nativeZstd!.decompress(ours), data)).toBe(true);
    expect(same(await wasmZstd!.decompress(ours, data.length), data)).toBe(true);
    const noSize = await nativeZstd!.compress(data, 3);
    expect(inspectFrames(noSize).contentSize).toBeUndefined();
    const withSize = await wasmZstd!.compress(data, 7);
    for (const frame of [noSize, withSize]) {
      expect(same(z.decompress(frame, data.length), data)).toBe(true);
      expect(same(await z.decompressAsync(frame, data.length), data)).toBe(true);
    }
  });

  it('decodes concatenated frames and skips skippable frames, with or without declared sizes', async () => {
    const a = text(50_000, 1);
    const b = text(70_000, 2);
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const want = new Uint8Array([...a, ...b]);
    const withSizes = new Uint8Array([...z.compress(a, 3), ...skippable, ...z.compress(b, 1)]);
    const mixed = new Uint8Array([...z.compress(a, 3), ...skippable, ...(await nativeZstd!.compress(b, 3))]);
    for (const frames of [withSizes, mixed]) {
      expect(same(z.decompress(frames, want.length), want)).toBe(true);
      expect(same(await z.decompressAsync(frames, want.length), want)).toBe(true);
    }
  });

  it('never produces more than the bound: declared sizes are refused up front, undeclared ones stop at bound + 1', async () => {
    const zeros = new Uint8Array(16 * 1024 * 1024);
    const declared = z.compress(zeros, 3);
    expect(() => z.decompress(declared, 1000)).toThrow(/declare 16777216 bytes, more than the 1000 allowed/);
    await expect(z.decompressAsync(declared, 16 * 1024 * 1024 - 1)).rejects.toThrow(/more than the 16777215 allowed/);
    const undeclared = await nativeZstd!.compress(zeros, 3);
    expect(undeclared.length).toBeLessThan(4096);
    expect(() => z.decompress(undeclared, 1000)).toThrow(/output exceeds the 1000 bytes allowed/);
    await expect(z.decompressAsync(undeclared, 16 * 1024 * 1024 - 1)).rejects.toThrow(/output exceeds/);
    expect(z.decompress(undeclared, 16 * 1024 * 1024).length).toBe(16 * 1024 * 1024);
    // through the public function: CORRUPT naming the blob, as with every implementation
    try {
      await decompress(undeclared, 1000, 'data/ab/abcd');
      expect.unreachable();
    } catch (err) {
      expect(isResticError(err, 'CORRUPT')).toBe(true);
      expect((err as Error).message).toMatch(/^data\/ab\/abcd: /);
    }
  });

  it('rejects truncated, damaged and non-zstd input with an error', async () => {
    const data = text(100_000);
    const frame = z.compress(data, 3);
    const noSize = await nativeZstd!.compress(data, 3);
    expect(() => z.decompress(new TextEncoder().encode('not zstd at all'), 100)).toThrow(/invalid zstd data|Unknown frame/i);
    expect(() => z.decompress(frame.subarray(0, frame.length - 5), data.length)).toThrow(/zstd/);
    expect(() => z.decompress(noSize.subarray(0, noSize.length - 5), data.length)).toThrow(/truncated|zstd/);
    await expect(z.decompressAsync(noSize.subarray(0, noSize.length - 5), data.length)).rejects.toThrow(/truncated|zstd/);
    const damaged = Uint8Array.from(frame);
    for (let i = 20; i < 60; i++) damaged[i]! ^= 0x5a;
    expect(() => z.decompress(damaged, data.length)).toThrow();
    expect(() => z.compress(data, 99)).toThrow(RangeError);
    expect(() => z.decompress(frame, -1)).toThrow(RangeError);
  });

  it('runs many thread-pool jobs at once (more than the idle context pool holds), each right', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => (i % 2 ? text(150_000 + i * 1000, i) : noise(150_000 + i * 1000, i)));
    const frames = await Promise.all(inputs.map((d, i) => z.compressAsync(d, [1, 3, 7][i % 3]!)));
    const back = await Promise.all(frames.map((f, i) => z.decompressAsync(f, inputs[i]!.length)));
    back.forEach((b, i) => expect(same(b, inputs[i]!), `input ${i}`).toBe(true));
    frames.forEach((f, i) => expect(same(f, z.compress(inputs[i]!, [1, 3, 7][i % 3]!)), `frame ${i}`).toBe(true));
  });

  it('copies its input for thread-pool jobs, so the caller may reuse the buffer at once', async () => {
    const data = text(500_000);
    const copy = Uint8Array.from(data);
    const pending = z.compressAsync(data, 3);
    data.fill(0);
    expect(same(z.decompress(await pending, copy.length), copy)).toBe(true);
  });

  it('returns plain Uint8Arrays that own their ArrayBuffer', async () => {
    const frame = z.compress(text(1000), 3);
    for (const out of [frame, await z.compressAsync(text(1000), 3), z.decompress(frame, 1000), await libzstd!.decompress(frame, 1000)]) {
      expect(out.constructor).toBe(Uint8Array);
      expect(out.byteOffset).toBe(0);
      expect(out.buffer.byteLength).toBe(out.length);
    }
  });

  it('loads in two workers at once (per-thread contexts) and works there, sync and async', async () => {
    const file = libzstdStatus().file!;
    const data = text(200_000);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { createRequire } = require('node:module');
      const z = createRequire(workerData.file)(workerData.file);
      (async () => {
        let frame;
        for (let i = 0; i < 20; i++) frame = z.compress(workerData.data, 3);
        const back = await z.decompressAsync(frame, workerData.data.length);
        parentPort.postMessage({ frame, ok: Buffer.compare(back, workerData.data) === 0 });
      })();
    `;
    const run = (): Promise<{ frame: Uint8Array; ok: boolean }> =>
      new Promise((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { file, data } });
        worker.once('message', (m) => void worker.terminate().then(() => resolve(m as { frame: Uint8Array; ok: boolean })));
        worker.once('error', reject);
      });
    const results = await Promise.all([run(), run()]);
    const want = z.compress(data, 3);
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(same(r.frame, want)).toBe(true);
    }
    expect(same(z.decompress(want, data.length), data)).toBe(true);
  });
});
