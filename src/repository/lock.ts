/**
 * Repository locks, interoperable with restic (restic-format.md §10).
 *
 * A lock is an encrypted unpacked file in `locks/` with restic's JSON. An exclusive lock
 * conflicts with every other lock; a shared (non-exclusive) one only with exclusive locks.
 * Acquiring: scan the other locks (zero-byte files ignored; unreadable ones retried a few
 * times, then an error), write ours, wait 200 ms, scan again; on a conflict delete ours and
 * fail with LOCKED naming the holder. While held, the lock is refreshed every 5 minutes
 * (a new file with the current time, then the old one deleted), as restic considers locks
 * older than 30 minutes stale. Stale locks are removed only by `unlock`.
 *
 * When refreshes keep failing, the lock may already look stale to others: once no refresh has
 * succeeded for 22.5 minutes (the stale age minus one and a half refresh intervals, as restic)
 * a "stale refresh" is tried — our old file must still exist, a replacement is written, and
 * after the usual wait the old one must still exist (nobody removed it as stale meanwhile).
 * If that fails too, the lock counts as lost: `lost` is aborted with LOCKED "failed to refresh
 * lock in time" and the operation holding it must stop.
 */
import { hostname as osHostname, userInfo } from 'node:os';
import type { Backend } from '../backend/backend.js';
import type { MasterKey } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { saveUnpacked } from './index-writer.js';
import { GoTime } from '../format/gotime.js';
import { shortId, type Id } from '../format/id.js';
import { encodeLock, parseLock, type LockInfo as Lock } from '../format/lock-file.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const LOCK_WAIT_MS = 200;
export const LOCK_REFRESH_MS = 5 * 60 * 1000;
export const STALE_LOCK_MS = 30 * 60 * 1000;
/** No successful refresh for this long: try a stale refresh, else give the lock up (restic: 22.5 min). */
export const REFRESHABILITY_TIMEOUT_MS = STALE_LOCK_MS - (LOCK_REFRESH_MS * 3) / 2;
const LOAD_RETRY_WAITS_MS = [5_000, 10_000, 20_000];

/** How the lock module reads and writes lock files (a Repository provides both). */
export interface LockStore {
  readonly backend: Backend;
  saveUnpacked(type: 'lock', plaintext: Uint8Array): Promise<Id>;
  loadUnpacked(type: 'lock', id: Id): Promise<Uint8Array>;
}

export interface LockOptions {
  exclusive: boolean;
  hostname?: string;
  username?: string;
  pid?: number;
  uid?: number;
  gid?: number;
  now?: () => GoTime;
  /** Between writing our lock and the second scan (restic: 200 ms). */
  waitMs?: number;
  refreshMs?: number;
  /** Waits between scans when a lock file cannot be read (restic: 5, 10, 20 s). */
  loadRetryWaitsMs?: number[];
  /** Keep trying to get the lock for this long (restic's --retry-lock); 0 = fail at once. */
  retryForMs?: number;
  /** Called when a refresh fails; the lock is kept and refreshing goes on until the timeout. */
  onRefreshError?: (err: unknown) => void;
  /** Without a successful refresh for this long the lock is given up unless a stale refresh works (22.5 min). */
  refreshabilityTimeoutMs?: number;
  /** Called once when the lock is lost (also signalled by `RepositoryLock.lost`). */
  onLost?: (err: ResticError) => void;
  /** Monotonic milliseconds for the refresh deadline (tests inject a fake clock). */
  clock?: () => number;
  signal?: AbortSignal;
}

