/**
 * readNode reads nodes in Go's exact layout through a fast path and everything else through
 * the general reader. These tests check that the two agree: every node text is parsed once
 * as given (fast path when canonical) and once after a space (which the fast path refuses,
 * so the general reader reads it; the space before the object does not count as a difference
 * in the node itself), and the decoded fields and kept source text must be identical.
 * Canonical nodes must also keep no source text and re-encode to the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { encodeLikePrevious, encodeNode, keptNodeSource, keptNodeText, parseTree, type TreeNode } from '../../src/format/node.js';
import { resticErrorMessage } from '../support/errors.js';

const T = '"mtime":"2026-11-26T13:47:36.190686335+01:00","atime":"2026-11-26T13:47:36.190686335+01:00","ctime":"2026-11-26T13:47:36.194686335+01:00"';
const ID1 = '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4';
const ID2 = '2b2cf5117cbf482113b626bc02708b5e0c92146c53e19a95fe85643f8f68d832';

/** Canonical nodes as Go writes them (the fast path reads these). */
const canonical = [
  `{"name":"a.txt","type":"file","mode":420,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2146458,"device_id":65024,"size":2,"links":1,"content":["${ID1}"]}`,
  `{"name":"big","type":"file","mode":420,${T},"uid":4294967295,"gid":7,"inode":18446744073709551615,"device_id":9007199254740993,"size":123456789012345678,"links":1,"content":["${ID1}","${ID2}"]}`,
  `{"name":"fifo","type":"fifo","mode":33554852,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2147265,"device_id":65024,"content":null}`,
  `{"name":"link","type":"symlink","mode":134218239,${T},"uid":0,"gid":0,"links":1,"linktarget":"../target file","content":null}`,
  `{"name":"sub","type":"dir","mode":2147484141,${T},"uid":0,"gid":0,"user":"root","group":"root","inode":2146411,"device_id":65024,"content":null,"subtree":"${ID2}"}`,
  `{"name":"dev","type":"dev","mode":67109296,${T},"uid":0,"gid":6,"links":1,"device":2049,"content":null}`,
  `{"name":"😀 ü","type":"file","mode":420,${T},"uid":0,"gid":0,"links":1,"content":[]}`,
  `{"name":"e","type":"file",${T},"uid":0,"gid":0,"content":[],"error":"lstat failed"}`,
  `{"name":"","type":"","mtime":"0001-01-01T00:00:00Z","atime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","uid":0,"gid":0,"content":null}`,
];

/** Nodes Go would write differently, or with fields the fast path leaves to the general reader. */
const unusual = [
  `{"name":"bad\\\\xffname","type":"file","mode":420,${T},"uid":0,"gid":0,"links":1,"content":[]}`,
  `{"name":"we\\u003cird","type":"file",${T},"uid":0,"gid":0,"content":[]}`,
  `{"name":"zero","type":"file","mode":0,${T},"uid":0,"gid":0,"content":[]}`,
  `{"name":"empty-user","type":"file",${T},"uid":0,"gid":0,"user":"","content":[]}`,
  `{"name":"zero-size","type":"file",${T},"uid":0,"gid":0,"size":0,"content":[]}`,
  `{"name":"order","type":"file",${T},"gid":0,"uid":0,"content":[]}`,
  `{"name":"upper","type":"file",${T},"uid":0,"gid":0,"content":["${ID1.toUpperCase()}"]}`,
  `{"name":"nullid","type":"file",${T},"uid":0,"gid":0,"content":[null]}`,
  `{"name":"no-content","type":"file",${T},"uid":0,"gid":0}`,
  `{"name":"extra","type":"file",${T},"uid":0,"gid":0,"content":[],"future":[1,2]}`,
  `{"name":"case","type":"file",${T},"UID":0,"gid":0,"content":[]}`,
  `{"name":"time","type":"file","mtime":"2026-11-26T13:47:36.190000000Z","atime":"2026-11-26T13:47:36Z","ctime":"2026-11-26T13:47:36+00:00","uid":0,"gid":0,"content":[]}`,
  `{"name":"raw","type":"symlink",${T},"uid":0,"gid":0,"linktarget":"t\\ufffd","linktarget_raw":"dP8=","content":null}`,
  `{"name":"xattr","type":"file",${T},"uid":0,"gid":0,"extended_attributes":[{"name":"user.a","value":"AQI="}],"content":[]}`,
  `{"name":"generic","type":"file",${T},"uid":0,"gid":0,"generic_attributes":{"windows.sd":"x"},"content":[]}`,
  `{"name":"dup","type":"file",${T},"uid":0,"gid":0,"uid":5,"content":[]}`,
  `{"name":"null-user","type":"file",${T},"uid":0,"gid":0,"user":null,"content":[]}`,
  `{"name":"amp&","type":"file",${T},"uid":0,"gid":0,"content":[]}`,
  `{"name":"sub","type":"dir",${T},"uid":0,"gid":0,"content":null,"subtree":null}`,
];

