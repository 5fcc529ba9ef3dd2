/**
 * `key list`: the key files with user, host and creation time; `*` marks the key that opened
 * the repository. Table and `--json` as restic 0.14 prints them. (`key add|remove|passwd`
 * are the write side's.)
 */
import { relativePath } from '../../backend/backend.js';
import { ResticError } from '../../errors.js';
import { GoTime } from '../../format/gotime.js';
import { shortId } from '../../format/id.js';
import { parseKeyFile } from '../../format/key-file.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime, renderTable } from '../output.js';

interface KeyInfo {
  current: boolean;
  id: string;
  userName: string;
  hostName: string;
  created: string;
}

async function listKeys(ctx: CommandContext): Promise<void> {
  const repo = await ctx.openRepository({ lock: 'shared' });
  const keys: KeyInfo[] = [];
  for (const id of await repo.listIds('key')) {
    let created = '';
    let info: KeyInfo;
    try {
      const keyFile = parseKeyFile(await repo.loadRaw('key', id), relativePath('key', id));
      try {
        created = formatLocalTime(GoTime.parse(keyFile.created));
      } catch {
        created = keyFile.created;
      }
      info = { current: id === repo.keyId, id: shortId(id), userName: keyFile.username, hostName: keyFile.hostname, created };
    } catch (err) {
      // restic warns and goes on with the other keys
      ctx.out.warn(`LoadKey() failed: ${(err as Error).message}`);
      continue;
    }
    keys.push(info);
  }
  if (ctx.global.json) {
    ctx.out.jsonLine(JSON.stringify(keys));
    return;
  }
  ctx.out.stdout.write(
    renderTable<KeyInfo>(
      [
        { header: ' ID', cell: (k) => (k.current ? '*' : ' ') + k.id },
        { header: 'User', cell: (k) => k.userName },
        { header: 'Host', cell: (k) => k.hostName },
        { header: 'Created', cell: (k) => k.created },
      ],
      keys,
    ),
  );
}

export const keyCommand: Command = {
  name: 'key',
  summary: 'Manage keys (passwords)',
  usage: 'key [flags] [list|add|remove|passwd] [ID]',
  flags: [],
  async run(ctx) {
    const sub = ctx.positionals[0];
    if (sub === 'list') {
      if (ctx.positionals.length !== 1) throw new ResticError('USAGE', 'key list takes no arguments');
      await listKeys(ctx);
      return;
    }
    if (sub === 'add' || sub === 'remove' || sub === 'passwd') {
      throw new ResticError('UNSUPPORTED', `key ${sub} is not implemented yet in restic-ts`);
    }
    throw new ResticError('USAGE', 'key: want one of list, add, remove, passwd');
  },
};
