/**
 * `backup [flags] FILE/DIR...` and `backup --stdin`: parses restic 0.14's flags, calls the
 * archiver, and prints restic's text summary, a live progress line on a terminal, or with
 * `--json` restic's `status` lines and final `summary` object (restic 0.14 field names).
 * Unreadable files are reported and skipped; the exit code is then 3, as restic's.
 */
import { readFile } from 'node:fs/promises';
import { MIB } from '../../pack/packer.js';
import { parseExcludeFile, parseSize } from '../../archiver/excludes.js';
import { globPaths } from '../../archiver/targets.js';
import { backup, backupStream, type BackupProgress, type BackupResult, type CommonBackupOptions } from '../../archiver/archiver.js';
import { ResticError } from '../../errors.js';
import { xattrSupport } from '../../platform/xattr.js';
import { prestartBlobWorkers } from '../../repository/blob-worker.js';
import { acquireLock } from '../../repository/lock.js';
import { GoTime } from '../../format/gotime.js';
import { shortId } from '../../format/id.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

function splitTags(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) for (const t of v.split(',')) if (t !== '') out.push(t);
  return out;
}

/** restic's --time layout "2006-01-02 15:04:05", in the local zone. */
export function parseBackupTime(text: string): GoTime {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) throw new ResticError('USAGE', `invalid --time ${JSON.stringify(text)}: want "2006-01-02 15:04:05"`);
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const local = new Date(y, mo - 1, d, h, mi, s);
  if (Number.isNaN(local.getTime())) throw new ResticError('USAGE', `invalid --time ${JSON.stringify(text)}`);
  return GoTime.fromDate(local);
}

async function readLines(file: string, what: string): Promise<string> {
  try {
    return await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
  } catch (err) {
    throw new ResticError('USAGE', `unable to read ${what} file ${file}: ${(err as Error).message}`, { file, cause: err });
  }
}

async function collectTargets(ctx: CommandContext): Promise<string[]> {
  const targets: string[] = [];
  for (const f of ctx.flags.strings('files-from')) {
    for (const raw of (await readLines(f, '--files-from')).split('\n')) {
      const line = raw.replace(/\r$/, '').trim();
      if (line === '' || line.startsWith('#')) continue;
      // restic expands each line with filepath.Glob and skips patterns that match nothing
      const expanded = await globPaths(line);
      if (expanded.length === 0) ctx.out.warn(`pattern ${JSON.stringify(line)} does not match any files, skipping`);
      targets.push(...expanded);
    }
  }
  for (const f of ctx.flags.strings('files-from-verbatim')) {
    for (const line of (await readLines(f, '--files-from-verbatim')).split('\n')) if (line !== '') targets.push(line);
  }
  for (const f of ctx.flags.strings('files-from-raw')) {
    for (const item of (await readLines(f, '--files-from-raw')).split('\0')) if (item !== '') targets.push(item);
  }
  targets.push(...ctx.positionals);
  return targets;
}

function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function percent(p: BackupProgress): number {
  return p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 0;
}

function statusJson(p: BackupProgress): string {
  const o: Record<string, unknown> = { message_type: 'status' };
  if (Math.floor(p.secondsElapsed) > 0) o.seconds_elapsed = Math.floor(p.secondsElapsed);
  const pct = percent(p);
  if (p.scanFinished && pct > 0 && pct < 1) {
    const remaining = Math.floor((p.secondsElapsed / pct) * (1 - pct));
    if (remaining > 0) o.seconds_remaining = remaining;
  }
  o.percent_done = pct;
  if (p.totalFiles) o.total_files = p.totalFiles;
  if (p.filesDone) o.files_done = p.filesDone;
  if (p.totalBytes) o.total_bytes = p.totalBytes;
  if (p.bytesDone) o.bytes_done = p.bytesDone;
  if (p.errors) o.error_count = p.errors;
  if (p.currentFiles.length > 0) o.current_files = p.currentFiles.slice(0, 4);
  return JSON.stringify(o);
}

