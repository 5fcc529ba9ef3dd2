/**
 * Object-lock-aware writing on radosgw: `--retention DAYS` locks every object restic-ts
 * writes (locks excepted), `s3 retention extend` lengthens (never shortens) the retention of
 * what the snapshots need, prune/forget on a bucket with default retention finish and report
 * what stays stored; restic 0.14 checks the repositories. Bad input: no object lock, a local
 * repository, a bad mode.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteBucketPolicyCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';

const DAY = 86_400_000;
const dir = tempDir('restic-ts-s3-retention-');
const buckets: string[] = [];
const client = testS3Client();
afterAll(async () => {
  for (const b of buckets) await deleteTestBucket(b).catch(() => undefined);
  dir.cleanup();
});

function source(name: string, seed: number): string {
  const src = join(dir.path, name);
  mkdirSync(src, { recursive: true });
  const data = Buffer.alloc(300_000);
  for (let j = 0; j < data.length; j++) data[j] = (j * 31 + seed * 7 + (j >> 9) * seed) & 0xff;
  writeFileSync(join(src, 'a.bin'), data);
  writeFileSync(join(src, 'note.txt'), `seed ${seed}\n`.repeat(200));
  return src;
}

async function keys(bucket: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'repo/' }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

async function retention(bucket: string, key: string): Promise<{ mode?: string; until?: number }> {
  const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { mode: h.ObjectLockMode, until: h.ObjectLockRetainUntilDate?.getTime() };
}

describe('--retention and s3 retention extend', () => {
  it('locks every object written, extends only what lapses too soon, never shortens', async () => {
    const bucket = await createTestBucket({ stem: 'retention', objectLock: true });
    buckets.push(bucket);
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    const start = Date.now();
    let r = await ours(['-r', repo, '--password-file', pw, '--retention', '2', 'init'], env);
    expect(r.code, r.stderr).toBe(0);
    r = await ours(['-r', repo, '--password-file', pw, '-o', 's3.retention=2', 'backup', '-q', source('src1', 1)], env);
    expect(r.code, r.stderr).toBe(0);
    const written = await keys(bucket);
    expect(written.some((k) => k.startsWith('repo/data/'))).toBe(true);
    expect(written.some((k) => k.startsWith('repo/locks/'))).toBe(false); // released
    for (const key of written) {
      const ret = await retention(bucket, key);
      expect(ret.mode, key).toBe('GOVERNANCE');
      expect(ret.until!, key).toBeGreaterThanOrEqual(start + 2 * DAY - 5_000);
      expect(ret.until!, key).toBeLessThanOrEqual(Date.now() + 2 * DAY + 5_000);
    }
    // restic reads the locked repository as any other.
    expect(restic(['check', '--read-data'], { repo, env, check: false }).code).toBe(0);

    // dry run: nothing changes
    r = await ours(['-r', repo, '--password-file', pw, '--json', 's3', 'retention', 'extend', '--days', '5', '--dry-run'], env);
    expect(r.code, r.stderr).toBe(0);
    const dry = JSON.parse(r.stdout);
    expect(dry.dry_run).toBe(true);
    const total = Object.values(dry.counts as Record<string, { extend: number }>).reduce((a, c) => a + c.extend, 0);
    expect(total).toBe(written.length);
    expect(Object.keys(dry.counts).sort()).toEqual(['config', 'index', 'key', 'pack', 'snapshot']);
    for (const key of written) expect((await retention(bucket, key)).until!).toBeLessThan(start + 3 * DAY);

    // real run: everything needed is retained for 5 days
    r = await ours(['-r', repo, '--password-file', pw, 's3', 'retention', 'extend', '--days', '5'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pack\s+extended \d+/);
    for (const key of written) {
      const ret = await retention(bucket, key);
      expect(ret.until!, key).toBeGreaterThan(start + 5 * DAY - 60_000);
    }
    // extending writes no new versions
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'repo/' }));
    const nonLock = (versions.Versions ?? []).filter((v) => !v.Key!.startsWith('repo/locks/'));
    expect(nonLock.length).toBe(written.length);

    // a second run skips everything; a shorter target never shortens
    r = await ours(['-r', repo, '--password-file', pw, '--json', 's3', 'retention', 'extend', '--days', '3', '--min-remaining', '3'], env);
    expect(r.code, r.stderr).toBe(0);
    const again = JSON.parse(r.stdout);
    for (const c of Object.values(again.counts as Record<string, { extend: number; skip: number }>)) expect(c.extend).toBe(0);
    for (const key of written) expect((await retention(bucket, key)).until!).toBeGreaterThan(start + 5 * DAY - 60_000);
  });

  it('forget --prune on a bucket with default retention finishes, keeps locked packs, reports what stays stored; restic check passes', async () => {
    const bucket = await createTestBucket({ stem: 'retention-prune', objectLock: { mode: 'GOVERNANCE', days: 1 } });
    buckets.push(bucket);
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    await makeResticRepo(repo, { env });
    const src = join(dir.path, 'prune-src');
    for (let i = 0; i < 3; i++) {
      mkdirSync(src, { recursive: true });
      const data = Buffer.alloc(200_000);
      for (let j = 0; j < data.length; j++) data[j] = (j * 17 + i * 101 + (j >> 8) * (i + 3)) & 0xff;
      writeFileSync(join(src, 'changing.bin'), data);
      writeFileSync(join(src, 'stable.txt'), 'stable\n'.repeat(5000));
      restic(['backup', '-q', src], { repo, env });
    }
    const r = await ours(['-r', repo, '--password-file', pw, 'forget', '--keep-last', '1', '--prune', '--max-unused', '0'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/object lock: \d+ files to delete \([^)]+\) are locked until/);
    // the first backup's data pack still holds stable.txt: partly used, locked → kept, not repacked
    expect(r.stdout).toMatch(/object lock: [1-9]\d* partly used packs \([^)]+\) are locked and kept instead of repacked/);
    expect(r.stdout).toContain('done');
    const check = restic(['check', '--read-data'], { repo, env, check: false });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    // the deleted packs are still stored as locked non-current versions
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'repo/data/' }));
    const noncurrent = (versions.Versions ?? []).filter((v) => !v.IsLatest);
    expect(noncurrent.length).toBeGreaterThan(0);
    expect((versions.DeleteMarkers ?? []).length).toBe(noncurrent.length);
  });

  it('bad input: no object lock (nothing written), local repository, bad mode, extend without lock', async () => {
    const bucket = await createTestBucket({ stem: 'retention-nolock', versioning: true });
    buckets.push(bucket);
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    let r = await ours(['-r', repo, '--password-file', pw, '--retention', '7', 'init'], env);
    expect(r.code).toBe(27);
    expect(r.stderr).toContain(`bucket "${bucket}"`);
    expect(r.stderr).toContain('has no object lock, so --retention cannot be applied (nothing was written)');
    expect(await keys(bucket)).toEqual([]);

    r = await ours(['-r', join(dir.path, 'local'), '--password-file', pw, '--retention', '7', 'init'], env);
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('needs an S3 repository with object lock');
    r = await ours(['-r', repo, '--password-file', pw, '-o', 's3.retention-mode=forever', '-o', 's3.retention=3', 'init'], env);
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('want GOVERNANCE or COMPLIANCE');
    r = await ours(['-r', repo, '--password-file', pw, '-o', 's3.retention=0', 'init'], env);
    expect(r.code).toBe(24);

    await makeResticRepo(repo, { env });
    r = await ours(['-r', repo, '--password-file', pw, 's3', 'retention', 'extend', '--days', '3'], env);
    expect(r.code).toBe(27);
    expect(r.stderr).toContain('has no object lock: there is no retention to extend');
    r = await ours(['-r', repo, '--password-file', pw, 's3', 'retention', 'extend'], env);
    expect(r.code).toBe(24);
  });

  it('missing permission: extend names the denied permission (BACKEND_AUTH) and shortens nothing', async () => {
    const bucket = await createTestBucket({ stem: 'retention-denied', objectLock: { mode: 'GOVERNANCE', days: 1 } });
    buckets.push(bucket);
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    await makeResticRepo(repo, { env });
    // radosgw applies an explicit Deny in a bucket policy to the owner too.
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'NoRetention', Effect: 'Deny', Principal: { AWS: ['arn:aws:iam:::user/test'] }, Action: ['s3:PutObjectRetention'], Resource: [`arn:aws:s3:::${bucket}/*`] }],
    };
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    try {
      const before = await retention(bucket, 'repo/config');
      const r = await ours(['-r', repo, '--password-file', pw, 's3', 'retention', 'extend', '--days', '10'], env);
      expect(r.code, r.stderr).toBe(21);
      expect(r.stderr).toContain('s3:PutObjectRetention');
      expect(r.stderr).toContain('nothing was shortened');
      expect((await retention(bucket, 'repo/config')).until).toBe(before.until);
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    }
  });
});
