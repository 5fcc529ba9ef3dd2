import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { collect, contentId, describeBackendContract } from './backend-contract.js';

describeBackendContract('MemoryBackend', async () => ({ backend: new MemoryBackend() }));

describe('MemoryBackend helpers', () => {
  it('lists only IDs, copies data, and exposes paths', async () => {
    const be = new MemoryBackend();
    const data = new Uint8Array([1, 2, 3]);
    const id = contentId(data);
    await be.write('pack', id, data);
    await be.write('index', 'not-an-id', data);
    data[0] = 9;
    expect(Array.from(await be.read('pack', id))).toEqual([1, 2, 3]);
    expect(await collect(be.list('index'))).toEqual([]);
    expect(be.paths()).toEqual([`data/${id.slice(0, 2)}/${id}`, 'index/not-an-id']);
    be.corrupt('pack', id, new Uint8Array([7]));
    expect(Array.from(await be.read('pack', id))).toEqual([7]);
  });
});
