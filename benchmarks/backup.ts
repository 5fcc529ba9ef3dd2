/**
 * End-to-end backup benchmark: restic-ts vs the real restic on the same data in the same run.
 *
 * Data sets (generated under a temp dir, deleted afterwards):
 *   random   — incompressible, N MiB in 32 MiB files (default 256 MiB: 1 GiB is slow on a shared 2-core box)
 *   text     — compressible text (node_modules sources), N MiB in 32 MiB files
 *   small    — 5,000 files of 1–20 KiB of random bytes in 50 directories
 *   smalltext — the same 5,000 files, of compressible text (where compression dominates)
 * For each: fresh repository per tool, first backup, then a second (unchanged) backup.
 * Measures wall time (MB/s = 10^6 bytes/s of source data) and peak RSS (/usr/bin/time %M).
 * Each tool runs `runs` times per set (default 3), taking turns, and the table shows medians:
 * on a shared machine one run's wall time varies by 20-40 %.
 * Run: npx tsx benchmarks/backup.ts [MiB] [sets, comma-separated] [runs]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { compressibleSample } from './sample-data.js';
import { median } from './stats.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const sets = (process.argv[3] ?? 'random,text,small,smalltext').split(',');
/** Runs per tool and set (fresh repository each); the table shows medians. */
const runs = Math.max(1, Number(process.argv[4] ?? 3));
const projectRoot = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'rts-bench-backup-'));
const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: path.join(work, 'cache'), TZ: 'UTC' };

interface Run {
  seconds: number;
  /** user + sys CPU seconds (less sensitive than wall time to other load on the machine). */
  cpu: number;
  peakRssMiB: number;
}

