/**
 * Shared by the versioned-S3 integration tests (attack-scenario, s3-versioned-view): a small
 * source tree, its digest for byte-for-byte comparison, and the count of object versions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { writeTree } from '../support/source-tree.js';

/** Every regular file under `root`, relative path → SHA-256. */
export function treeDigest(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out[relative(root, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

export function makeSourceTree(root: string): string {
  const files: Record<string, Uint8Array | string> = {};
  for (let i = 0; i < 5; i++) files[`data${i}.bin`] = randomBytes(200_000 + i * 7_000);
  files['docs/readme.txt'] = 'the original, precious data\n'.repeat(500);
  files['docs/deep/notes.md'] = '# notes\n' + 'x'.repeat(3000);
  return writeTree(join(root, 'source'), files);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Count of versions + delete markers under the prefix: rollback must never lower it. */
export async function versionCount(client: S3Client, bucket: string, prefix = 'repo'): Promise<number> {
  let n = 0;
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix + '/', KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
    n += (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0);
    if (!page.IsTruncated) return n;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}

