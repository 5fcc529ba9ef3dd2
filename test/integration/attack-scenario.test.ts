/**
 * The user's scenario from issue 5, end to end against the real S3 server (radosgw) and the
 * real restic binary:
 *
 * restic backs up into a versioned bucket (and, in a second variant, an object-locked one
 * with a GOVERNANCE default retention). TIME is recorded. An "attacker" holding the same
 * credentials then overwrites `config` and some packs with garbage, plants snapshots (a
 * copy of a real snapshot file under a new name, and one restic writes with a forged time
 * far in the future), plants a lock, and deletes every other object. Then:
 * - `--as-of TIME` shows the original snapshots and restores the original data;
 * - `audit --since TIME` reports the deletions, the overwrites and the planted snapshots;
 * - `rollback --to TIME --dry-run` plans without changing anything; the planted lock makes
 *   a real rollback refuse until `--force`;
 * - after the rollback, restic itself passes `check --read-data` and `restore latest` gives
 *   back the source byte for byte; a second rollback plans nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { makeResticRepo, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { makeSourceTree, sleep, treeDigest, versionCount } from './s3-versioned-support.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client, type TestBucketOptions } from '../support/s3.js';

const PREFIX = 'repo';

async function currentKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: PREFIX + '/', ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

function putGarbage(client: S3Client, bucket: string, key: string, size: number) {
  const body = randomBytes(size);
  // Object-lock buckets demand an integrity header on PUT.
  return client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
}

const VARIANTS: Array<{ name: string; bucket: TestBucketOptions; rollbackArgs: string[] }> = [
  { name: 'versioned bucket', bucket: { versioning: true, stem: 'attack-ver' }, rollbackArgs: [] },
  // Restored objects get restic-ts's --retention (3 days), longer than the bucket default (1 day).
  { name: 'object-locked bucket (GOVERNANCE, 1 day)', bucket: { objectLock: { mode: 'GOVERNANCE', days: 1 }, stem: 'attack-lock' }, rollbackArgs: ['--retention', '3'] },
];

for (const variant of VARIANTS) {
  describe(`attack on a restic repository in a ${variant.name}, and recovery`, () => {
    // made in beforeAll, so a run that filters this describe out leaves no folder behind
    let dir: ReturnType<typeof tempDir>;
    const client = testS3Client();
    let bucket: string;
    let repo: string;
    let src: string;
    let timeBeforeAttack: string;
    let originalSnapshotIds: string[];
    let sourceDigest: Record<string, string>;
    let overwrittenPacks: string[];
    let plantedCopy: string;
    const env = () => ({ ...resticS3Env(), RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' });
    const cli = (args: string[]) => ours(['-r', repo, ...args], env());

    beforeAll(async () => {
      dir = tempDir('restic-ts-attack-');
      bucket = await createTestBucket(variant.bucket, client);
      repo = resticS3Repository(bucket, PREFIX);
      src = makeSourceTree(dir.path);
      await makeResticRepo(repo, { env: resticS3Env() });
      restic(['backup', src, '--host', 'victim'], { repo, env: resticS3Env() });
      writeFileSync(join(src, 'data-new.bin'), randomBytes(150_000));
      writeFileSync(join(src, 'docs', 'readme.txt'), 'the original, precious data, edited\n'.repeat(400));
      restic(['backup', src, '--host', 'victim'], { repo, env: resticS3Env() });
      sourceDigest = treeDigest(src);
      originalSnapshotIds = (JSON.parse(restic(['snapshots', '--json'], { repo, env: resticS3Env() }).stdout) as Array<{ id: string }>).map((s) => s.id).sort();
      expect(originalSnapshotIds).toHaveLength(2);

      // LastModified from listings has ms precision; keep clear of the second the backup ended in.
      await sleep(1100);
      timeBeforeAttack = new Date().toISOString();
      await sleep(1100);

      // The attacker, with the backup credentials.
      const keys = await currentKeys(client, bucket);
      restic(['backup', src, '--host', 'victim', '--time', '2099-01-01 00:00:00'], { repo, env: resticS3Env() });
      const snapshotKey = keys.find((k) => k.startsWith(`${PREFIX}/snapshots/`))!;
      plantedCopy = 'f'.repeat(8) + randomBytes(28).toString('hex');
      await client.send(
        new CopyObjectCommand({ Bucket: bucket, Key: `${PREFIX}/snapshots/${plantedCopy}`, CopySource: `${bucket}/${snapshotKey}` }),
      );
      overwrittenPacks = keys.filter((k) => k.startsWith(`${PREFIX}/data/`)).slice(0, 2);
      expect(overwrittenPacks).toHaveLength(2);
      await putGarbage(client, bucket, `${PREFIX}/config`, 200);
      for (const k of overwrittenPacks) await putGarbage(client, bucket, k, 5000);
      await putGarbage(client, bucket, `${PREFIX}/locks/${randomBytes(32).toString('hex')}`, 300);
      for (const key of await currentKeys(client, bucket)) {
        if (key === `${PREFIX}/config`) continue;
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }
      // The planted lock survives the mass delete (re-planted last, as a running attacker would).
      await putGarbage(client, bucket, `${PREFIX}/locks/${randomBytes(32).toString('hex')}`, 300);
      expect((await currentKeys(client, bucket)).length).toBe(2);
      expect(restic(['snapshots'], { repo, env: resticS3Env(), check: false }).code).not.toBe(0);
    });

    afterAll(async () => {
      await deleteTestBucket(bucket, client).catch(() => undefined);
      client.destroy();
      dir?.cleanup();
    });

    it('--as-of TIME shows the original snapshots and restores the original data before any rollback', async () => {
      const snaps = await cli(['--as-of', timeBeforeAttack, 'snapshots', '--json']);
      expect(snaps.stderr).toBe('');
      expect(snaps.code).toBe(0);
      expect((JSON.parse(snaps.stdout) as Array<{ id: string }>).map((s) => s.id).sort()).toEqual(originalSnapshotIds);

      const target = join(dir.path, 'asof-restore');
      const restored = await cli(['--as-of', timeBeforeAttack, 'restore', 'latest', '--target', target]);
      expect(restored.stderr).toBe('');
      expect(restored.code).toBe(0);
      expect(treeDigest(join(target, src))).toEqual(sourceDigest);

      // Writing through the view is refused before anything is touched.
      const versions = await versionCount(client, bucket);
      const backup = await cli(['--as-of', timeBeforeAttack, 'backup', src]);
      expect(backup.code).toBe(27);
      expect(backup.stderr).toMatch(/point-in-time view .* is read-only/);
      expect(await versionCount(client, bucket)).toBe(versions);
    });

    it('audit --since TIME reports the deletions, the overwrites and the planted snapshots', async () => {
      const run = await cli(['audit', '--since', timeBeforeAttack, '--json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as {
        counts: Record<string, Record<string, number>>;
        events: Array<{ kind: string; type: string; key: string; suspicious?: string }>;
        snapshots: Array<{ name: string; finding: string; detail?: string }>;
        locks: Array<{ present: boolean; hostname?: string; exclusive?: boolean; problem?: string }>;
        suspicious: number;
      };
      expect(report.counts.config.overwritten).toBe(1);
      expect(report.counts.pack.overwritten).toBe(2);
      expect(report.counts.pack.deleted).toBeGreaterThanOrEqual(3);
      expect(report.counts.index.deleted).toBeGreaterThanOrEqual(2);
      expect(report.counts.key.deleted).toBe(1);
      expect(report.counts.snapshot.deleted).toBe(4); // two originals, the forged-time one, the copy
      expect(report.counts.snapshot.added).toBe(2);
      for (const k of [`${PREFIX}/config`, ...overwrittenPacks]) {
        expect(report.events.find((e) => e.key === k && e.kind === 'overwritten')?.suspicious, k).toMatch(/overwritten/);
      }
      expect(report.events.some((e) => e.type === 'key' && e.kind === 'deleted' && e.suspicious)).toBe(true);
      const byName = new Map(report.snapshots.map((s) => [s.name, s]));
      expect(byName.get(plantedCopy)?.finding).toBe('name-mismatch');
      const forged = report.snapshots.filter((s) => s.finding === 'future-time');
      expect(forged).toHaveLength(1);
      expect(forged[0].detail).toMatch(/2099-01-01/);
      expect(report.suspicious).toBeGreaterThanOrEqual(6);
      // The attacker's restic run left a (removed) lock naming its host; the planted ones are not restic's.
      expect(report.locks.some((l) => !l.present && l.hostname !== undefined && l.exclusive === false)).toBe(true);
      expect(report.locks.filter((l) => l.problem !== undefined).length).toBe(2);
      expect(report.locks.filter((l) => l.present)).toHaveLength(1);

      const text = await cli(['audit', '--since', timeBeforeAttack]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/suspicious changes/);
      expect(text.stdout).toMatch(/NAME-MISMATCH/);
      expect(text.stdout).toMatch(/FUTURE-TIME/);
    });

    it('rollback --dry-run plans the recovery and changes nothing; a planted lock stops the real run until --force', async () => {
      const before = await versionCount(client, bucket);
      const dry = await cli(['rollback', '--to', timeBeforeAttack, '--dry-run', '--json']);
      expect(dry.stderr).toBe('');
      expect(dry.code).toBe(0);
      const plan = JSON.parse(dry.stdout) as {
        changes: number;
        totals: Record<string, { restore: number; remove: number }>;
        plan: Array<{ key: string; action: string }>;
        blocking_locks: unknown[];
      };
      expect(plan.totals.config.restore).toBe(1);
      expect(plan.totals.snapshot).toMatchObject({ restore: 2, remove: 0 });
      expect(plan.totals.key.restore).toBe(1);
      expect(plan.totals.lock.remove).toBe(1);
      // Overwritten, then deleted with everything else: the version from before TIME comes back.
      for (const k of overwrittenPacks) expect(plan.plan.find((c) => c.key === k)?.action).toBe('restore-deleted');
      expect(plan.plan.find((c) => c.key === `${PREFIX}/config`)?.action).toBe('restore-overwritten');
      expect(plan.blocking_locks).toHaveLength(1);
      expect(await versionCount(client, bucket)).toBe(before);

      const text = await cli(['rollback', '--to', timeBeforeAttack, '--dry-run', '-v']);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/objects to change/);
      expect(text.stdout).toMatch(/restore \(overwritten\)\s+repo\/config/);

      const refused = await cli(['rollback', '--to', timeBeforeAttack]);
      expect(refused.code).toBe(11);
      expect(refused.stderr).toMatch(/lock file\(s\) written after/);
      expect(await versionCount(client, bucket)).toBe(before);
    });

    it('rollback --to TIME --force recovers: restic check --read-data passes and restic restores the source byte for byte', async () => {
      const before = await versionCount(client, bucket);
      const run = await cli(['rollback', '--to', timeBeforeAttack, '--force', '--json', ...variant.rollbackArgs]);
      expect(run.stderr).toMatch(/^(lock .* was written at .*\n)*$/);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as { applied: number; remaining: number; failed: unknown[]; check: { errors: number; snapshots: number } };
      expect(result.failed).toEqual([]);
      expect(result.remaining).toBe(0);
      expect(result.check).toMatchObject({ errors: 0, snapshots: 2 });
      // No version was deleted: every change added a version or a delete marker.
      expect(await versionCount(client, bucket)).toBe(before + result.applied);
      if (variant.rollbackArgs.length > 0) {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${PREFIX}/config` }));
        expect(head.ObjectLockMode).toBe('GOVERNANCE');
        expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 2 * 86_400_000);
      }

      const check = restic(['check', '--read-data'], { repo, env: resticS3Env(), check: false });
      expect(check.stderr + check.stdout).toMatch(/no errors were found/);
      expect(check.code).toBe(0);
      const ids = (JSON.parse(restic(['snapshots', '--json'], { repo, env: resticS3Env() }).stdout) as Array<{ id: string }>).map((s) => s.id).sort();
      expect(ids).toEqual(originalSnapshotIds);
      const target = join(dir.path, 'restic-restore');
      restic(['restore', 'latest', '--target', target], { repo, env: resticS3Env() });
      expect(treeDigest(join(target, src))).toEqual(sourceDigest);
    });

    it('a second rollback plans nothing, and restic can back up into the recovered repository', async () => {
      const again = await cli(['rollback', '--to', timeBeforeAttack, '--json']);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ changes: 0 });
      restic(['backup', src, '--host', 'victim'], { repo, env: resticS3Env() });
      restic(['check'], { repo, env: resticS3Env() });
    });
  });
}

describe('rollback and --as-of on a bucket without versioning', () => {
  let dir: ReturnType<typeof tempDir>;
  const client = testS3Client();
  let bucket: string;
  let repo: string;
  beforeAll(async () => {
    dir = tempDir('restic-ts-nover-');
    bucket = await createTestBucket({ stem: 'nover' }, client);
    repo = resticS3Repository(bucket, PREFIX);
    await makeResticRepo(repo, { env: resticS3Env() });
    restic(['backup', makeSourceTree(dir.path)], { repo, env: resticS3Env() });
  });
  afterAll(async () => {
    await deleteTestBucket(bucket, client).catch(() => undefined);
    client.destroy();
    dir?.cleanup();
  });

  it('explains that nothing can be recovered, with exit code 26, and changes nothing', async () => {
    const env = { ...resticS3Env(), RESTIC_PASSWORD: TEST_PASSWORD };
    const keys = await currentKeys(client, bucket);
    const versions = await versionCount(client, bucket);
    const now = new Date(Date.now() - 500).toISOString();
    for (const args of [
      ['rollback', '--to', now],
      ['rollback', '--to', now, '--dry-run'],
      ['--as-of', now, 'snapshots'],
      ['audit', '--since', now],
    ]) {
      const run = await ours(['-r', repo, ...args], env);
      expect(run.code, args.join(' ')).toBe(26);
      expect(run.stderr).toMatch(/has versioning turned off/);
      expect(run.stderr).toMatch(/nothing can be recovered/);
    }
    expect(await currentKeys(client, bucket)).toEqual(keys);
    expect(await versionCount(client, bucket)).toBe(versions);
  });
});
