import { describe, expect, it } from 'vitest';
import { buildPolicy, HISTORY_DESTROYING_ACTIONS, policyAllows } from '../../src/s3/policy.js';
import { isResticError } from '../../src/errors.js';

const B = 'arn:aws:s3:::acme-backups';
const obj = (key: string) => `${B}/${key}`;

describe('s3 policy', () => {
  it('backup: reads, lists, writes; deletes only its lock files; never versions or settings', () => {
    const doc = buildPolicy({ bucket: 'acme-backups', prefix: 'hosts/web1', role: 'backup' });
    expect(doc.Version).toBe('2012-10-17');
    expect(policyAllows(doc, 's3:GetObject', obj('hosts/web1/data/ab/ab12'))).toBe(true);
    expect(policyAllows(doc, 's3:PutObject', obj('hosts/web1/snapshots/x'))).toBe(true);
    expect(policyAllows(doc, 's3:ListBucket', B)).toBe(true);
    expect(policyAllows(doc, 's3:DeleteObject', obj('hosts/web1/locks/0123'))).toBe(true);
    expect(policyAllows(doc, 's3:DeleteObject', obj('hosts/web1/data/ab/ab12'))).toBe(false);
    expect(policyAllows(doc, 's3:DeleteObject', obj('hosts/web1/snapshots/x'))).toBe(false);
    expect(policyAllows(doc, 's3:GetObject', obj('hosts/other/config'))).toBe(false);
    expect(policyAllows(doc, 's3:PutObjectRetention', obj('hosts/web1/config'))).toBe(false);
    expect(policyAllows(doc, 's3:ListBucketVersions', B)).toBe(false);
    for (const a of HISTORY_DESTROYING_ACTIONS) {
      expect(policyAllows(doc, a, B)).toBe(false);
      expect(policyAllows(doc, a, obj('hosts/web1/locks/0123'))).toBe(false);
    }
    const list = doc.Statement.find((s) => s.Sid === 'ListRepository')!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['hosts/web1', 'hosts/web1/*'] } });
    expect(doc.Statement.every((s) => s.Principal === undefined)).toBe(true);
  });

  it('backup with --retention may set retention on what it writes', () => {
    const doc = buildPolicy({ bucket: 'acme-backups', role: 'backup', retention: true });
    expect(policyAllows(doc, 's3:PutObjectRetention', obj('data/ab/ab12'))).toBe(true);
    expect(policyAllows(doc, 's3:BypassGovernanceRetention', obj('data/ab/ab12'))).toBe(false);
    // bucket root: no prefix condition, objects anywhere
    expect(doc.Statement.find((s) => s.Sid === 'ListRepository')!.Condition).toBeUndefined();
    expect(policyAllows(doc, 's3:DeleteObject', obj('locks/0123'))).toBe(true);
    expect(policyAllows(doc, 's3:DeleteObject', obj('config'))).toBe(false);
  });

  it('maintenance: deletes objects and reads versions, still cannot destroy history', () => {
    const doc = buildPolicy({ bucket: 'acme-backups', prefix: '/repo/', role: 'maintenance' });
    expect(policyAllows(doc, 's3:DeleteObject', obj('repo/data/ab/ab12'))).toBe(true);
    expect(policyAllows(doc, 's3:GetObjectVersion', obj('repo/index/x'))).toBe(true);
    expect(policyAllows(doc, 's3:ListBucketVersions', B)).toBe(true);
    expect(policyAllows(doc, 's3:PutObjectRetention', obj('repo/config'))).toBe(true);
    expect(policyAllows(doc, 's3:DeleteObject', obj('elsewhere/x'))).toBe(false);
    for (const a of HISTORY_DESTROYING_ACTIONS) expect(policyAllows(doc, a, obj('repo/data/ab/ab12'))).toBe(false);
  });

  it('admin: everything; bucket policy form carries the principal', () => {
    const doc = buildPolicy({ bucket: 'acme-backups', role: 'admin', principals: ['arn:aws:iam:::user/admin'] });
    expect(policyAllows(doc, 's3:PutBucketVersioning', B)).toBe(true);
    expect(policyAllows(doc, 's3:DeleteObjectVersion', obj('x'))).toBe(true);
    expect(doc.Statement[0].Principal).toEqual({ AWS: ['arn:aws:iam:::user/admin'] });
    const backup = buildPolicy({ bucket: 'acme-backups', role: 'backup', principals: ['arn:aws:iam::123456789012:user/backup'] });
    expect(backup.Statement.every((s) => s.Principal?.AWS[0] === 'arn:aws:iam::123456789012:user/backup')).toBe(true);
  });

  it('bad input: bucket name, role, prefix, principal', () => {
    const usage = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(isResticError(err, 'USAGE')).toBe(true);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    expect(usage(() => buildPolicy({ bucket: 'Bad_Bucket', role: 'backup' }))).toMatch(/invalid bucket name "Bad_Bucket"/);
    expect(usage(() => buildPolicy({ bucket: 'ok-bucket', role: 'root' as never }))).toMatch(/invalid role "root"/);
    expect(usage(() => buildPolicy({ bucket: 'ok-bucket', prefix: 'a/*', role: 'backup' }))).toMatch(/wildcards/);
    expect(usage(() => buildPolicy({ bucket: 'ok-bucket', prefix: 'a/../b', role: 'backup' }))).toMatch(/"\.\."/);
    expect(usage(() => buildPolicy({ bucket: 'ok-bucket', role: 'backup', principals: ['bob'] }))).toMatch(/invalid principal "bob"/);
  });
});
