/**
 * restic-ts initialises and backs up into the S3 test server (Ceph radosgw); the real restic
 * reads, checks and restores it, and restic's own backup into it adds no data blobs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { blobIds, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository } from '../support/s3.js';

describe('backup into S3', () => {
  let dir: ReturnType<typeof tempDir>;
  let bucket: string;
  beforeAll(async () => {
    dir = tempDir('rts-s3-backup-');
    bucket = await createTestBucket({ stem: 'backup' });
  });
  afterAll(async () => {
    dir.cleanup();
    await deleteTestBucket(bucket);
  });

  it('restic checks, restores and deduplicates what restic-ts wrote', async () => {
    const s3env = resticS3Env();
    const env = { ...s3env, RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };
    const repo = resticS3Repository(bucket, 'repo');
    const src = path.join(dir.path, 'src');
    mkdirSync(path.join(src, 'd'), { recursive: true });
    const big = randomBytes(1536 * 1024);
    writeFileSync(path.join(src, 'big'), big);
    writeFileSync(path.join(src, 'd', 'small'), 'small file\n');

    const init = await ours(['-r', repo, 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    const b = await ours(['-r', repo, '--json', 'backup', src], env);
    expect(b.code, b.stderr).toBe(0);
    const summary = JSON.parse(b.stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ message_type: 'summary', files_new: 2 });

    restic(['check', '--read-data'], { repo, env: s3env });
    const target = path.join(dir.path, 'restore');
    restic(['restore', 'latest', '--target', target], { repo, env: s3env });
    expect(Buffer.compare(readFileSync(path.join(target, src, 'big')), big)).toBe(0);

    const before = blobIds(repo, 'data', { env: s3env });
    restic(['backup', '--force', src], { repo, env: s3env });
    expect(blobIds(repo, 'data', { env: s3env })).toEqual(before);
  });
});
