/**
 * Forensics on a versioned repository prefix: what changed since TIME, from the version
 * history (`audit --since TIME`).
 *
 * Every version or delete marker written after TIME becomes an event, classified by what
 * the key held just before it:
 * - `added`: a first version; `recreated`: a version after a delete marker;
 * - `overwritten`: a version on top of a version. restic never rewrites a repository file
 *   (files are named by their content hash, `config` is written once), so every overwrite
 *   is flagged as suspicious;
 * - `deleted`: a delete marker on a present object; `delete-marker`: one on an absent key.
 * Suspicious too: any change to `config`, keys added or removed (another password), keys
 * outside restic's layout, and snapshots whose recorded time does not fit when their object
 * was written (the known attack on `forget` policies: a forged snapshot with a time far in
 * the past or future makes forget drop the real ones).
 *
 * The snapshot check needs the repository key; it reads each snapshot version written
 * after TIME, checks that its content hashes to its name, decrypts it and compares its
 * `time` with the version's LastModified.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { relativePath } from '../backend/backend.js';
import type { S3Backend } from '../backend/s3.js';
import { open, sha256, type MasterKey } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import { parseLock } from '../format/lock-file.js';
import { parseSnapshot } from '../format/snapshot.js';
import { decodeUnpacked } from '../repository/unpacked.js';
import type { PlanFileType } from './rollback.js';
import type { VersionEvent, VersionHistory } from './version-history.js';

export type AuditEventKind = 'added' | 'recreated' | 'overwritten' | 'deleted' | 'delete-marker';

export interface AuditEvent {
  key: string;
  type: PlanFileType;
  name: string;
  kind: AuditEventKind;
  time: number;
  versionId: string;
  /** Size of the new version (0 for delete markers). */
  size: number;
  /** Why this event is suspicious; undefined for ordinary repository activity. */
  suspicious?: string;
}

export type SnapshotFindingKind = 'ok' | 'forged-time' | 'future-time' | 'name-mismatch' | 'undecryptable' | 'unreadable';

export interface SnapshotFinding {
  name: string;
  versionId: string;
  /** When the object was written (listing LastModified, ms). */
  written: number;
  /** The `time` recorded in the snapshot (RFC 3339), when it could be decrypted. */
  recorded?: string;
  recordedMs?: number;
  hostname?: string;
  kind: SnapshotFindingKind;
  detail?: string;
}

export interface AuditReport {
  sinceMs: number;
  /** Events after sinceMs, oldest first. */
  events: AuditEvent[];
  /** Per file type, per event kind. */
  counts: Record<string, Partial<Record<AuditEventKind, number>>>;
  suspiciousCount: number;
  /** Snapshot versions written after sinceMs, checked with the key (when one was given). */
  snapshots: SnapshotFinding[];
  /** Why the snapshot check was skipped (no password, no key opened). */
  snapshotCheckSkipped?: string;
  /** Lock files written after sinceMs, decrypted when the key was available. */
  locks?: LockFinding[];
}

export interface LockFinding {
  name: string;
  versionId: string;
  written: number;
  /** Still present (not deleted since). */
  present: boolean;
  hostname?: string;
  username?: string;
  pid?: number;
  exclusive?: boolean;
  /** The lock's own `time` (RFC 3339). */
  recorded?: string;
  /** Why it could not be read (not written by a holder of the key, damaged). */
  problem?: string;
}

/** The events after `sinceMs` (pure: synthetic histories in the unit tests). */
export function auditHistory(history: VersionHistory, sinceMs: number, prefix: string): Omit<AuditReport, 'snapshots' | 'suspiciousCount'> & { suspiciousCount: number } {
  const events: AuditEvent[] = [];
  for (const k of history.keys) {
    const type: PlanFileType = k.file?.type ?? 'other';
    const name = k.file?.name ?? (prefix !== '' && k.key.startsWith(prefix) ? k.key.slice(prefix.length) : k.key);
    let prev: VersionEvent | undefined;
    for (const e of k.events) {
      if (e.time > sinceMs) {
        const kind = classify(e, prev);
        const event: AuditEvent = { key: k.key, type, name, kind, time: e.time, versionId: e.versionId, size: e.size };
        const why = suspicion(type, kind, e, prev);
        if (why) event.suspicious = why;
        events.push(event);
      }
      prev = e;
    }
  }
  events.sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const counts: AuditReport['counts'] = {};
  for (const e of events) {
    const c = (counts[e.type] ??= {});
    c[e.kind] = (c[e.kind] ?? 0) + 1;
  }
  return { sinceMs, events, counts, suspiciousCount: events.filter((e) => e.suspicious).length };
}

function classify(e: VersionEvent, prev: VersionEvent | undefined): AuditEventKind {
  if (e.kind === 'delete-marker') return prev?.kind === 'version' ? 'deleted' : 'delete-marker';
  if (prev === undefined) return 'added';
  return prev.kind === 'version' ? 'overwritten' : 'recreated';
}

function suspicion(type: PlanFileType, kind: AuditEventKind, e: VersionEvent, prev: VersionEvent | undefined): string | undefined {
  if (kind === 'overwritten') {
    const same = prev && prev.etag === e.etag && prev.size === e.size;
    return same
      ? 'rewritten with identical content (restic never rewrites a file; a rollback or copy tool does)'
      : `overwritten with different content (${prev?.size ?? 0} → ${e.size} bytes): restic never overwrites a repository file`;
  }
  if (type === 'config' && kind !== 'added') return kind === 'deleted' ? 'the repository config was deleted' : `the repository config was ${kind}`;
  if (type === 'key' && (kind === 'added' || kind === 'recreated')) return 'a key file (password) was added';
  if (type === 'key' && kind === 'deleted') return 'a key file (password) was removed';
  if (type === 'other' && kind !== 'delete-marker') return 'an object that is not a restic repository file';
  return undefined;
}

