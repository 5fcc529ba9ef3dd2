/**
 * Tree blobs and their nodes, read and written byte-for-byte as restic does.
 *
 * A tree blob is `{"nodes":[<node>,…]}\n`; each node is Go's `json.Marshal` of restic's
 * `Node` struct (field order and omitempty below). The name is `strconv.Quote`d before JSON
 * encoding so it can hold any bytes; we keep it as raw bytes. Identical directories must give
 * identical tree bytes, or restic and restic-ts stop deduplicating each other's trees.
 *
 * Round-trip rule: a node parsed from a tree remembers its source text. When it is written
 * again unchanged but our canonical (current-Go) encoding differs from what was read (an older
 * Go's escapes, `\ufffd` escapes of a lost symlink target, another writer's layout), the
 * original text is reused, so re-encoding a tree never changes its ID by itself.
 */
import { ResticError } from '../errors.js';
import { GoTime } from './gotime.js';
import { parseId, shortId, type Id } from './id.js';
import {
  GoJsonObject,
  JsonReader,
  base64,
  compareBytes,
  compareGoStrings,
  decodeBase64,
  goCompactJson,
  goJsonString,
  goQuote,
  goUnquote,
  isValidUtf8,
  setOwn,
  utf8Bytes,
  utf8Text,
  wrapStackOverflow,
  type GoJsonOptions,
} from './json.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular';

export interface ExtendedAttribute {
  name: string;
  /** `null` is Go's nil slice (written as `null`); an empty array is written as `""`. */
  value: Uint8Array | null;
}

/**
 * One entry of a tree, mirroring restic's `Node`. Zero values (0, 0n, '', empty arrays) mean
 * "not set" exactly where Go's omitempty omits them.
 */
export interface TreeNode {
  /** Raw name bytes (may be any bytes except `/`, never empty in a valid tree). */
  name: Uint8Array;
  /** `name` decoded for display (invalid bytes → U+FFFD). Derived; never written. */
  nameText: string;
  /** Node type; unknown strings from foreign trees are kept as read. */
  type: NodeType | (string & {});
  /** Go os.FileMode bits (see goModeFromPosix); 0 is omitted. */
  mode: number;
  mtime: GoTime;
  atime: GoTime;
  ctime: GoTime;
  /** uint32; always written. */
  uid: number;
  /** uint32; always written. */
  gid: number;
  user: string;
  group: string;
  inode: bigint;
  deviceId: bigint;
  size: bigint;
  links: bigint;
  /** Symlink target bytes (from `linktarget_raw` when present, else `linktarget`). */
  linkTarget: Uint8Array;
  extendedAttributes: ExtendedAttribute[];
  /** key → raw JSON text of the value (compacted on write; keys written sorted). */
  genericAttributes: Record<string, string>;
  /** st_rdev of device nodes. */
  device: bigint;
  /** Data blob IDs of a file (`[]` when empty); `null` for every other type. */
  content: Id[] | null;
  /** Tree blob ID of a directory. */
  subtree?: Id;
  error: string;
  /** Fields we do not know: key → raw JSON text. Written after the known fields. */
  extra: Record<string, string>;
}

export interface Tree {
  nodes: TreeNode[];
  /** Unknown top-level keys (raw JSON text); restic ignores them and never writes any. */
  extra: Record<string, string>;
}

export const MAX_UINT32 = 0xffff_ffffn;
export const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

export const ZERO_GO_TIME = GoTime.parse('0001-01-01T00:00:00Z');
const EMPTY_BYTES = new Uint8Array(0);

/** A node with Go zero values everywhere not given; `nameText` derived from `name`. */
export function newNode(fields: Partial<Omit<TreeNode, 'nameText' | 'name'>> & { name: Uint8Array | string; type: TreeNode['type'] }): TreeNode {
  const name = typeof fields.name === 'string' ? utf8Bytes(fields.name) : fields.name;
  const node: TreeNode = {
    mode: 0,
    mtime: ZERO_GO_TIME,
    atime: ZERO_GO_TIME,
    ctime: ZERO_GO_TIME,
    uid: 0,
    gid: 0,
    user: '',
    group: '',
    inode: 0n,
    deviceId: 0n,
    size: 0n,
    links: 0n,
    linkTarget: new Uint8Array(0),
    extendedAttributes: [],
    genericAttributes: {},
    device: 0n,
    content: null,
    error: '',
    extra: {},
    ...fields,
    name,
    nameText: utf8Text(name),
  };
  return node;
}

// ---------------------------------------------------------------------------------------------
// Go FileMode

export const GoFileMode = {
  Dir: 0x8000_0000,
  Append: 0x4000_0000,
  Exclusive: 0x2000_0000,
  Temporary: 0x1000_0000,
  Symlink: 0x0800_0000,
  Device: 0x0400_0000,
  NamedPipe: 0x0200_0000,
  Socket: 0x0100_0000,
  Setuid: 0x0080_0000,
  Setgid: 0x0040_0000,
  CharDevice: 0x0020_0000,
  Sticky: 0x0010_0000,
  Irregular: 0x0008_0000,
  Perm: 0o777,
} as const;

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

/**
 * The Go FileMode restic stores for a POSIX `st_mode` (Go's fillFileStatFromSys, masked with
 * restic's ModePerm|ModeType|ModeSetuid|ModeSetgid|ModeSticky).
 */
export function goModeFromPosix(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & S_IFMT) {
    case S_IFBLK:
      m |= GoFileMode.Device;
      break;
    case S_IFCHR:
      m |= GoFileMode.Device | GoFileMode.CharDevice;
      break;
    case S_IFDIR:
      m |= GoFileMode.Dir;
      break;
    case S_IFIFO:
      m |= GoFileMode.NamedPipe;
      break;
    case S_IFLNK:
      m |= GoFileMode.Symlink;
      break;
    case S_IFSOCK:
      m |= GoFileMode.Socket;
      break;
  }
  if (stMode & S_ISGID) m |= GoFileMode.Setgid;
  if (stMode & S_ISUID) m |= GoFileMode.Setuid;
  if (stMode & S_ISVTX) m |= GoFileMode.Sticky;
  return m >>> 0;
}

