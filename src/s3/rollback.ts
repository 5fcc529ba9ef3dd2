/**
 * Rollback of a repository prefix in a versioned bucket to how it stood at TIME.
 *
 * Planning is pure (a version history in, a list of changes out) so it can be tested with
 * synthetic histories, and it is always redone from a fresh listing: that makes applying
 * idempotent (a second run finds nothing to do) and resumable (an interrupted run is simply
 * planned and applied again).
 *
 * Per key, with T = the newest event at or before TIME and C = the current (newest) event:
 * - T is a version, C a version with the same ETag and size: nothing to do. (ETag and size
 *   from the listing say what a key holds; radosgw's CopyObject answer has no VersionId, so
 *   version ids are never used to recognise a copy. A multipart ETag changes form when
 *   copied, so such a pair of the same size is settled by hashing the content instead.)
 * - T is a version, C a different version: `restore-overwritten`, T is copied back on top.
 * - T is a version, C a delete marker: `restore-deleted`, T is copied back.
 * - T is nothing or a delete marker, C a version: `remove-added`, a plain DeleteObject (a
 *   delete marker; the version stays).
 * Lock files are special: a lock from before TIME belonged to a process that is gone, so a
 * lock is never restored; a lock present now is removed unless it is the very version
 * that was there at TIME. Locks present now and written after TIME may belong to a
 * running restic, so the caller refuses unless forced (`blockingLocks`).
 *
 * Applying never deletes an object version: restoring is CopyObject from `?versionId=`,
 * removing is a delete marker. So a rollback can itself be rolled back.
 */
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3';
import { sha256 } from '../crypto/index.js';
import { FILE_TYPES, type FileType } from '../backend/backend.js';
import type { S3Backend } from '../backend/s3.js';
import { ResticError } from '../errors.js';
import { currentState, stateAt, type KeyHistory, type VersionEvent, type VersionHistory } from './version-history.js';

/** Repository file types plus `other` for keys under the prefix that are not repository files. */
export type PlanFileType = FileType | 'other';
export const PLAN_FILE_TYPES: readonly PlanFileType[] = [...FILE_TYPES, 'other'];

export type RollbackAction = 'restore-overwritten' | 'restore-deleted' | 'remove-added';

export interface PlannedChange {
  key: string;
  type: PlanFileType;
  /** File name (ID or `config`), or the key relative to the prefix for `other`. */
  name: string;
  action: RollbackAction;
  /** For restores: the version copied back. */
  source?: VersionEvent;
  /** The current state (a version, or a delete marker for restore-deleted). */
  current: VersionEvent;
  /** Bytes copied back (restores) or hidden by the delete marker (removes). */
  bytes: number;
  /**
   * Set when the ETags may differ only in form: same size, one of them a multipart ETag
   * (`md5-N`). A copy of a multipart upload gets a plain MD5 ETag, so the listing cannot
   * tell whether the key already holds the old content; `confirmByContent` decides.
   */
  needsContentCheck?: boolean;
}

export interface TypeTotals {
  restore: number;
  restoreBytes: number;
  remove: number;
  removeBytes: number;
}

export interface RollbackPlan {
  timeMs: number;
  changes: PlannedChange[];
  /** Per file type: counts and bytes. */
  totals: Record<PlanFileType, TypeTotals>;
  /** Keys that already look as they did at TIME. */
  unchanged: number;
  /** Lock files present now whose current version was written after TIME. */
  blockingLocks: Array<{ name: string; key: string; time: number }>;
}

/** Plans the rollback of every key in `history` to its state at `timeMs` (see module doc). */
export function planRollback(history: VersionHistory, timeMs: number, prefix: string): RollbackPlan {
  const changes: PlannedChange[] = [];
  const blockingLocks: RollbackPlan['blockingLocks'] = [];
  let unchanged = 0;
  for (const k of history.keys) {
    const change = planKey(k, timeMs, prefix);
    if (change) changes.push(change);
    else unchanged++;
    const current = currentState(k);
    if (k.file?.type === 'lock' && current.kind === 'version' && current.time > timeMs) {
      blockingLocks.push({ name: k.file.name, key: k.key, time: current.time });
    }
  }
  return { timeMs, changes, totals: totalsOf(changes), unchanged, blockingLocks };
}

