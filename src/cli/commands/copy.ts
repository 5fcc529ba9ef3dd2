/**
 * `copy --from-repo R [--from-password-file F | --from-password-command C] [--from-key-hint K]
 * [--host/--tag/--path] [ID…]`: copies snapshots from R into the repository given with -r
 * (maintenance/copy.ts). Both repositories get a shared lock, as in restic 0.14. Output as
 * restic 0.14 (`snapshot X of [paths] at TIME)`, `copy started…`, `snapshot Y saved`), plus a
 * final `rechunked N files` line when the chunker polynomials differ.
 */
import { openBackend } from '../../backend/open.js';
import { ResticError, isResticError } from '../../errors.js';
import type { GoTime } from '../../format/gotime.js';
import { shortId } from '../../format/id.js';
import { matchesFilter } from '../../format/snapshot-filter.js';
import { copySnapshots } from '../../maintenance/copy.js';
import { acquireLock, lockStoreFor } from '../../repository/lock.js';
import { Repository, type SnapshotEntry } from '../../repository/repository.js';
import type { Command, CommandContext } from '../command.js';
import { backendOptionsFrom } from '../global-options.js';
import { resolvePassword } from '../password.js';
import { SNAPSHOT_FILTER_FLAGS, snapshotFilterFromFlags } from './snapshots.js';

/** Go's time.Time.String() for the process's zone (zone name: UTC, else the numeric offset). */
export function goTimeString(t: GoTime): string {
  const offset = -new Date(t.unixSeconds * 1000).getTimezoneOffset() * 60;
  const w = t.withOffset(offset).wall();
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  let frac = '';
  if (w.nanosecond !== 0) frac = '.' + String(w.nanosecond).padStart(9, '0').replace(/0+$/, '');
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const num = `${sign}${p(Math.floor(abs / 3600))}${p(Math.floor((abs % 3600) / 60))}`;
  const zone = offset === 0 ? 'UTC' : num;
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}:${p(w.second)}${frac} ${num} ${zone}`;
}

async function openSource(ctx: CommandContext): Promise<Repository> {
  let from = ctx.flags.string('from-repo') ?? ctx.env.RESTIC_FROM_REPOSITORY;
  const fromFile = ctx.flags.string('from-repository-file') ?? ctx.env.RESTIC_FROM_REPOSITORY_FILE;
  if ((from === undefined || from === '') && fromFile) {
    const { readFile } = await import('node:fs/promises');
    from = (await readFile(fromFile, 'utf8')).trim();
  }
  if (from === undefined || from === '') throw new ResticError('USAGE', 'Please specify a source repository location (--from-repo or --from-repository-file)');
  const password = await resolvePassword({
    passwordFile: ctx.flags.string('from-password-file') ?? ctx.env.RESTIC_FROM_PASSWORD_FILE,
    passwordCommand: ctx.flags.string('from-password-command') ?? ctx.env.RESTIC_FROM_PASSWORD_COMMAND,
    env: { RESTIC_PASSWORD: ctx.env.RESTIC_FROM_PASSWORD },
  });
  const backend = await openBackend(from, backendOptionsFrom(ctx.global, ctx.env));
  ctx.onCleanup(() => backend.close());
  const keyHint = ctx.flags.string('from-key-hint') ?? ctx.env.RESTIC_FROM_KEY_HINT;
  return Repository.open({ backend, password, compression: ctx.global.compression, ...(keyHint ? { keyHint } : {}) });
}

async function selectSource(ctx: CommandContext, src: Repository): Promise<SnapshotEntry[]> {
  const filter = snapshotFilterFromFlags(ctx.flags);
  if (ctx.positionals.length === 0) return (await src.listSnapshots()).filter((e) => matchesFilter(e.snapshot, filter));
  const out: SnapshotEntry[] = [];
  const seen = new Set<string>();
  for (const arg of ctx.positionals) {
    try {
      const found = arg === 'latest' ? await src.findLatestSnapshot(filter) : await src.loadSnapshot(await src.findSnapshotId(arg));
      if (!seen.has(found.id)) out.push(found);
      seen.add(found.id);
    } catch (err) {
      if (!isResticError(err) || (err.code !== 'SNAPSHOT_NOT_FOUND' && err.code !== 'SNAPSHOT_AMBIGUOUS')) throw err;
      ctx.out.warn(`Ignoring ${JSON.stringify(arg)}: ${err.message}`);
    }
  }
  return out;
}

async function run(ctx: CommandContext): Promise<void> {
  const { out } = ctx;
  const src = await openSource(ctx);
  const dst = await ctx.openRepository({ lock: 'shared' });
  if (!ctx.global.noLock) {
    const lock = await acquireLock(lockStoreFor(src), { exclusive: false, signal: ctx.signal });
    ctx.onCleanup(() => lock.release());
  }
  const snapshots = await selectSource(ctx, src);
  const result = await copySnapshots(src, dst, snapshots, {
    onEvent: (e) => {
      switch (e.kind) {
        case 'snapshot':
          out.info('');
          out.info(`snapshot ${shortId(e.id)} of [${(e.snapshot.paths ?? []).join(' ')}] at ${goTimeString(e.snapshot.time)})`);
          break;
        case 'skipped':
          out.info(`skipping source snapshot ${shortId(e.id)}, was already copied to snapshot ${shortId(e.existing)}`);
          break;
        case 'copy-started':
          out.info('  copy started, this may take a while...');
          break;
        case 'saved':
          out.info(`snapshot ${shortId(e.newId)} saved`);
          break;
      }
    },
  });
  if (result.polynomialsDiffer && result.copied.length > 0) {
    // restic would copy the blobs as they are; we cut them for the destination's polynomial
    out.info('');
    out.info(`the chunker polynomials of the two repositories differ: rechunked ${result.rechunkedFiles} files for the destination`);
  }
}

export const copyCommand: Command = {
  name: 'copy',
  summary: 'Copy snapshots from one repository to another',
  usage: 'copy [flags] [snapshotID ...]',
  flags: [
    { name: 'from-key-hint', kind: 'string', valueName: 'string', description: 'key ID of key to try decrypting the source repository first (default: $RESTIC_FROM_KEY_HINT)' },
    { name: 'from-password-command', kind: 'string', valueName: 'command', description: 'shell command to obtain the source repository password from (default: $RESTIC_FROM_PASSWORD_COMMAND)' },
    { name: 'from-password-file', kind: 'string', valueName: 'file', description: 'file to read the source repository password from (default: $RESTIC_FROM_PASSWORD_FILE)' },
    { name: 'from-repo', kind: 'string', valueName: 'repository', description: 'source repository to copy snapshots from (default: $RESTIC_FROM_REPOSITORY)' },
    { name: 'from-repository-file', kind: 'string', valueName: 'file', description: 'file from which to read the source repository location to copy snapshots from (default: $RESTIC_FROM_REPOSITORY_FILE)' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  help: 'The "copy" command copies one or more snapshots from one repository to another.',
  run,
};
