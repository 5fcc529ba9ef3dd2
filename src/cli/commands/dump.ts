/**
 * `dump [--archive tar] SNAPSHOT[:SUBDIR] PATH`: a file's bytes to stdout, or a directory
 * (`/` for everything) as a tar archive with restic 0.14's entries and headers.
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import { dumpFile, dumpTreeAsTar, resolveDumpTarget } from '../../restorer/dump.js';
import type { Command, CommandContext } from '../command.js';
import { SNAPSHOT_FILTER_FLAGS, latestFilter, snapshotFilterFromFlags } from './snapshots.js';

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length !== 2) throw new ResticError('USAGE', 'no file and no snapshot ID specified');
  const archive = ctx.flags.string('archive') ?? 'tar';
  if (archive !== 'tar') {
    throw new ResticError(archive === 'zip' ? 'UNSUPPORTED' : 'USAGE', archive === 'zip' ? 'the zip archive format is not supported yet; use --archive tar' : `unknown archive format ${JSON.stringify(archive)}`);
  }
  const [ref, path] = ctx.positionals;
  const repo = await ctx.openRepository({ lock: 'shared' });
  const found = await repo.findSnapshot(ref, latestFilter(snapshotFilterFromFlags(ctx.flags), ctx.cwd));
  await repo.loadIndex();
  const target = await resolveDumpTarget(repo, found.tree, path, ` in snapshot ${shortId(found.id)}`);
  const write = (chunk: Uint8Array): void => ctx.out.raw(chunk);
  if (target.kind === 'file') {
    await dumpFile(repo, target.node, write);
    return;
  }
  if (ctx.out.stdout.isTTY) throw new ResticError('USAGE', 'stdout is the terminal, please redirect output');
  await dumpTreeAsTar(repo, target.tree, target.path, write);
}

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'Print a backed-up file to stdout',
  usage: 'dump [flags] snapshotID[:subfolder] file',
  flags: [{ name: 'archive', short: 'a', kind: 'string', valueName: 'format', description: 'set archive format as "tar"' }, ...SNAPSHOT_FILTER_FLAGS],
  run,
};
