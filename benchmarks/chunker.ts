/**
 * Chunker benchmark.
 *
 *   npx tsx benchmarks/chunker.ts [--mib 256] [--runs 5] [--stream-mib 512]
 *
 * 1. In memory: chunkBuffer over N MiB of random data, several runs; MiB/s by wall clock and by
 *    this process's CPU time (the second is steadier on a shared machine), best and median.
 * 2. Streaming: writes a random file of M MiB to a temp dir, then a child process chunks it with
 *    chunkStream(fs.createReadStream(…, 512 KiB reads)) and reports MiB/s and peak RSS, to show
 *    memory stays bounded by the maximum chunk size rather than the file size.
 *
 * Prints a human-readable report and, last, one JSON line with the figures.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chunkBuffer } from '../src/chunker/chunker.js';
import { chunkStream } from '../src/chunker/stream.js';
import { ChunkAssembler } from '../src/archiver/chunk-reader.js';
import { TEST_POLYNOMIAL } from '../src/chunker/polynomial.js';
import { median } from './stats.js';

const MiB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function randomData(bytes: number): Uint8Array {
  const buf = new Uint8Array(bytes);
  for (let o = 0; o < bytes; o += 65536) randomFillSync(buf, o, Math.min(65536, bytes - o));
  return buf;
}

/**
 * Peak RSS of this process image. On Linux read VmHWM: getrusage's maxRSS survives exec and so
 * would report the forking parent's size (here: the in-memory test buffer) for the child.
 */
function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}


async function streamChild(path: string): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let bytes = 0;
  let chunks = 0;
  for await (const chunk of chunkStream(createReadStream(path, { highWaterMark: 512 * 1024 }), TEST_POLYNOMIAL)) {
    bytes += chunk.length;
    chunks++;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const out = {
    bytes,
    chunks,
    wallMiBs: bytes / MiB / wall,
    cpuMiBs: bytes / MiB / ((cpu.user + cpu.system) / 1e6),
    peakRssMiB: peakRssMiB(),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function main(): Promise<void> {
  const totalMiB = arg('mib', 256);
  const runs = arg('runs', 5);
  const streamMiB = arg('stream-mib', 512);
  console.log(`chunker benchmark: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`);
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // 1. In memory.
  const data = randomData(totalMiB * MiB);
  const wall: number[] = [];
  const cpu: number[] = [];
  const shaCpu: number[] = [];
  let chunkCount = 0;
  for (let r = 0; r < runs; r++) {
    // A yardstick measured in the same moments: SHA-256 (node:crypto) over the same data. On a
    // shared machine the chunker/SHA-256 ratio is steadier than either figure alone.
    const s0 = process.cpuUsage();
    createHash('sha256').update(data).digest();
    const sc = process.cpuUsage(s0);
    shaCpu.push(totalMiB / ((sc.user + sc.system) / 1e6));

    const t0 = performance.now();
    const c0 = process.cpuUsage();
    chunkCount = chunkBuffer(data, TEST_POLYNOMIAL).length;
    const c = process.cpuUsage(c0);
    wall.push(totalMiB / ((performance.now() - t0) / 1000));
    cpu.push(totalMiB / ((c.user + c.system) / 1e6));
  }
  console.log(`in memory, ${totalMiB} MiB random, ${chunkCount} chunks, ${runs} runs:`);
  console.log(`  wall MiB/s: best ${Math.max(...wall).toFixed(0)}, median ${median(wall).toFixed(0)}  [${wall.map((x) => x.toFixed(0)).join(' ')}]`);
  console.log(`  CPU  MiB/s: best ${Math.max(...cpu).toFixed(0)}, median ${median(cpu).toFixed(0)}  [${cpu.map((x) => x.toFixed(0)).join(' ')}]`);
  const ratios = cpu.map((c, r) => c / shaCpu[r]);
  console.log(
    `  SHA-256 CPU MiB/s in the same runs: median ${median(shaCpu).toFixed(0)}; chunker/SHA-256 ratio: median ${median(ratios).toFixed(3)}, best ${Math.max(...ratios).toFixed(3)}`,
  );

  // 1b. The backup's path: ChunkAssembler copies 4 MiB pieces into its WebAssembly scanner's
  // memory and scans there with the 64-bit loop (src/chunker/wasm-scan.ts).
  const wasmCpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const asm = new ChunkAssembler(TEST_POLYNOMIAL);
    const c0 = process.cpuUsage();
    let n = 0;
    for (let off = 0; off < data.length; off += 4 * MiB) n += asm.push(data.subarray(off, Math.min(data.length, off + 4 * MiB))).length;
    if (asm.finish()) n++;
    const c = process.cpuUsage(c0);
    if (n !== chunkCount) throw new Error(`WebAssembly path cut ${n} chunks, JavaScript ${chunkCount}`);
    wasmCpu.push(totalMiB / ((c.user + c.system) / 1e6));
  }
  console.log(`  WebAssembly scan via ChunkAssembler (4 MiB pieces, chunks copied out): CPU MiB/s best ${Math.max(...wasmCpu).toFixed(0)}, median ${median(wasmCpu).toFixed(0)}  [${wasmCpu.map((x) => x.toFixed(0)).join(' ')}]`);

  // 2. Streaming from disk, in a fresh process so the RSS is the streamer's alone.
  const dir = mkdtempSync(join(tmpdir(), 'restic-ts-bench-chunker-'));
  let stream: Record<string, number> | undefined;
  try {
    const path = join(dir, 'big.bin');
    const fd = openSync(path, 'w');
    const block = data.subarray(0, 64 * MiB);
    for (let written = 0; written < streamMiB * MiB; written += block.length) {
      writeSync(fd, block, 0, Math.min(block.length, streamMiB * MiB - written));
    }
    closeSync(fd);
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--stream-child', path], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`stream child failed: ${child.stderr}`);
    stream = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    console.log(
      `streaming ${streamMiB} MiB from disk (512 KiB reads): ${stream.chunks} chunks, wall ${stream.wallMiBs.toFixed(0)} MiB/s, ` +
        `CPU ${stream.cpuMiBs.toFixed(0)} MiB/s, peak RSS ${stream.peakRssMiB.toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    JSON.stringify({
      benchmark: 'chunker',
      inMemoryMiB: totalMiB,
      wallBest: Math.max(...wall),
      wallMedian: median(wall),
      cpuBest: Math.max(...cpu),
      cpuMedian: median(cpu),
      sha256CpuMedian: median(shaCpu),
      chunkerToSha256Median: median(cpu.map((c, r) => c / shaCpu[r])),
      wasmAssemblerCpuMedian: median(wasmCpu),
      stream,
      loadavg: loadavg(),
    }),
  );
}

const childIndex = process.argv.indexOf('--stream-child');
if (childIndex >= 0) await streamChild(process.argv[childIndex + 1]);
else await main();
