import { afterEach, describe, expect, it } from 'vitest';
import {
  computeMac,
  cryptoImplementation,
  decodeMasterKey,
  encodeMasterKey,
  generateMasterKey,
  loadLibsodium,
  nativeSealStatus,
  nodeJsPrimitives,
  nodePrimitives,
  open,
  portablePrimitives,
  randomBytes,
  scryptJs,
  seal,
  setCryptoImplementation,
  type MasterKey,
} from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[\s:]/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

afterEach(() => setCryptoImplementation('node'));

describe('implementation selection', () => {
  it('defaults to node:crypto, with the native OpenSSL addon for AES and Poly1305 when built, else libsodium Poly1305', async () => {
    expect(await loadLibsodium()).toBe(true);
    const native = nativeSealStatus().available;
    expect(cryptoImplementation()).toEqual({
      name: 'node',
      sha256: 'node:crypto',
      aes: native ? 'openssl-native' : 'node:crypto',
      poly1305: native ? 'openssl-native' : 'libsodium-wasm',
      scrypt: native ? 'native-lanes' : 'node:crypto',
    });
  });
  it('switches to the portable implementation and back', () => {
    setCryptoImplementation('portable');
    expect(cryptoImplementation().name).toBe('portable');
    expect(cryptoImplementation().poly1305).toBe('@noble/ciphers');
    setCryptoImplementation('node');
    expect(cryptoImplementation().name).toBe('node');
  });
});

describe('Poly1305 known vectors', () => {
  // RFC 8439 section 2.5.2.
  const rfcKey = hex('85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b');
  const rfcMsg = new TextEncoder().encode('Cryptographic Forum Research Group');
  const rfcTag = 'a8061dc1305136c6c22b8baf0c0127a9';
  for (const prims of [nodePrimitives, portablePrimitives]) {
    it(`RFC 8439 2.5.2 with ${prims.poly1305Name}`, () => {
      expect(toHex(prims.poly1305(rfcMsg, rfcKey))).toBe(rfcTag);
    });
  }

  // Poly1305-AES example 1 from Bernstein's paper (the vector restic's own crypto tests use):
  // tag = Poly1305_r(msg, AES_k(nonce)). Our MasterKey maps k → macK, r → macR, nonce → IV.
  const key: MasterKey = {
    encrypt: new Uint8Array(32).fill(1),
    macK: hex('ec074c835580741701425b623235add6'),
    macR: hex('851fc40c3467ac0be05cc20404f3f700'),
  };
  const nonce = hex('fb447350c4e868c52ac3275cf9d4327e');
  const msg = hex('f3f6');
  const tag = 'f4c633c3044fc145f84f335cb81953de';
  for (const name of ['node', 'portable'] as const) {
    it(`Poly1305-AES paper vector with ${name}`, () => {
      setCryptoImplementation(name);
      expect(toHex(computeMac(key, nonce, msg))).toBe(tag);
    });
  }

  it('clamps r at use: an unclamped r gives the same tag as its clamped form', () => {
    const unclamped = Uint8Array.from(key.macR);
    for (const i of [3, 7, 11, 15]) unclamped[i]! |= 0xf0;
    for (const i of [4, 8, 12]) unclamped[i]! |= 0x03;
    expect(toHex(unclamped)).not.toBe(toHex(key.macR));
    for (const name of ['node', 'portable'] as const) {
      setCryptoImplementation(name);
      expect(toHex(computeMac({ ...key, macR: unclamped }, nonce, msg))).toBe(tag);
    }
  });
});

