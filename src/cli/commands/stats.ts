/**
 * `stats [--mode restore-size|files-by-contents|blobs-per-file|raw-data] [SNAPSHOT...]`:
 * restic 0.14's counts, as text ("Stats in … mode:") or one JSON line.
 */
import { ResticError } from '../../errors.js';
import { computeStats, STATS_MODES, type StatsMode } from '../../restorer/stats.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';
import { SNAPSHOT_FILTER_FLAGS, selectSnapshots } from './snapshots.js';

async function run(ctx: CommandContext): Promise<void> {
  // Versioned S3 bucket (issue 5): current vs non-current bytes from the version listing.
  if (ctx.flags.boolean('versions')) return (await import('./s3.js')).statsVersions(ctx);
  const mode = (ctx.flags.string('mode') ?? 'restore-size') as StatsMode;
  if (!STATS_MODES.includes(mode)) {
    throw new ResticError('USAGE', `unknown counting mode: ${mode} (use the -h flag to get a list of supported modes)`);
  }
  const repo = await ctx.openRepository({ lock: 'shared' });
  await repo.loadIndex();
  if (!ctx.global.json) ctx.out.print('scanning...');
  const snapshots = await selectSnapshots(ctx, ctx.positionals);
  const stats = await computeStats(repo, snapshots, { mode });
  if (ctx.global.json) {
    const blobs = stats.totalBlobCount !== 0 ? `,"total_blob_count":${stats.totalBlobCount}` : '';
    ctx.out.jsonLine(`{"total_size":${stats.totalSize},"total_file_count":${stats.totalFileCount}${blobs},"snapshots_count":${stats.snapshotsCount}}`);
    return;
  }
  ctx.out.print(`Stats in ${mode} mode:`);
  ctx.out.print(`Snapshots processed:   ${stats.snapshotsCount}`);
  if (stats.totalBlobCount > 0) ctx.out.print(`   Total Blob Count:   ${stats.totalBlobCount}`);
  if (stats.totalFileCount > 0) ctx.out.print(`   Total File Count:   ${stats.totalFileCount}`);
  ctx.out.print(`         Total Size:   ${formatBytes(stats.totalSize).padEnd(5)}`);
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Scan the repository and show basic statistics',
  usage: 'stats [flags] [snapshot ID] [...]',
  flags: [
    { name: 'mode', kind: 'string', valueName: 'mode', description: 'counting mode: restore-size (default), files-by-contents, blobs-per-file or raw-data' },
    { name: 'versions', kind: 'boolean', description: 'S3 with versioning: current vs non-current bytes and delete markers per file type (no password needed)' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  run,
};
