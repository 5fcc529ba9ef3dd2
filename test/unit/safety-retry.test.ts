/**
 * Retries of writes and deletes whose answer was lost: a repeated write must not report
 * success for a file that is not ours, and a repeated delete must not fail or touch anything else.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { RetryBackend } from '../../src/backend/retry.js';
import { sha256 } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';
import { idFromBytes } from '../../src/format/id.js';
import { FaultBackend } from './safety-support.js';

const bytes = (fill: number, n = 200): Uint8Array => new Uint8Array(n).fill(fill);

function stack(): { memory: MemoryBackend; faults: FaultBackend; retry: (between?: () => Promise<void>) => RetryBackend } {
  const memory = new MemoryBackend();
  const faults = new FaultBackend(memory);
  return {
    memory,
    faults,
    retry: (between) =>
      new RetryBackend(faults, {
        sleep: async () => {
          await between?.();
        },
      }),
  };
}

describe('retried writes', () => {
  it('a config write whose answer was lost succeeds on the retry (it finds its own bytes)', async () => {
    const { memory, faults, retry } = stack();
    faults.rules = [{ op: 'write', type: 'config', nth: 1, when: 'after' }];
    await retry().write('config', 'config', bytes(1));
    expect(await memory.read('config', 'config')).toEqual(bytes(1));
  });

  it('a config of the same size written meanwhile by another init is not taken for ours', async () => {
    const { memory, faults, retry } = stack();
    faults.rules = [{ op: 'write', type: 'config', nth: 1, when: 'before' }];
    const backend = retry(async () => {
      // the other client's init lands between our attempts
      if ((await memory.list('config')[Symbol.asyncIterator]().next()).done) await memory.write('config', 'config', bytes(2));
    });
    const err = await backend.write('config', 'config', bytes(1)).catch((e: unknown) => e);
    expect(isResticError(err, 'ALREADY_EXISTS')).toBe(true);
    expect(await memory.read('config', 'config')).toEqual(bytes(2));
  });

  it('a pack write whose answer was lost succeeds on the retry (its name is its hash)', async () => {
    const { memory, faults, retry } = stack();
    const data = bytes(3, 1000);
    const id = idFromBytes(sha256(data));
    faults.rules = [{ op: 'write', type: 'pack', nth: 1, when: 'after' }];
    await retry().write('pack', id, data);
    expect(await memory.read('pack', id)).toEqual(data);
  });

  it('a first attempt that finds the file already there is refused (never overwritten)', async () => {
    const { memory, retry } = stack();
    await memory.write('config', 'config', bytes(1));
    const err = await retry().write('config', 'config', bytes(1)).catch((e: unknown) => e);
    expect(isResticError(err, 'ALREADY_EXISTS')).toBe(true);
  });
});

describe('retried deletes', () => {
  it('a delete whose answer was lost is repeated harmlessly and removes only that file', async () => {
    const { memory, faults, retry } = stack();
    const a = bytes(4);
    const b = bytes(5);
    const idA = idFromBytes(sha256(a));
    const idB = idFromBytes(sha256(b));
    await memory.write('snapshot', idA, a);
    await memory.write('snapshot', idB, b);
    faults.rules = [{ op: 'remove', type: 'snapshot', nth: 1, when: 'after' }];
    await retry().remove('snapshot', idA);
    expect(memory.paths()).toEqual([`snapshots/${idB}`]);
    expect(faults.removed('snapshot')).toEqual([idA, idA]);
  });
});