function statusLine(p: BackupProgress): string {
  const pct = percent(p);
  let eta = '';
  if (p.scanFinished && pct > 0 && pct < 1) eta = ` ETA ${formatDuration((p.secondsElapsed / pct) * (1 - pct))}`;
  const rate = p.secondsElapsed > 0 ? `, ${formatBytes(p.bytesDone / p.secondsElapsed)}/s` : '';
  return `[${formatDuration(p.secondsElapsed)}] ${(pct * 100).toFixed(2)}%  ${p.filesDone} files ${formatBytes(p.bytesDone)}, total ${p.totalFiles} files ${formatBytes(p.totalBytes)}, ${p.errors} errors${rate}${eta}`;
}

function printSummary(ctx: CommandContext, result: BackupResult, dryRun: boolean): void {
  const s = result.summary;
  if (ctx.global.json) {
    const o: Record<string, unknown> = {
      message_type: 'summary',
      files_new: s.filesNew,
      files_changed: s.filesChanged,
      files_unmodified: s.filesUnmodified,
      dirs_new: s.dirsNew,
      dirs_changed: s.dirsChanged,
      dirs_unmodified: s.dirsUnmodified,
      data_blobs: s.dataBlobs,
      tree_blobs: s.treeBlobs,
      data_added: s.dataAdded,
      total_files_processed: s.totalFilesProcessed,
      total_bytes_processed: s.totalBytesProcessed,
      total_duration: s.totalDuration,
      snapshot_id: result.snapshotId ? shortId(result.snapshotId) : '',
    };
    if (dryRun) o.dry_run = true;
    ctx.out.jsonLine(JSON.stringify(o));
    return;
  }
  const pad = (n: number) => String(n).padStart(5);
  ctx.out.info('');
  ctx.out.info(`Files:       ${pad(s.filesNew)} new, ${pad(s.filesChanged)} changed, ${pad(s.filesUnmodified)} unmodified`);
  ctx.out.info(`Dirs:        ${pad(s.dirsNew)} new, ${pad(s.dirsChanged)} changed, ${pad(s.dirsUnmodified)} unmodified`);
  ctx.out.info(`${dryRun ? 'Would add' : 'Added'} to the repository: ${formatBytes(s.dataAdded)} (${formatBytes(s.dataAddedPacked)} stored)`);
  ctx.out.info('');
  ctx.out.info(`processed ${s.totalFilesProcessed} files, ${formatBytes(s.totalBytesProcessed)} in ${formatDuration(s.totalDuration)}`);
  if (!dryRun && result.snapshotId) ctx.out.info(`snapshot ${shortId(result.snapshotId)} saved`);
}

async function run(ctx: CommandContext): Promise<number | void> {
  const f = ctx.flags;
  const stdin = f.boolean('stdin');
  const targets = stdin ? [] : await collectTargets(ctx);
  if (stdin && ctx.positionals.length > 0) throw new ResticError('USAGE', '--stdin was specified and files/dirs were listed as arguments');
  if (!stdin && targets.length === 0) throw new ResticError('USAGE', 'nothing to backup, please specify target files/dirs');

  const excludes = [...f.strings('exclude')];
  for (const file of f.strings('exclude-file')) excludes.push(...parseExcludeFile(await readLines(file, '--exclude-file'), ctx.env));
  const iexcludes = [...f.strings('iexclude')];
  for (const file of f.strings('iexclude-file')) iexcludes.push(...parseExcludeFile(await readLines(file, '--iexclude-file'), ctx.env));
  const largerThan = f.string('exclude-larger-than');
  const time = f.string('time') ? parseBackupTime(f.string('time')!) : undefined;
  const dryRun = f.boolean('dry-run');
  const packSize = ctx.global.packSizeMiB !== undefined ? ctx.global.packSizeMiB * MIB : undefined;

  // The backup takes its own lock (not openRepository's) so that losing it — no refresh for
  // 22.5 minutes and the stale refresh failed — cancels the backup with LOCKED.
  // Worker threads load while the key is derived (scrypt: ~0.3 s, its lanes side by side).
  if (!dryRun) prestartBlobWorkers();
  const xattrs = xattrSupport();
  if (!xattrs.available) ctx.out.warn(`Warning: extended attributes will not be recorded: ${xattrs.reason ?? 'unsupported here'}`);
  const repo = await ctx.openRepository({ lock: 'none' });
  // Reading the index only reads, so it runs while the lock is taken (which waits 200 ms
  // between writing our lock and checking for others, as restic does).
  const indexLoaded = repo.loadIndex();
  indexLoaded.catch(() => undefined); // awaited below; not unhandled if the lock fails first
  let signal = ctx.signal;
  let lockTaken: Promise<void> | undefined;
  if (!dryRun && !ctx.global.noLock) {
    // The backup reads, chunks and encrypts while the lock is being taken (restic waits 200 ms
    // between writing its lock and checking for others); nothing is written to the repository
    // before the lock is held. A lock that cannot be taken, or is lost later, stops the backup
    // with its LOCKED error.
    const lockFailed = new AbortController();
    signal = AbortSignal.any([ctx.signal, lockFailed.signal]);
    lockTaken = acquireLock(repo, {
      exclusive: false,
      signal: ctx.signal,
      onRefreshError: (err) => ctx.out.warn(`Warning: failed to refresh the repository lock: ${(err as Error).message}`),
    }).then(
      (lock) => {
        ctx.onCleanup(() => lock.release());
        if (lock.lost.aborted) lockFailed.abort(lock.lost.reason);
        else lock.lost.addEventListener('abort', () => lockFailed.abort(lock.lost.reason), { once: true });
      },
      (err: unknown) => {
        lockFailed.abort(err);
        throw err;
      },
    );
    lockTaken.catch(() => undefined); // observed by the archiver and below
  }
  try {
    await indexLoaded;
    return await runBackup(ctx, repo, signal, lockTaken, { stdin, targets, excludes, iexcludes, largerThan, time, dryRun, packSize });
  } finally {
    // Never return while the lock is still being taken: its release must be registered first.
    await lockTaken?.catch(() => undefined);
  }
}

