/**
 * What happens when lock refreshes keep failing (restic's rule): after 22.5 minutes without a
 * successful refresh a stale refresh is tried; if that fails the lock is lost and a backup
 * holding it stops with LOCKED "failed to refresh lock in time". Fake timers, in-memory backend.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryBackend } from '../../src/backend/memory.js';
import { backup } from '../../src/archiver/archiver.js';
import { TEST_POLYNOMIAL } from '../../src/chunker/polynomial.js';
import { generateMasterKey, open } from '../../src/crypto/index.js';
import { isResticError, ResticError } from '../../src/errors.js';
import { decodeUnpacked } from '../../src/repository/unpacked.js';
import { saveUnpacked } from '../../src/repository/index-writer.js';
import { initRepository } from '../../src/repository/init.js';
import { Repository } from '../../src/repository/repository.js';
import { acquireLock, LOCK_REFRESH_MS, REFRESHABILITY_TIMEOUT_MS, type LockStore } from '../../src/repository/lock.js';

const MIN = 60_000;

/** A lock store whose lock writes fail while `failing` is set. */
let savesInFlight = 0;

function flakyStore(): LockStore & { backend: MemoryBackend; failing: boolean } {
  const backend = new MemoryBackend();
  const target = { backend, masterKey: generateMasterKey(), config: { version: 2 } };
  const s = {
    backend,
    failing: false,
    saveUnpacked: async (type: 'lock', json: Uint8Array) => {
      if (s.failing) throw new ResticError('IO', 'simulated: storage unreachable');
      savesInFlight++;
      try {
        return await saveUnpacked(target, type, json);
      } finally {
        savesInFlight--;
      }
    },
    loadUnpacked: async (type: 'lock', id: string) => decodeUnpacked(open(target.masterKey, await backend.read(type, id), id), id),
  };
  return s;
}

async function lockIds(s: LockStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const f of s.backend.list('lock')) ids.push(f.name);
  return ids;
}

/** acquireLock waits `waitMs` between its scans: let the fake clock run meanwhile. */
async function acquire(s: LockStore, options: Parameters<typeof acquireLock>[1]) {
  let settled = false;
  const pending = acquireLock(s, options).finally(() => {
    settled = true;
  });
  while (!settled) await vi.advanceTimersByTimeAsync(1);
  return pending;
}

/**
 * Runs the fake clock forward, then lets work that is really asynchronous (encryption, the
 * backend) finish, including the short fake waits it schedules.
 */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  // Saves compress on the thread pool: wait for them in real time, then run the lock's waits.
  for (let quiet = 0; quiet < 20; ) {
    await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(1);
    quiet = savesInFlight > 0 ? 0 : quiet + 1;
  }
}

const opts = { exclusive: false, waitMs: 1, loadRetryWaitsMs: [] as number[], clock: () => Date.now() };

