/**
 * `s3 doctor`: the bucket's posture against the attacker of issue 5 (root on the backed-up
 * machine, holding its S3 credentials), each finding with a severity and the exact fix.
 *
 * Settings are read (versioning, object lock, lifecycle) and then *proved* with a canary
 * object, because settings alone do not say what these credentials can do (radosgw, for
 * one, evaluates bucket policies but has no IAM simulator):
 *
 * 1. PUT a small canary under `locks/` (the one place the backup role may delete), with a
 *    1-day retention when the bucket has object lock (credentials that may not set retention
 *    write it plainly, and the bucket's default retention applies);
 * 2. plain DELETE it: the answer must carry a delete marker (so the version survived);
 * 3. try to delete the delete marker's version: success proves s3:DeleteObjectVersion;
 * 4. try to delete the canary's version: with object lock it must be refused;
 * 5. GOVERNANCE only, and only when 3 succeeded: try again with BypassGovernanceRetention;
 * 6. re-PUT the bucket's *current* versioning status (a no-op when allowed): success proves
 *    the credentials may change bucket settings. Nothing else is written to bucket settings:
 *    a re-PUT of lifecycle or lock configuration could lose fields in the round trip.
 * 7. clean up: whatever is current again gets a delete marker; locked versions stay until
 *    their date (a 5-byte object), and a lifecycle rule removes the rest.
 *
 * The canary's name is not a restic ID, so restic and restic-ts ignore it when listing locks
 * (`isDoctorCanaryKey` lets other tools recognise it).
 */
