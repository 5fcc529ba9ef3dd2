/**
 * Cross-test with the real restic binary: restic backs up a few files into a fresh repository
 * (fresh random polynomial each time); our chunker, given that repository's polynomial, must
 * cut every file into exactly the blobs restic stored (same SHA-256 IDs, same order).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkStream } from '../../src/chunker/stream.js';
import { chunkBuffer } from '../../src/chunker/chunker.js';
import { parsePolynomial, polDeg } from '../../src/chunker/polynomial.js';
import { makeResticRepo, requireRestic, restic, tempDir } from '../support/restic.js';

const MiB = 1024 * 1024;

interface TreeNode {
  name: string;
  type: string;
  subtree?: string;
  content?: string[] | null;
}

function catJson<T>(repo: string, args: string[]): T {
  return JSON.parse(restic(['cat', ...args], { repo }).stdout) as T;
}

/** restic's content list for each regular file directly inside `dir` of the latest snapshot. */
function resticContents(repo: string, dir: string): Map<string, string[]> {
  const snaps = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string }[];
  expect(snaps).toHaveLength(1);
  const snap = catJson<{ tree: string }>(repo, ['snapshot', snaps[0].id]);
  let tree = snap.tree;
  for (const part of resolve(dir).split(sep).filter((p) => p !== '')) {
    const nodes = catJson<{ nodes: TreeNode[] }>(repo, ['blob', tree]).nodes;
    const next = nodes.find((n) => n.name === part && n.type === 'dir');
    if (!next?.subtree) throw new Error(`directory ${part} not found in tree ${tree}`);
    tree = next.subtree;
  }
  const out = new Map<string, string[]>();
  for (const n of catJson<{ nodes: TreeNode[] }>(repo, ['blob', tree]).nodes) {
    if (n.type === 'file') out.set(n.name, n.content ?? []);
  }
  return out;
}

async function ourContent(path: string, pol: bigint, highWaterMark: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const chunk of chunkStream(createReadStream(path, { highWaterMark }), pol)) {
    ids.push(createHash('sha256').update(chunk).digest('hex'));
  }
  return ids;
}

describe('chunker matches restic 0.14 on real backups', () => {
  let work: { path: string; cleanup: () => void };
  const files: Record<string, Uint8Array> = {};

  beforeAll(() => {
    requireRestic();
    work = tempDir('restic-ts-chunker-');
    const src = join(work.path, 'src');
    mkdirSync(src);
    const lines: string[] = [];
    for (let i = 0, size = 0; size < 3 * MiB; i++) {
      const line = `line ${i}: the quick brown fox ${i % 97} jumps over ${(i * 7919) % 1000}\n`;
      lines.push(line);
      size += line.length;
    }
    files['random-20m'] = randomBytes(20 * MiB);
    files['text-3m'] = Buffer.from(lines.join('').slice(0, 3 * MiB));
    files['random-100k'] = randomBytes(100 * 1024);
    files['empty'] = new Uint8Array(0);
    files['zeros-2m'] = new Uint8Array(2 * MiB);
    files['ff-9m'] = new Uint8Array(9 * MiB).fill(0xff);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data);
  });

  afterAll(() => work?.cleanup());

  it.each([1, 2])('repository %i: every file cuts into the blobs restic stored', async (n) => {
    const repo = join(work.path, `repo${n}`);
    const src = join(work.path, 'src');
    await makeResticRepo(repo);
    const config = catJson<{ chunker_polynomial: string }>(repo, ['config']);
    const pol = parsePolynomial(config.chunker_polynomial, { file: 'config' });
    expect(polDeg(pol)).toBe(53);
    restic(['backup', src], { repo });
    const contents = resticContents(repo, src);
    expect([...contents.keys()].sort()).toEqual(Object.keys(files).sort());

    for (const [name, data] of Object.entries(files)) {
      const want = contents.get(name);
      // Streaming from disk, with read sizes that do not line up with restic's 512 KiB.
      expect(await ourContent(join(src, name), pol, 64 * 1024 + 7), `${name} (stream)`).toEqual(want);
      // In memory.
      const inMemory = chunkBuffer(data, pol).map((c) =>
        createHash('sha256').update(data.subarray(c.offset, c.offset + c.length)).digest('hex'),
      );
      expect(inMemory, `${name} (buffer)`).toEqual(want);
    }
    // The random file must exercise real content-defined cuts, not just the size limits.
    expect(contents.get('random-20m')!.length).toBeGreaterThan(5);
    expect(contents.get('empty')).toEqual([]);
  });
});
