/**
 * restic-ts check against restic 0.14's check on the same repositories:
 * - healthy repositories written by restic (v1, v2) and by restic-ts: no errors from either;
 * - repositories damaged on purpose (a flipped byte in a data pack, in a tree pack, a
 *   truncated pack, a missing pack, an index without one blob, a damaged snapshot file):
 *   both fail, and the file restic names is the one our finding names.
 * Each damage is applied to a fresh copy, checked by restic and by us.
 */
import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { parseIndexFile, encodeIndexFile } from '../../src/index/index-file.js';
import { checkRepository, type CheckFinding } from '../../src/maintenance/check.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { seededBytes, writeTree } from '../support/source-tree.js';
import { cheapenKeys, makeResticRepo, passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-check-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);

function makeSource(name: string): string {
  return writeTree(join(tmp.path, `${name}-src`), {
    'big.bin': seededBytes(1, 600_000),
    'small.txt': 'hello\n',
    'sub/other.bin': seededBytes(2, 50_000),
  });
}

/** Every file below dir (relative paths). */
function files(dir: string, sub = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, sub))) {
    const rel = sub ? `${sub}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...files(dir, rel));
    else out.push(rel);
  }
  return out;
}

const packFiles = (repo: string): string[] => files(repo).filter((f) => f.startsWith('data/'));

function writable(path: string): void {
  chmodSync(path, 0o600);
}

function flipByte(path: string, offset: number): void {
  writable(path);
  const b = readFileSync(path);
  b[offset] ^= 0x01;
  writeFileSync(path, b);
}

async function openRepo(path: string): Promise<Repository> {
  return Repository.open({ backend: new LocalBackend(path, path), password: TEST_PASSWORD });
}

/** Pack IDs holding tree blobs and data blobs (by our index). */
async function packsByType(repo: string): Promise<{ tree: string[]; data: string[] }> {
  const r = await openRepo(repo);
  const index = await r.loadIndex();
  const tree = new Set<string>();
  const data = new Set<string>();
  for (const e of index.entries()) (e.type === 'tree' ? tree : data).add(e.packId);
  return { tree: [...tree].sort(), data: [...data].sort() };
}

async function ourCheck(repo: string, readData: boolean): Promise<CheckFinding[]> {
  const r = await openRepo(repo);
  const result = await checkRepository(r, readData ? { readData: { kind: 'all' } } : {});
  return result.findings.filter((f) => f.severity === 'error');
}

let copies = 0;
function copyOf(repo: string): string {
  const dest = join(tmp.path, `copy-${copies++}`);
  cpSync(repo, dest, { recursive: true });
  return dest;
}

const repos: Record<string, string> = {};

beforeAll(async () => {
  for (const version of [1, 2] as const) {
    const repo = join(tmp.path, `restic-v${version}`);
    await makeResticRepo(repo, { version });
    restic(['backup', '-q', makeSource(`v${version}`)], { repo, cwd: tmp.path });
    repos[`restic-v${version}`] = repo;
  }
  const mine = join(tmp.path, 'ours');
  const init = await ours(['-r', mine, '--password-file', pw, 'init']);
  expect(init.code, init.stderr).toBe(0);
  await cheapenKeys(mine, [TEST_PASSWORD]);
  const backup = await ours(['-r', mine, '--password-file', pw, 'backup', '-q', makeSource('ours')]);
  expect(backup.code, backup.stderr).toBe(0);
  repos.ours = mine;
});

describe('check on healthy repositories', () => {
  it.each(['restic-v1', 'restic-v2', 'ours'])('%s: no errors from restic-ts (CLI, --read-data) nor from restic', async (name) => {
    const repo = repos[name];
    const theirs = restic(['check', '--read-data'], { repo, check: false });
    expect(theirs.code, theirs.stderr).toBe(0);
    const mine = await ours(['-r', repo, '--password-file', pw, 'check', '--read-data']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toContain('no errors were found');
    expect(mine.stdout).toContain('read all data');
    expect(mine.stderr).toBe('');
    const json = await ours(['-r', repo, '--password-file', pw, '--json', 'check', '--read-data-subset', '1/1']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; num_errors: number; packs_read: number };
    expect(doc).toMatchObject({ ok: true, num_errors: 0 });
    expect(doc.packs_read).toBe(packFiles(repo).length);
    expect(readdirSync(join(repo, 'locks'))).toEqual([]);
  });
});

interface Damage {
  name: string;
  /** Damages the copy; returns the ID (or prefix) both checkers must name. */
  apply(repo: string): Promise<string>;
  /** Only `check --read-data` finds it. */
  readDataOnly: boolean;
  /** Finding kinds we must report. */
  kinds: CheckFinding['kind'][];
  /** restic's --read-data retries a failed download with back-off for ~45 s: skip it there. */
  slowForRestic?: boolean;
}

const DAMAGES: Damage[] = [
  {
    name: 'flipped byte in a data pack',
    readDataOnly: true,
    kinds: ['pack-id-mismatch'],
    async apply(repo) {
      const pack = (await packsByType(repo)).data[0];
      flipByte(join(repo, 'data', pack.slice(0, 2), pack), 100);
      return pack;
    },
  },
  {
    name: 'flipped byte in a tree pack',
    readDataOnly: false,
    kinds: ['tree-damaged', 'pack-id-mismatch'],
    async apply(repo) {
      const r = await openRepo(repo);
      const index = await r.loadIndex();
      const treePack = (await packsByType(repo)).tree[0];
      const blob = index.blobsOfPack(treePack).find((b) => b.type === 'tree')!;
      flipByte(join(repo, 'data', treePack.slice(0, 2), treePack), blob.offset + 20);
      return blob.id.slice(0, 8);
    },
  },
  {
    name: 'truncated pack',
    readDataOnly: false,
    slowForRestic: true,
    kinds: ['pack-size'],
    async apply(repo) {
      const pack = (await packsByType(repo)).data[0];
      const path = join(repo, 'data', pack.slice(0, 2), pack);
      writable(path);
      truncateSync(path, statSync(path).size - 100);
      return pack;
    },
  },
  {
    name: 'missing pack',
    readDataOnly: false,
    slowForRestic: true,
    kinds: ['pack-missing'],
    async apply(repo) {
      const pack = (await packsByType(repo)).data[0];
      unlinkSync(join(repo, 'data', pack.slice(0, 2), pack));
      return pack;
    },
  },
  {
    name: 'index without one data blob',
    readDataOnly: false,
    slowForRestic: true,
    kinds: ['node-invalid', 'pack-size'],
    async apply(repo) {
      const r = await openRepo(repo);
      const [fileId] = await r.listIds('index');
      const content = parseIndexFile(await r.loadUnpacked('index', fileId), fileId);
      const pack = content.packs.find((p) => p.blobs.some((b) => b.type === 'data'))!;
      const removed = pack.blobs.find((b) => b.type === 'data')!;
      pack.blobs = pack.blobs.filter((b) => b !== removed);
      await r.saveUnpacked('index', encodeIndexFile(content.packs));
      unlinkSync(join(repo, 'index', fileId));
      return removed.id;
    },
  },
  {
    name: 'damaged snapshot file',
    readDataOnly: false,
    kinds: ['snapshot-damaged'],
    async apply(repo) {
      const [sn] = readdirSync(join(repo, 'snapshots'));
      flipByte(join(repo, 'snapshots', sn), 40);
      return sn.slice(0, 10);
    },
  },
];

describe.each(['restic-v1', 'restic-v2', 'ours'])('check on damaged copies of %s', (name) => {
  it.each(DAMAGES.map((d) => [d.name, d] as const))('%s: same verdict as restic, naming the same file', async (_label, damage) => {
    const repo = copyOf(repos[name]);
    const named = await damage.apply(repo);

    const structure = restic(['check'], { repo, check: false });
    const mineStructure = await ours(['-r', repo, '--password-file', pw, 'check']);
    expect(mineStructure.code !== 0, mineStructure.stdout + mineStructure.stderr).toBe(structure.code !== 0);
    expect(structure.code !== 0).toBe(!damage.readDataOnly);

    const theirs = damage.slowForRestic ? structure : restic(['check', '--read-data'], { repo, check: false });
    expect(theirs.code, theirs.stdout).not.toBe(0);
    expect(theirs.stdout + theirs.stderr).toContain(named);
    const mine = await ours(['-r', repo, '--password-file', pw, 'check', '--read-data']);
    expect(mine.code).toBe(29);
    expect(mine.stderr).toContain(named);
    expect(mine.stderr).toContain('Fatal: repository contains errors');

    const findings = await ourCheck(repo, true);
    expect(findings.length).toBeGreaterThan(0);
    for (const kind of damage.kinds) expect(findings.map((f) => f.kind)).toContain(kind);
    // every finding names a file or tree
    for (const f of findings) expect(f.file ?? f.treeId, f.message).toBeDefined();
    rmSync(repo, { recursive: true, force: true });
  });
});

describe('check CLI input', () => {
  it('refuses a bad --read-data-subset before touching the repository, with restic 0.14 wording', async () => {
    for (const [arg, msg] of [
      ['0/2', 'values must be positive integers, and n <= t'],
      ['1/300', 't must be at most 256'],
      ['1x', 'has invalid value'],
      ['150%', 'x must be above 0.0% and at most 100.0%'],
    ] as const) {
      const r = await ours(['-r', join(tmp.path, 'nowhere'), '--password-file', pw, 'check', '--read-data-subset', arg]);
      expect(r.code, arg).toBe(24);
      expect(r.stderr).toContain(msg);
    }
  });

  it('n/t, x% and size subsets read the packs restic would pick for n/t', async () => {
    const repo = repos['restic-v2'];
    const packs = packFiles(repo).map((f) => f.split('/').pop()!);
    for (let n = 1; n <= 2; n++) {
      const r = await ours(['-r', repo, '--password-file', pw, '--json', 'check', '--read-data-subset', `${n}/2`]);
      const expected = packs.filter((p) => parseInt(p.slice(0, 2), 16) % 2 === n - 1).length;
      expect((JSON.parse(r.stdout) as { packs_read: number }).packs_read).toBe(expected);
    }
    const pct = await ours(['-r', repo, '--password-file', pw, 'check', '--read-data-subset', '50%']);
    expect(pct.stdout).toContain('read 50.0% of data packs');
    const size = await ours(['-r', repo, '--password-file', pw, '--json', 'check', '--read-data-subset', '1k']);
    expect((JSON.parse(size.stdout) as { packs_read: number }).packs_read).toBe(1);
  });
});
