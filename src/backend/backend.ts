/**
 * The storage contract every backend (local directory, S3, in-memory, and decorators such
 * as retry, concurrency limits, point-in-time views) implements.
 *
 * A backend stores opaque files by (type, name). It knows the repository layout (where a
 * file type lives, `data/XX/` for packs) but nothing of encryption or the format. Files are
 * write-once: `write` never replaces an existing file.
 */

export type FileType = 'config' | 'key' | 'snapshot' | 'index' | 'pack' | 'lock';

export const FILE_TYPES: readonly FileType[] = ['config', 'key', 'snapshot', 'index', 'pack', 'lock'];

/** Directory of each file type in restic's default layout (config is the top-level file `config`). */
export const TYPE_DIRS: Record<FileType, string> = {
  config: '',
  key: 'keys',
  snapshot: 'snapshots',
  index: 'index',
  pack: 'data',
  lock: 'locks',
};

export interface FileInfo {
  /** File name: 64 hex characters, or `config`. */
  name: string;
  /** Size in bytes. */
  size: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface Backend {
  /** Human-readable location, as the user gave it (`/srv/repo`, `s3:host/bucket/prefix`). */
  readonly location: string;

  /**
   * Every file of one type with its size. Names that are not 64-hex IDs are skipped
   * (restic ignores them too). For `config` lists the single `config` file if present.
   */
  list(type: FileType): AsyncIterable<FileInfo>;

  /** Size of one file. Throws `ResticError` FILE_NOT_FOUND when absent. */
  stat(type: FileType, name: string): Promise<FileInfo>;

  /**
   * The whole file, or one byte range of it. Throws FILE_NOT_FOUND when absent and CORRUPT
   * (naming the file) when the range reaches past the end.
   */
  read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array>;

  /**
   * Stores a new file atomically (readers never see a partial file). Throws ALREADY_EXISTS
   * if the file exists: repository files are never overwritten.
   */
  write(type: FileType, name: string, data: Uint8Array): Promise<void>;

  /** Deletes a file. A missing file is not an error. */
  remove(type: FileType, name: string): Promise<void>;

  /** Makes the location ready for a new repository (directories, or the bucket). */
  create(): Promise<void>;

  /** Releases connections and handles. */
  close(): Promise<void>;
}

/** `data/ab/ab12…`, `snapshots/9f…`, `config`: the path of a file relative to the repository root. */
export function relativePath(type: FileType, name: string): string {
  if (type === 'config') return 'config';
  if (type === 'pack') return `data/${name.slice(0, 2)}/${name}`;
  return `${TYPE_DIRS[type]}/${name}`;
}
