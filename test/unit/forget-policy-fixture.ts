/**
 * The inputs of restic's forget-policy golden test (`TestApplyPolicy` in restic's
 * internal/data/snapshot_policy_test.go): 103 snapshot times (UTC, some tagged, one with
 * paths) and 40 policies. Policy N produced restic's golden file `policy_keep_snapshots_N`.
 * Our own encoding of restic's test data; shared by the unit and conformance tests.
 */
import { GoTime } from '../../src/format/gotime.js';
import { Duration } from '../../src/maintenance/duration.js';
import type { ExpirePolicy } from '../../src/maintenance/forget-policy.js';

export interface FixtureSnapshot {
  time: GoTime;
  tags?: string[];
  paths?: string[];
  /** Position in restic's input list: tells snapshots with equal times apart. */
  input: number;
}

/** [`YYYY-MM-DD hh:mm:ss[.f]` in UTC, tags?, paths?] in restic's input order. */
const RAW: [string, string[]?, string[]?][] = [
  ['2014-09-01 10:20:30'],
  ['2014-09-02 10:20:30'],
  ['2014-09-05 10:20:30'],
  ['2014-09-06 10:20:30'],
  ['2014-09-08 10:20:30'],
  ['2014-09-09 10:20:30'],
  ['2014-09-10 10:20:30'],
  ['2014-09-11 10:20:30'],
  ['2014-09-20 10:20:30'],
  ['2014-09-22 10:20:30'],
  ['2014-08-08 10:20:30'],
  ['2014-08-10 10:20:30'],
  ['2014-08-12 10:20:30'],
  ['2014-08-13 10:20:30'],
  ['2014-08-13 10:20:30.1'],
  ['2014-08-15 10:20:30'],
  ['2014-08-18 10:20:30'],
  ['2014-08-20 10:20:30'],
  ['2014-08-21 10:20:30'],
  ['2014-08-22 10:20:30'],
  ['2014-10-01 10:20:30', ['foo']],
  ['2014-10-02 10:20:30', ['foo']],
  ['2014-10-05 10:20:30', ['foo']],
  ['2014-10-06 10:20:30', ['foo']],
  ['2014-10-08 10:20:30', ['foo']],
  ['2014-10-09 10:20:30', ['foo']],
  ['2014-10-10 10:20:30', ['foo']],
  ['2014-10-11 10:20:30', ['foo']],
  ['2014-10-20 10:20:30', ['foo']],
  ['2014-10-22 10:20:30', ['foo']],
  ['2014-11-08 10:20:30', ['foo']],
  ['2014-11-10 10:20:30', ['foo']],
  ['2014-11-12 10:20:30', ['foo']],
  ['2014-11-13 10:20:30', ['foo']],
  ['2014-11-13 10:20:30.1', ['bar']],
  ['2014-11-15 10:20:30', ['foo', 'bar']],
  ['2014-11-18 10:20:30'],
  ['2014-11-20 10:20:30'],
  ['2014-11-21 10:20:30'],
  ['2014-11-22 10:20:30'],
  ['2015-09-01 10:20:30'],
  ['2015-09-02 10:20:30'],
  ['2015-09-05 10:20:30'],
  ['2015-09-06 10:20:30'],
  ['2015-09-08 10:20:30'],
  ['2015-09-09 10:20:30'],
  ['2015-09-10 10:20:30'],
  ['2015-09-11 10:20:30'],
  ['2015-09-20 10:20:30'],
  ['2015-09-22 10:20:30'],
  ['2015-08-08 10:20:30'],
  ['2015-08-10 10:20:30'],
  ['2015-08-12 10:20:30'],
  ['2015-08-13 10:20:30'],
  ['2015-08-13 10:20:30.1'],
  ['2015-08-15 10:20:30'],
  ['2015-08-18 10:20:30'],
  ['2015-08-20 10:20:30'],
  ['2015-08-21 10:20:30'],
  ['2015-08-22 10:20:30'],
  ['2015-10-01 10:20:30'],
  ['2015-10-02 10:20:30'],
  ['2015-10-05 10:20:30'],
  ['2015-10-06 10:20:30'],
  ['2015-10-08 10:20:30'],
  ['2015-10-09 10:20:30'],
  ['2015-10-10 10:20:30'],
  ['2015-10-11 10:20:30'],
  ['2015-10-20 10:20:30'],
  ['2015-10-22 10:20:30'],
  ['2015-10-22 10:20:30'],
  ['2015-10-22 10:20:30', ['foo', 'bar']],
  ['2015-10-22 10:20:30', ['foo', 'bar']],
  ['2015-10-22 10:20:30', ['foo', 'bar'], ['path1', 'path2']],
  ['2015-11-08 10:20:30'],
  ['2015-11-10 10:20:30'],
  ['2015-11-12 10:20:30'],
  ['2015-11-13 10:20:30'],
  ['2015-11-13 10:20:30.1'],
  ['2015-11-15 10:20:30'],
  ['2015-11-18 10:20:30'],
  ['2015-11-20 10:20:30'],
  ['2015-11-21 10:20:30'],
  ['2015-11-22 10:20:30'],
  ['2016-01-01 01:02:03'],
  ['2016-01-01 01:03:03'],
  ['2016-01-01 07:08:03'],
  ['2016-01-03 07:02:03'],
  ['2016-01-04 10:23:03'],
  ['2016-01-04 11:23:03'],
  ['2016-01-04 12:23:03'],
  ['2016-01-04 12:24:03'],
  ['2016-01-04 12:28:03'],
  ['2016-01-04 12:30:03'],
  ['2016-01-04 16:23:03'],
  ['2016-01-05 09:02:03'],
  ['2016-01-06 08:02:03'],
  ['2016-01-07 10:02:03'],
  ['2016-01-08 20:02:03'],
  ['2016-01-09 21:02:03'],
  ['2016-01-12 21:02:03'],
  ['2016-01-12 21:08:03'],
  ['2016-01-18 12:02:03'],
];

