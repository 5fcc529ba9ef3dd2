/**
 * `diff SNAPSHOT SNAPSHOT`: what changed between two snapshots' trees, as restic 0.14's
 * comparer reports it — one change per path (`+` added, `-` removed, `M` content modified,
 * `T` type changed, `U` metadata updated when asked), in the order restic walks (names of both
 * trees merged and sorted bytewise, descending into directories as they come), then blob
 * statistics: blobs only before / only after, not counting subtrees both sides share.
 */
import { ResticError, isResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import type { Tree, TreeNode } from '../format/node.js';
import type { BlobType } from '../pack/header.js';
import type { Repository } from '../repository/repository.js';

export interface DiffChange {
  /** Slash-separated path from the snapshot root, `/` appended for directories. */
  path: string;
  /** `+`, `-`, `M`, `T`, `U`, `TM`… as restic prints it. */
  modifier: string;
}

export interface DiffStat {
  files: number;
  dirs: number;
  others: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of those blobs. */
  bytes: number;
}

export interface DiffStats {
  changedFiles: number;
  added: DiffStat;
  removed: DiffStat;
}

export interface DiffOptions {
  /** Report metadata-only changes (`U`). */
  metadata?: boolean;
  onChange?: (change: DiffChange) => void;
  /** A subtree that cannot be loaded: restic warns and goes on. */
  onError?: (err: ResticError) => void;
}

type BlobSet = Set<string>;
const handle = (type: BlobType, id: Id): string => (type === 'tree' ? 't' : 'd') + id;

function emptyStat(): DiffStat {
  return { files: 0, dirs: 0, others: 0, dataBlobs: 0, treeBlobs: 0, bytes: 0 };
}

function countNode(stat: DiffStat, node: TreeNode): void {
  if (node.type === 'file') stat.files++;
  else if (node.type === 'dir') stat.dirs++;
  else stat.others++;
}

function addBlobs(blobs: BlobSet, node: TreeNode | undefined): void {
  if (!node) return;
  if (node.type === 'file') for (const b of node.content ?? []) blobs.add(handle('data', b));
  else if (node.type === 'dir' && node.subtree) blobs.add(handle('tree', node.subtree));
}

/** Go's path.Join(prefix, name) for the clean prefixes used here. */
function join(prefix: string, name: string): string {
  return prefix.endsWith('/') ? prefix + name : `${prefix}/${name}`;
}

const nameKey = (node: TreeNode): string => Buffer.from(node.name.buffer, node.name.byteOffset, node.name.length).toString('latin1');

function sameIds(a: readonly Id[] | null, b: readonly Id[] | null): boolean {
  if ((a === null) !== (b === null)) return false;
  if (!a || !b) return true;
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** restic 0.14's Node.Equals (times compared as instants). */
export function nodesEqualAsRestic(a: TreeNode, b: TreeNode): boolean {
  if (!bytesEqual(a.name, b.name) || a.type !== b.type || a.mode !== b.mode) return false;
  if (a.mtime.compare(b.mtime) !== 0 || a.atime.compare(b.atime) !== 0 || a.ctime.compare(b.ctime) !== 0) return false;
  if (a.uid !== b.uid || a.gid !== b.gid || a.user !== b.user || a.group !== b.group) return false;
  if (a.inode !== b.inode || a.deviceId !== b.deviceId || a.size !== b.size || a.links !== b.links) return false;
  if (!bytesEqual(a.linkTarget, b.linkTarget) || a.device !== b.device || a.error !== b.error) return false;
  if (!sameIds(a.content, b.content) || a.subtree !== b.subtree) return false;
  if (a.extendedAttributes.length !== b.extendedAttributes.length) return false;
  return a.extendedAttributes.every((x, i) => {
    const y = b.extendedAttributes[i];
    return x.name === y.name && bytesEqual(x.value ?? new Uint8Array(), y.value ?? new Uint8Array());
  });
}

/** Compares two trees (usually two snapshots' roots) and returns the statistics. */
export async function diffTrees(repo: Repository, tree1: Id, tree2: Id, options: DiffOptions = {}): Promise<DiffStats> {
  await repo.loadIndex();
  const emit = options.onChange ?? (() => undefined);
  const warn = (err: unknown): void => {
    if (!isResticError(err)) throw err;
    if (options.onError) options.onError(err);
    else throw err;
  };
  const stats: DiffStats = { changedFiles: 0, added: emptyStat(), removed: emptyStat() };
  const before: BlobSet = new Set([handle('tree', tree1)]);
  const after: BlobSet = new Set([handle('tree', tree2)]);
  const common: BlobSet = new Set();

  const printDir = async (mode: '+' | '-', stat: DiffStat, blobs: BlobSet, prefix: string, id: Id): Promise<void> => {
    const tree = await repo.loadTree(id);
    for (const node of tree.nodes) {
      let name = join(prefix, node.nameText);
      if (node.type === 'dir') name += '/';
      emit({ path: name, modifier: mode });
      countNode(stat, node);
      addBlobs(blobs, node);
      if (node.type === 'dir' && node.subtree) await printDir(mode, stat, blobs, name, node.subtree).catch(warn);
    }
  };
  const collectDir = async (blobs: BlobSet, id: Id): Promise<void> => {
    const tree = await repo.loadTree(id);
    for (const node of tree.nodes) {
      addBlobs(blobs, node);
      if (node.type === 'dir' && node.subtree) await collectDir(blobs, node.subtree).catch(warn);
    }
  };
  const diffTree = async (prefix: string, id1: Id, id2: Id): Promise<void> => {
    const t1: Tree = await repo.loadTree(id1);
    const t2: Tree = await repo.loadTree(id2);
    const nodes1 = new Map(t1.nodes.map((n) => [nameKey(n), n]));
    const nodes2 = new Map(t2.nodes.map((n) => [nameKey(n), n]));
    const names = [...new Set([...nodes1.keys(), ...nodes2.keys()])].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
    for (const key of names) {
      const node1 = nodes1.get(key);
      const node2 = nodes2.get(key);
      addBlobs(before, node1);
      addBlobs(after, node2);
      if (node1 && node2) {
        let name = join(prefix, node2.nameText);
        let mod = '';
        if (node1.type !== node2.type) mod += 'T';
        if (node2.type === 'dir') name += '/';
        if (node1.type === 'file' && node2.type === 'file' && !sameIds(node1.content, node2.content)) {
          mod += 'M';
          stats.changedFiles++;
        } else if (options.metadata && !nodesEqualAsRestic(node1, node2)) {
          mod += 'U';
        }
        if (mod !== '') emit({ path: name, modifier: mod });
        if (node1.type === 'dir' && node2.type === 'dir' && node1.subtree && node2.subtree) {
          if (node1.subtree === node2.subtree) await collectDir(common, node1.subtree).catch(warn);
          else await diffTree(name, node1.subtree, node2.subtree).catch(warn);
        }
      } else if (node1) {
        let name = join(prefix, node1.nameText);
        if (node1.type === 'dir') name += '/';
        emit({ path: name, modifier: '-' });
        countNode(stats.removed, node1);
        if (node1.type === 'dir' && node1.subtree) await printDir('-', stats.removed, before, name, node1.subtree).catch(warn);
      } else if (node2) {
        let name = join(prefix, node2.nameText);
        if (node2.type === 'dir') name += '/';
        emit({ path: name, modifier: '+' });
        countNode(stats.added, node2);
        if (node2.type === 'dir' && node2.subtree) await printDir('+', stats.added, after, name, node2.subtree).catch(warn);
      }
    }
  };
  await diffTree('/', tree1, tree2);

  const count = (blobs: BlobSet, other: BlobSet, stat: DiffStat): void => {
    for (const h of blobs) {
      if (other.has(h) || common.has(h)) continue;
      const type: BlobType = h[0] === 't' ? 'tree' : 'data';
      if (type === 'data') stat.dataBlobs++;
      else stat.treeBlobs++;
      const loc = repo.index.lookup(type, h.slice(1))[0];
      if (!loc) {
        warn(new ResticError('BLOB_NOT_FOUND', `unable to find blob size for <${type}/${shortId(h.slice(1))}>`));
        continue;
      }
      stat.bytes += loc.uncompressedLength !== 0 ? loc.uncompressedLength : loc.length - 32;
    }
  };
  count(before, after, stats.removed);
  count(after, before, stats.added);
  return stats;
}
