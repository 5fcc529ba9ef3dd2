/**
 * restic-ts prune on restic's own fixture repositories (version 1):
 * - where used data is missing (repo-data-missing, repo-index-missing, repo-index-missing-blob)
 *   prune refuses, as restic 0.14 does, and leaves every file as it was;
 * - the others (duplicates, a mixed pack, an obsolete index, an unreferenced pack, a missing
 *   unused pack) are pruned and `restic check --read-data` passes afterwards.
 * The statistics block of `prune --dry-run -v` must equal restic 0.14's line for line
 * (progress bars aside).
 *
 * The fixtures live in ../shared/restic-testdata; the test fails rather than skips when CI is
 * set and they are missing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { expectFixturesInCi, extractFixtureCheap, FIXTURE_PASSWORD, runFixtureTests } from '../support/fixtures.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-prune-fixtures-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path, FIXTURE_PASSWORD);

/** path → sha256 of every file except locks. */
function snapshotFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (relative(root, p) !== 'locks') walk(p);
      } else {
        out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
      }
    }
  };
  walk(root);
  return out;
}

const resticEnv = { RESTIC_PASSWORD: FIXTURE_PASSWORD };

/** Drops restic's progress-bar lines, which we do not print when not on a terminal. */
function withoutProgress(text: string): string[] {
  return text.split('\n').filter((l) => !/^\[\d+:\d+\]/.test(l));
}

/**
 * The statistics block from the first "used:" line, with the "Would have …" pack lists. Which
 * copy of a duplicated blob restic keeps depends on Go's map order (random from run to run),
 * so for repo-duplicates only the statistics are compared, not the pack IDs.
 */
function statsBlock(text: string, withPackLists: boolean): string[] {
  const lines = withoutProgress(text);
  const start = lines.findIndex((l) => l.startsWith('used:'));
  if (start < 0) return [];
  const block = lines.slice(start);
  if (withPackLists) return block;
  const end = block.findIndex((l) => l.startsWith('Would have'));
  return end < 0 ? block : block.slice(0, end);
}

describe('prune on restic fixture repositories', () => {
  it('fixtures are present (required in CI)', () => {
    expectFixturesInCi();
  });

  const REFUSED: [string, RegExp, string][] = [
    ['repo-data-missing', /packs from index missing in repo/, 'FILE_NOT_FOUND'],
    ['repo-index-missing', /unable to load a tree from the repository: tree c5897731\S* not found in repository/, 'BLOB_NOT_FOUND'],
    ['repo-index-missing-blob', /\{<data\/f2ca1bb6>\} not found in the index[\s\S]*Data seems to be missing[\s\S]*index is not complete/, 'BLOB_NOT_FOUND'],
  ];
  for (const [name, message] of REFUSED) {
    it.runIf(runFixtureTests)(`${name}: refuses like restic and changes nothing`, async () => {
      const repo = await extractFixtureCheap(name, tmp.path);
      const before = snapshotFiles(repo);
      const theirs = restic(['prune', '--dry-run'], { repo: await extractFixtureCheap(name, tmp.path), env: resticEnv, check: false });
      expect(theirs.code).not.toBe(0);
      const r = await ours(['-r', repo, '--password-file', pw, 'prune']);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(snapshotFiles(repo)).toEqual(before);
      // a dry run refuses the same way
      const dry = await ours(['-r', repo, '--password-file', pw, 'prune', '--dry-run']);
      expect(dry.code).toBe(r.code);
      expect(snapshotFiles(repo)).toEqual(before);
    });
  }

  const REPAIRED = ['repo-duplicates', 'repo-mixed', 'repo-obsolete-index', 'repo-unreferenced-data', 'repo-unused-data-missing'];
  for (const name of REPAIRED) {
    it.runIf(runFixtureTests)(`${name}: same plan as restic 0.14, and restic check --read-data passes after our prune`, async () => {
      const theirs = restic(['prune', '--dry-run', '-v', '-v'], { repo: await extractFixtureCheap(name, tmp.path), env: resticEnv });
      const repo = await extractFixtureCheap(name, tmp.path);
      const dry = await ours(['-r', repo, '--password-file', pw, 'prune', '--dry-run', '-v']);
      expect(dry.code, dry.stderr).toBe(0);
      const withPackLists = name !== 'repo-duplicates';
      const expected = statsBlock(theirs.stdout, withPackLists);
      expect(expected.length).toBeGreaterThan(10);
      expect(statsBlock(dry.stdout, withPackLists)).toEqual(expected);

      const r = await ours(['-r', repo, '--password-file', pw, 'prune']);
      expect(r.code, r.stderr).toBe(0);
      const check = restic(['check', '--read-data'], { repo, env: resticEnv, check: false });
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain('no errors were found');
      // A second prune finds nothing left to do.
      const again = await ours(['-r', repo, '--password-file', pw, 'prune', '--dry-run']);
      expect(again.stdout).toContain('total prune:           0 blobs / 0 B');
      // and restic agrees the repository needs nothing more
      const theirsAfter = restic(['prune', '--dry-run'], { repo, env: resticEnv });
      expect(theirsAfter.stdout).toContain('total prune:           0 blobs / 0 B');
    });
  }
});