interface BackupPlan {
  stdin: boolean;
  targets: string[];
  excludes: string[];
  iexcludes: string[];
  largerThan: string | undefined;
  time: ReturnType<typeof parseBackupTime> | undefined;
  dryRun: boolean;
  packSize: number | undefined;
}

async function runBackup(ctx: CommandContext, repo: Awaited<ReturnType<CommandContext['openRepository']>>, signal: AbortSignal, lockTaken: Promise<void> | undefined, plan: BackupPlan): Promise<number | void> {
  const f = ctx.flags;
  const { stdin, targets, excludes, iexcludes, largerThan, time, dryRun, packSize } = plan;
  if (ctx.global.compression !== 'auto' && repo.config.version < 2) {
    throw new ResticError('USAGE', 'compression requires at least repository format version 2');
  }

  const progressLine = ctx.out.progress();
  const common: CommonBackupOptions = {
    repository: repo,
    tags: splitTags(f.strings('tag')),
    compression: ctx.global.compression,
    dryRun,
    signal,
    ...(lockTaken ? { writeGate: lockTaken } : {}),
    progressIntervalMs: ctx.global.json ? 1000 : 100,
    onItemError: (e) => {
      if (ctx.global.json) {
        // restic marshals Go's *PathError: Err is the errno number when there is one.
        const errno = (e.error as NodeJS.ErrnoException).errno;
        const err = typeof errno === 'number' ? Math.abs(errno) : e.error.message;
        ctx.out.stderr.write(JSON.stringify({ message_type: 'error', error: { Op: e.during, Path: e.item, Err: err }, during: 'archival', item: e.item }) + '\n');
      } else {
        progressLine.done();
        ctx.out.warn(`error: ${e.during} ${e.item}: ${e.error.message}`);
      }
    },
  };
  // Progress only when someone sees it (JSON status lines, or the live line on a terminal):
  // without a listener the archiver skips its counting pre-scan, a second walk of every
  // directory and lstat of every file (~10 % of the CPU of a many-small-files backup).
  const showProgress = ctx.global.json ? !ctx.global.quiet : !ctx.global.quiet && ctx.out.stderr.isTTY === true;
  if (showProgress) {
    common.onProgress = (p) => {
      if (ctx.global.json) ctx.out.jsonLine(statusJson(p));
      else progressLine.update(statusLine(p));
    };
  }
  if (packSize !== undefined) common.packSize = packSize;
  const host = f.string('host');
  if (host) common.hostname = host;
  if (time) common.time = time;

  let parent: string | undefined;
  const parentRef = f.string('parent');
  if (parentRef) parent = await repo.findSnapshotId(parentRef);

  let result: BackupResult;
  if (stdin) {
    result = await backupStream(process.stdin, { ...common, filename: f.string('stdin-filename') || 'stdin', ...(parent ? { parent } : {}) });
  } else {
    result = await backup({
      ...common,
      repository: repo,
      paths: targets,
      excludes,
      snapshotExcludes: f.strings('exclude'),
      iexcludes,
      excludeIfPresent: f.strings('exclude-if-present'),
      excludeCaches: f.boolean('exclude-caches'),
      ...(largerThan ? { excludeLargerThan: parseSize(largerThan) } : {}),
      oneFileSystem: f.boolean('one-file-system'),
      force: f.boolean('force'),
      ignoreInode: f.boolean('ignore-inode'),
      ignoreCtime: f.boolean('ignore-ctime'),
      ...(parent ? { parent } : {}),
    });
  }
  progressLine.done();
  if (!ctx.global.json) {
    if (result.parentId) ctx.out.info(`using parent snapshot ${shortId(result.parentId)}`);
    else if (!stdin) ctx.out.info('no parent snapshot found, will read all files');
  }
  printSummary(ctx, result, dryRun);
  if (result.errors.length > 0) {
    ctx.out.warn('Warning: at least one source file could not be read');
    return 3;
  }
}

