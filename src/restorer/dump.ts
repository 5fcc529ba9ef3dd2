/**
 * `dump`: one file's bytes, or a directory as a tar archive the way restic 0.14 writes it.
 *
 * For a directory, every direct child is an entry (whatever its type; Go's tar writer turns
 * types it has no flag for into regular entries), and below them only files, directories and
 * symlinks, in walk order. Entry names are relative (`dir/file`, directories end in `/`).
 * Content is streamed blob by blob; `write` may return a promise to apply back-pressure.
 */
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import { GoFileMode, type TreeNode } from '../format/node.js';
import { encodeTarHeader, tarEnd, tarPadding, TypeDir, TypeReg, TypeSymlink } from './tar.js';
import { findNode, joinPath, sortedNodes, streamFileContent, walkTree, type TreeSource } from './walker.js';

export type ByteSink = (chunk: Uint8Array) => void | Promise<void>;

/** Writes a file node's content. */
export async function dumpFile(source: TreeSource, node: TreeNode, write: ByteSink): Promise<number> {
  let n = 0;
  for await (const blob of streamFileContent(source, node)) {
    await write(blob);
    n += blob.length;
  }
  return n;
}

function tarMode(node: TreeNode): number {
  let mode = node.mode & 0o777;
  if (node.mode & GoFileMode.Setuid) mode |= 0o4000;
  if (node.mode & GoFileMode.Setgid) mode |= 0o2000;
  if (node.mode & GoFileMode.Sticky) mode |= 0o1000;
  return mode;
}

async function writeEntry(source: TreeSource, path: Uint8Array, node: TreeNode, write: ByteSink): Promise<void> {
  // path is absolute (`/a/b`); tar names are relative
  let name: Uint8Array = path.subarray(path[0] === 0x2f ? 1 : 0);
  let typeflag = TypeReg;
  let linkname: Uint8Array | undefined;
  if (node.type === 'symlink') {
    typeflag = TypeSymlink;
    linkname = node.linkTarget;
  } else if (node.type === 'dir') {
    typeflag = TypeDir;
    name = Buffer.concat([name, Buffer.from('/')]);
  }
  const paxRecords: Record<string, Uint8Array> = {};
  for (const xattr of node.extendedAttributes) {
    if (xattr.name.startsWith('system.posix_acl_')) continue;
    paxRecords[`SCHILY.xattr.${xattr.name}`] = xattr.value ?? new Uint8Array(0);
  }
  await write(
    encodeTarHeader({
      name,
      linkname,
      typeflag,
      mode: tarMode(node),
      uid: node.uid,
      gid: node.gid,
      uname: node.user,
      gname: node.group,
      size: node.size,
      mtimeSeconds: node.mtime.unixSeconds,
      mtimeNanos: node.mtime.nanos,
      paxRecords,
    }),
  );
  let written = 0n;
  if (node.type === 'file' || (node.content && node.content.length > 0)) {
    written = BigInt(await dumpFile(source, node, write));
  }
  if (written !== node.size) {
    throw new ResticError('CORRUPT', `${Buffer.from(path).toString('utf8')}: content is ${written} bytes, node size is ${node.size}`);
  }
  const pad = tarPadding(node.size);
  if (pad.length > 0) await write(pad);
}

/** restic's DumpTree: the nodes of tree `treeId` (at `rootPath`, e.g. `/` or `/home/x`) as a tar. */
export async function dumpTreeAsTar(source: TreeSource, treeId: Id, rootPath: Uint8Array, write: ByteSink): Promise<void> {
  const tree = await source.loadTree(treeId);
  for (const root of sortedNodes(tree)) {
    const rootNodePath = joinPath(rootPath, root.name);
    await writeEntry(source, rootNodePath, root, write);
    if (root.type !== 'dir' || !root.subtree) continue;
    for await (const entry of walkTree(source, root.subtree, { prefix: rootNodePath })) {
      const t = entry.node.type;
      if (t !== 'file' && t !== 'dir' && t !== 'symlink') continue;
      await writeEntry(source, entry.path, entry.node, write);
    }
  }
  await write(tarEnd());
}

export type DumpTarget = { kind: 'file'; node: TreeNode } | { kind: 'dir'; tree: Id; path: Uint8Array };

/**
 * What `dump SNAPSHOT PATH` refers to below tree `root`: a file (its bytes are dumped) or a
 * directory (`/` for the whole tree; dumped as an archive). SNAPSHOT_NOT_FOUND naming the
 * path when it does not exist; USAGE when it is neither a file nor a directory.
 */
export async function resolveDumpTarget(source: TreeSource, root: Id, path: string, where = ''): Promise<DumpTarget> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return { kind: 'dir', tree: root, path: Buffer.from('/') };
  const found = await findNode(source, root, parts.join('/'), where);
  const node = found!.node;
  const shown = '/' + parts.join('/');
  if (node.type === 'file') return { kind: 'file', node };
  if (node.type === 'dir' && node.subtree) return { kind: 'dir', tree: node.subtree, path: Buffer.from(shown, 'utf8') };
  throw new ResticError('USAGE', `${JSON.stringify(shown)} should be a file, but is a ${JSON.stringify(node.type)}`);
}