function planKey(k: KeyHistory, timeMs: number, prefix: string): PlannedChange | undefined {
  const current = currentState(k);
  const then = stateAt(k, timeMs);
  let target = then?.kind === 'version' ? then : undefined;
  const type: PlanFileType = k.file?.type ?? 'other';
  const name = k.file?.name ?? (prefix !== '' && k.key.startsWith(prefix) ? k.key.slice(prefix.length) : k.key);
  if (type === 'lock' && target && !(current.kind === 'version' && sameContent(current, target))) target = undefined;
  if (target) {
    if (current.kind === 'version') {
      if (sameContent(current, target)) return undefined;
      const change: PlannedChange = { key: k.key, type, name, action: 'restore-overwritten', source: target, current, bytes: target.size };
      if (current.size === target.size && (isMultipartEtag(current.etag) || isMultipartEtag(target.etag)) && CONTENT_ADDRESSED.has(type)) {
        change.needsContentCheck = true;
      }
      return change;
    }
    return { key: k.key, type, name, action: 'restore-deleted', source: target, current, bytes: target.size };
  }
  if (current.kind === 'version') return { key: k.key, type, name, action: 'remove-added', current, bytes: current.size };
  return undefined;
}

/** Files named by the SHA-256 of their content: their content can be checked against the name. */
const CONTENT_ADDRESSED: ReadonlySet<PlanFileType> = new Set(['pack', 'index', 'snapshot', 'key']);

/** `"<md5>-<parts>"`: the ETag of a multipart upload, not the MD5 of the content. */
export function isMultipartEtag(etag: string): boolean {
  return /^"?[0-9a-f]{32}-\d+"?$/i.test(etag);
}

/**
 * Resolves `needsContentCheck` changes by reading the current object: when its SHA-256 is
 * its name, the key already holds the right content (a finished copy whose ETag changed
 * form) and the change is dropped. Everything else is kept.
 */
export async function confirmByContent(s3: S3Backend, plan: RollbackPlan, signal?: AbortSignal): Promise<RollbackPlan> {
  const uncertain = plan.changes.filter((c) => c.needsContentCheck);
  if (uncertain.length === 0) return plan;
  const intact = new Set<string>();
  for (const c of uncertain) {
    signal?.throwIfAborted();
    let body: Uint8Array;
    try {
      const res = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: c.key, VersionId: c.current.versionId }));
      body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      throw s3.mapError(err, 'read (to compare content)', c.key, c.name);
    }
    if (Buffer.from(sha256(body)).toString('hex') === c.name) intact.add(c.key);
  }
  const changes = plan.changes.filter((c) => !intact.has(c.key));
  return { ...plan, changes, totals: totalsOf(changes), unchanged: plan.unchanged + intact.size };
}

/** What a key holds, judged from the listing: same ETag and size. */
export function sameContent(a: VersionEvent, b: VersionEvent): boolean {
  return a.etag === b.etag && a.size === b.size;
}

export function totalsOf(changes: readonly PlannedChange[]): Record<PlanFileType, TypeTotals> {
  const totals = Object.fromEntries(PLAN_FILE_TYPES.map((t) => [t, { restore: 0, restoreBytes: 0, remove: 0, removeBytes: 0 }])) as Record<
    PlanFileType,
    TypeTotals
  >;
  for (const c of changes) {
    const t = totals[c.type];
    if (c.action === 'remove-added') {
      t.remove++;
      t.removeBytes += c.bytes;
    } else {
      t.restore++;
      t.restoreBytes += c.bytes;
    }
  }
  return totals;
}

/**
 * The order changes are applied in: what later files depend on comes back first (packs,
 * then index, keys, config, snapshots), and removals go from the top of the reference
 * chain down (locks and snapshots before index and packs). An interrupted run thus leaves
 * fewer dangling references; re-running finishes the job either way.
 */
const RESTORE_ORDER: readonly PlanFileType[] = ['pack', 'index', 'key', 'config', 'snapshot', 'other', 'lock'];
const REMOVE_ORDER: readonly PlanFileType[] = ['lock', 'snapshot', 'index', 'config', 'key', 'pack', 'other'];

