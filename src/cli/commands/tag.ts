/**
 * `tag [--add tags] [--remove tags] [--set tags] [--host/--tag/--path filters] [ID…]`:
 * restic 0.14's tag command (exclusive lock; "modified tags on N snapshots").
 */
import { ResticError } from '../../errors.js';
import { parseTagListFlags } from '../../format/snapshot-filter.js';
import { tagSnapshots } from '../../maintenance/tag.js';
import type { Command, CommandContext } from '../command.js';
import { SNAPSHOT_FILTER_FLAGS } from './snapshots.js';
import { selectSnapshots } from './snapshots.js';

/** restic's TagList flags flattened: commas split, spaces trimmed, empty tags dropped. */
const flatTags = (values: readonly string[]): string[] => parseTagListFlags(values).flat().filter((t) => t !== '');

async function run(ctx: CommandContext): Promise<void> {
  // restic decides "nothing to do" / "cannot be combined" on how often each flag was given
  const given = (name: string): number => ctx.flags.strings(name).length;
  if (given('set') === 0 && given('add') === 0 && given('remove') === 0) throw new ResticError('USAGE', 'nothing to do!');
  if (given('set') > 0 && (given('add') > 0 || given('remove') > 0)) {
    throw new ResticError('USAGE', '--set and --add/--remove cannot be given at the same time');
  }
  const add = flatTags(ctx.flags.strings('add'));
  const remove = flatTags(ctx.flags.strings('remove'));
  const set = flatTags(ctx.flags.strings('set'));
  if (!ctx.global.noLock) ctx.out.info('create exclusive lock for repository');
  const repo = await ctx.openRepository({ lock: 'exclusive' });
  const snapshots = await selectSnapshots(ctx, ctx.positionals);
  const result = await tagSnapshots(repo, snapshots, { add, remove, set }, { allowNoop: true });
  if (result.modified.length === 0) ctx.out.info('no snapshots were modified');
  else ctx.out.info(`modified tags on ${result.modified.length} snapshots`);
}

export const tagCommand: Command = {
  name: 'tag',
  summary: 'Modify tags on snapshots',
  usage: 'tag [flags] [snapshot-ID ...]',
  flags: [
    { name: 'add', kind: 'strings', valueName: 'tags', description: 'tags which will be added to the existing tags in the format `tag[,tag,...]` (can be given multiple times)' },
    { name: 'remove', kind: 'strings', valueName: 'tags', description: 'tags which will be removed from the existing tags in the format `tag[,tag,...]` (can be given multiple times)' },
    { name: 'set', kind: 'strings', valueName: 'tags', description: 'tags which will replace the existing tags in the format `tag[,tag,...]` (can be given multiple times)' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  help: 'The "tag" command allows you to modify tags on exiting snapshots.',
  run,
};
