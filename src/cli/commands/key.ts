/**
 * `key list`: the key files with user, host and creation time; `*` marks the key that opened
 * the repository. Table and `--json` as restic 0.14 prints them.
 * `key add|remove|passwd` (`--new-password-file`, `--user`, `--host`): see maintenance/keys.ts.
 * `add` takes a shared lock, `remove` and `passwd` an exclusive one (restic 0.14).
 */
import { relativePath } from '../../backend/backend.js';
import { ResticError } from '../../errors.js';
import { GoTime } from '../../format/gotime.js';
import { shortId } from '../../format/id.js';
import { parseKeyFile } from '../../format/key-file.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime, renderTable } from '../output.js';
import { addKey, changePassword, findKeyId, removeKey, type AddKeyOptions, type AddedKey } from '../../maintenance/keys.js';
import { resolvePassword } from '../password.js';
import { goTimeString } from './copy.js';

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

/** The new password: `--new-password-file` (restic has a prompt too; we need the file). */
async function newPassword(ctx: CommandContext): Promise<string> {
  const file = ctx.flags.string('new-password-file');
  if (file === undefined) throw new ResticError('USAGE', 'no new password given: use --new-password-file');
  return resolvePassword({ passwordFile: file, env: {} });
}

function newKeyOptions(ctx: CommandContext): AddKeyOptions {
  const options: AddKeyOptions = {};
  const user = ctx.flags.string('user');
  const host = ctx.flags.string('host');
  if (user) options.username = user;
  if (host) options.hostname = host;
  return options;
}

/** restic's `saved new key as <Key of user@host, created on TIME>` (Go's time.String, without the monotonic part). */
function savedMessage(added: AddedKey): string {
  let created = added.keyFile.created;
  try {
    created = goTimeString(GoTime.parse(created));
  } catch {
    // keep the stored text
  }
  return `saved new key as <Key of ${added.keyFile.username}@${added.keyFile.hostname}, created on ${created}>`;
}

async function runKeyChange(ctx: CommandContext, sub: 'add' | 'remove' | 'passwd'): Promise<void> {
  if (sub === 'remove') {
    if (ctx.positionals.length !== 2) throw new ResticError('USAGE', 'key remove needs one key ID');
    const repo = await ctx.openRepository({ lock: 'exclusive' });
    const id = await findKeyId(repo, ctx.positionals[1]);
    await removeKey(repo, id);
    ctx.out.info(`removed key ${id}`);
    return;
  }
  if (ctx.positionals.length !== 1) throw new ResticError('USAGE', `key ${sub} takes no arguments`);
  const password = await newPassword(ctx);
  const repo = await ctx.openRepository({ lock: sub === 'add' ? 'shared' : 'exclusive' });
  const added = sub === 'add' ? await addKey(repo, password, newKeyOptions(ctx)) : await changePassword(repo, password, newKeyOptions(ctx));
  ctx.out.info(savedMessage(added));
}

export const keyCommand: Command = {
  name: 'key',
  summary: 'Manage keys (passwords)',
  usage: 'key [flags] [list|add|remove|passwd] [ID]',
  flags: [
    { name: 'host', kind: 'string', valueName: 'string', description: 'the hostname for new keys' },
    { name: 'new-password-file', kind: 'string', valueName: 'file', description: 'file from which to read the new password' },
    { name: 'user', kind: 'string', valueName: 'string', description: 'the username for new keys' },
  ],
  async run(ctx) {
    const sub = ctx.positionals[0];
    if (sub === 'list') {
      if (ctx.positionals.length !== 1) throw new ResticError('USAGE', 'key list takes no arguments');
      await listKeys(ctx);
      return;
    }
    if (sub === 'add' || sub === 'remove' || sub === 'passwd') {
      await runKeyChange(ctx, sub);
      return;
    }
    throw new ResticError('USAGE', 'key: want one of list, add, remove, passwd');
  },
};
