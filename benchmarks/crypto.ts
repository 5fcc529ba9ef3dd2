/**
 * Crypto primitives benchmark: node:crypto (+ libsodium Poly1305) vs the portable noble path,
 * single-threaded, on random data. Also restic's whole open() (MAC check + decrypt) and scrypt at
 * the parameters restic calibrates to (N=2^15, r=8, p=6).
 * Run: npx tsx benchmarks/crypto.ts [MiB]
 */
import {
  generateMasterKey,
  nodePrimitives,
  open,
  portablePrimitives,
  randomBytes,
  scryptJs,
  seal,
  setCryptoImplementation,
  type CryptoPrimitives,
} from '../src/crypto/index.js';

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
  ['node', nodePrimitives],
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
  rows.push(['open() (MAC + decrypt) MiB/s', name, rate(() => { for (let i = 0; i < n; i++) open(master, sealed, 'bench'); })]);
}
setCryptoImplementation('node');

const params = { N: 32768, r: 8, p: 6 };
const pw = new TextEncoder().encode('benchmark password');
const salt = randomBytes(64);
async function ms(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return +(performance.now() - start).toFixed(0);
}
rows.push(['scrypt N=2^15 r=8 p=6 ms', 'node:crypto', await ms(() => nodePrimitives.scrypt(pw, salt, params, 64))]);
rows.push(['scrypt N=2^15 r=8 p=6 ms', '@noble/hashes', await ms(() => portablePrimitives.scrypt(pw, salt, params, 64))]);
rows.push(['scrypt N=2^15 r=8 p=6 ms', 'scrypt-js', await ms(() => scryptJs(pw, salt, params, 64))]);

console.log(`crypto primitives, ${size / MiB} MiB buffers, Node ${process.version}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
console.log('| measure | implementation | figure |\n|---|---|---|');
for (const [m, i, v] of rows) console.log(`| ${m} | ${i} | ${v} |`);
