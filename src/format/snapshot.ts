/**
 * Snapshot files (`snapshots/<id>`): parse with every field (unknown ones kept) and encode
 * exactly as restic's `json.Marshal(Snapshot)` — struct field order, omitempty, no trailing
 * newline. Also the per-snapshot object `restic snapshots --json` prints.
 */
import { ResticError } from '../errors.js';
import { GoTime } from './gotime.js';
import { shortId, type Id } from './id.js';
import {
  GoJsonObject,
  JsonReader,
  compareGoStrings,
  setOwn,
  wrapStackOverflow,
  type GoJsonOptions,
} from './json.js';
import { MAX_UINT32, MAX_UINT64, matchField, readIdField, readTimeField } from './node.js';

export interface SnapshotSummary {
  backupStart: GoTime;
  backupEnd: GoTime;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  /** Go int (may in theory be negative). */
  dataBlobs: number;
  treeBlobs: number;
  /** Uncompressed bytes added (uint64). */
  dataAdded: bigint;
  /** Bytes added to the repository after compression (uint64). */
  dataAddedPacked: bigint;
  totalFilesProcessed: number;
  totalBytesProcessed: bigint;
}

/**
 * A snapshot. Optional fields are Go zero values when absent; `paths` is `null` for Go's nil
 * slice. An empty `tags`/`excludes` array is kept as read (it matters for grouping: Go's key
 * then says `[]`, not `null`) but omitted on write like nil.
 */
export interface Snapshot {
  time: GoTime;
  parent?: Id;
  tree: Id;
  paths: string[] | null;
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[];
  tags?: string[];
  /** The ID of the first version of a snapshot whose metadata was changed (tag, rewrite). */
  original?: Id;
  programVersion?: string;
  summary?: SnapshotSummary;
  /** Unknown fields: key → raw JSON text; written after the known fields. */
  extra?: Record<string, string>;
  /** The snapshot's storage ID when it was loaded (not part of the JSON). */
  id?: Id;
}

const SNAPSHOT_FIELDS = [
  'time',
  'parent',
  'tree',
  'paths',
  'hostname',
  'username',
  'uid',
  'gid',
  'excludes',
  'tags',
  'original',
  'program_version',
  'summary',
] as const;
type SnapshotField = (typeof SNAPSHOT_FIELDS)[number];
const SNAPSHOT_FIELD_SET: ReadonlySet<string> = new Set(SNAPSHOT_FIELDS);

const SUMMARY_FIELDS = [
  'backup_start',
  'backup_end',
  'files_new',
  'files_changed',
  'files_unmodified',
  'dirs_new',
  'dirs_changed',
  'dirs_unmodified',
  'data_blobs',
  'tree_blobs',
  'data_added',
  'data_added_packed',
  'total_files_processed',
  'total_bytes_processed',
] as const;
type SummaryField = (typeof SUMMARY_FIELDS)[number];
const SUMMARY_FIELD_SET: ReadonlySet<string> = new Set(SUMMARY_FIELDS);

const MAX_INT64 = 0x7fff_ffff_ffff_ffffn;
const MIN_INT64 = -0x8000_0000_0000_0000n;

function readString(r: JsonReader, field: string): string | undefined {
  if (r.readNull()) return undefined;
  if (r.peek() !== 'string') throw r.typeError(`field ${field}: expected a string, got ${r.peek()}`);
  return r.readString();
}

/** `[]string`: null → null (Go nil). */
export function readStringList(r: JsonReader, field: string): string[] | null {
  if (r.readNull()) return null;
  if (r.peek() !== 'array') throw r.typeError(`field ${field}: expected an array, got ${r.peek()}`);
  const out: string[] = [];
  r.beginArray();
  while (r.nextElement()) out.push(readString(r, field) ?? '');
  return out;
}

function countToNumber(v: bigint): number {
  // Counts of files and blobs fit a double; keep the value exact where it matters (bytes are bigint).
  return Number(v);
}

