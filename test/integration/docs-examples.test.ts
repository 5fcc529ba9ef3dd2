/**
 * Runs every program in docs/examples/ (the ones docs/library.md and README.md show) as a user
 * would — `node --import tsx docs/examples/X.ts …` in a child process — against repositories made
 * here: the bundled example repository (copied, so locks never touch fixtures/), repositories
 * the real restic creates, and a versioned bucket on the S3 test server. What the examples
 * write is then checked with the real restic binary.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cheapenKeys, makeResticRepo, passwordFile, requireRestic, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository, testS3Client } from '../support/s3.js';

// Type-only imports make `npm test`'s tsc typecheck the examples (tsconfig includes test/, not docs/examples/).
import type * as _snapshotsExample from '../../docs/examples/snapshots.js';
import type * as _readFilesExample from '../../docs/examples/read-files.js';
import type * as _backupExample from '../../docs/examples/backup.js';
import type * as _maintenanceExample from '../../docs/examples/maintenance.js';
import type * as _copyExample from '../../docs/examples/copy.js';
import type * as _s3RecoveryExample from '../../docs/examples/s3-recovery.js';
import type * as _s3PolicyExample from '../../docs/examples/s3-policy.js';
import type * as _quickStartExample from '../../docs/examples/quick-start.js';

const root = resolve(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

function example(name: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('docs', 'examples', name), ...args], {
    cwd: root,
    env: { ...process.env, TZ: 'UTC', ...env },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), stdoutBytes: r.stdout };
}

function ok(run: Run): Run {
  if (run.code !== 0) throw new Error(`example exited ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return run;
}

const resticIds = (repo: string, password: string, env?: Record<string, string>): string[] =>
  (JSON.parse(restic(['snapshots', '--json'], { repo, password, env }).stdout) as Array<{ id: string }>).map((s) => s.id).sort();

let work: ReturnType<typeof tempDir>;
let exampleRepo: string;
const examplePassword = 'correct horse battery staple';
let examplePasswordFile: string;

beforeAll(async () => {
  requireRestic();
  work = tempDir('restic-ts-docs-');
  exampleRepo = join(work.path, 'example-repo');
  cpSync(join(root, 'fixtures', 'example-repo'), exampleRepo, { recursive: true });
  examplePasswordFile = join(root, 'fixtures', 'example-repo.password');
  // The fixture's key has restic's calibrated scrypt (~1 s per open on this machine); the copy
  // gets a cheap one, since every example and restic run below opens it.
  await cheapenKeys(exampleRepo, [examplePassword]);
});
afterAll(() => work?.cleanup());

describe('examples on the bundled example repository', () => {
  it('snapshots.ts lists the snapshots restic lists and resolves latest, prefixes and subpaths', () => {
    const out = ok(example('snapshots.ts', [exampleRepo, examplePasswordFile])).stdout;
    for (const id of resticIds(exampleRepo, examplePassword)) expect(out).toContain(id.slice(0, 8));
    expect(out).toContain('tagged daily: 2');
    expect(out).toMatch(/latest: ef112df0 \(prefix resolves to ef112df0\)/);
    expect(out).toContain('unknown prefix: SNAPSHOT_NOT_FOUND (exit code 19)');
  });

  it('the defaults of snapshots.ts are the bundled repository', () => {
    // Read-only use of fixtures/ itself: opening and listing writes no lock.
    const out = ok(example('snapshots.ts', [])).stdout;
    expect(out).toMatch(/^repository [0-9a-f]{64} \(format version 2\)/);
    expect(out).toContain('latest: ef112df0');
  });

  it("quick-start.ts (the README's library example) lists the snapshots and prints every file", () => {
    const out = ok(example('quick-start.ts', [])).stdout;
    for (const id of ['399740e4', '582ed63e', 'ef112df0']) expect(out).toContain(id);
    expect(out).toContain('/tmp/restic-ts-example/home/docs/hello.txt\nHello from restic-ts!\n');
    expect(out).toContain('/tmp/restic-ts-example/etc/hostname\nexample.org\n');
  });

  it('read-files.ts walks like restic ls, streams a file like restic dump, and its tar equals restic dump', () => {
    const tar = join(work.path, 'second.tar');
    const out = ok(example('read-files.ts', [exampleRepo, examplePasswordFile, '582ed63e', tar])).stdout;
    const resticLs = restic(['ls', '582ed63e'], { repo: exampleRepo, password: examplePassword }).stdout.trim().split('\n').slice(1);
    const ourPaths = out.split('--- content')[0].trim().split('\n').map((l) => l.slice(8).replace(/ (\d+ bytes|-> .*)$/, ''));
    expect(ourPaths).toEqual(resticLs);
    const hello = restic(['dump', '582ed63e', '/tmp/restic-ts-example/home/docs/hello.txt'], { repo: exampleRepo, password: examplePassword }).stdout;
    expect(out).toContain(`--- content of /tmp/restic-ts-example/home/docs/hello.txt:\n${hello}`);
    const resticTar = restic(['dump', '582ed63e', '/'], { repo: exampleRepo, password: examplePassword }).stdoutBytes;
    expect(Buffer.compare(readFileSync(tar), resticTar)).toBe(0);
  });

  it('s3-policy.ts prints policies that refuse version deletion to the backup role', () => {
    const out = ok(example('s3-policy.ts', ['my-backups', 'laptop'])).stdout;
    expect(out).toContain('# role backup');
    expect(out).toContain('# role maintenance');
    expect(out).toContain('backup role may not s3:DeleteObjectVersion');
    const firstJson = out.split('# role backup\n')[1].split('\n# role')[0];
    expect(JSON.parse(firstJson)).toHaveProperty('Statement');
  });
});

describe('examples that write, checked with restic', () => {
  let repo: string;
  let pwFile: string;
  let src: string;

  beforeAll(() => {
    repo = join(work.path, 'written');
    pwFile = passwordFile(work.path);
    src = join(work.path, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'first version\n');
    writeFileSync(join(src, 'skip.tmp'), 'excluded by the example\n');
    writeFileSync(join(src, 'sub', 'b.bin'), Buffer.alloc(300_000, 7));
  });

  it('backup.ts creates a repository and writes three snapshots restic accepts', async () => {
    const out = ok(example('backup.ts', [repo, pwFile, src])).stdout;
    expect(out).toMatch(/created repository [0-9a-f]{64} \(version 2\)/);
    await cheapenKeys(repo, [TEST_PASSWORD]); // the example made a calibrated key; later opens need not pay for it
    expect(resticIds(repo, TEST_PASSWORD)).toHaveLength(3);
    restic(['check', '--read-data'], { repo });
    const files = restic(['ls', 'latest', '--path', src], { repo }).stdout;
    expect(files).toContain(join(src, 'a.txt'));
    expect(files).not.toContain('skip.tmp');
    expect(restic(['dump', 'latest', '--path', '/db.sql', '/db.sql'], { repo }).stdout).toBe('-- database dump\nINSERT INTO t VALUES (1);\n');
    expect(restic(['dump', 'latest', '--path', '/generated', '/reports/2026.csv'], { repo }).stdout).toBe('month,total\n1,42\n');
    const target = join(work.path, 'restored');
    restic(['restore', 'latest', '--path', src, '--target', target], { repo });
    expect(readFileSync(join(target, src, 'sub', 'b.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it('maintenance.ts tags, diffs, forgets, prunes, checks and adds a key; restic agrees', () => {
    // Two more rounds, so keep-last 2 has something to remove in every group.
    for (const text of ['second version\n', 'third version\n']) {
      writeFileSync(join(src, 'a.txt'), text);
      ok(example('backup.ts', [repo, pwFile, src]));
    }
    expect(resticIds(repo, TEST_PASSWORD)).toHaveLength(9);
    const newKeyFile = join(work.path, 'new-key.txt');
    writeFileSync(newKeyFile, 'second password\n');
    const out = ok(example('maintenance.ts', [repo, pwFile, newKeyFile])).stdout;
    expect(out).toContain('removed 3 snapshots');
    expect(out).toMatch(/check: 6 snapshots, \d+ trees, \d+ packs read, 0 errors/);
    expect(out).toMatch(/tagged [0-9a-f]{8} -> [0-9a-f]{8}/);
    // restic opens the added key, checks every byte, and sees the tag.
    expect(resticIds(repo, 'second password')).toHaveLength(6);
    restic(['check', '--read-data'], { repo, password: 'second password' });
    expect(restic(['snapshots', '--tag', 'checked', '--json'], { repo }).stdout).toMatch(/"checked"/);
    expect(out).toMatch(/^diff [0-9a-f]{8} -> [0-9a-f]{8}: \d+ changed files/m);
  });

  it('copy.ts copies every snapshot into a new repository with the same polynomial, then skips them', async () => {
    const dst = join(work.path, 'copy-dst');
    const dstPw = join(work.path, 'dst-password.txt');
    writeFileSync(dstPw, 'destination\n');
    expect(ok(example('copy.ts', [exampleRepo, examplePasswordFile, dst, dstPw])).stdout).toContain('3 copied, 0 skipped');
    await cheapenKeys(dst, ['destination']);
    expect(ok(example('copy.ts', [exampleRepo, examplePasswordFile, dst, dstPw])).stdout).toContain('0 copied, 3 skipped');
    restic(['check', '--read-data'], { repo: dst, password: 'destination' });
    const configOf = (r: string, pw: string) => JSON.parse(restic(['cat', 'config'], { repo: r, password: pw }).stdout) as { chunker_polynomial: string };
    expect(configOf(dst, 'destination').chunker_polynomial).toBe(configOf(exampleRepo, examplePassword).chunker_polynomial);
    const listing = (r: string, pw: string) => restic(['ls', 'latest'], { repo: r, password: pw }).stdout.split('\n').slice(1).join('\n');
    expect(listing(dst, 'destination')).toBe(listing(exampleRepo, examplePassword));
  });
});

describe('s3-recovery.ts on a versioned bucket of the S3 test server', () => {
  let bucket: string;
  afterAll(async () => {
    if (bucket) await deleteTestBucket(bucket);
  });

  it('audits an attack, reads the repository as it was, and rolls it back; restic verifies the result', async () => {
    bucket = await createTestBucket({ versioning: true, stem: 'docs-example' });
    const repo = resticS3Repository(bucket, 'repo');
    const env = resticS3Env();
    const dir = tempDir('restic-ts-docs-s3-');
    try {
      await makeResticRepo(repo, { env });
      const pwFile = passwordFile(dir.path);
      const src = join(dir.path, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'precious.txt'), 'do not lose me\n');
      restic(['backup', src, '--host', 'h'], { repo, env });
      const before = resticIds(repo, TEST_PASSWORD, env);
      await new Promise((r) => setTimeout(r, 1500));
      const time = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 1500));

      // The "attacker" with the backup credentials: a new snapshot, every snapshot file deleted, config overwritten.
      writeFileSync(join(src, 'precious.txt'), 'ransom note\n');
      restic(['backup', src, '--host', 'h'], { repo, env });
      const client = testS3Client();
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'repo/snapshots/' }));
      for (const o of listed.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'repo/config', Body: 'not a config any more' }));
      const broken = () => restic(['snapshots'], { repo, env, check: false }).code;
      expect(broken()).not.toBe(0);

      const dry = ok(example('s3-recovery.ts', [repo, pwFile, time], env)).stdout;
      expect(dry).toMatch(/since .*: \d+ changes, [1-9]\d* suspicious/);
      expect(dry).toContain(`at TIME: snapshot ${before[0].slice(0, 8)}`);
      expect(dry).toContain('restore-deleted repo/snapshots/');
      expect(dry).toContain('restore-overwritten repo/config');
      expect(dry).toMatch(/overwritten repo\/config: /);
      expect(broken()).not.toBe(0); // nothing changed without --apply

      const applied = ok(example('s3-recovery.ts', [repo, pwFile, time, '--apply'], env)).stdout;
      expect(applied).toMatch(/applied \d+, failed 0/);
      expect(applied).toMatch(/check: 1 snapshots, 0 errors/);
      expect(resticIds(repo, TEST_PASSWORD, env)).toEqual(before);
      restic(['check', '--read-data'], { repo, env });
      expect(restic(['dump', 'latest', join(src, 'precious.txt')], { repo, env }).stdout).toBe('do not lose me\n');
    } finally {
      dir.cleanup();
    }
  });
});
