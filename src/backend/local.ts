/**
 * A repository in a local directory, in restic's default layout
 * (restic: internal/backend/local/local.go, internal/backend/layout/layout_default.go):
 *
 *   config, data/00..ff/<id>, index/<id>, keys/<id>, locks/<id>, snapshots/<id>
 *
 * Writes are atomic and write-once: the bytes go to a temporary file next to the target,
 * are fsync'd and made read-only, and are then hard-linked to the final name, which fails
 * if that name exists (so two writers can never replace each other's file). File systems
 * without hard links fall back to restic's rename after an existence check. The directory
 * is fsync'd afterwards so the new name survives a crash.
 *
 * Like restic, entries that are not 64-hex IDs are ignored when listing (temporary files,
 * an old `tmp/` dir), and so are files lying directly in `data/` instead of `data/XX/`.
 */
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { ResticError } from '../errors.js';
import { isId } from '../format/id.js';
import { relativePath, TYPE_DIRS, type Backend, type ByteRange, type FileInfo, type FileType } from './backend.js';
import { alreadyExists, checkRange, fileNotFound, truncated } from './errors.js';

/** Directories restic's `init` creates besides the 256 `data/XX`. */
const TOP_DIRS = ['data', 'index', 'keys', 'locks', 'snapshots'];

/** How many `stat` calls a listing keeps in flight. */
const LIST_STAT_CONCURRENCY = 32;

/** Link errors meaning "this file system has no hard links": fall back to rename. */
const NO_HARDLINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

export interface LocalModes {
  dir: number;
  file: number;
}

export class LocalBackend implements Backend {
  readonly location: string;
  /** The repository directory. */
  readonly root: string;
  private modes: LocalModes | undefined;

  constructor(root: string, location: string = root) {
    this.root = root;
    this.location = location;
  }

