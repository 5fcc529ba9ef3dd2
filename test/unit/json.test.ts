import { describe, expect, it } from 'vitest';
import {
  GoJsonObject,
  compareGoStrings,
  decodeGoRune,
  goCompactJson,
  goJsonNumber,
  goJsonString,
  goJsonValue,
  goQuote,
  goUnquote,
  isValidUtf8,
  parseJsonLossless,
  utf8Text,
} from '../../src/format/json.js';
import { expectResticError } from '../support/errors.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'utf8')] : p)));

const corrupt = (fn: () => unknown, ...fragments: string[]): void => expectResticError(fn, 'CORRUPT', ...fragments);

describe('goJsonString (Go encoding/json)', () => {
  it('escapes HTML characters, quotes, backslashes and U+2028/U+2029', () => {
    expect(goJsonString('a<b>&"c\\')).toBe('"a\\u003cb\\u003e\\u0026\\"c\\\\"');
    expect(goJsonString('x\u2028y\u2029z')).toBe('"x\\u2028y\\u2029z"');
  });

  it('writes control characters as Go does, with \\b and \\f depending on the Go version', () => {
    expect(goJsonString('\n\r\t\x00\x1f\x7f')).toBe('"\\n\\r\\t\\u0000\\u001f\x7f"');
    expect(goJsonString('\b\f')).toBe('"\\b\\f"');
    expect(goJsonString('\b\f', { legacyControlEscapes: true })).toBe('"\\u0008\\u000c"');
    expect(goJsonString(bytes([8, 12]), { legacyControlEscapes: true })).toBe('"\\u0008\\u000c"');
  });

  it('keeps non-ASCII raw, including a literal U+FFFD, emoji and U+00A0', () => {
    expect(goJsonString('ü€😀\ufffd\u00a0')).toBe('"ü€😀\ufffd\u00a0"');
    expect(goJsonString(bytes('ü€😀\ufffd'))).toBe('"ü€😀\ufffd"');
  });

  it('writes each invalid UTF-8 byte as the escape \\ufffd', () => {
    expect(goJsonString(bytes('tar', [0xff], 'get'))).toBe('"tar\\ufffdget"');
    // A truncated 3-byte sequence is two errors of one byte each (Go's DecodeRune), not one.
    expect(goJsonString(bytes([0xe2, 0x82], 'A'))).toBe('"\\ufffd\\ufffdA"');
    // Encoded surrogates and overlong forms are invalid too.
    expect(goJsonString(bytes([0xed, 0xa0, 0x80]))).toBe('"\\ufffd\\ufffd\\ufffd"');
    expect(goJsonString(bytes([0xc0, 0xaf]))).toBe('"\\ufffd\\ufffd"');
    expect(goJsonString(bytes([0xf4, 0x90, 0x80, 0x80]))).toBe('"\\ufffd\\ufffd\\ufffd\\ufffd"');
    // Lone surrogates in a JS string are invalid as well.
    expect(goJsonString('a\ud800b\udc00')).toBe('"a\\ufffdb\\ufffd"');
  });
});

describe('goQuote / goUnquote (Go strconv)', () => {
  const cases: [Uint8Array, string][] = [
    [bytes('plain.txt'), 'plain.txt'],
    [bytes('bad', [0xff], 'name'), 'bad\\xffname'],
    [bytes('we<ir>d&"name\\\\.txt'), 'we<ir>d&\\"name\\\\\\\\.txt'],
    [bytes('nl\nname'), 'nl\\nname'],
    [bytes([7, 8, 9, 10, 11, 12, 13]), '\\a\\b\\t\\n\\v\\f\\r'],
    [bytes([0, 0x1b, 0x7f]), '\\x00\\x1b\\x7f'],
    [bytes('ü€😀\u0301\ufffd'), 'ü€😀\u0301\ufffd'],
    [bytes('\u00a0\u00ad\u200b\u2028\u3000\ufeff\ue000'), '\\u00a0\\u00ad\\u200b\\u2028\\u3000\\ufeff\\ue000'],
    [bytes('\u{e0001}'), '\\U000e0001'],
    [bytes([0xe2, 0x82]), '\\xe2\\x82'],
  ];

  it('quotes names exactly as strconv.Quote (reference examples)', () => {
    for (const [raw, quoted] of cases) expect(goQuote(raw)).toBe(quoted);
  });

  it('gives the JSON bytes restic writes for names', () => {
    expect(goJsonString(goQuote(bytes('bad', [0xff], 'name')))).toBe('"bad\\\\xffname"');
    expect(goJsonString(goQuote(bytes('we<ir>d&"name\\\\.txt')))).toBe('"we\\u003cir\\u003ed\\u0026\\\\\\"name\\\\\\\\\\\\\\\\.txt"');
  });

  it('unquotes back to the same bytes', () => {
    for (const [raw, quoted] of cases) expect(Buffer.from(goUnquote(quoted)).equals(Buffer.from(raw))).toBe(true);
  });

  it('round-trips random bytes', () => {
    let seed = 1;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    for (let n = 0; n < 300; n++) {
      const raw = Uint8Array.from({ length: n % 40 }, rnd);
      expect(Buffer.from(goUnquote(goQuote(raw))).equals(Buffer.from(raw))).toBe(true);
    }
  });

  it('accepts the escapes Unquote accepts that Quote never writes', () => {
    expect(Buffer.from(goUnquote('\\101\\x41\\u0041\\U00000041')).toString()).toBe('AAAA');
    expect(Buffer.from(goUnquote('\\377'))).toEqual(Buffer.from([0xff]));
    expect(Buffer.from(goUnquote("it's"))).toEqual(Buffer.from("it's"));
  });

  it('refuses what Unquote refuses', () => {
    for (const bad of ['a"b', 'a\nb', "\\'", '\\q', '\\x4', '\\ud800', '\\U00110000', '\\400', '\\12', 'end\\']) {
      corrupt(() => goUnquote(bad), 'invalid Go-quoted string');
    }
  });
});

