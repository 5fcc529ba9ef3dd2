/**
 * The Backend contract as a reusable test suite: every backend (memory, local, S3) runs it.
 * Not a test file itself; the backend test files call `describeBackendContract`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, FileInfo, FileType } from '../../src/backend/backend.js';
import { isResticError, type ErrorCode } from '../../src/errors.js';

export function contentId(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function collect(it: AsyncIterable<FileInfo>): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const f of it) out.push(f);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function expectError(p: Promise<unknown>, code: ErrorCode, message?: RegExp | string): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${code} error`).toBeInstanceOf(Error);
  if (!isResticError(caught, code)) throw caught;
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
  return caught as Error;
}

export interface BackendFixture {
  backend: Backend;
  cleanup?: () => Promise<void> | void;
}

export function describeBackendContract(label: string, make: () => Promise<BackendFixture>): void {
  describe(`${label}: Backend contract`, () => {
    let fx: BackendFixture;
    let be: Backend;
    beforeAll(async () => {
      fx = await make();
      be = fx.backend;
      await be.create();
    });
    afterAll(async () => {
      await be?.close();
      await fx?.cleanup?.();
    });

    it('writes, stats, reads and lists every file type', async () => {
      const written = new Map<FileType, FileInfo[]>();
      for (const type of ['key', 'snapshot', 'index', 'lock', 'pack'] as FileType[]) {
        const infos: FileInfo[] = [];
        for (let i = 0; i < 3; i++) {
          const data = randomBytes(10 + i * 100);
          const name = contentId(data);
          await be.write(type, name, data);
          infos.push({ name, size: data.length });
          expect(await be.stat(type, name)).toEqual({ name, size: data.length });
          expect(Buffer.from(await be.read(type, name)).equals(data)).toBe(true);
        }
        written.set(type, infos.sort((a, b) => (a.name < b.name ? -1 : 1)));
      }
      for (const [type, infos] of written) expect(await collect(be.list(type))).toEqual(infos);
      const config = Buffer.from('config bytes');
      expect(await collect(be.list('config'))).toEqual([]);
      await be.write('config', 'config', config);
      expect(await collect(be.list('config'))).toEqual([{ name: 'config', size: config.length }]);
      expect(Buffer.from(await be.read('config', 'config')).equals(config)).toBe(true);
    });

    it('stores an empty file', async () => {
      const data = new Uint8Array(0);
      const name = contentId(Buffer.from('empty-file-marker'));
      await be.write('index', name, data);
      expect((await be.read('index', name)).length).toBe(0);
      expect(await be.stat('index', name)).toEqual({ name, size: 0 });
      await be.remove('index', name);
    });

    it('never overwrites: a second write fails with ALREADY_EXISTS and keeps the first bytes', async () => {
      const first = randomBytes(64);
      const name = contentId(first);
      await be.write('snapshot', name, first);
      const err = await expectError(be.write('snapshot', name, randomBytes(64)), 'ALREADY_EXISTS', `snapshots/${name}`);
      expect((err as { file?: string }).file).toBe(`snapshots/${name}`);
      expect(Buffer.from(await be.read('snapshot', name)).equals(first)).toBe(true);
    });

    it('lets exactly one of two concurrent writers of the same name win', async () => {
      const name = contentId(randomBytes(32));
      const results = await Promise.allSettled([be.write('lock', name, randomBytes(50)), be.write('lock', name, randomBytes(50))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(isResticError(rejected.reason, 'ALREADY_EXISTS')).toBe(true);
    });

    it('reads byte ranges, and a range past the end is CORRUPT naming the file', async () => {
      const data = randomBytes(1000);
      const name = contentId(data);
      await be.write('pack', name, data);
      const file = `data/${name.slice(0, 2)}/${name}`;
      expect(Buffer.from(await be.read('pack', name, { offset: 0, length: 10 })).equals(data.subarray(0, 10))).toBe(true);
      expect(Buffer.from(await be.read('pack', name, { offset: 990, length: 10 })).equals(data.subarray(990))).toBe(true);
      expect(Buffer.from(await be.read('pack', name, { offset: 500, length: 123 })).equals(data.subarray(500, 623))).toBe(true);
      expect((await be.read('pack', name, { offset: 1000, length: 0 })).length).toBe(0);
      await expectError(be.read('pack', name, { offset: 995, length: 10 }), 'CORRUPT', new RegExp(`${file}.*truncated`));
      await expectError(be.read('pack', name, { offset: 2000, length: 1 }), 'CORRUPT', new RegExp(`${file}.*truncated`));
    });

    it('reports a missing file as FILE_NOT_FOUND naming it', async () => {
      const name = contentId(randomBytes(8));
      await expectError(be.read('index', name), 'FILE_NOT_FOUND', `index/${name}`);
      await expectError(be.read('pack', name, { offset: 0, length: 4 }), 'FILE_NOT_FOUND', `data/${name.slice(0, 2)}/${name}`);
      await expectError(be.stat('key', name), 'FILE_NOT_FOUND', `keys/${name}`);
    });

    it('removes files, and removing a missing file is not an error', async () => {
      const data = randomBytes(20);
      const name = contentId(data);
      await be.write('lock', name, data);
      await be.remove('lock', name);
      await expectError(be.stat('lock', name), 'FILE_NOT_FOUND');
      expect((await collect(be.list('lock'))).map((f) => f.name)).not.toContain(name);
      await be.remove('lock', name);
      await be.remove('pack', contentId(randomBytes(4)));
    });
  });
}
