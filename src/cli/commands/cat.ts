/**
 * `cat config|masterkey|index ID|snapshot ID|key ID|pack ID|blob ID|tree ID|lock ID`: one
 * repository object, printed as restic 0.14 prints it — JSON objects re-encoded and indented
 * like Go's json.MarshalIndent, index files as stored, packs and blobs as raw bytes.
 * `tree` (newer restic) takes a tree blob ID or `snapshot[:subfolder]` and prints the tree
 * blob's bytes.
 */
import { relativePath } from '../../backend/backend.js';
import { encodeMasterKey, sha256 } from '../../crypto/index.js';
import { ResticError, isResticError } from '../../errors.js';
import { encodeConfig } from '../../format/config.js';
import { isId, type Id } from '../../format/id.js';
import { encodeKeyFile, parseKeyFile } from '../../format/key-file.js';
import { encodeLock, parseLock } from '../../format/lock-file.js';
import { encodeSnapshot } from '../../format/snapshot.js';
import { loadIndexWithProgress, type Command, type CommandContext } from '../command.js';
import { indentJson } from '../output.js';

const TYPES = ['config', 'masterkey', 'index', 'snapshot', 'key', 'pack', 'blob', 'tree', 'lock'];

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** restic's `restic.ParseID` error wording. */
function parseIdArg(arg: string): Id {
  if (isId(arg)) return arg.toLowerCase();
  const reason = arg.length !== 64 ? 'invalid length for hash' : 'invalid hex characters';
  throw new ResticError('USAGE', `unable to parse ID: ${reason}`);
}

async function run(ctx: CommandContext): Promise<void> {
  const [type, arg] = ctx.positionals;
  if (type === undefined || (type !== 'masterkey' && type !== 'config' && ctx.positionals.length !== 2)) {
    throw new ResticError('USAGE', 'type or ID not specified');
  }
  if (!TYPES.includes(type)) throw new ResticError('USAGE', 'invalid type');
  // Parse the ID before opening anything, as restic does (except for prefix/ref arguments).
  const id = type === 'masterkey' || type === 'config' || type === 'snapshot' || type === 'tree' ? undefined : parseIdArg(arg);

  const repo = await ctx.openRepository({ lock: 'shared' });
  const out = ctx.out;
  switch (type) {
    case 'config':
      out.print(indentJson(text(encodeConfig(repo.config))));
      return;
    case 'masterkey':
      out.print(indentJson(text(encodeMasterKey(repo.masterKey))));
      return;
    case 'index':
      // restic prints the stored JSON followed by a newline (Println).
      out.stdout.write(text(await repo.loadUnpacked('index', id!)) + '\n');
      return;
    case 'snapshot': {
      let snapshotId: Id;
      try {
        snapshotId = await repo.findSnapshotId(arg);
      } catch (err) {
        if (isResticError(err)) throw new ResticError(err.code, `could not find snapshot: ${err.message}`, { cause: err });
        throw err;
      }
      const { snapshot } = await repo.loadSnapshot(snapshotId);
      out.print(indentJson(encodeSnapshot(snapshot)));
      return;
    }
    case 'key': {
      const keyFile = parseKeyFile(await repo.loadRaw('key', id!), relativePath('key', id!));
      out.print(indentJson(text(encodeKeyFile(keyFile))));
      return;
    }
    case 'lock': {
      const lock = parseLock(await repo.loadUnpacked('lock', id!), id!);
      out.print(indentJson(encodeLock(lock)));
      return;
    }
    case 'pack': {
      const bytes = await repo.backend.read('pack', id!);
      const actual = Buffer.from(sha256(bytes)).toString('hex');
      if (actual !== id) out.warn(`Warning: hash of data does not match ID, want\n  ${id}\ngot:\n  ${actual}`);
      out.raw(bytes);
      return;
    }
    case 'blob': {
      const index = await loadIndexWithProgress(ctx, repo);
      for (const blobType of ['data', 'tree'] as const) {
        if (!index.has(blobType, id!)) continue;
        out.raw(await repo.loadBlob(blobType, id!));
        return;
      }
      throw new ResticError('BLOB_NOT_FOUND', `blob ${id} not found`);
    }
    case 'tree': {
      const index = await loadIndexWithProgress(ctx, repo);
      let treeId: Id;
      if (isId(arg) && index.has('tree', arg.toLowerCase())) {
        treeId = arg.toLowerCase();
      } else {
        try {
          treeId = (await repo.findSnapshot(arg)).tree;
        } catch (err) {
          if (isResticError(err) && (err.code === 'SNAPSHOT_NOT_FOUND' || err.code === 'SNAPSHOT_AMBIGUOUS')) {
            throw new ResticError(err.code, `could not find snapshot: ${err.message}`, { cause: err });
          }
          throw err;
        }
      }
      out.raw(await repo.loadBlob('tree', treeId));
      return;
    }
  }
}

export const catCommand: Command = {
  name: 'cat',
  summary: 'Print internal objects to stdout',
  usage: 'cat [flags] [masterkey|config|pack ID|blob ID|snapshot ID|index ID|key ID|lock ID|tree snapshot:subfolder]',
  flags: [],
  run,
};
