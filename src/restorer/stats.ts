/**
 * restic 0.14's `stats` counting modes over a set of snapshots:
 *
 * - `restore-size`: every node counts as a file (directories too); sizes add up, except that
 *   within one snapshot each non-zero inode is counted once (hard links);
 * - `files-by-contents`: files unique by their content blob list, their sizes;
 * - `blobs-per-file`: for files unique by content, the plaintext size of each distinct blob;
 * - `raw-data`: the distinct tree and data blobs the snapshots reference, at their packed size.
 */
import { createSha256 } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';
import { walkTree } from './walker.js';

export type StatsMode = 'restore-size' | 'files-by-contents' | 'blobs-per-file' | 'raw-data';
export const STATS_MODES: readonly StatsMode[] = ['restore-size', 'files-by-contents', 'blobs-per-file', 'raw-data'];

export interface StatsResult {
  mode: StatsMode;
  totalSize: number;
  totalFileCount: number;
  /** Only counted in `raw-data` and `blobs-per-file` modes. */
  totalBlobCount: number;
  snapshotsCount: number;
}

export interface StatsOptions {
  mode?: StatsMode;
  onSnapshot?: (entry: SnapshotEntry) => void;
}

function plaintextSize(repo: Repository, id: Id): number | undefined {
  const loc = repo.index.lookup('data', id)[0];
  if (!loc) return undefined;
  return loc.uncompressedLength !== 0 ? loc.uncompressedLength : loc.length - 32;
}

function contentKey(content: readonly Id[] | null): string {
  const h = createSha256();
  for (const id of content ?? []) h.update(Buffer.from(id, 'hex'));
  return Buffer.from(h.digest()).toString('hex');
}

export async function computeStats(repo: Repository, snapshots: readonly SnapshotEntry[], options: StatsOptions = {}): Promise<StatsResult> {
  const mode = options.mode ?? 'restore-size';
  if (!STATS_MODES.includes(mode)) {
    throw new ResticError('USAGE', `unknown counting mode: ${mode} (use the -h flag to get a list of supported modes)`);
  }
  await repo.loadIndex();
  const result: StatsResult = { mode, totalSize: 0, totalFileCount: 0, totalBlobCount: 0, snapshotsCount: 0 };
  const uniqueFiles = new Set<string>();
  const trees = new Set<Id>();
  const dataBlobs = new Set<Id>();

  for (const entry of snapshots) {
    options.onSnapshot?.(entry);
    const root = entry.snapshot.tree;
    if (!root) throw new ResticError('CORRUPT', `snapshot ${entry.id.slice(0, 8)} has nil tree`);
    result.snapshotsCount++;

    if (mode === 'raw-data') {
      // restic's FindUsedBlobs: each tree once, its data blobs and subtrees
      const pending: Id[] = [root];
      while (pending.length > 0) {
        const id = pending.pop()!;
        if (trees.has(id)) continue;
        trees.add(id);
        const tree = await repo.loadTree(id);
        for (const node of tree.nodes) {
          if (node.type === 'file') for (const blob of node.content ?? []) dataBlobs.add(blob);
          else if (node.type === 'dir' && node.subtree) pending.push(node.subtree);
        }
      }
      continue;
    }

    const inodes = new Set<bigint>();
    for await (const { node } of walkTree(repo, root)) {
      if (mode === 'restore-size') {
        result.totalFileCount++;
        if (node.inode === 0n || !inodes.has(node.inode)) {
          inodes.add(node.inode);
          result.totalSize += Number(node.size);
        }
        continue;
      }
      const key = contentKey(node.content);
      if (uniqueFiles.has(key)) continue;
      uniqueFiles.add(key);
      if (mode === 'files-by-contents') {
        result.totalSize += Number(node.size);
        result.totalFileCount++;
        continue;
      }
      // blobs-per-file: the file is new by content, so each distinct blob of it counts
      const seen = new Set<Id>();
      for (const blob of node.content ?? []) {
        if (seen.size === 0) result.totalFileCount++;
        if (seen.has(blob)) continue;
        seen.add(blob);
        const size = plaintextSize(repo, blob);
        if (size === undefined) throw new ResticError('BLOB_NOT_FOUND', `blob ${blob} not found`);
        result.totalSize += size;
        result.totalBlobCount++;
      }
    }
  }

  if (mode === 'raw-data') {
    const count = (type: 'tree' | 'data', id: Id): void => {
      const loc = repo.index.lookup(type, id)[0];
      if (!loc) throw new ResticError('BLOB_NOT_FOUND', `blob ${type}/${id} not found`);
      result.totalSize += loc.length;
      result.totalBlobCount++;
    };
    for (const id of trees) count('tree', id);
    for (const id of dataBlobs) count('data', id);
  }
  return result;
}
