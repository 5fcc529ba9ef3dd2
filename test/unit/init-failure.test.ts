import { describe, expect, it } from 'vitest';
import type { FileType } from '../../src/backend/backend.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { initRepository } from '../../src/repository/init.js';

/** A store that refuses to write the config (full disk, lost connection, a racing init). */
class ConfigWriteFails extends MemoryBackend {
  override async write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    if (type === 'config') throw new Error('disk full');
    return super.write(type, name, data);
  }
}

async function names(backend: MemoryBackend, type: FileType): Promise<string[]> {
  const out: string[] = [];
  for await (const f of backend.list(type)) out.push(f.name);
  return out;
}

describe('init when the config cannot be written', () => {
  it('removes the key it wrote, so a later init is not refused', async () => {
    const backend = new ConfigWriteFails('mem:init');
    await expect(initRepository({ backend, password: 'pw', kdfParams: { N: 1024, r: 8, p: 1 } })).rejects.toThrow('disk full');
    expect(await names(backend, 'key')).toEqual([]);
  });
});
