/**
 * A tree node from `lstat` of a local file, with every field restic 0.14 records
 * (restic-format.md §8.2, §8.5, §8.6): Go mode bits, uid/gid and their names, inode, device
 * id, nanosecond mtime/ctime in the local zone, atime = mtime (restic's default without
 * --with-atime), size and links for files, links for symlinks and devices, rdev for devices.
 * Content and subtree are filled in by the archiver; extended attributes by
 * addExtendedAttributes (a second step, because it needs the path and may fail).
 */
import type { BigIntStats } from 'node:fs';
import { GoTime } from '../format/gotime.js';
import { goModeFromPosix, newNode, nodeTypeFromGoMode, type TreeNode } from '../format/node.js';
import { readExtendedAttributes } from '../platform/xattr.js';
import type { NameLookup } from './users.js';

export function nodeFromStats(name: Uint8Array, st: BigIntStats, names: NameLookup): TreeNode {
  const mode = goModeFromPosix(Number(st.mode));
  const type = nodeTypeFromGoMode(mode);
  const mtime = GoTime.fromUnixNanos(st.mtimeNs);
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const node = newNode({
    name,
    type,
    mode,
    mtime,
    atime: mtime,
    ctime: GoTime.fromUnixNanos(st.ctimeNs),
    uid,
    gid,
    user: names.userName(uid),
    group: names.groupName(gid),
    inode: st.ino,
    deviceId: st.dev,
  });
  switch (type) {
    case 'file':
      node.size = st.size;
      node.links = st.nlink;
      node.content = [];
      break;
    case 'symlink':
      node.links = st.nlink;
      break;
    case 'dev':
    case 'chardev':
      node.device = st.rdev;
      node.links = st.nlink;
      break;
    default:
      break;
  }
  return node;
}

/**
 * Reads the extended attributes of `fsPath` into `node` as restic 0.14 does: for every node
 * type but symlinks (restic 0.14 skips those), without following links, in the file
 * system's listing order. A file system without xattr support, or a build without the
 * native addon (see xattrSupport), gives none. When the listing fails, `report('listxattr',
 * err)` is called and false returned: restic then leaves the item out of the snapshot. An
 * attribute that cannot be read is reported as `getxattr NAME` and left out, the node kept
 * (restic prints a warning and goes on).
 */
export function addExtendedAttributes(node: TreeNode, fsPath: Uint8Array | string, report: (during: string, err: unknown) => void): boolean {
  if (node.type === 'symlink') return true;
  try {
    node.extendedAttributes = readExtendedAttributes(fsPath, (name, err) => report(`getxattr ${name}`, err));
  } catch (err) {
    if (typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
    report('listxattr', err);
    return false;
  }
  return true;
}
