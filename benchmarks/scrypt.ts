/**
 * Key derivation benchmark: scrypt at restic's parameters (N = 2^15, r = 8, p = 4 and 5; restic
 * calibrates p per machine) the way restic-ts runs it — the p lanes through the native ROMix in
 * groups of 1, 2 or 4 lanes per vector, spread over the cores — against node:crypto's scrypt,
 * which works the lanes one after another as restic's Go library does. Wall and CPU time
 * (all threads), medians of interleaved runs.
 * Run: npx tsx benchmarks/scrypt.ts [runs]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { scrypt as nodeCryptoScrypt } from 'node:crypto';
import { nativeSeal } from '../src/crypto/native.js';
import { romixInRuns } from '../src/crypto/primitives.js';
import { median } from './stats.js';

if (!nativeSeal) throw new Error('the native seal addon is not built: run npm install (or npm rebuild)');
const binding = nativeSeal;
const runs = Number(process.argv[2] ?? 9);
const N = 32768;
const r = 8;
const laneBytes = 128 * r;
const cores = availableParallelism();

function romixLanes(p: number, width: 1 | 2 | 4): Promise<void> {
  return romixInRuns(binding, new Uint8Array(p * laneBytes).fill(7), N, r, width);
}

function nodeCrypto(p: number): Promise<void> {
  return new Promise((resolve, reject) => {
    nodeCryptoScrypt('benchmark password', 'salt', 64, { N, r, p, maxmem: 128 * r * (N + p + 2) + (32 << 20) }, (err) => (err ? reject(err) : resolve()));
  });
}

interface Variant {
  label: string;
  run: (p: number) => Promise<void>;
}
const variants: Variant[] = binding.romixWidths().map((width) => ({
  label: `native ROMix, ${width} lane${width > 1 ? 's' : ''} per vector, ${cores} threads at most`,
  run: (p: number) => romixLanes(p, width),
}));
variants.push({ label: 'node:crypto scrypt (lanes in sequence, like restic)', run: nodeCrypto });

console.log(`scrypt N=2^15 r=8, ${runs} interleaved runs, Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| p | implementation | wall ms (median) | CPU ms (median) |\n|---|---|---|---|');
for (const p of [4, 5]) {
  const wall = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (let v = 0; v < variants.length; v++) {
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await variants[v].run(p);
      wall[v].push(performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu[v].push((used.user + used.system) / 1000);
    }
  }
  for (let v = 0; v < variants.length; v++) console.log(`| ${p} | ${variants[v].label} | ${median(wall[v]).toFixed(0)} | ${median(cpu[v]).toFixed(0)} |`);
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