  /** Absolute path of a repository file. */
  filename(type: FileType, name: string): string {
    return join(this.root, relativePath(type, name));
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      const st = await statOrUndefined(join(this.root, 'config'));
      if (st?.isFile()) yield { name: 'config', size: st.size };
      return;
    }
    const base = join(this.root, TYPE_DIRS[type]);
    if (type !== 'pack') {
      yield* this.listFiles(base);
      return;
    }
    for (const entry of await readDirOrEmpty(base)) {
      // restic visits only the subdirectories of data/; a stray file there is not a pack.
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await statOrUndefined(join(base, entry.name)))?.isDirectory());
      if (isDir) yield* this.listFiles(join(base, entry.name));
    }
  }

  async stat(type: FileType, name: string): Promise<FileInfo> {
    const path = this.filename(type, name);
    try {
      const st = await fs.stat(path);
      if (!st.isFile()) throw fileNotFound(this.location, type, name);
      return { name, size: st.size };
    } catch (err) {
      throw this.mapError(err, type, name, 'stat');
    }
  }

  async read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    const path = this.filename(type, name);
    if (range !== undefined) checkRange(range);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(path, 'r');
      const size = (await handle.stat()).size;
      const offset = range?.offset ?? 0;
      const length = range?.length ?? size;
      if (offset + length > size) throw truncated(this.location, type, name, size, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw truncated(this.location, type, name, offset + done, offset, length);
        done += bytesRead;
      }
      return out;
    } catch (err) {
      throw this.mapError(err, type, name, 'read');
    } finally {
      await handle?.close();
    }
  }

  async write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    const finalPath = this.filename(type, name);
    const dir = dirname(finalPath);
    const modes = await this.getModes();
    const tmpPath = `${finalPath}-tmp-${randomBytes(6).toString('hex')}`;
    let tmpExists = false;
    try {
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(tmpPath, 'wx', modes.file);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        // A missing data/XX or type directory (a repository made by another tool): create it.
        await fs.mkdir(dir, { recursive: true, mode: modes.dir });
        handle = await fs.open(tmpPath, 'wx', modes.file);
      }
      tmpExists = true;
      try {
        await handle.writeFile(data);
        await syncIgnoringUnsupported(handle);
        // Read-only before it gets its final name, as restic leaves its files (0400).
        await handle.chmod(modes.file & ~0o222).catch(ignorePermissionError);
      } finally {
        await handle.close();
      }
      await this.publish(tmpPath, finalPath, type, name);
      tmpExists = false;
      await syncDir(dir);
    } catch (err) {
      throw this.mapError(err, type, name, 'write');
    } finally {
      if (tmpExists) await fs.rm(tmpPath, { force: true }).catch(() => undefined);
    }
  }

  async remove(type: FileType, name: string): Promise<void> {
    try {
      await fs.unlink(this.filename(type, name));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw this.mapError(err, type, name, 'remove');
    }
  }

  async create(): Promise<void> {
    if (await statOrUndefined(join(this.root, 'config'))) {
      throw new ResticError('ALREADY_EXISTS', `repository ${this.location} already exists (it has a config file)`, { file: 'config' });
    }
    const mode = (await this.getModes()).dir;
    try {
      await fs.mkdir(this.root, { recursive: true, mode });
      for (const top of TOP_DIRS) await fs.mkdir(join(this.root, top), { recursive: true, mode });
      for (let i = 0; i < 256; i++) {
        await fs.mkdir(join(this.root, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode });
      }
    } catch (err) {
      throw new ResticError('IO', `cannot create repository directory ${this.location}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {}

  /** Gives the temp file its final name without ever replacing an existing file. */
  private async publish(tmpPath: string, finalPath: string, type: FileType, name: string): Promise<void> {
    try {
      await fs.link(tmpPath, finalPath);
      await fs.unlink(tmpPath);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') throw alreadyExists(this.location, type, name);
      if (!code || !NO_HARDLINK_CODES.has(code)) throw err;
    }
    if (await statOrUndefined(finalPath)) throw alreadyExists(this.location, type, name);
    await fs.rename(tmpPath, finalPath);
  }

  /**
   * restic's modes: dirs 0700, files 0600 (then read-only), plus group bits when the
   * repository's config file is group-readable (restic: internal/backend/util/paths.go).
   */
  private async getModes(): Promise<LocalModes> {
    if (this.modes) return this.modes;
    const st = await statOrUndefined(join(this.root, 'config'));
    const group = st !== undefined && (st.mode & 0o040) !== 0;
    const modes = { dir: group ? 0o770 : 0o700, file: group ? 0o660 : 0o600 };
    // Only cache once the config exists: before `init` the answer may still change.
    if (st) this.modes = modes;
    return modes;
  }

  private async *listFiles(dir: string): AsyncIterable<FileInfo> {
    const names = (await readDirOrEmpty(dir)).filter((e) => !e.isDirectory() && isId(e.name)).map((e) => e.name);
    for (let i = 0; i < names.length; i += LIST_STAT_CONCURRENCY) {
      const batch = names.slice(i, i + LIST_STAT_CONCURRENCY);
      const stats = await Promise.all(batch.map((n) => statOrUndefined(join(dir, n))));
      for (let j = 0; j < batch.length; j++) {
        const st = stats[j];
        // Gone between readdir and stat (removed concurrently): not listed.
        if (st?.isFile()) yield { name: batch[j], size: st.size };
      }
    }
  }

  private mapError(err: unknown, type: FileType, name: string, op: string): unknown {
    if (err instanceof ResticError) return err;
    const code = errnoCode(err);
    if (code === 'ENOENT' && op !== 'write') return fileNotFound(this.location, type, name, err);
    const file = relativePath(type, name);
    return new ResticError('IO', `cannot ${op} ${file} in repository ${this.location}: ${(err as Error).message}`, { file, cause: err });
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function statOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function readDirOrEmpty(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    // restic ignores a missing type directory: it simply has no files.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

async function syncIgnoringUnsupported(handle: fs.FileHandle): Promise<void> {
  try {
    await handle.sync();
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ENOTSUP' && code !== 'EINVAL' && code !== 'ENOTTY') throw err;
  }
}

/** fsync a directory so a rename/link in it is durable; some file systems cannot, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    await syncIgnoringUnsupported(handle);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

function ignorePermissionError(err: unknown): void {
  if (errnoCode(err) !== 'EPERM') throw err;
}
