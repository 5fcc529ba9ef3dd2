/**
 * repair index / rebuild-index against restic 0.14:
 * - all index files deleted: after restic-ts repair index, restic check --read-data passes
 *   and the snapshot restores; the new index lists exactly the packs restic's rebuild-index lists;
 * - an obsolete index next to its replacement (restic's repo-obsolete-index situation, made
 *   here by writing a second copy of the index): afterwards no pack is in several indexes;
 * - a pack whose index entry is wrong (size mismatch) has its header read;
 * - --read-all-packs ignores the old index.
 */
import { cpSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { encodeIndexFile, parseIndexFile } from '../../src/index/index-file.js';
import { repairIndex } from '../../src/maintenance/repair-index.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { repoWithBackups, seededBytes } from '../support/source-tree.js';
import { passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-repair-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const base = join(tmp.path, 'base');

beforeAll(async () => {
  const src = join(tmp.path, 'src');
  mkdirSync(src);
  // three backups, each adding one file
  const steps = [0, 1, 2].map((i) => ({ before: () => writeFileSync(join(src, `f${i}.bin`), seededBytes(i + 1, 400_000)) }));
  await repoWithBackups(base, src, steps);
});

let n = 0;
function copy(): string {
  const dest = join(tmp.path, `copy-${n++}`);
  cpSync(base, dest, { recursive: true });
  return dest;
}

async function indexedPacks(repo: string): Promise<{ packs: string[]; files: number; duplicates: number }> {
  const r = await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD });
  const seen = new Map<string, number>();
  const files = await r.listIds('index');
  for (const f of files) {
    for (const p of parseIndexFile(await r.loadUnpacked('index', f), f).packs) seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
  }
  return { packs: [...seen.keys()].sort(), files: files.length, duplicates: [...seen.values()].filter((c) => c > 1).length };
}

describe('repair index with restic', () => {
  it('rebuilds a deleted index from the pack headers; restic check --read-data passes; same packs as restic rebuild-index', async () => {
    const repo = copy();
    const theirs = copy();
    for (const r of [repo, theirs]) for (const f of readdirSync(join(r, 'index'))) unlinkSync(join(r, 'index', f));
    const mine = await ours(['-r', repo, '--password-file', pw, 'repair', 'index']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toContain('reading pack files');
    restic(['rebuild-index'], { repo: theirs });
    const check = restic(['check', '--read-data'], { repo, check: false });
    expect(check.code, check.stderr).toBe(0);
    expect((await indexedPacks(repo)).packs).toEqual((await indexedPacks(theirs)).packs);
    const target = join(tmp.path, 'restore');
    restic(['restore', '-q', 'latest', '--target', target], { repo });
    expect(readdirSync(join(target, tmp.path, 'src')).sort()).toEqual(['f0.bin', 'f1.bin', 'f2.bin']);
    expect(readdirSync(join(repo, 'locks'))).toEqual([]);
  });

  it('merges a duplicated (obsolete) index: no pack stays in several indexes; restic check finds no hint', async () => {
    const repo = copy();
    const r = await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD });
    const [first] = await r.listIds('index');
    const content = parseIndexFile(await r.loadUnpacked('index', first), first);
    await r.saveUnpacked('index', encodeIndexFile(content.packs));
    expect((await indexedPacks(repo)).duplicates).toBeGreaterThan(0);
    expect(restic(['check'], { repo }).stdout).toContain('contained in several indexes');
    const mine = await ours(['-r', repo, '--password-file', pw, 'rebuild-index']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).not.toContain('reading pack files');
    const after = await indexedPacks(repo);
    expect(after.duplicates).toBe(0);
    expect(after.files).toBe(1);
    const check = restic(['check', '--read-data'], { repo });
    expect(check.stdout).not.toContain('several indexes');
  });

  it('reads the header of a pack whose index entry does not match; --read-all-packs reads every header', async () => {
    const repo = copy();
    const r = await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD });
    const [first] = await r.listIds('index');
    const content = parseIndexFile(await r.loadUnpacked('index', first), first);
    const pack = content.packs.find((p) => p.blobs.length > 1)!;
    pack.blobs = pack.blobs.slice(1);
    await r.saveUnpacked('index', encodeIndexFile(content.packs));
    unlinkSync(join(repo, 'index', first));
    expect(restic(['check'], { repo, check: false }).code).not.toBe(0);
    const read: string[] = [];
    const result = await repairIndex(await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD }), {
      onProgress: (e) => {
        if (e.kind === 'pack-read') read.push(e.packId);
      },
    });
    expect(read).toEqual([pack.id]);
    expect(result.damagedPacks).toEqual([]);
    expect(restic(['check', '--read-data'], { repo, check: false }).code).toBe(0);
    const all = await repairIndex(await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD }), { readAllPacks: true });
    expect(all.packsRead).toBe(all.packs);
    expect(restic(['check', '--read-data'], { repo, check: false }).code).toBe(0);
  });

  it('unknown subcommands are usage errors', async () => {
    expect((await ours(['-r', base, '--password-file', pw, 'repair', 'nope'])).code).toBe(24);
    expect((await ours(['-r', base, '--password-file', pw, 'repair', 'index', 'extra'])).code).toBe(24);
  });
});
