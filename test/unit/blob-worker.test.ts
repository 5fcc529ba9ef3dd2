import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompress } from '../../src/compression/index.js';
import { generateMasterKey, open, sha256 } from '../../src/crypto/index.js';
import { idFromBytes } from '../../src/format/id.js';
import { BlobWorkerPool, prestartBlobWorkers } from '../../src/repository/blob-worker.js';

describe('blob worker pool', () => {
  const key = generateMasterKey();
  let dir: string;
  let pool: BlobWorkerPool;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rts-blobworker-'));
    prestartBlobWorkers(1);
    pool = new BlobWorkerPool(key, 1);
    expect(pool.warm).toBe(true);
    expect(await pool.waitReady()).toBe(true);
  });
  afterAll(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads, hashes, compresses and seals small files in a worker (batched), reporting growth and errors', async () => {
    const text = Buffer.from('hello, hello, hello, hello, hello\n'.repeat(100));
    const random = sha256(Buffer.from('seed'));
    writeFileSync(path.join(dir, 'text'), text);
    writeFileSync(path.join(dir, 'random'), random);
    writeFileSync(path.join(dir, 'grown'), Buffer.alloc(100, 1));
    const p = (name: string) => Buffer.from(path.join(dir, name));
    const [t, r, grown, missing] = await Promise.all([
      pool.sealFile(p('text'), text.length, 'auto'),
      pool.sealFile(p('random'), random.length, 'auto'),
      pool.sealFile(p('grown'), 50, 'auto'), // lstat said 50 bytes: it grew since
      pool.sealFile(p('missing'), 10, 'auto'),
    ]);
    expect(t.kind).toBe('sealed');
    if (t.kind !== 'sealed') return;
    expect(t.id).toBe(idFromBytes(sha256(text)));
    expect(t.compressed).toBe(true);
    expect(Buffer.from(await decompress(open(key, t.sealed, 'text'), text.length)).equals(text)).toBe(true);
    expect(r.kind).toBe('sealed');
    if (r.kind !== 'sealed') return;
    expect(r.compressed).toBe(false); // incompressible: stored as it is
    expect(Buffer.from(open(key, r.sealed, 'random')).equals(Buffer.from(random))).toBe(true);
    expect(grown).toEqual({ kind: 'grew' });
    expect(missing.kind).toBe('error');
    if (missing.kind === 'error') {
      expect(missing.error.code).toBe('ENOENT');
      expect(missing.error.syscall).toBe('open');
      expect(missing.error.message).toMatch(/missing/);
    }
  });

  it('grows to its maximum once data blobs compress (not for incompressible data or tree blobs)', async () => {
    const growing = new BlobWorkerPool(key, 1, 2);
    const stays = new BlobWorkerPool(key, 1, 2);
    try {
      const text = Buffer.from('compressible text, compressible text\n'.repeat(20_000)); // ~740 KiB
      const noise = Buffer.concat(Array.from({ length: 40_000 }, (_, i) => sha256(Buffer.from(`n${i}`)))); // 1.25 MiB
      // Incompressible data and always-compressed tree blobs say nothing about the data.
      expect((await stays.seal(noise, 'auto', 'data')).compressed).toBe(false);
      expect((await stays.seal(text, 'auto', 'tree')).compressed).toBe(true);
      expect((await stays.seal(text, 'auto', 'tree')).compressed).toBe(true);
      // Compressed data: the second worker starts after 1 MiB and takes work once loaded.
      expect((await growing.seal(text, 'auto', 'data')).compressed).toBe(true);
      expect(growing.size).toBe(1);
      expect((await growing.seal(text, 'auto', 'data')).compressed).toBe(true);
      for (let i = 0; i < 200 && growing.size < 2; i++) await new Promise((r) => setTimeout(r, 25));
      expect(growing.size).toBe(2);
      const results = await Promise.all(Array.from({ length: 6 }, () => growing.seal(text, 'auto', 'data')));
      for (const r of results) expect(Buffer.from(await decompress(open(key, r.sealed, 'text'), text.length)).equals(text)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(stays.size).toBe(1);
    } finally {
      await growing.close();
      await stays.close();
    }
  });

  it('leaves a caller\'s Buffer usable when sealing it without giving it up', async () => {
    const big = Buffer.from('a Buffer, not a plain Uint8Array\n'.repeat(10_000)); // > the batch limit
    const copy = Buffer.from(big);
    const r = await pool.seal(big, 'auto', 'data');
    expect(big.length).toBe(copy.length);
    expect(big.equals(copy)).toBe(true);
    expect(Buffer.from(await decompress(open(key, r.sealed, 'big'), copy.length)).equals(copy)).toBe(true);
  });

  it('closing the pool fails what is still queued or out instead of leaving it waiting', async () => {
    const other = new BlobWorkerPool(key, 1);
    const queued = other.seal(Buffer.from('queued for the next batch'), null, 'data');
    const file = other.sealFile(Buffer.from(path.join(dir, 'text')), 10, 'auto');
    await other.close();
    await expect(queued).rejects.toThrow(/closed/);
    await expect(file).rejects.toThrow(/closed/);
    await expect(other.seal(Buffer.from('later'), null, 'data')).rejects.toThrow(/closed/);
  });

  it('seals many small blobs in batches; the caller keeps its buffers', async () => {
    const blobs = Array.from({ length: 200 }, (_, i) => Buffer.from(`blob ${i} `.repeat(i + 1)));
    const sealed = await Promise.all(blobs.map((b) => pool.seal(b, null, 'data', true)));
    for (let i = 0; i < blobs.length; i++) {
      expect(blobs[i].length).toBeGreaterThan(0); // not transferred away
      expect(Buffer.from(open(key, sealed[i].sealed, `blob ${i}`)).equals(blobs[i])).toBe(true);
    }
  });
});