import { randomBytes, createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { RetentionMode, S3Backend } from '../backend/s3.js';
import { ResticError } from '../errors.js';
import { bucketObjectLock, DAY_MS, type ObjectLockState } from './retention.js';
import { bucketVersioning, repositoryKeyPrefix, type VersioningStatus } from './version-history.js';

export type Severity = 'high' | 'medium' | 'low' | 'info' | 'ok';
const SEVERITY_ORDER: Severity[] = ['ok', 'info', 'low', 'medium', 'high'];

export interface Fix {
  /** What to do, in words. */
  description: string;
  /** A command to run (AWS CLI; `--endpoint-url` added for S3-compatible servers). */
  command?: string;
  /** The JSON document the command applies. */
  json?: unknown;
}

export interface Finding {
  /** Stable identifier (`versioning-off`, `can-delete-versions`, …). */
  id: string;
  severity: Severity;
  title: string;
  detail: string;
  fix?: Fix;
}

export interface ProbeResult {
  canaryKey: string;
  written: boolean;
  /** Plain delete left a delete marker (the version survived). */
  versionSurvived?: boolean;
  canDeleteOwnLocks?: boolean;
  canDeleteVersions?: boolean;
  /** With object lock: deleting the locked canary version was refused. */
  lockEnforced?: boolean;
  canBypassGovernance?: boolean;
  canChangeVersioning?: boolean;
  /** What the canary left in the bucket (versions that could not be removed). */
  leftBehind: string[];
}

export interface DoctorReport {
  bucket: string;
  prefix: string;
  endpoint: string;
  versioning: VersioningStatus;
  objectLock: ObjectLockState;
  lifecycle: { readable: boolean; rules: number; noncurrentDays?: number; abortMultipartDays?: number; expiresCurrent?: boolean };
  hasBucketPolicy?: boolean;
  recoveryWindowDays?: number;
  probe?: ProbeResult;
  findings: Finding[];
  /** The worst severity among the findings. */
  worst: Severity;
}

export interface DoctorOptions {
  /** Days within which an attack must still be recoverable. */
  recoveryWindowDays?: number;
  /** Skip the canary (settings only). */
  noProbe?: boolean;
  /** Skip the versioning re-PUT probe. */
  noSettingsProbe?: boolean;
  now?: number;
}

const CANARY_STEM = 'restic-ts-doctor-canary-';

/** True for the doctor's canary objects (for audit and rollback, which see every key). */
export function isDoctorCanaryKey(key: string): boolean {
  return key.split('/').pop()?.startsWith(CANARY_STEM) === true;
}

export async function runDoctor(s3: S3Backend, options: DoctorOptions = {}): Promise<DoctorReport> {
  if (options.recoveryWindowDays !== undefined && (!Number.isInteger(options.recoveryWindowDays) || options.recoveryWindowDays < 1)) {
    throw new ResticError('USAGE', `invalid --recovery-window ${options.recoveryWindowDays}: want a whole number of days (1 or more)`);
  }
  const prefix = repositoryKeyPrefix(s3);
  const cli = awsCli(s3);
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const window = options.recoveryWindowDays;

  // --- versioning
  const versioning = await bucketVersioning(s3);
  if (versioning === 'Off' || versioning === 'Suspended') {
    add({
      id: versioning === 'Off' ? 'versioning-off' : 'versioning-suspended',
      severity: 'high',
      title: `versioning is ${versioning === 'Off' ? 'off' : 'suspended'}`,
      detail: 'A delete or overwrite by the backup credentials destroys data for good: nothing can be recovered, rolled back or audited.',
      fix: { description: 'Enable versioning', command: `${cli} put-bucket-versioning --bucket ${s3.bucket} --versioning-configuration Status=Enabled`, json: { Status: 'Enabled' } },
    });
  } else if (versioning === 'Unknown') {
    add({ id: 'versioning-unreadable', severity: 'info', title: 'versioning status could not be read', detail: 'These credentials may not call GetBucketVersioning (s3:GetBucketVersioning); the canary probe below still shows whether versions survive.' });
  } else {
    add({ id: 'versioning-enabled', severity: 'ok', title: 'versioning is enabled', detail: 'Deleted and overwritten objects stay as non-current versions.' });
  }

  // --- object lock
  const objectLock = await bucketObjectLock(s3);
  const lockJson = (days: number) => ({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: days } } });
  const lockDays = window ?? 30;
  if (objectLock.enabled === false) {
    add({
      id: 'no-object-lock',
      severity: 'medium',
      title: 'object lock is not enabled',
      detail:
        'Versioning alone protects history only from credentials without s3:DeleteObjectVersion. With object lock, locked versions cannot be deleted by anyone (COMPLIANCE) or without bypass permission (GOVERNANCE) until their date.',
      fix: {
        description:
          'Object lock is switched on at bucket creation (AWS also allows it on an existing versioned bucket). Create a new bucket with object lock and copy the repository (restic copy), or on AWS:',
        command: `${cli} put-object-lock-configuration --bucket ${s3.bucket} --object-lock-configuration '${JSON.stringify(lockJson(lockDays))}'`,
        json: lockJson(lockDays),
      },
    });
  } else if (objectLock.enabled === 'unknown') {
    add({ id: 'object-lock-unreadable', severity: 'info', title: 'object lock configuration could not be read', detail: objectLock.reason });
  } else if (objectLock.defaultDays === undefined) {
    add({
      id: 'no-default-retention',
      severity: 'medium',
      title: 'object lock has no default retention',
      detail: 'Objects are only locked when the writer asks for it (restic-ts --retention DAYS); restic itself never does.',
      fix: { description: 'Set a default retention as long as the recovery window', command: `${cli} put-object-lock-configuration --bucket ${s3.bucket} --object-lock-configuration '${JSON.stringify(lockJson(lockDays))}'`, json: lockJson(lockDays) },
    });
  } else {
    add({ id: 'default-retention', severity: 'ok', title: `object lock default retention: ${objectLock.defaultMode ?? '?'} ${objectLock.defaultDays} days`, detail: 'Every new object is locked.' });
    if (window !== undefined && objectLock.defaultDays < window) {
      add({
        id: 'retention-shorter-than-window',
        severity: 'medium',
        title: `default retention (${objectLock.defaultDays} days) is shorter than the recovery window (${window} days)`,
        detail: 'After the retention date, credentials with s3:DeleteObjectVersion could delete the history you still count on.',
        fix: { description: 'Lengthen the default retention (or run `restic-ts s3 retention extend` on a schedule)', command: `${cli} put-object-lock-configuration --bucket ${s3.bucket} --object-lock-configuration '${JSON.stringify({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: objectLock.defaultMode ?? 'GOVERNANCE', Days: window } } })}'` },
      });
    }
    if (objectLock.defaultMode === 'GOVERNANCE') {
      add({ id: 'governance-mode', severity: 'info', title: 'retention mode is GOVERNANCE', detail: 'Principals with s3:BypassGovernanceRetention can still delete locked versions. Switch to COMPLIANCE once the numbers are right.' });
    }
  }

  // --- lifecycle
  const lifecycle: DoctorReport['lifecycle'] = { readable: false, rules: 0 };
  let rules: LifecycleRule[] | undefined;
  try {
    const res = await s3.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: s3.bucket }));
    rules = res.Rules ?? [];
  } catch (err) {
    const name = errName(err);
    if (name === 'NoSuchLifecycleConfiguration') rules = [];
    else {
      const mapped = s3.mapError(err, 'read the lifecycle configuration of', s3.bucket);
      if (!(mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH')) throw mapped;
      add({ id: 'lifecycle-unreadable', severity: 'info', title: 'lifecycle configuration could not be read', detail: `${mapped.message} (needs s3:GetLifecycleConfiguration)` });
    }
  }
  if (rules !== undefined) {
    lifecycle.readable = true;
    const applicable = rules.filter((r) => ruleApplies(r, prefix));
    lifecycle.rules = applicable.length;
    const noncurrent = applicable.map((r) => r.NoncurrentVersionExpiration?.NoncurrentDays).filter((d): d is number => d !== undefined);
    const abort = applicable.map((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation).filter((d): d is number => d !== undefined);
    if (noncurrent.length > 0) lifecycle.noncurrentDays = Math.min(...noncurrent);
    if (abort.length > 0) lifecycle.abortMultipartDays = Math.min(...abort);
    lifecycle.expiresCurrent = applicable.some((r) => r.Expiration?.Days !== undefined || r.Expiration?.Date !== undefined);
    const rule = lifecycleRule(prefix, window ?? 30);
    const ruleFix = (why: string): Fix => ({
      description: `${why} (this replaces the bucket's lifecycle configuration: merge it with the rules you already have)`,
      command: `${cli} put-bucket-lifecycle-configuration --bucket ${s3.bucket} --lifecycle-configuration '${JSON.stringify({ Rules: [rule] })}'`,
      json: { Rules: [rule] },
    });
    if (lifecycle.expiresCurrent) {
      add({
        id: 'lifecycle-expires-current',
        severity: 'high',
        title: 'a lifecycle rule expires current objects of the repository',
        detail: 'Expiration by Days/Date deletes live repository files (packs, index, keys) after that time: the repository will break. Only non-current versions should expire.',
        fix: ruleFix('Remove the Expiration Days/Date from the rules covering the repository prefix; keep only NoncurrentVersionExpiration'),
      });
    }
    if (lifecycle.noncurrentDays === undefined) {
      add({
        id: 'no-noncurrent-expiration',
        severity: 'medium',
        title: 'no lifecycle rule expires non-current versions',
        detail: 'Every deleted or overwritten object (each prune, each lock refresh) stays stored and billed forever: the cost is unbounded.',
        fix: ruleFix(`Expire non-current versions after the recovery window (${window ?? 30} days)`),
      });
    } else if (window !== undefined && lifecycle.noncurrentDays < window) {
      add({
        id: 'noncurrent-expiration-too-short',
        severity: 'high',
        title: `non-current versions expire after ${lifecycle.noncurrentDays} days, less than the recovery window (${window} days)`,
        detail: 'An attack noticed after that many days cannot be undone.',
        fix: ruleFix(`Raise NoncurrentDays to ${window}`),
      });
    } else {
      add({ id: 'noncurrent-expiration', severity: 'ok', title: `non-current versions expire after ${lifecycle.noncurrentDays} days`, detail: `That is the recovery window: an attack noticed later than ${lifecycle.noncurrentDays} days cannot be undone.` });
    }
    if (lifecycle.abortMultipartDays === undefined) {
      add({ id: 'no-abort-multipart', severity: 'low', title: 'no lifecycle rule aborts incomplete multipart uploads', detail: 'Interrupted large uploads stay stored (invisible, billed) forever.', fix: ruleFix('Add AbortIncompleteMultipartUpload') });
    }
  }

  // --- bucket policy (presence only: radosgw and most servers cannot simulate it; the probe proves behaviour)
  let hasBucketPolicy: boolean | undefined;
  try {
    await s3.client.send(new GetBucketPolicyCommand({ Bucket: s3.bucket }));
    hasBucketPolicy = true;
  } catch (err) {
    if (errName(err) === 'NoSuchBucketPolicy') hasBucketPolicy = false;
  }

  // --- the proof
  let probe: ProbeResult | undefined;
  if (!options.noProbe) {
    probe = await probeCanary(s3, prefix, objectLock, versioning, options);
    reportProbe(probe, objectLock, add, s3);
  }

  const worst = findings.reduce<Severity>((w, f) => (SEVERITY_ORDER.indexOf(f.severity) > SEVERITY_ORDER.indexOf(w) ? f.severity : w), 'ok');
  const report: DoctorReport = { bucket: s3.bucket, prefix: s3.prefix, endpoint: s3.endpointUrl, versioning, objectLock, lifecycle, findings, worst };
  if (hasBucketPolicy !== undefined) report.hasBucketPolicy = hasBucketPolicy;
  if (window !== undefined) report.recoveryWindowDays = window;
  if (probe) report.probe = probe;
  return report;
}

/** The lifecycle rule the guide recommends for this prefix. */
export function lifecycleRule(keyPrefix: string, days: number): Record<string, unknown> {
  return {
    ID: 'restic-recovery-window',
    Status: 'Enabled',
    Filter: { Prefix: keyPrefix },
    NoncurrentVersionExpiration: { NoncurrentDays: days },
    Expiration: { ExpiredObjectDeleteMarker: true },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
  };
}

/** An enabled rule covers the whole repository when its prefix is a prefix of the repository's and it filters on no tag or size. */
export function ruleApplies(rule: LifecycleRule, keyPrefix: string): boolean {
  if (rule.Status !== 'Enabled') return false;
  const f = rule.Filter;
  if (f?.Tag || (f?.And?.Tags?.length ?? 0) > 0 || f?.ObjectSizeGreaterThan !== undefined || f?.And?.ObjectSizeGreaterThan !== undefined) return false;
  const rulePrefix = f?.Prefix ?? f?.And?.Prefix ?? (rule as { Prefix?: string }).Prefix ?? '';
  return keyPrefix.startsWith(rulePrefix);
}

async function probeCanary(s3: S3Backend, prefix: string, objectLock: ObjectLockState, versioning: VersioningStatus, options: DoctorOptions): Promise<ProbeResult> {
  const key = `${prefix}locks/${CANARY_STEM}${randomBytes(8).toString('hex')}`;
  const result: ProbeResult = { canaryKey: key, written: false, leftBehind: [] };
  const body = Buffer.from(`restic-ts s3 doctor canary ${new Date(options.now ?? Date.now()).toISOString()}\n`);
  let lockMode: RetentionMode | undefined = objectLock.enabled === true ? (objectLock.defaultMode ?? 'GOVERNANCE') : undefined;
  let lockedUntil = (options.now ?? Date.now()) + DAY_MS;
  let versionId: string | undefined;
  const put = (mode: RetentionMode | undefined) =>
    s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentMD5: createHash('md5').update(body).digest('base64'),
        ObjectLockMode: mode,
        ObjectLockRetainUntilDate: mode ? new Date(lockedUntil) : undefined,
      }),
    );
  try {
    let res;
    try {
      res = await put(lockMode);
    } catch (err) {
      // Setting retention needs s3:PutObjectRetention, which the backup role lacks unless it
      // uses --retention: then the canary gets the bucket's default retention, if any.
      if (!lockMode || !isDenied(err)) throw err;
      res = await put(undefined);
      if (objectLock.enabled === true && objectLock.defaultDays !== undefined) lockedUntil = (options.now ?? Date.now()) + objectLock.defaultDays * DAY_MS;
      else lockMode = undefined;
    }
    result.written = true;
    versionId = res.VersionId && res.VersionId !== 'null' ? res.VersionId : undefined;
  } catch (err) {
    if (isDenied(err)) return result;
    throw s3.mapError(err, 'write the doctor canary', key);
  }
  const del = async (versionIdToDelete?: string, bypass?: boolean) =>
    s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key, VersionId: versionIdToDelete, BypassGovernanceRetention: bypass || undefined }));
  /** true: done; false: refused (403); other errors thrown. */
  const attempt = async (fn: () => Promise<unknown>, what: string): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      if (isDenied(err)) return false;
      throw s3.mapError(err, what, key);
    }
  };

  let markerId: string | undefined;
  try {
    const res = await del();
    result.canDeleteOwnLocks = true;
    result.versionSurvived = res.DeleteMarker === true || (res.VersionId !== undefined && res.VersionId !== 'null');
    markerId = res.VersionId && res.VersionId !== 'null' ? res.VersionId : undefined;
  } catch (err) {
    if (!isDenied(err)) throw s3.mapError(err, 'delete the doctor canary', key);
    result.canDeleteOwnLocks = false;
  }
  let canaryCurrent = result.canDeleteOwnLocks === false;
  let versionGone = result.versionSurvived === false;
  if (markerId !== undefined) {
    result.canDeleteVersions = await attempt(() => del(markerId), 'delete the delete marker of the doctor canary');
    if (result.canDeleteVersions) canaryCurrent = true;
  }
  if (versionId !== undefined && !versionGone) {
    const deleted = await attempt(() => del(versionId), 'delete the doctor canary version');
    if (deleted) {
      versionGone = true;
      canaryCurrent = false;
      if (lockMode) result.lockEnforced = false;
      else result.canDeleteVersions = true;
    } else if (lockMode && result.canDeleteVersions) {
      result.lockEnforced = true;
    } else if (!lockMode && result.canDeleteVersions === undefined) {
      result.canDeleteVersions = false;
    }
    if (!versionGone && lockMode === 'GOVERNANCE' && result.canDeleteVersions) {
      result.canBypassGovernance = await attempt(() => del(versionId, true), 'delete the doctor canary version with governance bypass');
      if (result.canBypassGovernance) {
        versionGone = true;
        canaryCurrent = false;
      }
    } else if (lockMode === 'GOVERNANCE' && result.canDeleteVersions === false) {
      result.canBypassGovernance = false; // bypass needs s3:DeleteObjectVersion too
    }
  }
  if (!options.noSettingsProbe && (versioning === 'Enabled' || versioning === 'Suspended')) {
    result.canChangeVersioning = await attempt(
      () => s3.client.send(new PutBucketVersioningCommand({ Bucket: s3.bucket, VersioningConfiguration: { Status: versioning } })),
      're-apply the versioning status of',
    );
  }
  // Clean up: hide the canary again if it is current; report what stays.
  if (canaryCurrent && result.canDeleteOwnLocks) {
    await attempt(() => del(), 'delete the doctor canary');
  }
  if (!versionGone) {
    result.leftBehind.push(`${key} (5-byte canary version${lockMode ? `, locked until about ${new Date(lockedUntil).toISOString()}` : ''}${result.canDeleteOwnLocks ? ', hidden by a delete marker' : ''})`);
  }
  return result;
}

