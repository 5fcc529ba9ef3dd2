/**
 * Our forget policy against the real restic binary (Debian's 0.14.0): snapshots with
 * synthetic times (`restic backup --time`, some written in other time zones, one in the
 * future), then `restic forget --dry-run --json` with several policies. restic's keep/remove
 * sets, reasons and counters must equal applyPolicy's on the times read back with
 * `restic snapshots --json`.
 *
 * restic 0.14 predates two rules of restic ≥ 0.16 (the group's oldest snapshot kept by every
 * bucket with count left, and -1 = unlimited), so the exact comparison uses compat '0.14';
 * the default (master) mode is then checked to differ from it only by the oldest snapshot.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';
import { Duration } from '../../src/maintenance/duration.js';
import { applyPolicy, policyToString, type ExpirePolicy } from '../../src/maintenance/forget-policy.js';
import { makeResticRepo, restic, tempDir } from '../support/restic.js';

interface ListedSnapshot {
  id: string;
  time: GoTime;
  tags?: string[];
}

interface ResticSnapshotJson {
  id: string;
  time: string;
  tags?: string[];
}

interface ResticForgetGroup {
  host: string;
  paths: string[];
  keep: ResticSnapshotJson[] | null;
  remove: ResticSnapshotJson[] | null;
  reasons: { snapshot: { time: string }; matches: string[]; counters: Record<string, number> }[] | null;
}

/** [local time for `--time`, TZ restic runs in, tags] */
const BACKUPS: [string, string, string[]][] = [
  ['2023-06-15 08:00:00', 'UTC', []],
  ['2023-11-30 23:30:00', 'Europe/Berlin', []], // +01:00: Nov 30 in its own clock, 22:30 UTC
  ['2023-12-31 12:00:00', 'UTC', ['foo']], // Sunday, ISO 2023-W52
  ['2024-01-01 00:30:00', 'Europe/Berlin', []], // +01:00: ISO 2024-W01 in its own clock, 2023-W52 in UTC
  ['2024-01-01 10:00:00', 'UTC', []], // Monday, ISO 2024-W01
  ['2024-01-01 10:30:00', 'UTC', []], // same hour
  ['2024-01-01 10:45:00', 'UTC', ['foo', 'bar']], // same hour
  ['2024-01-01 15:00:00', 'UTC', []], // same day
  ['2024-01-02 09:00:00', 'UTC', []],
  ['2024-01-15 09:00:00', 'UTC', []],
  ['2024-02-29 12:00:00', 'UTC', []],
  ['2024-03-30 20:00:00', 'UTC', []],
  ['2024-03-31 00:30:00', 'Europe/Berlin', []], // +01:00: Mar 31 in its own clock, Mar 30 in UTC
  ['2024-04-01 00:15:00', 'Europe/Berlin', []], // +02:00: Apr 1 in its own clock, Mar 31 in UTC
  ['2024-04-30 18:00:00', 'UTC', []],
  ['2024-05-01 01:00:00', 'America/New_York', ['foo']], // -04:00: 05:00 UTC
  ['2024-05-01 00:00:00', 'UTC', []],
  ['2024-05-01 05:10:00', 'UTC', []], // the same UTC hour as the New York one, another hour in its own clock
  ['2024-05-20 00:00:00', 'UTC', []], // the newest one not in the future
  ['2099-01-01 00:00:00', 'UTC', []], // in the future: not "latest" for keep-within
];

/** A second group (host h2), written in Europe/Berlin: its keep-within cut depends on restic's TZ. */
const BACKUPS_H2 = ['2024-07-01 10:00:00', '2024-01-01 10:30:00', '2024-01-01 09:30:00'];

const d = (s: string): Duration => Duration.parse(s);

/** restic flags and the same policy for applyPolicy. */
const POLICIES: [string[], ExpirePolicy][] = [
  [['-H', '5', '-d', '2', '-w', '2', '-m', '2'], { hourly: 5, daily: 2, weekly: 2, monthly: 2 }],
  [['--keep-within', '1m'], { within: d('1m') }],
  [['-l', '3'], { last: 3 }],
  [['-y', '1'], { yearly: 1 }],
  [['-y', '5'], { yearly: 5 }],
  [['-w', '4'], { weekly: 4 }],
  [['-d', '20'], { daily: 20 }],
  [['-H', '30'], { hourly: 30 }],
  [['-l', '-1'], { last: -1 }],
  [['--keep-within', '4m29d'], { within: d('4m29d') }],
  [['--keep-within', '3000000h'], { within: d('3000000h') }],
  [['--keep-within-daily', '10d', '--keep-within-monthly', '6m', '--keep-within-yearly', '2y'], {
    withinDaily: d('10d'),
    withinMonthly: d('6m'),
    withinYearly: d('2y'),
  }],
  [['--keep-tag', 'foo', '--keep-tag', 'bar,foo', '-l', '1'], { tags: [['foo'], ['bar', 'foo']], last: 1 }],
];

let dir: { path: string; cleanup: () => void };
let repo: string;
let listed: ListedSnapshot[];
let listedH2: ListedSnapshot[];
/** restic's decision per policy (index into POLICIES), collected by the comparison test. */
const resticKeeps = new Map<number, string[]>();

