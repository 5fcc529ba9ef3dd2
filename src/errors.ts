/**
 * Typed errors shared by the library and the CLI.
 *
 * Every failure the library reports is a `ResticError` with a stable `code`. The CLI maps
 * the code to a process exit code (see `exitCodeFor`). Where restic defines an exit code
 * for the same situation we use restic's (1, 3, 10, 11, 12, 130); the rest are ours, one
 * per kind of bad input, so scripts can tell them apart.
 */

export const ErrorCodes = {
  /** Anything without a more specific code. restic: 1. */
  FATAL: 'FATAL',
  /** Backup finished but some source files could not be read. restic: 3. */
  INCOMPLETE_SNAPSHOT: 'INCOMPLETE_SNAPSHOT',
  /** No `config` file at the location: not a repository. restic 0.17+: 10. */
  REPOSITORY_NOT_FOUND: 'REPOSITORY_NOT_FOUND',
  /** A conflicting lock is held. restic: 11. */
  LOCKED: 'LOCKED',
  /** No key file opens with the password. restic 0.17+: 12. */
  WRONG_PASSWORD: 'WRONG_PASSWORD',
  /** Config `version` is not 1 or 2, or a file uses a feature the version lacks. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** `-r` string could not be parsed. */
  INVALID_LOCATION: 'INVALID_LOCATION',
  /** A MAC check failed (file or blob tampered with or damaged). */
  MAC_FAILED: 'MAC_FAILED',
  /** A file or blob is truncated, undecodable, or its hash does not match its name. */
  CORRUPT: 'CORRUPT',
  /** A repository file that should exist does not. */
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  /** A blob is not in the index. */
  BLOB_NOT_FOUND: 'BLOB_NOT_FOUND',
  /** No snapshot (or path inside a snapshot) matches. */
  SNAPSHOT_NOT_FOUND: 'SNAPSHOT_NOT_FOUND',
  /** A snapshot ID prefix matches more than one snapshot. */
  SNAPSHOT_AMBIGUOUS: 'SNAPSHOT_AMBIGUOUS',
  /** The storage service refused our credentials or lacks a permission. */
  BACKEND_AUTH: 'BACKEND_AUTH',
  /** The S3 bucket does not exist. */
  BUCKET_NOT_FOUND: 'BUCKET_NOT_FOUND',
  /** The storage service cannot be reached (connection refused, DNS, timeout). */
  BACKEND_UNREACHABLE: 'BACKEND_UNREACHABLE',
  /** Bad flags or arguments; nothing was touched. */
  USAGE: 'USAGE',
  /** Refusing to overwrite an existing repository or file. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The bucket has no versioning, so no point-in-time view or rollback is possible. */
  NOT_VERSIONED: 'NOT_VERSIONED',
  /** The operation needs something the backend does not offer. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** Local file system error while reading sources or writing a restore. */
  IO: 'IO',
  /** Check found problems in the repository. */
  CHECK_FAILED: 'CHECK_FAILED',
  /** Interrupted by a signal. restic: 130. */
  INTERRUPTED: 'INTERRUPTED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const EXIT_CODES: Record<ErrorCode, number> = {
  FATAL: 1,
  INCOMPLETE_SNAPSHOT: 3,
  REPOSITORY_NOT_FOUND: 10,
  LOCKED: 11,
  WRONG_PASSWORD: 12,
  UNSUPPORTED_VERSION: 13,
  INVALID_LOCATION: 14,
  MAC_FAILED: 15,
  CORRUPT: 16,
  FILE_NOT_FOUND: 17,
  BLOB_NOT_FOUND: 18,
  SNAPSHOT_NOT_FOUND: 19,
  SNAPSHOT_AMBIGUOUS: 20,
  BACKEND_AUTH: 21,
  BUCKET_NOT_FOUND: 22,
  BACKEND_UNREACHABLE: 23,
  USAGE: 24,
  ALREADY_EXISTS: 25,
  NOT_VERSIONED: 26,
  UNSUPPORTED: 27,
  IO: 28,
  CHECK_FAILED: 29,
  INTERRUPTED: 130,
};

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code];
}

export interface ResticErrorOptions {
  /** The repository file concerned, e.g. `data/ab/ab12…` or `snapshots/9f3c…`. */
  file?: string;
  cause?: unknown;
}

export class ResticError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;

  constructor(code: ErrorCode, message: string, options: ResticErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ResticError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }
}

export function isResticError(err: unknown, code?: ErrorCode): err is ResticError {
  return err instanceof ResticError && (code === undefined || err.code === code);
}