describe('parseJsonLossless', () => {
  it('keeps integers beyond 2^53 exact as bigint, smaller ones as numbers', () => {
    const v = parseJsonLossless('{"a":18446744073709551615,"b":9007199254740993,"c":9007199254740991,"d":-5,"e":1.5,"f":1e3}');
    expect(v).toEqual({ a: 18446744073709551615n, b: 9007199254740993n, c: 9007199254740991, d: -5, e: 1.5, f: 1000 });
  });

  it('keeps key order and lets the last duplicate win', () => {
    const v = parseJsonLossless('{"z":1,"a":2,"m":3,"a":4}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['z', 'a', 'm']);
    expect(v.a).toBe(4);
  });

  it('treats __proto__ as a plain key', () => {
    const v = parseJsonLossless('{"__proto__":{"x":1}}') as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('decodes escapes, surrogate pairs, and lone surrogates as U+FFFD (like Go)', () => {
    expect(parseJsonLossless('"\\u003c\\n\\/\\ud83d\\ude00\\ud800x\\udc00"')).toBe('<\n/😀\ufffdx\ufffd');
  });

  it('parses nested values and literals', () => {
    expect(parseJsonLossless(' [true, false, null, {"a": [ ]}, "", -0.5e-3] ')).toEqual([true, false, null, { a: [] }, '', -0.0005]);
  });

  it('rejects malformed JSON with a CORRUPT error naming the source and offset', () => {
    const bad = ['', '{', '{"a":1,}', '[1,]', '01', '1.', '-', '{"a" 1}', '"abc', '"a\u0001"', '"\\x"', '"\\u12g4"', '{} x', 'nul', "{'a':1}", '[1 2]'];
    for (const text of bad) corrupt(() => parseJsonLossless(text, 'snapshots/abcd'), 'snapshots/abcd', 'offset');
  });

  it('rejects absurd nesting without crashing', () => {
    corrupt(() => parseJsonLossless('['.repeat(20000) + ']'.repeat(20000)), 'nesting too deep');
  });
});

describe('Go JSON writer helpers', () => {
  it('compacts raw messages as json.Marshal does (HTML escapes inside strings)', () => {
    expect(goCompactJson(' { "a" : [ 1 , "x <y> & \u2028" ] , "b\\"" : null } ')).toBe('{"a":[1,"x \\u003cy\\u003e \\u0026 \\u2028"],"b\\"":null}');
  });

  it('formats numbers as Go float64/int', () => {
    expect(goJsonNumber(1e21)).toBe('1e+21');
    expect(goJsonNumber(1e20)).toBe('100000000000000000000');
    expect(goJsonNumber(1e-7)).toBe('1e-7');
    expect(goJsonNumber(0.000001)).toBe('0.000001');
    expect(goJsonNumber(-0)).toBe('-0');
    expect(goJsonNumber(2n ** 64n - 1n)).toBe('18446744073709551615');
  });

  it('writes struct fields in order with omitempty', () => {
    const o = new GoJsonObject()
      .string('a', '', true)
      .string('b', '')
      .number('c', 0, true)
      .number('d', 0n)
      .strings('e', null)
      .strings('f', [], true)
      .strings('g', [])
      .bytes('h', null)
      .bytes('i', new Uint8Array([1, 2]))
      .bool('j', false);
    expect(o.toString()).toBe('{"b":"","d":0,"e":null,"g":[],"h":null,"i":"AQI=","j":false}');
  });

  it('encodes arbitrary values, optionally with sorted keys', () => {
    expect(goJsonValue({ b: [1n, 'x<'], a: null }, { sortKeys: true })).toBe('{"a":null,"b":[1,"x\\u003c"]}');
  });
});

describe('UTF-8 and ordering helpers', () => {
  it('decodes runes like Go', () => {
    expect(decodeGoRune(bytes('😀'), 0)).toEqual([0x1f600, 4]);
    expect(decodeGoRune(bytes([0xf0, 0x9f]), 0)).toEqual([-1, 1]);
    expect(isValidUtf8(bytes('ok ü'))).toBe(true);
    expect(isValidUtf8(bytes([0xff]))).toBe(false);
    expect(utf8Text(bytes('a', [0xff], 'b'))).toBe('a\ufffdb');
  });

  it('orders strings bytewise (UTF-8), not by UTF-16 units', () => {
    // U+FF5E sorts before U+1F600 in UTF-8 but after it in UTF-16.
    expect(compareGoStrings('\uff5e', '😀')).toBe(-1);
    expect(['b', '😀', '\uff5e', 'a', 'ab'].sort(compareGoStrings)).toEqual(['a', 'ab', 'b', '\uff5e', '😀']);
  });
});
