/**
 * `repair snapshots`: rewrites snapshots so that they reference only data the repository
 * has, as restic ≥ 0.16 does (restic 0.14 has no such command):
 * - a file whose data blobs are not all indexed keeps only the indexed ones ("removed missing
 *   content"); its size becomes the sum of the kept blobs ("fixed incorrect size" when only the
 *   size was wrong);
 * - a subtree that cannot be loaded becomes an empty directory;
 * - a snapshot whose root tree cannot be loaded is removed.
 * Changed trees are re-encoded with the restic-identical tree encoder and saved; unchanged
 * trees keep their IDs. A changed snapshot is saved as a new file with `original` set and,
 * unless `forget`, the tag `repaired` (the damaged snapshot stays); with `forget` the old
 * snapshot file is deleted after the new one is stored. The caller holds an exclusive lock.
 */
import { TransientBackendError } from '../backend/errors.js';
import { isResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import { encodeTree, type TreeNode } from '../format/node.js';
import { encodeSnapshotBytes, type Snapshot } from '../format/snapshot.js';
import { BlobSaver } from '../repository/blob-saver.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';
import { readBack } from './tag.js';

export type RepairSnapshotsEvent =
  | { kind: 'snapshot'; id: Id; snapshot: Snapshot }
  | { kind: 'file-content-removed'; path: string }
  | { kind: 'file-size-fixed'; path: string }
  | { kind: 'dir-replaced'; path: string }
  | { kind: 'root-unreadable'; id: Id }
  | { kind: 'snapshot-removed'; id: Id }
  | { kind: 'snapshot-saved'; id: Id; newId: Id }
  | { kind: 'old-snapshot-removed'; id: Id };

export interface RepairSnapshotsOptions {
  /** Delete the damaged snapshots once their repaired versions are saved. */
  forget?: boolean;
  /** Report what would change; store and delete nothing. */
  dryRun?: boolean;
  onEvent?: (event: RepairSnapshotsEvent) => void;
}

export interface RepairSnapshotsResult {
  /** Snapshots that were (or, dry run, would be) rewritten or removed. */
  modified: Id[];
}

const REPAIRED_TAG = 'repaired';

/** Errors that mean the tree blob itself is missing or damaged (every copy), not that reading failed. */
const TREE_DAMAGE_CODES: ReadonlySet<string> = new Set(['BLOB_NOT_FOUND', 'CORRUPT', 'MAC_FAILED', 'FILE_NOT_FOUND']);

function isTreeDamage(err: unknown): boolean {
  return isResticError(err) && !(err instanceof TransientBackendError) && TREE_DAMAGE_CODES.has(err.code);
}

function joinPath(prefix: string, name: string): string {
  return prefix.endsWith('/') ? prefix + name : `${prefix}/${name}`;
}

export async function repairSnapshots(repo: Repository, snapshots: readonly SnapshotEntry[], options: RepairSnapshotsOptions = {}): Promise<RepairSnapshotsResult> {
  const emit = options.onEvent ?? (() => undefined);
  const index = await repo.loadIndex();
  const saver = new BlobSaver({
    backend: repo.backend,
    key: repo.masterKey,
    repoVersion: repo.config.version,
    index,
    saveIndexFile: (json) => repo.saveUnpacked('index', json),
    compression: repo.compression,
    workers: 0,
    dryRun: options.dryRun ?? false,
  });
  const blobSize = (id: Id): number | undefined => {
    const loc = index.lookup('data', id)[0];
    if (!loc) return undefined;
    return loc.uncompressedLength !== 0 ? loc.uncompressedLength : loc.length - 32;
  };
  /** Rewritten trees by original ID (a tree shared by snapshots is repaired once). */
  const done = new Map<Id, Id | null>();

  /** The repaired tree's ID; null when the root itself cannot be read. */
  const rewrite = async (id: Id, path: string): Promise<Id | null> => {
    const known = done.get(id);
    if (known !== undefined) return known;
    let nodes: TreeNode[];
    try {
      nodes = (await repo.loadTree(id)).nodes;
    } catch (err) {
      // Only a tree that is really gone or damaged is replaced. A server error, a permission
      // problem or an interruption says nothing about the tree: treating it as damage would
      // empty directories or (root) delete the snapshot over a passing failure.
      if (!isTreeDamage(err)) throw err;
      if (path === '/') {
        done.set(id, null);
        return null;
      }
      emit({ kind: 'dir-replaced', path });
      return (await saver.saveBlob('tree', encodeTree([]))).id;
    }
    let changed = false;
    const out: TreeNode[] = [];
    for (const node of nodes) {
      const nodePath = joinPath(path, node.nameText);
      if (node.type === 'file') {
        const kept: Id[] = [];
        let size = 0n;
        let missing = false;
        for (const blob of node.content ?? []) {
          const s = blobSize(blob);
          if (s === undefined) missing = true;
          else {
            kept.push(blob);
            size += BigInt(s);
          }
        }
        if (missing) emit({ kind: 'file-content-removed', path: nodePath });
        else if (size !== node.size) emit({ kind: 'file-size-fixed', path: nodePath });
        if (missing || size !== node.size || node.content === null) {
          out.push({ ...node, content: kept, size });
          changed = true;
          continue;
        }
      } else if (node.type === 'dir' && node.subtree) {
        const sub = await rewrite(node.subtree, nodePath);
        if (sub !== node.subtree) {
          out.push({ ...node, subtree: sub ?? undefined });
          changed = true;
          continue;
        }
      }
      out.push(node);
    }
    const result = changed ? (await saver.saveBlob('tree', encodeTree(out))).id : id;
    done.set(id, result);
    return result;
  };

  const result: RepairSnapshotsResult = { modified: [] };
  try {
    for (const { id, snapshot } of snapshots) {
      emit({ kind: 'snapshot', id, snapshot });
      const tree = await rewrite(snapshot.tree, '/');
      if (tree === snapshot.tree) continue;
      result.modified.push(id);
      if (tree === null) {
        emit({ kind: 'root-unreadable', id });
        if (!options.dryRun) await repo.backend.remove('snapshot', id);
        emit({ kind: 'snapshot-removed', id });
        continue;
      }
      const repaired: Snapshot = { ...snapshot, tree, original: snapshot.original ?? id };
      delete repaired.id;
      if (!options.forget && !(repaired.tags ?? []).includes(REPAIRED_TAG)) repaired.tags = [...(repaired.tags ?? []), REPAIRED_TAG];
      if (options.dryRun) continue;
      // data first: the new trees and their index, then the snapshot, then (forget) the old one
      await saver.flush();
      const newId = await repo.saveUnpacked('snapshot', encodeSnapshotBytes(repaired));
      emit({ kind: 'snapshot-saved', id, newId });
      if (options.forget) {
        await readBack(repo, newId); // verify before deleting the damaged original
        await repo.backend.remove('snapshot', id);
        emit({ kind: 'old-snapshot-removed', id });
      }
    }
    if (!options.dryRun) await saver.flush();
  } finally {
    await saver.close();
  }
  return result;
}

/** restic's Snapshot.String(): `snapshot 1a2b3c4d of [/a /b] at TIME by user@host`. */
export function describeSnapshot(id: Id, sn: Snapshot, time: string): string {
  return `snapshot ${shortId(id)} of [${(sn.paths ?? []).join(' ')}] at ${time} by ${sn.username ?? ''}@${sn.hostname ?? ''}`;
}

