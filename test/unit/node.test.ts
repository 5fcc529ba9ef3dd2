import { describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';
import {
  GoFileMode,
  encodeNode,
  encodeTree,
  encodeTreeText,
  formatTimeFast,
  goFileModeString,
  goModeFromPosix,
  keptNodeSource,
  newNode,
  nodeTypeFromGoMode,
  nodesEqual,
  parseNode,
  parseTimeFast,
  parseTree,
  posixFromGoMode,
} from '../../src/format/node.js';
import { expectResticError } from '../support/errors.js';

const T = '"mtime":"2026-11-26T13:47:36.190686335+01:00","atime":"2026-11-26T13:47:36.190686335+01:00","ctime":"2026-11-26T13:47:36.194686335+01:00"';
const ID1 = '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4';
const ID2 = '2b2cf5117cbf482113b626bc02708b5e0c92146c53e19a95fe85643f8f68d832';

/** Nodes as restic 0.14 (Go 1.19) wrote them (copied from a real backup). */
const resticNodes = {
  file: `{"name":"a.txt","type":"file","mode":420,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2146458,"device_id":65024,"size":2,"links":1,"content":["${ID1}"]}`,
  badName: `{"name":"bad\\\\xffname","type":"file","mode":420,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2147313,"device_id":65024,"links":1,"content":[]}`,
  fifo: `{"name":"fifo","type":"fifo","mode":33554852,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2147265,"device_id":65024,"content":null}`,
  link: `{"name":"link","type":"symlink","mode":134218239,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2147281,"device_id":65024,"links":1,"linktarget":"tar\\ufffdget\\u0008","content":null}`,
  newline: `{"name":"nl\\\\nname","type":"file","mode":420,${T},"uid":1000,"gid":100,"inode":2147334,"device_id":65024,"links":1,"content":[]}`,
  dir: `{"name":"sub","type":"dir","mode":2147484141,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2146411,"device_id":65024,"content":null,"subtree":"${ID2}"}`,
  weird: `{"name":"we\\u003cir\\u003ed\\u0026\\\\\\"name\\\\\\\\\\\\\\\\.txt","type":"file","mode":420,${T},"uid":0,"gid":0,"links":1,"content":[]}`,
  emoji: `{"name":"😀","type":"file","mode":420,${T},"uid":0,"gid":0,"links":1,"content":[]}`,
};
const resticTree = '{"nodes":[' + Object.values(resticNodes).join(',') + ']}\n';

const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const expectError = expectResticError;

describe('parseTree on restic-written trees', () => {
  const tree = parseTree(Buffer.from(resticTree), ID2);
  const byName = new Map(tree.nodes.map((n) => [n.nameText, n]));

  it('decodes names to raw bytes through Go unquoting', () => {
    expect(tree.nodes.map((n) => hex(n.name))).toEqual([
      hex(Buffer.from('a.txt')),
      '626164ff6e616d65',
      hex(Buffer.from('fifo')),
      hex(Buffer.from('link')),
      hex(Buffer.from('nl\nname')),
      hex(Buffer.from('sub')),
      hex(Buffer.from('we<ir>d&"name\\\\.txt')),
      hex(Buffer.from('😀')),
    ]);
    expect(tree.nodes[1].nameText).toBe('bad\ufffdname');
  });

  it('reads every field with exact types', () => {
    const f = byName.get('a.txt')!;
    expect(f).toMatchObject({ type: 'file', mode: 420, uid: 0, gid: 0, user: 'root', group: 'root', inode: 2146458n, deviceId: 65024n, size: 2n, links: 1n, content: [ID1] });
    expect(f.mtime.toString()).toBe('2026-11-26T13:47:36.190686335+01:00');
    expect(f.mtime.nanos).toBe(190686335);
    expect(f.mtime.offsetSeconds).toBe(3600);
    expect(f.ctime.toString()).toBe('2026-11-26T13:47:36.194686335+01:00');
    expect(byName.get('sub')).toMatchObject({ type: 'dir', mode: 2147484141, content: null, subtree: ID2 });
    expect(byName.get('fifo')!.content).toBeNull();
    expect(byName.get('nl\nname')).toMatchObject({ uid: 1000, gid: 100, user: '', group: '' });
    expect(utf8(byName.get('link')!.linkTarget)).toBe('tar\ufffdget\b');
  });

  it('re-encodes to the identical bytes (source kept where Go 1.19 escaped differently)', () => {
    expect(utf8(encodeTree(tree.nodes))).toBe(resticTree);
  });

  it('canonical Go 1.19 encoding equals restic 0.14 bytes except the lossy symlink target', () => {
    const canonical = tree.nodes.map((n) => encodeNode(n, { reuseSource: false, legacyControlEscapes: true }));
    const original = Object.values(resticNodes);
    for (let i = 0; i < original.length; i++) {
      if (tree.nodes[i].nameText === 'link') {
        // \ufffd escape decodes to U+FFFD, which Go itself re-encodes raw (restic's "unstable JSON").
        expect(canonical[i]).toContain('"linktarget":"tar\ufffdget\\u0008"');
      } else {
        expect(canonical[i]).toBe(original[i]);
      }
    }
  });

  it('writes the canonical form once a node is changed', () => {
    const link = byName.get('link')!;
    const changed = { ...link, size: 0n, linkTarget: Buffer.from('target') };
    expect(encodeNode(changed)).toContain('"linktarget":"target","content":null}');
    link.inode = 7n; // mutated in place: the source no longer describes it
    expect(encodeNode(link)).toContain('"inode":7,');
    expect(encodeNode(link)).toContain('"linktarget":"tar\ufffdget\\b"');
  });
});

describe('node encoding', () => {
  const base = {
    mtime: GoTime.parse('2015-11-10T22:09:48.754006018+01:00'),
    atime: GoTime.parse('2015-11-10T22:09:48.754006018+01:00'),
    ctime: GoTime.parse('2020-01-02T03:04:05Z'),
  };

  it('keeps 64-bit integers beyond 2^53 exact', () => {
    const text = `{"name":"big","type":"chardev","mode":69206454,${T},"uid":4294967295,"gid":0,"inode":18446744073709551615,"device_id":9007199254740993,"links":1,"device":1152921504606846977,"content":null}`;
    const n = parseNode(text);
    expect(n.inode).toBe(18446744073709551615n);
    expect(n.deviceId).toBe(9007199254740993n);
    expect(n.device).toBe(1152921504606846977n);
    expect(n.uid).toBe(4294967295);
    expect(encodeNode(n, { reuseSource: false })).toBe(text);
  });

  it('omits zero fields as Go omitempty does, but never uid, gid, times or content', () => {
    const n = newNode({ name: 'f', type: 'file', content: [], ...base });
    expect(encodeNode(n)).toBe(
      '{"name":"f","type":"file","mtime":"2015-11-10T22:09:48.754006018+01:00","atime":"2015-11-10T22:09:48.754006018+01:00","ctime":"2020-01-02T03:04:05Z","uid":0,"gid":0,"content":[]}',
    );
    const zero = newNode({ name: 'z', type: 'dir' });
    expect(encodeNode(zero)).toBe('{"name":"z","type":"dir","mtime":"0001-01-01T00:00:00Z","atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"content":null}');
  });

  it('writes a non-UTF-8 symlink target as the lossy string plus linktarget_raw, and reads the raw bytes back', () => {
    const target = Uint8Array.from([0x61, 0xff, 0x62, 0x08]);
    const n = newNode({ name: 'l', type: 'symlink', linkTarget: target, ...base });
    const text = encodeNode(n);
    expect(text).toContain('"linktarget":"a\\ufffdb\\b","linktarget_raw":"Yf9iCA==","content":null');
    expect(hex(parseNode(text).linkTarget)).toBe('61ff6208');
    expect(encodeNode(newNode({ name: 'l', type: 'symlink', linkTarget: Buffer.from('ok'), ...base }))).not.toContain('linktarget_raw');
  });

  it('writes extended attributes in order and generic attributes sorted with raw values', () => {
    const text =
      `{"name":"x","type":"file",${T},"uid":0,"gid":0,"extended_attributes":[{"name":"user.b","value":"AQI="},{"name":"user.a","value":null},{"name":"user.c","value":""}],` +
      `"generic_attributes":{"windows.file_attributes":32,"windows.creation_time":{"LowDateTime":1,"HighDateTime":2}},"content":[]}`;
    const n = parseNode(text);
    expect(n.extendedAttributes.map((a) => [a.name, a.value && hex(a.value)])).toEqual([
      ['user.b', '0102'],
      ['user.a', null],
      ['user.c', ''],
    ]);
    expect(n.genericAttributes['windows.file_attributes']).toBe('32');
    expect(encodeNode(n, { reuseSource: false })).toContain(
      '"extended_attributes":[{"name":"user.b","value":"AQI="},{"name":"user.a","value":null},{"name":"user.c","value":""}],"generic_attributes":{"windows.creation_time":{"LowDateTime":1,"HighDateTime":2},"windows.file_attributes":32},"content":[]}',
    );
  });

  it('keeps unknown fields and writes them after the known ones', () => {
    const text = `{"name":"u","type":"file","future":{"a":[1,2]},${T},"uid":0,"gid":0,"content":[],"zz":"x\\u003cy"}`;
    const n = parseNode(text);
    expect(n.extra).toEqual({ future: '{"a":[1,2]}', zz: '"x\\u003cy"' });
    expect(encodeNode(n, { reuseSource: false })).toBe(`{"name":"u","type":"file",${T},"uid":0,"gid":0,"content":[],"future":{"a":[1,2]},"zz":"x\\u003cy"}`);
    expect(encodeNode(n)).toBe(text); // unchanged node: bytes as read
  });

  it('clamps years outside 0..9999 as restic fixTime does', () => {
    const n = newNode({ name: 'y', type: 'file', content: [], mtime: GoTime.parse('12345-06-07T08:09:10Z') });
    expect(encodeNode(n)).toContain('"mtime":"9999-06-07T08:09:10Z"');
  });

  it('matches Go field matching: case-insensitive keys, null leaves a field unset, duplicates last-wins', () => {
    const n = parseNode(`{"Name":"a","TYPE":"file","uid":5,"uid":6,"user":null,"mtime":null,"content":null}`);
    expect(n.nameText).toBe('a');
    expect(n.type).toBe('file');
    expect(n.uid).toBe(6);
    expect(n.mtime.toString()).toBe('0001-01-01T00:00:00Z');
    expect(n.content).toBeNull();
  });
});

describe('encodeTree', () => {
  const mk = (name: string | Uint8Array) => newNode({ name, type: 'file', content: [] });

  it('sorts nodes bytewise by raw name (not by UTF-16)', () => {
    const names = ['b', '😀', '\uff5e', 'a', 'B', 'a b'];
    const text = encodeTreeText([...names.map((n) => mk(n)), mk(Uint8Array.from([0xff]))]);
    const order = parseTree(text).nodes.map((n) => hex(n.name));
    expect(order).toEqual(['B', 'a', 'a b', 'b', '\uff5e', '😀'].map((n) => hex(Buffer.from(n))).concat(['ff']));
  });

  it('writes an empty tree as restic does', () => {
    expect(encodeTreeText([])).toBe('{"nodes":[]}\n');
  });

  it('refuses duplicate and empty names', () => {
    expectError(() => encodeTree([mk('a'), mk('b'), mk('a')]), 'USAGE', 'duplicate', '"a"');
    expectError(() => encodeTree([mk(new Uint8Array(0))]), 'USAGE', 'empty name');
  });
});

describe('parseTree tolerance and errors', () => {
  it('tolerates unknown top-level keys and nodes: null', () => {
    const t = parseTree(`{"before":1,"nodes":[${resticNodes.emoji}],"after":{"x":null}}`);
    expect(t.nodes).toHaveLength(1);
    expect(t.extra).toEqual({ before: '1', after: '{"x":null}' });
    expect(parseTree('{"nodes":null}').nodes).toEqual([]);
    expect(parseTree('{}').nodes).toEqual([]);
  });

  const id = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';
  const cases: [string, string][] = [
    ['{"nodes":[', 'invalid JSON'],
    ['[]', 'expected a JSON object'],
    ['{"nodes":{}}', 'field nodes'],
    ['{"nodes":[1]}', 'node: expected an object'],
    [`{"nodes":[{"name":"a\\"b"}]}`, 'not a valid Go-quoted string'],
    [`{"nodes":[{"name":"a","uid":-1}]}`, 'field uid'],
    [`{"nodes":[{"name":"a","uid":4294967296}]}`, 'out of range'],
    [`{"nodes":[{"name":"a","size":1.5}]}`, 'field size'],
    [`{"nodes":[{"name":"a","content":["xyz"]}]}`, 'field content: invalid ID'],
    [`{"nodes":[{"name":"a","mtime":"yesterday"}]}`, 'field mtime: invalid timestamp'],
    [`{"nodes":[{"name":"a","linktarget_raw":"!!"}]}`, 'linktarget_raw'],
    [`{"nodes":[{"name":5}]}`, 'field name: expected a string'],
  ];
  it.each(cases)('%s → CORRUPT naming the tree', (text, fragment) => {
    expectError(() => parseTree(Buffer.from(text), id), 'CORRUPT', 'tree abcdef01', fragment);
  });
});

describe('Go FileMode', () => {
  it('maps POSIX st_mode to the bits restic stores (verified values from restic 0.14 trees)', () => {
    expect(goModeFromPosix(0o040755)).toBe(2147484141);
    expect(goModeFromPosix(0o041777)).toBe(2148532735); // /tmp: sticky dir
    expect(goModeFromPosix(0o100644)).toBe(420);
    expect(goModeFromPosix(0o120777)).toBe(134218239);
    expect(goModeFromPosix(0o010644)).toBe(33554852);
    expect(goModeFromPosix(0o104755)).toBe(GoFileMode.Setuid + 0o755);
    expect(goModeFromPosix(0o102755)).toBe(GoFileMode.Setgid + 0o755);
    expect(goModeFromPosix(0o020666)).toBe(GoFileMode.Device + GoFileMode.CharDevice + 0o666);
    expect(goModeFromPosix(0o060660)).toBe(GoFileMode.Device + 0o660);
    expect(goModeFromPosix(0o140755)).toBe(GoFileMode.Socket + 0o755);
  });

  it('maps back to POSIX and to node types', () => {
    for (const st of [0o040755, 0o041777, 0o100644, 0o120777, 0o010644, 0o104755, 0o102755, 0o020666, 0o060660, 0o140755]) {
      expect(posixFromGoMode(goModeFromPosix(st))).toBe(st);
    }
    expect([0o040755, 0o100644, 0o120777, 0o010644, 0o020666, 0o060660, 0o140755].map((m) => nodeTypeFromGoMode(goModeFromPosix(m)))).toEqual([
      'dir',
      'file',
      'symlink',
      'fifo',
      'chardev',
      'dev',
      'socket',
    ]);
  });

  it("formats like Go's FileMode.String", () => {
    expect(goFileModeString(2147484141)).toBe('drwxr-xr-x');
    expect(goFileModeString(2148532735)).toBe('dtrwxrwxrwx');
    expect(goFileModeString(420)).toBe('-rw-r--r--');
    expect(goFileModeString(134218239)).toBe('Lrwxrwxrwx');
    expect(goFileModeString(33554852)).toBe('prw-r--r--');
    expect(goFileModeString(GoFileMode.Device + GoFileMode.CharDevice + 0o666)).toBe('Dcrw-rw-rw-');
    expect(goFileModeString(GoFileMode.Setuid + 0o755)).toBe('urwxr-xr-x');
  });
});

describe('nodesEqual', () => {
  it('compares every field including times with their offsets', () => {
    const a = parseNode(resticNodes.file);
    expect(nodesEqual(a, parseNode(resticNodes.file))).toBe(true);
    expect(nodesEqual(a, { ...a, mtime: a.mtime.withOffset(0) })).toBe(false);
    expect(nodesEqual(a, { ...a, content: [] })).toBe(false);
  });
});

describe('timestamp fast paths', () => {
  it('agree with GoTime on random times, offsets and fractions', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const secs = rnd(2 ** 30) * 8 - 2 ** 32; // ~1834..2106
      const nanos = [0, rnd(1e9), rnd(1000) * 1e6, 500_000_000][rnd(4)];
      const offset = [0, 3600, -7 * 3600 - 1800, 14 * 3600, -12 * 3600, 345 * 60][rnd(6)];
      const t = new GoTime(secs, nanos, offset);
      const text = t.toString();
      expect(formatTimeFast(t)).toBe(text);
      const back = parseTimeFast(text)!;
      expect([back.unixSeconds, back.nanos, back.offsetSeconds]).toEqual([secs, nanos, offset]);
    }
  });

  it('leave unusual layouts to GoTime', () => {
    for (const s of ['2020-02-30T00:00:00Z', '2019-02-29T00:00:00Z', '2020-01-01T24:00:00Z', '2020-01-01t00:00:00Z', '2020-01-01T00:00:00.Z', '0999-01-01T00:00:00Z x', '2020-01-01T00:00:00+0100']) {
      expect(parseTimeFast(s)).toBeUndefined();
    }
    expect(parseTimeFast('2020-02-29T23:59:59.1234567890Z')).toBeUndefined();
    expect(formatTimeFast(GoTime.parse('0001-01-01T00:00:00Z'))).toBeUndefined();
    expect(formatTimeFast(new GoTime(0, 0, 3601))).toBeUndefined();
    expect(parseTimeFast('2020-02-29T23:59:59.000000001-00:30')!.toString()).toBe('2020-02-29T23:59:59.000000001-00:30');
  });
});

