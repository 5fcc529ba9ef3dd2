/**
 * Crypto primitives benchmark: the native OpenSSL addon (when built) vs node:crypto + libsodium
 * Poly1305 vs the portable noble path, single-threaded, on random data. Also restic's whole
 * seal() and open() per call for a 10 KiB blob (µs/op, wall and CPU: the per-blob fixed cost
 * many-small-file backups pay) and for 1 MiB blobs (MiB/s), and scrypt at the parameters restic
 * calibrates to (N=2^15, r=8, p=6).
 * Run: npx tsx benchmarks/crypto.ts [MiB]
 */
import {
  generateMasterKey,
  loadLibsodium,
  nativeSealStatus,
  nodeJsPrimitives,
  nodePrimitives,
  open,
  portablePrimitives,
  randomBytes,
  scryptJs,
  seal,
  setCryptoImplementation,
  type CryptoPrimitives,
} from '../src/crypto/index.js';
import { openWithPrimitives, sealWithPrimitives } from '../src/crypto/seal.js';

// With the native addon built, libsodium is not loaded at import: load it to measure that path too.
await loadLibsodium();

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 16) * MiB;
const data = randomBytes(size);
const key32 = randomBytes(32);
const iv = randomBytes(16);

function rate(fn: () => unknown, minMs = 1200): number {
  fn();
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || runs < 2) {
    fn();
    runs++;
  }
  const ms = (performance.now() - start) / runs;
  return +(size / MiB / (ms / 1000)).toFixed(0);
}

const rows: [string, string, number | string][] = [];
const impls: [string, CryptoPrimitives][] = [
  ...(nativeSealStatus().available ? ([['node with addon', nodePrimitives]] as [string, CryptoPrimitives][]) : []),
  ['node', nodeJsPrimitives],
  ['portable', portablePrimitives],
];
for (const [name, p] of impls) {
  rows.push(['SHA-256 MiB/s', `${name} (${p.sha256Name})`, rate(() => p.sha256(data))]);
  rows.push(['AES-256-CTR MiB/s', `${name} (${p.aesName})`, rate(() => p.aes256Ctr(key32, iv, data))]);
  rows.push(['Poly1305 MiB/s', `${name} (${p.poly1305Name})`, rate(() => p.poly1305(data, key32))]);
}
// restic's open() on 4 MiB-ish blobs as restore sees them.
const master = generateMasterKey();
const blob = data.subarray(0, 4 * MiB);
for (const name of ['node', 'portable'] as const) {
  setCryptoImplementation(name);
  const sealed = seal(master, blob);
  const n = Math.floor(size / blob.length);
  rows.push(['open() (MAC + decrypt) MiB/s', name === 'node' ? `node (${nodePrimitives.poly1305Name})` : name, rate(() => { for (let i = 0; i < n; i++) open(master, sealed, 'bench'); })]);
}
setCryptoImplementation('node');

/** µs per call, wall and CPU (user + system), over at least `minMs`. */
function perCall(fn: () => unknown, minMs = 1000): { wallUs: number; cpuUs: number } {
  for (let i = 0; i < 50; i++) fn();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < minMs || calls < 3) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
  }
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallUs: (wall * 1000) / calls, cpuUs: (used.user + used.system) / calls };
}

// Whole seal()/open() calls: the addon, node:crypto + libsodium step by step, noble step by step.
type Sealer = [string, (p: Uint8Array) => Uint8Array, (s: Uint8Array) => Uint8Array];
const sealers: Sealer[] = [];
if (nativeSealStatus().available) {
  sealers.push(['native addon (OpenSSL in Node)', (p) => seal(master, p), (s) => open(master, s, 'bench')]);
}
sealers.push(['node:crypto + libsodium', (p) => sealWithPrimitives(nodeJsPrimitives, master, p, randomBytes(16)), (s) => openWithPrimitives(nodeJsPrimitives, master, s, 'bench')]);
sealers.push(['portable (noble)', (p) => sealWithPrimitives(portablePrimitives, master, p, randomBytes(16)), (s) => openWithPrimitives(portablePrimitives, master, s, 'bench')]);
const small = data.subarray(0, 10 * 1024);
const large = data.subarray(0, MiB);
const callRows: string[] = [];
for (const [label, sealFn, openFn] of sealers) {
  const slow = label.startsWith('portable');
  const sealSmall = perCall(() => sealFn(small), slow ? 400 : 1000);
  const sealedSmall = sealFn(small);
  const openSmall = perCall(() => openFn(sealedSmall), slow ? 400 : 1000);
  const sealLarge = perCall(() => sealFn(large), slow ? 400 : 1000);
  const sealedLarge = sealFn(large);
  const openLarge = perCall(() => openFn(sealedLarge), slow ? 400 : 1000);
  const f = (x: number): string => x.toFixed(1);
  const mibs = (us: number): string => (1e6 / us).toFixed(0);
  callRows.push(
    `| ${label} | ${f(sealSmall.wallUs)} / ${f(sealSmall.cpuUs)} | ${f(openSmall.wallUs)} / ${f(openSmall.cpuUs)} | ${mibs(sealLarge.wallUs)} | ${mibs(openLarge.wallUs)} |`,
  );
}

const params = { N: 32768, r: 8, p: 6 };
const pw = new TextEncoder().encode('benchmark password');
const salt = randomBytes(64);
async function ms(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return +(performance.now() - start).toFixed(0);
}
rows.push(['scrypt N=2^15 r=8 p=6 ms', `node (${nodePrimitives.scryptName})`, await ms(() => nodePrimitives.scrypt(pw, salt, params, 64))]);
rows.push(['scrypt N=2^15 r=8 p=6 ms', 'node:crypto', await ms(() => nodeJsPrimitives.scrypt(pw, salt, params, 64))]);
rows.push(['scrypt N=2^15 r=8 p=6 ms', '@noble/hashes', await ms(() => portablePrimitives.scrypt(pw, salt, params, 64))]);
rows.push(['scrypt N=2^15 r=8 p=6 ms', 'scrypt-js', await ms(() => scryptJs(pw, salt, params, 64))]);

const cpuModel = (await import('node:os')).cpus()[0]?.model ?? 'unknown CPU';
console.log(`crypto primitives, ${size / MiB} MiB buffers, Node ${process.version}, ${cpuModel}, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
console.log(`native seal addon: ${nativeSealStatus().available ? 'built' : `absent (${nativeSealStatus().reason})`}`);
console.log('| measure | implementation | figure |\n|---|---|---|');
for (const [m, i, v] of rows) console.log(`| ${m} | ${i} | ${v} |`);

console.log('\n| seal/open path | seal 10 KiB µs/op (wall / CPU) | open 10 KiB µs/op (wall / CPU) | seal 1 MiB MiB/s | open 1 MiB MiB/s |\n|---|---|---|---|---|');
console.log(callRows.join('\n'));
