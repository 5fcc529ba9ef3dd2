/**
 * Prune's crash safety and partial failures on the in-memory backend with fault injection:
 * a crash after any durable step leaves a repository that checks clean (read-data) and whose
 * snapshots all read; a failed index deletion stops before any pack goes; a pack the store
 * lost is noticed before anything old is deleted; a dry run writes nothing.
 */
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { sha256 } from '../../src/crypto/index.js';
import { idFromBytes, type Id } from '../../src/format/id.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { removeSnapshots } from '../../src/maintenance/forget.js';
import { planPrune, type PrunePlan } from '../../src/maintenance/prune.js';
import { applyPrunePlan, type PruneStep } from '../../src/maintenance/prune-apply.js';
import { backupTree } from '../../src/archiver/archiver.js';
import { streamFileContent, walkTree } from '../../src/restorer/walker.js';
import type { Repository } from '../../src/repository/repository.js';
import { makeFixture, type SafetyFixture } from './safety-support.js';

/** A fixture where prune has to delete unreferenced, unused and repacked packs. */
async function pruneFixture(): Promise<{ fx: SafetyFixture; kept: Id[] }> {
  const fx = await makeFixture(3);
  const repo = await fx.open();
  await removeSnapshots(repo, [fx.snapshots[0]]);
  // an unreferenced file in data/ (what a backup that crashed before its index leaves)
  const junk = new Uint8Array(64).fill(7);
  await fx.memory.write('pack', idFromBytes(sha256(junk)), junk);
  return { fx, kept: fx.snapshots.slice(1) };
}

async function plan(repo: Repository): Promise<PrunePlan> {
  await repo.loadIndex();
  return planPrune(repo, { maxUnused: { kind: 'bytes', bytes: 0 } });
}

/** Every remaining snapshot's files read back completely; check --read-data finds no error. */
async function expectIntact(fx: SafetyFixture, snapshots: Id[]): Promise<void> {
  const repo = await fx.open();
  await repo.loadIndex();
  const result = await checkRepository(repo, { readData: { kind: 'all' } });
  expect(result.findings.filter((f) => f.severity === 'error')).toEqual([]);
  expect(result.errors).toBe(0);
  for (const id of snapshots) {
    const { snapshot } = await repo.loadSnapshot(id);
    let files = 0;
    for await (const entry of walkTree(repo, snapshot.tree)) {
      if (entry.node.type !== 'file') continue;
      let n = 0n;
      for await (const chunk of streamFileContent(repo, entry.node)) n += BigInt(chunk.length);
      expect(n).toBe(entry.node.size);
      files++;
    }
    expect(files).toBe(3);
  }
}

class Crash extends Error {}

describe('prune: crash after every durable step', () => {
  it('the fixture makes prune delete unreferenced, unused and repacked packs', async () => {
    const { fx } = await pruneFixture();
    const p = await plan(await fx.open());
    expect(p.removePacksFirst.size).toBe(1);
    expect(p.repackPacks.size + p.removePacks.size).toBeGreaterThan(0);
    expect(p.repackPacks.size).toBeGreaterThan(0);
  });

  const steps: PruneStep[] = [
    'unreferenced-pack-deleted',
    'new-pack-written',
    'repacked',
    'index-file-written',
    'index-written',
    'old-index-file-deleted',
    'old-index-deleted',
    'pack-deleted',
  ];
  for (const at of steps) {
    it(`crash after ${at}: repository intact, and a second prune finishes cleanly`, async () => {
      const { fx, kept } = await pruneFixture();
      const repo = await fx.open();
      const p = await plan(repo);
      let reached = false;
      const err = await applyPrunePlan(repo, p, {
        onStep: (s) => {
          if (s === at) {
            reached = true;
            throw new Crash(at);
          }
        },
      }).catch((e: unknown) => e);
      expect(reached).toBe(true);
      expect(err).toBeInstanceOf(Crash);
      await expectIntact(fx, kept);
      const again = await fx.open();
      await applyPrunePlan(again, await plan(again));
      await expectIntact(fx, kept);
      const last = await fx.open();
      const rest = await plan(last);
      expect(rest.removePacksFirst.size + rest.removePacks.size + rest.repackPacks.size).toBe(0);
    });
  }
});

