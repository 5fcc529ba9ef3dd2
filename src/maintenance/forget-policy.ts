/**
 * restic's forget policy: which snapshots of one group to keep, and why.
 *
 * The decisions follow restic's `data.ApplyPolicy` (internal/data/snapshot_policy.go at
 * a80be14, checked against restic's 40 golden files): snapshots are walked newest first;
 * each keep rule either adopts the snapshot (with a reason such as `daily snapshot`) or not;
 * a snapshot no rule adopts is removed. Time buckets use the snapshot's own wall clock in the
 * offset it was saved with, weeks are ISO weeks, and `--keep-within*` cuts are computed with
 * Go's AddDate from the newest snapshot that is not in the future.
 *
 * Only the decision lives here; grouping, loading and deleting belong to the forget command.
 */
import { ResticError } from '../errors.js';
import { GoTime } from '../format/gotime.js';
import { Duration } from './duration.js';

/** What the policy needs of a snapshot. The snapshots are returned as given (same objects). */
export interface PolicySnapshot {
  time: GoTime;
  tags?: readonly string[] | null;
}

/**
 * Counts: 0 (or absent) = rule off, n > 0 = keep the newest snapshot of the n newest
 * buckets, -1 = every bucket. Durations: absent or zero = rule off.
 */
export interface ExpirePolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: Duration;
  withinHourly?: Duration;
  withinDaily?: Duration;
  withinWeekly?: Duration;
  withinMonthly?: Duration;
  withinYearly?: Duration;
  /** `--keep-tag` lists: a snapshot having every tag of any one list is kept. */
  tags?: readonly (readonly string[])[];
}

/** The count left in each bucket after the snapshot was looked at (-1 = unlimited). */
export interface KeepCounters {
  last: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

export interface KeepReason<T> {
  snapshot: T;
  /** restic's texts, e.g. `last snapshot`, `within 1m`, `oldest daily snapshot`, `has tags [a, b]`. */
  matches: string[];
  counters: KeepCounters;
}

export interface PolicyResult<T> {
  /** Newest first. */
  keep: T[];
  /** Newest first. */
  remove: T[];
  /** One per kept snapshot, in the order of `keep`. */
  reasons: KeepReason<T>[];
}

export interface ApplyPolicyOptions {
  /**
   * `master` (default): restic ≥ 0.16 (-1 = unlimited, a bucket with count left also keeps the
   * group's oldest snapshot, reason prefixed `oldest `). `0.14`: restic 0.14/0.15, where
   * neither exists (a count of -1 keeps nothing and the oldest snapshot gets no special case).
   */
  compat?: 'master' | '0.14';
  /**
   * The IANA time zone restic would run in (Go's `Local`, from `TZ`); default: this process's
   * zone. It matters for one thing only: Go parses a snapshot time whose numeric offset is the
   * one `Local` has at that instant *into* `Local`, so the keep-within cut (AddDate from the
   * newest snapshot) follows that zone's daylight-saving rules rather than the fixed offset.
   * restic 0.14 in TZ=Europe/Berlin and in TZ=UTC decide differently on the same repository.
   */
  timeZone?: string;
}

const COUNT_RULES = [
  ['last', 'latest'],
  ['hourly', 'hourly'],
  ['daily', 'daily'],
  ['weekly', 'weekly'],
  ['monthly', 'monthly'],
  ['yearly', 'yearly'],
] as const;

const WITHIN_RULES = [
  ['withinHourly', 'hourly'],
  ['withinDaily', 'daily'],
  ['withinWeekly', 'weekly'],
  ['withinMonthly', 'monthly'],
  ['withinYearly', 'yearly'],
] as const;

function isSet(d: Duration | undefined): d is Duration {
  return d !== undefined && !d.isZero();
}

/** True when nothing is configured: restic's forget then removes nothing (and says so). */
export function policyIsEmpty(p: ExpirePolicy): boolean {
  if (p.tags !== undefined && p.tags.length > 0) return false;
  if (COUNT_RULES.some(([key]) => (p[key] ?? 0) !== 0)) return false;
  if (isSet(p.within) || WITHIN_RULES.some(([key]) => isSet(p[key]))) return false;
  return true;
}

/** Go's `TagList.String()`: `[a, b]`. */
function tagListString(list: readonly string[]): string {
  return `[${list.join(', ')}]`;
}

/** restic's `ExpirePolicy.String()`, e.g. `keep 2 latest, 7 daily snapshots` (printed as "Applying Policy: …"). */
export function policyToString(p: ExpirePolicy): string {
  const counts: string[] = [];
  for (const [key, word] of COUNT_RULES) {
    const n = p[key] ?? 0;
    if (n > 0) counts.push(`${n} ${word}`);
    else if (n === -1) counts.push(`all ${word}`);
  }
  const withins: string[] = [];
  for (const [key, word] of WITHIN_RULES) {
    const d = p[key];
    if (isSet(d)) withins.push(`${word} snapshots within ${d.toString()}`);
  }
  let s = '';
  if (counts.length > 0) s = `${counts.join(', ')} snapshots`;
  if (withins.length > 0) s += (s === '' ? '' : ', ') + withins.join(', ');
  if (p.tags !== undefined && p.tags.length > 0) {
    // Go's %s of []TagList: `[` + elements joined by a space + `]`.
    s += (s === '' ? '' : ' and ') + `all snapshots with tags [${p.tags.map(tagListString).join(' ')}]`;
  }
  if (isSet(p.within)) s += (s === '' ? '' : ' and ') + `all snapshots within ${p.within.toString()} of the newest`;
  return s === '' ? 'remove' : `keep ${s}`;
}

/** Go's zero time.Time: restic's starting point when looking for the newest snapshot. */
const GO_ZERO_TIME = GoTime.parse('0001-01-01T00:00:00Z');

const NANOS_PER_HOUR = 3_600_000_000_000n;

/** Offset (seconds east of UTC) of an IANA zone at an instant, from the platform's tz database. */
class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly zone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (err) {
      throw new ResticError('USAGE', `unknown time zone ${JSON.stringify(zone)}`, { cause: err });
    }
  }

  /** Throws RangeError beyond the years JS dates hold. */
  at(unixSeconds: number): number {
    const fields: Record<string, string> = {};
    for (const part of this.format.formatToParts(new Date(unixSeconds * 1000))) fields[part.type] = part.value;
    let year = Number(fields.year);
    if (fields.era === 'BC' || fields.era === 'B') year = 1 - year;
    const wall = new Date(0);
    wall.setUTCFullYear(year, Number(fields.month) - 1, Number(fields.day));
    wall.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second), 0);
    return wall.getTime() / 1000 - unixSeconds;
  }
}

