/**
 * A restored directory tree as comparable data: every entry's type, mode, owner, size, times
 * (ns), symlink target, device number, content hash and hard-link group. Restore tests compare
 * what restic-ts restored with what the real `restic restore` produced from the same snapshot.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { expect } from 'vitest';

export interface EntryInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  mtimeNs: bigint;
  atimeNs?: bigint;
  link?: string;
  rdev?: bigint;
  sha256?: string;
  /** For files with several links: the first path (sorted) sharing the inode. */
  linkGroup?: string;
}

const SLASH = Buffer.from('/');

/**
 * Every entry below `root` (path as hex of its bytes → metadata; names may be any bytes). All
 * entries are lstat'ed before any file is read: reading a file moves its atime (and that of its
 * other links).
 */
export function describeTree(root: string): Map<string, EntryInfo> {
  const out = new Map<string, EntryInfo>();
  const inodes = new Map<bigint, string>();
  const files: [Buffer, EntryInfo][] = [];
  const walk = (dir: Buffer, rel: Buffer): void => {
    const names = (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
    for (const name of names) {
      const p = Buffer.concat([dir, SLASH, name]);
      const r = Buffer.concat([rel, SLASH, name]);
      const st = lstatSync(p, { bigint: true });
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chardev' : st.isBlockDevice() ? 'blockdev' : 'other';
      const info: EntryInfo = {
        type,
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        size: type === 'dir' ? 0n : st.size,
        mtimeNs: st.mtimeNs,
      };
      if (type !== 'dir') info.atimeNs = st.atimeNs;
      if (type === 'chardev' || type === 'blockdev') info.rdev = st.rdev;
      if (type === 'symlink') info.link = (readlinkSync(p, { encoding: 'buffer' }) as Buffer).toString('hex');
      if (type === 'file') {
        if (st.nlink > 1n) {
          const key = r.toString('hex');
          const first = inodes.get(st.ino);
          if (first === undefined) inodes.set(st.ino, key);
          info.linkGroup = first ?? key;
        }
        files.push([p, info]);
      }
      out.set(r.toString('hex'), info);
      if (type === 'dir') walk(p, r);
    }
  };
  walk(Buffer.from(root), Buffer.alloc(0));
  const buf = Buffer.alloc(1 << 20);
  for (const [p, info] of files) {
    const fd = openSync(p, 'r');
    const h = createHash('sha256');
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    closeSync(fd);
    info.sha256 = h.digest('hex');
  }
  return out;
}

/** Both trees equal entry for entry; failures show the paths as text. */
export function expectSameTree(actualRoot: string, expectedRoot: string): void {
  const shown = (m: Map<string, EntryInfo>) => new Map([...m].map(([k, v]) => [Buffer.from(k, 'hex').toString('utf8'), v]));
  expect(shown(describeTree(actualRoot))).toEqual(shown(describeTree(expectedRoot)));
}
