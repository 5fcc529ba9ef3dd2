/**
 * Restore throughput and peak memory: restic-ts against restic 0.14 in the same run, on
 * repositories restic writes here (version 2, compression auto):
 * - `random`: 256 MiB of random data in four 64 MiB files (incompressible);
 * - `text`: 128 MiB of compressible text in 64 files of 2 MiB;
 * - `many`: 10,000 small text files of 2,560 bytes (24.4 MiB) in one directory — per-file costs.
 *
 * Both restores run as whole processes under /usr/bin/time (wall time and peak RSS, start-up
 * and key derivation included): `restic restore latest --target …` and restic-ts's CLI
 * (`dist/cli/bin.js` when built, else the TypeScript sources through tsx). Also measured:
 * opening the repository (restic: `restic cat config`; restic-ts: Repository.open in this
 * process), and restic-ts's restoreTree alone in this process (open excluded): wall time and
 * the CPU time this process spent (user + system; on a loaded machine the CPU figures are
 * steadier than the wall times). Both CLIs' CPU time comes from /usr/bin/time too.
 *
 * Run: npx tsx benchmarks/restore.ts [runs=3]
 * The machine is shared with other work: compare the ratios within one run.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openBackend } from '../src/backend/open.js';
import { Repository } from '../src/repository/repository.js';
import { restoreTree } from '../src/restorer/restore.js';
import { median } from './stats.js';

const runs = Number(process.argv[2] ?? 3);
const password = 'benchmark-password';
const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'restic-ts-bench-restore-'));
const pwFile = join(dir, 'pw');
writeFileSync(pwFile, password + '\n');
const MiB = 1024 * 1024;


interface Timed {
  seconds: number;
  peakRssMiB: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
}

/** Runs a command under /usr/bin/time: wall seconds, peak RSS and CPU seconds. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop()!;
  const [secs, kb, user, sys] = last.split(' ').map(Number);
  return { seconds: secs, peakRssMiB: kb / 1024, cpuSeconds: user + sys };
}

function makeRandom(src: string): void {
  mkdirSync(src, { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(src, `random-${i}.bin`), randomBytes(64 * MiB));
}

function makeText(src: string): void {
  mkdirSync(src, { recursive: true });
  let n = 0;
  for (let f = 0; f < 64; f++) {
    const lines: string[] = [];
    let size = 0;
    while (size < 2 * MiB) {
      const line = `${n} {"time":"2024-01-${(n % 28) + 1}T10:00:00Z","level":"info","msg":"request ${n % 977} served","bytes":${(n * 7919) % 100000}}\n`;
      lines.push(line);
      size += line.length;
      n++;
    }
    writeFileSync(join(src, `log-${f}.txt`), lines.join(''));
  }
}

function makeMany(src: string): void {
  mkdirSync(src, { recursive: true });
  for (let i = 0; i < 10_000; i++) writeFileSync(join(src, `f${i}.txt`), `small file ${i} `.repeat(200).slice(0, 2560));
}

function hashTree(path: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(join(path, f)));
  return h.digest('hex');
}

const cliDist = join(root, 'dist', 'cli', 'bin.js');
const oursCmd: [string, string[]] = existsSync(cliDist)
  ? [process.execPath, [cliDist]]
  : [process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts')]];

const results: string[] = [];
try {
  for (const [name, make, sizeMiB] of [
    ['random', makeRandom, 256],
    ['text', makeText, 128],
    ['many', makeMany, (10_000 * 2560) / MiB],
  ] as const) {
    const repo = join(dir, `repo-${name}`);
    const src = join(dir, `src-${name}`);
    make(src);
    const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: join(dir, 'cache') };
    const init = spawnSync('restic', ['init', '--repository-version', '2'], { env });
    if (init.status !== 0) throw new Error(init.stderr.toString());
    const backup = spawnSync('restic', ['backup', '--compression', 'auto', src], { env, cwd: dir });
    if (backup.status !== 0) throw new Error(backup.stderr.toString());
    const files = (spawnSync('ls', [src], { encoding: 'utf8' }).stdout as string).split('\n').filter(Boolean);
    const expected = hashTree(src, files);
    rmSync(src, { recursive: true, force: true });
    const restoredSrc = (target: string): string => join(target, src.slice(1));

    const resticRuns: Timed[] = [];
    const oursRuns: Timed[] = [];
    const libSeconds: number[] = [];
    const libCpu: number[] = [];
    const resticOpen: number[] = [];
    const oursOpen: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t1 = join(dir, `t-restic-${name}-${i}`);
      resticRuns.push(timed('restic', ['--no-lock', 'restore', 'latest', '--target', t1], env));
      if (hashTree(restoredSrc(t1), files) !== expected) throw new Error('restic restored something else');
      rmSync(t1, { recursive: true, force: true });

      const t2 = join(dir, `t-ours-${name}-${i}`);
      oursRuns.push(timed(oursCmd[0], [...oursCmd[1], '--no-lock', '-r', repo, '--password-file', pwFile, 'restore', 'latest', '--target', t2], env));
      if (hashTree(restoredSrc(t2), files) !== expected) throw new Error('restic-ts restored something else');
      rmSync(t2, { recursive: true, force: true });

      resticOpen.push(timed('restic', ['--no-lock', 'cat', 'config'], env).seconds);
      const o0 = performance.now();
      const r = await Repository.open({ backend: await openBackend(repo), password });
      oursOpen.push((performance.now() - o0) / 1000);
      const found = await r.findSnapshot('latest');
      await r.loadIndex();
      const t3 = join(dir, `t-lib-${name}-${i}`);
      const l0 = performance.now();
      const c0 = process.cpuUsage();
      await restoreTree(r, { tree: found.tree, target: t3 });
      const c = process.cpuUsage(c0);
      libSeconds.push((performance.now() - l0) / 1000);
      libCpu.push((c.user + c.system) / 1e6);
      await r.close();
      rmSync(t3, { recursive: true, force: true });
    }
    const rs = median(resticRuns.map((r) => r.seconds));
    const os = median(oursRuns.map((r) => r.seconds));
    const rm = median(resticRuns.map((r) => r.peakRssMiB));
    const om = median(oursRuns.map((r) => r.peakRssMiB));
    const ls = median(libSeconds);
    const rc = median(resticRuns.map((r) => r.cpuSeconds));
    const oc = median(oursRuns.map((r) => r.cpuSeconds));
    results.push(
      `| ${name} (${+sizeMiB.toFixed(1)} MiB) | ${(sizeMiB / rs).toFixed(0)} MiB/s, ${rc.toFixed(2)} s CPU, ${rm.toFixed(0)} MiB | ${(sizeMiB / os).toFixed(0)} MiB/s, ${oc.toFixed(2)} s CPU, ${om.toFixed(0)} MiB | ${(rs / os).toFixed(2)} | ${(om / rm).toFixed(2)} | ${(sizeMiB / ls).toFixed(0)} MiB/s, ${median(libCpu).toFixed(2)} s CPU |`,
    );
    results.push(`| open (${name} repo) | ${median(resticOpen).toFixed(2)} s (cat config) | ${median(oursOpen).toFixed(2)} s (Repository.open) | ${(median(resticOpen) / median(oursOpen)).toFixed(2)} | | |`);
  }
  console.log(`restic-ts CLI: ${oursCmd[1][0] === cliDist ? 'dist/cli/bin.js' : 'src via tsx'}; median of ${runs} runs`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| data | restic 0.14 (speed, CPU, peak RSS) | restic-ts CLI (speed, CPU, peak RSS) | speed ratio (ours/restic) | RSS ratio (ours/restic) | restic-ts restoreTree only (speed, CPU) |');
  console.log('|---|---|---|---|---|---|');
  for (const line of results) console.log(line);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
