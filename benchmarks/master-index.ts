/**
 * MasterIndex benchmark: inserts/s, lookups/s and memory per blob for N synthetic blobs,
 * against a naive `Map<string, object>` (one JS object per blob), each in its own process so
 * heaps do not mix. Then loads a 1M-blob index from 20 encrypted index files on disk with restic
 * (`restic cat blob <absent>`: loads the index, then fails) and with loadMasterIndex (read,
 * decrypt, scan, insert), comparing peak RSS and wall time.
 *
 * Run: npx tsx benchmarks/master-index.ts [N...]        (default 1000000 5000000)
 *      npx tsx benchmarks/master-index.ts --no-restic   (skip the restic comparison)
 *      npx tsx benchmarks/master-index.ts --restic-only (only the restic comparison)
 * Needs /usr/bin/time for restic's peak RSS. Prints JSON lines and a markdown table.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IndexedPack } from '../src/index/index-file.js';
import { loadMasterIndex, MasterIndex } from '../src/index/master-index.js';
import type { PackedBlob } from '../src/pack/header.js';

const BLOBS_PER_PACK = 1000;
const LOOKUPS = 1_000_000;
const thisFile = fileURLToPath(import.meta.url);

// ---- synthetic IDs: deterministic, uniformly distributed, cheap (no SHA-256 per blob) ----

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

/** Pack `p`'s blobs; a third are compressed unless `plain` (restic refuses compressed entries in v1 repositories). */
function packOfBlobs(p: number, plain = false): { packId: string; blobs: PackedBlob[] } {
  const blobs: PackedBlob[] = new Array(BLOBS_PER_PACK);
  let offset = 0;
  for (let i = 0; i < BLOBS_PER_PACK; i++) {
    const length = 1000 + (i % 4000);
    blobs[i] = { type: i % 20 === 0 ? 'tree' : 'data', id: syntheticId(p * BLOBS_PER_PACK + i, 1), offset, length, uncompressedLength: !plain && i % 3 ? length * 2 : 0 };
    offset += length;
  }
  return { packId: syntheticId(p, 2), blobs };
}

function blobAt(n: number): { type: 'data' | 'tree'; id: string } {
  return { type: n % BLOBS_PER_PACK % 20 === 0 ? 'tree' : 'data', id: syntheticId(n, 1) };
}

