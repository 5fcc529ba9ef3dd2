import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_TYPES } from '../../src/backend/backend.js';
import { LocalBackend } from '../../src/backend/local.js';
import { openBackend } from '../../src/backend/open.js';
import { makeResticRepo, restic, tempDir } from '../support/restic.js';
import { collect, contentId, describeBackendContract, expectError } from '../unit/backend-contract.js';

describeBackendContract('LocalBackend', async () => {
  const dir = tempDir('restic-ts-local-');
  return { backend: new LocalBackend(join(dir.path, 'repo')), cleanup: dir.cleanup };
});

describe('LocalBackend on disk', () => {
  const dir = tempDir('restic-ts-local-');
  const root = join(dir.path, 'repo');
  const be = new LocalBackend(root);
  beforeAll(() => be.create());
  afterAll(() => dir.cleanup());

  it('creates restic\'s layout with 0700 directories', () => {
    expect(readdirSync(root).sort()).toEqual(['data', 'index', 'keys', 'locks', 'snapshots']);
    const sub = readdirSync(join(root, 'data')).sort();
    expect(sub).toHaveLength(256);
    expect(sub[0]).toBe('00');
    expect(sub[255]).toBe('ff');
    expect(statSync(join(root, 'data', 'a7')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'keys')).mode & 0o777).toBe(0o700);
  });

  it('leaves files read-only (0400) at restic\'s paths and no temporary files', async () => {
    const data = randomBytes(100);
    const id = contentId(data);
    await be.write('pack', id, data);
    const path = join(root, 'data', id.slice(0, 2), id);
    expect(statSync(path).mode & 0o777).toBe(0o400);
    expect(readdirSync(join(root, 'data', id.slice(0, 2)))).toEqual([id]);
    await be.write('config', 'config', Buffer.from('c'));
    expect(statSync(join(root, 'config')).mode & 0o777).toBe(0o400);
  });

  it('follows a group-readable config with group modes, as restic does (files 0440, dirs 0770)', async () => {
    const groupRoot = join(dir.path, 'group');
    mkdirSync(groupRoot);
    writeFileSync(join(groupRoot, 'config'), 'c', { mode: 0o440 });
    chmodSync(join(groupRoot, 'config'), 0o440);
    const grouped = new LocalBackend(groupRoot);
    const data = randomBytes(10);
    await grouped.write('pack', contentId(data), data);
    expect(statSync(join(groupRoot, 'data', contentId(data).slice(0, 2), contentId(data))).mode & 0o777).toBe(0o440);
    // mkdir is subject to the umask, for restic as for us.
    expect(statSync(join(groupRoot, 'data', contentId(data).slice(0, 2))).mode & 0o777).toBe(0o770 & ~process.umask());
  });

  it('refuses create() over an existing repository', async () => {
    await expectError(be.create(), 'ALREADY_EXISTS', /already exists/);
  });

  it('creates a missing type directory on write', async () => {
    const other = new LocalBackend(join(dir.path, 'bare'));
    const data = randomBytes(10);
    await other.write('pack', contentId(data), data);
    expect(await collect(other.list('pack'))).toEqual([{ name: contentId(data), size: 10 }]);
  });

  it('skips names that are not IDs, a stray tmp/ dir, and files directly under data/ (as restic does)', async () => {
    const id = contentId(randomBytes(4));
    mkdirSync(join(root, 'tmp'), { recursive: true });
    writeFileSync(join(root, 'tmp', id), 'x');
    writeFileSync(join(root, 'index', 'README'), 'x');
    writeFileSync(join(root, 'index', `${id}-tmp-123456`), 'x');
    mkdirSync(join(root, 'index', contentId(randomBytes(4))));
    writeFileSync(join(root, 'data', id), 'flat');
    const packs = await collect(be.list('pack'));
    expect(packs.map((p) => p.name)).not.toContain(id);
    expect(await collect(be.list('index'))).toEqual([]);
  });

  it('lists nothing for a missing directory and reports a missing file by path', async () => {
    const empty = new LocalBackend(join(dir.path, 'does-not-exist'));
    for (const t of FILE_TYPES) expect(await collect(empty.list(t))).toEqual([]);
    await expectError(empty.stat('config', 'config'), 'FILE_NOT_FOUND', /config not found in repository .*does-not-exist/);
  });

  it('reports an I/O problem as IO naming the file', async () => {
    // A directory where a file should be: fails for root too (permissions would not).
    const id = contentId(randomBytes(10));
    mkdirSync(join(root, 'keys', id));
    await expectError(be.read('key', id), 'IO', new RegExp(`cannot read keys/${id} in repository`));
  });
});

describe('LocalBackend with repositories restic wrote', () => {
  const dir = tempDir('restic-ts-local-restic-');
  const repo = join(dir.path, 'repo');
  const src = join(dir.path, 'src');
  beforeAll(async () => {
    mkdirSync(src);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}`), randomBytes(50_000 + i));
    await makeResticRepo(repo);
    restic(['backup', src], { repo });
    restic(['backup', src, '--tag', 'second'], { repo });
  });
  afterAll(() => dir.cleanup());

  it('lists the same files restic lists, with their sizes on disk', async () => {
    const be = await openBackend(repo);
    const map: Record<string, Parameters<typeof be.list>[0]> = { packs: 'pack', index: 'index', snapshots: 'snapshot', keys: 'key' };
    for (const [resticName, type] of Object.entries(map)) {
      const theirs = restic(['list', resticName], { repo }).stdout.split('\n').filter(Boolean).sort();
      const ours = await collect(be.list(type));
      expect(ours.map((f) => f.name)).toEqual(theirs);
      for (const f of ours) {
        const rel = type === 'pack' ? join('data', f.name.slice(0, 2), f.name) : join({ index: 'index', snapshot: 'snapshots', key: 'keys' }[type as 'index'], f.name);
        expect(f.size).toBe(statSync(join(repo, rel)).size);
      }
    }
    await be.close();
  });

  it('copies a repository file by file, and restic checks the copy with --read-data', async () => {
    const from = await openBackend(repo);
    const copyPath = join(dir.path, 'copy');
    const to = await openBackend(`local:${copyPath}`);
    await to.create();
    for (const type of FILE_TYPES) {
      for await (const f of from.list(type)) {
        const bytes = await from.read(type, f.name);
        if (type !== 'config') expect(contentId(bytes)).toBe(f.name);
        await to.write(type, f.name, bytes);
      }
    }
    expect(existsSync(join(copyPath, 'config'))).toBe(true);
    const check = restic(['check', '--read-data'], { repo: copyPath });
    expect(check.stdout).toMatch(/no errors were found/);
    await from.close();
    await to.close();
  });
});
