/**
 * `s3 doctor` and `s3 policy` on radosgw. The doctor proves with a canary what the
 * credentials can do: with the test user's full rights it finds that versions can be
 * deleted, governance bypassed and versioning changed (high, exit 29); with restic-ts's
 * backup policy applied as a bucket policy (radosgw applies an explicit Deny to the bucket
 * owner too) the same probes are refused and proved so. A bucket without versioning is a
 * finding, not an error.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DeleteBucketPolicyCommand, ListObjectVersionsCommand, PutBucketLifecycleConfigurationCommand, PutBucketPolicyCommand, GetBucketVersioningCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { tempDir } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';

const dir = tempDir('restic-ts-s3-doctor-');
const buckets: string[] = [];
const client = testS3Client();
afterAll(async () => {
  for (const b of buckets) {
    await client.send(new DeleteBucketPolicyCommand({ Bucket: b })).catch(() => undefined);
    await deleteTestBucket(b).catch(() => undefined);
  }
  dir.cleanup();
});

interface Finding {
  id: string;
  severity: string;
  fix?: { command?: string };
}

async function doctor(bucket: string, ...flags: string[]) {
  const r = await ours(['-r', resticS3Repository(bucket, 'repo'), '--json', 's3', 'doctor', ...flags], resticS3Env());
  const report = JSON.parse(r.stdout) as { findings: Finding[]; worst: string; probe?: { leftBehind: string[]; canaryKey: string } };
  const sev = (id: string) => report.findings.find((f) => f.id === id)?.severity;
  return { r, report, sev };
}

async function putLifecycle(bucket: string, rules: unknown[]): Promise<void> {
  const command = new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules as never } });
  // radosgw wants Content-MD5 on lifecycle PUTs.
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers: Record<string, string> };
      if (typeof request.body === 'string') request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      return next(args);
    },
    { step: 'build', name: 'contentMd5ForLifecycle' },
  );
  await client.send(command);
}

describe('s3 doctor', () => {
  it('object-locked bucket, full-rights credentials: proves the dangerous permissions (high), then with the backup policy proves them refused', async () => {
    const bucket = await createTestBucket({ stem: 'doctor', objectLock: { mode: 'GOVERNANCE', days: 1 } });
    buckets.push(bucket);
    let { r, report, sev } = await doctor(bucket);
    expect(r.code, r.stderr).toBe(29);
    expect(report.worst).toBe('high');
    expect(sev('versioning-enabled')).toBe('ok');
    expect(sev('default-retention')).toBe('ok');
    expect(sev('delete-keeps-version')).toBe('ok');
    expect(sev('can-delete-versions')).toBe('high');
    expect(sev('lock-enforced')).toBe('ok');
    expect(sev('can-bypass-governance')).toBe('high');
    expect(sev('can-change-bucket-settings')).toBe('high');
    expect(sev('no-noncurrent-expiration')).toBe('medium');
    expect(sev('no-abort-multipart')).toBe('low');
    const lcFix = report.findings.find((f) => f.id === 'no-noncurrent-expiration')!.fix!.command!;
    expect(lcFix).toContain(`put-bucket-lifecycle-configuration --bucket ${bucket}`);
    expect(lcFix).toContain('"NoncurrentDays":30');
    // the bypass deleted the canary: nothing left behind, versioning untouched
    expect(report.probe!.leftBehind).toEqual([]);
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe('Enabled');

    // Lifecycle as the guide says, then the backup policy as a bucket policy for this user.
    await putLifecycle(bucket, [
      { ID: 'restic', Status: 'Enabled', Filter: { Prefix: 'repo/' }, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
    ]);
    const pol = await ours(['s3', 'policy', '-r', resticS3Repository(bucket, 'repo'), '--role', 'backup', '--principal', 'arn:aws:iam:::user/test'], resticS3Env());
    expect(pol.code, pol.stderr).toBe(0);
    // Also deny setting retention, as the backup role lacks it without --allow-retention. (AWS
    // then refuses a PUT with lock headers and the doctor retries without them; radosgw 16 does
    // not check s3:PutObjectRetention on PutObject, so here the first PUT already succeeds.)
    const doc = JSON.parse(pol.stdout) as { Statement: unknown[] };
    doc.Statement.push({ Sid: 'NoRetention', Effect: 'Deny', Principal: { AWS: ['arn:aws:iam:::user/test'] }, Action: ['s3:PutObjectRetention'], Resource: [`arn:aws:s3:::${bucket}/*`] });
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(doc) }));

    ({ r, report, sev } = await doctor(bucket, '--recovery-window', '30'));
    expect(r.code, JSON.stringify(report.findings)).toBe(0);
    expect(report.worst).not.toBe('high');
    expect(sev('noncurrent-expiration')).toBe('ok');
    expect(sev('cannot-delete-versions')).toBe('ok');
    expect(sev('cannot-bypass-governance')).toBe('ok');
    expect(sev('cannot-change-bucket-settings')).toBe('ok');
    expect(sev('delete-keeps-version')).toBe('ok');
    // the locked canary stays, hidden by a delete marker
    expect(report.probe!.leftBehind.length).toBe(1);
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: report.probe!.canaryKey }));
    expect(versions.Versions?.length).toBe(1);
    expect(versions.DeleteMarkers?.[0]?.IsLatest).toBe(true);

    // a longer recovery window than the lifecycle keeps: high
    ({ r, sev } = await doctor(bucket, '--recovery-window', '60'));
    expect(r.code).toBe(29);
    expect(sev('noncurrent-expiration-too-short')).toBe('high');
    expect(sev('retention-shorter-than-window')).toBe('medium');

    // text output names severities and fixes
    const text = await ours(['-r', resticS3Repository(bucket, 'repo'), 's3', 'doctor', '--no-probe', '--recovery-window', '60'], resticS3Env());
    expect(text.code).toBe(29);
    expect(text.stdout).toMatch(/^HIGH {3}non-current versions expire after 30 days, less than the recovery window \(60 days\)$/m);
    expect(text.stdout).toContain('fix: Raise NoncurrentDays to 60');
  });

  it('bucket without versioning: findings, not an error; the canary is gone for good', async () => {
    const bucket = await createTestBucket({ stem: 'doctor-plain' });
    buckets.push(bucket);
    const { r, report, sev } = await doctor(bucket);
    expect(r.code, r.stderr).toBe(29);
    expect(sev('versioning-off')).toBe('high');
    expect(sev('no-object-lock')).toBe('medium');
    expect(sev('delete-destroys')).toBe('high');
    expect(report.findings.find((f) => f.id === 'versioning-off')!.fix!.command).toContain(`put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`);
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(versions.Versions ?? []).toEqual([]);
  });

  it('bad input: not an S3 repository, unknown subcommand, missing role, bad window', async () => {
    let r = await ours(['-r', join(dir.path, 'local'), 's3', 'doctor'], {});
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('s3 doctor needs an S3 repository');
    r = await ours(['s3', 'frobnicate'], {});
    expect(r.code).toBe(24);
    r = await ours(['s3', 'policy', '--bucket', 'b-1'], {});
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('--role');
    r = await ours(['s3', 'policy', '--bucket', 'b-1', '--role', 'god'], {});
    expect(r.code).toBe(24);
    r = await ours(['-r', 's3:http://127.0.0.1:1/nobucket', 's3', 'doctor', '--recovery-window', '-3'], {});
    expect(r.code).toBe(24);
  });
});
