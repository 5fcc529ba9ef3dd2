/**
 * Bad input on the read side: each case gets its specific exit code and a message naming
 * the file or thing concerned. Repositories are made by the real restic, then damaged.
 */
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open as openSealed, seal } from '../../src/crypto/index.js';
import { decodeMasterKey } from '../../src/crypto/master-key.js';
import { exitCodeFor } from '../../src/errors.js';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';

const tmp = tempDir('restic-ts-bad-input-');
let pristine: string;
let pwFile: string;

beforeAll(async () => {
  pristine = join(tmp.path, 'pristine');
  pwFile = passwordFile(tmp.path);
  const src = join(tmp.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'file.txt'), 'some content\n');
  await makeResticRepo(pristine);
  restic(['backup', '--host', 'h', src], { repo: pristine });
  restic(['backup', '--host', 'h', '--tag', 't', src], { repo: pristine });
});

afterAll(() => tmp.cleanup());

let copies = 0;
/** A writable copy of the pristine repository. */
function copyRepo(): string {
  const dest = join(tmp.path, `copy-${copies++}`);
  cpSync(pristine, dest, { recursive: true });
  makeWritable(dest);
  return dest;
}

function makeWritable(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) makeWritable(p);
    else chmodSync(p, 0o600);
  }
}

function onlyFile(dir: string): string {
  const names = readdirSync(dir);
  expect(names.length).toBeGreaterThan(0);
  return names[0];
}

function masterKeyOf(repo: string): ReturnType<typeof decodeMasterKey> {
  const json = restic(['cat', 'masterkey', '--no-lock'], { repo }).stdout;
  return decodeMasterKey(new TextEncoder().encode(JSON.stringify(JSON.parse(json))), 'masterkey');
}

const run = (repo: string, ...args: string[]) => ours(['-r', repo, '--password-file', pwFile, ...args]);

