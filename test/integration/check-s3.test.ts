/**
 * check on a repository in the S3 test server (Ceph radosgw), written by restic 0.14:
 * restic-ts check --read-data passes; after one pack object is overwritten with a damaged
 * copy, restic-ts and restic both fail, naming that pack.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { repoWithBackups } from '../support/source-tree.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';

describe('check on S3', () => {
  let dir: ReturnType<typeof tempDir>;
  let bucket: string;
  beforeAll(async () => {
    dir = tempDir('rts-s3-check-');
    bucket = await createTestBucket({ stem: 'check' });
  });
  afterAll(async () => {
    dir.cleanup();
    await deleteTestBucket(bucket);
  });

  it('passes on a healthy repository and names a damaged pack like restic', async () => {
    const s3env = resticS3Env();
    const env = { ...s3env, RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };
    const repo = resticS3Repository(bucket, 'repo');
    const src = path.join(dir.path, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'big'), randomBytes(1024 * 1024));
    await repoWithBackups(repo, src, [{}], { env: s3env });

    const healthy = await ours(['-r', repo, 'check', '--read-data'], env);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(healthy.stdout).toContain('no errors were found');

    const client = testS3Client();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'repo/data/' }));
    const objects = (listed.Contents ?? []).filter((o) => (o.Size ?? 0) > 100_000);
    expect(objects.length).toBe(1);
    const key = objects[0].Key as string;
    const body = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    body[500] ^= 1;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const packId = key.split('/').pop() as string;

    const mine = await ours(['-r', repo, 'check', '--read-data'], env);
    expect(mine.code).toBe(29);
    expect(mine.stderr).toContain(`Pack ID does not match, want ${packId}`);
    const theirs = restic(['check', '--read-data'], { repo, env: s3env, check: false });
    expect(theirs.code).not.toBe(0);
    expect(theirs.stderr).toContain(`Pack ID does not match, want ${packId}`);
  });
});