/** The POSIX `st_mode` (type and permission bits) for a Go FileMode. */
export function posixFromGoMode(mode: number): number {
  let m = mode & 0o777;
  if (mode & GoFileMode.Dir) m |= S_IFDIR;
  else if (mode & GoFileMode.Symlink) m |= S_IFLNK;
  else if (mode & GoFileMode.Device) m |= mode & GoFileMode.CharDevice ? S_IFCHR : S_IFBLK;
  else if (mode & GoFileMode.NamedPipe) m |= S_IFIFO;
  else if (mode & GoFileMode.Socket) m |= S_IFSOCK;
  else if (!(mode & GoFileMode.Irregular)) m |= S_IFREG;
  if (mode & GoFileMode.Setuid) m |= S_ISUID;
  if (mode & GoFileMode.Setgid) m |= S_ISGID;
  if (mode & GoFileMode.Sticky) m |= S_ISVTX;
  return m;
}

/** The node type restic records for a Go FileMode. */
export function nodeTypeFromGoMode(mode: number): NodeType {
  if (mode & GoFileMode.Dir) return 'dir';
  if (mode & GoFileMode.Symlink) return 'symlink';
  if (mode & GoFileMode.Device) return mode & GoFileMode.CharDevice ? 'chardev' : 'dev';
  if (mode & GoFileMode.NamedPipe) return 'fifo';
  if (mode & GoFileMode.Socket) return 'socket';
  if (mode & GoFileMode.Irregular) return 'irregular';
  return 'file';
}

