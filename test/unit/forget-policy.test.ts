import { describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';
import { Duration } from '../../src/maintenance/duration.js';
import {
  applyPolicy,
  countersJson,
  policyIsEmpty,
  policyToString,
  type ExpirePolicy,
  type PolicySnapshot,
} from '../../src/maintenance/forget-policy.js';
import { GOLDEN_NOW, GOLDEN_POLICIES, GOLDEN_SNAPSHOTS } from './forget-policy-fixture.js';

const d = (s: string): Duration => Duration.parse(s);
const NOW = GoTime.parse('2030-01-01T00:00:00Z');

interface Sn extends PolicySnapshot {
  name: string;
}

function snaps(...times: string[]): Sn[] {
  return times.map((t, i) => ({ name: `s${i}`, time: GoTime.parse(t) }));
}

/** Run as restic would in TZ=UTC unless told otherwise (the zone only matters for keep-within). */
function keptTimes(list: PolicySnapshot[], policy: ExpirePolicy, now = NOW, timeZone = 'UTC'): string[] {
  return applyPolicy(list, policy, now, { timeZone }).keep.map((s) => s.time.toString());
}

describe('applyPolicy on restic’s golden inputs (expectations checked by hand against the golden files)', () => {
  const run = (n: number) => applyPolicy(GOLDEN_SNAPSHOTS, GOLDEN_POLICIES[n], GOLDEN_NOW, { timeZone: 'UTC' });

  it('an empty policy keeps nothing (policy 0)', () => {
    const r = run(0);
    expect(r.keep).toEqual([]);
    expect(r.reasons).toEqual([]);
    expect(r.remove).toHaveLength(103);
  });

  it('--keep-daily 3 keeps the newest snapshot of the 3 newest days, counting down (policy 6)', () => {
    const r = run(6);
    expect(r.reasons.map((x) => [x.snapshot.time.toString(), x.matches, countersJson(x.counters)])).toEqual([
      ['2016-01-18T12:02:03Z', ['daily snapshot'], { daily: 2 }],
      ['2016-01-12T21:08:03Z', ['daily snapshot'], { daily: 1 }],
      ['2016-01-09T21:02:03Z', ['daily snapshot'], {}],
    ]);
  });

  it('--keep-weekly 2 uses ISO weeks (policy 11)', () => {
    expect(run(11).keep.map((s) => s.time.toString())).toEqual(['2016-01-18T12:02:03Z', '2016-01-12T21:08:03Z']);
  });

  it('--keep-yearly 10 also keeps the oldest snapshot while counts are left (policy 16)', () => {
    const r = run(16);
    expect(r.reasons.map((x) => [x.snapshot.time.toString(), x.matches, x.counters.yearly])).toEqual([
      ['2016-01-18T12:02:03Z', ['yearly snapshot'], 9],
      ['2015-11-22T10:20:30Z', ['yearly snapshot'], 8],
      ['2014-11-22T10:20:30Z', ['yearly snapshot'], 7],
      ['2014-08-08T10:20:30Z', ['oldest yearly snapshot'], 6],
    ]);
  });

  it('several --keep-tag lists are OR’ed, one reason per matching list (policy 20)', () => {
    const r = run(20);
    expect(r.keep).toHaveLength(19);
    expect(r.reasons[0].matches).toEqual(['has tags [foo]', 'has tags [bar]']);
    // Equal times keep restic's input order (stable sort): the one with paths is third.
    expect(r.keep.slice(0, 3).map((s) => s.paths ?? null)).toEqual([null, null, ['path1', 'path2']]);
    expect(r.reasons.find((x) => x.snapshot.time.toString() === '2014-11-13T10:20:30.1Z')?.matches).toEqual(['has tags [bar]']);
  });

  it('--keep-within 13d23h cuts at latest − 13 days − 23 hours (policy 27)', () => {
    const times = run(27).keep.map((s) => s.time.toString());
    expect(times).toHaveLength(9);
    expect(times.at(-1)).toBe('2016-01-04T16:23:03Z'); // 2016-01-04T12:30:03Z is before the cut 13:02:03
  });

  it('-1 means unlimited; counters stay -1 (policy 39)', () => {
    const r = run(39);
    expect(r.keep).toHaveLength(12);
    expect(r.reasons[0].matches).toEqual(['daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot']);
    expect(countersJson(r.reasons[0].counters)).toEqual({ daily: 2, weekly: 1, monthly: -1, yearly: -1 });
    expect(r.reasons.at(-1)?.matches).toEqual(['oldest monthly snapshot', 'oldest yearly snapshot']);
  });

  it('the within-buckets and the oldest prefix on them (policy 35)', () => {
    const r = run(35);
    expect(r.reasons[0].matches).toEqual([
      'within 1h',
      'hourly within 1d',
      'daily within 7d',
      'weekly within 1m',
      'monthly within 1y',
      'yearly within 9999y',
    ]);
    expect(r.reasons.at(-1)?.snapshot.time.toString()).toBe('2014-08-08T10:20:30Z');
    expect(r.reasons.at(-1)?.matches).toEqual(['oldest yearly within 9999y']);
  });

  it('restic 0.14 mode: no oldest rule, -1 keeps nothing', () => {
    expect(applyPolicy(GOLDEN_SNAPSHOTS, GOLDEN_POLICIES[16], GOLDEN_NOW, { compat: '0.14' }).keep).toHaveLength(3);
    expect(applyPolicy(GOLDEN_SNAPSHOTS, GOLDEN_POLICIES[36], GOLDEN_NOW, { compat: '0.14' }).keep).toHaveLength(0);
  });

  it('does not reorder or modify the input', () => {
    const before = GOLDEN_SNAPSHOTS.map((s) => s.time.toString());
    run(17);
    expect(GOLDEN_SNAPSHOTS.map((s) => s.time.toString())).toEqual(before);
  });
});

describe('applyPolicy details', () => {
  it('buckets by the wall clock in the offset each snapshot was saved with', () => {
    // Same instant range, but +01:00 puts the first one on Jan 1 and the UTC one on Dec 31.
    const list = snaps('2016-01-01T00:30:00+01:00', '2015-12-31T23:20:00Z', '2015-12-31T22:00:00Z');
    expect(keptTimes(list, { daily: 5 })).toEqual(['2016-01-01T00:30:00+01:00', '2015-12-31T23:20:00Z', '2015-12-31T22:00:00Z']);
    expect(applyPolicy(list, { daily: 5 }, NOW).reasons.map((r) => r.matches)).toEqual([
      ['daily snapshot'],
      ['daily snapshot'],
      ['oldest daily snapshot'],
    ]);
    // Hour buckets too: 00 (+01:00) and 23 (UTC) are different hours; in UTC both would be 23.
    expect(keptTimes(list, { hourly: 2 })).toEqual(['2016-01-01T00:30:00+01:00', '2015-12-31T23:20:00Z']);
  });

  it('ISO weeks span the turn of the year (2014-12-29 is in 2015-W01)', () => {
    const list = snaps('2015-01-02T10:00:00Z', '2014-12-29T10:00:00Z', '2014-12-28T10:00:00Z', '2014-12-20T10:00:00Z');
    expect(keptTimes(list, { weekly: 2 })).toEqual(['2015-01-02T10:00:00Z', '2014-12-28T10:00:00Z']);
  });

  it('ignores snapshots in the future when finding the newest one, but still counts them', () => {
    const now = GoTime.parse('2020-06-10T00:00:00Z');
    const list = snaps('2020-06-20T00:00:00Z', '2020-06-09T12:00:00Z', '2020-06-08T13:00:00Z', '2020-06-08T11:00:00Z');
    // latest = 2020-06-09T12:00; within 1d: strictly after 2020-06-08T12:00 (the future one is after too).
    expect(keptTimes(list, { within: d('1d') }, now)).toEqual(['2020-06-20T00:00:00Z', '2020-06-09T12:00:00Z', '2020-06-08T13:00:00Z']);
    expect(keptTimes(list, { last: 1 }, now)).toEqual(['2020-06-20T00:00:00Z']);
    // A snapshot exactly at "now" is not before now, so it is not the latest either.
    expect(keptTimes(snaps('2020-06-10T00:00:00Z', '2020-06-08T00:00:00Z'), { within: d('1h') }, now)).toEqual(['2020-06-10T00:00:00Z', '2020-06-08T00:00:00Z']);
  });

  it('when every snapshot is in the future, keep-within counts from Go’s zero time (everything is within)', () => {
    const list = snaps('2020-06-20T00:00:00Z', '2020-06-19T00:00:00Z');
    expect(keptTimes(list, { within: d('1d') }, GoTime.parse('2000-01-01T00:00:00Z'))).toHaveLength(2);
  });

  it('keep-within uses Go AddDate month arithmetic (Mar 31 − 1 month = Mar 2) and a strict cut', () => {
    const list = snaps('2016-03-31T10:00:00Z', '2016-03-02T10:00:01Z', '2016-03-02T10:00:00Z', '2016-03-01T12:00:00Z');
    expect(keptTimes(list, { within: d('1m') })).toEqual(['2016-03-31T10:00:00Z', '2016-03-02T10:00:01Z']);
    expect(applyPolicy(list, { within: d('1m') }, NOW).reasons[0].matches).toEqual(['within 1m']);
  });

  it('keep-within applies the cut in the latest snapshot’s own offset', () => {
    // latest 2016-04-01T00:30+02:00 (= Mar 31 22:30 UTC): −1 month in +02:00 is Mar 1 00:30+02:00 = Feb 29 22:30Z.
    const list = snaps('2016-04-01T00:30:00+02:00', '2016-02-29T22:30:01Z', '2016-02-29T22:30:00Z');
    expect(keptTimes(list, { within: d('1m') })).toEqual(['2016-04-01T00:30:00+02:00', '2016-02-29T22:30:01Z']);
  });

  it('follows the daylight-saving rules of the zone restic runs in when the newest time has that zone’s offset', () => {
    // Checked with restic 0.14: TZ=UTC keeps all three, TZ=Europe/Berlin removes the 09:30+01:00 one,
    // because Go parses +02:00 in July into Local and AddDate(0,-6,0) lands on 10:00+01:00.
    const list = snaps('2024-07-01T10:00:00+02:00', '2024-01-01T10:30:00+01:00', '2024-01-01T09:30:00+01:00');
    expect(keptTimes(list, { within: d('6m') }, NOW, 'UTC')).toHaveLength(3);
    expect(keptTimes(list, { within: d('6m') }, NOW, 'Europe/Berlin')).toEqual(['2024-07-01T10:00:00+02:00', '2024-01-01T10:30:00+01:00']);
    // An offset the zone does not have at that instant stays a fixed zone.
    expect(keptTimes(list, { within: d('6m') }, NOW, 'America/New_York')).toHaveLength(3);
    // A wall clock in the spring-forward gap moves as Go's time.Date moves it (02:30 → 03:30+02:00).
    const gap = snaps('2024-04-01T02:30:00+02:00', '2024-03-31T01:30:01Z', '2024-03-31T01:00:00Z');
    expect(keptTimes(gap, { within: d('1d') }, NOW, 'Europe/Berlin')).toEqual(['2024-04-01T02:30:00+02:00', '2024-03-31T01:30:01Z']);
    expect(keptTimes(gap, { within: d('1d') }, NOW, 'UTC')).toHaveLength(3);
  });

  it('refuses an unknown time zone', () => {
    expect(() => applyPolicy([], { last: 1 }, NOW, { timeZone: 'Mars/Olympus' })).toThrow(/unknown time zone "Mars\/Olympus"/);
  });

  it('wraps the hours of a keep-within duration around int64 nanoseconds as Go does', () => {
    // 3 000 000 h exceeds int64 nanoseconds: Go's cut lands ~242 years after latest, so nothing is within.
    const list = snaps('2020-01-01T00:00:00Z', '2019-01-01T00:00:00Z');
    expect(keptTimes(list, { within: d('3000000h') })).toEqual([]);
    expect(keptTimes(list, { within: d('2000000h') })).toHaveLength(2);
  });

  it('handles durations beyond the years JS dates can hold', () => {
    const list = snaps('2020-01-01T00:00:00Z', '1990-01-01T00:00:00Z');
    expect(keptTimes(list, { within: d('900000000y') })).toHaveLength(2);
    expect(keptTimes(list, { within: d('-900000000y') })).toHaveLength(0);
  });

  it('keeps a single snapshot without the oldest prefix', () => {
    const r = applyPolicy(snaps('2020-01-01T00:00:00Z'), { daily: 1, withinDaily: d('1d') }, NOW);
    expect(r.reasons[0].matches).toEqual(['daily snapshot', 'daily within 1d']);
    expect(countersJson(r.reasons[0].counters)).toEqual({});
  });

  it('a count that runs out stops keeping (no oldest rule once the count is 0)', () => {
    const list = snaps('2020-01-03T00:00:00Z', '2020-01-02T00:00:00Z', '2020-01-01T00:00:00Z');
    expect(keptTimes(list, { daily: 2 })).toEqual(['2020-01-03T00:00:00Z', '2020-01-02T00:00:00Z']);
    expect(keptTimes(list, { daily: 3 })).toHaveLength(3);
    // Same day for all: the newest, then the oldest thanks to the oldest rule.
    const sameDay = snaps('2020-01-01T03:00:00Z', '2020-01-01T02:00:00Z', '2020-01-01T01:00:00Z');
    const r = applyPolicy(sameDay, { daily: 5 }, NOW);
    expect(r.reasons.map((x) => [x.snapshot.time.toString(), x.matches])).toEqual([
      ['2020-01-01T03:00:00Z', ['daily snapshot']],
      ['2020-01-01T01:00:00Z', ['oldest daily snapshot']],
    ]);
    expect(r.remove.map((s) => s.name)).toEqual(['s1']);
  });

  it('matches tag lists as restic: all tags of a list; an empty tag matches untagged snapshots', () => {
    const list: Sn[] = [
      { name: 'a', time: GoTime.parse('2020-01-03T00:00:00Z'), tags: ['x', 'y'] },
      { name: 'b', time: GoTime.parse('2020-01-02T00:00:00Z'), tags: ['x'] },
      { name: 'c', time: GoTime.parse('2020-01-01T00:00:00Z') },
    ];
    const names = (p: ExpirePolicy) => applyPolicy(list, p, NOW).keep.map((s) => s.name);
    expect(names({ tags: [['x', 'y']] })).toEqual(['a']);
    expect(names({ tags: [['y'], ['x']] })).toEqual(['a', 'b']);
    expect(names({ tags: [['']] })).toEqual(['c']);
    expect(names({ tags: [['', 'zzz']] })).toEqual(['c']); // restic decides on the empty tag first
    expect(names({ tags: [['x', '']] })).toEqual([]);
    expect(names({ tags: [[]] })).toEqual(['a', 'b', 'c']);
    expect(applyPolicy(list, { tags: [['y'], ['x']] }, NOW).reasons[0].matches).toEqual(['has tags [y]', 'has tags [x]']);
  });

  it('returns empty lists for an empty group', () => {
    expect(applyPolicy([], { last: 1 }, NOW)).toEqual({ keep: [], remove: [], reasons: [] });
  });
});

describe('policyIsEmpty / policyToString', () => {
  it('knows an empty policy', () => {
    expect(policyIsEmpty({})).toBe(true);
    expect(policyIsEmpty({ tags: [], within: new Duration(), last: 0 })).toBe(true);
    expect(policyIsEmpty({ tags: [[]] })).toBe(false);
    expect(policyIsEmpty({ last: -2 })).toBe(false);
    expect(policyIsEmpty({ withinYearly: d('1y') })).toBe(false);
  });

  it('prints as restic’s ExpirePolicy.String()', () => {
    expect(policyToString({})).toBe('remove');
    expect(policyToString({ last: 2, daily: 7, weekly: 4 })).toBe('keep 2 latest, 7 daily, 4 weekly snapshots');
    expect(policyToString({ last: -1, monthly: 3, yearly: -1 })).toBe('keep all latest, 3 monthly, all yearly snapshots');
    expect(policyToString({ hourly: 1, withinDaily: d('7d'), withinYearly: d('2y') })).toBe(
      'keep 1 hourly snapshots, daily snapshots within 7d, yearly snapshots within 2y',
    );
    expect(policyToString({ withinWeekly: d('1m') })).toBe('keep weekly snapshots within 1m');
    expect(policyToString({ daily: 1, tags: [['a', 'b'], ['c']], within: d('1y2m') })).toBe(
      'keep 1 daily snapshots and all snapshots with tags [[a, b] [c]] and all snapshots within 1y2m of the newest',
    );
    expect(policyToString({ within: d('3d') })).toBe('keep all snapshots within 3d of the newest');
  });
});
