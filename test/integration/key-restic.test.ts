/**
 * key add|remove|passwd against restic 0.14:
 * - a key restic-ts adds opens the repository in restic (`restic snapshots` with the new password);
 * - the key in use cannot be removed (error, nothing deleted); another key can, by prefix;
 * - passwd: the new password works in restic, the old one no longer does;
 * - keys restic adds open in restic-ts; restic-ts key list shows user/host given with --user/--host.
 * Also the library with small scrypt parameters (as tests may pass).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { addKey, changePassword, removeKey } from '../../src/maintenance/keys.js';
import { Repository } from '../../src/repository/repository.js';
import { isResticError } from '../../src/errors.js';
import { ours } from '../support/cli.js';
import { cheapenKeys, makeResticRepo, passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-key-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);

function pwFile(name: string, password: string): string {
  const p = join(tmp.path, name);
  writeFileSync(p, password + '\n');
  return p;
}

async function newRepo(name: string): Promise<string> {
  const repo = join(tmp.path, name);
  await makeResticRepo(repo);
  return repo;
}

const keyList = (repo: string, password = TEST_PASSWORD): { current: boolean; id: string; userName: string; hostName: string }[] =>
  JSON.parse(restic(['key', 'list', '--json'], { repo, password }).stdout);

describe('key add / remove / passwd (CLI) with restic', () => {
  it('key add: restic opens the repository with the new password; user and host are stored', async () => {
    const repo = await newRepo('add');
    const r = await ours(['-r', repo, '--password-file', pw, 'key', 'add', '--new-password-file', pwFile('new1', 'second password'), '--user', 'alice', '--host', 'box']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^saved new key as <Key of alice@box, created on /);
    const snaps = restic(['snapshots', '--json'], { repo, password: 'second password', check: false });
    expect(snaps.code, snaps.stderr).toBe(0);
    const keys = keyList(repo, 'second password');
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.current)).toMatchObject({ userName: 'alice', hostName: 'box' });
    // restic-ts opens with both passwords too
    const list = await ours(['-r', repo, '--password-file', pwFile('new1b', 'second password'), '--json', 'key', 'list']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(2);
  });

  it('key remove: refuses the key in use; removes another by ID prefix', async () => {
    const repo = await newRepo('remove');
    restic(['key', 'add', '--new-password-file', pwFile('other', 'other password')], { repo });
    await cheapenKeys(repo, ['other password']);
    const current = keyList(repo).find((k) => k.current)!.id;
    const other = keyList(repo).find((k) => !k.current)!.id;
    const refused = await ours(['-r', repo, '--password-file', pw, 'key', 'remove', current]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('refusing to remove key currently used to access repository');
    expect(readdirSync(join(repo, 'keys'))).toHaveLength(2);
    const removed = await ours(['-r', repo, '--password-file', pw, 'key', 'remove', other]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^removed key ${other}[0-9a-f]{56}\\n$`));
    expect(readdirSync(join(repo, 'keys'))).toHaveLength(1);
    expect(restic(['snapshots'], { repo, password: 'other password', check: false }).code).not.toBe(0);
    const unknown = await ours(['-r', repo, '--password-file', pw, 'key', 'remove', 'ffffffff']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no matching ID found for prefix "ffffffff"');
    expect(readdirSync(join(repo, 'locks'))).toEqual([]);
  });

  it('key passwd: the new password works in restic, the old one does not', async () => {
    const repo = await newRepo('passwd');
    const r = await ours(['-r', repo, '--password-file', pw, 'key', 'passwd', '--new-password-file', pwFile('changed', 'changed password')]);
    expect(r.code, r.stderr).toBe(0);
    expect(restic(['snapshots'], { repo, password: 'changed password', check: false }).code).toBe(0);
    const old = restic(['snapshots'], { repo, check: false });
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('wrong password');
    expect(readdirSync(join(repo, 'keys'))).toHaveLength(1);
  });

  it('needs --new-password-file, and refuses extra arguments, before touching anything', async () => {
    const repo = await newRepo('usage');
    expect((await ours(['-r', repo, '--password-file', pw, 'key', 'add'])).stderr).toContain('--new-password-file');
    expect((await ours(['-r', repo, '--password-file', pw, 'key', 'add', 'x', '--new-password-file', pw])).code).toBe(24);
    expect((await ours(['-r', repo, '--password-file', pw, 'key', 'remove'])).code).toBe(24);
    expect(readdirSync(join(repo, 'keys'))).toHaveLength(1);
  });
});

describe('keys library with small scrypt parameters', () => {
  it('addKey / changePassword / removeKey; restic opens the keys', async () => {
    const repo = await newRepo('lib');
    const small = { N: 1024, r: 8, p: 1 };
    const open = (password: string): Promise<Repository> => Repository.open({ backend: new LocalBackend(repo, repo), password });
    const r = await open(TEST_PASSWORD);
    const added = await addKey(r, 'lib password', { params: small, username: 'u', hostname: 'h' });
    expect(added.keyFile).toMatchObject({ N: 1024, r: 8, p: 1, username: 'u', hostname: 'h', kdf: 'scrypt' });
    expect(restic(['cat', 'config'], { repo, password: 'lib password', check: false }).code).toBe(0);
    await expect(removeKey(r, r.keyId!)).rejects.toSatisfy((e) => isResticError(e, 'USAGE'));
    const r2 = await open('lib password');
    const changed = await changePassword(r2, 'lib password 2', { params: small });
    expect(readdirSync(join(repo, 'keys')).sort()).toEqual([r.keyId!, changed.id].sort());
    expect(restic(['cat', 'config'], { repo, password: 'lib password 2', check: false }).code).toBe(0);
    expect(restic(['cat', 'config'], { repo, password: 'lib password', check: false }).code).not.toBe(0);
    await expect(addKey(r, '')).rejects.toSatisfy((e) => isResticError(e, 'USAGE'));
  });
});
