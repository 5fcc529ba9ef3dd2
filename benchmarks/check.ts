/**
 * `check --read-data` throughput: restic-ts vs restic 0.14 on the same repository, written by
 * restic 0.14 (v2, compression auto) from SIZE MiB of incompressible data plus a compressible
 * text file. Both run as processes under /usr/bin/time (wall seconds, peak RSS); MB/s = bytes
 * of pack files / wall time. Also the structure-only check.
 *
 * Run: npx tsx benchmarks/check.ts [SIZE_MiB]   (default 64). Prints one JSON line per run.
 *
 * Figures (2026-11-26 14:08, 64 MiB, 2 shared cores at load average ~3.4, compiled CLI):
 *   restic    check --read-data 0.97–1.26 s, 0.74–1.09 s CPU, peak RSS 75–83 MiB
 *   restic-ts check --read-data 1.40–1.58 s, 1.14–1.31 s CPU, peak RSS 154–156 MiB
 *   restic    check             0.59–1.00 s, peak RSS 54 MiB
 *   restic-ts check             1.23–1.37 s, peak RSS 96–97 MiB
 * Before packs were read in pieces (whole packs, two at a time, blobs one by one): 5.10 s /
 * 213 MiB through tsx at load ~13. See docs/benchmarks.md, "Check".
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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

function timed(cmd: string, args: string[]): { seconds: number; cpuSeconds: number; peakRssMiB: number; code: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { env, encoding: 'utf8' });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [seconds, kb, user, sys] = last.split(' ').map(Number);
  return { seconds, cpuSeconds: +(user + sys).toFixed(2), peakRssMiB: Math.round(kb / 1024), code: r.status ?? -1 };
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
  // the compiled CLI when built (npm run build), else the sources through tsx
  const dist = join(projectRoot, 'dist', 'cli', 'bin.js');
  const ours: [string, string[]] = existsSync(dist)
    ? [process.execPath, [dist]]
    : [join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'src', 'cli', 'bin.ts')]];
  console.log(JSON.stringify({ restic_ts: existsSync(dist) ? 'dist/cli/bin.js' : 'src via tsx', loadAverage: loadavg().map((l) => +l.toFixed(1)) }));
  for (const [name, cmd, args] of [
    ['restic check --read-data', 'restic', ['check', '--read-data']],
    ['restic-ts check --read-data', ours[0], [...ours[1], 'check', '--read-data']],
    ['restic check', 'restic', ['check']],
    ['restic-ts check', ours[0], [...ours[1], 'check']],
  ] as const) {
    const t = timed(cmd, [...args]);
    console.log(JSON.stringify({ run: name, sizeMiB, packBytes, ...t, MBps: +(packBytes / 1e6 / t.seconds).toFixed(1) }));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
