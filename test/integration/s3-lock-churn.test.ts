/**
 * Lock churn on a versioned bucket (issue 5): every lock refresh writes a new lock file and
 * deletes the old one, so each refresh leaves one non-current version and one delete marker;
 * the final release one more marker. Measured here with a fast refresh on radosgw; the
 * figures per hour of a real run (refresh every LOCK_REFRESH_MS = 5 min) are derived from it
 * and documented in docs/securing-backups-on-s3.md.
 */
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { cheapenKeys, passwordFile, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { deleteTestBucket, openTestS3Backend, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';
import { Repository } from '../../src/repository/repository.js';
import { acquireLock, LOCK_REFRESH_MS } from '../../src/repository/lock.js';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = tempDir('restic-ts-lock-churn-');
let bucket: string | undefined;
afterAll(async () => {
  if (bucket) await deleteTestBucket(bucket);
  dir.cleanup();
});

async function lockHistory(b: string) {
  const res = await testS3Client().send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'repo/locks/' }));
  return { versions: res.Versions ?? [], markers: res.DeleteMarkers ?? [] };
}

describe('lock churn on a versioned bucket', () => {
  it('one version and one delete marker per lock file; a refresh adds one of each', async () => {
    const backend = await openTestS3Backend({ versioning: true, prefix: 'repo', stem: 'lock-churn' });
    bucket = backend.bucket;
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    const repoUrl = resticS3Repository(bucket, 'repo');
    expect((await ours(['-r', repoUrl, '--password-file', pw, 'init'], env)).code).toBe(0);
    await cheapenKeys(repoUrl, [TEST_PASSWORD], { env });

    // A short backup: no refresh, so exactly one lock version and one marker.
    const src = join(dir.path, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'f.txt'), 'hello\n');
    const b = await ours(['-r', repoUrl, '--password-file', pw, 'backup', '-q', src], env);
    expect(b.code, b.stderr).toBe(0);
    let h = await lockHistory(bucket);
    expect(h.versions.length).toBe(1);
    expect(h.markers.length).toBe(1);
    expect(h.versions.every((v) => !v.IsLatest)).toBe(true);

    // A held lock refreshed n times.
    const repo = await Repository.open({ backend, password: TEST_PASSWORD });
    const lock = await acquireLock(repo, { exclusive: false, refreshMs: 400 });
    await new Promise((r) => setTimeout(r, 1_500));
    await lock.release();
    h = await lockHistory(bucket);
    const refreshes = h.versions.length - 2; // minus the backup's lock and this lock's first file
    expect(refreshes).toBeGreaterThanOrEqual(2);
    expect(h.markers.length).toBe(h.versions.length);
    expect(h.versions.every((v) => !v.IsLatest)).toBe(true);
    const bytes = h.versions.reduce((a, v) => a + (v.Size ?? 0), 0);
    const perVersion = bytes / h.versions.length;
    expect(perVersion).toBeLessThan(1024); // a lock file is a few hundred bytes
    // Per hour of a real run: 3600 s / 300 s = 12 refreshes → 12 versions + 12 markers.
    expect(3_600_000 / LOCK_REFRESH_MS).toBe(12);
    await backend.close();
  });
});
