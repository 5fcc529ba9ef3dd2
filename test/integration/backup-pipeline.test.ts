/**
 * The backup pipeline under load, checked by the real restic 0.14: several multi-chunk files
 * cut at once (two large files in flight, chunk buffers recycled between them), hashed and
 * sealed in worker threads, packs filled past 16 MiB several times (pack buffers reused), the
 * compressibility samples of `auto` on incompressible, compressible and mixed data, and small
 * files read by the workers. restic must accept every byte (`check --read-data`), restore the
 * same files, and find nothing new to store when it backs up the same tree itself.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { blobIds, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { compressibleText, seededBytes } from '../support/source-tree.js';

const env = { RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };
const MiB = 1024 * 1024;

function digestTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(abs).isDirectory()) walk(abs, r);
      else out[r] = createHash('sha256').update(readFileSync(abs)).digest('hex');
    }
  };
  walk(root, '');
  return out;
}


describe('backup pipeline (large and small files at once) against restic 0.14', () => {
  const dir = tempDir('restic-ts-pipeline-');
  const src = path.join(dir.path, 'src');
  const repo = path.join(dir.path, 'repo');

  beforeAll(() => {
    mkdirSync(path.join(src, 'many'), { recursive: true });
    writeFileSync(path.join(src, 'random-a.bin'), seededBytes(1, 14 * MiB + 123));
    writeFileSync(path.join(src, 'random-b.bin'), seededBytes(2, 11 * MiB + 7));
    writeFileSync(path.join(src, 'text.log'), compressibleText(9 * MiB, 3));
    // incompressible but for a compressible stretch in the middle of some chunks
    const mixed = seededBytes(4, 6 * MiB);
    mixed.fill(0x2a, 2 * MiB, 3 * MiB);
    writeFileSync(path.join(src, 'mixed.bin'), mixed);
    for (let i = 0; i < 300; i++) {
      writeFileSync(path.join(src, 'many', `f${i}`), i % 3 === 0 ? compressibleText(500 + i * 37, i) : seededBytes(100 + i, 300 + i * 61));
    }
    writeFileSync(path.join(src, 'many', 'dup-a'), 'same content\n');
    writeFileSync(path.join(src, 'many', 'dup-b'), 'same content\n');
    restic(['init'], { repo });
  });
  afterAll(() => dir.cleanup());

  it('restic checks every byte, restores the same files, and dedups all of it', async () => {
    const r = await ours(['-r', repo, 'backup', '--json', src], env);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { files_new: number; data_blobs: number };
    expect(summary.files_new).toBe(306);
    // several packs of 16 MiB: pack buffers were reused
    expect(readdirSync(path.join(repo, 'data')).flatMap((d) => readdirSync(path.join(repo, 'data', d))).length).toBeGreaterThanOrEqual(3);

    restic(['check', '--read-data'], { repo });
    const target = path.join(dir.path, 'restored');
    restic(['restore', 'latest', '--target', target], { repo });
    expect(digestTree(path.join(target, src))).toEqual(digestTree(src));

    const before = blobIds(repo, 'data');
    restic(['backup', '--force', src], { repo });
    expect(blobIds(repo, 'data')).toEqual(before);
  });
});
