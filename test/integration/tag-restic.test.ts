/**
 * tag --add/--remove/--set against restic 0.14: the same sequence of tag commands on two
 * copies of a repository (one by restic, one by restic-ts) gives the same tags and `original`
 * on every snapshot (`restic snapshots --json`), the same "modified" counts, and restic check
 * passes on ours. Plus restic's change rules (applyTagChange) and bad input.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTagChange } from '../../src/maintenance/tag.js';
import { ours } from '../support/cli.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';
import { repoWithBackups } from '../support/source-tree.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-tag-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const base = join(tmp.path, 'base');

beforeAll(async () => {
  const src = join(tmp.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'data\n');
  await repoWithBackups(base, src, [
    { args: ['--host', 'h1', '--tag', 'start', '--time', '2024-01-01 10:00:00'] },
    { args: ['--host', 'h2', '--time', '2024-01-02 10:00:00'] },
    { args: ['--host', 'h1', '--time', '2024-01-03 10:00:00'] },
  ]);
});

interface Sn {
  time: string;
  hostname: string;
  tags?: string[];
  original?: string;
}

/** Snapshots by time: tags and original (IDs differ between the copies: random IVs). */
function state(repo: string): { time: string; tags?: string[]; original?: string }[] {
  const list = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as Sn[];
  return list.map((s) => ({ time: s.time, tags: s.tags, original: s.original })).sort((a, b) => (a.time < b.time ? -1 : 1));
}

const STEPS: string[][] = [
  ['--add', 'a,b', '--add', 'c'],
  ['--remove', 'b', '--host', 'h1'],
  ['--add', 'a'],
  ['--set', 'x', '--set', 'y,z', 'latest'],
  ['--remove', 'start', '--tag', 'start'],
  ['--set', '', '--host', 'h2'],
];

describe('tag against restic', () => {
  it('the same commands give the same tags and original as restic; restic check passes', async () => {
    const theirsRepo = join(tmp.path, 'theirs');
    const oursRepo = join(tmp.path, 'ours');
    cpSync(base, theirsRepo, { recursive: true });
    cpSync(base, oursRepo, { recursive: true });
    for (const step of STEPS) {
      const theirs = restic(['tag', ...step], { repo: theirsRepo });
      const mine = await ours(['-r', oursRepo, '--password-file', pw, 'tag', ...step]);
      expect(mine.code, `${step.join(' ')}: ${mine.stderr}`).toBe(0);
      expect(mine.stdout, step.join(' ')).toBe(theirs.stdout);
      expect(state(oursRepo), step.join(' ')).toEqual(state(theirsRepo));
    }
    // original points at the first ID each snapshot had
    const firstIds = new Set(readdirSync(join(base, 'snapshots')));
    for (const s of state(oursRepo)) if (s.original) expect(firstIds.has(s.original)).toBe(true);
    expect(restic(['check'], { repo: oursRepo, check: false }).code).toBe(0);
    expect(readdirSync(join(oursRepo, 'snapshots'))).toHaveLength(3);
    expect(readdirSync(join(oursRepo, 'locks'))).toEqual([]);
  });

  it('refuses --set with --add, and no change at all, like restic', async () => {
    for (const args of [['--set', 'a', '--add', 'b'], []]) {
      const theirs = restic(['tag', ...args], { repo: base, check: false });
      const mine = await ours(['-r', base, '--password-file', pw, 'tag', ...args]);
      expect(mine.code).toBe(24);
      expect(theirs.code).not.toBe(0);
      expect(mine.stderr).toBe(theirs.stderr);
    }
  });
});

describe('applyTagChange (restic changeTags)', () => {
  it('adds once, removes like restic, set replaces and always counts as a change', () => {
    expect(applyTagChange(['a'], { add: ['a'] })).toBeUndefined();
    expect(applyTagChange(['a'], { add: ['b', 'a', 'b'] })).toEqual(['a', 'b']);
    // first occurrence only, replaced by the last tag (Go slice trick in restic's RemoveTags)
    expect(applyTagChange(['a', 'b', 'a'], { remove: ['a'] })).toEqual(['a', 'b']);
    expect(applyTagChange(['s', 'a', 'c'], { remove: ['s'] })).toEqual(['c', 'a']);
    expect(applyTagChange(undefined, { remove: ['a'] })).toBeUndefined();
    expect(applyTagChange(['x'], { set: ['x'] })).toEqual(['x']);
    expect(applyTagChange(['x'], { set: [''] })).toEqual([]);
    expect(() => applyTagChange([], { set: ['x'], add: ['y'] })).toThrow(/cannot be given at the same time/);
  });
});