function readSummary(r: JsonReader): SnapshotSummary | undefined {
  if (r.readNull()) return undefined;
  if (r.peek() !== 'object') throw r.typeError(`field summary: expected an object, got ${r.peek()}`);
  const zero = GoTime.parse('0001-01-01T00:00:00Z');
  const s: SnapshotSummary = {
    backupStart: zero,
    backupEnd: zero,
    filesNew: 0,
    filesChanged: 0,
    filesUnmodified: 0,
    dirsNew: 0,
    dirsChanged: 0,
    dirsUnmodified: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    dataAdded: 0n,
    dataAddedPacked: 0n,
    totalFilesProcessed: 0,
    totalBytesProcessed: 0n,
  };
  const uint = (f: string) => (r.readNull() ? undefined : r.readUnsigned(`summary.${f}`, MAX_UINT64));
  const int = (f: string) => (r.readNull() ? undefined : r.readSigned(`summary.${f}`, MIN_INT64, MAX_INT64));
  r.beginObject();
  for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) {
    const field = matchField<SummaryField>(key, SUMMARY_FIELD_SET);
    let v: bigint | undefined;
    switch (field) {
      case 'backup_start':
        s.backupStart = readTimeField(r, 'summary.backup_start') ?? s.backupStart;
        break;
      case 'backup_end':
        s.backupEnd = readTimeField(r, 'summary.backup_end') ?? s.backupEnd;
        break;
      case 'files_new':
        if ((v = uint(field)) !== undefined) s.filesNew = countToNumber(v);
        break;
      case 'files_changed':
        if ((v = uint(field)) !== undefined) s.filesChanged = countToNumber(v);
        break;
      case 'files_unmodified':
        if ((v = uint(field)) !== undefined) s.filesUnmodified = countToNumber(v);
        break;
      case 'dirs_new':
        if ((v = uint(field)) !== undefined) s.dirsNew = countToNumber(v);
        break;
      case 'dirs_changed':
        if ((v = uint(field)) !== undefined) s.dirsChanged = countToNumber(v);
        break;
      case 'dirs_unmodified':
        if ((v = uint(field)) !== undefined) s.dirsUnmodified = countToNumber(v);
        break;
      case 'data_blobs':
        if ((v = int(field)) !== undefined) s.dataBlobs = countToNumber(v);
        break;
      case 'tree_blobs':
        if ((v = int(field)) !== undefined) s.treeBlobs = countToNumber(v);
        break;
      case 'data_added':
        s.dataAdded = uint(field) ?? s.dataAdded;
        break;
      case 'data_added_packed':
        s.dataAddedPacked = uint(field) ?? s.dataAddedPacked;
        break;
      case 'total_files_processed':
        if ((v = uint(field)) !== undefined) s.totalFilesProcessed = countToNumber(v);
        break;
      case 'total_bytes_processed':
        s.totalBytesProcessed = uint(field) ?? s.totalBytesProcessed;
        break;
      default:
        r.skipValue(); // Go drops unknown summary keys
    }
  }
  return s;
}

/**
 * Parses a snapshot file's plaintext (`id` is its storage ID, used in errors and kept in
 * `sn.id`). A trailing newline (old restic) is fine. Bad JSON, a bad field or a missing
 * `tree` throws CORRUPT naming `snapshots/<id>`.
 */
