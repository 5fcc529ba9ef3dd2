/**
 * `restic-ts forget` against the real restic 0.14 on the same repository: snapshots with
 * synthetic times (`restic backup --time`) for two hosts, two paths and some tags.
 * - `--dry-run --json`: every group's JSON is byte-identical to restic's (restic prints the
 *   groups in random order, so groups are compared as a set of exact byte strings);
 * - text output with one group: identical to restic's, line for line;
 * - a real forget deletes exactly the snapshots restic would have deleted;
 * - explicit IDs, an empty policy, and bad input (USAGE before anything is touched).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-forget-cli-');
afterAll(() => tmp.cleanup());
const repo = join(tmp.path, 'repo');
const pw = passwordFile(tmp.path);

/** [time, host, source dir, tags] */
const BACKUPS: [string, string, string, string[]][] = [
  ['2024-01-01 10:00:00', 'h1', 'a', []],
  ['2024-01-01 10:30:00', 'h1', 'a', ['daily']],
  ['2024-01-02 09:00:00', 'h1', 'a', []],
  ['2024-01-08 09:00:00', 'h1', 'a', ['keep']],
  ['2024-02-01 09:00:00', 'h1', 'a', []],
  ['2024-03-01 09:00:00', 'h1', 'a', []],
  ['2024-03-01 12:00:00', 'h1', 'a', ['daily']],
  ['2024-03-02 12:00:00', 'h1', 'a', []],
  ['2024-01-05 08:00:00', 'h1', 'b', []],
  ['2024-01-06 08:00:00', 'h1', 'b', ['keep']],
  ['2024-02-06 08:00:00', 'h1', 'b', []],
  ['2023-12-31 23:00:00', 'h2', 'a', []],
  ['2024-01-01 01:00:00', 'h2', 'a', []],
  ['2024-03-02 13:00:00', 'h2', 'a', ['daily']],
];

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return ours(['-r', repo, '--password-file', pw, ...args], { TZ: 'UTC' });
}

/** The top-level elements of a JSON array, as the exact bytes they were printed with. */
function arrayElements(text: string): string[] {
  const s = text.trim();
  expect(s.startsWith('[') && s.endsWith(']')).toBe(true);
  const out: string[] = [];
  let depth = 0;
  let start = 1;
  let inString = false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (s.length > 2) out.push(s.slice(start, s.length - 1));
  return out.sort();
}

