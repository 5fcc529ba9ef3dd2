/**
 * Cross-tests with the real restic binary on the real S3 server (radosgw): restic writes
 * repositories (with and without a prefix) and our S3Backend lists and reads them; our
 * S3Backend writes a repository and restic checks it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_TYPES, type FileType } from '../../src/backend/backend.js';
import { innermostBackend, openBackend } from '../../src/backend/open.js';
import type { S3Backend } from '../../src/backend/s3.js';
import { makeResticRepo, restic, tempDir } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';
import { collect } from '../unit/backend-contract.js';

const RESTIC_LIST: Partial<Record<FileType, string>> = { pack: 'packs', index: 'index', snapshot: 'snapshots', key: 'keys', lock: 'locks' };

function makeSource(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(src, `file${i}.bin`), randomBytes(40_000 + i * 1000));
  writeFileSync(join(src, 'sub', 'text.txt'), 'hello from restic-ts\n'.repeat(100));
  return src;
}

for (const prefix of ['', 'backups/host-a']) {
  describe(`restic writes to S3 ${prefix === '' ? 'at the bucket root' : `under prefix ${prefix}`}, restic-ts reads`, () => {
    const dir = tempDir('restic-ts-s3x-');
    let bucket: string;
    let repo: string;
    const env = () => resticS3Env();
    beforeAll(async () => {
      bucket = await createTestBucket({ stem: 'restic-wrote' });
      repo = resticS3Repository(bucket, prefix);
      const src = makeSource(dir.path);
      await makeResticRepo(repo, { env: env() });
      restic(['backup', src, '--host', 'h1'], { repo, env: env() });
      writeFileSync(join(src, 'new.bin'), randomBytes(10_000));
      restic(['backup', src, '--host', 'h1', '--tag', 't'], { repo, env: env() });
    });
    afterAll(async () => {
      await deleteTestBucket(bucket);
      dir.cleanup();
    });

    it('lists the files restic lists, with the sizes the bucket holds', async () => {
      const be = await openBackend(repo, { env: env() });
      const s3 = innermostBackend(be) as S3Backend;
      expect(s3.prefix).toBe(prefix);
      const client = testS3Client();
      for (const type of FILE_TYPES) {
        const ours = await collect(be.list(type));
        if (type === 'config') {
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: s3.objectKey('config', 'config') }));
          expect(ours).toEqual([{ name: 'config', size: head.ContentLength }]);
          continue;
        }
        const theirs = restic(['list', RESTIC_LIST[type]!, '--no-lock'], { repo, env: env() }).stdout.split('\n').filter(Boolean).sort();
        expect(ours.map((f) => f.name), type).toEqual(theirs);
        if (type === 'snapshot') expect(ours).toHaveLength(2);
        for (const f of ours) {
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: s3.objectKey(type, f.name) }));
          expect(f.size).toBe(head.ContentLength);
        }
      }
      // Every object restic wrote maps back to a repository file (nothing unexpected, nothing missed).
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) keys.push(o.Key!);
        token = page.NextContinuationToken;
      } while (token);
      for (const key of keys) expect(s3.keyToFile(key), key).toBeDefined();
      if (prefix !== '') expect(keys.every((k) => k.startsWith(prefix + '/'))).toBe(true);
      client.destroy();
      await be.close();
    });

    it('reads raw files whose SHA-256 is their name, and pack tails by range', async () => {
      const be = await openBackend(repo, { env: env() });
      for (const type of ['key', 'snapshot', 'index', 'pack'] as const) {
        for (const f of await collect(be.list(type))) {
          const bytes = await be.read(type, f.name);
          expect(bytes.length).toBe(f.size);
          expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.name);
          if (type === 'pack') {
            // The last 4 bytes of a pack are the encrypted header's length (little-endian).
            const tail = await be.read('pack', f.name, { offset: f.size - 4, length: 4 });
            const headerLength = Buffer.from(tail).readUInt32LE(0);
            expect(headerLength).toBeGreaterThan(0);
            expect(headerLength).toBeLessThan(f.size);
            expect(Buffer.from(tail).equals(Buffer.from(bytes.subarray(f.size - 4)))).toBe(true);
          }
        }
      }
      await be.close();
    });
  });
}

describe('restic-ts writes to S3, restic checks', () => {
  const dir = tempDir('restic-ts-s3w-');
  let bucketName: string;
  afterAll(async () => {
    await deleteTestBucket(bucketName);
    dir.cleanup();
  });

  it('a repository copied file by file into a new bucket passes restic check --read-data', async () => {
    const local = join(dir.path, 'repo');
    await makeResticRepo(local);
    restic(['backup', makeSource(dir.path)], { repo: local });
    bucketName = `rts-copy-${randomBytes(6).toString('hex')}`;
    const target = resticS3Repository(bucketName, 'copied/repo');
    const from = await openBackend(local);
    const to = await openBackend(target, { env: resticS3Env() });
    await to.create(); // makes the bucket
    for (const type of FILE_TYPES) {
      for await (const f of from.list(type)) await to.write(type, f.name, await from.read(type, f.name));
    }
    const check = restic(['check', '--read-data'], { repo: target, env: resticS3Env() });
    expect(check.stdout).toMatch(/no errors were found/);
    const snaps = JSON.parse(restic(['snapshots', '--json'], { repo: target, env: resticS3Env() }).stdout) as unknown[];
    expect(snaps).toHaveLength(1);
    await from.close();
    await to.close();
  });
});
