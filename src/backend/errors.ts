/**
 * Error helpers shared by the backends and their decorators.
 *
 * A backend reports failures as `ResticError`s. Failures that may pass on their own (a 5xx
 * answer, throttling, a reset connection, a timeout) are `TransientBackendError`s: still a
 * ResticError with a stable code for the user, but marked so the retry decorator knows it
 * may try again. Everything else (auth, not found, already exists, corrupt) is final.
 */
import { ResticError, type ErrorCode, type ResticErrorOptions } from '../errors.js';
import { relativePath, type FileType } from './backend.js';

export class TransientBackendError extends ResticError {
  constructor(code: ErrorCode, message: string, options: ResticErrorOptions = {}) {
    super(code, message, options);
    this.name = 'TransientBackendError';
  }
}

/** Node/libuv error codes of a connection that broke or stalled: worth another try. */
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
]);

/** True for errors the retry decorator may retry. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof TransientBackendError) return true;
  if (err instanceof ResticError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_SYSTEM_CODES.has(code);
}

export function fileNotFound(location: string, type: FileType, name: string, cause?: unknown): ResticError {
  const file = relativePath(type, name);
  return new ResticError('FILE_NOT_FOUND', `${file} not found in repository ${location}`, { file, cause });
}

export function alreadyExists(location: string, type: FileType, name: string): ResticError {
  const file = relativePath(type, name);
  return new ResticError('ALREADY_EXISTS', `${file} already exists in repository ${location}; repository files are never overwritten`, {
    file,
  });
}

export function truncated(location: string, type: FileType, name: string, size: number, offset: number, length: number): ResticError {
  const file = relativePath(type, name);
  return new ResticError(
    'CORRUPT',
    `${file} in repository ${location} is truncated: ${size} bytes, but bytes ${offset}..${offset + length} were requested`,
    { file },
  );
}

/** Checks a byte range argument (a programming error, not bad input, when it fails). */
export function checkRange(range: { offset: number; length: number }): void {
  if (!Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length) || range.offset < 0 || range.length < 0) {
    throw new RangeError(`invalid byte range offset=${range.offset} length=${range.length}`);
  }
}
