/**
 * Parsing the TIME of `--as-of`, `rollback --to` and `audit --since`.
 *
 * Accepted: RFC 3339 (`2026-11-26T13:05:00Z`, `…+01:00`, fractional seconds allowed) and
 * restic's `--time` form `YYYY-MM-DD HH:MM:SS` in local time. The result is an instant in
 * milliseconds, the precision S3 listings give LastModified in.
 */
import { ResticError } from '../errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/**
 * The instant `text` names, in ms since the epoch. `what` names the flag in messages
 * (`--as-of`). A malformed or impossible date (Feb 30) is a USAGE error.
 */
export function parseTimeArgument(text: string, what: string): number {
  const s = text.trim();
  const bad = (why: string) =>
    new ResticError('USAGE', `invalid ${what} ${JSON.stringify(text)}: ${why} (want RFC 3339 like "2026-11-26T13:05:00Z" or local time "2026-11-26 14:05:00")`);
  let m = RFC3339.exec(s);
  let ms: number;
  let fields: number[];
  if (m) {
    fields = m.slice(1, 7).map(Number);
    const [y, mo, d, h, mi, sec] = fields;
    const offsetMin = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
    ms = Date.UTC(y, mo - 1, d, h, mi, sec) - offsetMin * 60_000;
    if (!sameFields(new Date(Date.UTC(y, mo - 1, d, h, mi, sec)), fields, true)) throw bad('no such date or time');
  } else if ((m = LOCAL.exec(s))) {
    fields = m.slice(1, 7).map(Number);
    const [y, mo, d, h, mi, sec] = fields;
    const local = new Date(y, mo - 1, d, h, mi, sec);
    if (!sameFields(local, fields, false)) throw bad('no such local date or time');
    ms = local.getTime();
  } else {
    throw bad('unrecognised format');
  }
  const frac = m[7];
  if (frac) ms += Math.floor(Number(frac.padEnd(9, '0')) / 1_000_000);
  if (!Number.isFinite(ms)) throw bad('out of range');
  return ms;
}

function sameFields(date: Date, [y, mo, d, h, mi, s]: number[], utc: boolean): boolean {
  const got = utc
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()];
  return got[0] === y && got[1] === mo && got[2] === d && got[3] === h && got[4] === mi && got[5] === s;
}

/** Refuses a time after `nowMs` (a view of the future is a typo, not a request). */
export function rejectFutureTime(timeMs: number, nowMs: number, what: string, text: string): void {
  if (timeMs > nowMs) {
    throw new ResticError('USAGE', `${what} ${JSON.stringify(text)} is in the future (now is ${new Date(nowMs).toISOString()}); give a time before now`);
  }
}

/** `2026-11-26T13:05:00.123Z`, how times are shown in plans and reports. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}
