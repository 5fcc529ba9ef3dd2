/**
 * Object-lock retention of repository objects: looking it up (cached, a few HEADs at a time),
 * extending it for everything a kept snapshot still needs (`s3 retention extend`), and the
 * hooks prune uses to plan around objects that cannot be freed yet.
 *
 * Facts this relies on (radosgw 16 and AWS alike):
 * - HeadObject gives ObjectLockMode and ObjectLockRetainUntilDate of the current version
 *   (on AWS only with s3:GetObjectRetention; without it they are simply absent).
 * - PutObjectRetention on a version may lengthen the retain-until date; shortening is
 *   refused (GOVERNANCE without bypass, COMPLIANCE always). It writes no new version.
 * - On a versioned bucket a plain DeleteObject of a locked object succeeds: it adds a delete
 *   marker and the locked version stays (and stays billed) until its date has passed and a
 *   lifecycle rule expires it. So prune never fails on a locked object; it just cannot free
 *   its bytes before the date. Repacking a locked pack is worse than useless: the old pack
 *   stays stored until its date and the copy is stored too.
 */
import { GetObjectLockConfigurationCommand, HeadObjectCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3';
import { relativePath, type FileType } from '../backend/backend.js';
import type { RetentionMode, S3Backend } from '../backend/s3.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import { collectUsedBlobs, type PrunePlan } from '../maintenance/prune.js';
import { blobKey } from '../maintenance/used-blobs.js';
import type { Repository } from '../repository/repository.js';

export const DAY_MS = 86_400_000;

export interface RetentionInfo {
  versionId?: string;
  mode?: RetentionMode;
  /** Retain-until, ms since the epoch; undefined when the object has no retention. */
  until?: number;
  size: number;
}

/** Runs `fn` over `items`, `concurrency` at a time, keeping the order of results. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** Retention of repository objects by HEAD, each asked at most once (one HEAD per object). */
export class RetentionLookup {
  private readonly cache = new Map<string, Promise<RetentionInfo | undefined>>();
  /** HEAD requests sent so far (the cost, reported by prune and the tests). */
  requests = 0;

  constructor(
    readonly s3: S3Backend,
    private readonly concurrency = 8,
  ) {}

  /** undefined when the object does not exist. */
  get(type: FileType, name: string): Promise<RetentionInfo | undefined> {
    const key = this.s3.objectKey(type, name);
    let p = this.cache.get(key);
    if (!p) {
      p = this.head(key, relativePath(type, name));
      this.cache.set(key, p);
    }
    return p;
  }

  async many(files: readonly { type: FileType; name: string }[]): Promise<(RetentionInfo | undefined)[]> {
    return mapConcurrent(files, this.concurrency, (f) => this.get(f.type, f.name));
  }

  private async head(key: string, file: string): Promise<RetentionInfo | undefined> {
    this.requests++;
    try {
      const res = await this.s3.client.send(new HeadObjectCommand({ Bucket: this.s3.bucket, Key: key }));
      const info: RetentionInfo = { size: res.ContentLength ?? 0 };
      if (res.VersionId !== undefined && res.VersionId !== 'null') info.versionId = res.VersionId;
      if (res.ObjectLockMode === 'GOVERNANCE' || res.ObjectLockMode === 'COMPLIANCE') info.mode = res.ObjectLockMode;
      if (res.ObjectLockRetainUntilDate) info.until = res.ObjectLockRetainUntilDate.getTime();
      return info;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw this.s3.mapError(err, 'read the retention of', key, file);
    }
  }
}

export type ObjectLockState = { enabled: true; defaultMode?: RetentionMode; defaultDays?: number } | { enabled: false } | { enabled: 'unknown'; reason: string };

/** The bucket's object lock configuration; `unknown` when these credentials may not read it. */
export async function bucketObjectLock(s3: S3Backend): Promise<ObjectLockState> {
  try {
    const res = await s3.client.send(new GetObjectLockConfigurationCommand({ Bucket: s3.bucket }));
    const cfg = res.ObjectLockConfiguration;
    if (cfg?.ObjectLockEnabled !== 'Enabled') return { enabled: false };
    const d = cfg.Rule?.DefaultRetention;
    const state: ObjectLockState = { enabled: true };
    if (d?.Mode === 'GOVERNANCE' || d?.Mode === 'COMPLIANCE') state.defaultMode = d.Mode;
    if (d?.Days !== undefined) state.defaultDays = d.Days;
    else if (d?.Years !== undefined) state.defaultDays = d.Years * 365;
    return state;
  } catch (err) {
    const e = err as { name?: string; Code?: string };
    const name = e.Code ?? e.name;
    if (name === 'ObjectLockConfigurationNotFoundError' || name === 'ObjectLockConfigurationNotFound') return { enabled: false };
    // A server without the object-lock API has no object lock (prune must still run there).
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) return { enabled: false };
    const mapped = s3.mapError(err, 'read the object lock configuration of', s3.bucket);
    if (mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH') return { enabled: 'unknown', reason: mapped.message };
    throw mapped;
  }
}

// ---------------------------------------------------------------------------------------------
// What a kept snapshot still needs

export interface RepositoryFile {
  type: FileType;
  name: string;
  size: number;
}

/**
 * Every file the snapshots in the repository still need: config, keys, snapshots, index
 * files, and each pack that holds a blob reachable from a snapshot (every copy of it).
 */
export async function referencedFiles(repo: Repository): Promise<RepositoryFile[]> {
  const files: RepositoryFile[] = [];
  for (const type of ['config', 'key', 'snapshot', 'index'] as const) {
    for await (const f of repo.backend.list(type)) files.push({ type, name: f.name, size: f.size });
  }
  const index = await repo.loadIndex();
  const { used } = await collectUsedBlobs(repo);
  const listed = new Map<Id, number>();
  for await (const f of repo.backend.list('pack')) listed.set(f.name, f.size);
  for (const packId of index.packIds()) {
    if (!index.blobsOfPack(packId).some((b) => used.has(blobKey(b.type, b.id)))) continue;
    const size = listed.get(packId);
    if (size !== undefined) files.push({ type: 'pack', name: packId, size });
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// s3 retention extend

export interface ExtendRetentionOptions {
  /** New retain-until = now + days. */
  days: number;
  /** Objects retained at least this many more days are left alone (default: half of `days`). */
  minRemainingDays?: number;
  /** Mode for objects without retention (default: the bucket's default mode, else GOVERNANCE). Objects keep their own mode. */
  mode?: RetentionMode;
  dryRun?: boolean;
  /** Now, ms (tests). */
  now?: number;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export type ExtendAction = 'extend' | 'skip' | 'missing';

export interface ExtendedFile {
  type: FileType;
  name: string;
  size: number;
  mode?: RetentionMode;
  /** Retain-until before (ms). */
  before?: number;
  /** Retain-until after (ms); equal to `before` for skipped files. */
  after?: number;
  action: ExtendAction;
}

export interface ExtendRetentionResult {
  dryRun: boolean;
  /** The new retain-until (ms). */
  target: number;
  /** Files retained past this (ms) were skipped. */
  threshold: number;
  files: ExtendedFile[];
  /** Per file type: how many extended / skipped / missing, and extended bytes. */
  counts: Record<string, { extend: number; skip: number; missing: number; bytes: number }>;
  /** Earliest retain-until among the needed files after the run (ms); undefined if none. */
  earliestAfter?: number;
  headRequests: number;
}

/**
 * Extends the retention of every object still needed (see referencedFiles) to now + days,
 * when less than minRemainingDays remain. Never shortens: only objects whose date is before
 * the threshold (≤ the target) are touched. Each object is re-checked with HEAD, and the
 * version seen is the one extended, so a concurrent overwrite is never extended blindly.
 */
export async function extendRetention(repo: Repository, s3: S3Backend, options: ExtendRetentionOptions): Promise<ExtendRetentionResult> {
  const days = options.days;
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new ResticError('USAGE', `invalid --days ${days}: want a whole number of days from 1 to 36500`);
  const minRemaining = options.minRemainingDays ?? Math.floor(days / 2);
  if (!Number.isFinite(minRemaining) || minRemaining < 0 || minRemaining > days) {
    throw new ResticError('USAGE', `invalid --min-remaining ${minRemaining}: want 0 to ${days} days (at most --days)`);
  }
  const lock = await bucketObjectLock(s3);
  if (lock.enabled === false) {
    throw new ResticError('UNSUPPORTED', `bucket "${s3.bucket}" at ${s3.endpointUrl} has no object lock: there is no retention to extend (object lock can only be enabled when a bucket is created)`);
  }
  const now = options.now ?? Date.now();
  const target = now + days * DAY_MS;
  const threshold = now + minRemaining * DAY_MS;
  const defaultMode: RetentionMode = options.mode ?? (lock.enabled === true ? lock.defaultMode : undefined) ?? 'GOVERNANCE';

  const files = await referencedFiles(repo);
  const lookup = new RetentionLookup(s3, options.concurrency ?? 8);
  let done = 0;
  const results = await mapConcurrent(files, options.concurrency ?? 8, async (f): Promise<ExtendedFile> => {
    const info = await lookup.get(f.type, f.name);
    const out: ExtendedFile = { type: f.type, name: f.name, size: f.size, action: 'skip' };
    if (!info) {
      out.action = 'missing';
    } else {
      if (info.mode) out.mode = info.mode;
      if (info.until !== undefined) out.before = out.after = info.until;
      if (info.until === undefined || info.until < threshold) {
        out.action = 'extend';
        out.mode = info.mode ?? defaultMode;
        out.after = target;
        if (!options.dryRun) await putRetention(s3, f, info.versionId, out.mode, target);
      }
    }
    options.onProgress?.(++done, files.length);
    return out;
  });
  const counts: ExtendRetentionResult['counts'] = {};
  let earliestAfter: number | undefined;
  for (const r of results) {
    const c = (counts[r.type] ??= { extend: 0, skip: 0, missing: 0, bytes: 0 });
    c[r.action]++;
    if (r.action === 'extend') c.bytes += r.size;
    if (r.action !== 'missing') earliestAfter = Math.min(earliestAfter ?? Infinity, r.after ?? now);
  }
  const result: ExtendRetentionResult = { dryRun: options.dryRun === true, target, threshold, files: results, counts, headRequests: lookup.requests };
  if (earliestAfter !== undefined) result.earliestAfter = earliestAfter;
  return result;
}

async function putRetention(s3: S3Backend, f: { type: FileType; name: string }, versionId: string | undefined, mode: RetentionMode, until: number): Promise<void> {
  const key = s3.objectKey(f.type, f.name);
  try {
    await s3.client.send(
      new PutObjectRetentionCommand({ Bucket: s3.bucket, Key: key, VersionId: versionId, Retention: { Mode: mode, RetainUntilDate: new Date(until) } }),
    );
  } catch (err) {
    const mapped = s3.mapError(err, 'extend the retention of', key, relativePath(f.type, f.name));
    if (mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH') {
      throw new ResticError('BACKEND_AUTH', `${mapped.message} (extending retention needs the s3:PutObjectRetention permission; nothing was shortened)`, { cause: err, file: relativePath(f.type, f.name) });
    }
    throw mapped;
  }
}

// ---------------------------------------------------------------------------------------------
// prune on an object-locked bucket

export interface RetainedFile {
  type: FileType;
  name: string;
  size: number;
  until: number;
  mode?: RetentionMode;
}

export interface PruneRetentionReport {
  /** Files prune deletes that stay stored until their retention lapses. */
  retained: RetainedFile[];
  retainedBytes: number;
  /** Latest retain-until among them (ms). */
  lastLapse?: number;
  /** Partly used packs kept instead of repacked because they are locked. */
  lockedNotRepacked: RetainedFile[];
  headRequests: number;
}

/**
 * Object-lock awareness for prune: `lockedPacks` (PruneOptions.lockedPacks) keeps locked
 * packs out of repacking; `report` says which deleted files stay stored (and until when).
 * Returns undefined when the bucket has no object lock (nothing to plan around).
 */
export async function pruneRetentionSupport(
  s3: S3Backend,
  options: { now?: number } = {},
): Promise<{ lockedPacks: (candidates: readonly Id[]) => Promise<ReadonlySet<Id>>; report: (repo: Repository, plan: PrunePlan) => Promise<PruneRetentionReport> } | undefined> {
  const lock = await bucketObjectLock(s3);
  if (lock.enabled === false) return undefined;
  const now = options.now ?? Date.now();
  const lookup = new RetentionLookup(s3);
  const locked = new Map<Id, RetainedFile>();
  return {
    lockedPacks: async (candidates) => {
      const infos = await lookup.many(candidates.map((name) => ({ type: 'pack' as const, name })));
      const out = new Set<Id>();
      candidates.forEach((id, i) => {
        const info = infos[i];
        if (info?.until !== undefined && info.until > now) {
          out.add(id);
          locked.set(id, { type: 'pack', name: id, size: info.size, until: info.until, ...(info.mode ? { mode: info.mode } : {}) });
        }
      });
      return out;
    },
    report: async (repo, plan) => {
      const going: { type: FileType; name: string }[] = [];
      for (const id of plan.removePacksFirst.keys()) going.push({ type: 'pack', name: id });
      for (const id of [...plan.removePacks, ...plan.repackPacks]) going.push({ type: 'pack', name: id });
      if (plan.removePacks.size + plan.repackPacks.size + plan.ignorePacks.size > 0) {
        for (const id of repo.index.indexFileIds()) going.push({ type: 'index', name: id });
      }
      const infos = await lookup.many(going);
      const retained: RetainedFile[] = [];
      going.forEach((f, i) => {
        const info = infos[i];
        if (info?.until !== undefined && info.until > now) retained.push({ ...f, size: info.size, until: info.until, ...(info.mode ? { mode: info.mode } : {}) });
      });
      const report: PruneRetentionReport = {
        retained,
        retainedBytes: retained.reduce((a, f) => a + f.size, 0),
        lockedNotRepacked: [...locked.values()].filter((f) => plan.decisions.get(f.name) === 'keep'),
        headRequests: lookup.requests,
      };
      if (retained.length > 0) report.lastLapse = Math.max(...retained.map((f) => f.until));
      return report;
    },
  };
}

/** Lock state of snapshot files `forget` deletes (they stay stored until their date). */
export async function retainedSnapshots(s3: S3Backend, ids: readonly Id[], now = Date.now()): Promise<RetainedFile[]> {
  const lookup = new RetentionLookup(s3);
  const infos = await lookup.many(ids.map((name) => ({ type: 'snapshot' as const, name })));
  const out: RetainedFile[] = [];
  ids.forEach((name, i) => {
    const info = infos[i];
    if (info?.until !== undefined && info.until > now) out.push({ type: 'snapshot', name, size: info.size, until: info.until, ...(info.mode ? { mode: info.mode } : {}) });
  });
  return out;
}
