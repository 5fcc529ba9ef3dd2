/**
 * repair snapshots (restic ≥ 0.16 semantics; restic 0.14 has no such command) on repositories
 * restic 0.14 wrote, then damaged:
 * - a lost data pack: after `repair index` and `repair snapshots --forget`, restic check passes,
 *   the damaged files restore empty, every other file restores byte-identical, the repaired
 *   snapshot carries `original`; without --forget the old snapshot stays and the new one is
 *   tagged `repaired`; --dry-run changes nothing;
 * - a lost tree pack (root tree unreadable): the snapshot is removed.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { seededBytes } from '../support/source-tree.js';
import { makeResticRepo, passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-repair-snapshots-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const base = join(tmp.path, 'base');
const src = join(tmp.path, 'src');

interface Sn {
  id: string;
  time: string;
  tree: string;
  tags?: string[];
  original?: string;
}
const snapshots = (repo: string): Sn[] => (JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as Sn[]).sort((a, b) => (a.time < b.time ? -1 : 1));

/** Pack files written by the second backup (data / tree), found by comparing listings. */
let secondData: string[] = [];
let secondTree: string[] = [];

async function packTypes(repo: string): Promise<Map<string, 'data' | 'tree'>> {
  const r = await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD });
  const index = await r.loadIndex();
  return new Map(index.packIds().map((p) => [p, index.blobsOfPack(p)[0].type]));
}

beforeAll(async () => {
  mkdirSync(join(src, 'keep'), { recursive: true });
  writeFileSync(join(src, 'keep', 'old.bin'), seededBytes(1, 300_000));
  await makeResticRepo(base);
  restic(['backup', '-q', '--time', '2024-01-01 10:00:00', src], { repo: base });
  const before = await packTypes(base);
  writeFileSync(join(src, 'new.bin'), seededBytes(2, 300_000));
  restic(['backup', '-q', '--time', '2024-01-02 10:00:00', src], { repo: base });
  const after = await packTypes(base);
  for (const [p, t] of after) if (!before.has(p)) (t === 'data' ? secondData : secondTree).push(p);
  expect(secondData.length).toBeGreaterThan(0);
  expect(secondTree.length).toBeGreaterThan(0);
});

let n = 0;
function damaged(packs: string[]): string {
  const repo = join(tmp.path, `copy-${n++}`);
  cpSync(base, repo, { recursive: true });
  for (const p of packs) unlinkSync(join(repo, 'data', p.slice(0, 2), p));
  return repo;
}

const run = async (repo: string, ...args: string[]) => {
  const r = await ours(['-r', repo, '--password-file', pw, ...args]);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};

describe('repair snapshots', () => {
  it('a lost data pack: files lose their content, everything else restores, restic check passes', async () => {
    const repo = damaged(secondData);
    await run(repo, 'repair', 'index');
    expect(restic(['check'], { repo, check: false }).code).not.toBe(0);
    const snapBefore = snapshots(repo);
    const files = () => readdirSync(join(repo, 'snapshots')).sort();
    const listing = files();
    const dry = await run(repo, 'repair', 'snapshots', '--dry-run');
    expect(dry.stdout).toContain(`file "${src}/new.bin": removed missing content`);
    expect(dry.stdout).toContain('would modify 1 snapshots');
    expect(files()).toEqual(listing);

    const r = await run(repo, 'repair', 'snapshots', '--forget');
    expect(r.stdout).toMatch(/removed missing content/);
    expect(r.stdout).toContain(`removed old snapshot ${snapBefore[1].id.slice(0, 8)}`);
    expect(r.stdout).toContain('modified 1 snapshots');
    const check = restic(['check', '--read-data'], { repo, check: false });
    expect(check.code, check.stderr).toBe(0);
    const after = snapshots(repo);
    expect(after).toHaveLength(2);
    expect(after[0].id).toBe(snapBefore[0].id);
    expect(after[1].original).toBe(snapBefore[1].id);
    expect(after[1].tags).toBeUndefined();
    const target = join(tmp.path, `restore-${n}`);
    restic(['restore', '-q', after[1].id, '--target', target], { repo });
    const restored = join(target, src);
    expect(statSync(join(restored, 'new.bin')).size).toBe(0);
    expect(readFileSync(join(restored, 'keep', 'old.bin')).equals(seededBytes(1, 300_000))).toBe(true);
    // nothing left to repair
    expect((await run(repo, 'repair', 'snapshots')).stdout).toContain('no snapshots were modified');
  });

  it('without --forget the damaged snapshot stays and the repaired one is tagged', async () => {
    const repo = damaged(secondData);
    await run(repo, 'repair', 'index');
    await run(repo, 'repair', 'snapshots');
    const after = snapshots(repo);
    expect(after).toHaveLength(3);
    expect(after.filter((s) => s.tags?.includes('repaired'))).toHaveLength(1);
  });

  it('a lost tree pack: the snapshot whose root tree is gone is removed', async () => {
    const repo = damaged(secondTree);
    await run(repo, 'repair', 'index');
    const r = await run(repo, 'repair', 'snapshots', '--forget');
    expect(r.stdout).toContain('dir "/": not readable');
    expect(r.stdout).toMatch(/removed empty snapshot [0-9a-f]{8}/);
    expect(snapshots(repo)).toHaveLength(1);
    // the pack of the second backup's data is now unreferenced: a hint, not an error
    const check = restic(['check'], { repo, check: false });
    expect(check.code, check.stderr).toBe(0);
  });
});