describe('node and portable give identical outputs', () => {
  it('SHA-256 (one-shot and incremental)', () => {
    const data = randomBytes(100_003);
    expect(toHex(nodePrimitives.sha256(new Uint8Array()))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(portablePrimitives.sha256(data))).toBe(toHex(nodePrimitives.sha256(data)));
    const h = portablePrimitives.createSha256();
    h.update(data.subarray(0, 777));
    h.update(data.subarray(777));
    expect(toHex(h.digest())).toBe(toHex(nodePrimitives.sha256(data)));
  });
  it('SHA-256 as a hex ID, also through a view of a larger buffer', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(nodePrimitives.sha256Hex(new Uint8Array())).toBe(empty);
    expect(portablePrimitives.sha256Hex(new Uint8Array())).toBe(empty);
    expect(nodeJsPrimitives.sha256Hex(new Uint8Array())).toBe(empty);
    const data = randomBytes(70_001);
    const view = data.subarray(13, 50_013);
    const want = toHex(portablePrimitives.sha256(view));
    for (const impl of [nodePrimitives, nodeJsPrimitives, portablePrimitives]) {
      expect(impl.sha256Hex(view)).toBe(want);
      expect(toHex(impl.sha256(view))).toBe(want);
    }
  });
  it('AES-256-CTR, including the counter carrying across all 128 bits', () => {
    const key = randomBytes(32);
    const data = randomBytes(5000);
    for (const iv of [randomBytes(16), hex('ffffffffffffffffffffffffffffffff'), hex('0000000000000000fffffffffffffffe')]) {
      expect(toHex(portablePrimitives.aes256Ctr(key, iv, data))).toBe(toHex(nodePrimitives.aes256Ctr(key, iv, data)));
    }
  });
  it('AES-128 single block and Poly1305 on random input', () => {
    const k = randomBytes(16);
    const block = randomBytes(16);
    expect(toHex(portablePrimitives.aes128EncryptBlock(k, block))).toBe(toHex(nodePrimitives.aes128EncryptBlock(k, block)));
    for (const size of [0, 1, 15, 16, 17, 1000, 65537]) {
      const m = randomBytes(size);
      const pk = randomBytes(32);
      expect(toHex(portablePrimitives.poly1305(m, pk))).toBe(toHex(nodePrimitives.poly1305(m, pk)));
    }
  });
  it('scrypt: node, noble and scrypt-js agree (and match RFC 7914)', async () => {
    const pw = new TextEncoder().encode('password');
    const salt = new TextEncoder().encode('NaCl');
    const params = { N: 1024, r: 8, p: 16 };
    const expected =
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640';
    expect(toHex(await nodePrimitives.scrypt(pw, salt, params, 64))).toBe(expected);
    expect(toHex(await portablePrimitives.scrypt(pw, salt, params, 64))).toBe(expected);
    expect(toHex(await scryptJs(pw, salt, params, 64))).toBe(expected);
  });
  it('node scrypt accepts restic-sized parameters (N=2^15, r=8), which need a raised maxmem', async () => {
    const out = await nodePrimitives.scrypt(new Uint8Array([1]), randomBytes(64), { N: 32768, r: 8, p: 1 }, 64);
    expect(out.length).toBe(64);
  });
});