describe('round-trip source keeping', () => {
  it('keeps no source for nodes Go would write identically', () => {
    for (const key of ['file', 'badName', 'fifo', 'newline', 'dir', 'weird', 'emoji'] as const) {
      expect(keptNodeSource(parseNode(resticNodes[key])), key).toBeUndefined();
    }
  });

  const unusual: [string, string][] = [
    ['legacy escapes and \\ufffd', resticNodes.link],
    ['whitespace', resticNodes.file.replace('"type":"file"', '"type": "file"')],
    ['field order', resticNodes.file.replace('"type":"file","mode":420', '"mode":420,"type":"file"')],
    ['zero value present', resticNodes.fifo.replace('"content":null', '"size":0,"content":null')],
    ['null value', resticNodes.fifo.replace('"user":"root"', '"user":null')],
    ['missing always-written field', resticNodes.fifo.replace(',"content":null', '')],
    ['time with +00:00', resticNodes.fifo.replace(/"mtime":"[^"]*"/, '"mtime":"2020-01-01T00:00:00+00:00"')],
    ['fraction with trailing zero', resticNodes.fifo.replace(/"mtime":"[^"]*"/, '"mtime":"2020-01-01T00:00:00.10Z"')],
    ['unknown field', resticNodes.fifo.replace('"content":null', '"content":null,"x":1')],
    ['upper-case ID', resticNodes.dir.replace(ID2, ID2.toUpperCase())],
    ['escaped slash', resticNodes.fifo.replace('"group":"root"', '"group":"ro\\/ot"')],
    ['raw HTML character', resticNodes.fifo.replace('"group":"root"', '"group":"a<b"')],
    ['name quoted differently', resticNodes.fifo.replace('"name":"fifo"', '"name":"\\\\x66ifo"')],
  ];
  it.each(unusual)('keeps the source when re-encoding could differ: %s', (_label, text) => {
    const node = parseNode(text);
    expect(keptNodeSource(node)).toBe(text);
    expect(encodeNode(node)).toBe(text);
  });

  it('keeps names quoted with older Unicode tables (restic 0.14 writes U+1FAE0 as \\U0001fae0)', () => {
    const text = resticNodes.emoji.replace('"name":"😀"', '"name":"\\\\U0001fae0"');
    const node = parseNode(text);
    expect(hex(node.name)).toBe('f09faba0');
    expect(keptNodeSource(node)).toBe(text);
    expect(encodeNode(node)).toBe(text);
    expect(encodeNode(node, { reuseSource: false })).toContain('"name":"\u{1fae0}"');
  });

  it('keeps a copy, not a slice of the whole tree', () => {
    const tree = parseTree(resticTree);
    const link = tree.nodes.find((n) => n.nameText === 'link')!;
    expect(keptNodeSource(link)).toBe(resticNodes.link);
  });
});