describe('bad input on the read side', () => {
  it('wrong password: exit 12, restic\'s message', async () => {
    const wrong = join(tmp.path, 'wrong.txt');
    writeFileSync(wrong, 'not the password\n');
    const r = await ours(['-r', pristine, '--password-file', wrong, 'snapshots']);
    expect(r.code).toBe(12);
    expect(r.stderr).toBe('Fatal: wrong password or no key found\n');
  });

  it('not a repository: exit 10, names the location', async () => {
    const empty = join(tmp.path, 'not-a-repo');
    mkdirSync(empty, { recursive: true });
    for (const where of [empty, join(tmp.path, 'does-not-exist')]) {
      const r = await run(where, 'snapshots');
      expect(r.code).toBe(10);
      expect(r.stderr).toContain('Fatal: unable to open config file');
      expect(r.stderr).toContain(where);
    }
  });

  it('--json adds a JSON error object on stderr', async () => {
    const r = await run(join(tmp.path, 'does-not-exist'), 'snapshots', '--json');
    expect(r.code).toBe(10);
    const lines = r.stderr.trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ message_type: 'exit_error', code: 10, error_code: 'REPOSITORY_NOT_FOUND' });
  });

  it('unsupported repository version: a config with version 3 sealed with the repo key', async () => {
    const repo = copyRepo();
    const key = masterKeyOf(repo);
    const config = JSON.parse(restic(['cat', 'config', '--no-lock'], { repo }).stdout) as Record<string, unknown>;
    const v3 = `{"version":3,"id":${JSON.stringify(config.id)},"chunker_polynomial":${JSON.stringify(config.chunker_polynomial)}}`;
    rmSync(join(repo, 'config'));
    writeFileSync(join(repo, 'config'), seal(key, new TextEncoder().encode(v3)));
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('UNSUPPORTED_VERSION'));
    expect(r.stderr).toMatch(/^Fatal: config: unsupported repository version 3/);
  });

  it('reducible chunker polynomial: CORRUPT naming config', async () => {
    const repo = copyRepo();
    const key = masterKeyOf(repo);
    const config = JSON.parse(restic(['cat', 'config', '--no-lock'], { repo }).stdout) as Record<string, unknown>;
    const bad = `{"version":2,"id":${JSON.stringify(config.id)},"chunker_polynomial":"3c"}`;
    rmSync(join(repo, 'config'));
    writeFileSync(join(repo, 'config'), seal(key, new TextEncoder().encode(bad)));
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toMatch(/config: invalid chunker polynomial 3c/);
  });

  it('corrupted config (MAC): exit MAC_FAILED, names config', async () => {
    const repo = copyRepo();
    const bytes = readFileSync(join(repo, 'config'));
    bytes[40] ^= 0x01;
    writeFileSync(join(repo, 'config'), bytes);
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('MAC_FAILED'));
    expect(r.stderr).toMatch(/^Fatal: config: ciphertext verification failed/);
  });

  it('truncated key file: CORRUPT naming keys/<id>', async () => {
    const repo = copyRepo();
    const keyId = onlyFile(join(repo, 'keys'));
    const keyPath = join(repo, 'keys', keyId);
    writeFileSync(keyPath, readFileSync(keyPath).subarray(0, 100));
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toContain(`keys/${keyId}`);
  });

  it('key file with damaged JSON but a matching name: CORRUPT naming keys/<id>', async () => {
    const repo = copyRepo();
    const keyId = onlyFile(join(repo, 'keys'));
    const bad = Buffer.from('{"created":"2020-01-01T00:00:00Z","kdf":"scrypt","N":"lots"}');
    const { createHash } = await import('node:crypto');
    const badId = createHash('sha256').update(bad).digest('hex');
    rmSync(join(repo, 'keys', keyId));
    writeFileSync(join(repo, 'keys', badId), bad);
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toContain(`keys/${badId}`);
    expect(r.stderr).toContain('"N"');
  });

  it('corrupted snapshot file: names the file', async () => {
    const repo = copyRepo();
    const snapId = onlyFile(join(repo, 'snapshots'));
    const p = join(repo, 'snapshots', snapId);
    const bytes = readFileSync(p);
    bytes[bytes.length - 20] ^= 0xff;
    writeFileSync(p, bytes);
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toContain(`snapshots/${snapId}`);
    expect(r.stderr).toContain('hash does not match');
    // the intact snapshot is still listed, as restic does
    expect(r.stdout).toContain('1 snapshots');
  });

  it('truncated snapshot file: names the file', async () => {
    const repo = copyRepo();
    const snapId = onlyFile(join(repo, 'snapshots'));
    const p = join(repo, 'snapshots', snapId);
    writeFileSync(p, readFileSync(p).subarray(0, 10));
    const r = await run(repo, 'cat', 'snapshot', snapId);
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toContain(`snapshots/${snapId}`);
  });

  it('snapshot re-encrypted with a damaged MAC but renamed to match: MAC_FAILED naming the file', async () => {
    const repo = copyRepo();
    const snapId = onlyFile(join(repo, 'snapshots'));
    const p = join(repo, 'snapshots', snapId);
    const bytes = readFileSync(p);
    bytes[bytes.length - 1] ^= 0x01;
    const { createHash } = await import('node:crypto');
    const newId = createHash('sha256').update(bytes).digest('hex');
    rmSync(p);
    writeFileSync(join(repo, 'snapshots', newId), bytes);
    const r = await run(repo, 'snapshots');
    expect(r.code).toBe(exitCodeFor('MAC_FAILED'));
    expect(r.stderr).toContain(`snapshots/${newId}`);
  });

  it('unknown snapshot ID prefix: SNAPSHOT_NOT_FOUND', async () => {
    const ids = restic(['list', 'snapshots', '--no-lock'], { repo: pristine }).stdout.trim().split('\n');
    const unused = '0123456789abcdef'.split('').find((c) => !ids.some((id) => id.startsWith(c)))!;
    const r = await run(pristine, 'cat', 'snapshot', unused);
    expect(r.code).toBe(exitCodeFor('SNAPSHOT_NOT_FOUND'));
    expect(r.stderr).toBe(`Fatal: could not find snapshot: no matching ID found for prefix "${unused}"\n`);
  });

  it('ambiguous snapshot ID prefix: SNAPSHOT_AMBIGUOUS', async () => {
    const repo = copyRepo();
    const src = join(tmp.path, 'src');
    // make snapshots until two share their first hex character (at most 17 needed)
    let ids = readdirSync(join(repo, 'snapshots'));
    let shared: string | undefined;
    for (let i = 0; i < 17 && shared === undefined; i++) {
      const firsts = ids.map((id) => id[0]);
      shared = firsts.find((c, j) => firsts.indexOf(c) !== j);
      if (shared !== undefined) break;
      restic(['backup', '--host', `h${i}`, src], { repo, password: TEST_PASSWORD });
      ids = readdirSync(join(repo, 'snapshots'));
    }
    expect(shared).toBeDefined();
    const r = await run(repo, 'cat', 'snapshot', shared!);
    expect(r.code).toBe(exitCodeFor('SNAPSHOT_AMBIGUOUS'));
    expect(r.stderr).toBe(`Fatal: could not find snapshot: multiple IDs with prefix "${shared}" found\n`);
  });

  it('path inside a snapshot that does not exist: SNAPSHOT_NOT_FOUND naming the path', async () => {
    const ids = restic(['list', 'snapshots', '--no-lock'], { repo: pristine }).stdout.trim().split('\n');
    const r = await run(pristine, 'cat', 'tree', `${ids[0]}:/no/such/dir`);
    expect(r.code).toBe(exitCodeFor('SNAPSHOT_NOT_FOUND'));
    expect(r.stderr).toContain('/no');
  });

  it('blob missing from the index: BLOB_NOT_FOUND', async () => {
    const r = await run(pristine, 'cat', 'blob', 'ab'.repeat(32));
    expect(r.code).toBe(exitCodeFor('BLOB_NOT_FOUND'));
    expect(r.stderr).toBe(`Fatal: blob ${'ab'.repeat(32)} not found\n`);
  });

  it('damaged pack: MAC_FAILED naming the pack and the blob', async () => {
    const repo = copyRepo();
    const [type, blobId] = restic(['list', 'blobs', '--no-lock'], { repo }).stdout.trim().split('\n')[0].split(' ');
    const packs = readdirSync(join(repo, 'data'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    for (const pack of packs) {
      const p = join(pack.parentPath, pack.name);
      const bytes = readFileSync(p);
      for (let i = 20; i < bytes.length - 40; i += 16) bytes[i] ^= 0x55; // damage every blob, keep the header
      writeFileSync(p, bytes);
    }
    const r = await run(repo, 'cat', 'blob', blobId);
    expect(r.code, r.stderr).toBe(exitCodeFor('MAC_FAILED'));
    expect(r.stderr).toContain(`${type} blob ${blobId}`);
    expect(r.stderr).toMatch(/data\/[0-9a-f]{2}\/[0-9a-f]{64}/);
  });

  it('damaged index file: names the index file', async () => {
    const repo = copyRepo();
    const indexId = onlyFile(join(repo, 'index'));
    const p = join(repo, 'index', indexId);
    writeFileSync(p, readFileSync(p).subarray(0, 50));
    const r = await run(repo, 'cat', 'blob', 'ab'.repeat(32));
    expect(r.code).toBe(exitCodeFor('CORRUPT'));
    expect(r.stderr).toContain(`index/${indexId}`);
  });

  it('invalid repository string: INVALID_LOCATION', async () => {
    const r = await run('s3:', 'snapshots');
    expect(r.code).toBe(exitCodeFor('INVALID_LOCATION'));
    expect(r.stderr).toMatch(/^Fatal: /);
  });

  it('unknown flag: USAGE before anything is touched', async () => {
    const r = await ours(['-r', join(tmp.path, 'never-created'), 'snapshots', '--bogus']);
    expect(r.code).toBe(exitCodeFor('USAGE'));
    expect(r.stderr).toBe('Fatal: unknown flag: --bogus\n');
    const r2 = await ours(['--bogus', 'snapshots']);
    expect(r2.code).toBe(exitCodeFor('USAGE'));
  });

  it('unknown command and missing repository: USAGE', async () => {
    expect((await ours(['frobnicate'])).code).toBe(exitCodeFor('USAGE'));
    const r = await ours(['snapshots', '--password-file', pwFile]);
    expect(r.code).toBe(exitCodeFor('USAGE'));
    expect(r.stderr).toBe('Fatal: Please specify repository location (-r or --repository-file)\n');
  });

  it('sanity: our open() accepts the undamaged config restic wrote', () => {
    const key = masterKeyOf(pristine);
    const bytes = readFileSync(join(pristine, 'config'));
    expect(() => openSealed(key, bytes, 'config')).not.toThrow();
  });
});
