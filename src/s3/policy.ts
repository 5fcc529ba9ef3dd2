/**
 * Least-privilege IAM policies for a restic repository in an S3 bucket (`s3 policy`).
 *
 * Three roles, from the threat model in docs/securing-backups-on-s3.md:
 * - `backup` (the machine being backed up, which an attacker may own): list, read and write
 *   objects under the prefix; delete only under `locks/` (its own lock files). It can neither
 *   delete nor overwrite history: no s3:DeleteObjectVersion, no bucket settings, no
 *   retention bypass. With `retention` it may also set retention on what it writes
 *   (s3:PutObjectRetention is needed for PutObject with an object-lock mode); leave it off
 *   otherwise, since a credential that can set retention can also lengthen it (a cost attack
 *   in COMPLIANCE mode).
 * - `maintenance` (forget/prune/rollback/audit/retention extend, run from a trusted machine):
 *   also deletes objects under the prefix (a plain delete only adds a delete marker on a
 *   versioned bucket), reads versions, reads and extends retention. Still no version deletes
 *   and no bucket settings.
 * - `admin` (bucket set-up, kept offline): everything on the bucket.
 *
 * backup and maintenance carry an explicit Deny of every action that destroys history or
 * weakens the bucket, so a broader policy attached by mistake cannot grant them.
 */
import { ResticError } from '../errors.js';

export type PolicyRole = 'backup' | 'maintenance' | 'admin';
export const POLICY_ROLES: readonly PolicyRole[] = ['backup', 'maintenance', 'admin'];

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  /** Only in bucket policies. */
  Principal?: { AWS: string[] };
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface PolicyOptions {
  bucket: string;
  /** Repository prefix inside the bucket (`''` or undefined: the bucket root). */
  prefix?: string;
  role: PolicyRole;
  /** Backup role: allow setting retention on written objects (restic-ts `--retention`). */
  retention?: boolean;
  /**
   * Make a bucket policy for these principals (ARNs such as `arn:aws:iam::123456789012:user/backup`,
   * or `arn:aws:iam:::user/backup` on radosgw) instead of an identity (user/role) policy.
   */
  principals?: string[];
  /** ARN partition (`aws`, `aws-cn`, `aws-us-gov`); default `aws` (also what S3-compatible servers use). */
  partition?: string;
}

/** Actions that destroy object history or weaken the bucket's protection. */
export const HISTORY_DESTROYING_ACTIONS: readonly string[] = [
  's3:DeleteObjectVersion',
  's3:BypassGovernanceRetention',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
  's3:PutBucketObjectLockConfiguration',
  's3:PutObjectLegalHold',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketAcl',
  's3:DeleteBucket',
];

/** Read-only bucket settings every role may see (s3 doctor reads them). */
const BUCKET_READ_ACTIONS = [
  's3:GetBucketLocation',
  's3:GetBucketVersioning',
  's3:GetBucketObjectLockConfiguration',
  's3:GetLifecycleConfiguration',
];

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Builds the policy document; USAGE errors for a bad bucket name, prefix or role. */
export function buildPolicy(options: PolicyOptions): PolicyDocument {
  const { bucket, role } = options;
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new ResticError('USAGE', `invalid bucket name ${JSON.stringify(bucket)}: want 3-63 lowercase letters, digits, dots or hyphens`);
  }
  if (!(POLICY_ROLES as readonly string[]).includes(role)) {
    throw new ResticError('USAGE', `invalid role ${JSON.stringify(role)}: want backup, maintenance or admin`);
  }
  const prefix = normalisePrefix(options.prefix ?? '');
  const partition = options.partition ?? 'aws';
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  const objects = (sub: string) => `${bucketArn}/${prefix}${sub}`;
  const principal = options.principals && options.principals.length > 0 ? { Principal: { AWS: [...options.principals] } } : {};
  if (options.principals) {
    for (const p of options.principals) {
      if (!/^arn:[a-z-]+:(iam|sts)::\d*:.+$/.test(p) && p !== '*') {
        throw new ResticError('USAGE', `invalid principal ${JSON.stringify(p)}: want an ARN such as arn:aws:iam::123456789012:user/backup`);
      }
    }
  }
  const statements: PolicyStatement[] = [];
  const add = (s: Omit<PolicyStatement, 'Principal'>) => statements.push({ Sid: s.Sid, Effect: s.Effect, ...principal, Action: s.Action, Resource: s.Resource, ...(s.Condition ? { Condition: s.Condition } : {}) });

  if (role === 'admin') {
    add({ Sid: 'AdminBucket', Effect: 'Allow', Action: ['s3:*'], Resource: [bucketArn, `${bucketArn}/*`] });
    return { Version: '2012-10-17', Statement: statements };
  }

  // Listing: restricted to the prefix when there is one (object names elsewhere stay hidden).
  const listActions = role === 'maintenance' ? ['s3:ListBucket', 's3:ListBucketVersions'] : ['s3:ListBucket'];
  add({
    Sid: 'ListRepository',
    Effect: 'Allow',
    Action: listActions,
    Resource: [bucketArn],
    ...(prefix === '' ? {} : { Condition: { StringLike: { 's3:prefix': [prefix.slice(0, -1), `${prefix}*`] } } }),
  });
  add({ Sid: 'ReadBucketSettings', Effect: 'Allow', Action: [...BUCKET_READ_ACTIONS], Resource: [bucketArn] });
  if (role === 'backup') {
    const actions = ['s3:GetObject', 's3:PutObject'];
    if (options.retention) actions.push('s3:PutObjectRetention', 's3:GetObjectRetention');
    add({ Sid: 'ReadWriteRepository', Effect: 'Allow', Action: actions, Resource: [objects('*')] });
    add({ Sid: 'DeleteOwnLocks', Effect: 'Allow', Action: ['s3:DeleteObject'], Resource: [objects('locks/*')] });
  } else {
    add({
      Sid: 'MaintainRepository',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:DeleteObject', 's3:GetObjectRetention', 's3:PutObjectRetention'],
      Resource: [objects('*')],
    });
  }
  add({ Sid: 'NeverDestroyHistory', Effect: 'Deny', Action: [...HISTORY_DESTROYING_ACTIONS], Resource: [bucketArn, `${bucketArn}/*`] });
  return { Version: '2012-10-17', Statement: statements };
}

/** `hosts/web1` → `hosts/web1/`; `''` stays `''`. Leading/trailing slashes dropped; wildcards refused. */
function normalisePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (/[*?]/.test(p)) throw new ResticError('USAGE', `invalid prefix ${JSON.stringify(prefix)}: wildcards are not allowed`);
  if (p.split('/').some((part) => part === '..' || part === '.')) throw new ResticError('USAGE', `invalid prefix ${JSON.stringify(prefix)}: no "." or ".." parts`);
  return p === '' ? '' : p + '/';
}

/** Which of `actions` a policy document allows for `resource` (for tests and docs; wildcards `*` in actions and resources, Deny wins, conditions ignored). */
export function policyAllows(doc: PolicyDocument, action: string, resource: string): boolean {
  const matches = (pattern: string, value: string) => new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$').test(value);
  let allowed = false;
  for (const s of doc.Statement) {
    if (!s.Action.some((a) => matches(a, action)) || !s.Resource.some((r) => matches(r, resource))) continue;
    if (s.Effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}
