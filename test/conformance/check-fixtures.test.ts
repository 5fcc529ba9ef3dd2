/**
 * restic-ts check on restic's own fixture repositories (../shared/restic-testdata/repos):
 * the same verdict as restic 0.14's check (exit code zero or not) and the same lines —
 * hints on stdout, errors on stderr — apart from restic's progress bars and its temporary
 * cache line. restic prints hints in Go map order, so lines are compared sorted.
 *
 * Fails (does not skip) when CI is set and the fixtures are missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { expectFixturesInCi, FIXTURE_REPOS, extractFixtureCheap, FIXTURE_PASSWORD, runFixtureTests } from '../support/fixtures.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-check-fixtures-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path, FIXTURE_PASSWORD);

/** Lines without restic's progress bars, cache notice and blank lines; sorted. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\[\d+:\d+\]/.test(l) && !l.startsWith('using temporary cache'))
    .sort();
}

describe('check on restic fixture repositories', () => {
  it('has the fixtures (required in CI)', () => {
    expectFixturesInCi();
  });

  it.runIf(runFixtureTests).each(FIXTURE_REPOS)('%s: same verdict and lines as restic 0.14', async (name) => {
    const repo = await extractFixtureCheap(name, tmp.path);
    const theirs = restic(['check', '--no-lock'], { repo, password: FIXTURE_PASSWORD, check: false });
    const mine = await ours(['-r', repo, '--password-file', pw, '--no-lock', 'check']);
    expect(mine.code === 0, mine.stdout + mine.stderr).toBe(theirs.code === 0);
    expect(lines(mine.stdout)).toEqual(lines(theirs.stdout));
    expect(lines(mine.stderr)).toEqual(lines(theirs.stderr));
  });
});
