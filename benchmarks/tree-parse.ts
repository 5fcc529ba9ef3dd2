/**
 * Tree parsing and encoding speed: `npx tsx benchmarks/tree-parse.ts [runs]`.
 * A synthetic 2,000-node tree as restic writes it (files with 1-3 content IDs, every tenth a
 * directory, distinct timestamps with nanoseconds and an offset), ~0.9 MB of JSON. Reports
 * MiB/s by wall clock and by process CPU time (steadier on a shared machine), with
 * `JSON.parse` of the same text as a yardstick.
 */
import { randomBytes } from 'node:crypto';
import { GoTime } from '../src/format/gotime.js';
import { encodeTree, newNode, parseTree, type TreeNode } from '../src/format/node.js';

const nodes: TreeNode[] = [];
for (let i = 0; i < 2000; i++) {
  const t = new GoTime(1_700_000_000 + i * 13, (i * 7919) % 1e9, 3600);
  const isDir = i % 10 === 0;
  nodes.push(
    newNode({
      name: `file-${i}-${randomBytes(4).toString('hex')}.txt`,
      type: isDir ? 'dir' : 'file',
      mode: isDir ? 0x8000_01ed : 0o644,
      mtime: t,
      atime: t,
      ctime: t,
      uid: 1000,
      gid: 1000,
      user: 'user',
      group: 'user',
      inode: BigInt(1_000_000 + i),
      deviceId: 64769n,
      size: isDir ? 0n : BigInt(i * 1000),
      links: 1n,
      content: isDir ? null : Array.from({ length: 1 + (i % 3) }, () => randomBytes(32).toString('hex')),
      ...(isDir ? { subtree: randomBytes(32).toString('hex') } : {}),
    }),
  );
}
const bytes = encodeTree(nodes);
const runs = Number(process.argv[2] ?? 40);
console.log(`tree: ${nodes.length} nodes, ${bytes.length} bytes; ${runs} iterations per measurement`);
const cases: Array<[string, () => unknown]> = [
  ['parseTree', () => parseTree(bytes)],
  ['JSON.parse', () => JSON.parse(Buffer.from(bytes).toString('utf8'))],
  ['encodeTree', () => encodeTree(nodes)],
];
for (const [name, fn] of cases) {
  for (let k = 0; k < 3; k++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) fn();
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (c.user + c.system) / 1e6;
    const mib = (bytes.length * runs) / 2 ** 20;
    console.log(`${name.padEnd(11)} ${(mib / wall).toFixed(0).padStart(5)} MiB/s wall ${(mib / cpu).toFixed(0).padStart(5)} MiB/s CPU`);
  }
}