/** Go's FileMode.String(), e.g. `drwxr-xr-x`, `Lrwxrwxrwx`, `-rw-r--r--` (restic's `ls -l`). */
export function goFileModeString(mode: number): string {
  const letters = 'dalTLDpSugct?';
  let out = '';
  for (let i = 0; i < letters.length; i++) {
    if (mode & (2 ** (31 - i))) out += letters[i];
  }
  if (out === '') out = '-';
  const rwx = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? rwx[i] : '-';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const NODE_FIELDS = [
  'name',
  'type',
  'mode',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'user',
  'group',
  'inode',
  'device_id',
  'size',
  'links',
  'linktarget',
  'linktarget_raw',
  'extended_attributes',
  'generic_attributes',
  'device',
  'content',
  'subtree',
  'error',
] as const;
type NodeField = (typeof NODE_FIELDS)[number];
const NODE_FIELD_SET: ReadonlySet<string> = new Set(NODE_FIELDS);

/** Go matches JSON keys to struct fields case-insensitively when there is no exact match. */
export function matchField<T extends string>(key: string, known: ReadonlySet<string>): T | undefined {
  if (known.has(key)) return key as T;
  if (!/^[\x00-\x7f]*$/.test(key)) return undefined;
  const lower = key.toLowerCase();
  return known.has(lower) ? (lower as T) : undefined;
}

/** Source text of nodes parsed from a tree, for the round-trip rule (see file comment). */
const nodeSources = new WeakMap<TreeNode, string>();

/**
 * The JSON text a parsed node was read from, kept only when Go's canonical encoding of it
 * could differ (undefined for ordinary nodes and for nodes built in memory).
 */
export function keptNodeSource(node: TreeNode): string | undefined {
  return nodeSources.get(node);
}

function readStringField(r: JsonReader, field: string): string | undefined {
  const kind = r.peek();
  if (kind === 'null') {
    r.readNull();
    return undefined; // Go: null leaves the field unchanged
  }
  if (kind !== 'string') throw r.typeError(`field ${field}: expected a string, got ${kind}`);
  return r.readString();
}

// GoTime is immutable, and a tree repeats the same few timestamps (atime = mtime, siblings
// written together), so parsed and formatted times are cached.
const parsedTimes = new Map<string, { time: GoTime; canonical: boolean }>();
const formattedTimes = new Map<GoTime, string>();
/** Whether the last time readTimeField returned was written exactly as Go writes it. */
let lastTimeCanonical = true;

export function readTimeField(r: JsonReader, field: string): GoTime | undefined {
  const s = readStringField(r, field);
  if (s === undefined) return undefined;
  const cached = parsedTimes.get(s);
  if (cached !== undefined) {
    lastTimeCanonical = cached.canonical;
    return cached.time;
  }
  let time: GoTime;
  const fast = parseTimeFast(s);
  try {
    time = fast ?? GoTime.parse(s);
  } catch {
    throw r.typeError(`field ${field}: invalid timestamp ${JSON.stringify(s)}`);
  }
  const canonical = fast !== undefined && isCanonicalTimeText(s, fast);
  if (parsedTimes.size >= 4096) parsedTimes.clear();
  parsedTimes.set(s, { time, canonical });
  lastTimeCanonical = canonical;
  return time;
}

/** RFC3339Nano as Go writes it: `Z` for UTC, no trailing zeros in the fraction. */
function isCanonicalTimeText(s: string, t: GoTime): boolean {
  const last = s.charCodeAt(s.length - 1);
  if ((t.offsetSeconds === 0) !== (last === 90)) return false;
  if (s.charCodeAt(19) !== 46) return true;
  const fractionEnd = last === 90 ? s.length - 1 : s.length - 6;
  return s.charCodeAt(fractionEnd - 1) !== 48;
}

/**
 * GoTime.toString with a small identity cache (atime is usually the mtime object, and parsed
 * trees share time objects). A bounded Map, not a WeakMap: WeakMap inserts cost more than the
 * formatting they would save.
 */
function formatTime(t: GoTime): string {
  let s = formattedTimes.get(t);
  if (s === undefined) {
    s = formatTimeFast(t) ?? t.toString();
    if (formattedTimes.size >= 1024) formattedTimes.clear();
    formattedTimes.set(t, s);
  }
  return s;
}

// Tree parsing and encoding spend most of their time on timestamps, three per node. These
// fast paths do the calendar arithmetic directly (no Date objects, no regex) for the common
// layout; anything unusual returns undefined and goes through GoTime. A unit test checks them
// against GoTime on random times.

function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` with all fields in range, else undefined. */
export function parseTimeFast(s: string): GoTime | undefined {
  if (s.length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo] || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return undefined;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return undefined;
  let p = 19;
  let nanos = 0;
  if (s.charCodeAt(p) === 46) {
    const start = ++p;
    while (p < s.length && p - start < 9) {
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 9) break;
      nanos = nanos * 10 + c;
      p++;
    }
    if (p === start) return undefined;
    for (let k = p - start; k < 9; k++) nanos *= 10;
  }
  let offset: number;
  const z = s.charCodeAt(p);
  if (z === 90 && p + 1 === s.length) offset = 0;
  else if ((z === 43 || z === 45) && p + 6 === s.length && s.charCodeAt(p + 3) === 58) {
    const oh = digits(s, p + 1, 2);
    const om = digits(s, p + 4, 2);
    if (oh < 0 || om < 0 || om > 59) return undefined;
    offset = (z === 45 ? -1 : 1) * (oh * 3600 + om * 60);
  } else return undefined;
  const local = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  return new GoTime(local - offset, nanos, offset);
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' + i : String(i)));
// Consecutive times are mostly on the same day with the same offset: remember the last ones.
let lastDay = Number.NaN;
let lastDayText = '';
let lastOffset = Number.NaN;
let lastOffsetText = '';

/** Go RFC3339Nano for years 1000..9999 and whole-minute offsets below 100 h, else undefined. */
export function formatTimeFast(t: GoTime): string | undefined {
  const off = t.offsetSeconds;
  if (off % 60 !== 0 || Math.abs(off) >= 100 * 3600) return undefined;
  const local = t.unixSeconds + off;
  const days = Math.floor(local / 86400);
  const secOfDay = local - days * 86400;
  if (days !== lastDay) {
    // civil from days (Hinnant)
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    if (y < 1000 || y > 9999) return undefined;
    lastDayText = y + '-' + TWO_DIGITS[m] + '-' + TWO_DIGITS[d] + 'T';
    lastDay = days;
  }
  if (off !== lastOffset) {
    const abs = Math.abs(off);
    lastOffsetText = off === 0 ? 'Z' : (off < 0 ? '-' : '+') + TWO_DIGITS[Math.floor(abs / 3600)] + ':' + TWO_DIGITS[Math.floor((abs % 3600) / 60)];
    lastOffset = off;
  }
  const h = Math.floor(secOfDay / 3600);
  const rest = secOfDay - h * 3600;
  const mi = Math.floor(rest / 60);
  let out = lastDayText + TWO_DIGITS[h] + ':' + TWO_DIGITS[mi] + ':' + TWO_DIGITS[rest - mi * 60];
  const nanos = t.nanos;
  if (nanos !== 0) {
    let n = nanos;
    let width = 9;
    while (n % 10 === 0) {
      n /= 10;
      width--;
    }
    const digits = String(n);
    out += (digits.length < width ? '.' + '0'.repeat(width - digits.length) : '.') + digits;
  }
  return out + lastOffsetText;
}

export function readIdField(r: JsonReader, field: string): Id | undefined {
  const s = readStringField(r, field);
  if (s === undefined) return undefined;
  if (LOWER_HEX_ID.test(s)) return s;
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw r.typeError(`field ${field}: invalid ID ${JSON.stringify(s)}`);
  r.nonCanonical++; // upper-case hex: Go writes lower case
  return parseId(s);
}
const LOWER_HEX_ID = /^[0-9a-f]{64}$/;

function readUint(r: JsonReader, field: string, max: bigint): bigint | undefined {
  if (r.readNull()) return undefined;
  return r.readUnsigned(field, max);
}

function readBytesField(r: JsonReader, field: string): Uint8Array | null {
  const s = readStringField(r, field);
  if (s === undefined) return null;
  try {
    return decodeBase64(s, `field ${field}`);
  } catch {
    throw r.typeError(`field ${field}: invalid base64`);
  }
}

const NODE_FIELD_INDEX: ReadonlyMap<string, number> = new Map(NODE_FIELDS.map((f, i) => [f, i]));
/** Fields Go always writes (no omitempty). */
const ALWAYS_WRITTEN = ['name', 'type', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'content'].reduce((m, f) => m | (1 << NODE_FIELD_INDEX.get(f)!), 0);
const PLAIN_QUOTED_NAME = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

// readNode's "Go would write this differently" flag. Module state rather than closures: this
// runs for every node of every tree (and readNode is synchronous, never re-entered).
let unusual = false;

/** An omitempty string: null and '' (a zero value Go omits) are unusual. */
function str(r: JsonReader, field: string): string | undefined {
  const v = readStringField(r, field);
  if (v === undefined || v === '') unusual = true;
  return v;
}

/** An omitempty integer: null and 0 are unusual. */
function uint(r: JsonReader, field: string, max: bigint): bigint | undefined {
  const v = readUint(r, field, max);
  if (v === undefined || v === 0n) unusual = true;
  return v;
}

function time(r: JsonReader, field: string, current: GoTime): GoTime {
  const v = readTimeField(r, field);
  if (v === undefined || !lastTimeCanonical) unusual = true;
  return v ?? current;
}

/**
 * Reads one node object at the reader's position. While reading it notes whether Go would
 * have written anything differently (field order, omitted zero values, escapes, time layout,
 * unknown fields); only then is the node's source text kept for the round-trip rule, so
 * parsed nodes normally hold no reference to the tree text.
 */
export function readNode(r: JsonReader): TreeNode {
  const canonical = readCanonicalNode(r);
  if (canonical !== undefined) return canonical;
  if (r.peek() !== 'object') throw r.typeError(`node: expected an object, got ${r.peek()}`);
  const start = r.pos;
  const nonCanonicalBefore = r.nonCanonical;
  const node: TreeNode = {
    name: EMPTY_BYTES,
    nameText: '',
    type: '',
    mode: 0,
    mtime: ZERO_GO_TIME,
    atime: ZERO_GO_TIME,
    ctime: ZERO_GO_TIME,
    uid: 0,
    gid: 0,
    user: '',
    group: '',
    inode: 0n,
    deviceId: 0n,
    size: 0n,
    links: 0n,
    linkTarget: EMPTY_BYTES,
    extendedAttributes: [],
    genericAttributes: {},
    device: 0n,
    content: null,
    error: '',
    extra: {},
  };
  let quotedName = '';
  let linkTargetRaw: Uint8Array | null = null;
  // Anything Go would write differently sets `unusual` (see above).
  unusual = false;
  let lastIndex = -1;
  let seen = 0;
  r.beginObject();
  for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) {
    const field = matchField<NodeField>(key, NODE_FIELD_SET);
    if (field === undefined || field !== key) unusual = true;
    else {
      const index = NODE_FIELD_INDEX.get(field)!;
      if (index <= lastIndex) unusual = true;
      lastIndex = index;
      seen |= 1 << index;
    }
    switch (field) {
      case 'name': {
        const v = readStringField(r, 'name');
        if (v === undefined) unusual = true;
        else quotedName = v;
        break;
      }
      case 'type': {
        const v = readStringField(r, 'type');
        if (v === undefined) unusual = true;
        else node.type = v;
        break;
      }
      case 'mode':
        node.mode = Number(uint(r, 'mode', MAX_UINT32) ?? node.mode);
        break;
      case 'mtime':
        node.mtime = time(r, 'mtime', node.mtime);
        break;
      case 'atime':
        node.atime = time(r, 'atime', node.atime);
        break;
      case 'ctime':
        node.ctime = time(r, 'ctime', node.ctime);
        break;
      case 'uid':
      case 'gid': {
        const v = readUint(r, field, MAX_UINT32);
        if (v === undefined) unusual = true;
        else node[field] = Number(v);
        break;
      }
      case 'user':
        node.user = str(r, 'user') ?? node.user;
        break;
      case 'group':
        node.group = str(r, 'group') ?? node.group;
        break;
      case 'inode':
        node.inode = uint(r, 'inode', MAX_UINT64) ?? node.inode;
        break;
      case 'device_id':
        node.deviceId = uint(r, 'device_id', MAX_UINT64) ?? node.deviceId;
        break;
      case 'size':
        node.size = uint(r, 'size', MAX_UINT64) ?? node.size;
        break;
      case 'links':
        node.links = uint(r, 'links', MAX_UINT64) ?? node.links;
        break;
      case 'linktarget': {
        const v = readStringField(r, 'linktarget');
        if (v === undefined || v === '') unusual = true;
        if (v !== undefined) node.linkTarget = utf8Bytes(v);
        break;
      }
      case 'linktarget_raw':
        linkTargetRaw = readBytesField(r, 'linktarget_raw');
        unusual = true; // rare: keep the bytes as read rather than re-deriving both fields
        break;
      case 'extended_attributes': {
        const before = r.nonCanonical;
        node.extendedAttributes = readExtendedAttributes(r);
        if (node.extendedAttributes.length === 0 || r.nonCanonical !== before) unusual = true;
        break;
      }
      case 'generic_attributes':
        node.genericAttributes = readGenericAttributes(r);
        {
          const keys = Object.keys(node.genericAttributes);
          if (keys.length === 0 || keys.some((k, i) => i > 0 && compareGoStrings(keys[i - 1], k) >= 0)) unusual = true;
        }
        break;
      case 'device':
        node.device = uint(r, 'device', MAX_UINT64) ?? node.device;
        break;
      case 'content':
        node.content = readContent(r);
        break;
      case 'subtree':
        node.subtree = readIdField(r, 'subtree');
        if (node.subtree === undefined) {
          delete node.subtree;
          unusual = true;
        }
        break;
      case 'error':
        node.error = str(r, 'error') ?? node.error;
        break;
      default:
        setOwn(node.extra, key, r.readRaw());
        unusual = true;
    }
  }
  try {
    node.name = goUnquote(quotedName);
  } catch (err) {
    throw r.typeError(`node name ${JSON.stringify(quotedName)} is not a valid Go-quoted string`);
  }
  node.nameText = utf8Text(node.name);
  if (linkTargetRaw !== null) node.linkTarget = linkTargetRaw;
  if ((seen & ALWAYS_WRITTEN) !== ALWAYS_WRITTEN) unusual = true;
  // Our quoting differs where Go's Unicode tables differ from ours, or the writer quoted differently.
  if (!PLAIN_QUOTED_NAME.test(quotedName) && goQuote(node.name) !== quotedName) unusual = true;
  if (unusual || r.nonCanonical !== nonCanonicalBefore) {
    // A copy, so that keeping the node does not keep the whole tree text alive.
    nodeSources.set(node, Buffer.from(r.text.slice(start, r.pos), 'utf8').toString('utf8'));
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Fast path for nodes exactly as Go writes them
//
// Nearly every node in a real tree is restic's own canonical output: known keys in struct
// order, zero values omitted, no whitespace, no escapes in the common fields. For such a node
// readCanonicalNode reads the text directly (literal key checks, plain string and digit
// scans) without the general reader's per-key dispatch. The moment anything differs from that
// layout — an escape, whitespace, an unexpected key, a zero value Go would omit, a number too
// large, a non-canonical time — it gives up and restores the reader's position, and readNode's
// general path (which notices and records every such difference) reads the node instead. So
// the result, including which nodes keep their source text, is the same either way; the
// general path stays the single definition of the format.

/** End of a JSON string starting at `p` (the opening quote) if it needs no unescaping and Go would write it as is; else -1. */
function plainStringEnd(t: string, p: number): number {
  if (t.charCodeAt(p) !== 0x22) return -1;
  for (let i = p + 1; ; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x22) return i;
    // backslash, control characters (and NaN at the end of the text), and what Go escapes
    if (c === 0x5c || !(c >= 0x20) || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) return -1;
  }
}

/** End of a canonical unsigned integer token at `p` (`0` or no leading zero), followed by `,` or `}`; else -1. */
function uintEnd(t: string, p: number): number {
  let i = p;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  if (i === p || (i - p > 1 && t.charCodeAt(p) === 0x30)) return -1;
  const next = t.charCodeAt(i);
  return next === 0x2c || next === 0x7d ? i : -1;
}

/** Small integers repeat (links 1, device IDs, sizes of tiny files): share their BigInts. */
const SMALL_BIGINTS: bigint[] = Array.from({ length: 4096 }, (_, i) => BigInt(i));

/** The value of the digits t[p, end), or undefined when above `max`. */
function uintValue(t: string, p: number, end: number, max: bigint): bigint | undefined {
  if (end - p <= 15) {
    let v = 0;
    for (let i = p; i < end; i++) v = v * 10 + (t.charCodeAt(i) - 0x30);
    const b = v < 4096 ? SMALL_BIGINTS[v]! : BigInt(v);
    return b > max ? undefined : b;
  }
  const b = BigInt(t.slice(p, end));
  return b > max ? undefined : b;
}

/** Lower-case hex digit table for IDs. */
const IS_LOWER_HEX = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) IS_LOWER_HEX[c] = 1;
for (let c = 0x61; c <= 0x66; c++) IS_LOWER_HEX[c] = 1;

/** A quoted lower-case 64-hex-digit ID at `p`, or undefined. */
function idAt(t: string, p: number): Id | undefined {
  if (t.charCodeAt(p) !== 0x22 || t.charCodeAt(p + 65) !== 0x22) return undefined;
  for (let i = p + 1; i <= p + 64; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128 || IS_LOWER_HEX[c] === 0) return undefined;
  }
  return t.slice(p + 1, p + 65);
}

// The last canonical time the fast path parsed: atime often repeats mtime, and siblings
// written together share times. (A one-entry cache costs less than a Map lookup per time.)
let lastFastTimeText = '';
let lastFastTime: GoTime = ZERO_GO_TIME;

/** A canonical time string at `p` (its opening quote), or undefined. */
function canonicalTimeAt(t: string, p: number): GoTime | undefined {
  const end = plainStringEnd(t, p);
  if (end < 0) return undefined;
  const s = t.slice(p + 1, end);
  if (s === lastFastTimeText) return lastFastTime;
  const time = parseTimeFast(s);
  // unusual layouts go to the general path, which parses (or rejects) them
  if (time === undefined || !isCanonicalTimeText(s, time)) return undefined;
  lastFastTimeText = s;
  lastFastTime = time;
  return time;
}

// Position after the last successful fast-path step (module state: one small integer instead
// of a tuple per field).
let fastPos = 0;

/** Reads `,"key":` (or `{"key":` for the first) at `p`; true and fastPos after the colon. */
function keyAt(t: string, p: number, literal: string): boolean {
  if (!t.startsWith(literal, p)) return false;
  fastPos = p + literal.length;
  return true;
}

function optionalString(t: string, literal: string): string | undefined {
  if (!keyAt(t, fastPos, literal)) return undefined;
  const end = plainStringEnd(t, fastPos);
  if (end < 0 || end === fastPos + 1) return undefined; // escapes, or '' which Go omits
  const v = t.slice(fastPos + 1, end);
  fastPos = end + 1;
  return v;
}

function optionalUint(t: string, literal: string, max: bigint): bigint | undefined {
  if (!keyAt(t, fastPos, literal)) return undefined;
  const end = uintEnd(t, fastPos);
  if (end < 0) return undefined;
  const v = uintValue(t, fastPos, end, max);
  if (v === undefined || v === 0n) return undefined; // out of range, or 0 which Go omits
  fastPos = end;
  return v;
}

/**
 * A node in exactly Go's layout at the reader's position, or undefined (position unchanged)
 * when anything differs; see above.
 */
function readCanonicalNode(r: JsonReader): TreeNode | undefined {
  const t = r.text;
  const start = r.pos;
  if (!keyAt(t, start, '{"name":')) return undefined;
  let end = plainStringEnd(t, fastPos);
  if (end < 0) return undefined;
  const quotedName = t.slice(fastPos + 1, end);
  if (!keyAt(t, end + 1, ',"type":')) return undefined;
  end = plainStringEnd(t, fastPos);
  if (end < 0) return undefined;
  const type = t.slice(fastPos + 1, end);
  fastPos = end + 1;

  const modeAt = fastPos;
  const modeValue = optionalUint(t, ',"mode":', MAX_UINT32);
  if (modeValue === undefined && fastPos !== modeAt) return undefined;
  const mode = modeValue === undefined ? 0 : Number(modeValue);

  if (!keyAt(t, fastPos, ',"mtime":')) return undefined;
  const mtime = canonicalTimeAt(t, fastPos);
  if (mtime === undefined) return undefined;
  // canonicalTimeAt checked the string; find its end again (times are short and escape-free)
  if (!keyAt(t, t.indexOf('"', fastPos + 1) + 1, ',"atime":')) return undefined;
  const atime = canonicalTimeAt(t, fastPos);
  if (atime === undefined) return undefined;
  if (!keyAt(t, t.indexOf('"', fastPos + 1) + 1, ',"ctime":')) return undefined;
  const ctime = canonicalTimeAt(t, fastPos);
  if (ctime === undefined) return undefined;
  if (!keyAt(t, t.indexOf('"', fastPos + 1) + 1, ',"uid":')) return undefined;
  end = uintEnd(t, fastPos);
  const uid = end < 0 ? undefined : uintValue(t, fastPos, end, MAX_UINT32);
  if (uid === undefined || !keyAt(t, end, ',"gid":')) return undefined;
  end = uintEnd(t, fastPos);
  const gid = end < 0 ? undefined : uintValue(t, fastPos, end, MAX_UINT32);
  if (gid === undefined) return undefined;
  fastPos = end;

  // Optional fields in struct order: each is either absent (next key follows) or non-zero.
  let at = fastPos;
  const user = optionalString(t, ',"user":');
  if (user === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const group = optionalString(t, ',"group":');
  if (group === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const inode = optionalUint(t, ',"inode":', MAX_UINT64);
  if (inode === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const deviceId = optionalUint(t, ',"device_id":', MAX_UINT64);
  if (deviceId === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const size = optionalUint(t, ',"size":', MAX_UINT64);
  if (size === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const links = optionalUint(t, ',"links":', MAX_UINT64);
  if (links === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  const linkTarget = optionalString(t, ',"linktarget":');
  if (linkTarget === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  // linktarget_raw, extended_attributes and generic_attributes: rare, left to the general path
  const device = optionalUint(t, ',"device":', MAX_UINT64);
  if (device === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;

  if (!keyAt(t, at, ',"content":')) return undefined;
  let content: Id[] | null;
  if (t.startsWith('null', fastPos)) {
    content = null;
    fastPos += 4;
  } else if (t.charCodeAt(fastPos) === 0x5b) {
    content = [];
    let p = fastPos + 1;
    if (t.charCodeAt(p) !== 0x5d) {
      for (;;) {
        const id = idAt(t, p);
        if (id === undefined) return undefined;
        content.push(id);
        p += 66;
        const c = t.charCodeAt(p);
        if (c === 0x5d) break;
        if (c !== 0x2c) return undefined;
        p++;
      }
    }
    fastPos = p + 1;
  } else return undefined;

  let subtree: Id | undefined;
  at = fastPos;
  if (keyAt(t, at, ',"subtree":')) {
    subtree = idAt(t, fastPos);
    if (subtree === undefined) return undefined;
    at = fastPos += 66;
  }
  const error = optionalString(t, ',"error":');
  if (error === undefined) {
    if (fastPos !== at) return undefined;
  } else at = fastPos;
  if (t.charCodeAt(at) !== 0x7d) return undefined;

  // The name: as readNode decodes and checks it.
  let name: Uint8Array;
  let nameText: string;
  if (PLAIN_QUOTED_NAME.test(quotedName)) {
    name = utf8Bytes(quotedName);
    nameText = quotedName;
  } else {
    try {
      name = goUnquote(quotedName);
    } catch {
      return undefined;
    }
    if (goQuote(name) !== quotedName) return undefined;
    nameText = utf8Text(name);
  }

  const node: TreeNode = {
    name,
    nameText,
    type,
    mode,
    mtime,
    atime,
    ctime,
    uid: Number(uid),
    gid: Number(gid),
    user: user ?? '',
    group: group ?? '',
    inode: inode ?? 0n,
    deviceId: deviceId ?? 0n,
    size: size ?? 0n,
    links: links ?? 0n,
    linkTarget: linkTarget === undefined ? EMPTY_BYTES : utf8Bytes(linkTarget),
    extendedAttributes: [],
    genericAttributes: {},
    device: device ?? 0n,
    content,
    error: error ?? '',
    extra: {},
  };
  if (subtree !== undefined) node.subtree = subtree;
  r.pos = at + 1;
  if (keepingNodeText) canonicalTexts.set(node, t.slice(start, at + 1));
  return node;
}

/** Whether the tree being parsed keeps its nodes' texts (parseTree's `keepNodeText`). */
let keepingNodeText = false;

/**
 * The text of each node the fast path read, when asked (parseTree's `keepNodeText`). That path
 * accepts only Go's exact layout with
 * escape-free strings, so the text is what encodeNodeCanonical gives for the node under any
 * options (test/unit/tree.test.ts checks this). It shares the tree text's memory and lives as
 * long as the parsed node.
 */
const canonicalTexts = new WeakMap<TreeNode, string>();

/** The text kept for `node` by parseTree's `keepNodeText`, if any (for tests). */
export function keptNodeText(node: TreeNode): string | undefined {
  return canonicalTexts.get(node);
}

/** New nodes that may be encoded as the text of the earlier node they were made from. */
const encodedLike = new WeakMap<TreeNode, TreeNode>();

/**
 * Marks `node` as built from `previous` (e.g. a file's node in the parent snapshot): if at
 * encoding time the two are equal field by field and `previous` was read in Go's exact layout,
 * its text is reused instead of formatting three times and every field again — an unchanged
 * file's node in a re-backup costs a comparison.
 */
export function encodeLikePrevious(node: TreeNode, previous: TreeNode): void {
  encodedLike.set(node, previous);
}

function readExtendedAttributes(r: JsonReader): ExtendedAttribute[] {
  if (r.readNull()) return [];
  if (r.peek() !== 'array') throw r.typeError(`field extended_attributes: expected an array, got ${r.peek()}`);
  const out: ExtendedAttribute[] = [];
  r.beginArray();
  while (r.nextElement()) {
    if (r.readNull()) {
      r.nonCanonical++;
      out.push({ name: '', value: null });
      continue;
    }
    if (r.peek() !== 'object') throw r.typeError(`field extended_attributes: expected objects, got ${r.peek()}`);
    const attr: ExtendedAttribute = { name: '', value: null };
    let keys = '';
    r.beginObject();
    for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) {
      keys += key + ',';
      const field = matchField(key, XATTR_FIELDS);
      if (field === 'name') attr.name = readStringField(r, 'extended_attributes.name') ?? attr.name;
      else if (field === 'value') attr.value = readBytesField(r, 'extended_attributes.value');
      else r.skipValue(); // Go ignores unknown keys here, and so does our writer
    }
    if (keys !== 'name,value,') r.nonCanonical++; // Go writes exactly these two, in this order
    out.push(attr);
  }
  return out;
}
const XATTR_FIELDS: ReadonlySet<string> = new Set(['name', 'value']);

function readGenericAttributes(r: JsonReader): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.readNull()) return out;
  if (r.peek() !== 'object') throw r.typeError(`field generic_attributes: expected an object, got ${r.peek()}`);
  r.beginObject();
  for (let key = r.nextKey(); key !== undefined; key = r.nextKey()) setOwn(out, key, r.readRaw());
  return out;
}

function readContent(r: JsonReader): Id[] | null {
  if (r.readNull()) return null;
  if (r.peek() !== 'array') throw r.typeError(`field content: expected an array, got ${r.peek()}`);
  const ids: Id[] = [];
  r.beginArray();
  while (r.nextElement()) {
    const id = readIdField(r, 'content');
    // Go decodes null into a zero ID; keep that as 64 zeros.
    ids.push(id ?? '0'.repeat(64));
  }
  return ids;
}

function treeLabel(treeId?: Id): string {
  return treeId === undefined ? 'tree' : `tree ${shortId(treeId)}`;
}

/**
 * Parses a tree blob's plaintext. Unknown top-level keys are kept in `extra`; `nodes: null`
 * gives no nodes. Bad JSON or a bad field throws CORRUPT naming the tree.
 */
export interface ParseTreeOptions {
  /**
   * Keep, for each node read in Go's exact layout, its text for `encodeLikePrevious` (the
   * archiver asks this of parent-snapshot trees). Off by default: the texts share the tree's
   * text and would keep it alive as long as the nodes.
   */
  keepNodeText?: boolean;
}

export function parseTree(data: Uint8Array | string, treeId?: Id, options: ParseTreeOptions = {}): Tree {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  const reader = new JsonReader(text, treeLabel(treeId));
  keepingNodeText = options.keepNodeText === true;
  try {
    if (reader.peek() !== 'object') throw reader.typeError(`expected a JSON object, got ${reader.peek()}`);
    let nodes: TreeNode[] = [];
    const extra: Record<string, string> = {};
    reader.beginObject();
    for (let key = reader.nextKey(); key !== undefined; key = reader.nextKey()) {
      if (matchField(key, TREE_FIELDS) === 'nodes') {
        nodes = [];
        if (reader.readNull()) continue;
        if (reader.peek() !== 'array') throw reader.typeError(`field nodes: expected an array, got ${reader.peek()}`);
        reader.beginArray();
        while (reader.nextElement()) nodes.push(readNode(reader));
      } else {
        setOwn(extra, key, reader.readRaw());
      }
    }
    reader.finish();
    return { nodes, extra };
  } catch (err) {
    throw wrapStackOverflow(err, reader);
  } finally {
    keepingNodeText = false;
  }
}
const TREE_FIELDS: ReadonlySet<string> = new Set(['nodes']);

/** Parses a single node's JSON text (e.g. one element of a tree). */
export function parseNode(text: string, what = 'node'): TreeNode {
  const reader = new JsonReader(text, what);
  try {
    const node = readNode(reader);
    reader.finish();
    return node;
  } catch (err) {
    throw wrapStackOverflow(err, reader);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface EncodeTreeOptions extends GoJsonOptions {
  /**
   * Reuse a parsed node's source text when the node is unchanged but our canonical encoding
   * differs (default true). Set false to get the pure canonical Go encoding.
   */
  reuseSource?: boolean;
}

/** Go's fixTime: years outside 0..9999 cannot be marshalled, so restic clamps them. */
function fixTime(t: GoTime): GoTime {
  // Seconds from 0000-01-01 to 9999-12-31T23:59:59 UTC (±14 h offset margin): no wall() needed.
  if (t.unixSeconds > -62_167_000_000 && t.unixSeconds < 253_402_000_000) return t;
  const year = t.wall().year;
  if (year < 0) return t.addDate(-year, 0, 0);
  if (year > 9999) return t.addDate(-(year - 9999), 0, 0);
  return t;
}

/** The canonical Go encoding of one node (no source reuse). */
function encodeNodeCanonical(node: TreeNode, options: GoJsonOptions): string {
  // Plain concatenation with literal keys: this runs once per file in a backup.
  let out = '{"name":' + goJsonString(goQuote(node.name), options) + ',"type":' + goJsonString(node.type, options);
  if (node.mode !== 0) out += ',"mode":' + node.mode;
  out += ',"mtime":"' + formatTime(fixTime(node.mtime)) + '","atime":"' + formatTime(fixTime(node.atime)) + '","ctime":"' + formatTime(fixTime(node.ctime));
  out += '","uid":' + node.uid + ',"gid":' + node.gid;
  if (node.user !== '') out += ',"user":' + goJsonString(node.user, options);
  if (node.group !== '') out += ',"group":' + goJsonString(node.group, options);
  if (node.inode !== 0n) out += ',"inode":' + node.inode;
  if (node.deviceId !== 0n) out += ',"device_id":' + node.deviceId;
  if (node.size !== 0n) out += ',"size":' + node.size;
  if (node.links !== 0n) out += ',"links":' + node.links;
  if (node.linkTarget.length > 0) {
    out += ',"linktarget":' + goJsonString(node.linkTarget, options);
    // restic ≥ 0.16 keeps targets that are not valid UTF-8 exactly, next to the lossy string.
    if (!isValidUtf8(node.linkTarget)) out += ',"linktarget_raw":"' + base64(node.linkTarget) + '"';
  }
  if (node.extendedAttributes.length > 0) {
    const attrs = node.extendedAttributes.map((a) => new GoJsonObject(options).string('name', a.name).bytes('value', a.value).toString());
    out += ',"extended_attributes":[' + attrs.join(',') + ']';
  }
  const genericKeys = Object.keys(node.genericAttributes);
  if (genericKeys.length > 0) {
    genericKeys.sort(compareGoStrings);
    const g = new GoJsonObject(options);
    for (const k of genericKeys) g.raw(k, goCompactJson(node.genericAttributes[k]));
    out += ',"generic_attributes":' + g.toString();
  }
  if (node.device !== 0n) out += ',"device":' + node.device;
  if (node.content === null) out += ',"content":null';
  else {
    out += ',"content":[';
    for (let i = 0; i < node.content.length; i++) out += (i === 0 ? '"' : ',"') + node.content[i] + '"';
    out += ']';
  }
  if (node.subtree !== undefined) out += ',"subtree":"' + node.subtree + '"';
  if (node.error !== '') out += ',"error":' + goJsonString(node.error, options);
  for (const key in node.extra) {
    if (!Object.prototype.hasOwnProperty.call(node.extra, key) || NODE_FIELD_SET.has(key)) continue;
    out += ',' + goJsonString(key, options) + ':' + goCompactJson(node.extra[key]);
  }
  return out + '}';
}

/** One node's JSON as it goes into a tree blob. */
export function encodeNode(node: TreeNode, options: EncodeTreeOptions = {}): string {
  const previous = encodedLike.get(node);
  if (previous !== undefined) {
    const text = canonicalTexts.get(previous);
    if (text !== undefined && nodesEqual(previous, node)) return text;
  }
  const canonical = encodeNodeCanonical(node, options);
  if (options.reuseSource === false) return canonical;
  const source = nodeSources.get(node);
  if (source === undefined || source === canonical) return canonical;
  // Differs: reuse the bytes we read if the node still holds exactly what they say.
  return nodesEqual(parseNode(source), node) ? source : canonical;
}

/** Field-by-field equality (Go's Node.Equals plus the fields it skips: extra, raw values). */
export function nodesEqual(a: TreeNode, b: TreeNode): boolean {
  if (compareBytes(a.name, b.name) !== 0 || a.type !== b.type || a.mode !== b.mode) return false;
  if (!timesIdentical(a.mtime, b.mtime) || !timesIdentical(a.atime, b.atime) || !timesIdentical(a.ctime, b.ctime)) return false;
  if (a.uid !== b.uid || a.gid !== b.gid || a.user !== b.user || a.group !== b.group) return false;
  if (a.inode !== b.inode || a.deviceId !== b.deviceId || a.size !== b.size || a.links !== b.links) return false;
  if (compareBytes(a.linkTarget, b.linkTarget) !== 0 || a.device !== b.device || a.subtree !== b.subtree || a.error !== b.error) return false;
  if ((a.content === null) !== (b.content === null)) return false;
  if (a.content && b.content && (a.content.length !== b.content.length || a.content.some((id, i) => id !== b.content![i]))) return false;
  if (a.extendedAttributes.length !== b.extendedAttributes.length) return false;
  for (let i = 0; i < a.extendedAttributes.length; i++) {
    const x = a.extendedAttributes[i];
    const y = b.extendedAttributes[i];
    if (x.name !== y.name || (x.value === null) !== (y.value === null)) return false;
    if (x.value && y.value && compareBytes(x.value, y.value) !== 0) return false;
  }
  return rawMapsEqual(a.genericAttributes, b.genericAttributes) && rawMapsEqual(a.extra, b.extra);
}

function timesIdentical(a: GoTime, b: GoTime): boolean {
  return a.unixSeconds === b.unixSeconds && a.nanos === b.nanos && a.offsetSeconds === b.offsetSeconds;
}

function rawMapsEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && goCompactJson(a[k]) === goCompactJson(b[k]));
}

/**
 * A tree blob exactly as restic writes it: `{"nodes":[…]}\n`, nodes sorted bytewise by raw
 * name. Throws USAGE for an empty or duplicate name (restic's ErrTreeNotOrdered).
 */
export function encodeTree(nodes: readonly TreeNode[], options: EncodeTreeOptions = {}): Uint8Array {
  // Node by node into one growing buffer: no huge rope string to flatten, no buffer per node.
  const parts = encodedNodes(nodes, options);
  let buf = Buffer.allocUnsafe(64 + parts.reduce((n, p) => n + p.length + 1, 0));
  let at = buf.write('{"nodes":[', 0, 'latin1');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (buf.length - at < part.length * 3 + 8) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + part.length * 3 + 8));
      buf.copy(bigger, 0, 0, at);
      buf = bigger;
    }
    if (i > 0) buf[at++] = 0x2c;
    at += buf.write(part, at, 'utf8');
  }
  if (buf.length - at < 3) {
    const bigger = Buffer.allocUnsafe(at + 3);
    buf.copy(bigger, 0, 0, at);
    buf = bigger;
  }
  at += buf.write(']}\n', at, 'latin1');
  return new Uint8Array(buf.buffer, buf.byteOffset, at);
}

/** As encodeTree, as a JS string (the blob is its UTF-8 encoding). */
export function encodeTreeText(nodes: readonly TreeNode[], options: EncodeTreeOptions = {}): string {
  return '{"nodes":[' + encodedNodes(nodes, options).join(',') + ']}\n';
}

function encodedNodes(nodes: readonly TreeNode[], options: EncodeTreeOptions): string[] {
  let sorted = nodes;
  for (let i = 1; i < nodes.length; i++) {
    if (compareBytes(nodes[i - 1].name, nodes[i].name) >= 0) {
      sorted = [...nodes].sort((a, b) => compareBytes(a.name, b.name));
      break;
    }
  }
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const node = sorted[i];
    if (node.name.length === 0) throw new ResticError('USAGE', 'tree node with an empty name');
    if (i > 0 && compareBytes(sorted[i - 1].name, node.name) === 0) {
      throw new ResticError('USAGE', `duplicate tree node name ${JSON.stringify(node.nameText)}`);
    }
    parts.push(encodeNode(node, options));
  }
  return parts;
}
