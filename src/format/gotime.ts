/**
 * A timestamp as restic stores it: Go's `time.Time` marshalled as RFC 3339 with nanoseconds
 * and the writer's UTC offset, e.g. `2015-11-10T22:09:48.754006018+01:00`.
 *
 * JS `Date` keeps only milliseconds and no offset, so we keep the instant as
 * (unix seconds, nanoseconds) plus the offset in seconds. Formatting follows Go's
 * RFC3339Nano exactly (fraction trailing zeros trimmed, `Z` for a zero offset), so a time
 * parsed and written again gives the same bytes. The forget policy needs the wall clock in
 * the snapshot's own offset; `wall()` gives it.
 */
import { ResticError } from '../errors.js';

const RFC3339 = /^(-?\d{4,})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export interface WallClock {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** 0 = Sunday, as Go's time.Weekday. */
  weekday: number;
}

export class GoTime {
  /** Seconds since the Unix epoch (integral). */
  readonly unixSeconds: number;
  /** 0 ..= 999 999 999 */
  readonly nanos: number;
  /** Offset east of UTC, in seconds. */
  readonly offsetSeconds: number;

  constructor(unixSeconds: number, nanos: number, offsetSeconds = 0) {
    if (!Number.isSafeInteger(unixSeconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
      throw new RangeError(`invalid time ${unixSeconds}s ${nanos}ns`);
    }
    this.unixSeconds = unixSeconds;
    this.nanos = nanos;
    this.offsetSeconds = offsetSeconds;
  }

  static parse(text: string): GoTime {
    const m = RFC3339.exec(text);
    if (!m) throw new ResticError('CORRUPT', `invalid timestamp ${JSON.stringify(text)}`);
    const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
    const offset = z ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
    // Go rejects out-of-range fields (Feb 30, hour 24, offset +24:00) instead of rolling them over.
    if (Number(mo) < 1 || Number(mo) > 12 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(oh ?? 0) > 23 || Number(om ?? 0) > 59) {
      throw new ResticError('CORRUPT', `invalid timestamp ${JSON.stringify(text)}: field out of range`);
    }
    const localMs = utcMs(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
    const t = new GoTime(localMs / 1000 - offset, nanos, offset);
    if (t.wall().day !== Number(d)) {
      throw new ResticError('CORRUPT', `invalid timestamp ${JSON.stringify(text)}: day out of range`);
    }
    return t;
  }

  static fromDate(date: Date, offsetSeconds = -date.getTimezoneOffset() * 60): GoTime {
    const ms = date.getTime();
    const secs = Math.floor(ms / 1000);
    return new GoTime(secs, (ms - secs * 1000) * 1_000_000, offsetSeconds);
  }

  /** From nanoseconds since the epoch, as `fs.Stats` with `bigint: true` gives them. */
  static fromUnixNanos(ns: bigint, offsetSeconds = localOffsetSeconds(ns)): GoTime {
    let secs = ns / 1_000_000_000n;
    let rest = ns % 1_000_000_000n;
    if (rest < 0n) {
      rest += 1_000_000_000n;
      secs -= 1n;
    }
    return new GoTime(Number(secs), Number(rest), offsetSeconds);
  }

  static now(): GoTime {
    const ns = process.hrtime.bigint(); // monotonic: only for the sub-ms digits
    const ms = Date.now();
    const sub = Number(ns % 1_000_000n);
    const secs = Math.floor(ms / 1000);
    return new GoTime(secs, (ms - secs * 1000) * 1_000_000 + sub, -new Date(ms).getTimezoneOffset() * 60);
  }

  get unixNanos(): bigint {
    return BigInt(this.unixSeconds) * 1_000_000_000n + BigInt(this.nanos);
  }

  toDate(): Date {
    return new Date(this.unixSeconds * 1000 + Math.floor(this.nanos / 1_000_000));
  }

  /** Same instant, other offset. */
  withOffset(offsetSeconds: number): GoTime {
    return new GoTime(this.unixSeconds, this.nanos, offsetSeconds);
  }

  /** The wall clock in this time's own offset (what Go's t.Date()/t.Clock() return). */
  wall(): WallClock {
    const d = new Date((this.unixSeconds + this.offsetSeconds) * 1000);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      nanosecond: this.nanos,
      weekday: d.getUTCDay(),
    };
  }

  /** ISO 8601 week (Go's t.ISOWeek()). */
  isoWeek(): { year: number; week: number } {
    const w = this.wall();
    const d = new Date(utcMs(w.year, w.month - 1, w.day, 0, 0, 0));
    const dayNum = (w.weekday + 6) % 7; // Monday = 0
    d.setUTCDate(d.getUTCDate() - dayNum + 3); // Thursday of this week decides the year
    const isoYear = d.getUTCFullYear();
    const firstThursday = new Date(utcMs(isoYear, 0, 4, 0, 0, 0));
    const firstDayNum = (firstThursday.getUTCDay() + 6) % 7;
    firstThursday.setUTCDate(firstThursday.getUTCDate() - firstDayNum + 3);
    const week = 1 + Math.round((d.getTime() - firstThursday.getTime()) / (7 * 86400_000));
    return { year: isoYear, week };
  }

  /** Go's t.AddDate: wall-clock arithmetic with overflow normalised (Mar 31 - 1 month = Mar 2/3). */
  addDate(years: number, months: number, days: number): GoTime {
    const w = this.wall();
    const local = utcMs(w.year + years, w.month - 1 + months, w.day + days, w.hour, w.minute, w.second);
    return new GoTime(local / 1000 - this.offsetSeconds, this.nanos, this.offsetSeconds);
  }

  addSeconds(seconds: number): GoTime {
    return new GoTime(this.unixSeconds + seconds, this.nanos, this.offsetSeconds);
  }

  /** Negative, zero or positive as this instant is before, equal to or after `other`. */
  compare(other: GoTime): number {
    if (this.unixSeconds !== other.unixSeconds) return this.unixSeconds < other.unixSeconds ? -1 : 1;
    return this.nanos === other.nanos ? 0 : this.nanos < other.nanos ? -1 : 1;
  }

  isBefore(other: GoTime): boolean {
    return this.compare(other) < 0;
  }

  isAfter(other: GoTime): boolean {
    return this.compare(other) > 0;
  }

  /** Go's time.RFC3339Nano formatting. */
  toString(): string {
    const w = this.wall();
    let s = `${pad(w.year, 4)}-${pad(w.month, 2)}-${pad(w.day, 2)}T${pad(w.hour, 2)}:${pad(w.minute, 2)}:${pad(w.second, 2)}`;
    if (this.nanos !== 0) s += '.' + String(this.nanos).padStart(9, '0').replace(/0+$/, '');
    return s + formatOffset(this.offsetSeconds);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Milliseconds for a UTC wall clock; out-of-range months/days roll over as in Go's time.Date. */
function utcMs(year: number, month0: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day); // unlike Date.UTC, keeps years 0..99 as they are
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

function pad(n: number, width: number): string {
  return n < 0 ? '-' + String(-n).padStart(width, '0') : String(n).padStart(width, '0');
}

function formatOffset(offsetSeconds: number): string {
  if (offsetSeconds === 0) return 'Z';
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  return `${sign}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor((abs % 3600) / 60), 2)}`;
}

/**
 * The local zone's UTC offset at an instant. Asking `Date` costs microseconds and a backup asks
 * twice per file, so offsets are cached per 15-minute span — but only for spans whose start and
 * end have the same offset (a span with a zone transition inside is always computed exactly).
 */
const OFFSET_SPAN_MS = 15 * 60 * 1000;
const offsetCache = new Map<number, number>();

function offsetAtMs(ms: number): number {
  return -new Date(ms).getTimezoneOffset() * 60;
}

let offsetCacheZone: string | undefined;

function localOffsetSeconds(ns: bigint): number {
  // Node applies a TZ assigned at run time: the cache belongs to one zone.
  const zone = process.env.TZ;
  if (zone !== offsetCacheZone) {
    offsetCache.clear();
    offsetCacheZone = zone;
  }
  const ms = Number(ns / 1_000_000n);
  const span = Math.floor(ms / OFFSET_SPAN_MS);
  const cached = offsetCache.get(span);
  if (cached !== undefined) return cached;
  const start = offsetAtMs(span * OFFSET_SPAN_MS);
  if (start !== offsetAtMs((span + 1) * OFFSET_SPAN_MS - 1)) return offsetAtMs(ms);
  if (offsetCache.size >= 4096) offsetCache.clear();
  offsetCache.set(span, start);
  return start;
}