export function applyOrder(changes: readonly PlannedChange[]): PlannedChange[] {
  const rank = (c: PlannedChange) =>
    c.action === 'remove-added' ? RESTORE_ORDER.length + REMOVE_ORDER.indexOf(c.type) : RESTORE_ORDER.indexOf(c.type);
  return [...changes].sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export interface ApplyProgress {
  done: number;
  total: number;
  change: PlannedChange;
}

export interface ApplyOptions {
  /** Concurrent requests (default 4). */
  concurrency?: number;
  onProgress?: (p: ApplyProgress) => void;
  signal?: AbortSignal;
}

export interface ApplyResult {
  applied: number;
  failed: Array<{ change: PlannedChange; error: Error }>;
}

/**
 * Applies a plan: CopyObject from the old version for restores, a plain DeleteObject (a
 * delete marker) for removals. Never deletes a version. Failures are collected, not
 * thrown, so one refused object does not leave the rest undone; re-planning shows what is left.
 */
export async function applyRollback(s3: S3Backend, plan: RollbackPlan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const ordered = applyOrder(plan.changes);
  const result: ApplyResult = { applied: 0, failed: [] };
  // Restores before removals, each phase finished before the next starts (see applyOrder).
  const phases = [ordered.filter((c) => c.action !== 'remove-added'), ordered.filter((c) => c.action === 'remove-added')];
  let done = 0;
  for (const phase of phases) {
    let next = 0;
    const worker = async () => {
      while (next < phase.length) {
        options.signal?.throwIfAborted();
        const change = phase[next++];
        try {
          await applyChange(s3, change);
          result.applied++;
        } catch (err) {
          result.failed.push({ change, error: err as Error });
        }
        options.onProgress?.({ done: ++done, total: ordered.length, change });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, phase.length)) }, worker));
  }
  return result;
}

async function applyChange(s3: S3Backend, change: PlannedChange): Promise<void> {
  try {
    if (change.action === 'remove-added') {
      await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: change.key }));
      return;
    }
    const source = change.source!;
    // With --retention, restored files get the same object lock as newly written ones.
    const retention = change.type !== 'lock' ? s3.retention : undefined;
    await s3.client.send(
      new CopyObjectCommand({
        Bucket: s3.bucket,
        Key: change.key,
        CopySource: `${encodeURIComponent(s3.bucket)}/${change.key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(source.versionId)}`,
        MetadataDirective: 'COPY',
        ObjectLockMode: retention?.mode,
        ObjectLockRetainUntilDate: retention ? new Date(Date.now() + retention.days * 86_400_000) : undefined,
      }),
    );
    if (retention) {
      // radosgw 16 ignores the object-lock headers of CopyObject (the copy gets the bucket's
      // default retention), so the retention is set again on the new current version.
      await s3.client.send(
        new PutObjectRetentionCommand({
          Bucket: s3.bucket,
          Key: change.key,
          Retention: { Mode: retention.mode, RetainUntilDate: new Date(Date.now() + retention.days * 86_400_000) },
        }),
      );
    }
  } catch (err) {
    const what = change.action === 'remove-added' ? 'add a delete marker to' : `copy version ${change.source!.versionId} back onto`;
    throw s3.mapError(err, what, change.key, change.type === 'other' ? undefined : change.name);
  }
}

/** Refuses rollback on a bucket whose versioning is not Enabled: copies and deletes there would destroy the `null` version. */
export function requireEnabledVersioning(status: string, s3: S3Backend): void {
  if (status === 'Enabled') return;
  if (status === 'Suspended') {
    throw new ResticError(
      'NOT_VERSIONED',
      `versioning of bucket "${s3.bucket}" is suspended: a rollback now would overwrite the unversioned ("null") versions it needs to keep. ` +
        'Enable versioning again (PutBucketVersioning Status=Enabled) and re-run; `--as-of` can read the old state meanwhile.',
    );
  }
  if (status === 'Unknown') {
    throw new ResticError(
      'BACKEND_AUTH',
      `cannot read the versioning status of bucket "${s3.bucket}" (s3:GetBucketVersioning denied); rollback needs to know versioning is Enabled ` +
        'before it copies or deletes anything. Run it with the maintenance or admin credentials.',
    );
  }
}
