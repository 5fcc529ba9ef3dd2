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
});
