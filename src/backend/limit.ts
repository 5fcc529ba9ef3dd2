/**
 * A decorator that bounds how many backend operations run at once: restic's
 * `-o s3.connections` / `local.connections` (defaults 5 and 2). Reads and writes have
 * separate pools so a long upload queue cannot starve the reads that feed it.
 * Listings are not limited: a caller may read while it iterates, and holding a slot for
 * the whole iteration could deadlock with a pool of one.
 */
import type { Backend, ByteRange, FileInfo, FileType } from './backend.js';

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  get inUse(): number {
    return this.active;
  }
}

export interface LimitOptions {
  /** Concurrent reads, stats and removes (default 5). */
  reads?: number;
  /** Concurrent writes (default: same as reads). */
  writes?: number;
}

export class LimitBackend implements Backend {
  readonly location: string;
  private readonly readPool: Semaphore;
  private readonly writePool: Semaphore;

  constructor(
    readonly inner: Backend,
    options: LimitOptions = {},
  ) {
    this.location = inner.location;
    this.readPool = new Semaphore(options.reads ?? 5);
    this.writePool = new Semaphore(options.writes ?? options.reads ?? 5);
  }

  list(type: FileType): AsyncIterable<FileInfo> {
    return this.inner.list(type);
  }

  stat(type: FileType, name: string): Promise<FileInfo> {
    return this.readPool.run(() => this.inner.stat(type, name));
  }

  read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    return this.readPool.run(() => this.inner.read(type, name, range));
  }

  write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    return this.writePool.run(() => this.inner.write(type, name, data));
  }

  remove(type: FileType, name: string): Promise<void> {
    return this.writePool.run(() => this.inner.remove(type, name));
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
