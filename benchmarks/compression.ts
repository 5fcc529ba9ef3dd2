/**
 * zstd benchmark: every implementation this runtime has, at the levels restic's modes map to,
 * on compressible text. Prints MiB/s (compress, decompress) and ratio as JSON lines + a table.
 * Run: npx tsx benchmarks/compression.ts [MiB]
 */
import { availableZstd } from '../src/compression/implementations.js';
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
console.log(`zstd on ${size / MiB} MiB of JavaScript text, Node ${process.version}; chosen: ${compressionImplementation()}`);
for (const impl of availableZstd) {
  for (const [mode, level] of Object.entries(MODE_LEVELS)) {
    const frame = await impl.compress(data, level);
    const ms = await timeIt(() => impl.compress(data, level));
    const ratio = data.length / frame.length;
    let dms = NaN;
    if (impl.name === 'native' || impl.name === 'node:zlib' || impl.name === 'wasm') {
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
