/**
 * `--as-of TIME` wiring: main.ts wraps every command's backend with `openAsOfBackend` when the
 * option is given. With `--as-of`, the repository is opened through the read-only point-in-time
 * view of the versioned bucket (src/s3/versioned-view.ts); every read command then works
 * on the repository as it stood at TIME.
 */
import { LimitBackend } from '../backend/limit.js';
import { RetryBackend } from '../backend/retry.js';
import type { Backend } from '../backend/backend.js';
import { parseTimeArgument } from '../s3/time.js';

export async function openAsOfBackend(backend: Backend, asOf: string): Promise<Backend> {
  const timeMs = parseTimeArgument(asOf, '--as-of');
  // Loaded only when asked for: it pulls in the AWS SDK, which other commands should not pay for.
  const { openAsOf, requireS3Backend } = await import('../s3/versioned-view.js');
  const s3 = requireS3Backend(backend, '--as-of');
  const view = await openAsOf(s3, timeMs, { timeText: asOf });
  // Same request policy as the normal stack: bounded concurrency, retries of transient errors.
  return new RetryBackend(new LimitBackend(view, { reads: 5 }), {});
}
