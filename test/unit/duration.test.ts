import { describe, expect, it } from 'vitest';
import { Duration, parseDuration } from '../../src/maintenance/duration.js';
import { resticErrorMessage } from '../support/errors.js';

const usageMessage = (fn: () => unknown): string => resticErrorMessage(fn, 'USAGE');

describe('Duration.parse', () => {
  // Inputs and expectations of restic's TestParseDuration (internal/data/duration_test.go).
  it.each([
    ['9h', { hours: 9 }, '9h'],
    ['3d', { days: 3 }, '3d'],
    ['4d2h', { days: 4, hours: 2 }, '4d2h'],
    ['7m5d', { months: 7, days: 5 }, '7m5d'],
    ['6m4d8h', { months: 6, days: 4, hours: 8 }, '6m4d8h'],
    ['5d7m', { months: 7, days: 5 }, '7m5d'],
    ['4h3d9m', { months: 9, days: 3, hours: 4 }, '9m3d4h'],
    ['-7m5d', { months: -7, days: 5 }, '-7m5d'],
    ['1y4m-5d-3h', { years: 1, months: 4, days: -5, hours: -3 }, '1y4m-5d-3h'],
    ['2y7m-5d', { years: 2, months: 7, days: -5 }, '2y7m-5d'],
  ])('parses %j', (input, parts, printed) => {
    const d = parseDuration(input);
    expect({ years: d.years, months: d.months, days: d.days, hours: d.hours }).toEqual({
      years: 0,
      months: 0,
      days: 0,
      hours: 0,
      ...parts,
    });
    expect(d.toString()).toBe(printed);
  });

  it('trims surrounding white space (Go strings.TrimSpace), keeps the last of a repeated unit', () => {
    expect(parseDuration('  1y2m\t\n').toString()).toBe('1y2m');
    expect(parseDuration('\u00a05d\u3000').toString()).toBe('5d');
    expect(parseDuration('1d2d').toString()).toBe('2d');
    expect(parseDuration('0d').isZero()).toBe(true);
    expect(parseDuration('').isZero()).toBe(true);
    expect(parseDuration('1y0m').toString()).toBe('1y');
  });

  // Messages checked against restic 0.14.0: `restic forget --keep-within <input>`.
  it.each([
    ['2w', "invalid unit 'w' found after number 2"],
    ['1y4m3w1d', "invalid unit 'w' found after number 3"],
    ['s', 'no number found'],
    ['\u07c0', 'no number found'], // NKO DIGIT ZERO: only ASCII digits count
    ['5', 'no unit found after number 5'],
    ['-', 'no number found'],
    ['--5d', 'no number found'],
    ['+5d', 'no number found'],
    ['5d 3h', 'no number found'],
    ['5é', "invalid unit 'Ã' found after number 5"],
    ['5\u0001', "invalid unit '\\x01' found after number 5"],
    ['5\n1', "invalid unit '\\n' found after number 5"],
    ["5'", "invalid unit '\\'' found after number 5"],
    ['-3x', "invalid unit 'x' found after number -3"],
  ])('rejects %j like restic', (input, problem) => {
    expect(usageMessage(() => parseDuration(input, '--keep-within'))).toBe(
      `invalid argument ${JSON.stringify(input).replace(/\\u0001/, '\\x01')} for "--keep-within" flag: ${problem}`,
    );
    expect(usageMessage(() => Duration.parse(input))).toContain(problem);
  });

  it('trims U+0085 as Go does and quotes it as restic 0.14 prints it', () => {
    expect(usageMessage(() => parseDuration('5\u0085', '--keep-within'))).toBe(
      'invalid argument "5\\u0085" for "--keep-within" flag: no unit found after number 5',
    );
  });

  it('names the duration when no flag is given', () => {
    expect(usageMessage(() => parseDuration('2w'))).toBe(`invalid duration "2w": invalid unit 'w' found after number 2`);
  });

  it('refuses numbers JS cannot count exactly (restic 0.14 panics on int64 overflow)', () => {
    expect(usageMessage(() => parseDuration('99999999999999999999d'))).toBe(
      'invalid duration "99999999999999999999d": number 99999999999999999999 is too large',
    );
  });
});

describe('Duration', () => {
  it('prints zero parts left out and the zero duration as the empty string', () => {
    expect(new Duration({ years: 1, days: 3 }).toString()).toBe('1y3d');
    expect(new Duration().toString()).toBe('');
    expect(new Duration().isZero()).toBe(true);
    expect(new Duration({ hours: -1 }).isZero()).toBe(false);
    expect(JSON.stringify({ d: new Duration({ months: 2, hours: 2 }) })).toBe('{"d":"2m2h"}');
  });

  it('refuses non-integer parts', () => {
    expect(() => new Duration({ days: 1.5 })).toThrow(RangeError);
  });
});
