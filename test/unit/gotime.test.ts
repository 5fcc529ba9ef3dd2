import { describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';

describe('GoTime', () => {
  it('round-trips the timestamps restic writes, byte for byte', () => {
    for (const s of [
      '2015-11-10T22:09:48.754006018+01:00',
      '2015-07-24T21:22:11.98505889+02:00',
      '2020-01-02T03:04:05Z',
      '0001-01-01T00:00:00Z',
      '2023-05-01T10:00:00.1-07:30',
    ]) {
      expect(GoTime.parse(s).toString()).toBe(s);
    }
  });

  it('keeps the wall clock in the offset the time was written with', () => {
    const t = GoTime.parse('2016-01-01T00:30:00+01:00');
    expect(t.wall()).toMatchObject({ year: 2016, month: 1, day: 1, hour: 0 });
    expect(t.withOffset(0).wall()).toMatchObject({ year: 2015, month: 12, day: 31, hour: 23 });
  });

  it('normalises month overflow as Go AddDate does', () => {
    expect(GoTime.parse('2016-03-31T10:00:00+02:00').addDate(0, -1, 0).toString()).toBe('2016-03-02T10:00:00+02:00');
  });

  it('computes ISO weeks', () => {
    expect(GoTime.parse('2014-12-29T10:00:00Z').isoWeek()).toEqual({ year: 2015, week: 1 });
    expect(GoTime.parse('2016-01-03T10:00:00Z').isoWeek()).toEqual({ year: 2015, week: 53 });
  });

  it('rejects malformed text with a CORRUPT error', () => {
    expect(() => GoTime.parse('yesterday')).toThrow(/invalid timestamp/);
    for (const bad of ['2020-02-30T00:00:00Z', '2020-01-01T24:00:00Z', '2020-01-01T10:60:00Z', '2020-01-01T10:00:00+24:00']) {
      expect(() => GoTime.parse(bad), bad).toThrow(/out of range/);
    }
  });

  it('local offsets from the per-span cache equal those of Date, around zone transitions too', () => {
    const saved = process.env.TZ;
    try {
      for (const tz of ['Europe/Amsterdam', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC']) {
        process.env.TZ = tz; // Node re-reads the zone when TZ is assigned (and the cache is dropped)
        const direct = (ms: number) => -new Date(ms).getTimezoneOffset() * 60;
        // first an instant the previous zone left in the cache (see the end of the loop)
        const instants: number[] = [Date.UTC(2024, 6, 1)];
        let x = 0x2545f491;
        for (let i = 0; i < 3000; i++) {
          x = (x * 1103515245 + 12345) % 2 ** 31;
          instants.push(Math.floor((x / 2 ** 31) * 6.3e12) - 2.2e12); // 1900..2100
        }
        // every hour of 1937 (Amsterdam's odd-second LMT change) and of 2024 (DST changes), ±1 s
        for (const year of [1937, 2024]) {
          for (let ms = Date.UTC(year, 0, 1); ms < Date.UTC(year + 1, 0, 1); ms += 3_600_000) instants.push(ms - 1000, ms, ms + 1000);
        }
        for (const ms of instants) {
          const got = GoTime.fromUnixNanos(BigInt(ms) * 1_000_000n).offsetSeconds;
          if (got !== direct(ms)) expect({ tz, ms, got }).toEqual({ tz, ms, got: direct(ms) });
        }
        GoTime.fromUnixNanos(BigInt(Date.UTC(2024, 6, 1)) * 1_000_000n); // cached for the next zone
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
