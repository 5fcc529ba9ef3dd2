/**
 * Local file system side of a restore, apart from file content: special files (symlinks,
 * fifos, devices), ownership, extended attributes, permissions (Go mode bits mapped back to
 * POSIX, setuid/setgid/sticky included) and timestamps to the nanosecond.
 *
 * Paths are Buffers so names with any bytes work. Node's utimes takes seconds as a double and
 * keeps microseconds only; timestamps with a sub-microsecond part are therefore set a second
 * time, exactly, at the end of a restore: all of them by one `perl` process calling
 * utimensat(2) per path (Linux x86-64 and arm64), else with coreutils `touch -h -d
 * @S.NNNNNNNNN` batched per distinct time (one or two processes per distinct time, which costs
 * ~5 ms each — most of a restore of many small files). Names travel NUL-separated on stdin,
 * so any bytes survive.
 */
import { spawn } from 'node:child_process';
import { chmodSync, lchownSync, lutimesSync, promises as fsp } from 'node:fs';
import { ResticError } from '../errors.js';
import type { GoTime } from '../format/gotime.js';
import { posixFromGoMode, type TreeNode } from '../format/node.js';
import { writeExtendedAttributes, type XattrError } from '../platform/xattr.js';

export const isRoot = (): boolean => typeof process.geteuid === 'function' && process.geteuid() === 0;

/** Linux dev_t → (major, minor), glibc's encoding. */
export function splitDevice(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major, minor };
}

class CommandFailed extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function run(cmd: string, args: string[], input?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new CommandFailed(`${cmd} ${args[0] === '-e' ? '(utimensat helper)' : args.join(' ')}: exit ${code}: ${stderr.trim()}`, code, stderr));
    });
    // a child that exits early (EPIPE) reports through 'close'
    child.stdin?.on('error', () => undefined);
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

const runningAsRoot = isRoot();

/**
 * Whether a failure to set an extended attribute is left unreported: as restic (≥ 0.16)
 * does, a process that is not root ignores permission errors (trusted.* and security.*
 * need privileges; restic 0.14 ignored every xattr failure, silently).
 */
const ignoreXattrError = (err: XattrError): boolean => !runningAsRoot && (err.code === 'EPERM' || err.code === 'EACCES');

/**
 * restic's RestoreMetadata: lchown (root only; a non-root EPERM is not an error), extended
 * attributes, chmod (not for symlinks), then timestamps. Returns the exact-time job when
 * nanoseconds remain. The calls are synchronous: each takes microseconds on a local file
 * system, while a round trip through libuv's thread pool costs 20-100 µs — most of the
 * metadata pass of a restore of many small files.
 *
 * Extended attributes (behaviour verified against restic 0.14): every attribute of
 * the node is set with lsetxattr, on any node type. restic 0.14 sets them last, after chmod,
 * so a read-only file or directory silently lost its user.* attributes when not restoring
 * as root; here they come before chmod (and after lchown, which clears security.capability).
 * An unsupported file system is ignored as by restic; other failures, after chmod and
 * timestamps are done, throw one error naming the path and the attributes.
 */
export function restoreMetadataSync(node: TreeNode, path: Buffer): ExactTime | undefined {
  if (runningAsRoot) lchownSync(path, node.uid, node.gid);
  let xattrFailure: unknown;
  if (node.extendedAttributes.length > 0) {
    try {
      writeExtendedAttributes(path, node.extendedAttributes, ignoreXattrError);
    } catch (err) {
      xattrFailure = err;
    }
  }
  if (node.type !== 'symlink') chmodSync(path, posixFromGoMode(node.mode) & 0o7777);
  const atime = node.atime;
  const mtime = node.mtime;
  lutimesSync(path, seconds(atime), seconds(mtime));
  if (xattrFailure !== undefined) throw new ResticError('IO', `cannot restore extended attributes: ${(xattrFailure as Error).message}`, { file: path.toString(), cause: xattrFailure });
  // before 1970 the double conversion rounds the wrong way: those go through the exact pass too
  const inexact = (t: GoTime): boolean => t.nanos % 1000 !== 0 || t.unixSeconds < 0;
  if (inexact(atime) || inexact(mtime)) return { path, atime, mtime };
  return undefined;
}

/** restoreMetadataSync behind a promise (the same calls). */
export async function restoreMetadata(node: TreeNode, path: Buffer): Promise<ExactTime | undefined> {
  return restoreMetadataSync(node, path);
}

/** `@[-]S.NNNNNNNNN` for touch -d: a negative value's fraction counts away from zero. */
export function touchTime(t: GoTime): string {
  const total = BigInt(t.unixSeconds) * 1_000_000_000n + BigInt(t.nanos);
  const abs = total < 0n ? -total : total;
  return `@${total < 0n ? '-' : ''}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, '0')}`;
}

/** utimensat(2)'s system call number where the one-process helper is used. */
const UTIMENSAT_SYSCALL: Partial<Record<string, number>> = { x64: 280, arm64: 88 };

/**
 * Perl reading `asec anano msec mnano path\0` records and calling utimensat(AT_FDCWD, path,
 * times, AT_SYMLINK_NOFOLLOW) for each: exact nanoseconds, symlinks themselves, a vanished
 * path ignored (like `touch -c`). Exit 1 after reporting failures, one per line.
 */
function utimensatScript(syscallNumber: number): string {
  return [
    'use Errno qw(ENOENT); $/ = "\\0"; my $bad = 0;',
    'while (my $rec = <STDIN>) { chomp $rec; my ($as, $an, $ms, $mn, $p) = split(/ /, $rec, 5);',
    'my $t = pack("q4", $as, $an, $ms, $mn);',
    `if (syscall(${syscallNumber}, -100, $p, $t, 0x100) != 0 && $! != ENOENT) { print STDERR "$p: $!\\n"; $bad = 1; } }`,
    'exit $bad;',
  ].join(' ');
}

/** One perl process for all jobs; false when that route is not available here (exported for tests). */
export async function applyExactTimesWithPerl(jobs: readonly ExactTime[]): Promise<boolean> {
  const nr = UTIMENSAT_SYSCALL[process.arch];
  if (nr === undefined || process.platform !== 'linux') return false;
  const parts: Buffer[] = [];
  for (const job of jobs) {
    parts.push(Buffer.from(`${job.atime.unixSeconds} ${job.atime.nanos} ${job.mtime.unixSeconds} ${job.mtime.nanos} `), job.path, Buffer.from([0]));
  }
  try {
    await run('perl', ['-e', utimensatScript(nr)], Buffer.concat(parts));
    return true;
  } catch (err) {
    // exit 1: the helper ran and some paths failed; anything else (no perl, no 64-bit pack) falls back
    if (err instanceof CommandFailed && err.exitCode === 1) throw new Error(`setting exact timestamps failed: ${err.stderr.trim()}`);
    return false;
  }
}

/**
 * Sets the pending exact timestamps: one perl process calling utimensat per path where
 * possible, else one `xargs -0 touch` per distinct (atime, mtime).
 */
export async function applyExactTimes(jobs: readonly ExactTime[]): Promise<void> {
  if (jobs.length === 0) return;
  if (await applyExactTimesWithPerl(jobs)) return;
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
