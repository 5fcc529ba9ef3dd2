/**
 * The library API as a user sees it (imports from src/index.ts, the package entry), on the
 * example repository shipped in fixtures/ (made by restic 0.14): open, list and filter
 * snapshots, resolve `latest` and `<id>:<subpath>`, walk a tree, stream a file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Repository,
  matchesFilter,
  openBackend,
  pathText,
  shortId,
  streamFileContent,
  walkTree,
  type Snapshot,
} from '../../src/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const location = resolve(root, 'fixtures', 'example-repo');
const password = readFileSync(resolve(root, 'fixtures', 'example-repo.password'), 'utf8').trim();

describe('library API on fixtures/example-repo', () => {
  it('opens, lists, resolves and reads like the README example', async () => {
    const events: string[] = [];
    const repo = await Repository.open({ backend: await openBackend(location), password, onProgress: (e) => events.push(e.phase) });
    try {
      expect(repo.config.version).toBe(2);
      expect(events).toContain('key');

      const snapshots = await repo.listSnapshots();
      expect(snapshots).toHaveLength(3);
      const laptop = snapshots.filter((e) => matchesFilter(e.snapshot, { hosts: ['laptop'], tags: [['daily']] }));
      expect(laptop).toHaveLength(2);

      const latest = await repo.findSnapshot('latest', { hosts: ['laptop'] });
      const byTime = (a: Snapshot, b: Snapshot): number => a.time.compare(b.time);
      expect(latest.snapshot.time.toString()).toBe(laptop.map((e) => e.snapshot).sort(byTime)[1].time.toString());
      expect(latest.snapshot.tags).toEqual(['daily', 'important']);

      const sub = await repo.findSnapshot(`${shortId(latest.id)}:/tmp/restic-ts-example/home/docs`);
      const names: string[] = [];
      let shopping: Uint8Array | undefined;
      for await (const entry of walkTree(repo, sub.tree)) {
        names.push(pathText(entry.path));
        if (entry.node.nameText === 'shopping.txt') {
          const chunks: Uint8Array[] = [];
          for await (const chunk of streamFileContent(repo, entry.node)) chunks.push(chunk);
          shopping = Buffer.concat(chunks);
        }
      }
      expect(names).toEqual(['/empty', '/hello.txt', '/link-to-hello', '/notes', '/notes/shopping.txt']);
      expect(Buffer.from(shopping!).toString()).toBe('milk\neggs\nbread\ncheese\n');
    } finally {
      await repo.close();
    }
  });
});
