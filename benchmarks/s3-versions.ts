/**
 * Cost of the versioned-S3 features: listing the version history (ListObjectVersions pages
 * of 1000), planning a rollback, and applying it (CopyObject / DeleteObject per object), on
 * a throw-away radosgw; plus the pure planner on a large synthetic history.
 *
 * Run: npx tsx benchmarks/s3-versions.ts [objects] [syntheticKeys] [applyConcurrency]   (default 2000, 1000000, 4)
 * Prints JSON lines. Needs the Ceph packages (see docs and .ci/run).
 *
 * Figures (2026-11-26, 2 shared cores at load average 8–15 — very noisy):
 * - radosgw (memstore), 2000 objects of 1 KiB, half overwritten and half deleted (4000
 *   version entries): history listed in 1.0–2.0 s (2–4k entries/s), planned in 12–40 ms,
 *   rollback applied at ~70 changes/s with 4 or 8 concurrent requests (the server is the
 *   limit): 2000 changes in ~29 s.
 * - synthetic 1M keys / 1.33M entries: buildHistory 11–17 s (about half of it hashing the
 *   synthetic cons-string keys into the Map; keys from a real listing are flat strings),
 *   planRollback 1.7–4 s; RSS ~1.1–1.3 GiB including the raw listing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Backend } from '../src/backend/s3.js';
import { applyRollback, planRollback } from '../src/s3/rollback.js';
import { buildHistory, listVersionHistory, repositoryKeyPrefix, type RawListing } from '../src/s3/version-history.js';
import { startCephS3 } from '../test/support/ceph.js';

const objects = Number(process.argv[2] ?? 2000);
const synthetic = Number(process.argv[3] ?? 1_000_000);
const concurrency = Number(process.argv[4] ?? 4);
const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function main(): Promise<void> {
  // Pure planner on a synthetic history: every key has 1 version before T, a third were
  // overwritten after T, a third deleted after T.
  {
    const raw: RawListing = { versions: [], deleteMarkers: [] };
    for (let i = 0; i < synthetic; i++) {
      const key = `repo/data/${(i % 256).toString(16).padStart(2, '0')}/${i.toString(16).padStart(64, '0')}`;
      const later = i % 3;
      if (later === 1) raw.versions.push({ key, versionId: `b${i}`, time: 2000, isLatest: true, etag: '"y"', size: 10 });
      raw.versions.push({ key, versionId: `a${i}`, time: 1000, isLatest: later === 0, etag: '"x"', size: 10 });
      if (later === 2) raw.deleteMarkers.push({ key, versionId: `d${i}`, time: 2000, isLatest: true });
    }
    const t0 = performance.now();
    const history = buildHistory(raw, () => ({ type: 'pack', name: 'x' }));
    const t1 = performance.now();
    const plan = planRollback(history, 1500, 'repo/');
    const t2 = performance.now();
    console.log(JSON.stringify({ bench: 'synthetic', keys: synthetic, buildMs: Math.round(t1 - t0), planMs: Math.round(t2 - t1), changes: plan.changes.length, rssMiB: mib(process.memoryUsage().rss) }));
  }

  const ceph = await startCephS3();
  try {
    const client = new S3Client({
      endpoint: ceph.endpoint, region: ceph.region, forcePathStyle: true,
      credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const bucket = 'bench-versions';
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const keys = Array.from({ length: objects }, () => {
      const body = randomBytes(1024);
      const id = createHash('sha256').update(body).digest('hex');
      return { key: `repo/data/${id.slice(0, 2)}/${id}`, body };
    });
    await pool(keys, 8, (k) => client.send(new PutObjectCommand({ Bucket: bucket, Key: k.key, Body: k.body })));
    await new Promise((r) => setTimeout(r, 1100));
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 1100));
    // Damage: half overwritten, the rest deleted.
    await pool(keys, 8, (k) =>
      keys.indexOf(k) % 2 === 0
        ? client.send(new PutObjectCommand({ Bucket: bucket, Key: k.key, Body: randomBytes(100) }))
        : client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k.key })),
    );
    const s3 = new S3Backend({ endpoint: ceph.endpoint, region: ceph.region, bucket, prefix: 'repo', client });
    const l0 = performance.now();
    const history = await listVersionHistory(s3);
    const l1 = performance.now();
    const plan = planRollback(history, t, repositoryKeyPrefix(s3));
    const l2 = performance.now();
    const applied = await applyRollback(s3, plan, { concurrency });
    const l3 = performance.now();
    const entries = history.keys.reduce((n, k) => n + k.events.length, 0);
    console.log(
      JSON.stringify({
        bench: 'radosgw',
        objects,
        versionEntries: entries,
        listMs: Math.round(l1 - l0),
        entriesPerSecond: Math.round(entries / ((l1 - l0) / 1000)),
        planMs: Math.round(l2 - l1),
        changes: plan.changes.length,
        concurrency,
        applyMs: Math.round(l3 - l2),
        changesPerSecond: Math.round(applied.applied / ((l3 - l2) / 1000)),
        failed: applied.failed.length,
      }),
    );
    client.destroy();
  } finally {
    await ceph.stop();
  }
}

await main();
