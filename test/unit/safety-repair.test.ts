/**
 * repair snapshots / repair index must tell "damaged" from "could not read right now": a
 * server error or a permission problem must abort before anything is deleted, never empty a
 * directory, delete a snapshot, or drop a pack from the index (which the next prune would
 * then delete as unreferenced).
 */
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { planPrune } from '../../src/maintenance/prune.js';
import { repairIndex } from '../../src/maintenance/repair-index.js';
import { repairSnapshots } from '../../src/maintenance/repair-snapshots.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { makeFixture, permissionError, serverError } from './safety-support.js';

describe('repair snapshots under read failures', () => {
  for (const [what, error] of [
    ['a server error', serverError],
    ['a permission error', permissionError],
  ] as const) {
    it(`${what} on the pack holding the root tree aborts: no snapshot deleted, nothing written`, async () => {
      const fx = await makeFixture(2);
      const repo = await fx.open();
      await repo.loadIndex();
      const entries = await repo.listSnapshots();
      const entry = entries.find((e) => e.id === fx.snapshots[0])!;
      const rootPack = repo.index.lookup('tree', entry.snapshot.tree)[0].packId;
      const before = fx.memory.paths();
      fx.faults.rules = [{ op: 'read', type: 'pack', name: rootPack, error }];
      const err = await repairSnapshots(repo, entries, { forget: true }).catch((e: unknown) => e);
      expect(isResticError(err)).toBe(true);
      expect(fx.faults.removed('snapshot')).toEqual([]);
      expect(fx.memory.paths()).toEqual(before);
    });
  }

  it('a tree that is really missing is still repaired (the damaged snapshot stays without --forget)', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    await repo.loadIndex();
    const entries = await repo.listSnapshots();
    const rootPack = repo.index.lookup('tree', entries[0].snapshot.tree)[0].packId;
    await fx.memory.remove('pack', rootPack);
    const result = await repairSnapshots(repo, entries);
    // root unreadable: restic removes the snapshot
    expect(result.modified).toEqual([fx.snapshots[0]]);
    expect(fx.faults.removed('snapshot')).toEqual([fx.snapshots[0]]);
  });
});

describe('repair index under read failures', () => {
  for (const [what, error] of [
    ['a server error', serverError],
    ['a permission error', permissionError],
  ] as const) {
    it(`${what} reading a pack header aborts before any old index file is deleted`, async () => {
      const fx = await makeFixture(2);
      const repo = await fx.open();
      const packs: string[] = [];
      for await (const f of fx.memory.list('pack')) packs.push(f.name);
      const before = fx.memory.paths();
      fx.faults.rules = [{ op: 'read', type: 'pack', name: packs[0], error }];
      const err = await repairIndex(repo, { readAllPacks: true }).catch((e: unknown) => e);
      expect(isResticError(err)).toBe(true);
      expect(fx.faults.removed('index')).toEqual([]);
      // every pack is still indexed by the old files: nothing became unreferenced
      expect(fx.memory.paths().filter((p) => p.startsWith('data/') || p.startsWith('index/'))).toEqual(
        before.filter((p) => p.startsWith('data/') || p.startsWith('index/')),
      );
    });

    it(`${what} reading an index file aborts instead of deleting it as "damaged"`, async () => {
      const fx = await makeFixture(2);
      const repo = await fx.open();
      const indexFiles: string[] = [];
      for await (const f of fx.memory.list('index')) indexFiles.push(f.name);
      fx.faults.rules = [{ op: 'read', type: 'index', name: indexFiles[0], error }];
      await expect(repairIndex(repo)).rejects.toSatisfy(isResticError);
      expect(fx.faults.removed('index')).toEqual([]);
    });
  }

  it('a pack the listing misses but that exists stays indexed (a lagging listing must not orphan it)', async () => {
    const fx = await makeFixture(2);
    const packs: string[] = [];
    for await (const f of fx.memory.list('pack')) packs.push(f.name);
    const hidden = packs[0];
    fx.faults.hiddenFromList.add(hidden);
    const repo = await fx.open();
    const result = await repairIndex(repo);
    expect(result.missingPacks).toEqual([]);
    expect(repo.index.hasPack(hidden)).toBe(true);
    // and a prune planned now does not take it for unreferenced
    fx.faults.hiddenFromList.clear();
    const fresh = await fx.open();
    await fresh.loadIndex();
    const plan = await planPrune(fresh);
    expect(plan.removePacksFirst.has(hidden)).toBe(false);
    const check = await checkRepository(fresh, { readData: { kind: 'all' } });
    expect(check.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(check.errors).toBe(0);
  });

  it('a pack whose header is really damaged is still left out (restic does the same)', async () => {
    const fx = await makeFixture(1);
    const packs: { name: string; size: number }[] = [];
    for await (const f of fx.memory.list('pack')) packs.push(f);
    fx.memory.corrupt('pack', packs[0].name, new Uint8Array(packs[0].size));
    const repo = await fx.open();
    const result = await repairIndex(repo, { readAllPacks: true });
    expect(result.damagedPacks).toEqual([packs[0].name]);
  });

  it('a new index file the store lost keeps every old index file', async () => {
    const fx = await makeFixture(2);
    const repo = await fx.open();
    const before = (await repo.listIds('index')).sort();
    fx.faults.rules = [{ op: 'write', type: 'index', nth: 1, when: 'drop' }];
    const err = await repairIndex(repo, { readAllPacks: true }).catch((e: unknown) => e);
    expect(isResticError(err, 'FILE_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/new index file index\/.* does not read back.*no old index file was deleted/s);
    expect(fx.faults.removed('index')).toEqual([]);
    expect((await repo.listIds('index')).sort()).toEqual(before);
  });
});
