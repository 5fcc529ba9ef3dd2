/**
 * Commands that replace a file (write the new one, delete the old one): tag, key passwd,
 * repair snapshots --forget. The old file may only go once the new one reads back; a store
 * that lost or damaged the new file must leave the old one in place.
 */
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { changePassword, removeKey } from '../../src/maintenance/keys.js';
import { repairIndex } from '../../src/maintenance/repair-index.js';
import { repairSnapshots } from '../../src/maintenance/repair-snapshots.js';
import { tagSnapshots } from '../../src/maintenance/tag.js';
import { Repository } from '../../src/repository/repository.js';
import { KDF, PASSWORD, makeFixture } from './safety-support.js';

describe('tag', () => {
  it('a new snapshot file the store lost keeps the old snapshot', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    const entries = await repo.listSnapshots();
    fx.faults.rules = [{ op: 'write', type: 'snapshot', when: 'drop' }];
    const err = await tagSnapshots(repo, entries, { add: ['x'] }).catch((e: unknown) => e);
    expect(isResticError(err, 'FILE_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/new snapshot snapshots\/.* does not read back.*old snapshot was kept/s);
    expect(fx.faults.removed('snapshot')).toEqual([]);
    expect((await repo.listIds('snapshot'))).toEqual(fx.snapshots);
  });

  it('without faults the old snapshot is replaced', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    const result = await tagSnapshots(repo, await repo.listSnapshots(), { add: ['x'] });
    expect(await repo.listIds('snapshot')).toEqual([result.modified[0].newId]);
  });
});

describe('key passwd / remove', () => {
  it('a new key file the store lost keeps the old key (the old password still opens the repository)', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    fx.faults.rules = [{ op: 'write', type: 'key', when: 'drop' }];
    const err = await changePassword(repo, 'new password', { params: KDF }).catch((e: unknown) => e);
    expect(isResticError(err)).toBe(true);
    expect((err as Error).message).toMatch(/new key keys\/.*old key was kept/s);
    expect(fx.faults.removed('key')).toEqual([]);
    fx.faults.rules = [];
    await expect(Repository.open({ backend: fx.faults, password: PASSWORD })).resolves.toBeDefined();
  });

  it('a damaged new key file keeps the old key', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    const write = fx.memory.write.bind(fx.memory);
    fx.memory.write = async (type, name, data) => write(type, name, type === 'key' ? data.map((b, i) => (i === 10 ? b ^ 1 : b)) : data);
    const err = await changePassword(repo, 'new password', { params: KDF }).catch((e: unknown) => e);
    expect(isResticError(err, 'CORRUPT')).toBe(true);
    expect(fx.faults.removed('key')).toEqual([]);
  });

  it('the last key cannot be removed by a repository opened with the master key', async () => {
    const fx = await makeFixture(1);
    const repo = await fx.open();
    const byMasterKey = await Repository.open({ backend: fx.faults, masterKey: repo.masterKey });
    const [only] = await repo.listIds('key');
    const err = await removeKey(byMasterKey, only).catch((e: unknown) => e);
    expect(isResticError(err, 'USAGE')).toBe(true);
    expect((err as Error).message).toMatch(/last key/);
    expect(await repo.listIds('key')).toEqual([only]);
  });
});

describe('repair snapshots --forget', () => {
  it('a repaired snapshot the store lost keeps the damaged original', async () => {
    const fx = await makeFixture(2);
    const repo = await fx.open();
    await repo.loadIndex();
    // lose one data blob's pack so that snapshot 0 needs repair
    const entries = await repo.listSnapshots();
    const own = repo.index.packIds().filter((p) => repo.index.blobsOfPack(p).some((b) => b.type === 'data'));
    await fx.memory.remove('pack', own[0]);
    await repairIndex(await fx.open()); // the index forgets the lost pack: its blobs are now missing
    const fresh = await fx.open();
    fx.faults.rules = [{ op: 'write', type: 'snapshot', when: 'drop' }];
    const err = await repairSnapshots(fresh, entries, { forget: true }).catch((e: unknown) => e);
    expect(isResticError(err)).toBe(true);
    expect((err as Error).message).toMatch(/does not read back.*old snapshot was kept/s);
    expect(fx.faults.removed('snapshot')).toEqual([]);
    expect((await fresh.listIds('snapshot')).sort()).toEqual([...fx.snapshots].sort());
  });
});
