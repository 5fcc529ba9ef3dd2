/**
 * `init [--repository-version 1|2|stable|latest] [--copy-chunker-params --from-repo R]`:
 * creates a repository, printing what restic 0.14 prints.
 */
import { openBackend } from '../../backend/open.js';
import { ResticError } from '../../errors.js';
import { Repository } from '../../repository/repository.js';
import { initRepository } from '../../repository/init.js';
import { MAX_REPO_VERSION, MIN_REPO_VERSION, STABLE_REPO_VERSION } from '../../format/config.js';
import type { Command, CommandContext } from '../command.js';
import { backendOptionsFrom } from '../global-options.js';
import { resolvePassword } from '../password.js';

function parseVersion(text: string | undefined): number {
  if (text === undefined || text === '' || text === 'latest') return MAX_REPO_VERSION;
  if (text === 'stable') return STABLE_REPO_VERSION;
  if (!/^\d+$/.test(text)) throw new ResticError('USAGE', 'invalid repository version');
  const v = Number(text);
  if (v < MIN_REPO_VERSION || v > MAX_REPO_VERSION) {
    throw new ResticError('USAGE', `only repository versions between ${MIN_REPO_VERSION} and ${MAX_REPO_VERSION} are allowed`);
  }
  return v;
}

/** The chunker polynomial of the `--from-repo` repository, for `--copy-chunker-params`. */
async function secondaryPolynomial(ctx: CommandContext): Promise<bigint | undefined> {
  const from = ctx.flags.string('from-repo') ?? ctx.env.RESTIC_FROM_REPOSITORY;
  const given = from !== undefined && from !== '';
  if (!ctx.flags.boolean('copy-chunker-params')) {
    if (given && ctx.flags.given('from-repo')) {
      throw new ResticError('USAGE', 'Secondary repository must only be specified when copying the chunker parameters');
    }
    return undefined;
  }
  if (!given) throw new ResticError('USAGE', 'Please specify the source repository with --from-repo to copy chunker parameters from');
  const password = await resolvePassword({
    passwordFile: ctx.flags.string('from-password-file') ?? ctx.env.RESTIC_FROM_PASSWORD_FILE,
    passwordCommand: ctx.flags.string('from-password-command') ?? ctx.env.RESTIC_FROM_PASSWORD_COMMAND,
    env: { RESTIC_PASSWORD: ctx.env.RESTIC_FROM_PASSWORD },
  });
  const backend = await openBackend(from, backendOptionsFrom(ctx.global, ctx.env));
  try {
    const other = await Repository.open({ backend, password });
    return other.config.chunker_polynomial;
  } finally {
    await backend.close();
  }
}

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length > 0) throw new ResticError('USAGE', `init takes no arguments, got ${JSON.stringify(ctx.positionals[0])}`);
  const version = parseVersion(ctx.flags.string('repository-version'));
  const chunkerPolynomial = await secondaryPolynomial(ctx);
  const backend = await ctx.openBackend();
  const password = await ctx.readPassword('enter password for new repository: ');
  const result = await initRepository({ backend, password, version, chunkerPolynomial });
  const location = ctx.global.repository ?? backend.location;
  if (ctx.global.json) {
    ctx.out.jsonLine(JSON.stringify({ message_type: 'initialized', id: result.config.id, repository: location }));
    return;
  }
  ctx.out.info(`created restic repository ${result.config.id.slice(0, 10)} at ${location}`);
  ctx.out.info('');
  ctx.out.info('Please note that knowledge of your password is required to access');
  ctx.out.info('the repository. Losing your password means that your data is');
  ctx.out.info('irrecoverably lost.');
}

export const initCommand: Command = {
  name: 'init',
  summary: 'Initialize a new repository',
  usage: 'init [flags]',
  flags: [
    { name: 'repository-version', kind: 'string', valueName: 'version', description: "repository format version to use, allowed values are a format version, 'latest' and 'stable' (default \"stable\")" },
    { name: 'copy-chunker-params', kind: 'boolean', description: 'copy chunker parameters from the secondary repository (useful with the copy command)' },
    { name: 'from-repo', kind: 'string', valueName: 'repository', description: 'source repository to copy chunker parameters from (default: $RESTIC_FROM_REPOSITORY)' },
    { name: 'from-password-file', kind: 'string', valueName: 'file', description: 'file to read the source repository password from (default: $RESTIC_FROM_PASSWORD_FILE)' },
    { name: 'from-password-command', kind: 'string', valueName: 'command', description: 'shell command to obtain the source repository password from (default: $RESTIC_FROM_PASSWORD_COMMAND)' },
  ],
  help: 'The "init" command initializes a new repository.',
  run,
};
