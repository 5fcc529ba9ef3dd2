/**
 * diff against restic 0.14 on snapshots with added, removed, modified and type-changed
 * entries, metadata-only changes, odd names, and a shared subtree: text output, `--metadata`
 * and `--json` must be byte-identical to restic's. Also on a repository restic-ts wrote.
 */
import { chmodSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { writeTree } from '../support/source-tree.js';
import { cheapenKeys, makeResticRepo, passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-diff-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const src = join(tmp.path, 'src');

function firstState(): void {
  writeTree(src, {
    'a.txt': 'a\n',
    'b.txt': 'b\n',
    'sub/deep/x': 'x'.repeat(5000),
    'gone/g': 'g\n',
    'gone/inner/h': 'h\n',
    'shared/s': 'shared\n',
    'späce ü.txt': 'odd\n',
  });
  symlinkSync('a.txt', join(src, 'link'));
  writeFileSync(join(src, 'becomes-dir'), 'file\n');
  utimesSync(join(src, 'shared', 's'), 1_600_000_000, 1_600_000_000);
}

function secondState(): void {
  writeFileSync(join(src, 'a.txt'), 'a changed\n');
  rmSync(join(src, 'gone'), { recursive: true });
  writeTree(src, { 'new/n': 'n\n', 'new/n2/m': 'm\n' });
  rmSync(join(src, 'link'));
  writeFileSync(join(src, 'link'), 'now a file\n');
  rmSync(join(src, 'becomes-dir'));
  mkdirSync(join(src, 'becomes-dir'));
  chmodSync(join(src, 'b.txt'), 0o600);
  writeFileSync(join(src, 'sub', 'deep', 'x'), 'y'.repeat(5000));
  symlinkSync('b.txt', join(src, 'newlink'));
}

async function snapshotIds(repo: string): Promise<string[]> {
  const list = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string; time: string }[];
  return list.sort((a, b) => (a.time < b.time ? -1 : 1)).map((s) => s.id);
}

const repos: Record<string, string> = {};

beforeAll(async () => {
  firstState();
  const resticRepo = join(tmp.path, 'restic-repo');
  const oursRepo = join(tmp.path, 'ours-repo');
  await makeResticRepo(resticRepo);
  expect((await ours(['-r', oursRepo, '--password-file', pw, 'init'])).code).toBe(0);
  await cheapenKeys(oursRepo, [TEST_PASSWORD]);
  restic(['backup', '-q', src], { repo: resticRepo });
  expect((await ours(['-r', oursRepo, '--password-file', pw, 'backup', '-q', src])).code).toBe(0);
  secondState();
  restic(['backup', '-q', src], { repo: resticRepo });
  expect((await ours(['-r', oursRepo, '--password-file', pw, 'backup', '-q', src])).code).toBe(0);
  repos.restic = resticRepo;
  repos.ours = oursRepo;
});

describe.each(['restic', 'ours'])('diff on a repository written by %s', (name) => {
  it.each([[[]], [['--metadata']], [['--json']], [['--json', '--metadata']]] as const)('flags %j: identical to restic 0.14', async (flags) => {
    const repo = repos[name];
    const [first, second] = await snapshotIds(repo);
    for (const [a, b] of [
      [first, second],
      [second, first],
      [first.slice(0, 8), second.slice(0, 10)],
      [first, first],
    ]) {
      const theirs = restic(['diff', ...flags, a, b], { repo });
      const mine = await ours(['-r', repo, '--password-file', pw, 'diff', ...flags, a, b]);
      expect(mine.code, mine.stderr).toBe(0);
      expect(mine.stdout, `${flags.join(' ')} ${a} ${b}`).toBe(theirs.stdout);
    }
  });
});

describe('diff input', () => {
  it('needs two snapshots; unknown snapshot fails', async () => {
    const one = await ours(['-r', repos.ours, '--password-file', pw, 'diff', 'latest']);
    expect(one.code).toBe(24);
    expect(one.stderr).toContain('specify two snapshot IDs');
    const [first] = await snapshotIds(repos.ours);
    const missing = await ours(['-r', repos.ours, '--password-file', pw, 'diff', first, 'deadbeef']);
    expect(missing.code).toBe(19);
    // restic 0.14's diff does not resolve `latest`
    const latest = await ours(['-r', repos.ours, '--password-file', pw, 'diff', first, 'latest']);
    expect(latest.code).toBe(19);
    expect(latest.stderr).toContain(restic(['diff', first, 'latest'], { repo: repos.ours, check: false }).stderr.replace('Fatal: ', '').trim());
  });
});
