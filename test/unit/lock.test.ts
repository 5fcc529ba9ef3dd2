import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { generateMasterKey, open } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';
import { GoTime } from '../../src/format/gotime.js';
import { parseLock } from '../../src/format/lock-file.js';
import { decodeUnpacked } from '../../src/repository/unpacked.js';
import { saveUnpacked } from '../../src/repository/index-writer.js';
import { acquireLock, isStale, removeLocks, type LockStore } from '../../src/repository/lock.js';

function store(): LockStore & { backend: MemoryBackend } {
  const backend = new MemoryBackend();
  const target = { backend, masterKey: generateMasterKey(), config: { version: 2 } };
  return {
    backend,
    saveUnpacked: (type, json) => saveUnpacked(target, type, json),
    loadUnpacked: async (type, id) => decodeUnpacked(open(target.masterKey, await backend.read(type, id), id), id),
  };
}

async function lockIds(s: LockStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const f of s.backend.list('lock')) ids.push(f.name);
  return ids;
}

const fast = { waitMs: 1, loadRetryWaitsMs: [] as number[] };

describe('locks', () => {
  it('writes restic lock JSON and removes it on release', async () => {
    const s = store();
    const l = await acquireLock(s, { exclusive: false, hostname: 'h', username: 'u', pid: 42, ...fast });
    const ids = await lockIds(s);
    expect(ids).toEqual([l.id]);
    const info = parseLock(await s.loadUnpacked('lock', l.id));
    expect(info).toMatchObject({ exclusive: false, hostname: 'h', username: 'u', pid: 42 });
    await l.release();
    expect(await lockIds(s)).toEqual([]);
  });

  it('shared locks coexist; exclusive conflicts both ways and names the holder', async () => {
    const s = store();
    const a = await acquireLock(s, { exclusive: false, ...fast });
    const b = await acquireLock(s, { exclusive: false, ...fast });
    const err = await acquireLock(s, { exclusive: true, ...fast }).catch((e: unknown) => e);
    expect(isResticError(err, 'LOCKED')).toBe(true);
    expect(String((err as Error).message)).toMatch(/already locked by PID/);
    await a.release();
    await b.release();
    const x = await acquireLock(s, { exclusive: true, hostname: 'other', pid: 7, ...fast });
    const err2 = await acquireLock(s, { exclusive: false, ...fast }).catch((e: unknown) => e);
    expect(isResticError(err2, 'LOCKED')).toBe(true);
    expect(String((err2 as Error).message)).toMatch(/locked exclusively by PID 7 on other/);
    expect(await lockIds(s)).toEqual([x.id]); // the failed attempt left nothing behind
    await x.release();
  });

  it('ignores zero-byte lock files', async () => {
    const s = store();
    await s.backend.write('lock', 'a'.repeat(64), new Uint8Array(0));
    const l = await acquireLock(s, { exclusive: true, ...fast });
    await l.release();
  });

  it('refresh replaces the lock file', async () => {
    const s = store();
    const l = await acquireLock(s, { exclusive: false, ...fast });
    const first = l.id;
    await l.refresh();
    expect(l.id).not.toBe(first);
    expect(await lockIds(s)).toEqual([l.id]);
    await l.release();
  });

  it('stale detection and unlock', async () => {
    const now = GoTime.now();
    const old = { time: now.addSeconds(-31 * 60), exclusive: false, hostname: 'x', username: 'u', pid: 1 };
    expect(isStale(old, now, 'y')).toBe(true);
    expect(isStale({ ...old, time: now }, now, 'y')).toBe(false);
    expect(isStale({ ...old, time: now, hostname: 'y', pid: 999999999 }, now, 'y', () => false)).toBe(true);
    expect(isStale({ ...old, time: now, hostname: 'y', pid: process.pid }, now, 'y')).toBe(false);

    const s = store();
    const live = await acquireLock(s, { exclusive: false, ...fast });
    const dead = await acquireLock(s, { exclusive: false, pid: 999999, ...fast });
    const r = await removeLocks(s, { processExists: (pid) => pid !== 999999 });
    expect(r.removed).toEqual([dead.id]);
    const all = await removeLocks(s, { removeAll: true });
    expect(all.removed).toEqual([live.id]);
  });

  it('an unreadable lock file is an error naming it', async () => {
    const s = store();
    await s.backend.write('lock', 'b'.repeat(64), new Uint8Array(100));
    const err = await acquireLock(s, { exclusive: false, ...fast }).catch((e: unknown) => e);
    expect(isResticError(err, 'LOCKED')).toBe(true);
    expect(String((err as Error).message)).toMatch(/invalid lock file/);
  });
});
