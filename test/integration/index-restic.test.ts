/**
 * Index files and pack headers written by the real restic binary, read by our codecs.
 *
 * For a version 1 and a version 2 repository: every index file (restic's own decoded JSON via
 * `restic cat index`) parses, and every pack it lists has a header — read by our reader from
 * the repository directory with the master key from `restic cat masterkey` — whose entries
 * equal the index entries exactly. Our encoder's JSON is compared with restic's raw bytes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { decompress } from '../../src/compression/index.js';
import { decodeMasterKey, open, type MasterKey } from '../../src/crypto/index.js';
import { encodeIndexFile, parseIndexFile, type IndexFileContent } from '../../src/index/index-file.js';
import { loadMasterIndex } from '../../src/index/master-index.js';
import { packSizeFromBlobs, type PackedBlob } from '../../src/pack/header.js';
import { readPackHeader } from '../../src/pack/reader.js';
import { makeResticRepo, restic, tempDir } from '../support/restic.js';

/** A few MiB of mixed content: random (incompressible), text (compressible), tiny and empty files, nested dirs. */
function writeSources(root: string): void {
  let seed = 12345;
  const rand = (n: number): Buffer => {
    const b = Buffer.alloc(n + 4);
    for (let i = 0; i < n; i += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      b.writeUInt32LE(seed, i);
    }
    return b.subarray(0, n);
  };
  mkdirSync(join(root, 'a/b/c'), { recursive: true });
  writeFileSync(join(root, 'random.bin'), rand(2_500_000));
  writeFileSync(join(root, 'a/text.txt'), 'restic-ts index test line\n'.repeat(80_000));
  writeFileSync(join(root, 'a/b/small.txt'), 'hello\n');
  writeFileSync(join(root, 'a/b/c/empty'), '');
  for (let i = 0; i < 30; i++) writeFileSync(join(root, `a/b/c/f${i}.dat`), rand(1000 + i * 997));
}

function sortBlobs(blobs: PackedBlob[]): PackedBlob[] {
  return [...blobs].sort((x, y) => x.offset - y.offset);
}

interface Repo {
  dir: string;
  key: MasterKey;
  indexIds: string[];
  /** restic's decoded JSON for each index file (`restic cat index`, its extra println newline removed). */
  catIndex: Map<string, Buffer>;
}

async function makeRepo(parent: string, name: string, version: 1 | 2, sources: string): Promise<Repo> {
  const dir = join(parent, name);
  await makeResticRepo(dir, { version });
  restic(['backup', sources], { repo: dir });
  // A second snapshot with one changed file gives a second index file.
  writeFileSync(join(sources, 'a/changed.txt'), `changed ${version}\n`.repeat(5000));
  restic(['backup', sources], { repo: dir });
  const key = decodeMasterKey(restic(['cat', 'masterkey'], { repo: dir }).stdoutBytes, 'restic cat masterkey');
  const indexIds = readdirSync(join(dir, 'index')).sort();
  const catIndex = new Map<string, Buffer>();
  for (const id of indexIds) {
    const out = restic(['cat', 'index', id], { repo: dir }).stdoutBytes;
    // `restic cat` prints the file followed by a newline of its own.
    expect(out.subarray(out.length - 2).toString()).toBe('\n\n');
    catIndex.set(id, out.subarray(0, out.length - 1));
  }
  return { dir, key, indexIds, catIndex };
}