describe('lock refresh failures', () => {
  beforeEach(() => {
    // Only the timers the lock uses: crypto and the backend run on real setImmediate.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('timeout is restic\'s: 30 min stale age minus 1.5 refresh intervals', () => {
    expect(LOCK_REFRESH_MS).toBe(5 * MIN);
    expect(REFRESHABILITY_TIMEOUT_MS).toBe(22.5 * MIN);
  });

  it('keeps the lock through failed refreshes and recovers with a stale refresh at the deadline', async () => {
    const s = flakyStore();
    const refreshErrors: unknown[] = [];
    const lost = vi.fn();
    const l = await acquire(s, { ...opts, onRefreshError: (e) => refreshErrors.push(e), onLost: lost });
    const first = l.id;
    s.failing = true;
    await advance(21 * MIN); // refreshes at 5, 10, 15, 20 min fail
    expect(refreshErrors).toHaveLength(4);
    expect(l.id).toBe(first);
    s.failing = false;
    await advance(1.6 * MIN); // deadline at 22.5 min: stale refresh works
    expect(l.lost.aborted).toBe(false);
    expect(lost).not.toHaveBeenCalled();
    expect(l.id).not.toBe(first);
    expect(await lockIds(s)).toEqual([l.id]);
    const second = l.id;
    await advance(2.5 * MIN); // ordinary refresh again at 25 min
    expect(l.id).not.toBe(second);
    expect(await lockIds(s)).toEqual([l.id]);
    await l.release();
    expect(await lockIds(s)).toEqual([]);
  });

  it('a successful refresh before the deadline cancels the stale refresh', async () => {
    const s = flakyStore();
    const l = await acquire(s, { ...opts, onRefreshError: () => undefined });
    s.failing = true;
    await advance(5.5 * MIN);
    s.failing = false;
    await advance(5 * MIN); // refresh at 10 min succeeds
    s.failing = true;
    await advance(14 * MIN); // 24.5 min: only 14.5 min since the last success
    expect(l.lost.aborted).toBe(false);
    await advance(10 * MIN); // 34.5 min: 24.5 since the last success, still failing
    expect(l.lost.aborted).toBe(true);
    await l.release();
  });

  it('gives the lock up when refreshes fail until the deadline', async () => {
    const s = flakyStore();
    const lost = vi.fn();
    const l = await acquire(s, { ...opts, onRefreshError: () => undefined, onLost: lost });
    s.failing = true;
    await advance(22 * MIN);
    expect(l.lost.aborted).toBe(false);
    await advance(1 * MIN);
    expect(l.lost.aborted).toBe(true);
    const reason: unknown = l.lost.reason;
    expect(isResticError(reason, 'LOCKED')).toBe(true);
    expect((reason as Error).message).toMatch(/failed to refresh lock in time: simulated: storage unreachable/);
    expect(lost).toHaveBeenCalledWith(reason);
    // No more refresh attempts after the lock is lost.
    s.failing = false;
    const before = l.id;
    await advance(20 * MIN);
    expect(l.id).toBe(before);
    await l.release();
    expect(await lockIds(s)).toEqual([]);
  });

  it('gives the lock up when its file was removed (e.g. by unlock) while refreshes failed', async () => {
    const s = flakyStore();
    const l = await acquire(s, { ...opts, onRefreshError: () => undefined });
    s.failing = true;
    await advance(21 * MIN);
    await s.backend.remove('lock', l.id); // someone took it for stale
    s.failing = false; // the stale refresh could write, but the old file is gone
    await advance(2 * MIN);
    expect(l.lost.aborted).toBe(true);
    expect((l.lost.reason as Error).message).toMatch(/failed to refresh lock in time: lock file \w+ was removed in the meantime/);
    expect(await lockIds(s)).toEqual([]); // nothing written in its place
    await l.release(); // the file is gone already: no error
  });

  it('after a suspend past the deadline the next refresh is a stale refresh', async () => {
    const s = flakyStore();
    let offset = 0;
    const l = await acquire(s, { ...opts, clock: () => Date.now() + offset });
    const first = l.id;
    offset = 40 * MIN; // the process slept; timers did not run
    await s.backend.remove('lock', first); // meanwhile another process removed the stale lock
    await advance(5 * MIN);
    expect(l.lost.aborted).toBe(true);
    await l.release();
  });
});

describe('backup with a lost lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lock-refresh-'));
    for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, `f${i}`), `file ${i}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stops with LOCKED and writes no snapshot', async () => {
    const backend = new MemoryBackend();
    await initRepository({ backend, password: 'pw', kdfParams: { N: 1024, r: 8, p: 1 }, version: 2, chunkerPolynomial: TEST_POLYNOMIAL });
    const repo = await Repository.open({ backend, password: 'pw' });
    const controller = new AbortController();
    controller.abort(new ResticError('LOCKED', 'failed to refresh lock in time: simulated'));
    const err = await backup({ repository: repo, paths: [dir], signal: controller.signal, workers: 0 }).catch((e: unknown) => e);
    expect(isResticError(err, 'LOCKED')).toBe(true);
    expect((err as Error).message).toMatch(/failed to refresh lock in time/);
    expect(await repo.listSnapshots()).toEqual([]);
  });
});
