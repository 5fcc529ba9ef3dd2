/**
 * `--as-of TIME` wiring: registers the backend decorator main.ts applies to every command's
 * backend. With `--as-of`, the repository is opened through the read-only point-in-time
 * view of the versioned bucket (src/s3/versioned-view.ts); every read command then works
 * on the repository as it stood at TIME.
 */
import { LimitBackend } from '../backend/limit.js';
import { RetryBackend } from '../backend/retry.js';
import { parseTimeArgument } from '../s3/time.js';
import { registerBackendDecorator } from './command.js';

registerBackendDecorator(async (backend, global) => {
  if (global.asOf === undefined) return backend;
  const timeMs = parseTimeArgument(global.asOf, '--as-of');
  // Loaded only when asked for: it pulls in the AWS SDK, which other commands should not pay for.
  const { openAsOf, requireS3Backend } = await import('../s3/versioned-view.js');
  const s3 = requireS3Backend(backend, '--as-of');
  const view = await openAsOf(s3, timeMs, { timeText: global.asOf });
  // A view of the past cannot be locked (nothing can be written there) and needs no lock:
  // its files never change. Commands that would lock get --no-lock semantics.
  global.noLock = true;
  // Same request policy as the normal stack: bounded concurrency, retries of transient errors.
  return new RetryBackend(new LimitBackend(view, { reads: 5 }), {});
});