describe('index files and pack headers written by restic', () => {
  const tmp = tempDir('restic-ts-index-');
  const repos: Record<'v1' | 'v2', Repo> = {} as never;

  beforeAll(async () => {
    const sources = join(tmp.path, 'src');
    writeSources(sources);
    repos.v1 = await makeRepo(tmp.path, 'repo-v1', 1, sources);
    writeSources(sources);
    repos.v2 = await makeRepo(tmp.path, 'repo-v2', 2, sources);
  });
  afterAll(() => tmp.cleanup());

  for (const version of ['v1', 'v2'] as const) {
    it(`${version}: every pack header equals its index entries, and pack.Size equals the file size`, async () => {
      const repo = repos[version];
      expect(repo.indexIds.length).toBeGreaterThanOrEqual(2);
      const backend = new LocalBackend(repo.dir);
      const contents: IndexFileContent[] = [];
      let packsChecked = 0;
      const kinds = new Set<string>();
      for (const id of repo.indexIds) {
        const content = parseIndexFile(repo.catIndex.get(id)!, id);
        expect(content.legacy).toBe(false);
        expect(content.supersedes).toBeUndefined();
        contents.push(content);
        for (const pack of content.packs) {
          const file = join(repo.dir, 'data', pack.id.slice(0, 2), pack.id);
          const size = statSync(file).size;
          expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(pack.id);
          const header = await readPackHeader(backend, repo.key, pack.id, size);
          expect(header).toEqual(sortBlobs(pack.blobs));
          expect(packSizeFromBlobs(header)).toBe(size);
          for (const b of header) kinds.add(`${b.type}:${b.uncompressedLength !== 0 ? 'zstd' : 'plain'}`);
          packsChecked++;
        }
      }
      expect(packsChecked).toBeGreaterThan(1);
      // v1 stores everything as is; v2 compresses everything (default mode auto).
      expect([...kinds].sort()).toEqual(version === 'v1' ? ['data:plain', 'tree:plain'] : ['data:zstd', 'tree:zstd']);
      // Reading without a known size stats the file first and gives the same answer.
      const first = contents[0].packs[0];
      expect(await readPackHeader(backend, repo.key, first.id)).toEqual(sortBlobs(first.blobs));
      await backend.close();
    });

    it(`${version}: loadMasterIndex agrees with every index file and with the pack files`, async () => {
      const repo = repos[version];
      const index = await loadMasterIndex(
        async () => repo.indexIds,
        async (id) => repo.catIndex.get(id)!,
        { repositoryVersion: version === 'v1' ? 1 : 2 },
      );
      const dataDirs = readdirSync(join(repo.dir, 'data'));
      const packFiles = dataDirs.flatMap((d) => readdirSync(join(repo.dir, 'data', d)).map((f) => ({ id: f, size: statSync(join(repo.dir, 'data', d, f)).size })));
      expect(index.packIds().sort()).toEqual(packFiles.map((p) => p.id).sort());
      for (const p of packFiles) {
        expect(index.packSize(p.id)).toBe(p.size);
        expect(index.indexFilesOfPack(p.id)).toHaveLength(1);
      }
      // `restic list blobs` prints "<type> <id>" for every index entry.
      const listed = restic(['list', 'blobs'], { repo: repo.dir }).stdout.trim().split('\n');
      expect(index.blobCount).toBe(listed.length);
      for (const line of listed) {
        const [type, id] = line.split(' ');
        expect(index.has(type as 'data' | 'tree', id)).toBe(true);
      }
    });
  }

  it('v1: our decryption of an index file gives restic\'s bytes, and our encoder writes the same shape', () => {
    const repo = repos.v1;
    for (const id of repo.indexIds) {
      const sealed = readFileSync(join(repo.dir, 'index', id));
      const raw = open(repo.key, sealed, `index/${id}`);
      // v1 index files are raw JSON: exactly what `restic cat index` prints.
      expect(Buffer.from(raw).equals(repo.catIndex.get(id)!)).toBe(true);
      const parsed = parseIndexFile(raw, id);
      const ours = encodeIndexFile(parsed.packs);
      // Same packs and blobs in the same order as restic wrote them → byte-identical JSON.
      expect(Buffer.from(ours).toString()).toBe(Buffer.from(raw).toString());
      expect(parseIndexFile(ours, id)).toEqual(parsed);
    }
  });

  it('v2: our encoder reproduces restic\'s decoded JSON byte for byte, including compressed blobs', async () => {
    const repo = repos.v2;
    for (const id of repo.indexIds) {
      const raw = repo.catIndex.get(id)!;
      // The stored plaintext is 0x02 || zstd(JSON); `restic cat index` prints the JSON itself.
      const plaintext = open(repo.key, readFileSync(join(repo.dir, 'index', id)), `index/${id}`);
      expect(plaintext[0]).toBe(0x02);
      expect(Buffer.from(await decompress(plaintext.subarray(1))).equals(raw)).toBe(true);
      expect(raw.toString()).toContain('"uncompressed_length":');
      const parsed = parseIndexFile(raw, id);
      const ours = encodeIndexFile(parsed.packs);
      expect(Buffer.from(ours).toString()).toBe(raw.toString());
      // Semantically identical after re-parsing, whatever the blob order.
      const reparsed = parseIndexFile(ours, id);
      expect(reparsed.packs.map((p) => ({ id: p.id, blobs: sortBlobs(p.blobs) }))).toEqual(parsed.packs.map((p) => ({ id: p.id, blobs: sortBlobs(p.blobs) })));
    }
  });
});
