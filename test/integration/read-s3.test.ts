/**
 * The CLI reading a repository the real restic wrote to the real S3 server (radosgw), at the
 * bucket root and under a prefix; and the S3 bad-input cases through the CLI (credentials
 * refused, bucket missing, server unreachable) with their exit codes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/errors.js';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, s3Server } from '../support/s3.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-read-s3-');
const buckets: string[] = [];
let pw: string;

beforeAll(() => {
  pw = passwordFile(tmp.path);
  const src = join(tmp.path, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'd', 'f.txt'), 'hello s3\n');
});

afterAll(async () => {
  for (const b of buckets) await deleteTestBucket(b);
  tmp.cleanup();
});

for (const prefix of ['', 'team/backups']) {
  describe(`restic wrote to S3 ${prefix ? `under ${prefix}` : 'at the bucket root'}`, () => {
    let repo: string;
    let env: Record<string, string>;

    beforeAll(async () => {
      const bucket = await createTestBucket({ stem: 'read-s3' });
      buckets.push(bucket);
      repo = resticS3Repository(bucket, prefix);
      env = resticS3Env();
      await makeResticRepo(repo, { env });
      restic(['backup', '--host', 'one', '--tag', 'a', join(tmp.path, 'src')], { repo, env });
      restic(['backup', '--host', 'two', join(tmp.path, 'src', 'd')], { repo, env });
    });

    it('snapshots --json, cat config and list equal restic', async () => {
      const theirs = (...args: string[]) => restic(['--no-lock', ...args], { repo, env, password: TEST_PASSWORD }).stdout;
      const run = (...args: string[]) => ours(['-r', repo, '-p', pw, ...args], env);
      const snaps = await run('snapshots', '--json');
      expect(snaps.stderr).toBe('');
      expect(snaps.stdout).toBe(theirs('snapshots', '--json'));
      expect((await run('cat', 'config')).stdout).toBe(theirs('cat', 'config'));
      const sorted = (s: string): string[] => s.split('\n').filter(Boolean).sort();
      expect(sorted((await run('list', 'packs')).stdout)).toEqual(sorted(theirs('list', 'packs')));
      const blob = theirs('list', 'blobs').split('\n')[0].split(' ')[1];
      const mine = await run('cat', 'blob', blob);
      expect(mine.stdoutBytes.equals(restic(['--no-lock', 'cat', 'blob', blob], { repo, env }).stdoutBytes)).toBe(true);
    });
  });
}

describe('S3 bad input through the CLI', () => {
  it('credentials refused: BACKEND_AUTH', async () => {
    const bucket = await createTestBucket({ stem: 'read-s3-auth' });
    buckets.push(bucket);
    const r = await ours(['-r', resticS3Repository(bucket), '-p', pw, 'snapshots'], {
      ...resticS3Env(),
      AWS_SECRET_ACCESS_KEY: 'definitely-wrong',
    });
    expect(r.code, r.stderr).toBe(exitCodeFor('BACKEND_AUTH'));
    expect(r.stderr).toMatch(/^Fatal: /);
  });

  it('bucket missing: BUCKET_NOT_FOUND naming the bucket', async () => {
    const r = await ours(['-r', resticS3Repository('no-such-bucket-restic-ts'), '-p', pw, 'snapshots'], resticS3Env());
    expect(r.code, r.stderr).toBe(exitCodeFor('BUCKET_NOT_FOUND'));
    expect(r.stderr).toContain('no-such-bucket-restic-ts');
  });

  it('server unreachable: BACKEND_UNREACHABLE (the test timeout catches a hang)', async () => {
    // a port nobody listens on: bind, note it, close
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const r = await ours(['-r', `s3:http://127.0.0.1:${port}/bucket`, '-p', pw, 'snapshots'], resticS3Env(s3Server()));
    expect(r.code, r.stderr).toBe(exitCodeFor('BACKEND_UNREACHABLE'));
  });
});
