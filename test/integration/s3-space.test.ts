/**
 * `stats --versions` on radosgw: after a forget --prune in a versioned bucket the pruned
 * packs show as non-current bytes with delete markers, the current bytes equal what the
 * plain listing shows; bad input (local repository, snapshot arguments) is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';

const dir = tempDir('restic-ts-s3-space-');
let bucket: string | undefined;
afterAll(async () => {
  if (bucket) await deleteTestBucket(bucket);
  dir.cleanup();
});

describe('stats --versions', () => {
  it('current vs non-current bytes per file type after forget --prune', async () => {
    bucket = await createTestBucket({ stem: 'space', versioning: true });
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    await makeResticRepo(repo, { env });
    const src = join(dir.path, 'src');
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 2; i++) {
      writeFileSync(join(src, 'f.bin'), randomBytes(150_000 + i)); // incompressible
      restic(['backup', '-q', src], { repo, env });
    }
    const pruned = await ours(['-r', repo, '--password-file', pw, 'forget', '--keep-last', '1', '--prune'], env);
    expect(pruned.code, pruned.stderr).toBe(0);

    const r = await ours(['-r', repo, '--json', 'stats', '--versions'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { by_type: Record<string, { current_objects: number; current_bytes: number; noncurrent_versions: number; noncurrent_bytes: number; delete_markers: number }>; total: { current_bytes: number } };
    expect(s.by_type.pack.noncurrent_bytes).toBeGreaterThan(100_000);
    expect(s.by_type.pack.delete_markers).toBeGreaterThan(0);
    expect(s.by_type.snapshot.noncurrent_versions).toBe(1);
    expect(s.by_type.lock.current_objects).toBe(0);
    expect(s.by_type.lock.delete_markers).toBeGreaterThan(0); // every run's lock leaves a version + marker
    const listed = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'repo/' }));
    expect(s.total.current_bytes).toBe((listed.Contents ?? []).reduce((a, o) => a + (o.Size ?? 0), 0));

    const text = await ours(['-r', repo, 'stats', '--versions'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pack\s+\d+\s+[\d.]+ KiB\s+\d+\s+[\d.]+ KiB\s+\d+$/m);
    expect(text.stdout).toMatch(/^total\s+/m);
  });

  it('bad input: not an S3 repository, snapshot arguments', async () => {
    let r = await ours(['-r', join(dir.path, 'nowhere'), 'stats', '--versions'], {});
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('stats --versions needs an S3 repository');
    r = await ours(['-r', 's3:http://127.0.0.1:1/b/repo', 'stats', '--versions', 'latest'], {});
    expect(r.code).toBe(24);
  });
});
