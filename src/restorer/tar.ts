/**
 * A tar writer producing the headers Go's archive/tar writes when given a header without an
 * explicit format (what restic's `dump` does): USTAR when every field fits (long ASCII names
 * split into prefix/name), otherwise PAX records (`path`, `linkpath`, `uname`, `gname`,
 * `uid`, `gid`, `size`, xattrs as `SCHILY.xattr.*`) in an `x` header named
 * `dir/PaxHeaders.0/file`. Modification times are rounded to the second; access and change
 * times are dropped (Go does that for format-less headers). The archive ends with two zero
 * blocks and is not padded further.
 */

export const TypeReg = 0x30; // '0'
export const TypeSymlink = 0x32; // '2'
export const TypeDir = 0x35; // '5'
const TypeXHeader = 0x78; // 'x'

export interface TarHeader {
  /** Raw name bytes (may be any bytes). */
  name: Uint8Array;
  linkname?: Uint8Array;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: bigint;
  /** Modification time: seconds and nanoseconds since the epoch. */
  mtimeSeconds: number;
  mtimeNanos: number;
  paxRecords?: Record<string, Uint8Array>;
}

const BLOCK = 512;

function isAscii(b: Uint8Array): boolean {
  for (const c of b) if (c >= 0x80 || c === 0) return false;
  return true;
}

function fitsOctal(width: number, n: bigint): boolean {
  return n >= 0n && n < 8n ** BigInt(width - 1);
}

function writeString(block: Uint8Array, offset: number, width: number, value: Uint8Array): void {
  block.set(value.subarray(0, width), offset);
}

function writeOctal(block: Uint8Array, offset: number, width: number, n: bigint): void {
  if (!fitsOctal(width, n)) n = 0n;
  const s = n.toString(8).padStart(width - 1, '0');
  block.set(Buffer.from(s, 'ascii').subarray(0, width), offset);
}

function setChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  writeOctal(block, 148, 7, BigInt(sum));
  block[154] = 0;
  block[155] = 0x20;
}

/** Drops non-ASCII characters, as Go's toASCII does for PAX main headers. */
function toAscii(b: Uint8Array): Uint8Array {
  const text = Buffer.from(b).toString('utf8');
  return Buffer.from([...text].filter((c) => c.codePointAt(0)! < 0x80).join(''), 'ascii');
}

/** Go's splitUSTARPath. */
function splitUstarPath(name: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  let length = name.length;
  if (length <= 100 || !isAscii(name)) return undefined;
  if (length > 156) length = 156;
  else if (name[length - 1] === 0x2f) length--;
  const i = name.subarray(0, length).lastIndexOf(0x2f);
  const nlen = name.length - i - 1;
  const plen = i;
  if (i <= 0 || nlen > 100 || nlen === 0 || plen > 155) return undefined;
  return [name.subarray(0, i), name.subarray(i + 1)];
}

function headerBlock(h: TarHeader, name: Uint8Array, prefix: Uint8Array | undefined, ascii: (b: Uint8Array) => Uint8Array): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, ascii(name));
  writeOctal(block, 100, 8, BigInt(h.mode));
  writeOctal(block, 108, 8, BigInt(h.uid));
  writeOctal(block, 116, 8, BigInt(h.gid));
  writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, BigInt(roundedSeconds(h)));
  block[156] = h.typeflag;
  writeString(block, 157, 100, ascii(h.linkname ?? new Uint8Array(0)));
  block.set(Buffer.from('ustar\x0000', 'latin1'), 257);
  writeString(block, 265, 32, ascii(Buffer.from(h.uname, 'utf8')));
  writeString(block, 297, 32, ascii(Buffer.from(h.gname, 'utf8')));
  writeOctal(block, 329, 8, 0n);
  writeOctal(block, 337, 8, 0n);
  if (prefix) writeString(block, 345, 155, prefix);
  setChecksum(block);
  return block;
}

