import { describe, expect, it } from 'vitest';
import type { Backend, ByteRange, FileInfo, FileType } from '../../src/backend/backend.js';
import { TransientBackendError, isTransientError } from '../../src/backend/errors.js';
import { LimitBackend, Semaphore } from '../../src/backend/limit.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { RetryBackend, type RetryEvent } from '../../src/backend/retry.js';
import { ResticError } from '../../src/errors.js';
import { collect, contentId, expectError } from './backend-contract.js';

/** Wraps a backend; `failures` queues errors thrown (in order) before calls reach the inner backend. */
class FlakyBackend implements Backend {
  readonly location = 'flaky:';
  failures: unknown[] = [];
  calls = 0;
  constructor(readonly inner: Backend) {}
  private maybeFail(): void {
    this.calls++;
    const err = this.failures.shift();
    if (err !== undefined) throw err;
  }
  async *list(type: FileType): AsyncIterable<FileInfo> {
    this.calls++;
    let n = 0;
    for await (const f of this.inner.list(type)) {
      yield f;
      // Break once after two items, to exercise restart-without-duplicates.
      if (++n === 2 && this.failures.length > 0) throw this.failures.shift();
    }
  }
  async stat(type: FileType, name: string) {
    this.maybeFail();
    return this.inner.stat(type, name);
  }
  async read(type: FileType, name: string, range?: ByteRange) {
    this.maybeFail();
    return this.inner.read(type, name, range);
  }
  async write(type: FileType, name: string, data: Uint8Array) {
    this.maybeFail();
    return this.inner.write(type, name, data);
  }
  async remove(type: FileType, name: string) {
    this.maybeFail();
    return this.inner.remove(type, name);
  }
  async create() {}
  async close() {}
}

const transient = () => new TransientBackendError('FATAL', 'S3 server error 503 SlowDown');

function retrying(inner: Backend, events: RetryEvent[] = [], delays: number[] = []) {
  return new RetryBackend(inner, {
    maxAttempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 250,
    sleep: async (ms) => void delays.push(ms),
    random: () => 1,
    onRetry: (e) => events.push(e),
  });
}

describe('RetryBackend', () => {
  it('retries transient errors with capped exponential back-off, then succeeds', async () => {
    const flaky = new FlakyBackend(new MemoryBackend());
    await flaky.inner.write('index', 'a'.repeat(64), new Uint8Array([1]));
    const events: RetryEvent[] = [];
    const delays: number[] = [];
    const be = retrying(flaky, events, delays);
    flaky.failures = [transient(), Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), transient()];
    expect(Array.from(await be.read('index', 'a'.repeat(64)))).toEqual([1]);
    expect(flaky.calls).toBe(4);
    expect(delays).toEqual([100, 200, 250]);
    expect(events.map((e) => [e.operation, e.attempt])).toEqual([['read', 1], ['read', 2], ['read', 3]]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const flaky = new FlakyBackend(new MemoryBackend());
    const be = retrying(flaky);
    const last = new TransientBackendError('BACKEND_UNREACHABLE', 'last one');
    flaky.failures = [transient(), transient(), transient(), last, transient()];
    await expect(be.stat('key', 'b'.repeat(64))).rejects.toBe(last);
    expect(flaky.calls).toBe(4);
  });

  it('never retries final errors (auth, missing bucket, not found, already exists, corrupt)', async () => {
    for (const code of ['BACKEND_AUTH', 'BUCKET_NOT_FOUND', 'FILE_NOT_FOUND', 'ALREADY_EXISTS', 'CORRUPT', 'BACKEND_UNREACHABLE'] as const) {
      const flaky = new FlakyBackend(new MemoryBackend());
      flaky.failures = [new ResticError(code, code)];
      const events: RetryEvent[] = [];
      await expectError(retrying(flaky, events).remove('lock', 'c'.repeat(64)), code);
      expect(events).toEqual([]);
    }
    expect(isTransientError(new Error('plain'))).toBe(false);
    expect(isTransientError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
  });

  it('treats "already exists" after a lost answer as success when the size matches', async () => {
    const mem = new MemoryBackend();
    // The first attempt stores the file but its answer is lost.
    const lossy: Backend = Object.assign(Object.create(mem) as MemoryBackend, {
      attempts: 0,
      async write(this: { attempts: number }, type: FileType, name: string, data: Uint8Array) {
        if (this.attempts++ === 0) {
          await mem.write(type, name, data);
          throw transient();
        }
        return mem.write(type, name, data);
      },
    });
    const data = new Uint8Array([1, 2, 3]);
    await retrying(lossy).write('pack', contentId(data), data);
    expect(Array.from(await mem.read('pack', contentId(data)))).toEqual([1, 2, 3]);
    // Without a lost answer, a second write is still refused.
    await expectError(retrying(mem).write('pack', contentId(data), data), 'ALREADY_EXISTS');
  });

  it('restarts a broken listing without repeating names', async () => {
    const mem = new MemoryBackend();
    for (let i = 0; i < 5; i++) await mem.write('snapshot', contentId(new Uint8Array([i])), new Uint8Array([i]));
    const flaky = new FlakyBackend(mem);
    flaky.failures = [transient()];
    const listed = await collect(retrying(flaky).list('snapshot'));
    expect(listed).toHaveLength(5);
    expect(new Set(listed.map((f) => f.name)).size).toBe(5);
    expect(flaky.calls).toBe(2);
  });
});

describe('LimitBackend', () => {
  it('never runs more operations at once than allowed, reads and writes separately', async () => {
    let reads = 0;
    let writes = 0;
    let maxReads = 0;
    let maxWrites = 0;
    const tick = () => new Promise((r) => setTimeout(r, 2));
    const slow: Backend = {
      location: 'slow:',
      list: async function* () {},
      stat: async (_t, name) => ({ name, size: 0 }),
      read: async () => {
        maxReads = Math.max(maxReads, ++reads);
        await tick();
        reads--;
        return new Uint8Array();
      },
      write: async () => {
        maxWrites = Math.max(maxWrites, ++writes);
        await tick();
        writes--;
      },
      remove: async () => {},
      create: async () => {},
      close: async () => {},
    };
    const be = new LimitBackend(slow, { reads: 3, writes: 2 });
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => be.read('pack', String(i))),
      ...Array.from({ length: 20 }, (_, i) => be.write('pack', String(i), new Uint8Array())),
    ]);
    expect(maxReads).toBe(3);
    expect(maxWrites).toBe(2);
  });

  it('releases a slot when an operation fails', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await sem.run(async () => 42)).toBe(42);
    expect(sem.inUse).toBe(0);
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