function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Go's `t.AddDate` for a time as restic holds it after parsing: in `Local` when the time's
 * numeric offset is the one the zone has at that instant (a `Z` time is always UTC),
 * otherwise in a fixed zone with the written offset.
 */
function addDateAsGo(t: GoTime, years: number, months: number, days: number, local: ZoneOffsets): GoTime {
  const fixed = t.addDate(years, months, days);
  if (t.offsetSeconds === 0 || local.at(t.unixSeconds) !== t.offsetSeconds) return fixed;
  // time.Date in a zone: read the wall clock as UTC, guess the offset there, and correct the
  // guess once if the resulting instant lies in another zone period (Go's algorithm).
  const wallAsUtc = fixed.unixSeconds + t.offsetSeconds;
  const offset = local.at(wallAsUtc - local.at(wallAsUtc));
  return new GoTime(wallAsUtc - offset, t.nanos, offset);
}

/**
 * restic's cut for `--keep-within*`: `latest.AddDate(-y, -m, -d).Add(-h hours)`; a snapshot is
 * within when its time is strictly after the cut. Returns 'all' when the cut lies before the
 * years JS can represent (every snapshot is within) and 'none' when it lies after them.
 */
function withinCut(latest: GoTime, d: Duration, local: ZoneOffsets): GoTime | 'all' | 'none' {
  let base: GoTime;
  try {
    base = addDateAsGo(latest, -d.years, -d.months, -d.days, local);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // Beyond ±270 000 years: only the direction matters for real snapshot times.
    const approxDays = d.years * 365.2425 + d.months * 30.436875 + d.days + d.hours / 24;
    return approxDays > 0 ? 'all' : 'none';
  }
  // Go multiplies hours into an int64 nanosecond Duration, which wraps around; so do we.
  const shift = BigInt.asIntN(64, BigInt(-d.hours) * NANOS_PER_HOUR);
  return GoTime.fromUnixNanos(base.unixNanos + shift, base.offsetSeconds);
}

function isWithin(t: GoTime, cut: GoTime | 'all' | 'none'): boolean {
  if (cut === 'all') return true;
  if (cut === 'none') return false;
  return t.isAfter(cut);
}

type Bucketer = (t: GoTime, nr: number) => number;

const byIndex: Bucketer = (_t, nr) => nr;
const byHour: Bucketer = (t) => {
  const w = t.wall();
  return w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour;
};
const byDay: Bucketer = (t) => {
  const w = t.wall();
  return w.year * 10_000 + w.month * 100 + w.day;
};
const byIsoWeek: Bucketer = (t) => {
  const { year, week } = t.isoWeek();
  return year * 100 + week;
};
const byMonth: Bucketer = (t) => {
  const w = t.wall();
  return w.year * 100 + w.month;
};
const byYear: Bucketer = (t) => t.wall().year;

