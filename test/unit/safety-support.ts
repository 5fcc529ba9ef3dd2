/**
 * Fault injection for the data-safety tests: a Backend wrapper that fails (or "crashes") a
 * chosen operation, and a small in-memory repository with a few snapshots to run maintenance on.
 */
import type { Backend, ByteRange, FileInfo, FileType } from '../../src/backend/backend.js';
import { TransientBackendError } from '../../src/backend/errors.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { ResticError } from '../../src/errors.js';
import type { Id } from '../../src/format/id.js';
import { backupTree } from '../../src/archiver/archiver.js';
import { initRepository } from '../../src/repository/init.js';
import { Repository } from '../../src/repository/repository.js';

export type Operation = 'list' | 'stat' | 'read' | 'write' | 'remove';

export interface FaultRule {
  op: Operation;
  type?: FileType;
  name?: string;
  /** Fail the n-th matching call (1-based); default every matching call. */
  nth?: number;
  /** The error thrown (default: a transient server error). */
  error?: () => Error;
  /**
   * `before`: the call fails without effect. `after`: the call takes effect, then its answer
   * is "lost" (the error is thrown anyway) — a write or delete that happened although the
   * client saw a failure. `drop`: the call reports success but does nothing (a store that
   * loses a write it acknowledged).
   */
  when?: 'before' | 'after' | 'drop';
}

/** A server error after the retries gave up: a ResticError, but not one about the file's content. */
export const serverError = (): Error => new TransientBackendError('FATAL', 'S3 server error: 500 Internal Server Error');
export const permissionError = (): Error => new ResticError('IO', 'cannot read: EACCES: permission denied');

/** Records every call and fails those the rules pick. */
export class FaultBackend implements Backend {
  readonly location: string;
  readonly calls: { op: Operation; type: FileType; name?: string }[] = [];
  private readonly counts = new Map<FaultRule, number>();
  rules: FaultRule[] = [];
  /** Names left out of listings (a listing that lags behind, as an eventually consistent store's may). */
  hiddenFromList = new Set<string>();

  constructor(readonly inner: Backend) {
    this.location = inner.location;
  }

  private async apply<T>(op: Operation, type: FileType, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.calls.push({ op, type, ...(name !== undefined ? { name } : {}) });
    const rule = this.rules.find((r) => r.op === op && (r.type === undefined || r.type === type) && (r.name === undefined || r.name === name));
    if (rule) {
      const n = (this.counts.get(rule) ?? 0) + 1;
      this.counts.set(rule, n);
      if (rule.nth === undefined || rule.nth === n) {
        if (rule.when === 'drop') return undefined as T;
        const error = (rule.error ?? serverError)();
        if (rule.when === 'after') await fn();
        throw error;
      }
    }
    return fn();
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const items: FileInfo[] = await this.apply('list', type, undefined, async () => {
      const out: FileInfo[] = [];
      for await (const f of this.inner.list(type)) if (!this.hiddenFromList.has(f.name)) out.push(f);
      return out;
    });
    yield* items;
  }
  stat(type: FileType, name: string): Promise<FileInfo> {
    return this.apply('stat', type, name, () => this.inner.stat(type, name));
  }
  read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    return this.apply('read', type, name, () => this.inner.read(type, name, range));
  }
  write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    return this.apply('write', type, name, () => this.inner.write(type, name, data));
  }
  remove(type: FileType, name: string): Promise<void> {
    return this.apply('remove', type, name, () => this.inner.remove(type, name));
  }
  create(): Promise<void> {
    return this.inner.create();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Names of files of one type removed so far. */
  removed(type: FileType): string[] {
    return this.calls.filter((c) => c.op === 'remove' && c.type === type).map((c) => c.name as string);
  }
}

export const KDF = { N: 1024, r: 1, p: 1 };
export const PASSWORD = 'safety';

export interface SafetyFixture {
  memory: MemoryBackend;
  faults: FaultBackend;
  snapshots: Id[];
  /** Opens the repository anew over the fault backend (a fresh process, as it were). */
  open(): Promise<Repository>;
}

/** A repository with `count` snapshots of small, partly shared trees (nested dirs, several files). */
export async function makeFixture(count = 3): Promise<SafetyFixture> {
  const memory = new MemoryBackend();
  await initRepository({ backend: memory, password: PASSWORD, kdfParams: KDF, version: 2 });
  const faults = new FaultBackend(memory);
  const open = (): Promise<Repository> => Repository.open({ backend: faults, password: PASSWORD });
  const snapshots: Id[] = [];
  for (let i = 0; i < count; i++) {
    const repo = await open();
    const result = await backupTree(
      {
        shared: { type: 'file', content: 'the same in every snapshot\n'.repeat(50) },
        [`own-${i}`]: { type: 'file', content: `snapshot ${i} only\n`.repeat(200 + i) },
        dir: { type: 'dir', entries: { sub: { type: 'dir', entries: { [`deep-${i}`]: { type: 'file', content: `deep ${i}\n` } } } } },
      },
      { repository: repo, hostname: 'safety', paths: ['/data'], workers: 0 },
    );
    snapshots.push(result.snapshotId as Id);
    await repo.close();
  }
  return { memory, faults, snapshots, open };
}
