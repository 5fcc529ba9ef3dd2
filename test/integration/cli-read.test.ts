/**
 * restic-ts's read-only commands against repositories the real restic 0.14 writes (version 1
 * and 2, several snapshots, hosts and tags, a second key): output compared with restic's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend/open.js';
import { acquireLock } from '../../src/repository/lock.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { cheapenKeys, makeResticRepo, passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';

process.env.TZ = 'UTC';

interface Fixture {
  repo: string;
  pwFile: string;
  secondPwFile: string;
}

const tmp = tempDir('restic-ts-cli-read-');
const fixtures: Record<'v1' | 'v2', Fixture> = {} as Record<'v1' | 'v2', Fixture>;

async function makeRepo(version: 1 | 2): Promise<Fixture> {
  const base = join(tmp.path, `v${version}`);
  mkdirSync(base, { recursive: true });
  const repo = join(base, 'repo');
  const pwFile = passwordFile(base);
  const src = join(base, 'src');
  mkdirSync(join(src, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(src, 'dir', 'a.txt'), 'alpha\n');
  writeFileSync(join(src, 'dir', 'sub', 'b.txt'), 'beta'.repeat(1000));
  writeFileSync(join(src, 'c.txt'), 'gamma\n');
  await makeResticRepo(repo, { version });
  restic(['backup', '--host', 'alpha', '--tag', 'one', '--tag', 'two', '--time', '2021-01-01 10:00:00', src], { repo });
  writeFileSync(join(src, 'c.txt'), 'gamma changed\n');
  restic(['backup', '--host', 'beta', '--tag', 'one', '--time', '2021-01-02 10:00:00', join(src, 'dir')], { repo });
  restic(['backup', '--host', 'alpha', '--time', '2021-01-03 10:00:00', join(src, 'dir'), join(src, 'c.txt')], { repo });
  restic(['backup', '--host', 'beta', '--tag', 'x,y', '--time', '2021-01-04 10:00:00', src], { repo });
  const secondPwFile = join(base, 'second.txt');
  writeFileSync(secondPwFile, 'second password\n');
  restic(['key', 'add', '--new-password-file', secondPwFile, '--host', 'otherhost', '--user', 'someone'], { repo });
  await cheapenKeys(repo, ['second password']);
  return { repo, pwFile, secondPwFile };
}

beforeAll(async () => {
  fixtures.v1 = await makeRepo(1);
  fixtures.v2 = await makeRepo(2);
});

afterAll(() => tmp.cleanup());

function sortGroups(json: string): unknown {
  const groups = JSON.parse(json) as Array<{ group_key: unknown }>;
  return groups.sort((a, b) => JSON.stringify(a.group_key).localeCompare(JSON.stringify(b.group_key)));
}

for (const version of ['v1', 'v2'] as const) {
  describe(`read commands on a restic-made ${version} repository`, () => {
    const f = (): Fixture => fixtures[version];
    const args = (...rest: string[]): string[] => ['-r', f().repo, '--password-file', f().pwFile, '--no-lock', ...rest];
    // restic's answers do not change: run each command once (every run costs a key derivation)
    const memo = new Map<string, ReturnType<typeof restic>>();
    const theirs = (...rest: string[]): ReturnType<typeof restic> => {
      const key = JSON.stringify(rest);
      let r = memo.get(key);
      if (!r) {
        r = restic(['--no-lock', ...rest], { repo: f().repo, password: TEST_PASSWORD });
        memo.set(key, r);
      }
      return r;
    };

    it('snapshots --json equals restic, with and without filters', async () => {
      for (const extra of [[], ['--host', 'alpha'], ['--tag', 'one'], ['--tag', 'x,y'], ['--latest', '1'], ['--path', join(tmp.path, version, 'src', 'dir')]]) {
        const r = await ours(args('snapshots', '--json', ...extra));
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(theirs('snapshots', '--json', ...extra).stdout);
      }
    });

    it('snapshots --json --group-by gives restic groups (restic orders groups randomly)', async () => {
      for (const groupBy of ['host', 'host,paths', 'tags', 'host,tags,paths']) {
        const r = await ours(args('snapshots', '--json', '--group-by', groupBy));
        expect(r.code).toBe(0);
        expect(sortGroups(r.stdout)).toEqual(sortGroups(theirs('snapshots', '--json', '--group-by', groupBy).stdout));
      }
    });

    it('snapshots table equals restic', async () => {
      for (const extra of [[], ['--compact'], ['--host', 'beta']]) {
        const r = await ours(args('snapshots', ...extra));
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(theirs('snapshots', ...extra).stdout);
      }
    });

    it('snapshots with explicit IDs and prefixes', async () => {
      const all = JSON.parse(theirs('snapshots', '--json').stdout) as Array<{ id: string; short_id: string }>;
      const r = await ours(args('snapshots', '--json', all[1].short_id, all[0].id));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(theirs('snapshots', '--json', all[1].short_id, all[0].id).stdout);
    });

    it('cat config, cat snapshot, cat key, cat masterkey, cat index equal restic', async () => {
      const ids = theirs('list', 'snapshots').stdout.trim().split('\n');
      const keys = theirs('list', 'keys').stdout.trim().split('\n');
      const indexes = theirs('list', 'index').stdout.trim().split('\n');
      const cases: string[][] = [['config'], ['masterkey'], ['snapshot', ids[0]], ['snapshot', ids[1].slice(0, 10)], ['key', keys[0]], ['index', indexes[0]]];
      for (const c of cases) {
        const r = await ours(args('cat', ...c));
        expect(r.stderr, c.join(' ')).toBe('');
        expect(r.stdout, c.join(' ')).toBe(theirs('cat', ...c).stdout);
      }
    });

    it('cat blob and cat pack give restic the same bytes', async () => {
      const blobs = theirs('list', 'blobs').stdout.trim().split('\n').map((l) => l.split(' '));
      for (const [, id] of [blobs[0], blobs[blobs.length - 1]]) {
        const r = await ours(args('cat', 'blob', id));
        expect(r.code).toBe(0);
        expect(r.stdoutBytes.equals(theirs('cat', 'blob', id).stdoutBytes)).toBe(true);
      }
      const pack = theirs('list', 'packs').stdout.trim().split('\n')[0];
      const r = await ours(args('cat', 'pack', pack));
      expect(r.stdoutBytes.equals(theirs('cat', 'pack', pack).stdoutBytes)).toBe(true);
    });

    it('cat tree SNAPSHOT[:DIR] prints the tree blob restic has; cat lock equals restic', async () => {
      const snaps = JSON.parse(theirs('snapshots', '--json').stdout) as Array<{ id: string; tree: string; paths: string[] }>;
      const sn = snaps[0];
      const r = await ours(args('cat', 'tree', sn.id));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdoutBytes.equals(theirs('cat', 'blob', sn.tree).stdoutBytes)).toBe(true);
      const byId = await ours(args('cat', 'tree', sn.tree));
      expect(byId.stdoutBytes.equals(r.stdoutBytes)).toBe(true);

      const repo = await Repository.open({ backend: await openBackend(f().repo), password: TEST_PASSWORD });
      const lock = await acquireLock(repo, { exclusive: false, waitMs: 0 });
      try {
        const mine = await ours(args('cat', 'lock', lock.id));
        expect(mine.stderr).toBe('');
        expect(mine.stdout).toBe(restic(['--no-lock', 'cat', 'lock', lock.id], { repo: f().repo }).stdout);
      } finally {
        await lock.release();
        await repo.close();
      }
    });

    it('list snapshots/packs/index/keys/blobs equal restic (as sets)', async () => {
      for (const what of ['snapshots', 'packs', 'index', 'keys', 'locks', 'blobs']) {
        const r = await ours(args('list', what));
        expect(r.code).toBe(0);
        const mine = r.stdout.split('\n').filter(Boolean).sort();
        const want = theirs('list', what).stdout.split('\n').filter(Boolean).sort();
        expect(mine, what).toEqual(want);
      }
    });

    it('key list shows both keys and marks the one in use; --json equals restic', async () => {
      const sortKeys = (s: string): unknown => (JSON.parse(s) as Array<{ id: string }>).sort((a, b) => a.id.localeCompare(b.id));
      const r = await ours(args('key', 'list', '--json'));
      expect(r.code).toBe(0);
      expect(sortKeys(r.stdout)).toEqual(sortKeys(theirs('key', 'list', '--json').stdout));
      const second = await ours(['-r', f().repo, '--password-file', f().secondPwFile, 'key', 'list', '--json']);
      const secondWant = restic(['--no-lock', 'key', 'list', '--json'], { repo: f().repo, password: 'second password' });
      expect(sortKeys(second.stdout)).toEqual(sortKeys(secondWant.stdout));
      const table = await ours(args('key', 'list'));
      expect(table.stdout.split('\n').filter((l) => l.startsWith('*'))).toHaveLength(1);
      expect(table.stdout).toContain('someone');
    });

    it('opens with the second key, and with --key-hint', async () => {
      const keys = theirs('list', 'keys').stdout.trim().split('\n');
      const r = await ours(['-r', f().repo, '--password-file', f().secondPwFile, 'snapshots', '--json']);
      expect(r.code).toBe(0);
      for (const k of keys) {
        const hinted = await ours([...args('--key-hint', k.slice(0, 6)), 'snapshots', '--json']);
        expect(hinted.code).toBe(0);
      }
    });
  });
}

describe('version', () => {
  it('prints text and JSON', async () => {
    const t = await ours(['version']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^restic-ts \d+\.\d+\.\d+ /);
    const j = await ours(['version', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ message_type: 'version' });
  });
});