export const GOLDEN_SNAPSHOTS: FixtureSnapshot[] = RAW.map(([time, tags, paths], input) => {
  const sn: FixtureSnapshot = { time: GoTime.parse(time.replace(' ', 'T') + 'Z'), input };
  if (tags !== undefined) sn.tags = tags;
  if (paths !== undefined) sn.paths = paths;
  return sn;
});

const d = (text: string): Duration => Duration.parse(text);

export const GOLDEN_POLICIES: ExpirePolicy[] = [
  {},
  { last: 10 },
  { last: 15 },
  { last: 99 },
  { last: 200 },
  { hourly: 20 },
  { daily: 3 },
  { daily: 10 },
  { daily: 30 },
  { last: 5, daily: 5 },
  { last: 2, daily: 10 },
  { weekly: 2 },
  { weekly: 4 },
  { daily: 3, weekly: 4 },
  { monthly: 6 },
  { daily: 2, weekly: 2, monthly: 6 },
  { yearly: 10 },
  { daily: 7, weekly: 2, monthly: 3, yearly: 10 },
  { tags: [['foo']] },
  { tags: [['foo', 'bar']] },
  { tags: [['foo'], ['bar']] },
  { within: d('1d') },
  { within: d('2d') },
  { within: d('7d') },
  { within: d('1m') },
  { within: d('1m14d') },
  { within: d('1y1d1m') },
  { within: d('13d23h') },
  { within: d('2m2h') },
  { within: d('1y2m3d3h') },
  { withinHourly: d('1y2m3d3h') },
  { withinDaily: d('1y2m3d3h') },
  { withinWeekly: d('1y2m3d3h') },
  { withinMonthly: d('1y2m3d3h') },
  { withinYearly: d('1y2m3d3h') },
  {
    within: d('1h'),
    withinHourly: d('1d'),
    withinDaily: d('7d'),
    withinWeekly: d('1m'),
    withinMonthly: d('1y'),
    withinYearly: d('9999y'),
  },
  { last: -1 },
  { last: -1, hourly: -1 },
  { hourly: -1 },
  { daily: 3, weekly: 2, monthly: -1, yearly: -1 },
];

/** A fixed "now" after every fixture time (restic's test used time.Now()). */
export const GOLDEN_NOW = GoTime.parse('2026-01-01T00:00:00Z');