const BUCKETERS: Record<'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', Bucketer> = {
  last: byIndex,
  hourly: byHour,
  daily: byDay,
  weekly: byIsoWeek,
  monthly: byMonth,
  yearly: byYear,
};

/** restic starts every bucket at -1 (so a bucket value of -1 never opens a new bucket; kept for parity). */
const NO_BUCKET_YET = -1;

function hasTags(tags: readonly string[] | null | undefined, required: readonly string[]): boolean {
  const own = tags ?? [];
  for (const tag of required) {
    // restic: an empty tag in the list matches an untagged snapshot, deciding the whole list.
    if (tag === '' && own.length === 0) return true;
    if (!own.includes(tag)) return false;
  }
  return true;
}

/**
 * Applies the policy to one group of snapshots. The input is not modified. `now` decides
 * which snapshots are "in the future" (ignored when looking for the newest snapshot).
 */
export function applyPolicy<T extends PolicySnapshot>(
  snapshots: readonly T[],
  policy: ExpirePolicy,
  now: GoTime = GoTime.now(),
  options: ApplyPolicyOptions = {},
): PolicyResult<T> {
  const legacy = options.compat === '0.14';
  const local = new ZoneOffsets(options.timeZone ?? processTimeZone());
  // Newest first; Array.prototype.sort is stable, as restic's sort.Stable.
  const list = [...snapshots].sort((a, b) => b.time.compare(a.time));
  const result: PolicyResult<T> = { keep: [], remove: [], reasons: [] };
  if (list.length === 0) return result;

  let latest = GO_ZERO_TIME;
  for (const sn of list) {
    if (sn.time.isAfter(latest) && sn.time.isBefore(now)) latest = sn.time;
  }

  const counted = COUNT_RULES.map(([key]) => ({
    key,
    count: policy[key] ?? 0,
    bucket: BUCKETERS[key],
    lastValue: NO_BUCKET_YET,
    reason: key === 'last' ? 'last snapshot' : `${key} snapshot`,
  }));
  const withinBuckets = WITHIN_RULES.filter(([key]) => isSet(policy[key])).map(([key, word]) => {
    const duration = policy[key] as Duration;
    return {
      cut: withinCut(latest, duration, local),
      bucket: BUCKETERS[word],
      lastValue: NO_BUCKET_YET,
      reason: `${word} within ${duration.toString()}`,
    };
  });
  const withinCutAll = isSet(policy.within) ? withinCut(latest, policy.within, local) : undefined;
  const withinReason = isSet(policy.within) ? `within ${policy.within.toString()}` : '';
  const oldestNr = list.length - 1;

  list.forEach((sn, nr) => {
    const matches: string[] = [];

    for (const required of policy.tags ?? []) {
      if (hasTags(sn.tags, required)) matches.push(`has tags ${tagListString(required)}`);
    }

    if (withinCutAll !== undefined && isWithin(sn.time, withinCutAll)) matches.push(withinReason);

    for (const b of counted) {
      const active = b.count > 0 || (b.count === -1 && !legacy);
      if (!active) continue;
      const value = b.bucket(sn.time, nr);
      const newBucket = value !== b.lastValue;
      // A bucket with count left also keeps the group's oldest snapshot (restic ≥ 0.16):
      // this stretches the kept history as far back as the counts allow.
      if (newBucket || (nr === oldestNr && !legacy)) {
        matches.push(newBucket ? b.reason : `oldest ${b.reason}`);
        b.lastValue = value;
        if (b.count > 0) b.count--;
      }
    }

    for (const b of withinBuckets) {
      if (!isWithin(sn.time, b.cut)) continue;
      const value = b.bucket(sn.time, nr);
      const newBucket = value !== b.lastValue;
      if (newBucket || (nr === oldestNr && !legacy)) {
        matches.push(newBucket ? b.reason : `oldest ${b.reason}`);
        b.lastValue = value;
      }
    }

    if (matches.length > 0) {
      result.keep.push(sn);
      const [last, hourly, daily, weekly, monthly, yearly] = counted.map((b) => b.count);
      result.reasons.push({ snapshot: sn, matches, counters: { last, hourly, daily, weekly, monthly, yearly } });
    } else {
      result.remove.push(sn);
    }
  });
  return result;
}

/** The counters as restic's JSON writes them (`omitempty`: zero counts left out). */
export function countersJson(c: KeepCounters): Partial<KeepCounters> {
  const out: Partial<KeepCounters> = {};
  for (const [key] of COUNT_RULES) if (c[key] !== 0) out[key] = c[key];
  return out;
}