function roundedSeconds(h: TarHeader): number {
  // Go's Time.Round(time.Second): halves round up
  return h.mtimeSeconds + (h.mtimeNanos >= 500_000_000 ? 1 : 0);
}

function paxRecord(key: string, value: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.from(value), Buffer.from('\n')]);
  let size = body.length + 1;
  for (;;) {
    const total = String(size).length + body.length;
    if (total === size) break;
    size = total;
  }
  return Buffer.concat([Buffer.from(String(size), 'ascii'), body]);
}

function padding(n: number): Uint8Array {
  const rest = n % BLOCK;
  return new Uint8Array(rest === 0 ? 0 : BLOCK - rest);
}

/** Header bytes (PAX extension when needed, then the main header) for one entry. */
export function encodeTarHeader(h: TarHeader): Uint8Array {
  const pax = new Map<string, Uint8Array>();
  let ustar = true;
  const checkString = (value: Uint8Array, width: number, key: string | undefined, splittable = false): void => {
    if (isAscii(value) && value.length <= width) return;
    if (!(splittable && splitUstarPath(value))) ustar = false;
    if (key) pax.set(key, value);
  };
  checkString(h.name, 100, 'path', true);
  checkString(h.linkname ?? new Uint8Array(0), 100, 'linkpath');
  checkString(Buffer.from(h.uname, 'utf8'), 32, 'uname');
  checkString(Buffer.from(h.gname, 'utf8'), 32, 'gname');
  const checkNumber = (n: bigint, width: number, key: string): void => {
    if (fitsOctal(width, n)) return;
    ustar = false;
    pax.set(key, Buffer.from(n.toString(10), 'ascii'));
  };
  checkNumber(BigInt(h.uid), 8, 'uid');
  checkNumber(BigInt(h.gid), 8, 'gid');
  checkNumber(h.size, 12, 'size');
  const records = Object.entries(h.paxRecords ?? {});
  if (records.length > 0) ustar = false;
  for (const [k, v] of records) pax.set(k, v);

  if (ustar) {
    const split = splitUstarPath(h.name);
    return split ? headerBlock(h, split[1], split[0], (b) => b) : headerBlock(h, h.name, undefined, (b) => b);
  }
  const keys = [...pax.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data = Buffer.concat(keys.map((k) => paxRecord(k, pax.get(k)!)));
  const nameText = Buffer.from(h.name).toString('utf8');
  const slash = nameText.lastIndexOf('/');
  const dir = slash >= 0 ? nameText.slice(0, slash + 1) : '';
  const file = slash >= 0 ? nameText.slice(slash + 1) : nameText;
  let paxName = joinClean(dir, 'PaxHeaders.0', file);
  paxName = Buffer.from(toAscii(Buffer.from(paxName, 'utf8'))).toString('latin1').slice(0, 100).replace(/\/+$/, '');
  const xh = new Uint8Array(BLOCK);
  writeString(xh, 0, 100, Buffer.from(paxName, 'latin1'));
  writeOctal(xh, 100, 8, 0n);
  writeOctal(xh, 108, 8, 0n);
  writeOctal(xh, 116, 8, 0n);
  writeOctal(xh, 124, 12, BigInt(data.length));
  writeOctal(xh, 136, 12, 0n);
  xh[156] = TypeXHeader;
  xh.set(Buffer.from('ustar\x0000', 'latin1'), 257);
  setChecksum(xh);
  const main = headerBlock(h, h.name, undefined, toAscii);
  return Buffer.concat([xh, data, padding(data.length), main]);
}

/** Go's path.Join(dir, a, b) for the PAX header name. */
function joinClean(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/');
  const rooted = joined.startsWith('/');
  const out: string[] = [];
  for (const p of joined.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(p);
  }
  return (rooted ? '/' : '') + out.join('/');
}

/** Zero padding after `size` bytes of entry content. */
export function tarPadding(size: bigint): Uint8Array {
  return padding(Number(size % BigInt(BLOCK)));
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}
