/**
 * The blobs that snapshots still need: every tree reachable from the given root trees, and
 * every data blob those trees list (restic's `FindUsedBlobs`). Prune keeps exactly these.
 *
 * Each tree is loaded once even when many snapshots share it. A tree that cannot be loaded
 * (not indexed, damaged) fails the whole walk: prune must never decide on a partial set.
 */
import { ResticError, isResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import type { Tree } from '../format/node.js';
import type { BlobType } from '../pack/header.js';

/** A blob handle as a compact string key: `t` or `d` followed by the hex ID. */
export type BlobKey = string;

export function blobKey(type: BlobType, id: Id): BlobKey {
  return (type === 'tree' ? 't' : 'd') + id;
}

export function parseBlobKey(key: BlobKey): { type: BlobType; id: Id } {
  return { type: key[0] === 't' ? 'tree' : 'data', id: key.slice(1) };
}

/** What the walk needs of a repository. */
export interface TreeSource {
  loadTree(id: Id): Promise<Tree>;
}

export interface UsedBlobsProgress {
  /** Root trees (snapshots) fully walked. */
  rootsDone: number;
  rootsTotal: number;
  treesLoaded: number;
}

export interface FindUsedBlobsOptions {
  /** Trees loaded at once (default 4). */
  concurrency?: number;
  onProgress?: (progress: UsedBlobsProgress) => void;
}

/**
 * Adds to `used` every tree and data blob reachable from `roots`, and returns it. Roots are
 * walked one after another (for progress); inside one root the trees load concurrently.
 */
export async function findUsedBlobs(
  repo: TreeSource,
  roots: readonly Id[],
  used: Set<BlobKey> = new Set(),
  options: FindUsedBlobsOptions = {},
): Promise<Set<BlobKey>> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let treesLoaded = 0;
  let rootsDone = 0;
  for (const root of roots) {
    const queue: Id[] = [];
    const enqueue = (id: Id): void => {
      const key = blobKey('tree', id);
      if (used.has(key)) return;
      used.add(key);
      queue.push(id);
    };
    enqueue(root);
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (queue.length > 0 && failure === undefined) {
        const id = queue.pop() as Id;
        let tree: Tree;
        try {
          tree = await repo.loadTree(id);
        } catch (err) {
          failure ??= treeError(id, err);
          return;
        }
        treesLoaded++;
        for (const node of tree.nodes) {
          if (node.type === 'file') {
            for (const blob of node.content ?? []) used.add(blobKey('data', blob));
          } else if (node.type === 'dir' && node.subtree) {
            enqueue(node.subtree);
          }
        }
      }
    };
    // Workers exit when the queue is momentarily empty; loop until no tree is left.
    while (queue.length > 0 && failure === undefined) {
      const workers: Promise<void>[] = [];
      for (let i = 0; i < concurrency; i++) workers.push(worker());
      await Promise.all(workers);
    }
    if (failure !== undefined) throw failure;
    rootsDone++;
    options.onProgress?.({ rootsDone, rootsTotal: roots.length, treesLoaded });
  }
  return used;
}

function treeError(id: Id, err: unknown): ResticError {
  if (isResticError(err, 'BLOB_NOT_FOUND')) {
    return new ResticError('BLOB_NOT_FOUND', `unable to load a tree from the repository: tree ${id} not found in repository (not in any index)`, { cause: err });
  }
  if (isResticError(err)) {
    return new ResticError(err.code, `unable to load tree ${shortId(id)}: ${err.message}`, { cause: err, ...(err.file !== undefined ? { file: err.file } : {}) });
  }
  return new ResticError('FATAL', `unable to load tree ${shortId(id)}: ${(err as Error).message}`, { cause: err });
}