describe('prune: partial failures', () => {
  it('an old index file that cannot be deleted stops prune before any pack is deleted', async () => {
    const { fx, kept } = await pruneFixture();
    const repo = await fx.open();
    const p = await plan(repo);
    fx.faults.rules = [{ op: 'remove', type: 'index', nth: 1 }];
    const err = await applyPrunePlan(repo, p).catch((e: unknown) => e);
    expect(isResticError(err, 'FATAL')).toBe(true);
    expect((err as Error).message).toMatch(/unable to remove 1 obsolete index file.*no pack was deleted/s);
    const goneAfterIndex = [...p.removePacks, ...p.repackPacks];
    expect(fx.faults.removed('pack').filter((id) => goneAfterIndex.includes(id))).toEqual([]);
    fx.faults.rules = [];
    await expectIntact(fx, kept);
    const again = await fx.open();
    await applyPrunePlan(again, await plan(again));
    await expectIntact(fx, kept);
  });

  it('a new pack the store silently lost is noticed before any old index file or pack is deleted', async () => {
    const { fx, kept } = await pruneFixture();
    const repo = await fx.open();
    const p = await plan(repo);
    fx.faults.rules = [{ op: 'write', type: 'pack', nth: 1, when: 'drop' }];
    const err = await applyPrunePlan(repo, p).catch((e: unknown) => e);
    expect(isResticError(err)).toBe(true);
    expect((err as Error).message).toMatch(/new pack data\/.* cannot be found after it was written.*nothing was deleted/s);
    expect(fx.faults.removed('index')).toEqual([]);
    const goneAfterIndex = [...p.removePacks, ...p.repackPacks];
    expect(fx.faults.removed('pack').filter((id) => goneAfterIndex.includes(id))).toEqual([]);
    // every kept snapshot still reads completely (from the old packs)
    fx.faults.rules = [];
    const reader = await fx.open();
    await reader.loadIndex();
    for (const id of kept) {
      const { snapshot } = await reader.loadSnapshot(id);
      for await (const entry of walkTree(reader, snapshot.tree)) {
        if (entry.node.type === 'file') for await (const _ of streamFileContent(reader, entry.node)) void _;
      }
    }
  });

  it('a new index file that does not read back stops prune before the old ones are deleted', async () => {
    const { fx } = await pruneFixture();
    const repo = await fx.open();
    const p = await plan(repo);
    // the first index file written from now on is damaged in storage
    const origWrite = fx.memory.write.bind(fx.memory);
    let damaged = false;
    fx.memory.write = async (type, name, data) => {
      if (type === 'index' && !damaged) {
        damaged = true;
        const bad = data.slice();
        bad[bad.length - 1] ^= 1;
        return origWrite(type, name, bad);
      }
      return origWrite(type, name, data);
    };
    const err = await applyPrunePlan(repo, p).catch((e: unknown) => e);
    expect(isResticError(err)).toBe(true);
    expect((err as Error).message).toMatch(/new index file index\/.* does not read back.*nothing was deleted/s);
    expect(fx.faults.removed('index')).toEqual([]);
    expect(fx.faults.removed('pack').filter((id) => p.removePacks.has(id) || p.repackPacks.has(id))).toEqual([]);
  });

  it('planning (a dry run) writes and deletes nothing', async () => {
    const { fx } = await pruneFixture();
    const before = fx.memory.paths();
    fx.faults.calls.length = 0;
    await plan(await fx.open());
    expect(fx.faults.calls.filter((c) => c.op === 'write' || c.op === 'remove')).toEqual([]);
    expect(fx.memory.paths()).toEqual(before);
  });

  it('an index file that appears while prune runs (a concurrent backup) stops it before any pack is deleted', async () => {
    const { fx, kept } = await pruneFixture();
    const repo = await fx.open();
    const p = await plan(repo);
    let concurrent: Id | undefined;
    const err = await applyPrunePlan(repo, p, {
      onStep: async (s) => {
        if (s !== 'repacked') return;
        // another client, without regard for our lock, backs up data prune is about to repack
        const other = await fx.open();
        const r = await backupTree({ again: { type: 'file', content: 'snapshot 1 only\n'.repeat(201) } }, { repository: other, hostname: 'other', workers: 0 });
        concurrent = r.snapshotId;
      },
    }).catch((e: unknown) => e);
    expect(isResticError(err, 'FATAL')).toBe(true);
    expect((err as Error).message).toMatch(/appeared while prune ran.*stopped before deleting packs/s);
    expect(fx.faults.removed('pack').filter((id) => p.removePacks.has(id) || p.repackPacks.has(id))).toEqual([]);
    await expectIntact(fx, kept);
    expect(concurrent).toBeDefined();
  });

  it('a backup the listings missed when prune planned (index and snapshot) stops it before its packs are deleted as unreferenced', async () => {
    const { fx, kept } = await pruneFixture();
    const indexBefore = new Set(await (await fx.open()).listIds('index'));
    const r = await backupTree({ late: { type: 'file', content: 'written just before prune\n'.repeat(300) } }, { repository: await fx.open(), hostname: 'late', workers: 0 });
    const late = r.snapshotId as Id;
    const lateIndex = (await (await fx.open()).listIds('index')).filter((id) => !indexBefore.has(id));
    fx.faults.hiddenFromList = new Set([late, ...lateIndex]);
    const repo = await fx.open();
    const p = await plan(repo);
    expect(p.removePacksFirst.size).toBeGreaterThan(1); // the late backup's packs look unreferenced
    fx.faults.hiddenFromList.clear();
    const err = await applyPrunePlan(repo, p).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/appeared while prune ran/);
    expect(fx.faults.removed('pack')).toEqual([]);
    await expectIntact(fx, kept);
    const reader = await fx.open();
    const { snapshot } = await reader.loadSnapshot(late);
    for await (const entry of walkTree(reader, snapshot.tree)) {
      if (entry.node.type === 'file') for await (const _ of streamFileContent(reader, entry.node)) void _;
    }
  });

  it('an aborted signal stops apply before its next write or delete (the CLI releases the lock on interrupt)', async () => {
    const { fx, kept } = await pruneFixture();
    const repo = await fx.open();
    const p = await plan(repo);
    const controller = new AbortController();
    let after = 0;
    const err = await applyPrunePlan(repo, p, {
      signal: controller.signal,
      onStep: (s) => {
        if (s === 'new-pack-written') {
          controller.abort();
          after = fx.faults.calls.length;
        }
      },
    }).catch((e: unknown) => e);
    expect(isResticError(err, 'INTERRUPTED')).toBe(true);
    expect(fx.faults.calls.slice(after).filter((c) => c.op === 'write' || c.op === 'remove')).toEqual([]);
    await expectIntact(fx, kept);
  });
});
