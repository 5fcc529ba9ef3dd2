/**
 * Prune planning cost on a large synthetic index: N blobs in packs of 1000, 80 % of them used,
 * a few duplicates, every pack "listed" with the size the index implies. Measures the time
 * of planPruneWithUsedBlobs (classification, decisions, sort, keepBlobs) and the heap it
 * needs on top of the master index and the used set. No tree walking (that is I/O bound).
 *
 * Run: npx tsx benchmarks/prune-plan.ts [N...]   (default 1000000)
 * Prints one JSON line per N.
 *
 * Figures (2026-11-26, 2 shared cores at load average ~10 — very noisy): 1M blobs planned in
 * 5.9–18 s (60–170k blobs/s), ~120 MiB heap beyond the index and the used set, peak RSS
 * ~620 MiB for the whole process (index + 800k used keys + plan). After the plan moved to the
 * index's typed columns (same run, load 11): 4.2–4.9 → 1.5–1.7 s CPU, 118 → 26 MiB extra heap,
 * peak RSS 612–621 → 420–444 MiB.
 */
import { MasterIndex } from '../src/index/master-index.js';
import { planPruneWithUsedBlobs } from '../src/maintenance/prune.js';
import { blobKey, type BlobKey } from '../src/maintenance/used-blobs.js';
import type { PackedBlob } from '../src/pack/header.js';
import type { Repository } from '../src/repository/repository.js';

const BLOBS_PER_PACK = 1000;

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const idBuf = Buffer.alloc(32);
function syntheticId(n: number, salt: number): string {
  for (let k = 0; k < 8; k++) idBuf.writeUInt32LE(mix32(Math.imul(n, 8) + k + salt * 0x9e37_79b9), k * 4);
  return idBuf.toString('hex');
}

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function run(n: number): Promise<void> {
  const index = new MasterIndex();
  const used = new Set<BlobKey>();
  const sizes = new Map<string, number>();
  const packs = Math.ceil(n / BLOBS_PER_PACK);
  for (let p = 0; p < packs; p++) {
    const blobs: PackedBlob[] = [];
    let offset = 0;
    for (let i = 0; i < BLOBS_PER_PACK; i++) {
      const nr = p * BLOBS_PER_PACK + i;
      // every 500th blob is a copy of the blob before it in the previous pack (a duplicate)
      const idNr = nr % 500 === 0 && nr >= BLOBS_PER_PACK ? nr - BLOBS_PER_PACK : nr;
      const type = i % 20 === 0 ? 'tree' : 'data';
      const length = 1000 + (i % 4000);
      blobs.push({ type, id: syntheticId(idNr, 1), offset, length, uncompressedLength: length * 2 });
      if (mix32(idNr) % 10 < 8) used.add(blobKey(type, syntheticId(idNr, 1)));
      offset += length;
    }
    const packId = syntheticId(p, 2);
    index.addPack(packId, blobs);
    sizes.set(packId, index.packSize(packId) as number);
  }
  const repo = {
    config: { version: 2 },
    loadIndex: async () => index,
    list: async function* (type: string) {
      if (type === 'pack') for (const [name, size] of sizes) yield { name, size };
    },
  } as unknown as Repository;
  const heapBefore = heapMiB();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const plan = await planPruneWithUsedBlobs(repo, used, 1);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const heapAfter = heapMiB();
  console.log(
    JSON.stringify({
      blobs: n,
      packs,
      usedBlobs: used.size,
      seconds: Number(seconds.toFixed(2)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      blobsPerSecond: Math.round(n / seconds),
      extraHeapMiB: Number((heapAfter - heapBefore).toFixed(1)),
      repack: plan.repackPacks.size,
      keepBlobs: plan.keepBlobs.size,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
for (const n of sizes.length > 0 ? sizes : [1_000_000]) await run(n);
