import { describe, expect, it } from 'vitest';
import { settleOrGiveUp } from '../../src/cli/main.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('interrupting a command', () => {
  it('waits for the command to stop before the caller may release its lock', async () => {
    const controller = new AbortController();
    let stopped = false;
    const work = (async () => {
      await sleep(50);
      stopped = true;
      throw new Error('stopped at its next step');
    })();
    controller.abort();
    await expect(settleOrGiveUp(work, controller.signal, 1000)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(stopped).toBe(true);
  });

  it('gives up after the grace period, so the caller can leave the lock in place', async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => {});
    controller.abort();
    await expect(settleOrGiveUp(never, controller.signal, 30)).resolves.toBe('still-running');
  });

  it('passes results and errors through when nothing is interrupted', async () => {
    const signal = new AbortController().signal;
    await expect(settleOrGiveUp(Promise.resolve(7), signal, 10)).resolves.toBe(7);
    await expect(settleOrGiveUp(Promise.reject(new Error('x')), signal, 10)).rejects.toThrow('x');
  });
});