/** Heap and ArrayBuffer bytes after full GCs; the pause lets V8 release freed backing stores. */
async function memory(): Promise<{ heapExternal: number; rss: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  // arrayBuffers, not external: V8's external counter lags behind freed backing stores.
  return { heapExternal: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

// ---- child: one structure, N blobs ----

interface Structure {
  add(packId: string, blobs: PackedBlob[]): void;
  /** Bytes the structure itself accounts for, when it knows. */
  ownBytes(): number | undefined;
  has(type: 'data' | 'tree', id: string): boolean;
  size(): number;
}

function typedStructure(): Structure {
  const idx = new MasterIndex();
  return { add: (p, b) => idx.addPack(p, b), ownBytes: () => idx.typedArrayBytes(), has: (t, id) => idx.has(t, id), size: () => idx.blobCount };
}

/** The obvious JS approach: one object per blob in a Map keyed by type + hex ID. */
function mapStructure(): Structure {
  const map = new Map<string, { packId: string; offset: number; length: number; uncompressedLength: number }>();
  return {
    add(packId, blobs) {
      for (const b of blobs) map.set((b.type === 'data' ? 'd' : 't') + b.id, { packId, offset: b.offset, length: b.length, uncompressedLength: b.uncompressedLength });
    },
    ownBytes: () => undefined,
    has: (t, id) => map.has((t === 'data' ? 'd' : 't') + id),
    size: () => map.size,
  };
}

async function runStructure(kind: 'typed' | 'map', n: number): Promise<void> {
  const before = await memory();
  const structure = kind === 'typed' ? typedStructure() : mapStructure();
  let insertMs = 0;
  for (let p = 0; p < n / BLOBS_PER_PACK; p++) {
    const { packId, blobs } = packOfBlobs(p); // ID strings are made outside the timed part
    const t0 = performance.now();
    structure.add(packId, blobs);
    insertMs += performance.now() - t0;
  }
  const after = await memory();
  const peakRssAfterInserts = process.resourceUsage().maxRSS;
  if (structure.size() !== n) throw new Error(`size ${structure.size()} != ${n}`);

  const hits: { type: 'data' | 'tree'; id: string }[] = new Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) hits[i] = blobAt(mix32(i) % n);
  const misses = hits.map((h, i) => ({ type: h.type, id: syntheticId(i, 3) }));
  let t0 = performance.now();
  let found = 0;
  for (const h of hits) if (structure.has(h.type, h.id)) found++;
  const hitMs = performance.now() - t0;
  t0 = performance.now();
  for (const h of misses) if (structure.has(h.type, h.id)) found++;
  const missMs = performance.now() - t0;
  if (found !== LOOKUPS) throw new Error(`found ${found} of ${LOOKUPS}`);

  console.log(
    JSON.stringify({
      kind,
      n,
      insertsPerSec: Math.round(n / (insertMs / 1000)),
      hitLookupsPerSec: Math.round(LOOKUPS / (hitMs / 1000)),
      missLookupsPerSec: Math.round(LOOKUPS / (missMs / 1000)),
      typedArrayBytesPerBlob: structure.ownBytes() === undefined ? undefined : +(structure.ownBytes()! / n).toFixed(1),
      heapBytesPerBlob: +((after.heapExternal - before.heapExternal) / n).toFixed(1),
      rssBytesPerBlob: +((after.rss - before.rss) / n).toFixed(1),
      peakRssMiB: +(peakRssAfterInserts / 1024).toFixed(0),
    }),
  );
}

// ---- child: load index files from a repository directory (decrypt + parse + insert) ----

async function runLoad(repoDir: string, keyFile: string): Promise<void> {
  // Imported here, not at the top: the crypto module starts WASM (libsodium) asynchronously,
  // which would land in the memory figures of the structure runs.
  const { decodeMasterKey, open } = await import('../src/crypto/index.js');
  const key = decodeMasterKey(readFileSync(keyFile), keyFile);
  const startRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const index = await loadMasterIndex(
    () => readdirSync(join(repoDir, 'index')),
    async (id) => open(key, readFileSync(join(repoDir, 'index', id)), `index/${id}`),
    { concurrency: 4 },
  );
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ kind: 'load', n: index.blobCount, ms: Math.round(ms), startRssMiB: Math.round(startRss / 1048576), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

// ---- parent ----

function child(args: string[]): Record<string, number | string> {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', thisFile, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  console.log(line);
  return JSON.parse(line) as Record<string, number | string>;
}

/**
 * restic loading the whole index: `cat blob` of an absent ID loads every index file, then
 * fails with "blob not found" (exit 1), so nothing else is measured.
 */
function resticLoadIndex(repo: string, env: Record<string, string>): { peakRssMiB: number; seconds: number } {
  const args = ['cat', 'blob', '0'.repeat(64)];
  const r = spawnSync('/usr/bin/time', ['-f', '%M %e', 'restic', '-r', repo, '--no-cache', '--no-lock', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (!r.stderr.includes('blob not found')) throw new Error(`restic ${args.join(' ')} failed: ${r.stderr}`);
  const [kib, secs] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { peakRssMiB: Math.round(kib / 1024), seconds: secs };
}

/** A v1 repository whose index files list `n` synthetic blobs in 50 000-blob files, as restic writes them. */
async function writeIndexRepo(dir: string, n: number, env: Record<string, string>): Promise<string> {
  const { decodeMasterKey, seal } = await import('../src/crypto/index.js');
  const { encodeIndexFile } = await import('../src/index/index-file.js');
  const init = spawnSync('restic', ['init', '-r', dir, '--repository-version', '1'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(init.stderr);
  const keyJson = spawnSync('restic', ['-r', dir, 'cat', 'masterkey'], { env: { ...process.env, ...env } }).stdout;
  const keyFile = join(dir, '..', `${n}-masterkey.json`);
  writeFileSync(keyFile, keyJson);
  const key = decodeMasterKey(keyJson, 'masterkey');
  const packsPerFile = 50_000 / BLOBS_PER_PACK;
  for (let p = 0; p < n / BLOBS_PER_PACK; p += packsPerFile) {
    const packs: IndexedPack[] = [];
    for (let q = p; q < Math.min(p + packsPerFile, n / BLOBS_PER_PACK); q++) {
      const { packId, blobs } = packOfBlobs(q, true);
      packs.push({ id: packId, blobs });
    }
    const sealed = seal(key, encodeIndexFile(packs));
    writeFileSync(join(dir, 'index', createHash('sha256').update(sealed).digest('hex')), sealed);
  }
  return keyFile;
}

async function parent(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const sizes = args.length ? args.map(Number) : [1_000_000, 5_000_000];
  console.log(`MasterIndex benchmark, Node ${process.version}, ${BLOBS_PER_PACK} blobs per pack, ${LOOKUPS} lookups (hits and misses)`);
  const rows: string[] = [];
  for (const n of process.argv.includes('--restic-only') ? [] : sizes) {
    for (const kind of ['typed', 'map'] as const) {
      const r = child(['struct', kind, String(n)]);
      rows.push(`| ${kind === 'typed' ? 'MasterIndex (typed arrays)' : 'Map<string, object>'} | ${n.toLocaleString('en')} | ${r.insertsPerSec.toLocaleString('en')} | ${r.hitLookupsPerSec.toLocaleString('en')} | ${r.missLookupsPerSec.toLocaleString('en')} | ${r.heapBytesPerBlob} | ${r.rssBytesPerBlob} | ${r.peakRssMiB} |`);
    }
  }
  console.log('\n| structure | blobs | inserts/s | lookups/s (hit) | lookups/s (miss) | heap+ArrayBuffer B/blob | RSS B/blob | peak RSS MiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);

  if (process.argv.includes('--no-restic')) return;
  if (!existsSync('/usr/bin/time')) {
    console.log('\n/usr/bin/time is missing: skipping the restic comparison');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'restic-ts-bench-index-'));
  try {
    const env = { RESTIC_PASSWORD: 'bench' };
    const vsRows: string[] = [];
    for (const n of [0, 1_000_000]) {
      const dir = join(tmp, `repo-${n}`);
      mkdirSync(tmp, { recursive: true });
      const keyFile = await writeIndexRepo(dir, n, env);
      const restic = resticLoadIndex(dir, env);
      const ours = child(['load', dir, keyFile]);
      console.log(JSON.stringify({ n, restic, ours }));
      vsRows.push(`| ${n.toLocaleString('en')} | ${restic.seconds.toFixed(2)} | ${restic.peakRssMiB} | ${(Number(ours.ms) / 1000).toFixed(2)} | ${ours.peakRssMiB} |`);
    }
    console.log('\n| blobs in index files | restic load s | restic peak RSS MiB | loadMasterIndex s | ours peak RSS MiB |');
    console.log('|---|---|---|---|---|');
    for (const r of vsRows) console.log(r);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const [mode, a, b] = process.argv.slice(3);
  if (mode === 'struct') await runStructure(a as 'typed' | 'map', Number(b));
  else await runLoad(a, b);
} else {
  await parent();
}
