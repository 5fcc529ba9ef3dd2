/**
 * Walking snapshot trees and streaming file content.
 *
 * The walk is restic's (internal/walker): depth first, the nodes of each tree in bytewise
 * name order, a directory yielded before its contents. Paths are raw bytes (`/a/b`), because
 * names may be any bytes; `pathText` gives a display form.
 */
import { ResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import { compareBytes, utf8Text } from '../format/json.js';
import type { Tree, TreeNode } from '../format/node.js';
import type { BlobType } from '../pack/header.js';
import type { Repository } from '../repository/repository.js';
import { planRuns, readRun } from './blob-reader.js';
import type { DecodeWorkerPool } from './decode-worker.js';

/** What the walker and the content streamer need from a repository (Repository satisfies it). */
export interface TreeSource {
  loadTree(id: Id): Promise<Tree>;
  loadBlob(type: BlobType, id: Id): Promise<Uint8Array>;
}

export interface WalkEntry {
  /** Absolute path inside the walked tree, as bytes: `/dir/name`. */
  path: Uint8Array;
  node: TreeNode;
  /** The tree that holds `node`. */
  parentTree: Id;
}

export interface WalkOptions {
  /** Path bytes the walked tree sits at (default: the root, `/`). */
  prefix?: Uint8Array;
  /**
   * Called for each directory after it was yielded; return false to skip its contents.
   * Default: descend everywhere.
   */
  descend?: (entry: WalkEntry) => boolean;
}

const SLASH = 0x2f;

/** `prefix + '/' + name` without doubling the slash at the root. */
export function joinPath(prefix: Uint8Array, name: Uint8Array): Uint8Array {
  const needSlash = prefix.length === 0 || prefix[prefix.length - 1] !== SLASH;
  const out = new Uint8Array(prefix.length + (needSlash ? 1 : 0) + name.length);
  out.set(prefix, 0);
  if (needSlash) out[prefix.length] = SLASH;
  out.set(name, prefix.length + (needSlash ? 1 : 0));
  return out;
}

/** A path for display (invalid UTF-8 → U+FFFD), as restic prints it through Go's JSON/fmt. */
export function pathText(path: Uint8Array): string {
  return utf8Text(path);
}

/** The nodes of a tree in restic's walk order (bytewise by name); the tree itself is untouched. */
export function sortedNodes(tree: Tree): TreeNode[] {
  return [...tree.nodes].sort((a, b) => compareBytes(a.name, b.name));
}

/**
 * Depth-first walk of tree `root`: every node with its path, directories before their
 * contents. A directory without a subtree is CORRUPT (naming the path and tree).
 */
export async function* walkTree(source: TreeSource, root: Id, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  const prefix = options.prefix ?? new Uint8Array([SLASH]);
  yield* walkInner(source, root, prefix, options.descend);
}

async function* walkInner(
  source: TreeSource,
  treeId: Id,
  prefix: Uint8Array,
  descend: ((entry: WalkEntry) => boolean) | undefined,
): AsyncGenerator<WalkEntry> {
  const tree = await source.loadTree(treeId);
  for (const node of sortedNodes(tree)) {
    const entry: WalkEntry = { path: joinPath(prefix, node.name), node, parentTree: treeId };
    if (node.type === '') {
      throw new ResticError('CORRUPT', `tree ${shortId(treeId)}: node type is empty for node ${JSON.stringify(node.nameText)}`);
    }
    yield entry;
    if (node.type !== 'dir') continue;
    if (!node.subtree) {
      throw new ResticError('CORRUPT', `tree ${shortId(treeId)}: directory ${pathText(entry.path)} has no subtree`);
    }
    if (descend && !descend(entry)) continue;
    yield* walkInner(source, node.subtree, entry.path, descend);
  }
}

/**
 * The node at `path` (`/a/b`, or `a/b`) below tree `root`, or SNAPSHOT_NOT_FOUND naming the
 * path. The root itself (`/` or ``) has no node: returns undefined.
 */
export async function findNode(source: TreeSource, root: Id, path: string, where = ''): Promise<{ node: TreeNode; parentTree: Id } | undefined> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let current = root;
  let found: { node: TreeNode; parentTree: Id } | undefined;
  for (let i = 0; i < parts.length; i++) {
    const tree = await source.loadTree(current);
    const wanted = Buffer.from(parts[i], 'utf8');
    const node = tree.nodes.find((n) => compareBytes(n.name, wanted) === 0);
    const shown = '/' + parts.slice(0, i + 1).join('/');
    if (!node) throw new ResticError('SNAPSHOT_NOT_FOUND', `path ${shown} not found${where}`);
    found = { node, parentTree: current };
    if (i < parts.length - 1) {
      if (node.type !== 'dir' || !node.subtree) throw new ResticError('SNAPSHOT_NOT_FOUND', `path ${shown}${where} is not a directory`);
      current = node.subtree;
    }
  }
  return found;
}

export interface StreamOptions {
  /** Blobs loaded ahead of the consumer (default 4). Memory stays ≤ (prefetch + 1) blobs. */
  prefetch?: number;
  /**
   * From a Repository: runs of pack-adjacent blobs (≤ 8 MiB each, one range read per run)
   * loaded ahead (default 2).
   */
  runPrefetch?: number;
  /** Worker threads that decode the runs (from a Repository only). */
  pool?: DecodeWorkerPool;
}

/** A loaded Repository: its blobs can be read in pack-adjacent runs. */
function isRepository(source: TreeSource): source is Repository {
  const r = source as Partial<Repository>;
  return r.backend !== undefined && r.masterKey !== undefined && r.indexLoaded === true;
}

async function* streamRuns(repo: Repository, ids: readonly Id[], prefetch: number, pool: DecodeWorkerPool | undefined): AsyncGenerator<Uint8Array> {
  const runs = planRuns(repo, ids, RUN_BYTES);
  const pending: Promise<Uint8Array[]>[] = [];
  let next = 0;
  const fill = (): void => {
    while (pending.length < prefetch && next < runs.length) {
      const p = readRun(repo, runs[next++], pool);
      p.catch(() => undefined);
      pending.push(p);
    }
  };
  fill();
  while (pending.length > 0) {
    const blobs = await pending.shift()!;
    fill();
    yield* blobs;
  }
}

const RUN_BYTES = 8 * 1024 * 1024;

/**
 * The content of a file node, blob by blob, with a few blobs loaded ahead. Each blob is
 * decrypted and hash-checked by the repository; errors name the pack and blob.
 */
export async function* streamFileContent(source: TreeSource, node: TreeNode, options: StreamOptions = {}): AsyncGenerator<Uint8Array> {
  const ids = node.content ?? [];
  if (isRepository(source)) {
    yield* streamRuns(source, ids, Math.max(1, options.runPrefetch ?? (options.pool ? options.pool.size + 1 : 2)), options.pool);
    return;
  }
  const prefetch = Math.max(1, options.prefetch ?? 4);
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  const fill = (): void => {
    while (pending.length < prefetch && next < ids.length) {
      const p = source.loadBlob('data', ids[next++]);
      // a rejected promise that is waited for later must not count as unhandled meanwhile
      p.catch(() => undefined);
      pending.push(p);
    }
  };
  fill();
  while (pending.length > 0) {
    const blob = await pending.shift()!;
    fill();
    yield blob;
  }
}
