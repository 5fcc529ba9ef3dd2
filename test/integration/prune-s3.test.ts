/**
 * The forget --prune routine on S3 (the radosgw test server): restic 0.14 writes the
 * repository (v2) with backups whose data changes, restic-ts runs
 * `forget --prune -H 5 -d 2 -w 2 -m 2` through the S3 backend, then restic checks every byte
 * (`check --read-data`) and restores the latest snapshot byte-identical to the source.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository } from '../support/s3.js';

process.env.TZ = 'UTC';

const dir = tempDir('restic-ts-prune-s3-');
let bucket: string | undefined;
afterAll(async () => {
  if (bucket) await deleteTestBucket(bucket);
  dir.cleanup();
});

describe('forget --prune on S3', () => {
  it('restic check --read-data passes and the latest snapshot restores byte-identical', async () => {
    bucket = await createTestBucket({ stem: 'prune' });
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const pw = passwordFile(dir.path);
    const src = join(dir.path, 'src');
    mkdirSync(src, { recursive: true });
    await makeResticRepo(repo, { env });
    const times = ['2024-01-01 10:00:00', '2024-01-01 11:00:00', '2024-01-03 10:00:00', '2024-02-03 10:00:00', '2024-02-03 10:30:00'];
    times.forEach((time, i) => {
      const data = Buffer.alloc(50_000 + i * 777);
      for (let j = 0; j < data.length; j++) data[j] = (j * 131 + i * 17 + (j >> 7)) & 0xff;
      writeFileSync(join(src, `f${i}.bin`), data);
      if (i >= 2) rmSync(join(src, `f${i - 2}.bin`));
      writeFileSync(join(src, 'note.txt'), `backup ${i}\n`.repeat(500));
      restic(['backup', '-q', '--time', time, src], { repo, env });
    });
    const before = JSON.parse(restic(['snapshots', '--json'], { repo, env }).stdout) as unknown[];

    const r = await ours(['-r', repo, '--password-file', pw, 'forget', '--prune', '-H', '5', '-d', '2', '-w', '2', '-m', '2'], { ...env, TZ: 'UTC' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('running prune');

    const after = JSON.parse(restic(['snapshots', '--json'], { repo, env }).stdout) as unknown[];
    expect(after.length).toBeLessThan(before.length);
    const check = restic(['check', '--read-data'], { repo, env, check: false });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(restic(['prune', '--dry-run'], { repo, env }).stdout).toContain('total prune:           0 blobs / 0 B');
    const target = join(dir.path, 'restore');
    restic(['restore', '-q', 'latest', '--target', target], { repo, env });
    const diff = spawnSync('diff', ['-r', src, join(target, src)], { encoding: 'utf8' });
    expect(diff.status, diff.stdout).toBe(0);
  });
});