export interface SnapshotCheckOptions {
  /** Written − recorded beyond this (ms) is flagged (default 24 h: a backup longer than that looks forged). */
  toleranceMs?: number;
  /** Recorded after written by more than this (ms, clock skew) is flagged as in the future (default 5 min). */
  skewMs?: number;
  now?: number;
}

/** Classifies one snapshot version from its stored bytes (pure apart from crypto). */
export async function examineSnapshotVersion(
  name: string,
  raw: Uint8Array,
  written: number,
  versionId: string,
  masterKey: MasterKey,
  options: SnapshotCheckOptions = {},
): Promise<SnapshotFinding> {
  const finding: SnapshotFinding = { name, versionId, written, kind: 'ok' };
  const file = relativePath('snapshot', name);
  const hash = Buffer.from(sha256(raw)).toString('hex');
  if (hash !== name) {
    finding.kind = 'name-mismatch';
    finding.detail = `content hashes to ${hash.slice(0, 16)}…, not its name: restic did not write this file under this name (a copied or planted file)`;
  }
  let json: Uint8Array;
  try {
    json = await decodeUnpacked(open(masterKey, raw, file), file);
  } catch (err) {
    if (finding.kind === 'ok') finding.kind = 'undecryptable';
    finding.detail = `${finding.detail ? finding.detail + '; ' : ''}cannot be decrypted with the repository key (${(err as Error).message})`;
    return finding;
  }
  let snapshotTime;
  try {
    const sn = parseSnapshot(json);
    snapshotTime = sn.time;
    finding.recorded = sn.time.toString();
    if (sn.hostname) finding.hostname = sn.hostname;
  } catch (err) {
    if (finding.kind === 'ok') finding.kind = 'unreadable';
    finding.detail = `${finding.detail ? finding.detail + '; ' : ''}decrypts but is not a snapshot (${(err as Error).message})`;
    return finding;
  }
  const recordedMs = snapshotTime.unixSeconds * 1000 + Math.floor(snapshotTime.nanos / 1e6);
  finding.recordedMs = recordedMs;
  const tolerance = options.toleranceMs ?? 24 * 3600_000;
  const skew = options.skewMs ?? 5 * 60_000;
  const now = options.now ?? Date.now();
  let timeProblem: string | undefined;
  let timeKind: SnapshotFindingKind | undefined;
  if (recordedMs > written + skew) {
    timeKind = 'future-time';
    timeProblem = `records ${finding.recorded}, ${describeMs(recordedMs - written)} after it was written${recordedMs > now ? ' (in the future)' : ''}`;
  } else if (written - recordedMs > tolerance) {
    timeKind = 'forged-time';
    timeProblem = `records ${finding.recorded}, ${describeMs(written - recordedMs)} before it was written (tolerance ${describeMs(tolerance)})`;
  }
  if (timeKind) {
    if (finding.kind === 'ok') finding.kind = timeKind;
    finding.detail = `${finding.detail ? finding.detail + '; ' : ''}${timeProblem}`;
  }
  return finding;
}

function describeMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** Reads one object version in full. */
export async function readObjectVersion(s3: S3Backend, key: string, versionId: string): Promise<Uint8Array> {
  try {
    const res = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key, VersionId: versionId }));
    return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
  } catch (err) {
    throw s3.mapError(err, `read version ${versionId} of`, key);
  }
}

/** Checks every snapshot version written after `sinceMs`. */
export async function checkSnapshotVersions(
  s3: S3Backend,
  history: VersionHistory,
  sinceMs: number,
  masterKey: MasterKey,
  options: SnapshotCheckOptions = {},
): Promise<SnapshotFinding[]> {
  const findings: SnapshotFinding[] = [];
  for (const k of history.keys) {
    if (k.file?.type !== 'snapshot') continue;
    for (const e of k.events) {
      if (e.time <= sinceMs || e.kind !== 'version') continue;
      let raw: Uint8Array;
      try {
        raw = await readObjectVersion(s3, k.key, e.versionId);
      } catch (err) {
        if (err instanceof ResticError && err.code === 'BACKEND_AUTH') throw err;
        findings.push({ name: k.file.name, versionId: e.versionId, written: e.time, kind: 'unreadable', detail: (err as Error).message });
        continue;
      }
      findings.push(await examineSnapshotVersion(k.file.name, raw, e.time, e.versionId, masterKey, options));
    }
  }
  return findings;
}

/** Every lock version written after `sinceMs`: who claimed the repository (host, user, pid). */
export async function describeLockVersions(s3: S3Backend, history: VersionHistory, sinceMs: number, masterKey: MasterKey): Promise<LockFinding[]> {
  const findings: LockFinding[] = [];
  for (const k of history.keys) {
    if (k.file?.type !== 'lock') continue;
    const current = k.events[k.events.length - 1];
    for (const e of k.events) {
      if (e.time <= sinceMs || e.kind !== 'version') continue;
      const finding: LockFinding = { name: k.file.name, versionId: e.versionId, written: e.time, present: current === e };
      try {
        const raw = await readObjectVersion(s3, k.key, e.versionId);
        const file = relativePath('lock', k.file.name);
        const lock = parseLock(await decodeUnpacked(open(masterKey, raw, file), file), k.file.name);
        Object.assign(finding, { hostname: lock.hostname, username: lock.username, pid: lock.pid, exclusive: lock.exclusive, recorded: lock.time.toString() });
      } catch (err) {
        if (err instanceof ResticError && err.code === 'BACKEND_AUTH') throw err;
        finding.problem = (err as Error).message;
      }
      findings.push(finding);
    }
  }
  return findings;
}
