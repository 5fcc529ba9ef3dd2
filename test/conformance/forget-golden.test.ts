/**
 * restic's own forget-policy golden files (restic master a80be14): for each of the 40 policies
 * of restic's TestApplyPolicy, the kept snapshots and every reason with its counters must be
 * exactly what restic produced.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testdataDir } from '../support/fixtures.js';
import { applyPolicy, countersJson } from '../../src/maintenance/forget-policy.js';
import { GOLDEN_NOW, GOLDEN_POLICIES, GOLDEN_SNAPSHOTS, type FixtureSnapshot } from '../unit/forget-policy-fixture.js';

const goldenDir = join(testdataDir, 'forget-policy-golden');
const present = existsSync(goldenDir);

if (!present && process.env.CI) {
  throw new Error(`restic's forget golden files are required in CI but ${goldenDir} is missing`);
}

interface GoldenSnapshot {
  time: string;
  tags?: string[];
  paths: string[] | null;
}

interface GoldenFile {
  keep: GoldenSnapshot[] | null;
  reasons?: { snapshot: GoldenSnapshot; matches: string[]; counters: Record<string, number> }[];
}

/** The fields restic's golden files carry for these snapshots (tree is always null there). */
function describeSnapshot(sn: FixtureSnapshot | GoldenSnapshot): { time: string; tags: string[]; paths: string[] | null } {
  return { time: sn.time.toString(), tags: sn.tags ?? [], paths: sn.paths ?? null };
}

describe.skipIf(!present)("restic's forget-policy golden files", () => {
  it('has one golden file per policy', () => {
    expect(GOLDEN_SNAPSHOTS).toHaveLength(103);
    expect(GOLDEN_POLICIES).toHaveLength(40);
    for (let n = 0; n < GOLDEN_POLICIES.length; n++) {
      expect(existsSync(join(goldenDir, `policy_keep_snapshots_${n}`))).toBe(true);
    }
  });

  it.each(GOLDEN_POLICIES.map((policy, n) => [n, policy] as const))('policy %i', (n, policy) => {
    const golden = JSON.parse(readFileSync(join(goldenDir, `policy_keep_snapshots_${n}`), 'utf8')) as GoldenFile;
    const result = applyPolicy(GOLDEN_SNAPSHOTS, policy, GOLDEN_NOW, { timeZone: 'UTC' });

    expect(result.keep.map(describeSnapshot)).toEqual((golden.keep ?? []).map(describeSnapshot));
    expect(
      result.reasons.map((r) => ({ snapshot: describeSnapshot(r.snapshot), matches: r.matches, counters: countersJson(r.counters) })),
    ).toEqual((golden.reasons ?? []).map((r) => ({ snapshot: describeSnapshot(r.snapshot), matches: r.matches, counters: r.counters })));
    expect(result.keep.length + result.remove.length).toBe(GOLDEN_SNAPSHOTS.length);
    expect(result.reasons.map((r) => r.snapshot)).toEqual(result.keep);
  });
});