function repoFiles(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(repo, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(repo);
  return out;
}

beforeAll(async () => {
  await makeResticRepo(repo);
  for (const dir of ['a', 'b']) mkdirSync(join(tmp.path, 'src', dir), { recursive: true });
  BACKUPS.forEach(([time, host, dir, tags], i) => {
    writeFileSync(join(tmp.path, 'src', dir, `file${i}`), `content ${i}\n`.repeat(100 + i));
    const tagArgs = tags.flatMap((t) => ['--tag', t]);
    restic(['backup', '-q', '--time', time, '--host', host, ...tagArgs, join(tmp.path, 'src', dir)], { repo });
  });
}, 180_000);

const POLICIES: string[][] = [
  ['-H', '5', '-d', '2', '-w', '2', '-m', '2'],
  ['-l', '2'],
  ['-d', '3', '--keep-tag', 'keep'],
  ['--keep-within', '1m'],
  ['--keep-within-daily', '7d', '-w', '1'],
  ['-y', '1', '--tag', 'daily'],
  ['-m', '1', '--host', 'h2'],
  ['-l', '1', '-g', 'host'],
  ['-l', '1', '-g', 'tags'],
  ['-l', '1', '-g', ''],
  ['-w', '2', '-g', 'host,paths,tags'],
  ['-l', '1', '--path', join(tmp.path, 'src', 'b')],
];

describe('forget like restic 0.14', () => {
  for (const policy of POLICIES) {
    it(`--dry-run --json ${policy.join(' ')}: the same groups, byte for byte`, async () => {
      const theirs = restic(['forget', '--dry-run', '--json', ...policy], { repo });
      const mine = await run(['forget', '--dry-run', '--json', ...policy]);
      expect(mine.code, mine.stderr).toBe(0);
      expect(mine.stdout.endsWith('\n')).toBe(true);
      expect(arrayElements(mine.stdout)).toEqual(arrayElements(theirs.stdout));
    });
  }

  it('text output for one group equals restic, line for line', async () => {
    for (const policy of [['-H', '5', '-d', '2', '-w', '2', '-m', '2', '--host', 'h1', '--path', join(tmp.path, 'src', 'a')], ['-l', '3', '-g', ''], ['-c', '-d', '2', '--keep-tag', 'keep', '-g', '']]) {
      const theirs = restic(['forget', '--dry-run', ...policy], { repo });
      const mine = await run(['forget', '--dry-run', ...policy]);
      expect(mine.stdout).toBe(theirs.stdout);
    }
  });

  it('-1 means unlimited (restic >= 0.16): restic 0.14 would delete the whole group, restic-ts keeps it', async () => {
    const theirs = JSON.parse(restic(['forget', '--dry-run', '--json', '-l', '-1', '--host', 'h2'], { repo }).stdout) as { keep: unknown[] | null; remove: unknown[] | null }[];
    expect(theirs[0].keep).toBeNull(); // restic 0.14's behaviour, which we deliberately do not copy
    const mine = JSON.parse((await run(['forget', '--dry-run', '--json', '-l', '-1', '--host', 'h2'])).stdout) as { keep: unknown[] | null; remove: unknown[] | null; reasons: { matches: string[] }[] }[];
    expect(mine[0].remove).toBeNull();
    expect(mine[0].keep).toHaveLength(theirs[0].remove?.length ?? -1);
    expect(mine[0].reasons.every((r) => r.matches.includes('last snapshot'))).toBe(true);
    expect((await run(['forget', '--dry-run', '-m', '-1', '--host', 'h2'])).stdout).toContain('Applying Policy: keep all monthly snapshots');
  });

  it('an empty policy removes nothing and says so', async () => {
    const before = repoFiles();
    const theirs = restic(['forget', '--dry-run'], { repo });
    const mine = await run(['forget']);
    expect(mine.code).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toContain('no policy was specified, no snapshots will be removed');
    const after = repoFiles();
    for (const [f, h] of before) if (!f.startsWith('locks/')) expect(after.get(f)).toBe(h);
  });

  it('bad input: USAGE before anything is touched', async () => {
    const before = repoFiles();
    const cases: [string[], RegExp][] = [
      [['--bogus', '-l', '1'], /unknown flag: --bogus/],
      [['--keep-within', '1x'], /invalid argument "1x" for "--keep-within" flag/],
      [['--keep-within-daily', '3'], /no unit found after number 3/],
      [['--keep-daily', 'abc'], /abc/],
      [['--keep-last', '-2'], /-1 for unlimited/],
      [['-l', '1', '--max-unused', '120%'], /must be below 100%/],
      [['-l', '1', '--max-unused', 'lots'], /invalid number of bytes "lots" for --max-unused/],
      [['-l', '1', '--max-repack-size', '1q'], /--max-repack-size/],
      [['-l', '1', '-g', 'hosts,nothing'], /unknown grouping option: 'nothing'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['forget', ...args]);
      expect(r.code, args.join(' ')).toBe(24);
      expect(r.stderr).toMatch(message);
    }
    const pruneCases: [string[], RegExp][] = [
      [['--bogus'], /unknown flag: --bogus/],
      [['--max-unused', '100%'], /must be below 100%/],
      [['--max-unused', ''], /invalid value for --max-unused/],
      [['--max-repack-size', 'big'], /--max-repack-size/],
      [['--repack-uncompressed', '--compression', 'off'], /mutually exclusive/],
    ];
    for (const [args, message] of pruneCases) {
      const r = await run(['prune', ...args]);
      expect(r.code, args.join(' ')).toBe(24);
      expect(r.stderr).toMatch(message);
    }
    expect(repoFiles()).toEqual(before); // not even a lock file was written
  });

  it('forget --prune --dry-run: the prune plan ignores the snapshots that would go, as restic', async () => {
    const before = repoFiles();
    const stats = (text: string): string[] => {
      const lines = text.split('\n').filter((l) => !/^\[\d+:\d+\]/.test(l));
      return lines.slice(lines.findIndex((l) => l.startsWith('to repack:')), lines.findIndex((l) => l.startsWith('unused size after prune')) + 1);
    };
    const theirs = restic(['forget', '--dry-run', '--prune', '-l', '2'], { repo });
    const mine = await run(['forget', '--dry-run', '--prune', '-l', '2']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(stats(mine.stdout)).toHaveLength(6);
    expect(stats(mine.stdout)).toEqual(stats(theirs.stdout));
    expect(mine.stdout).toContain('snapshots have been removed, running prune');
    expect(repoFiles()).toEqual(before);
  });

  it('takes an exclusive lock: refuses while another client holds any lock', async () => {
    const { Repository } = await import('../../src/repository/repository.js');
    const { LocalBackend } = await import('../../src/backend/local.js');
    const { acquireLock, lockStoreFor } = await import('../../src/repository/lock.js');
    const other = await Repository.open({ backend: new LocalBackend(repo), password: 'test-password' });
    const held = await acquireLock(lockStoreFor(other), { exclusive: false, waitMs: 0 });
    try {
      const snapshotsBefore = readdirSync(join(repo, 'snapshots')).sort();
      const r = await run(['forget', '-l', '1']);
      expect(r.code).toBe(11);
      expect(r.stderr).toMatch(/repository is already locked/);
      const p = await run(['prune']);
      expect(p.code).toBe(11);
      expect(readdirSync(join(repo, 'snapshots')).sort()).toEqual(snapshotsBefore);
    } finally {
      await held.release();
      await other.close();
    }
  });

  it('explicit IDs are removed without a policy; unknown ones are reported', async () => {
    const list = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string; short_id: string }[];
    const victim = list[0];
    const dry = await run(['forget', '--dry-run', victim.short_id, 'ffffffff']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain('Ignoring "ffffffff"');
    expect(dry.stdout).toContain(`Would have removed the following snapshots:\n{${victim.short_id}}\n`);
    expect(readdirSync(join(repo, 'snapshots'))).toContain(victim.id);
  });

  it('a real forget deletes exactly what restic would have deleted', async () => {
    const policy = ['-H', '5', '-d', '2', '-w', '2', '-m', '2'];
    const groups = JSON.parse(restic(['forget', '--dry-run', '--json', ...policy], { repo }).stdout) as { keep: { id: string }[] | null }[];
    const expectedKeep = groups.flatMap((g) => (g.keep ?? []).map((s) => s.id)).sort();
    const mine = await run(['forget', ...policy]);
    expect(mine.code, mine.stderr).toBe(0);
    const left = (JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string }[]).map((s) => s.id).sort();
    expect(left).toEqual(expectedKeep);
    expect(readdirSync(join(repo, 'locks'))).toEqual([]); // the exclusive lock was released
    // and a second run removes nothing more
    const again = JSON.parse((await run(['forget', '--dry-run', '--json', ...policy])).stdout) as { remove: unknown[] | null }[];
    expect(again.every((g) => g.remove === null)).toBe(true);
  });
});
