/**
 * The point-in-time view and rollback on the real S3 server (radosgw), beyond the attack
 * scenario: the library view (listing, ranged reads, read-only), every read command through
 * `--as-of` compared with what restic printed at that time, `check --read-data` through the
 * view, resuming an interrupted rollback, suspended versioning, and each kind of bad input
 * (unparseable, future, before the repository existed, not S3, refused credentials, a
 * server without ListObjectVersions or without the permission for it).
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { applyRollback, confirmByContent, planRollback } from '../../src/s3/rollback.js';
import { listVersionHistory, repositoryKeyPrefix } from '../../src/s3/version-history.js';
import { openAsOf } from '../../src/s3/versioned-view.js';
import { ours } from '../support/cli.js';
import { makeResticRepo, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, openTestS3Backend, resticS3Env, resticS3Repository, s3Server, testS3Client } from '../support/s3.js';
import { makeSourceTree, sleep, treeDigest, versionCount } from './s3-versioned-support.js';

const PREFIX = 'repo';

/** A proxy that answers S3 requests for object versions (`?versions`) with `status`/`code`, and passes the rest through. */
async function versionsRefusingProxy(target: string, status: number, code: string) {
  const upstream = new URL(target);
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (/[?&]versions(=|&|$)/.test(req.url ?? '')) {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return { endpoint: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

describe('point-in-time view of a versioned bucket', () => {
  // made in beforeAll, so a run that filters this describe out leaves no folder behind
  let dir: ReturnType<typeof tempDir>;
  const client = testS3Client();
  let bucket: string;
  let repo: string;
  let src: string;
  let beforeInit: string;
  let afterFirst: string;
  let afterSecond: string;
  let afterDamage: string;
  let afterRepair: string;
  let firstId: string;
  let secondId: string;
  let resticLsSecond: string;
  let resticStatsSecond: string;
  let secondDigest: Record<string, string>;
  const env = () => ({ ...resticS3Env(), RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' });
  const cli = (args: string[]) => ours(['-r', repo, ...args], env());

  beforeAll(async () => {
    dir = tempDir('restic-ts-asof-');
    bucket = await createTestBucket({ versioning: true, stem: 'asof' }, client);
    repo = resticS3Repository(bucket, PREFIX);
    beforeInit = new Date().toISOString();
    await sleep(1100);
    src = makeSourceTree(dir.path);
    await makeResticRepo(repo, { env: resticS3Env() });
    restic(['backup', src, '--host', 'h'], { repo, env: resticS3Env() });
    firstId = (JSON.parse(restic(['snapshots', '--json'], { repo, env: resticS3Env() }).stdout) as Array<{ id: string }>)[0].id;
    await sleep(1100);
    afterFirst = new Date().toISOString();
    await sleep(1100);
    writeFileSync(join(src, 'second.bin'), randomBytes(80_000));
    restic(['backup', src, '--host', 'h'], { repo, env: resticS3Env() });
    secondId = (JSON.parse(restic(['snapshots', '--json', 'latest'], { repo, env: resticS3Env() }).stdout) as Array<{ id: string }>)[0].id;
    resticLsSecond = restic(['ls', secondId], { repo, env: { ...resticS3Env(), TZ: 'UTC' } }).stdout;
    resticStatsSecond = restic(['stats', secondId, '--json'], { repo, env: resticS3Env() }).stdout;
    secondDigest = treeDigest(src);
    await sleep(1100);
    afterSecond = new Date().toISOString();
    await sleep(1100);
    // Damage: the second snapshot file and every index file are deleted.
    for (const key of [`${PREFIX}/snapshots/${secondId}`]) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const be = await openTestS3Backend({ bucket, prefix: PREFIX });
    for await (const f of be.list('index')) await be.remove('index', f.name);
    await be.close();
    await sleep(1100);
    afterDamage = new Date().toISOString();
    await sleep(1100);
  });

  afterAll(async () => {
    await deleteTestBucket(bucket, client).catch(() => undefined);
    client.destroy();
    dir?.cleanup();
  });

  it('library: openAsOf lists what was there at each time, reads (also ranges) the old versions, and refuses writes', async () => {
    const s3 = await openTestS3Backend({ bucket, prefix: PREFIX });
    try {
      const names = async (t: string, type: 'snapshot' | 'index') => {
        const view = await openAsOf(s3, Date.parse(t));
        const out: string[] = [];
        for await (const f of view.list(type)) out.push(f.name);
        return out.sort();
      };
      expect(await names(afterFirst, 'snapshot')).toEqual([firstId]);
      expect(await names(afterSecond, 'snapshot')).toEqual([firstId, secondId].sort());
      expect(await names(afterSecond, 'index')).toHaveLength(2);
      expect(await names(new Date().toISOString(), 'index')).toHaveLength(0);

      const view = await openAsOf(s3, Date.parse(afterSecond));
      const whole = await view.read('snapshot', secondId);
      expect((await view.stat('snapshot', secondId)).size).toBe(whole.length);
      expect(Buffer.from(await view.read('snapshot', secondId, { offset: 10, length: 20 }))).toEqual(Buffer.from(whole.subarray(10, 30)));
      await expect(view.read('snapshot', secondId, { offset: whole.length - 5, length: 10 })).rejects.toMatchObject({ code: 'CORRUPT' });
      await expect(view.read('snapshot', 'ab'.repeat(32))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      await expect(view.write('snapshot', 'ab'.repeat(32), new Uint8Array(3))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(view.remove('snapshot', secondId)).rejects.toThrow(/read-only/);

      // Paginated listing (3 entries a page) gives the same history.
      const paged = await listVersionHistory(s3, { pageSize: 3 });
      const whole1 = await listVersionHistory(s3);
      expect(paged).toEqual(whole1);
    } finally {
      await s3.close();
    }
  });

  it('CLI: every read command works through --as-of, as restic printed it at that time', async () => {
    const at = ['--as-of', afterSecond];
    const snaps = await cli([...at, 'snapshots', '--json']);
    expect(snaps.code).toBe(0);
    expect((JSON.parse(snaps.stdout) as Array<{ id: string }>).map((s) => s.id).sort()).toEqual([firstId, secondId].sort());
    const onlyFirst = await cli(['--as-of', afterFirst, 'snapshots', '--json']);
    expect((JSON.parse(onlyFirst.stdout) as Array<{ id: string }>).map((s) => s.id)).toEqual([firstId]);

    const ls = await cli([...at, 'ls', secondId]);
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toBe(resticLsSecond);
    const stats = await cli([...at, 'stats', secondId, '--json']);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toEqual(JSON.parse(resticStatsSecond));
    const cat = await cli([...at, 'cat', 'snapshot', secondId]);
    expect(cat.code).toBe(0);
    expect(JSON.parse(cat.stdout)).toMatchObject({ hostname: 'h' });
    const dump = await cli([...at, 'dump', secondId, join(src, 'second.bin')]);
    expect(dump.code).toBe(0);
    expect(dump.stdoutBytes.equals(readFileSync(join(src, 'second.bin')))).toBe(true);
    const check = await cli([...at, 'check', '--read-data']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    // "YYYY-MM-DD HH:MM:SS" in local time (TZ=UTC here) works too.
    const local = await ours(['-r', repo, '--as-of', afterSecond.slice(0, 19).replace('T', ' '), 'snapshots', '--json'], env());
    expect(local.code).toBe(0);

    // Today the index is gone: the normal view fails, the past one does not.
    expect((await cli(['ls', firstId])).code).not.toBe(0);
  });

  it('audit: genuine snapshots pass the time check; without a password the check is skipped and says so', async () => {
    const withKey = await cli(['audit', '--since', beforeInit, '--json']);
    expect(withKey.code).toBe(0);
    const report = JSON.parse(withKey.stdout) as { snapshots: Array<{ name: string; finding: string }>; counts: Record<string, Record<string, number>> };
    expect(report.snapshots.map((f) => [f.name, f.finding]).sort()).toEqual([[firstId, 'ok'], [secondId, 'ok']].sort());
    expect(report.counts.snapshot).toEqual({ added: 2, deleted: 1 });
    expect(report.counts.config).toEqual({ added: 1 });
    const text = await cli(['audit', '--since', beforeInit]);
    expect(text.stdout).toMatch(new RegExp(`${firstId.slice(0, 8)}  written .*  records .*  host h  ok`));

    const noPassword = await ours(['-r', repo, 'audit', '--since', beforeInit, '--json'], { ...resticS3Env() });
    expect(noPassword.code).toBe(0);
    expect(JSON.parse(noPassword.stdout).snapshot_check_skipped).toMatch(/no password/);
  });

  it('bad TIME: unparseable, in the future, before the repository existed — USAGE (24), nothing changed', async () => {
    const versions = await versionCount(client, bucket);
    const cases: Array<[string[], RegExp]> = [
      [['--as-of', 'last tuesday', 'snapshots'], /invalid --as-of "last tuesday"/],
      [['--as-of', '2999-01-01T00:00:00Z', 'snapshots'], /in the future/],
      [['--as-of', beforeInit, 'snapshots'], /did not exist yet: its config was first written at/],
      [['rollback', '--to', beforeInit], /did not exist yet/],
      [['rollback', '--to', '2026-13-01 00:00:00'], /invalid --to/],
      [['rollback'], /needs --to/],
      [['audit', '--since', '2999-01-01T00:00:00Z'], /in the future/],
      [['--as-of', afterFirst, 'rollback', '--to', afterFirst], /cannot be combined with --as-of/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(24);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    const local = await ours(['-r', dir.path, '--as-of', afterFirst, 'snapshots'], env());
    expect(local.code).toBe(24);
    expect(local.stderr).toMatch(/--as-of needs a repository in a versioned S3 bucket/);
    expect(await versionCount(client, bucket)).toBe(versions);
  });

  it('refused credentials, and a server that refuses or lacks ListObjectVersions: clear errors, nothing changed', async () => {
    const wrong = await ours(['-r', repo, '--as-of', afterFirst, 'snapshots'], { ...env(), AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    expect(wrong.code).toBe(21);
    expect(wrong.stderr).toMatch(/refused the credentials|ListBucketVersions/);

    for (const [status, code, exit, message] of [
      [501, 'NotImplemented', 27, /does not support ListObjectVersions/],
      [403, 'AccessDenied', 21, /s3:ListBucketVersions/],
    ] as const) {
      const proxy = await versionsRefusingProxy(s3Server().endpoint, status, code);
      try {
        const proxied = `s3:${proxy.endpoint}/${bucket}/${PREFIX}`;
        for (const args of [['--as-of', afterFirst, 'snapshots'], ['rollback', '--to', afterFirst], ['audit', '--since', afterFirst]]) {
          const run = await ours(['-r', proxied, ...args], env());
          expect(run.code, `${code} ${args.join(' ')}`).toBe(exit);
          expect(run.stderr).toMatch(message);
        }
      } finally {
        await proxy.close();
      }
    }
  });

  it('an interrupted rollback resumes: re-running plans only what is left, then nothing', async () => {
    const s3 = await openTestS3Backend({ bucket, prefix: PREFIX });
    try {
      const t = Date.parse(afterSecond);
      const plan = planRollback(await listVersionHistory(s3), t, repositoryKeyPrefix(s3));
      expect(plan.changes.length).toBe(3); // the second snapshot and two index files
      // "Interrupted" after the first change.
      const partial = await applyRollback(s3, { ...plan, changes: plan.changes.slice(0, 1) });
      expect(partial.applied).toBe(1);
      const dry = await cli(['rollback', '--to', afterSecond, '--dry-run', '--json']);
      expect(JSON.parse(dry.stdout)).toMatchObject({ changes: 2 });
      const run = await cli(['rollback', '--to', afterSecond]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/applied 2 changes, 0 failed, 0 left to do/);
      expect(run.stdout).toMatch(/structural check: 2 snapshots/);
      expect(JSON.parse((await cli(['rollback', '--to', afterSecond, '--dry-run', '--json'])).stdout)).toMatchObject({ changes: 0 });
      const target = join(dir.path, 'restored');
      restic(['restore', secondId, '--target', target], { repo, env: resticS3Env() });
      expect(treeDigest(join(target, src))).toEqual(secondDigest);
      await sleep(1100);
      afterRepair = new Date().toISOString();
      await sleep(1100);
    } finally {
      await s3.close();
    }
  });

  it('rolling back the rollback: the damaged state comes back, then the repaired one (no version was lost)', async () => {
    const ids = () => (JSON.parse(restic(['snapshots', '--json'], { repo, env: resticS3Env() }).stdout) as Array<{ id: string }>).map((x) => x.id).sort();
    const undo = await cli(['rollback', '--to', afterDamage, '--no-check', '--json']);
    expect(undo.code).toBe(0);
    expect(JSON.parse(undo.stdout)).toMatchObject({ changes: 3, remaining: 0 });
    expect(ids()).toEqual([firstId]);
    const redo = await cli(['rollback', '--to', afterRepair]);
    expect(redo.code).toBe(0);
    expect(ids()).toEqual([firstId, secondId].sort());
    restic(['check', '--read-data'], { repo, env: resticS3Env() });
  });

  it('with versioning suspended, --as-of still reads the past but rollback refuses (NOT_VERSIONED) before changing anything', async () => {
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    const versions = await versionCount(client, bucket);
    expect((await cli(['--as-of', afterFirst, 'snapshots', '--json'])).code).toBe(0);
    expect((await cli(['rollback', '--to', afterFirst, '--dry-run'])).code).toBe(0);
    const run = await cli(['rollback', '--to', afterFirst]);
    expect(run.code).toBe(26);
    expect(run.stderr).toMatch(/versioning of bucket .* is suspended/);
    expect(await versionCount(client, bucket)).toBe(versions);
    const s3 = await openTestS3Backend({ bucket, prefix: PREFIX });
    await expect(openAsOf(s3, Date.parse('2999-01-01T00:00:00Z'))).rejects.toSatisfy((e: unknown) => isResticError(e, 'USAGE'));
    await s3.close();
  });
});

describe('rollback of a pack that was uploaded in parts (multipart ETag)', () => {
  it('copies it back once; the copy\'s ETag changes form, and the content check sees it is done', async () => {
    const client = testS3Client();
    const bucket = await createTestBucket({ versioning: true, stem: 'multipart' }, client);
    const s3 = await openTestS3Backend({ bucket, prefix: PREFIX });
    try {
      const content = randomBytes(6 * 1024 * 1024 + 1234);
      const name = createHash('sha256').update(content).digest('hex');
      const key = `${PREFIX}/data/${name.slice(0, 2)}/${name}`;
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const parts = [content.subarray(0, 5 * 1024 * 1024), content.subarray(5 * 1024 * 1024)];
      const etags: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i], ContentLength: parts[i].length }));
        etags.push(r.ETag!);
      }
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
      );
      await sleep(1100);
      const t = Date.now();
      await sleep(1100);
      const garbage = randomBytes(content.length);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: garbage, ContentMD5: createHash('md5').update(garbage).digest('base64') }));

      const plan = await confirmByContent(s3, planRollback(await listVersionHistory(s3), t, repositoryKeyPrefix(s3)));
      expect(plan.changes.map((c) => [c.key, c.action, c.needsContentCheck])).toEqual([[key, 'restore-overwritten', true]]);
      expect((await applyRollback(s3, plan)).failed).toEqual([]);

      const raw = planRollback(await listVersionHistory(s3), t, repositoryKeyPrefix(s3));
      // radosgw gives the copy a plain MD5 ETag: the listing alone cannot say it is done …
      expect(raw.changes.every((c) => c.needsContentCheck)).toBe(true);
      // … the content can.
      expect((await confirmByContent(s3, raw)).changes).toEqual([]);
      const got = await s3.read('pack', name);
      expect(Buffer.from(got).equals(content)).toBe(true);
    } finally {
      await s3.close();
      await deleteTestBucket(bucket, client).catch(() => undefined);
      client.destroy();
    }
  });
});

describe('a repository written before versioning was turned on ("null" versions)', () => {
  it('rolls back deletions and overwrites of objects whose only old version is the "null" one', async () => {
    const dir = tempDir('restic-ts-nullver-');
    const client = testS3Client();
    const bucket = await createTestBucket({ stem: 'nullver' }, client);
    const repo = resticS3Repository(bucket, PREFIX);
    try {
      const src = makeSourceTree(dir.path);
      await makeResticRepo(repo, { env: resticS3Env() });
      restic(['backup', src], { repo, env: resticS3Env() });
      const digest = treeDigest(src);
      await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await sleep(1100);
      const t = new Date().toISOString();
      await sleep(1100);
      const s3 = await openTestS3Backend({ bucket, prefix: PREFIX });
      for await (const f of s3.list('snapshot')) await s3.remove('snapshot', f.name);
      const garbage = randomBytes(300);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}/config`, Body: garbage, ContentMD5: createHash('md5').update(garbage).digest('base64') }));
      await s3.close();

      const env = { ...resticS3Env(), RESTIC_PASSWORD: TEST_PASSWORD };
      const dry = await ours(['-r', repo, 'rollback', '--to', t, '--dry-run', '--json'], env);
      expect(dry.code).toBe(0);
      const plan = JSON.parse(dry.stdout) as { plan: Array<{ source_version?: { version_id: string } }> };
      expect(plan.plan.every((c) => c.source_version?.version_id === 'null')).toBe(true);
      const run = await ours(['-r', repo, 'rollback', '--to', t], env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      restic(['check', '--read-data'], { repo, env: resticS3Env() });
      const target = join(dir.path, 'restored');
      restic(['restore', 'latest', '--target', target], { repo, env: resticS3Env() });
      expect(treeDigest(join(target, src))).toEqual(digest);
    } finally {
      await deleteTestBucket(bucket, client).catch(() => undefined);
      client.destroy();
      dir.cleanup();
    }
  });
});
