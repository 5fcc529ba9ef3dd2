/**
 * zstd benchmark: every implementation this runtime has, at the levels restic's modes map to,
 * on compressible text. Prints MiB/s (compress, decompress) and ratio as JSON lines + a table.
 * Then the per-call cost that many-small-file backups pay: µs per call (wall and CPU) for a
 * 10 KiB blob, and MiB/s for 1 MiB blobs, text and random, at level 3, one call at a time.
 * Run: npx tsx benchmarks/compression.ts [MiB]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { availableZstd, libzstdBinding, type ZstdImplementation } from '../src/compression/implementations.js';
import { MODE_LEVELS, compressionImplementation } from '../src/compression/index.js';
import { compressibleSample } from './sample-data.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 8) * MiB;
const data = compressibleSample(size);

async function timeIt(fn: () => Promise<unknown>, minMs = 1500): Promise<number> {
  await fn(); // warm-up (wasm instantiation, JIT)
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || runs < 2) {
    await fn();
    runs++;
  }
  return (performance.now() - start) / runs;
}

const rows: string[] = [];
console.log(`zstd on ${size / MiB} MiB of JavaScript text, Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; chosen: ${compressionImplementation()}`);
for (const impl of availableZstd) {
  for (const [mode, level] of Object.entries(MODE_LEVELS)) {
    const frame = await impl.compress(data, level);
    const ms = await timeIt(() => impl.compress(data, level));
    const ratio = data.length / frame.length;
    let dms = NaN;
    {
      dms = await timeIt(() => impl.decompress(frame, data.length));
    }
    const row = { impl: impl.name, mode, level, compressMiBs: +(size / MiB / (ms / 1000)).toFixed(1), decompressMiBs: +(size / MiB / (dms / 1000)).toFixed(1), ratio: +ratio.toFixed(2) };
    console.log(JSON.stringify(row));
    rows.push(`| ${impl.name} | ${mode} (level ${level}${impl.honoursLevel ? '' : ', ignored'}) | ${row.compressMiBs} | ${row.decompressMiBs} | ${row.ratio} |`);
    if (!impl.honoursLevel) break; // the same output at every level
  }
}
console.log('\n| implementation | mode | compress MiB/s | decompress MiB/s | ratio |\n|---|---|---|---|---|');
console.log(rows.join('\n'));

/** µs per call, wall and CPU (user + system), awaiting each call before the next. */
async function perCall(fn: () => Promise<unknown>, minMs = 800): Promise<{ wallUs: number; cpuUs: number }> {
  for (let i = 0; i < 20; i++) await fn();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < minMs || calls < 3) {
    await fn();
    calls++;
  }
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallUs: (wall * 1000) / calls, cpuUs: (used.user + used.system) / calls };
}

interface CodecCalls {
  compress(d: Uint8Array, level: number): Promise<Uint8Array>;
  decompress(d: Uint8Array, max: number): Promise<Uint8Array>;
}
type Codec = [string, CodecCalls];
const codecs: Codec[] = availableZstd.map((impl: ZstdImplementation): Codec => [impl.honoursLevel ? impl.name : `${impl.name} (its default level)`, impl]);
if (libzstdBinding) {
  const b = libzstdBinding;
  codecs.splice(1, 0, [
    'libzstd on the thread pool (pooled contexts, input copied)',
    { compress: (d, l) => b.compressAsync(d, l), decompress: (d, max) => b.decompressAsync(d, max) },
  ]);
  codecs[0] = ['libzstd (sync, reused per-thread context)', { compress: async (d, l) => b.compress(d, l), decompress: async (d, max) => b.decompress(d, max) }];
}
const callRows: string[] = [];
for (const [kind, make] of [
  ['text', (n: number) => compressibleSample(n)],
  ['random', (n: number) => new Uint8Array(randomBytes(n))],
] as const) {
  const small = make(10 * 1024);
  const large = make(MiB);
  for (const [label, impl] of codecs) {
    const frameSmall = await impl.compress(small, 3);
    const frameLarge = await impl.compress(large, 3);
    const cs = await perCall(() => impl.compress(small, 3));
    const ds = await perCall(() => impl.decompress(frameSmall, small.length));
    const cl = await perCall(() => impl.compress(large, 3));
    const dl = await perCall(() => impl.decompress(frameLarge, large.length));
    const f = (x: number): string => x.toFixed(1);
    const mibs = (us: number): string => (1e6 / us).toFixed(0);
    callRows.push(`| ${kind} | ${label} | ${f(cs.wallUs)} / ${f(cs.cpuUs)} | ${f(ds.wallUs)} / ${f(ds.cpuUs)} | ${mibs(cl.wallUs)} | ${mibs(dl.wallUs)} |`);
  }
}
console.log('\n| data | implementation (level 3) | compress 10 KiB µs/op (wall / CPU) | decompress 10 KiB µs/op (wall / CPU) | compress 1 MiB MiB/s | decompress 1 MiB MiB/s |\n|---|---|---|---|---|---|');
console.log(callRows.join('\n'));
