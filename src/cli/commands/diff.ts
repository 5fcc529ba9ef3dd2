/**
 * `diff [--metadata] SNAPSHOT SNAPSHOT`: restic 0.14's output — `comparing snapshot A to B:`,
 * one `%-5s%s` line per change, the statistics block; with `--json` one `change` object per
 * line and a final `statistics` object, the same shapes as restic 0.14.
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import { diffTrees, type DiffStat } from '../../maintenance/diff.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

const statJson = (s: DiffStat): string =>
  `{"files":${s.files},"dirs":${s.dirs},"others":${s.others},"data_blobs":${s.dataBlobs},"tree_blobs":${s.treeBlobs},"bytes":${s.bytes}}`;

const pad5 = (n: number): string => String(n).padStart(5);

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length !== 2) throw new ResticError('USAGE', 'specify two snapshot IDs');
  const { out } = ctx;
  const json = ctx.global.json;
  const repo = await ctx.openRepository({ lock: 'shared' });
  const [arg1, arg2] = ctx.positionals;
  // restic 0.14's diff takes snapshot IDs (or prefixes) only, not `latest`
  const sn1 = await repo.loadSnapshot(await repo.findSnapshotId(arg1));
  const sn2 = await repo.loadSnapshot(await repo.findSnapshotId(arg2));
  if (!json) {
    out.info(`comparing snapshot ${shortId(sn1.id)} to ${shortId(sn2.id)}:`);
    out.info('');
  }
  await repo.loadIndex();
  const quiet = ctx.global.quiet;
  const stats = await diffTrees(repo, sn1.snapshot.tree, sn2.snapshot.tree, {
    metadata: ctx.flags.boolean('metadata'),
    onChange: (c) => {
      if (quiet) return;
      if (json) out.jsonLine(`{"message_type":"change","path":${JSON.stringify(c.path)},"modifier":${JSON.stringify(c.modifier)}}`);
      else out.print(`${c.modifier.padEnd(5)}${c.path}`);
    },
    onError: (err) => out.warn(`error: ${err.message}`),
  });
  if (json) {
    out.jsonLine(
      `{"message_type":"statistics","source_snapshot":${JSON.stringify(arg1)},"target_snapshot":${JSON.stringify(arg2)},` +
        `"changed_files":${stats.changedFiles},"added":${statJson(stats.added)},"removed":${statJson(stats.removed)}}`,
    );
    return;
  }
  out.print('');
  out.print(`Files:       ${pad5(stats.added.files)} new, ${pad5(stats.removed.files)} removed, ${pad5(stats.changedFiles)} changed`);
  out.print(`Dirs:        ${pad5(stats.added.dirs)} new, ${pad5(stats.removed.dirs)} removed`);
  out.print(`Others:      ${pad5(stats.added.others)} new, ${pad5(stats.removed.others)} removed`);
  out.print(`Data Blobs:  ${pad5(stats.added.dataBlobs)} new, ${pad5(stats.removed.dataBlobs)} removed`);
  out.print(`Tree Blobs:  ${pad5(stats.added.treeBlobs)} new, ${pad5(stats.removed.treeBlobs)} removed`);
  out.print(`  Added:   ${formatBytes(stats.added.bytes).padEnd(5)}`);
  out.print(`  Removed: ${formatBytes(stats.removed.bytes).padEnd(5)}`);
}

export const diffCommand: Command = {
  name: 'diff',
  summary: 'Show differences between two snapshots',
  usage: 'diff [flags] snapshot-ID snapshot-ID',
  flags: [{ name: 'metadata', kind: 'boolean', description: 'print changes in metadata' }],
  help: 'The "diff" command shows differences from the first to the second snapshot.',
  run,
};
