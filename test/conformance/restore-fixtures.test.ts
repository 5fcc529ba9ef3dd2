/**
 * restic's own repository fixtures (2015–2021 formats): for each healthy one, `restore latest`
 * by restic-ts gives the same tree as `restic restore` (content, modes, owners, symlink
 * targets, times to the ns, hard links), and `ls --json latest` prints what restic prints.
 *
 * The fixtures live in ../shared/restic-testdata (present in CI); the test fails rather than
 * skips when CI is set and they are missing.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { expectFixturesInCi, extractFixtureCheap, FIXTURE_PASSWORD, runFixtureTests } from '../support/fixtures.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';
import { describeTree } from '../support/tree-snapshot.js';

process.env.TZ = 'UTC';

/** Fixtures restic 0.14 restores without errors (the others are damaged on purpose). */
const REPOS = [
  'small-repo',
  'repo-layout-default',
  'repo-same-timestamps',
  'repo-restore-permissions-test',
  'repo-mixed',
  'repo-obsolete-index',
  'repo-unreferenced-data',
  'repo-unused-data-missing',
  'repo-duplicates',
  'repo-index-missing',
  'copy-unstable-json',
];

const tmp = tempDir('restic-ts-restore-fixtures-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path, FIXTURE_PASSWORD);


describe('restore of restic test fixtures', () => {
  it('are present (required in CI)', () => {
    expectFixturesInCi();
  });

  for (const name of REPOS) {
    it.runIf(runFixtureTests)(`${name}: restore latest and ls --json equal restic`, async () => {
      const repo = await extractFixtureCheap(name, tmp.path);
      const theirs = (...args: string[]) => restic(['--no-lock', ...args], { repo, password: FIXTURE_PASSWORD });
      const args = (...rest: string[]) => ['--no-lock', '-r', repo, '--password-file', pw, ...rest];

      const ls = await ours(args('ls', '--json', 'latest'));
      expect(ls.stderr).toBe('');
      expect(ls.stdout.split('\n')).toEqual(theirs('ls', '--json', 'latest').stdout.split('\n'));

      const mine = join(tmp.path, `${name}-ours`);
      const them = join(tmp.path, `${name}-theirs`);
      const r = await ours(args('restore', 'latest', '--target', mine));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      theirs('restore', 'latest', '--target', them);
      expect(describeTree(mine)).toEqual(describeTree(them));
    });
  }
});
