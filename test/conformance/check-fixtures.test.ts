/**
 * restic-ts check on restic's own fixture repositories (../shared/restic-testdata/repos):
 * the same verdict as restic 0.14's check (exit code zero or not) and the same lines —
 * hints on stdout, errors on stderr — apart from restic's progress bars and its temporary
 * cache line. restic prints hints in Go map order, so lines are compared sorted.
 *
 * Fails (does not skip) when CI is set and the fixtures are missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const projectRoot = resolve(import.meta.dirname, '..', '..');
const reposDir = join(resolve(projectRoot, '..', 'shared'), 'restic-testdata', 'repos');
const present = existsSync(reposDir);

const FIXTURES = [
  'copy-unstable-json',
  'duplicate-packs-in-index-test-repo',
  'repo-data-missing',
  'repo-duplicates',
  'repo-index-missing-blob',
  'repo-index-missing',
  'repo-layout-default',
  'repo-mixed',
  'repo-obsolete-index',
  'repo-restore-permissions-test',
  'repo-same-timestamps',
  'repo-unreferenced-data',
  'repo-unused-data-missing',
  'small-repo',
];

const tmp = tempDir('restic-ts-check-fixtures-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path, 'geheim');

function extract(name: string): string {
  const dest = join(tmp.path, name);
  mkdirSync(dest, { recursive: true });
  const t = spawnSync('tar', ['xzf', join(reposDir, `${name}.tar.gz`), '-C', dest]);
  if (t.status !== 0) throw new Error(`tar failed for ${name}: ${t.stderr.toString()}`);
  return join(dest, 'repo');
}

/** Lines without restic's progress bars, cache notice and blank lines; sorted. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\[\d+:\d+\]/.test(l) && !l.startsWith('using temporary cache'))
    .sort();
}

describe('check on restic fixture repositories', () => {
  it('has the fixtures (required in CI)', () => {
    if (process.env.CI) expect(present, `${reposDir} is missing`).toBe(true);
  });

  it.skipIf(!present && !process.env.CI).each(FIXTURES)('%s: same verdict and lines as restic 0.14', async (name) => {
    const repo = extract(name);
    const theirs = restic(['check', '--no-lock'], { repo, password: 'geheim', check: false });
    const mine = await ours(['-r', repo, '--password-file', pw, '--no-lock', 'check']);
    expect(mine.code === 0, mine.stdout + mine.stderr).toBe(theirs.code === 0);
    expect(lines(mine.stdout)).toEqual(lines(theirs.stdout));
    expect(lines(mine.stderr)).toEqual(lines(theirs.stderr));
  });
});
