/**
 * The point-in-time view (`--as-of TIME`): a read-only Backend over an S3Backend that shows
 * the repository as it stood at TIME, from object versions.
 *
 * The history is listed once when the view opens: a file is present when the newest event
 * of its key at or before TIME is a version (not a delete marker), with that version's
 * size; reads are GetObject with that VersionId (byte ranges too). Nothing can be written
 * or removed through it. It deliberately exposes no `inner` backend, so nothing that walks
 * the decorator chain can reach the writable S3Backend beneath.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { relativePath, type Backend, type ByteRange, type FileInfo, type FileType } from '../backend/backend.js';
import { checkRange, fileNotFound, truncated } from '../backend/errors.js';
import { innermostBackend } from '../backend/open.js';
import { S3Backend } from '../backend/s3.js';
import { ResticError } from '../errors.js';
import { formatInstant } from './time.js';
import { listVersionHistory, presentAt, requireVersionedHistory, type VersionEvent, type VersionHistory } from './version-history.js';

export interface AsOfOptions {
  /** "Now" for the future check (default Date.now()). */
  now?: number;
  /** A history already listed (otherwise listed here). */
  history?: VersionHistory;
  /** The time as the user wrote it, for messages (default ISO form). */
  timeText?: string;
  pageSize?: number;
}

/**
 * Opens the repository under `s3` as it was at `timeMs`. Refuses (USAGE) a time in the
 * future or one at which the prefix held no `config` (before the repository existed, or
 * while its config was deleted); NOT_VERSIONED when the bucket keeps no history.
 */
export async function openAsOf(s3: S3Backend, timeMs: number, options: AsOfOptions = {}): Promise<PointInTimeBackend> {
  const text = options.timeText ?? formatInstant(timeMs);
  const now = options.now ?? Date.now();
  if (timeMs > now) {
    throw new ResticError('USAGE', `--as-of ${JSON.stringify(text)} is in the future (now is ${formatInstant(now)}); give a time before now`);
  }
  const history = options.history ?? (await listVersionHistory(s3, { pageSize: options.pageSize }));
  await requireVersionedHistory(s3, history, 'a point-in-time view');
  const view = new PointInTimeBackend(s3, history, timeMs);
  if (!view.has('config', 'config')) {
    const configKey = history.keys.find((k) => k.file?.type === 'config');
    const firstWrite = configKey?.events.find((e) => e.kind === 'version');
    let why: string;
    if (!firstWrite) why = `there is no repository under ${s3.location} at any time (no config object in the version history)`;
    else if (firstWrite.time > timeMs) why = `the repository did not exist yet: its config was first written at ${formatInstant(firstWrite.time)}`;
    else why = `the repository's config object was deleted at that time`;
    throw new ResticError('USAGE', `nothing to show as of ${text} (${formatInstant(timeMs)}): ${why}`, { file: 'config' });
  }
  return view;
}

export class PointInTimeBackend implements Backend {
  readonly location: string;
  readonly timeMs: number;
  /** "type/name" → the version visible at timeMs. */
  private readonly files = new Map<string, VersionEvent>();

  constructor(
    private readonly s3: S3Backend,
    history: VersionHistory,
    timeMs: number,
  ) {
    this.timeMs = timeMs;
    this.location = `${s3.location} as of ${formatInstant(timeMs)}`;
    for (const k of history.keys) {
      if (!k.file) continue;
      const v = presentAt(k, timeMs);
      if (v) this.files.set(`${k.file.type}/${k.file.name}`, v);
    }
  }

  has(type: FileType, name: string): boolean {
    return this.files.has(`${type}/${name}`);
  }

  /** The version a file had at the view's time (undefined when absent). */
  versionOf(type: FileType, name: string): VersionEvent | undefined {
    return this.files.get(`${type}/${name}`);
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const prefix = `${type}/`;
    for (const [k, v] of this.files) if (k.startsWith(prefix)) yield { name: k.slice(prefix.length), size: v.size };
  }

  async stat(type: FileType, name: string): Promise<FileInfo> {
    const v = this.files.get(`${type}/${name}`);
    if (!v) throw fileNotFound(this.location, type, name);
    return { name, size: v.size };
  }

  async read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    const v = this.files.get(`${type}/${name}`);
    if (!v) throw fileNotFound(this.location, type, name);
    if (range !== undefined) {
      checkRange(range);
      if (range.offset + range.length > v.size) throw truncated(this.location, type, name, v.size, range.offset, range.length);
      if (range.length === 0) return new Uint8Array(0);
    }
    const file = relativePath(type, name);
    try {
      const res = await this.s3.client.send(
        new GetObjectCommand({
          Bucket: this.s3.bucket,
          Key: v.key,
          VersionId: v.versionId,
          Range: range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined,
        }),
      );
      const body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
      const want = range ? range.length : v.size;
      if (body.length !== want) {
        throw new ResticError('CORRUPT', `${file} (version ${v.versionId}) in ${this.location}: got ${body.length} bytes, expected ${want}`, { file });
      }
      return body;
    } catch (err) {
      if (err instanceof ResticError) throw err;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) {
        // The version was listed a moment ago: it has been deleted since (lifecycle expiry or an admin).
        throw new ResticError('FILE_NOT_FOUND', `${file} version ${v.versionId} in ${this.location} is gone (deleted since the view was opened)`, {
          file,
          cause: err,
        });
      }
      throw this.s3.mapError(err, `read version ${v.versionId} of`, v.key, file);
    }
  }

  write(type: FileType, name: string, _data: Uint8Array): Promise<void> {
    return Promise.reject(readOnly(this.location, `write ${relativePath(type, name)}`));
  }

  remove(type: FileType, name: string): Promise<void> {
    return Promise.reject(readOnly(this.location, `remove ${relativePath(type, name)}`));
  }

  create(): Promise<void> {
    return Promise.reject(readOnly(this.location, 'create a repository'));
  }

  /** The S3 connection belongs to whoever opened the S3Backend. */
  async close(): Promise<void> {}
}

function readOnly(location: string, what: string): ResticError {
  return new ResticError('UNSUPPORTED', `cannot ${what}: the point-in-time view ${location} is read-only (drop --as-of to change the repository)`);
}

/**
 * The S3Backend under a decorated backend (retry, limits), or a USAGE error naming the
 * feature when the repository is not on S3.
 */
export function requireS3Backend(backend: Backend, what: string): S3Backend {
  const inner = innermostBackend(backend);
  if (!(inner instanceof S3Backend)) {
    throw new ResticError('USAGE', `${what} needs a repository in a versioned S3 bucket (s3:…); ${backend.location} is not on S3`);
  }
  return inner;
}