export function parseSnapshot(data: Uint8Array | string, id?: Id): Snapshot {
  const file = id === undefined ? undefined : `snapshots/${id}`;
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  const r = new JsonReader(text, file ?? 'snapshot', file);
  try {
    if (r.peek() !== 'object') throw r.typeError(`expected a JSON object, got ${r.peek()}`);
    let time: GoTime | undefined;
    let tree: Id | undefined;
    let paths: string[] | null = null;
    const sn: Partial<Snapshot> = {};
    const extra: Record<string, string> = {};
    let hasExtra = false;
    r.beginObject();
    for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) {
      const field = matchField<SnapshotField>(key, SNAPSHOT_FIELD_SET);
      switch (field) {
        case 'time':
          time = readTimeField(r, 'time') ?? time;
          break;
        case 'parent':
          sn.parent = readIdField(r, 'parent');
          break;
        case 'tree':
          tree = readIdField(r, 'tree');
          break;
        case 'paths':
          paths = readStringList(r, 'paths');
          break;
        case 'hostname':
          sn.hostname = readString(r, 'hostname') ?? sn.hostname;
          break;
        case 'username':
          sn.username = readString(r, 'username') ?? sn.username;
          break;
        case 'uid':
          if (!r.readNull()) sn.uid = Number(r.readUnsigned('uid', MAX_UINT32));
          break;
        case 'gid':
          if (!r.readNull()) sn.gid = Number(r.readUnsigned('gid', MAX_UINT32));
          break;
        case 'excludes':
          sn.excludes = readStringList(r, 'excludes') ?? undefined;
          break;
        case 'tags':
          sn.tags = readStringList(r, 'tags') ?? undefined;
          break;
        case 'original':
          sn.original = readIdField(r, 'original');
          break;
        case 'program_version':
          sn.programVersion = readString(r, 'program_version') ?? sn.programVersion;
          break;
        case 'summary':
          sn.summary = readSummary(r);
          break;
        default:
          setOwn(extra, key, r.readRaw());
          hasExtra = true;
      }
    }
    r.finish();
    if (tree === undefined) throw r.typeError('snapshot has no tree');
    const out: Snapshot = { time: time ?? GoTime.parse('0001-01-01T00:00:00Z'), tree, paths };
    for (const k of Object.keys(sn) as (keyof Snapshot)[]) {
      if (sn[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = sn[k];
    }
    if (hasExtra) out.extra = extra;
    if (id !== undefined) out.id = id;
    return out;
  } catch (err) {
    throw wrapStackOverflow(err, r);
  }
}

/** Adds the snapshot's own fields, in Go struct order, to `o`. */
function writeSnapshotFields(o: GoJsonObject, sn: Snapshot, withExtra: boolean): void {
  if (!sn.tree) throw new ResticError('USAGE', 'snapshot without a tree cannot be written');
  o.time('time', sn.time);
  if (sn.parent !== undefined) o.raw('parent', '"' + sn.parent + '"');
  o.raw('tree', '"' + sn.tree + '"');
  o.strings('paths', sn.paths);
  o.string('hostname', sn.hostname, true);
  o.string('username', sn.username, true);
  o.number('uid', sn.uid, true);
  o.number('gid', sn.gid, true);
  o.strings('excludes', sn.excludes, true);
  o.strings('tags', sn.tags, true);
  if (sn.original !== undefined) o.raw('original', '"' + sn.original + '"');
  o.string('program_version', sn.programVersion, true);
  if (sn.summary !== undefined) o.raw('summary', encodeSummary(sn.summary));
  if (withExtra) o.extra(sn.extra, SNAPSHOT_FIELD_SET);
}

function encodeSummary(s: SnapshotSummary): string {
  return new GoJsonObject()
    .time('backup_start', s.backupStart)
    .time('backup_end', s.backupEnd)
    .number('files_new', s.filesNew)
    .number('files_changed', s.filesChanged)
    .number('files_unmodified', s.filesUnmodified)
    .number('dirs_new', s.dirsNew)
    .number('dirs_changed', s.dirsChanged)
    .number('dirs_unmodified', s.dirsUnmodified)
    .number('data_blobs', s.dataBlobs)
    .number('tree_blobs', s.treeBlobs)
    .number('data_added', s.dataAdded)
    .number('data_added_packed', s.dataAddedPacked)
    .number('total_files_processed', s.totalFilesProcessed)
    .number('total_bytes_processed', s.totalBytesProcessed)
    .toString();
}

/** The snapshot file's JSON exactly as restic's json.Marshal writes it (no trailing newline). */
export function encodeSnapshot(sn: Snapshot, options: GoJsonOptions = {}): string {
  const o = new GoJsonObject(options);
  writeSnapshotFields(o, sn, true);
  return o.toString();
}

/** The same as bytes (what gets encrypted and stored). */
export function encodeSnapshotBytes(sn: Snapshot, options: GoJsonOptions = {}): Uint8Array {
  const buf = Buffer.from(encodeSnapshot(sn, options), 'utf8');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Go's sort.Strings on a copy. */
export function sortedGoStrings(list: readonly string[]): string[] {
  return [...list].sort(compareGoStrings);
}

/**
 * One element of `restic snapshots --json`: the snapshot's fields, then `"id"` and
 * `"short_id"` (verified with restic 0.14). restic sorts `paths` in place while grouping, so
 * the printed paths are always sorted; tags only when grouping by tags (groupSnapshots does
 * that). Unknown fields are not printed (restic does not know them either).
 */
export function snapshotToCliJson(sn: Snapshot, id: Id | undefined = sn.id, options: GoJsonOptions = {}): string {
  if (id === undefined) throw new ResticError('USAGE', 'snapshotToCliJson needs the snapshot ID');
  const o = new GoJsonObject(options);
  writeSnapshotFields(o, { ...sn, paths: sn.paths === null ? null : sortedGoStrings(sn.paths) }, false);
  o.raw('id', '"' + id + '"');
  o.string('short_id', shortId(id));
  return o.toString();
}
