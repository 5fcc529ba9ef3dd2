/**
 * Local file system side of a restore, apart from file content: special files (symlinks,
 * fifos, devices), ownership, permissions (Go mode bits mapped back to POSIX, setuid/setgid/
 * sticky included) and timestamps to the nanosecond.
 *
 * Paths are Buffers so names with any bytes work. Node's utimes takes seconds as a double and
 * keeps microseconds only; timestamps with a sub-microsecond part are therefore set a second
 * time, exactly, with coreutils `touch -h -d @S.NNNNNNNNN` (batched per distinct time, the
 * names passed NUL-separated on stdin through `xargs -0`, so any bytes survive).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { ResticError } from '../errors.js';
import type { GoTime } from '../format/gotime.js';
import { posixFromGoMode, type TreeNode } from '../format/node.js';

export const isRoot = (): boolean => typeof process.geteuid === 'function' && process.geteuid() === 0;

/** Linux dev_t → (major, minor), glibc's encoding. */
export function splitDevice(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major, minor };
}

function run(cmd: string, args: string[], input?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`));
    });
    if (input) child.stdin!.end(input);
  });
}

let tempCounter = 0;

/**
 * Creates a fifo or device node at `path`. There is no Node API for mknod, so the coreutils
 * tool creates it under an ASCII temporary name next to `scratchDir`, then it is renamed.
 */
export async function createSpecial(node: TreeNode, path: Buffer, scratchDir: string): Promise<void> {
  const temp = `${scratchDir}/.restic-ts-special-${process.pid}-${tempCounter++}`;
  const mode = (posixFromGoMode(node.mode) & 0o777).toString(8);
  if (node.type === 'fifo') {
    await run('mkfifo', ['-m', mode, temp]);
  } else if (node.type === 'dev' || node.type === 'chardev') {
    const { major, minor } = splitDevice(node.device);
    await run('mknod', ['-m', mode, temp, node.type === 'dev' ? 'b' : 'c', String(major), String(minor)]);
  } else {
    throw new ResticError('UNSUPPORTED', `cannot restore node type ${node.type}`);
  }
  try {
    await fsp.rename(temp, path);
  } catch (err) {
    await fsp.rm(temp, { force: true });
    throw err;
  }
}

export async function createSymlink(node: TreeNode, path: Buffer): Promise<void> {
  await fsp.symlink(Buffer.from(node.linkTarget), path);
}

function seconds(t: GoTime): number {
  // libuv truncates to microseconds, and a double near 1.7e9 is only ~0.24 µs precise: aim at
  // the middle of the wanted microsecond so truncation lands on it. The exact pass below sets
  // what lies beyond microseconds.
  return t.unixSeconds + (Math.floor(t.nanos / 1000) + 0.5) / 1e6;
}

/** A pending exact (nanosecond) timestamp, set in one batch at the end of a restore. */
export interface ExactTime {
  path: Buffer;
  atime: GoTime;
  mtime: GoTime;
}

/**
 * restic's RestoreMetadata: lchown (root only; a non-root EPERM is not an error), chmod
 * (not for symlinks), then timestamps. Returns the exact-time job when nanoseconds remain.
 */
export async function restoreMetadata(node: TreeNode, path: Buffer): Promise<ExactTime | undefined> {
  if (isRoot()) await fsp.lchown(path, node.uid, node.gid);
  if (node.type !== 'symlink') await fsp.chmod(path, posixFromGoMode(node.mode) & 0o7777);
  const atime = node.atime;
  const mtime = node.mtime;
  await fsp.lutimes(path, seconds(atime), seconds(mtime));
  // before 1970 the double conversion rounds the wrong way: those go through the exact pass too
  const inexact = (t: GoTime): boolean => t.nanos % 1000 !== 0 || t.unixSeconds < 0;
  if (inexact(atime) || inexact(mtime)) return { path, atime, mtime };
  return undefined;
}

/** `@[-]S.NNNNNNNNN` for touch -d: a negative value's fraction counts away from zero. */
export function touchTime(t: GoTime): string {
  const total = BigInt(t.unixSeconds) * 1_000_000_000n + BigInt(t.nanos);
  const abs = total < 0n ? -total : total;
  return `@${total < 0n ? '-' : ''}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, '0')}`;
}

/** Sets the pending exact timestamps: one `xargs -0 touch` per distinct (atime, mtime). */
export async function applyExactTimes(jobs: readonly ExactTime[]): Promise<void> {
  const groups = new Map<string, { atime: GoTime; mtime: GoTime; paths: Buffer[] }>();
  for (const job of jobs) {
    const key = `${touchTime(job.atime)} ${touchTime(job.mtime)}`;
    let g = groups.get(key);
    if (!g) {
      g = { atime: job.atime, mtime: job.mtime, paths: [] };
      groups.set(key, g);
    }
    g.paths.push(job.path);
  }
  for (const g of groups.values()) {
    const input = Buffer.concat(g.paths.flatMap((p) => [p, Buffer.from([0])]));
    const same = g.atime.unixSeconds === g.mtime.unixSeconds && g.atime.nanos === g.mtime.nanos;
    if (same) {
      await run('xargs', ['-0', 'touch', '-h', '-c', '-d', touchTime(g.mtime), '--'], input);
    } else {
      await run('xargs', ['-0', 'touch', '-h', '-c', '-a', '-d', touchTime(g.atime), '--'], input);
      await run('xargs', ['-0', 'touch', '-h', '-c', '-m', '-d', touchTime(g.mtime), '--'], input);
    }
  }
}