function reportProbe(p: ProbeResult, objectLock: ObjectLockState, add: (f: Finding) => void, s3: S3Backend): void {
  const policyFix = (role: string): Fix => ({
    description: `Give the backed-up machine credentials with the ${role} policy only, and keep bucket-admin credentials offline`,
    command: `restic-ts s3 policy --bucket ${s3.bucket}${s3.prefix ? ` --prefix ${s3.prefix}` : ''} --role ${role}`,
  });
  if (!p.written) {
    add({ id: 'probe-write-denied', severity: 'medium', title: 'the canary could not be written', detail: `These credentials may not write ${p.canaryKey}: they cannot back up, and the probe could not prove anything.` });
    return;
  }
  if (p.canDeleteOwnLocks === false) {
    add({ id: 'cannot-delete-locks', severity: 'medium', title: 'these credentials cannot delete under locks/', detail: 'restic needs to delete its own lock files; without s3:DeleteObject on locks/* every run leaves a stale lock.', fix: policyFix('backup') });
  }
  if (p.versionSurvived === false) {
    add({ id: 'delete-destroys', severity: 'high', title: 'deleting the canary removed it for good', detail: 'A plain delete left no delete marker: this bucket keeps no history.' });
  } else if (p.versionSurvived) {
    add({ id: 'delete-keeps-version', severity: 'ok', title: 'proved: a delete leaves the old version in place', detail: 'The canary delete answered with a delete marker.' });
  }
  if (p.canDeleteVersions) {
    add({
      id: 'can-delete-versions',
      severity: 'high',
      title: 'these credentials can delete object versions',
      detail: 'An attacker holding them can destroy the history (s3:DeleteObjectVersion)' + (objectLock.enabled === true ? ' of every object whose retention has lapsed or that was never locked.' : '.'),
      fix: policyFix('backup'),
    });
  } else if (p.canDeleteVersions === false) {
    add({ id: 'cannot-delete-versions', severity: 'ok', title: 'proved: these credentials cannot delete object versions', detail: 'Deleting a version of the canary was refused.' });
  }
  if (p.lockEnforced === false) {
    add({ id: 'lock-not-enforced', severity: 'high', title: 'a locked canary version could be deleted', detail: 'Object lock retention was not enforced for these credentials.' });
  } else if (p.lockEnforced) {
    add({ id: 'lock-enforced', severity: 'ok', title: 'proved: deleting a locked version is refused', detail: 'The canary version under retention could not be deleted, although these credentials may delete versions.' });
  }
  if (p.canBypassGovernance) {
    add({ id: 'can-bypass-governance', severity: 'high', title: 'these credentials can bypass GOVERNANCE retention', detail: 'They deleted a locked canary version with x-amz-bypass-governance-retention (s3:BypassGovernanceRetention).', fix: policyFix('backup') });
  } else if (p.canBypassGovernance === false) {
    add({ id: 'cannot-bypass-governance', severity: 'ok', title: 'proved: GOVERNANCE retention cannot be bypassed with these credentials', detail: '' });
  }
  if (p.canChangeVersioning) {
    add({ id: 'can-change-bucket-settings', severity: 'high', title: 'these credentials can change bucket settings', detail: 'Re-applying the current versioning status was allowed (s3:PutBucketVersioning): they could suspend versioning.', fix: policyFix('backup') });
  } else if (p.canChangeVersioning === false) {
    add({ id: 'cannot-change-bucket-settings', severity: 'ok', title: 'proved: these credentials cannot change versioning', detail: 'Re-applying the current versioning status was refused.' });
  }
  if (p.leftBehind.length > 0) add({ id: 'canary-left', severity: 'info', title: 'the canary left a version behind', detail: p.leftBehind.join('; ') });
}

/** `aws s3api`, with `--endpoint-url` when the server is not AWS. */
function awsCli(s3: S3Backend): string {
  const host = new URL(s3.endpointUrl).hostname;
  return /(^|\.)amazonaws\.com(\.cn)?$/i.test(host) ? 'aws s3api' : `aws --endpoint-url ${s3.endpointUrl} s3api`;
}

function errName(err: unknown): string | undefined {
  const e = err as { name?: string; Code?: string } | null;
  return e?.Code ?? e?.name;
}

function isDenied(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return errName(err) === 'AccessDenied' || status === 403;
}

/** The exit code rule: non-zero when a high-severity finding exists. */
export function doctorFailed(report: DoctorReport): boolean {
  return report.worst === 'high';
}