function timed(cmd: string, args: string[]): Run {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { env, cwd: projectRoot, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop()!.split(' ');
  return { seconds: Number(last[0]), peakRssMiB: Number(last[1]) / 1024, cpu: Number(last[2]) + Number(last[3]) };
}

// Compiled JavaScript (as installed from npm), not tsx: tsx would add ~1-2 s of transpiling per run.
// One folder per run: two benchmark runs at once must not delete each other's build.
const distDir = path.join(projectRoot, 'node_modules', '.cache', `rts-bench-dist-${process.pid}`);
rmSync(distDir, { recursive: true, force: true });
spawnSync(process.execPath, [path.join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', distDir], { cwd: projectRoot });
const oursCmd = [process.execPath, path.join(distDir, 'cli/bin.js')];

function makeSet(name: string): { dir: string; bytes: number } {
  const dir = path.join(work, `src-${name}`);
  mkdirSync(dir);
  let bytes = 0;
  if (name === 'random' || name === 'text') {
    const fileSize = 32 * MiB;
    const words = name === 'text' ? vocabulary() : undefined;
    for (let i = 0; bytes < sizeMiB * MiB; i++) {
      const n = Math.min(fileSize, sizeMiB * MiB - bytes);
      const data: Uint8Array = words ? wordSoup(words, n, i + 1) : randomBytes(n);
      writeFileSync(path.join(dir, `f${i}`), data);
      bytes += data.length;
    }
  } else {
    const words = name === 'smalltext' ? vocabulary() : undefined;
    for (let d = 0; d < 50; d++) {
      mkdirSync(path.join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) {
        const size = 1024 + ((d * 100 + f) * 7919) % (19 * 1024);
        const data: Uint8Array = words ? wordSoup(words, size, d * 100 + f + 1) : randomBytes(size);
        writeFileSync(path.join(dir, `d${d}`, `f${f}`), data);
        bytes += data.length;
      }
    }
  }
  return { dir, bytes };
}

/** Words of real text (node_modules sources), to build compressible data that never repeats. */
function vocabulary(): string[] {
  const text = Buffer.from(compressibleSample(4 * MiB)).toString('latin1');
  return [...new Set(text.split(/[^A-Za-z_]+/).filter((w) => w.length > 1 && w.length < 16))].slice(0, 5000);
}

/** `n` bytes of random words and punctuation (zstd ratio about 2-3x; no chunk repeats). */
function wordSoup(words: string[], n: number, seed: number): Uint8Array {
  const out = Buffer.allocUnsafe(n);
  let x = seed * 2654435761;
  let pos = 0;
  while (pos < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = words[(x >>> 0) % words.length];
    pos += out.write(w + ((x >>> 24) % 11 === 0 ? '\n' : ' '), pos, 'latin1');
  }
  return out;
}

function mbps(bytes: number, s: number): string {
  return (bytes / 1e6 / s).toFixed(1);
}

const TOOLS = ['restic', 'restic-ts'] as const;
type Tool = (typeof TOOLS)[number];

/** Each figure's median over the runs (wall time, CPU and peak RSS taken separately). */
function medianRun(all: Run[]): Run {
  return { seconds: median(all.map((r) => r.seconds)), cpu: median(all.map((r) => r.cpu)), peakRssMiB: median(all.map((r) => r.peakRssMiB)) };
}

const rows: string[] = [];
const ratios: string[] = [];
const startup = timed(oursCmd[0], [...oursCmd.slice(1), 'version']);
console.log(`restic-ts CLI start-up (compiled): ${startup.seconds.toFixed(2)} s, ${startup.peakRssMiB.toFixed(0)} MiB; ${runs} run(s) per tool and set, alternating`);
for (const name of sets) {
  const { dir, bytes } = makeSet(name);
  execFileSync('sync');
  const results: Record<Tool, { first: Run; second: Run }[]> = { restic: [], 'restic-ts': [] };
  // The tools take turns, run after run, so a slow spell on a shared machine hits both.
  for (let run = 0; run < runs; run++) {
    for (const tool of TOOLS) {
      const repo = path.join(work, `repo-${name}-${tool}`);
      const base = tool === 'restic' ? ['restic', '-r', repo] : [...oursCmd, '-r', repo];
      timed(base[0], [...base.slice(1), 'init']);
      const first = timed(base[0], [...base.slice(1), 'backup', '-q', dir]);
      const second = timed(base[0], [...base.slice(1), 'backup', '-q', dir]);
      results[tool].push({ first, second });
      rmSync(repo, { recursive: true, force: true });
    }
  }
  for (const tool of TOOLS) {
    const first = medianRun(results[tool].map((r) => r.first));
    const second = medianRun(results[tool].map((r) => r.second));
    const times = results[tool].map((r) => r.first.seconds);
    const range = runs > 1 ? ` (${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)})` : '';
    const row = `| ${name} | ${(bytes / MiB).toFixed(0)} MiB | ${tool} | ${first.seconds.toFixed(2)} s${range} | ${mbps(bytes, first.seconds)} | ${first.cpu.toFixed(2)} s | ${first.peakRssMiB.toFixed(0)} MiB | ${second.seconds.toFixed(2)} s | ${second.cpu.toFixed(2)} s | ${second.peakRssMiB.toFixed(0)} MiB |`;
    console.log(row);
    rows.push(row);
  }
  // Throughput ratio restic-ts/restic (> 1: restic-ts faster), per run pair and of the medians.
  const perRun = results.restic.map((r, i) => r.first.seconds / results['restic-ts'][i].first.seconds);
  const ofMedians = median(results.restic.map((r) => r.first.seconds)) / median(results['restic-ts'].map((r) => r.first.seconds));
  const rebackup = median(results.restic.map((r) => r.second.seconds)) / median(results['restic-ts'].map((r) => r.second.seconds));
  const ratio = `${name}: throughput restic-ts/restic ${ofMedians.toFixed(2)}x (runs: ${perRun.map((x) => x.toFixed(2)).join(' ')}); unchanged re-backup ${rebackup.toFixed(2)}x`;
  console.log(ratio);
  ratios.push(ratio);
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores)`);
console.log(`\nMedians of ${runs} run(s); first-backup range in brackets.`);
console.log('\n| data | size | tool | first backup | MB/s | CPU (user+sys) | peak RSS | unchanged re-backup | CPU | peak RSS |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('');
for (const r of ratios) console.log(r);
rmSync(work, { recursive: true, force: true });
rmSync(distDir, { recursive: true, force: true });