beforeAll(async () => {
  dir = tempDir('restic-ts-forget-');
  repo = join(dir.path, 'repo');
  const src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'file.txt'), 'forget policy test\n');
  await makeResticRepo(repo);
  for (const [time, tz, tags] of BACKUPS) {
    const tagArgs = tags.flatMap((t) => ['--tag', t]);
    restic(['backup', '-q', '--time', time, '--host', 'h', ...tagArgs, 'src'], { repo, cwd: dir.path, env: { TZ: tz } });
  }
  for (const time of BACKUPS_H2) {
    restic(['backup', '-q', '--time', time, '--host', 'h2', 'src'], { repo, cwd: dir.path, env: { TZ: 'Europe/Berlin' } });
  }
  const list = (host: string) =>
    (JSON.parse(restic(['snapshots', '--json', '--host', host], { repo }).stdout) as ResticSnapshotJson[]).map((s) => ({
      id: s.id,
      time: GoTime.parse(s.time),
      tags: s.tags,
    }));
  listed = list('h');
  listedH2 = list('h2');
});

afterAll(() => dir?.cleanup());

function forgetJson(flags: string[], host = 'h', tz = 'UTC'): ResticForgetGroup {
  const out = restic(['forget', '--dry-run', '--json', '--host', host, ...flags], { repo, env: { TZ: tz } }).stdout;
  const groups = JSON.parse(out) as ResticForgetGroup[];
  expect(groups).toHaveLength(1);
  return groups[0];
}

describe('forget policy vs restic 0.14', () => {
  it('stored the synthetic times with their offsets', () => {
    expect(listed).toHaveLength(BACKUPS.length);
    const times = listed.map((s) => s.time.toString());
    expect(times).toContain('2023-11-30T23:30:00+01:00');
    expect(times).toContain('2024-04-01T00:15:00+02:00');
    expect(times).toContain('2024-05-01T01:00:00-04:00');
  });

  it.each(POLICIES.map(([flags, policy], n) => [flags, policy, n] as const))('restic forget %j decides as applyPolicy', (flags, policy, n) => {
    const group = forgetJson(flags);
    resticKeeps.set(n, (group.keep ?? []).map((s) => s.id));
    const ours = applyPolicy(listed, policy, GoTime.now(), { compat: '0.14', timeZone: 'UTC' });

    expect(ours.keep.map((s) => s.id)).toEqual((group.keep ?? []).map((s) => s.id));
    expect(ours.remove.map((s) => s.id)).toEqual((group.remove ?? []).map((s) => s.id));
    expect(ours.reasons.map((r) => ({ time: r.snapshot.time.toString(), matches: r.matches, counters: r.counters }))).toEqual(
      (group.reasons ?? []).map((r) => ({
        time: r.snapshot.time,
        matches: r.matches,
        counters: { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, ...r.counters },
      })),
    );

    // restic ≥ 0.16 (our default) differs only by keeping the group's oldest snapshot more often.
    const master = applyPolicy(listed, policy, GoTime.now(), { timeZone: 'UTC' });
    const oldest = [...listed].sort((a, b) => a.time.compare(b.time))[0];
    const masterIds = new Set(master.keep.map((s) => s.id));
    for (const s of ours.keep) expect(masterIds.has(s.id)).toBe(true);
    if (!flags.includes('-1')) {
      for (const s of master.keep) expect(s === oldest || ours.keep.includes(s)).toBe(true);
    }
  });

  it('exercised what matters: own offsets, and the rules restic 0.14 lacks', () => {
    expect(resticKeeps.size).toBe(POLICIES.length);
    // Had we bucketed by UTC clocks, several of restic's answers would have come out differently.
    const inUtc = listed.map((s) => ({ ...s, time: s.time.withOffset(0) }));
    const offsetSensitive = POLICIES.filter(
      ([, policy], n) =>
        applyPolicy(inUtc, policy, GoTime.now(), { compat: '0.14', timeZone: 'UTC' }).keep.map((s) => s.id).join() !== resticKeeps.get(n)?.join(),
    );
    expect(offsetSensitive.length).toBeGreaterThanOrEqual(3);
    const masterDiffers = POLICIES.filter(
      ([, policy], n) => applyPolicy(listed, policy, GoTime.now(), { timeZone: 'UTC' }).keep.map((s) => s.id).join() !== resticKeeps.get(n)?.join(),
    );
    expect(masterDiffers.length).toBeGreaterThanOrEqual(2);
  });

  it.each(['UTC', 'Europe/Berlin', 'America/New_York'])('keep-within follows the zone restic runs in (TZ=%s)', (tz) => {
    const group = forgetJson(['--keep-within', '6m'], 'h2', tz);
    const ours = applyPolicy(listedH2, { within: d('6m') }, GoTime.now(), { compat: '0.14', timeZone: tz });
    expect(ours.keep.map((s) => s.id)).toEqual((group.keep ?? []).map((s) => s.id));
    expect(ours.remove.map((s) => s.id)).toEqual((group.remove ?? []).map((s) => s.id));
    // In Berlin, Go's AddDate crosses daylight saving time and drops 2024-01-01 09:30+01:00.
    expect(ours.keep).toHaveLength(tz === 'Europe/Berlin' ? 2 : 3);
  });

  it('prints the policy as restic does', () => {
    for (const [flags, policy] of POLICIES) {
      if (flags.includes('-1')) continue; // 0.14 does not know "all latest"
      const out = restic(['forget', '--dry-run', '--host', 'h', ...flags], { repo, env: { TZ: 'UTC' } }).stdout;
      const line = out.split('\n').find((l) => l.startsWith('Applying Policy: '));
      expect(line).toBe(`Applying Policy: ${policyToString(policy)}`);
    }
  });
});
