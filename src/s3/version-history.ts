/**
 * The version history of a repository prefix in a versioned bucket: every object version
 * and delete marker under the prefix, grouped per key and ordered oldest → newest.
 *
 * Ordering facts this relies on (checked against radosgw 16 and AWS):
 * - ListObjectVersions gives LastModified with millisecond precision (HeadObject/GetObject
 *   only whole seconds), so times are always taken from the listing.
 * - Versions and delete markers come in two separate arrays; within each array one key's
 *   entries are listed newest first. Merging is by LastModified; within the same
 *   millisecond the entry flagged IsLatest is the newest, and otherwise each array's own
 *   order is kept. A version and a delete marker of one key in the same millisecond (and
 *   neither current) cannot be ordered from the listing; the delete marker is taken as the
 *   newer one.
 *
 * The pure part (`buildHistory`, `stateAt`) works on plain records so the rollback planner
 * and the audit can be tested with synthetic histories.
 */
import { GetBucketVersioningCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { FileType } from '../backend/backend.js';
import type { S3Backend } from '../backend/s3.js';
import { ResticError } from '../errors.js';

/** One entry of the listing: an object version or a delete marker. */
export interface VersionEvent {
  key: string;
  kind: 'version' | 'delete-marker';
  versionId: string;
  /** LastModified from the listing, ms since the epoch. */
  time: number;
  isLatest: boolean;
  /** Bytes (0 for a delete marker). */
  size: number;
  /** ETag as listed, quotes included (`''` for a delete marker). */
  etag: string;
}

export interface KeyHistory {
  key: string;
  /** The repository file the key names; undefined for a key that is not a repository file. */
  file?: { type: FileType; name: string };
  /** Oldest first; the last one is the current state. */
  events: VersionEvent[];
}

export interface VersionHistory {
  /** Keys in bytewise order. */
  keys: KeyHistory[];
  /** Time of the newest event (0 when empty). */
  newest: number;
  /** Time of the oldest event (0 when empty). */
  oldest: number;
}

/** Raw listing entries, as the two arrays of ListObjectVersions give them (page order). */
export interface RawListing {
  versions: Array<Omit<VersionEvent, 'kind'>>;
  deleteMarkers: Array<Omit<VersionEvent, 'kind' | 'size' | 'etag'>>;
}

/** Merges the two arrays into per-key histories (see the ordering rules above). */
export function buildHistory(raw: RawListing, keyToFile: (key: string) => { type: FileType; name: string } | undefined): VersionHistory {
  // Per key: the versions (newest first, as listed), then the delete markers (newest first).
  // An event's position in its own array is its rank (0 = newest): the tie-breaker.
  const byKey = new Map<string, { events: VersionEvent[]; versions: number }>();
  for (const v of raw.versions) {
    const event: VersionEvent = { key: v.key, kind: 'version', versionId: v.versionId, time: v.time, isLatest: v.isLatest, size: v.size, etag: v.etag };
    const entry = byKey.get(v.key);
    if (entry) {
      entry.events.push(event);
      entry.versions++;
    } else byKey.set(v.key, { events: [event], versions: 1 });
  }
  for (const m of raw.deleteMarkers) {
    const event: VersionEvent = { key: m.key, kind: 'delete-marker', versionId: m.versionId, time: m.time, isLatest: m.isLatest, size: 0, etag: '' };
    const entry = byKey.get(m.key);
    if (entry) entry.events.push(event);
    else byKey.set(m.key, { events: [event], versions: 0 });
  }

  const keys: KeyHistory[] = [];
  let newest = 0;
  let oldest = Number.POSITIVE_INFINITY;
  for (const [key, entry] of byKey) {
    let events = entry.events;
    if (events.length > 1) {
      const all = events;
      const rank = (i: number) => (i < entry.versions ? i : i - entry.versions);
      const order = all.map((_, i) => i);
      order.sort((i, j) => {
        const a = all[i];
        const b = all[j];
        if (a.time !== b.time) return a.time - b.time;
        if (a.isLatest !== b.isLatest) return a.isLatest ? 1 : -1;
        if (a.kind === b.kind) return rank(j) - rank(i); // higher rank = older
        return a.kind === 'delete-marker' ? 1 : -1;
      });
      events = order.map((i) => all[i]);
    }
    newest = Math.max(newest, events[events.length - 1].time);
    oldest = Math.min(oldest, events[0].time);
    const file = keyToFile(key);
    keys.push(file ? { key, file, events } : { key, events });
  }
  keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { keys, newest, oldest: keys.length === 0 ? 0 : oldest };
}

/** The newest event at or before `timeMs` (undefined: the key did not exist yet). */
export function stateAt(history: KeyHistory, timeMs: number): VersionEvent | undefined {
  let found: VersionEvent | undefined;
  for (const e of history.events) {
    if (e.time > timeMs) break;
    found = e;
  }
  return found;
}

/** The current state: the newest event. */
export function currentState(history: KeyHistory): VersionEvent {
  return history.events[history.events.length - 1];
}

/** True when the key held an object (not a delete marker, not nothing) at `timeMs`. */
export function presentAt(history: KeyHistory, timeMs: number): VersionEvent | undefined {
  const e = stateAt(history, timeMs);
  return e?.kind === 'version' ? e : undefined;
}

export type VersioningStatus = 'Enabled' | 'Suspended' | 'Off' | 'Unknown';

/** GetBucketVersioning; `Unknown` when these credentials may not ask (the history then decides). */
export async function bucketVersioning(s3: S3Backend): Promise<VersioningStatus> {
  try {
    const res = await s3.client.send(new GetBucketVersioningCommand({ Bucket: s3.bucket }));
    return res.Status === 'Enabled' || res.Status === 'Suspended' ? res.Status : 'Off';
  } catch (err) {
    const mapped = s3.mapError(err, 'get versioning of', s3.bucket);
    if (mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH') return 'Unknown';
    throw mapped;
  }
}

/** The key prefix of the repository (`prefix/`, or nothing at the bucket root). */
export function repositoryKeyPrefix(s3: S3Backend): string {
  return s3.prefix === '' ? '' : s3.prefix + '/';
}

export interface ListHistoryOptions {
  /** Page size (default the server's, 1000); smaller only for tests. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Lists every version and delete marker under the repository prefix (all pages). */
export async function listVersionHistory(s3: S3Backend, options: ListHistoryOptions = {}): Promise<VersionHistory> {
  const prefix = repositoryKeyPrefix(s3);
  const raw: RawListing = { versions: [], deleteMarkers: [] };
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    let page;
    try {
      page = await s3.client.send(
        new ListObjectVersionsCommand({
          Bucket: s3.bucket,
          Prefix: prefix === '' ? undefined : prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
          MaxKeys: options.pageSize,
        }),
      );
    } catch (err) {
      throw listError(s3, err, prefix);
    }
    for (const v of page.Versions ?? []) {
      if (v.Key === undefined || v.LastModified === undefined) continue;
      raw.versions.push({
        key: v.Key,
        versionId: v.VersionId ?? 'null',
        time: v.LastModified.getTime(),
        isLatest: v.IsLatest === true,
        size: v.Size ?? 0,
        etag: v.ETag ?? '',
      });
    }
    for (const m of page.DeleteMarkers ?? []) {
      if (m.Key === undefined || m.LastModified === undefined) continue;
      raw.deleteMarkers.push({ key: m.Key, versionId: m.VersionId ?? 'null', time: m.LastModified.getTime(), isLatest: m.IsLatest === true });
    }
    if (!page.IsTruncated) break;
    if (page.NextKeyMarker === keyMarker && page.NextVersionIdMarker === versionIdMarker) {
      throw new ResticError('FATAL', `ListObjectVersions on bucket "${s3.bucket}" returned the same page marker twice; giving up`);
    }
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  return buildHistory(raw, (key) => s3.keyToFile(key));
}

function listError(s3: S3Backend, err: unknown, prefix: string): Error {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.Code ?? e?.name;
  const status = e?.$metadata?.httpStatusCode;
  if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) {
    return new ResticError(
      'UNSUPPORTED',
      `the S3 server at ${s3.endpointUrl} does not support ListObjectVersions (${name ?? `HTTP ${status}`}): ` +
        'object versions cannot be listed, so no point-in-time view, rollback or audit is possible there',
      { cause: err },
    );
  }
  const mapped = s3.mapError(err, 'list object versions under', prefix === '' ? '(bucket root)' : prefix);
  if (mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH') {
    return new ResticError('BACKEND_AUTH', `${mapped.message} (listing object versions needs the s3:ListBucketVersions permission)`, { cause: err });
  }
  return mapped;
}

/**
 * Refuses a bucket that keeps no history: versioning never enabled and no non-current
 * version or delete marker under the prefix. Returns the status for callers that need
 * more (rollback wants Enabled).
 */
export async function requireVersionedHistory(s3: S3Backend, history: VersionHistory, what: string): Promise<VersioningStatus> {
  const status = await bucketVersioning(s3);
  if (status === 'Enabled' || status === 'Suspended') return status;
  const hasHistory = history.keys.some((k) => k.events.length > 1 || k.events.some((e) => e.kind === 'delete-marker' || e.versionId !== 'null'));
  if (status === 'Unknown' && hasHistory) return status;
  throw new ResticError(
    'NOT_VERSIONED',
    `bucket "${s3.bucket}" at ${s3.endpointUrl} ${status === 'Off' ? 'has versioning turned off' : 'keeps no object versions (versioning status could not be read)'}: ` +
      `it keeps no earlier versions of objects, so nothing can be recovered and ${what} is not possible. ` +
      'Enable versioning (see docs/securing-backups-on-s3.md) to protect future backups.',
  );
}
