/**
 * End-to-end prune benchmark: restic-ts vs the real restic on identical copies of one
 * repository, in the same run.
 *
 * Setup (with restic): N MiB of random data in 1 MiB files, a first backup, then half of the
 * files replaced and a second backup, then `forget --keep-last 1`: half the data is unused and
 * spread over partly used packs, so prune has to repack (read, verify, re-save) and delete.
 * Each tool prunes its own copy; restic check --read-data then verifies ours.
 * Measures wall time, CPU time and peak RSS (/usr/bin/time).
 * Run: npx tsx benchmarks/prune.ts [MiB]   (default 64)
 *
 * Figures (2026-11-26, 64 MiB random, v2, 2 shared cores under load average 9–12, so noisy;
 * run from a clean export of HEAD): restic 0.14 1.3–1.6 s wall, 0.5 s CPU, 77 MiB peak RSS;
 * restic-ts (compiled) 4.5 s wall, 1.4 s CPU, 186 MiB peak RSS (one 16 MiB pack read ahead, new
 * packs assembled in memory). After loading the AWS SDK only for S3 repositories and the
 * typed-array plan (same repository copies, same run, load 9): restic-ts 1.48–1.65 → 1.23–1.30 s
 * CPU, ~213 MiB peak RSS; restic 0.50–0.56 s CPU, 80 MiB.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 64);
const projectRoot = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'rts-bench-prune-'));
const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: path.join(work, 'cache'), TZ: 'UTC' };

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env, cwd: projectRoot, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

function timed(cmd: string, args: string[]): { seconds: number; cpu: number; peakRssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { env, cwd: projectRoot, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop()!.split(' ');
  return { seconds: Number(last[0]), peakRssMiB: Math.round(Number(last[1]) / 1024), cpu: Number((Number(last[2]) + Number(last[3])).toFixed(2)) };
}

// Compiled JavaScript, as installed from npm (tsx would add transpiling time to every run).
const distDir = path.join(projectRoot, 'node_modules', '.cache', 'rts-bench-dist-prune');
rmSync(distDir, { recursive: true, force: true });
spawnSync(process.execPath, [path.join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', distDir], { cwd: projectRoot });

try {
  const src = path.join(work, 'src');
  mkdirSync(src);
  const repo = path.join(work, 'repo');
  sh('restic', ['init', '-q', '-r', repo]);
  for (let i = 0; i < sizeMiB; i++) writeFileSync(path.join(src, `f${i}`), randomBytes(MiB));
  sh('restic', ['backup', '-q', '-r', repo, src]);
  for (let i = 0; i < sizeMiB; i += 2) writeFileSync(path.join(src, `f${i}`), randomBytes(MiB));
  sh('restic', ['backup', '-q', '-r', repo, src]);
  sh('restic', ['forget', '-q', '-r', repo, '--keep-last', '1']);

  const theirsRepo = path.join(work, 'theirs');
  const oursRepo = path.join(work, 'ours');
  cpSync(repo, theirsRepo, { recursive: true });
  cpSync(repo, oursRepo, { recursive: true });
  const load = loadavg()[0];
  const restic = timed('restic', ['prune', '-q', '-r', theirsRepo]);
  const ours = timed(process.execPath, [path.join(distDir, 'cli/bin.js'), 'prune', '-q', '-r', oursRepo]);
  sh('restic', ['check', '-q', '--read-data', '-r', oursRepo]);
  console.log(JSON.stringify({ benchmark: 'prune', MiB: sizeMiB, loadAverage: Number(load.toFixed(1)), restic, ours }));
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(distDir, { recursive: true, force: true });
}
