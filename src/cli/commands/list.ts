/**
 * `list blobs|packs|index|snapshots|keys|locks`: file IDs of one type, one per line, as
 * restic prints them; `blobs` prints `<type> <id>` for every index entry, index file by
 * index file.
 */
import { ResticError } from '../../errors.js';
import type { FileType } from '../../backend/backend.js';
import { parseIndexFile } from '../../index/index-file.js';
import type { Command } from '../command.js';

const TYPES: Record<string, Exclude<FileType, 'config'>> = {
  packs: 'pack',
  index: 'index',
  snapshots: 'snapshot',
  keys: 'key',
  locks: 'lock',
};

export const listCommand: Command = {
  name: 'list',
  summary: 'List objects in the repository',
  usage: 'list [flags] [blobs|packs|index|snapshots|keys|locks]',
  flags: [],
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new ResticError('USAGE', 'type not specified, usage: list [flags] [blobs|packs|index|snapshots|keys|locks]');
    }
    const what = ctx.positionals[0];
    if (what !== 'blobs' && TYPES[what] === undefined) throw new ResticError('USAGE', 'invalid type');
    const repo = await ctx.openRepository({ lock: what === 'locks' ? 'none' : 'shared' });
    if (what === 'blobs') {
      for (const fileId of await repo.listIds('index')) {
        const content = parseIndexFile(await repo.loadUnpacked('index', fileId), fileId);
        const lines: string[] = [];
        for (const pack of content.packs) for (const blob of pack.blobs) lines.push(`${blob.type} ${blob.id}\n`);
        if (lines.length > 0) ctx.out.stdout.write(lines.join(''));
      }
      return;
    }
    const lines: string[] = [];
    for await (const info of repo.list(TYPES[what])) lines.push(info.name + '\n');
    if (lines.length > 0) ctx.out.stdout.write(lines.join(''));
  },
};
