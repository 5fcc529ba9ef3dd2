/**
 * Snapshot arguments of `snapshots`, `stats` and `tag` (restic's FindFilteredSnapshots, shared
 * by them as resolveSnapshotArguments): an ID that does not resolve is warned about and skipped,
 * `latest` honours --host, a filter beside explicit IDs is ignored with a warning, a repeated ID
 * counts once — each compared with what restic 0.14 prints.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';
import { repoWithBackups } from '../support/source-tree.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-snapshot-args-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const repo = join(tmp.path, 'repo');
let ids: string[] = [];

beforeAll(async () => {
  const src = join(tmp.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'data\n');
  await repoWithBackups(repo, src, [
    { args: ['--host', 'h1', '--time', '2024-01-01 10:00:00'] },
    { args: ['--host', 'h2', '--time', '2024-01-02 10:00:00'] },
  ]);
  ids = (JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string; time: string }[])
    .sort((a, b) => (a.time < b.time ? -1 : 1))
    .map((s) => s.id);
});

/** stderr lines without restic's cache notice. */
const warnings = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('using temporary cache'));

const CASES: string[][] = [
  ['snapshots', '--json', 'ffffffff', 'latest'],
  ['snapshots', '--json', '--host', 'h1', 'latest'],
  ['snapshots', '--json', '--host', 'h1', 'FIRST'],
  ['snapshots', '--json', 'FIRST', 'FIRST', 'ffffffff'],
  ['stats', '--json', 'ffffffff', 'FIRST'],
  ['stats', '--json', '--host', 'h2', 'FIRST'],
  ['stats', '--json', '--host', 'h1', 'latest'],
];

describe('snapshot arguments like restic', () => {
  it.each(CASES.map((c) => [c.join(' '), c] as const))('%s', async (_name, template) => {
    const args = template.map((a) => (a === 'FIRST' ? ids[0].slice(0, 8) : a));
    const theirs = restic(['--no-cache', ...args], { repo, check: false });
    const mine = await ours(['-r', repo, '--password-file', pw, ...args]);
    expect(mine.code).toBe(theirs.code);
    expect(warnings(mine.stderr)).toEqual(warnings(theirs.stderr));
    if (args.includes('ffffffff')) expect(warnings(mine.stderr)).toContain('Ignoring "ffffffff": no matching ID found for prefix "ffffffff"');
    expect(JSON.parse(mine.stdout)).toEqual(JSON.parse(theirs.stdout));
  });

  it('tag: unresolved IDs are skipped with the same warning', async () => {
    const theirs = restic(['--no-cache', 'tag', '--add', 'x', 'ffffffff', '--host', 'h2', 'latest'], { repo, check: false });
    // restic changed one snapshot (h2's latest); ours now finds it already tagged and changes none,
    // but warns the same way
    const mine = await ours(['-r', repo, '--password-file', pw, 'tag', '--add', 'x', 'ffffffff', '--host', 'h2', 'latest']);
    expect(mine.code).toBe(theirs.code);
    expect(warnings(mine.stderr)).toEqual(warnings(theirs.stderr));
    expect(warnings(mine.stderr)).toContain('Ignoring "ffffffff": no matching ID found for prefix "ffffffff"');
  });
});