export interface ExistingLock {
  id: Id;
  lock: Lock;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ResticError('INTERRUPTED', 'interrupted while waiting for a lock'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ResticError('INTERRUPTED', 'interrupted while waiting for a lock'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Conflict rule: exclusive vs anything, shared vs exclusive. */
export function conflicts(ours: boolean, theirs: Lock): boolean {
  return ours || theirs.exclusive;
}

/** Stale: older than 30 minutes, or from this host with a process that no longer exists. */
export function isStale(lock: Lock, now: GoTime, thisHost: string, processExists: (pid: number) => boolean = pidExists): boolean {
  const ageMs = Number(now.unixNanos - lock.time.unixNanos) / 1e6;
  if (ageMs > STALE_LOCK_MS) return true;
  if (lock.hostname !== thisHost) return false;
  return !processExists(lock.pid);
}

export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every readable lock except `skip`. Zero-byte files are ignored; unreadable ones are retried, then an error. */
export async function loadLocks(store: LockStore, skip?: Id, retryWaits: number[] = LOAD_RETRY_WAITS_MS, signal?: AbortSignal): Promise<ExistingLock[]> {
  for (let attempt = 0; ; attempt++) {
    const out: ExistingLock[] = [];
    let failure: unknown;
    for await (const f of store.backend.list('lock')) {
      if (f.name === skip || f.size === 0) continue;
      try {
        out.push({ id: f.name, lock: parseLock(await store.loadUnpacked('lock', f.name), f.name) });
      } catch (err) {
        // Removed between list and load: the holder finished; not a problem.
        if (isResticError(err, 'FILE_NOT_FOUND')) continue;
        failure = err;
        break;
      }
    }
    if (failure === undefined) return out;
    if (attempt >= retryWaits.length) {
      const file = isResticError(failure) ? failure.file : undefined;
      throw new ResticError('LOCKED', `invalid lock file${file ? ' ' + file : ''}: ${(failure as Error).message}; remove it with "unlock --remove-all" if no restic process is running`, {
        file,
        cause: failure,
      });
    }
    await sleep(retryWaits[attempt], signal);
  }
}

export class RepositoryLock {
  private timer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private released = false;
  /** Refreshes run one after the other; release waits for the running one. */
  private refreshing: Promise<void> = Promise.resolve();
  private lastRefreshedAt: number;
  private readonly lostController = new AbortController();
  private readonly clock: () => number;
  private readonly timeoutMs: number;

  constructor(
    private readonly store: LockStore,
    private currentId: Id,
    readonly lock: Lock,
    private readonly options: LockOptions,
  ) {
    const every = options.refreshMs ?? LOCK_REFRESH_MS;
    this.clock = options.clock ?? (() => performance.now());
    this.timeoutMs = options.refreshabilityTimeoutMs ?? REFRESHABILITY_TIMEOUT_MS;
    this.lastRefreshedAt = this.clock();
    this.timer = setInterval(() => this.enqueue(() => this.scheduledRefresh()), every);
    this.timer.unref();
  }

  get id(): Id {
    return this.currentId;
  }

  /** Aborted (reason: a LOCKED ResticError) when the lock could not be refreshed in time. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  private enqueue(step: () => Promise<void>): void {
    this.refreshing = this.refreshing.then(step).catch(() => undefined);
  }

  private overdue(): boolean {
    return this.clock() - this.lastRefreshedAt >= this.timeoutMs;
  }

  private async scheduledRefresh(): Promise<void> {
    if (this.released || this.lost.aborted) return;
    // A suspended process (or a long run of failures) may wake up past the deadline: then the
    // old file may have been removed as stale, and a plain refresh would not notice.
    if (this.overdue()) return this.staleRefreshOrGiveUp();
    try {
      await this.refresh();
    } catch (err) {
      this.options.onRefreshError?.(err);
      this.armDeadline();
    }
  }

  /** After a failed refresh: at the deadline, try the stale refresh unless a refresh succeeded since. */
  private armDeadline(): void {
    if (this.deadlineTimer) return;
    const wait = Math.max(0, this.lastRefreshedAt + this.timeoutMs - this.clock());
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      this.enqueue(async () => {
        if (this.released || this.lost.aborted) return;
        if (this.overdue()) await this.staleRefreshOrGiveUp();
        else this.armDeadline();
      });
    }, wait);
    this.deadlineTimer.unref();
  }

  private async staleRefreshOrGiveUp(): Promise<void> {
    try {
      await this.staleRefresh();
    } catch (err) {
      if (this.released) return;
      const reason = err instanceof Error ? err.message : String(err);
      const lostErr = new ResticError('LOCKED', `failed to refresh lock in time: ${reason}`, { file: `locks/${this.currentId}`, cause: err });
      if (this.timer) clearInterval(this.timer);
      this.lostController.abort(lostErr);
      this.options.onLost?.(lostErr);
    }
  }

  /** Writes a new lock file with the current time, then deletes the previous one. */
  async refresh(): Promise<void> {
    if (this.released) return;
    const now = (this.options.now ?? GoTime.now)();
    const fresh: Lock = { ...this.lock, time: now };
    const newId = await this.store.saveUnpacked('lock', utf8(encodeLock(fresh)));
    const old = this.currentId;
    this.currentId = newId;
    this.lastRefreshedAt = this.clock();
    await this.store.backend.remove('lock', old);
  }

  /**
   * Refresh of a lock others may already consider stale: only valid while our old file still
   * exists before and (after the usual wait) after the replacement is written; otherwise some
   * `unlock` or prune may have removed it and acted as if we were gone.
   */
  async staleRefresh(): Promise<void> {
    const old = this.currentId;
    const removedError = () => new ResticError('LOCKED', `lock file ${shortId(old)} was removed in the meantime`, { file: `locks/${old}` });
    if (!(await this.lockFileExists(old))) throw removedError();
    const now = (this.options.now ?? GoTime.now)();
    const newId = await this.store.saveUnpacked('lock', utf8(encodeLock({ ...this.lock, time: now })));
    let stillThere: boolean;
    try {
      await sleep(this.options.waitMs ?? LOCK_WAIT_MS, this.options.signal);
      stillThere = await this.lockFileExists(old);
    } catch (err) {
      await this.store.backend.remove('lock', newId).catch(() => undefined);
      throw err;
    }
    if (!stillThere) {
      await this.store.backend.remove('lock', newId).catch(() => undefined);
      throw removedError();
    }
    this.currentId = newId;
    this.lastRefreshedAt = this.clock();
    await this.store.backend.remove('lock', old);
  }

  private async lockFileExists(id: Id): Promise<boolean> {
    try {
      await this.store.backend.stat('lock', id);
      return true;
    } catch (err) {
      if (isResticError(err, 'FILE_NOT_FOUND')) return false;
      throw err;
    }
  }

  /** Stops refreshing and deletes the lock file. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    await this.refreshing;
    await this.store.backend.remove('lock', this.currentId).catch((err: unknown) => {
      // A lost lock's file may have been removed by someone else already.
      if (!(this.lost.aborted && isResticError(err, 'FILE_NOT_FOUND'))) throw err;
    });
  }
}

export function newLock(options: LockOptions): Lock {
  let user: { username: string; uid: number; gid: number } = { username: '', uid: -1, gid: -1 };
  try {
    user = userInfo();
  } catch {
    // no passwd entry: leave the name empty like restic
  }
  const uid = options.uid ?? (user.uid >= 0 ? user.uid : 0);
  const gid = options.gid ?? (user.gid >= 0 ? user.gid : 0);
  return {
    time: (options.now ?? GoTime.now)(),
    exclusive: options.exclusive,
    hostname: options.hostname ?? osHostname(),
    username: options.username ?? user.username,
    pid: options.pid ?? process.pid,
    uid,
    gid,
  };
}

async function tryAcquire(store: LockStore, options: LockOptions): Promise<RepositoryLock> {
  const exclusive = options.exclusive;
  const firstConflict = (locks: ExistingLock[]) => locks.find((l) => conflicts(exclusive, l.lock));
  const before = firstConflict(await loadLocks(store, undefined, options.loadRetryWaitsMs, options.signal));
  if (before) throw lockedError(before);
  const lock = newLock(options);
  const id = await store.saveUnpacked('lock', utf8(encodeLock(lock)));
  try {
    await sleep(options.waitMs ?? LOCK_WAIT_MS, options.signal);
    const after = firstConflict(await loadLocks(store, id, options.loadRetryWaitsMs, options.signal));
    if (after) throw lockedError(after);
  } catch (err) {
    await store.backend.remove('lock', id).catch(() => undefined);
    throw err;
  }
  return new RepositoryLock(store, id, lock, options);
}

function lockedError(l: ExistingLock): ResticError {
  const { lock } = l;
  const ago = Math.max(0, Number(GoTime.now().unixNanos - lock.time.unixNanos) / 1e9);
  return new ResticError(
    'LOCKED',
    `repository is already locked ${lock.exclusive ? 'exclusively ' : ''}by PID ${lock.pid} on ${lock.hostname} by ${lock.username} (UID ${lock.uid ?? 0}, GID ${lock.gid ?? 0})\n` +
      `lock was created at ${lock.time.toString()} (${ago.toFixed(1)}s ago)\nstorage ID ${shortId(l.id)}\nthe \`unlock\` command can be used to remove stale locks`,
    { file: `locks/${l.id}` },
  );
}

/** Takes a lock, retrying with back-off (5 s doubling to 60 s) while `retryForMs` lasts. */
export async function acquireLock(store: LockStore, options: LockOptions): Promise<RepositoryLock> {
  const deadline = Date.now() + (options.retryForMs ?? 0);
  let wait = 5_000;
  for (;;) {
    try {
      return await tryAcquire(store, options);
    } catch (err) {
      if (!isResticError(err, 'LOCKED') || Date.now() + wait > deadline) throw err;
      await sleep(wait, options.signal);
      wait = Math.min(wait * 2, 60_000);
    }
  }
}

export interface UnlockResult {
  removed: Id[];
}

/** restic's `unlock`: removes stale locks, or every lock with `removeAll`. */
export async function removeLocks(store: LockStore, options: { removeAll?: boolean; hostname?: string; now?: GoTime; processExists?: (pid: number) => boolean } = {}): Promise<UnlockResult> {
  const removed: Id[] = [];
  if (options.removeAll) {
    const ids: Id[] = [];
    for await (const f of store.backend.list('lock')) ids.push(f.name);
    for (const id of ids) {
      await store.backend.remove('lock', id);
      removed.push(id);
    }
    return { removed };
  }
  const now = options.now ?? GoTime.now();
  const host = options.hostname ?? osHostname();
  for (const l of await loadLocks(store, undefined, [])) {
    if (isStale(l.lock, now, host, options.processExists)) {
      await store.backend.remove('lock', l.id);
      removed.push(l.id);
    }
  }
  return { removed };
}

/** A LockStore over an open repository (its backend, master key and version). */
export function lockStoreFor(repo: {
  backend: Backend;
  masterKey: MasterKey;
  config: { version: number };
  loadUnpacked(type: 'lock', id: Id): Promise<Uint8Array>;
}): LockStore {
  return {
    backend: repo.backend,
    saveUnpacked: (type, json) => saveUnpacked(repo, type, json),
    loadUnpacked: (type, id) => repo.loadUnpacked(type, id),
  };
}
