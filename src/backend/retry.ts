/**
 * A decorator that retries transient backend failures (5xx answers, throttling, reset or
 * stalled connections) with exponential back-off and full jitter, a bounded number of
 * times. Final failures (auth, not found, already exists, corrupt, bad input) are passed
 * through at once: retrying cannot fix them and would only hide them.
 */
import type { Backend, ByteRange, FileInfo, FileType } from './backend.js';
import { isResticError } from '../errors.js';
import { isTransientError } from './errors.js';

export interface RetryOptions {
  /** Total attempts including the first (default 6). */
  maxAttempts?: number;
  /** Delay before the first retry in ms (default 250); doubles each time. */
  baseDelayMs?: number;
  /** Upper bound of one delay in ms (default 10 000). */
  maxDelayMs?: number;
  /** Decides what may be retried (default `isTransientError`). */
  isRetryable?: (err: unknown) => boolean;
  /** Told about every retry (the library never prints; the CLI may). */
  onRetry?: (event: RetryEvent) => void;
  /** For tests: replaces the timer. */
  sleep?: (ms: number) => Promise<void>;
  /** For tests: replaces Math.random in the jitter. */
  random?: () => number;
}

export interface RetryEvent {
  operation: 'list' | 'stat' | 'read' | 'write' | 'remove' | 'create';
  type?: FileType;
  name?: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RetryBackend implements Backend {
  readonly location: string;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly isRetryable: (err: unknown) => boolean;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly inner: Backend,
    private readonly options: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.isRetryable = options.isRetryable ?? isTransientError;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    // A listing that breaks half-way is restarted; names already handed out are not repeated.
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const info of this.inner.list(type)) {
          if (seen.has(info.name)) continue;
          seen.add(info.name);
          yield info;
        }
        return;
      } catch (err) {
        await this.backOffOrThrow(err, attempt, { operation: 'list', type });
      }
    }
  }

  stat(type: FileType, name: string): Promise<FileInfo> {
    return this.run({ operation: 'stat', type, name }, () => this.inner.stat(type, name));
  }

  read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    return this.run({ operation: 'read', type, name }, () => this.inner.read(type, name, range));
  }

  async write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    let attempt = 0;
    await this.run({ operation: 'write', type, name }, async () => {
      attempt++;
      try {
        await this.inner.write(type, name, data);
      } catch (err) {
        // A retried write may find the file that the "failed" attempt stored after all
        // (the answer was lost, not the upload). Every file but `config` is named by the
        // SHA-256 of its bytes, so same name and size means our file. The config is not: a
        // concurrent `init` may have stored its own config (same size, other master key)
        // meanwhile, so its bytes are compared.
        if (attempt > 1 && isResticError(err, 'ALREADY_EXISTS')) {
          if (type === 'config') {
            if (sameBytes(await this.inner.read(type, name), data)) return;
          } else {
            const existing = await this.inner.stat(type, name);
            if (existing.size === data.length) return;
          }
        }
        throw err;
      }
    });
  }

  remove(type: FileType, name: string): Promise<void> {
    return this.run({ operation: 'remove', type, name }, () => this.inner.remove(type, name));
  }

  create(): Promise<void> {
    return this.run({ operation: 'create' }, () => this.inner.create());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async run<T>(what: Omit<RetryEvent, 'attempt' | 'delayMs' | 'error'>, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        await this.backOffOrThrow(err, attempt, what);
      }
    }
  }

  private async backOffOrThrow(err: unknown, attempt: number, what: Omit<RetryEvent, 'attempt' | 'delayMs' | 'error'>): Promise<void> {
    if (attempt >= this.maxAttempts || !this.isRetryable(err)) throw err;
    // Full jitter: a random delay up to the exponential bound spreads out clients that failed together.
    const bound = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.round(bound * (0.5 + 0.5 * this.random()));
    this.options.onRetry?.({ ...what, attempt, delayMs, error: err });
    await this.sleep(delayMs);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
