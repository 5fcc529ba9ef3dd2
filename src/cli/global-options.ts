/**
 * restic's global flags (valid before or after the command name) and their environment
 * variables, turned into one typed `GlobalOptions` value.
 */
import { readFile } from 'node:fs/promises';
import { ResticError } from '../errors.js';
import { parseExtendedOptions, type BackendOptions } from '../backend/open.js';
import type { FlagSpec, ParsedFlags } from './args.js';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'repo', short: 'r', kind: 'string', env: 'RESTIC_REPOSITORY', valueName: 'repository', description: 'repository to back up to or restore from' },
  { name: 'repository-file', kind: 'string', env: 'RESTIC_REPOSITORY_FILE', valueName: 'file', description: 'file to read the repository location from' },
  { name: 'password-file', short: 'p', kind: 'string', env: 'RESTIC_PASSWORD_FILE', valueName: 'file', description: 'file to read the repository password from' },
  { name: 'password-command', kind: 'string', env: 'RESTIC_PASSWORD_COMMAND', valueName: 'command', description: 'shell command to obtain the repository password from' },
  { name: 'key-hint', kind: 'string', env: 'RESTIC_KEY_HINT', valueName: 'key', description: 'key ID of key to try decrypting first' },
  { name: 'json', kind: 'boolean', description: 'set output mode to JSON for commands that support it' },
  { name: 'no-lock', kind: 'boolean', description: 'do not lock the repository, this allows some operations on read-only repositories' },
  { name: 'quiet', short: 'q', kind: 'boolean', description: 'do not output comprehensive progress report' },
  { name: 'verbose', short: 'v', kind: 'count', description: 'be verbose (specify multiple times or a level using --verbose=n, max level/times is 2)' },
  { name: 'option', short: 'o', kind: 'strings', valueName: 'key=value', description: 'set extended option (key=value, can be specified multiple times)' },
  { name: 'compression', kind: 'string', env: 'RESTIC_COMPRESSION', valueName: 'mode', description: 'compression mode (only available for repository format version 2), one of (auto|off|max)' },
  { name: 'pack-size', kind: 'int', env: 'RESTIC_PACK_SIZE', valueName: 'size', description: 'set target pack size in MiB, created pack files may be larger' },
  { name: 'retention', kind: 'int', env: 'RESTIC_TS_RETENTION', valueName: 'days', description: 'object-lock retention in days on every object written to S3 (bucket needs object lock; same as -o s3.retention)' },
  { name: 'retention-mode', kind: 'string', env: 'RESTIC_TS_RETENTION_MODE', valueName: 'mode', description: 'retention mode for --retention: GOVERNANCE (default) or COMPLIANCE' },
  { name: 'as-of', kind: 'string', env: 'RESTIC_AS_OF', valueName: 'time', description: 'read a versioned S3 repository as it was at this time' },
  // Accepted for compatibility with restic scripts; restic-ts keeps no local cache.
  { name: 'no-cache', kind: 'boolean', description: 'do not use a local cache (restic-ts never caches)' },
  { name: 'cache-dir', kind: 'string', env: 'RESTIC_CACHE_DIR', valueName: 'directory', description: 'ignored: restic-ts keeps no local cache', hidden: true },
  { name: 'help', short: 'h', kind: 'boolean', description: 'help for restic-ts' },
];

export type CompressionFlag = 'auto' | 'off' | 'max' | 'fastest' | 'better';

export interface GlobalOptions {
  /** Repository location as given (`-r`, `--repository-file`, or the env vars). */
  repository?: string;
  passwordFile?: string;
  passwordCommand?: string;
  keyHint?: string;
  json: boolean;
  noLock: boolean;
  quiet: boolean;
  verbosity: number;
  /** `-o key=value` pairs, later ones win. `s3.*` go to the S3 backend. */
  extendedOptions: Record<string, string>;
  compression: CompressionFlag;
  /** Target pack size in MiB, when set. */
  packSizeMiB?: number;
  /** Point-in-time view of a versioned bucket (issue 5); parsed by that feature. */
  asOf?: string;
  help: boolean;
}

const COMPRESSION_MODES: readonly CompressionFlag[] = ['auto', 'off', 'max', 'fastest', 'better'];

/**
 * Builds the global options from parsed flags. Reads `--repository-file` (the only file
 * read here); the password is resolved later, and only by commands that need it.
 */
export async function globalOptionsFrom(flags: ParsedFlags): Promise<GlobalOptions> {
  const repo = flags.string('repo');
  const repositoryFile = flags.string('repository-file');
  let repository = repo;
  if (repositoryFile !== undefined && repositoryFile !== '') {
    if (repo !== undefined && repo !== '' && flags.given('repo') && flags.given('repository-file')) {
      throw new ResticError('USAGE', 'Options -r and --repository-file are mutually exclusive, please specify only one');
    }
    if (!(repo !== undefined && repo !== '' && flags.given('repo'))) {
      try {
        repository = (await readFile(repositoryFile, 'utf8')).trim();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new ResticError('USAGE', `${repositoryFile} does not exist`, { file: repositoryFile, cause: err });
        }
        throw new ResticError('IO', `cannot read ${repositoryFile}: ${(err as Error).message}`, { file: repositoryFile, cause: err });
      }
    }
  }

  const extendedOptions: Record<string, string> = {};
  for (const pair of flags.strings('option')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ResticError('USAGE', `invalid option ${JSON.stringify(pair)}: want key=value`);
    extendedOptions[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  // --retention / --retention-mode are spelled-out forms of -o s3.retention(-mode) (issue 5).
  const retentionDays = flags.int('retention');
  if (retentionDays !== undefined) extendedOptions['s3.retention'] = String(retentionDays);
  const retentionMode = flags.string('retention-mode');
  if (retentionMode) extendedOptions['s3.retention-mode'] = retentionMode;

  const compression = (flags.string('compression') ?? 'auto').toLowerCase();
  if (!(COMPRESSION_MODES as readonly string[]).includes(compression)) {
    throw new ResticError('USAGE', `invalid compression mode ${JSON.stringify(compression)}: want one of auto, off, max, fastest, better`);
  }
  const packSize = flags.int('pack-size');
  if (packSize !== undefined && packSize < 0) throw new ResticError('USAGE', '--pack-size must not be negative');

  const options: GlobalOptions = {
    json: flags.boolean('json'),
    noLock: flags.boolean('no-lock'),
    quiet: flags.boolean('quiet'),
    verbosity: flags.count('verbose'),
    extendedOptions,
    compression: compression as CompressionFlag,
    help: flags.boolean('help'),
  };
  if (repository !== undefined && repository !== '') options.repository = repository;
  const passwordFile = flags.string('password-file');
  if (passwordFile) options.passwordFile = passwordFile;
  const passwordCommand = flags.string('password-command');
  if (passwordCommand) options.passwordCommand = passwordCommand;
  const keyHint = flags.string('key-hint');
  if (keyHint) options.keyHint = keyHint;
  if (packSize !== undefined && packSize > 0) options.packSizeMiB = packSize;
  const asOf = flags.string('as-of');
  if (asOf) options.asOf = asOf;
  return options;
}

/** Backend settings from the `-o` extended options (validated by the backend module). */
export function backendOptionsFrom(options: GlobalOptions, env: Readonly<Record<string, string | undefined>>): BackendOptions {
  const pairs = Object.entries(options.extendedOptions).map(([k, v]) => `${k}=${v}`);
  return parseExtendedOptions(pairs, { env: { ...env } });
}
