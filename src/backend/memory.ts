/**
 * An in-memory backend for unit tests: same contract as the real ones (write-once,
 * FILE_NOT_FOUND, CORRUPT on a range past the end), no I/O.
 */
import { isId } from '../format/id.js';
import { relativePath, type Backend, type ByteRange, type FileInfo, type FileType } from './backend.js';
import { alreadyExists, checkRange, fileNotFound, truncated } from './errors.js';

export class MemoryBackend implements Backend {
  readonly location: string;
  private readonly files = new Map<FileType, Map<string, Uint8Array>>();

  constructor(location = 'memory:') {
    this.location = location;
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    // Snapshot the names first so a caller may write or remove while iterating.
    const entries = [...(this.files.get(type) ?? new Map<string, Uint8Array>()).entries()];
    for (const [name, data] of entries) {
      if (type === 'config' ? name === 'config' : isId(name)) yield { name, size: data.length };
    }
  }

  async stat(type: FileType, name: string): Promise<FileInfo> {
    const data = this.get(type, name);
    return { name, size: data.length };
  }

  async read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    const data = this.get(type, name);
    if (range === undefined) return data.slice();
    checkRange(range);
    if (range.offset + range.length > data.length) {
      throw truncated(this.location, type, name, data.length, range.offset, range.length);
    }
    return data.slice(range.offset, range.offset + range.length);
  }

  async write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    let files = this.files.get(type);
    if (!files) this.files.set(type, (files = new Map()));
    if (files.has(name)) throw alreadyExists(this.location, type, name);
    files.set(name, data.slice());
  }

  async remove(type: FileType, name: string): Promise<void> {
    this.files.get(type)?.delete(name);
  }

  async create(): Promise<void> {}

  async close(): Promise<void> {}

  /** Test helper: replace a file's bytes in place (to simulate damage), bypassing write-once. */
  corrupt(type: FileType, name: string, data: Uint8Array): void {
    this.get(type, name);
    this.files.get(type)!.set(name, data.slice());
  }

  /** Test helper: every stored path (`data/ab/ab…`, `config`), sorted. */
  paths(): string[] {
    const out: string[] = [];
    for (const [type, files] of this.files) for (const name of files.keys()) out.push(relativePath(type, name));
    return out.sort();
  }

  private get(type: FileType, name: string): Uint8Array {
    const data = this.files.get(type)?.get(name);
    if (data === undefined) throw fileNotFound(this.location, type, name);
    return data;
  }
}