describe('seal / open', () => {
  for (const name of ['node', 'portable'] as const) {
    it(`round-trips with ${name}, and each implementation opens the other's output`, () => {
      setCryptoImplementation(name);
      const key = generateMasterKey();
      for (const size of [0, 1, 16, 1000, 70_000]) {
        const plain = randomBytes(size);
        const sealed = seal(key, plain);
        expect(sealed.length).toBe(size + 32);
        expect(toHex(open(key, sealed, 'test'))).toBe(toHex(plain));
        setCryptoImplementation(name === 'node' ? 'portable' : 'node');
        expect(toHex(open(key, sealed, 'test'))).toBe(toHex(plain));
        setCryptoImplementation(name);
      }
    });
  }

  it('uses a fresh non-zero IV per seal', () => {
    const key = generateMasterKey();
    const a = seal(key, new Uint8Array(10));
    const b = seal(key, new Uint8Array(10));
    expect(toHex(a.subarray(0, 16))).not.toBe(toHex(b.subarray(0, 16)));
  });

  it('detects tampering in IV, ciphertext and tag with MAC_FAILED naming the file', () => {
    const key = generateMasterKey();
    const sealed = seal(key, new TextEncoder().encode('hello restic'));
    for (const pos of [0, 15, 16, 20, sealed.length - 17, sealed.length - 1]) {
      const bad = Uint8Array.from(sealed);
      bad[pos]! ^= 0x01;
      try {
        open(key, bad, 'snapshots/abcd');
        expect.unreachable();
      } catch (err) {
        expect(isResticError(err, 'MAC_FAILED')).toBe(true);
        expect((err as Error).message).toContain('snapshots/abcd');
      }
    }
  });

  it('rejects a wrong key with MAC_FAILED', () => {
    const sealed = seal(generateMasterKey(), new Uint8Array(100));
    expect(() => open(generateMasterKey(), sealed, 'x')).toThrow(/ciphertext verification failed/);
  });

  it('rejects input shorter than IV + MAC with CORRUPT', () => {
    const key = generateMasterKey();
    try {
      open(key, new Uint8Array(31), 'index/0123');
      expect.unreachable();
    } catch (err) {
      expect(isResticError(err, 'CORRUPT')).toBe(true);
      expect((err as Error).message).toContain('index/0123');
    }
  });

  it('opens data sealed with a clamped r using the unclamped form and vice versa', () => {
    const key = generateMasterKey();
    key.macR[3] = 0xff;
    key.macR[4] = 0xff;
    const clamped = { ...key, macR: Uint8Array.from(key.macR) };
    clamped.macR[3] = 0x0f;
    clamped.macR[4] = 0xfc;
    const sealed = seal(key, new Uint8Array([1, 2, 3]));
    expect(Array.from(open(clamped, sealed, 'x'))).toEqual([1, 2, 3]);
    expect(Array.from(open(key, seal(clamped, new Uint8Array([4])), 'x'))).toEqual([4]);
  });
});

describe('master key JSON', () => {
  it('encodes byte-exact in restic field order and decodes back', () => {
    const key: MasterKey = { encrypt: new Uint8Array(32).fill(3), macK: new Uint8Array(16).fill(1), macR: new Uint8Array(16).fill(2) };
    const text = new TextDecoder().decode(encodeMasterKey(key));
    expect(text).toBe(
      '{"mac":{"k":"AQEBAQEBAQEBAQEBAQEBAQ==","r":"AgICAgICAgICAgICAgICAg=="},"encrypt":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="}',
    );
    expect(text.length).toBe(128);
    const back = decodeMasterKey(encodeMasterKey(key), 'k');
    expect(toHex(back.encrypt)).toBe(toHex(key.encrypt));
    expect(toHex(back.macK)).toBe(toHex(key.macK));
    expect(toHex(back.macR)).toBe(toHex(key.macR));
  });
  it('rejects malformed master keys with CORRUPT naming the file', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const good = { k: 'AQEBAQEBAQEBAQEBAQEBAQ==', r: 'AgICAgICAgICAgICAgICAg==', e: 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=' };
    const cases = [
      'not json',
      '[]',
      `{"encrypt":"${good.e}"}`,
      `{"mac":{"k":"${good.k}","r":"AgI="},"encrypt":"${good.e}"}`,
      `{"mac":{"k":"${good.k}","r":"${good.r}"},"encrypt":"!!"}`,
      `{"mac":{"k":"AAAAAAAAAAAAAAAAAAAAAA==","r":"${good.r}"},"encrypt":"${good.e}"}`,
    ];
    for (const c of cases) {
      expect(() => decodeMasterKey(enc(c), 'keys/abc')).toThrow(/keys\/abc/);
      try {
        decodeMasterKey(enc(c), 'keys/abc');
      } catch (err) {
        expect(isResticError(err, 'CORRUPT')).toBe(true);
      }
    }
  });
});