/** Nodes both readers must reject with the same error. */
const invalid = [
  `{"name":"neg","type":"file",${T},"uid":-1,"gid":0,"content":[]}`,
  `{"name":"big-uid","type":"file",${T},"uid":4294967296,"gid":0,"content":[]}`,
  `{"name":"big-size","type":"file",${T},"uid":0,"gid":0,"size":18446744073709551616,"content":[]}`,
  `{"name":"frac","type":"file",${T},"uid":0,"gid":0,"size":1.5,"content":[]}`,
  `{"name":"lead0","type":"file",${T},"uid":0,"gid":0,"size":01,"content":[]}`,
  `{"name":"shortid","type":"file",${T},"uid":0,"gid":0,"content":["abc"]}`,
  `{"name":"badtime","type":"file","mtime":"2026-13-26T13:47:36Z","atime":"x","ctime":"x","uid":0,"gid":0,"content":[]}`,
  `{"name":"ctl\u0001","type":"file",${T},"uid":0,"gid":0,"content":[]}`,
];

const tree = (node: string) => Buffer.from(`{"nodes":[${node}]}\n`);
/** The same node after a space: the fast path refuses it, so the general reader reads it. */
const viaGeneral = (node: string) => tree(' ' + node);

function fields(n: TreeNode): unknown {
  return { ...n, name: Buffer.from(n.name).toString('hex'), linkTarget: Buffer.from(n.linkTarget).toString('hex'), mtime: n.mtime.toString(), atime: n.atime.toString(), ctime: n.ctime.toString() };
}

// the space shifts offsets by one
const errorOf = (fn: () => unknown): string => resticErrorMessage(fn, 'CORRUPT').replace(/at offset \d+/, 'at offset N');

describe('readNode fast path agrees with the general reader', () => {
  it.each(canonical)('canonical node %#: same fields, no kept source, same bytes back', (text) => {
    const fast = parseTree(tree(text)).nodes[0]!;
    const general = parseTree(viaGeneral(text)).nodes[0]!;
    expect(fields(fast)).toEqual(fields(general));
    expect(keptNodeSource(fast)).toBeUndefined();
    expect(encodeNode(fast)).toBe(text);
  });

  it.each(unusual)('unusual node %#: same fields, same kept source', (text) => {
    const fast = parseTree(tree(text)).nodes[0]!;
    const general = parseTree(viaGeneral(text)).nodes[0]!;
    expect(fields(fast)).toEqual(fields(general));
    expect(keptNodeSource(fast)).toBe(keptNodeSource(general));
  });

  it.each(invalid)('invalid node %#: the same error', (text) => {
    expect(errorOf(() => parseTree(tree(text)))).toBe(errorOf(() => parseTree(viaGeneral(text))));
  });

  it('mixes fast and general nodes in one tree, keeping their order', () => {
    const all = [...canonical, ...unusual];
    const mixed = parseTree(Buffer.from(`{"nodes":[${all.join(',')}]}\n`)).nodes;
    const one = all.map((text) => parseTree(tree(text)).nodes[0]!);
    expect(mixed.map(fields)).toEqual(one.map(fields));
    expect(mixed.map((n) => keptNodeSource(n))).toEqual(one.map((n) => keptNodeSource(n)));
  });
});

describe('encodeLikePrevious: an unchanged node is written as the text it was read from', () => {
  /** A node equal to `n` field by field, built separately (as the archiver builds one from lstat). */
  const copyOf = (n: TreeNode): TreeNode => ({ ...n, name: Uint8Array.from(n.name), content: n.content && [...n.content], extendedAttributes: [], genericAttributes: {}, extra: {} });

  it.each(canonical)('canonical node %#: its text is the canonical encoding under both escape styles', (text) => {
    const parsed = parseTree(Buffer.from(`{"nodes":[${canonical[0]},${text}]}\n`), undefined, { keepNodeText: true }).nodes.find((n) => encodeNode(copyOf(n)) === text)!;
    expect(parsed).toBeDefined();
    expect(keptNodeText(parsed)).toBe(text);
    for (const legacyControlEscapes of [false, true]) {
      const fresh = copyOf(parsed);
      expect(encodeNode(fresh, { legacyControlEscapes, reuseSource: false })).toBe(text);
      const marked = copyOf(parsed);
      encodeLikePrevious(marked, parsed);
      expect(encodeNode(marked, { legacyControlEscapes })).toBe(text);
    }
  });

  it('keeps no text unless asked: parsed nodes hold no reference to the tree text', () => {
    for (const text of canonical) expect(keptNodeText(parseTree(tree(text)).nodes[0]!)).toBeUndefined();
  });

  it('a node that differs from the one it was made from is encoded afresh', () => {
    const text = canonical[0]!;
    const parsed = parseTree(tree(text), undefined, { keepNodeText: true }).nodes[0]!;
    const changed = { ...copyOf(parsed), size: parsed.size + 1n };
    encodeLikePrevious(changed, parsed);
    expect(encodeNode(changed)).toBe(text.replace('"size":2,', '"size":3,'));
    // A previous node read by the general reader (not Go's exact layout) lends no text.
    const general = parseTree(viaGeneral(unusual[2]!), undefined, { keepNodeText: true }).nodes[0]!;
    expect(keptNodeText(general)).toBeUndefined();
    const same = copyOf(general);
    encodeLikePrevious(same, general);
    expect(encodeNode(same)).toBe(encodeNode(copyOf(general), { reuseSource: false }));
  });
});
