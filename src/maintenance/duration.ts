/**
 * restic's calendar duration (`--keep-within 1y2m3d4h`): years, months, days and hours,
 * each kept separately because the forget policy applies them with Go's AddDate (calendar
 * arithmetic), not as a fixed number of seconds.
 *
 * Parsing follows restic's `data.ParseDuration` (internal/data/duration.go): surrounding
 * white space is trimmed, then `<number><unit>` pairs follow without separators; a number may
 * carry one leading `-`; digits are ASCII only; units are `y`, `m`, `d`, `h`; a unit given
 * twice keeps the last value; order is free (`5d7m` = `7m5d`). The empty string is the zero
 * duration. Error texts are restic's, so the CLI can print what restic prints.
 */
import { ResticError } from '../errors.js';

export interface DurationParts {
  years?: number;
  months?: number;
  days?: number;
  hours?: number;
}

export class Duration {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;

  constructor(parts: DurationParts = {}) {
    this.years = parts.years ?? 0;
    this.months = parts.months ?? 0;
    this.days = parts.days ?? 0;
    this.hours = parts.hours ?? 0;
    for (const [name, value] of Object.entries(this) as [string, number][]) {
      if (!Number.isSafeInteger(value)) throw new RangeError(`duration ${name} must be an integer, got ${value}`);
    }
  }

  /**
   * Parses restic's duration syntax. Throws ResticError USAGE; with `flag` (e.g.
   * `--keep-within`) the message is the one restic's flag parser prints.
   */
  static parse(text: string, flag?: string): Duration {
    return parseDuration(text, flag);
  }

  /** All parts zero: restic treats such a duration as "not set". */
  isZero(): boolean {
    return this.years === 0 && this.months === 0 && this.days === 0 && this.hours === 0;
  }

  /** As restic prints it: `1y2m3d4h`, zero parts left out, the zero duration as ``. */
  toString(): string {
    let s = '';
    if (this.years !== 0) s += `${this.years}y`;
    if (this.months !== 0) s += `${this.months}m`;
    if (this.days !== 0) s += `${this.days}d`;
    if (this.hours !== 0) s += `${this.hours}h`;
    return s;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** See {@link Duration.parse}. */
export function parseDuration(text: string, flag?: string): Duration {
  const problem = durationProblem(text);
  if (typeof problem !== 'string') return problem;
  const message =
    flag === undefined
      ? `invalid duration ${goQuote(text)}: ${problem}`
      : `invalid argument ${goQuote(text)} for ${goQuote(flag)} flag: ${problem}`;
  throw new ResticError('USAGE', message);
}

/** The parsed duration, or restic's error text. */
function durationProblem(text: string): Duration | string {
  const parts = { years: 0, months: 0, days: 0, hours: 0 };
  let rest = trimGoSpace(text);
  while (rest !== '') {
    let pos = 0;
    const negative = rest[0] === '-';
    if (negative) pos = 1;
    const digitsStart = pos;
    while (pos < rest.length && rest[pos] >= '0' && rest[pos] <= '9') pos++;
    const digits = rest.slice(digitsStart, pos);
    if (digits === '') return 'no number found';
    let num = Number(digits);
    // restic's strconv.Atoi panics past int64; we refuse anything JS cannot count exactly.
    if (!Number.isSafeInteger(num)) return `number ${negative ? '-' : ''}${digits} is too large`;
    if (negative) num = -num;
    rest = rest.slice(pos);
    if (rest === '') return `no unit found after number ${num}`;
    switch (rest[0]) {
      case 'y':
        parts.years = num;
        break;
      case 'm':
        parts.months = num;
        break;
      case 'd':
        parts.days = num;
        break;
      case 'h':
        parts.hours = num;
        break;
      default:
        return `invalid unit ${goQuoteByte(firstUtf8Byte(rest))} found after number ${num}`;
    }
    rest = rest.slice(1);
  }
  return new Duration(parts);
}

/** Go's unicode.IsSpace set, which strings.TrimSpace uses (JS trim() also strips U+FEFF). */
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function trimGoSpace(s: string): string {
  return s.replace(GO_SPACE, '');
}

/** restic reports the unit as the first byte of the rest, which for non-ASCII is a UTF-8 lead byte. */
function firstUtf8Byte(s: string): number {
  const cp = s.codePointAt(0) ?? 0;
  return Buffer.from(String.fromCodePoint(cp), 'utf8')[0];
}

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };

/** Go's `%q` of a byte value: a rune literal such as 'w', 'Ã', '\x01', '\u0085'. */
function goQuoteByte(b: number): string {
  if (b === 0x27) return "'\\''";
  if (b === 0x5c) return "'\\\\'";
  if (SHORT_ESCAPES[b]) return `'${SHORT_ESCAPES[b]}'`;
  if (b < 0x20 || b === 0x7f) return `'\\x${b.toString(16).padStart(2, '0')}'`;
  // U+0080..U+009F (controls), U+00A0 (no-break space) and U+00AD (soft hyphen) are not printable in Go.
  if ((b >= 0x80 && b <= 0xa0) || b === 0xad) return `'\\u${b.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(b)}'`;
}

/**
 * Go's `%q` of a string, for the argument echoed in the error. Non-printable characters are
 * approximated by Unicode categories C and Z (except the ASCII space), as Go's IsPrint does.
 */
const NON_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (SHORT_ESCAPES[c]) out += SHORT_ESCAPES[c];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out + '"';
}
