/**
 * restic's own fixture repositories (restic-testdata/repos/*.tar.gz in ../shared, relative to
 * the project root). In CI they are always there, so a conformance test must fail, not skip,
 * when CI is set and they are missing; elsewhere it skips.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { cheapenKeys } from './restic.js';

const projectRoot = resolve(import.meta.dirname, '..', '..');

/** The folder of restic's test data (fixture repos, golden files). */
export const testdataDir = join(resolve(projectRoot, '..', 'shared'), 'restic-testdata');
export const fixtureReposDir = join(testdataDir, 'repos');
export const fixturesPresent = existsSync(fixtureReposDir);
/** Run fixture tests when the fixtures are there, and in CI always (where a missing folder fails them). */
export const runFixtureTests = fixturesPresent || Boolean(process.env.CI);
/** The password of every fixture repository. */
export const FIXTURE_PASSWORD = 'geheim';

/**
 * Every fixture tarball that holds a repository (`repo/` inside; backup-data and test.hl are
 * source trees), damaged ones included: restic 0.14 opens and lists all of them.
 */
export const FIXTURE_REPOS = [
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
] as const;

/** Body of the "fixtures are present" test: fails in CI when they are missing. */
export function expectFixturesInCi(): void {
  if (process.env.CI) expect(fixturesPresent, `${fixtureReposDir} is missing`).toBe(true);
}

let extracted = 0;

/**
 * Unpacks `<name>.tar.gz` into a fresh folder below `parent` and returns the repository path
 * (`<folder>/repo`). Each call makes a new copy, so a test may damage or prune it.
 */
export function extractFixture(name: string, parent: string): string {
  const dest = join(parent, `${name}-${extracted++}`);
  mkdirSync(dest, { recursive: true });
  const t = spawnSync('tar', ['xzf', join(fixtureReposDir, `${name}.tar.gz`), '-C', dest]);
  if (t.status !== 0) throw new Error(`tar failed for ${name}: ${t.stderr.toString()}`);
  const repo = join(dest, 'repo');
  if (!existsSync(join(repo, 'config'))) throw new Error(`${name}: no repo/config after extraction (${readdirSync(dest).join(', ')})`);
  return repo;
}

/**
 * `extractFixture`, then the fixture's key swapped for a cheap-scrypt one (same password and
 * master key): some fixtures use N=65536, ~0.5-1 s per open under load. For tests that are not
 * about opening the fixture's own key (read-fixtures covers that).
 */
export async function extractFixtureCheap(name: string, parent: string): Promise<string> {
  const repo = extractFixture(name, parent);
  await cheapenKeys(repo, [FIXTURE_PASSWORD]);
  return repo;
}
