/**
 * Opening a repository and listing its snapshots: restic-ts against restic 0.14 in the same
 * run, on a repository restic makes here (restic's calibrated scrypt parameters, so the key
 * derivation cost is the real one).
 *
 * Measures, as the median of R runs:
 * - restic: `restic --no-lock snapshots --json` (a whole process: start-up, scrypt, listing);
 * - restic-ts (process): `node dist/cli/bin.js --no-lock snapshots --json` when dist/ is built;
 * - restic-ts (library): Repository.open and listSnapshots separately, in this process.
 *
 * Run: npx tsx benchmarks/open-snapshots.ts [snapshots=30] [runs=5]
 * Timings on a shared machine are noisy; compare within one run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openBackend } from '../src/backend/open.js';
import { Repository } from '../src/repository/repository.js';
import { median } from './stats.js';

const snapshots = Number(process.argv[2] ?? 30);
const runs = Number(process.argv[3] ?? 5);
const password = 'benchmark-password';
const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'restic-ts-bench-open-'));
const repo = join(dir, 'repo');
const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: join(dir, 'cache') };

function sh(cmd: string, args: string[]): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}


try {
  sh('restic', ['init']);
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < snapshots; i++) {
    writeFileSync(join(src, 'file.txt'), `version ${i}\n`);
    sh('restic', ['backup', '--host', `host${i % 3}`, '--tag', `t${i % 5}`, src]);
  }

  const resticMs: number[] = [];
  const oursProcessMs: number[] = [];
  const openMs: number[] = [];
  const listMs: number[] = [];
  const cli = join(root, 'dist', 'cli', 'bin.js');
  let expected = '';
  for (let i = 0; i < runs; i++) {
    const r = sh('restic', ['--no-lock', 'snapshots', '--json']);
    resticMs.push(r.ms);
    expected = r.stdout;
    if (existsSync(cli)) {
      const o = sh(process.execPath, [cli, '--no-lock', 'snapshots', '--json']);
      if (o.stdout !== expected) throw new Error('restic-ts printed something else than restic');
      oursProcessMs.push(o.ms);
    }
    const t0 = performance.now();
    const repository = await Repository.open({ backend: await openBackend(repo), password });
    const t1 = performance.now();
    const list = await repository.listSnapshots();
    const t2 = performance.now();
    if (list.length !== snapshots) throw new Error(`listed ${list.length} snapshots`);
    await repository.close();
    openMs.push(t1 - t0);
    listMs.push(t2 - t1);
  }

  const rows = [
    ['restic 0.14 `snapshots --json` (process)', median(resticMs)],
    ...(oursProcessMs.length > 0 ? [['restic-ts `snapshots --json` (process, dist/)', median(oursProcessMs)] as [string, number]] : []),
    ['restic-ts Repository.open (in process)', median(openMs)],
    [`restic-ts listSnapshots, ${snapshots} snapshots (in process)`, median(listMs)],
  ] as [string, number][];
  console.log(JSON.stringify({ snapshots, runs, resticMs, oursProcessMs, openMs, listMs }));
  console.log('\n| measure | median ms |\n|---|---|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
