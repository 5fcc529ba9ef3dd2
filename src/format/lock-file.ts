/**
 * Lock files (`locks/<id>`): `{"time","exclusive","hostname","username","pid","uid","gid"}`
 * in restic's struct order; uid/gid are omitted when 0. Stored encrypted like any unpacked file.
 */
import { GoTime } from './gotime.js';
import type { Id } from './id.js';
import { GoJsonObject, JsonReader, setOwn, wrapStackOverflow, type GoJsonOptions } from './json.js';
import { MAX_UINT32, matchField, readTimeField } from './node.js';

export interface LockInfo {
  time: GoTime;
  exclusive: boolean;
  hostname: string;
  username: string;
  /** Go int. */
  pid: number;
  uid?: number;
  gid?: number;
  /** Unknown fields: key → raw JSON text. */
  extra?: Record<string, string>;
}

const LOCK_FIELDS: ReadonlySet<string> = new Set(['time', 'exclusive', 'hostname', 'username', 'pid', 'uid', 'gid']);

/** Parses a lock file's plaintext; CORRUPT naming `locks/<id>` on bad JSON or bad fields. */
export function parseLock(data: Uint8Array | string, id?: Id): LockInfo {
  const file = id === undefined ? undefined : `locks/${id}`;
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  const r = new JsonReader(text, file ?? 'lock', file);
  try {
    if (r.peek() !== 'object') throw r.typeError(`expected a JSON object, got ${r.peek()}`);
    const lock: LockInfo = { time: GoTime.parse('0001-01-01T00:00:00Z'), exclusive: false, hostname: '', username: '', pid: 0 };
    const extra: Record<string, string> = {};
    let hasExtra = false;
    const str = (field: string): string | undefined => {
      if (r.readNull()) return undefined;
      if (r.peek() !== 'string') throw r.typeError(`field ${field}: expected a string, got ${r.peek()}`);
      return r.readString();
    };
    r.beginObject();
    for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) {
      switch (matchField(key, LOCK_FIELDS)) {
        case 'time':
          lock.time = readTimeField(r, 'time') ?? lock.time;
          break;
        case 'exclusive':
          if (!r.readNull()) {
            if (r.peek() !== 'boolean') throw r.typeError(`field exclusive: expected a boolean, got ${r.peek()}`);
            lock.exclusive = r.readBoolean();
          }
          break;
        case 'hostname':
          lock.hostname = str('hostname') ?? lock.hostname;
          break;
        case 'username':
          lock.username = str('username') ?? lock.username;
          break;
        case 'pid':
          if (!r.readNull()) lock.pid = Number(r.readSigned('pid', -(2n ** 63n), 2n ** 63n - 1n));
          break;
        case 'uid':
          if (!r.readNull()) lock.uid = Number(r.readUnsigned('uid', MAX_UINT32));
          break;
        case 'gid':
          if (!r.readNull()) lock.gid = Number(r.readUnsigned('gid', MAX_UINT32));
          break;
        default:
          setOwn(extra, key, r.readRaw());
          hasExtra = true;
      }
    }
    r.finish();
    if (hasExtra) lock.extra = extra;
    return lock;
  } catch (err) {
    throw wrapStackOverflow(err, r);
  }
}

/** The lock JSON as restic writes it (no trailing newline). */
export function encodeLock(lock: LockInfo, options: GoJsonOptions = {}): string {
  return new GoJsonObject(options)
    .time('time', lock.time)
    .bool('exclusive', lock.exclusive)
    .string('hostname', lock.hostname)
    .string('username', lock.username)
    .number('pid', lock.pid)
    .number('uid', lock.uid, true)
    .number('gid', lock.gid, true)
    .extra(lock.extra, LOCK_FIELDS)
    .toString();
}
