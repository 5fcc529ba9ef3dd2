/**
 * `check --read-data` throughput: restic-ts vs restic 0.14 on the same repository, written by
 * restic 0.14 (v2, compression auto) from SIZE MiB of incompressible data plus a compressible
 * text file. Both run as processes under /usr/bin/time (wall seconds, peak RSS); MB/s = bytes
 * of pack files / wall time. Also the structure-only check.
 *
 * Run: npx tsx benchmarks/check.ts [SIZE_MiB]   (default 64). Prints one JSON line per run.
 *
 * Figures (2026-11-26, 64 MiB, 2 shared cores at load average ~13 — very noisy; restic-ts runs
 * through tsx, whose start-up alone is ~2.8 s / 87 MiB RSS for `version`):
 *   restic    check --read-data 1.62 s (41 MB/s over the whole run), peak RSS  72 MiB
 *   restic-ts check --read-data 5.10 s (13 MB/s; ~2.3 s beyond start-up), peak RSS 213 MiB
 *   restic    check             0.93 s, peak RSS  38 MiB
 *   restic-ts check             4.08 s (~1.3 s beyond start-up), peak RSS 108 MiB
 * Whole packs are held in memory while read (two at a time), hence the RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const sizeMiB = Number(process.argv[2] ?? 64);
const root = mkdtempSync(join(tmpdir(), 'bench-check-'));
const repo = join(root, 'repo');
const src = join(root, 'src');
const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(root, 'cache') };
const projectRoot = resolve(import.meta.dirname, '..');

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

function timed(cmd: string, args: string[]): { seconds: number; peakRssMiB: number; code: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { env, encoding: 'utf8' });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [seconds, kb] = last.split(' ').map(Number);
  return { seconds, peakRssMiB: Math.round(kb / 1024), code: r.status ?? -1 };
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? dirBytes(p) : s.size;
  }
  return total;
}

try {
  mkdirSync(src);
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < sizeMiB / 8; i++) writeFileSync(join(src, `r${i}.bin`), randomBytes(8 * 2 ** 20));
  writeFileSync(join(src, 'text.txt'), 'a line of very compressible text\n'.repeat(200_000));
  sh('restic', ['init', '-q']);
  sh('restic', ['backup', '-q', src]);
  const packBytes = dirBytes(join(repo, 'data'));
  const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx');
  const main = join(projectRoot, 'src', 'cli', 'main.ts');
  for (const [name, cmd, args] of [
    ['restic check --read-data', 'restic', ['check', '--read-data']],
    ['restic-ts check --read-data', tsx, [main, 'check', '--read-data']],
    ['restic check', 'restic', ['check']],
    ['restic-ts check', tsx, [main, 'check']],
  ] as const) {
    const t = timed(cmd, [...args]);
    console.log(JSON.stringify({ run: name, sizeMiB, packBytes, ...t, MBps: +(packBytes / 1e6 / t.seconds).toFixed(1) }));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
