/**
 * Collects the index entries of packs that have been stored and writes them out as index
 * files, with restic's thresholds: a file once it holds 50 000 blobs or its oldest entry is
 * 10 minutes old (checked each time a pack is added), and whatever remains at flush.
 *
 * Callers add a pack only after the pack file is stored, so an index file never names a pack
 * that does not exist; writes are serialised so `flush` returns when every file is stored.
 */
import type { Backend } from '../backend/backend.js';
import type { CompressionMode } from '../compression/index.js';
import { seal, sha256Hex, type MasterKey } from '../crypto/index.js';
import { idFromBytes, type Id } from '../format/id.js';
import { encodeUnpacked } from './unpacked.js';
import type { PackedBlob } from '../pack/header.js';
import { encodeIndexFile } from '../index/index-file.js';

/** restic's `indexMaxBlobs`. */
export const INDEX_MAX_BLOBS = 50_000;
/** restic's `indexMaxAge`. */
export const INDEX_MAX_AGE_MS = 10 * 60 * 1000;

/** Encrypts (and in v2 compresses) an unpacked file and stores it; returns its ID. */
export type SaveIndexFile = (plaintext: Uint8Array) => Promise<Id>;

export interface IndexWriterOptions {
  maxBlobs?: number;
  maxAgeMs?: number;
  now?: () => number;
}

export class IndexWriter {
  private packs: { id: Id; blobs: PackedBlob[] }[] = [];
  private blobCount = 0;
  private startedAt = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private readonly written: Id[] = [];
  private readonly maxBlobs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly save: SaveIndexFile,
    options: IndexWriterOptions = {},
  ) {
    this.maxBlobs = options.maxBlobs ?? INDEX_MAX_BLOBS;
    this.maxAgeMs = options.maxAgeMs ?? INDEX_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Records a stored pack; starts writing an index file when the thresholds are reached. */
  addPack(packId: Id, blobs: PackedBlob[]): void {
    if (this.packs.length === 0) this.startedAt = this.now();
    this.packs.push({ id: packId, blobs });
    this.blobCount += blobs.length;
    if (this.blobCount >= this.maxBlobs || this.now() - this.startedAt >= this.maxAgeMs) this.writeCurrent();
  }

  /** Index files written so far. */
  get files(): readonly Id[] {
    return this.written;
  }

  /** Writes what remains and waits for every write. Throws the first write error. */
  async flush(): Promise<readonly Id[]> {
    if (this.packs.length > 0) this.writeCurrent();
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
    return this.written;
  }

  private writeCurrent(): void {
    const packs = this.packs;
    this.packs = [];
    this.blobCount = 0;
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        this.written.push(await this.save(encodeIndexFile(packs)));
      } catch (err) {
        this.failure = err;
      }
    });
  }
}

/** Where unpacked files (index, snapshot, lock) go and how they are sealed. */
export interface UnpackedTarget {
  backend: Backend;
  masterKey: MasterKey;
  config: { version: number };
}

/**
 * Stores an unpacked file: v2 `0x02 || zstd(json)` (v1 raw), sealed with the master key,
 * named by the SHA-256 of the stored bytes. Returns the file's ID.
 */
export async function saveUnpacked(target: UnpackedTarget, type: 'index' | 'snapshot' | 'lock', json: Uint8Array, mode: CompressionMode = 'auto'): Promise<Id> {
  const sealed = seal(target.masterKey, await encodeUnpacked(json, target.config.version, mode));
  const id = sha256Hex(sealed);
  await target.backend.write(type, id, sealed);
  return id;
}