export const backupCommand: Command = {
  name: 'backup',
  summary: 'Create a new backup of files and/or directories',
  usage: 'backup [flags] FILE/DIR [FILE/DIR] ...',
  flags: [
    { name: 'dry-run', short: 'n', kind: 'boolean', description: 'do not upload or write any data, just show what would be done' },
    { name: 'exclude', short: 'e', kind: 'strings', valueName: 'pattern', description: 'exclude a pattern (can be specified multiple times)' },
    { name: 'exclude-caches', kind: 'boolean', description: 'excludes cache directories that are marked with a CACHEDIR.TAG file' },
    { name: 'exclude-file', kind: 'strings', valueName: 'file', description: 'read exclude patterns from a file (can be specified multiple times)' },
    { name: 'exclude-if-present', kind: 'strings', valueName: 'filename[:header]', description: 'exclude contents of directories containing filename (except filename itself) if header of that file is as provided' },
    { name: 'exclude-larger-than', kind: 'string', valueName: 'size', description: 'max size of the files to be backed up (allowed suffixes: k/K, m/M, g/G, t/T)' },
    { name: 'files-from', kind: 'strings', valueName: 'file', description: 'read the files to backup from file (can be combined with file args; can be specified multiple times)' },
    { name: 'files-from-raw', kind: 'strings', valueName: 'file', description: 'read the files to backup from file, NUL-separated' },
    { name: 'files-from-verbatim', kind: 'strings', valueName: 'file', description: 'read the files to backup from file, one per line, taken literally' },
    { name: 'force', short: 'f', kind: 'boolean', description: 'force re-reading the target files/directories (overrides the "parent" flag)' },
    { name: 'host', short: 'H', kind: 'string', env: 'RESTIC_HOST', valueName: 'hostname', description: 'set the hostname for the snapshot manually' },
    { name: 'iexclude', kind: 'strings', valueName: 'pattern', description: 'same as --exclude pattern but ignores the casing of filenames' },
    { name: 'iexclude-file', kind: 'strings', valueName: 'file', description: 'same as --exclude-file but ignores casing of filenames in patterns' },
    { name: 'ignore-ctime', kind: 'boolean', description: 'ignore ctime changes when checking for modified files' },
    { name: 'ignore-inode', kind: 'boolean', description: 'ignore inode number changes when checking for modified files' },
    { name: 'one-file-system', short: 'x', kind: 'boolean', description: "exclude other file systems, don't cross filesystem boundaries and subvolumes" },
    { name: 'parent', kind: 'string', valueName: 'snapshot', description: 'use this parent snapshot (default: last snapshot in the repository that has the same target files/directories)' },
    { name: 'stdin', kind: 'boolean', description: 'read backup from stdin' },
    { name: 'stdin-filename', kind: 'string', valueName: 'filename', description: 'filename to use when reading from stdin (default "stdin")' },
    { name: 'tag', kind: 'strings', valueName: 'tags', description: 'add tags for the new snapshot in the format `tag[,tag,...]` (can be specified multiple times)' },
    { name: 'time', kind: 'string', valueName: 'time', description: "time of the backup (ex. '2012-11-01 22:08:41') (default: now)" },
  ],
  help: 'The "backup" command creates a new snapshot and saves the files and directories given as the arguments.',
  run,
};
