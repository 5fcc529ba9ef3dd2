import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import {
  expandPolynomial,
  formatPolynomial,
  isIrreducible,
  parsePolynomial,
  polAdd,
  polDeg,
  polDiv,
  polDivMod,
  polGcd,
  polMod,
  polMul,
  polMulMod,
  randomPolynomial,
  TEST_POLYNOMIAL,
} from '../../src/chunker/polynomial.js';

// Cases from restic/chunker polynomials_test.go (inputs and expected values re-encoded here).
const bin = (s: string): bigint => BigInt('0b' + s);

describe('GF(2) polynomial arithmetic (restic/chunker cases)', () => {
  it('adds', () => {
    const cases: [bigint, bigint, bigint][] = [
      [23n, 16n, 23n ^ 16n],
      [0x9a7e30d1e855e0a0n, 0x670102a1f4bcd414n, 0xfd7f32701ce934b4n],
      [0x9a7e30d1e855e0a0n, 0x9a7e30d1e855e0a0n, 0n],
    ];
    for (const [x, y, sum] of cases) {
      expect(polAdd(x, y)).toBe(sum);
      expect(polAdd(y, x)).toBe(sum);
    }
  });

  it('multiplies, and refuses products beyond 64 bits', () => {
    const cases: [bigint, bigint, bigint][] = [
      [1n, 2n, 2n],
      [bin('1101'), bin('10'), bin('11010')],
      [bin('1101'), bin('11'), bin('10111')],
      [0x40000000n, 0x40000000n, 0x1000000000000000n],
      [bin('1010'), bin('100100'), bin('101101000')],
      [bin('100'), bin('11'), bin('1100')],
      [bin('11'), bin('110101'), bin('1011111')],
      [bin('10011'), bin('110101'), bin('1100001111')],
    ];
    for (const [x, y, res] of cases) {
      expect(polMul(x, y)).toBe(res);
      expect(polMul(y, x)).toBe(res);
    }
    expect(() => polMul(1n << 63n, 2n)).toThrow(/overflow uint64/);
  });

  it('divides', () => {
    const cases: [bigint, bigint, bigint][] = [
      [10n, 50n, 0n],
      [0n, 1n, 0n],
      [bin('101101000'), bin('1010'), bin('100100')],
      [2n, 2n, 1n],
      [0x8000000000000000n, 0x8000000000000000n, 1n],
      [bin('1100'), bin('100'), bin('11')],
      [bin('1100001111'), bin('10011'), bin('110101')],
    ];
    for (const [x, y, q] of cases) expect(polDiv(x, y)).toBe(q);
    expect(() => polDiv(5n, 0n)).toThrow(/division by zero/);
  });

  it('reduces modulo', () => {
    const cases: [bigint, bigint, bigint][] = [
      [10n, 50n, 10n],
      [0n, 1n, 0n],
      [bin('101101001'), bin('1010'), bin('1')],
      [2n, 2n, 0n],
      [0x8000000000000000n, 0x8000000000000000n, 0n],
      [bin('1100'), bin('100'), bin('0')],
      [bin('1100001111'), bin('10011'), bin('0')],
    ];
    for (const [x, y, r] of cases) expect(polMod(x, y)).toBe(r);
  });

  it('divmod is consistent: q·d + r = x with deg r < deg d', () => {
    const f = 0x2482734cacca49n;
    const g = 0x3af4b284899n;
    const { q, r } = polDivMod(f, g);
    expect(polAdd(polMul(q, g), r)).toBe(f);
    expect(polDeg(r)).toBeLessThan(polDeg(g));
  });

  it('finds the degree', () => {
    expect(polDeg(0x3af4b284899n)).toBe(41);
    expect(polDeg(0n)).toBe(-1);
    expect(polDeg(1n)).toBe(0);
    expect(polDeg(TEST_POLYNOMIAL)).toBe(53);
  });

  it('computes GCDs', () => {
    const cases: [bigint, bigint, bigint][] = [
      [10n, 50n, 2n],
      [0n, 1n, 1n],
      [bin('101101001'), bin('1010'), bin('1')],
      [2n, 2n, 2n],
      [bin('1010'), bin('11'), bin('11')],
      [0x8000000000000000n, 0x8000000000000000n, 0x8000000000000000n],
      [bin('1100'), bin('101'), bin('11')],
      [bin('1100001111'), bin('10011'), bin('10011')],
      [0x3da3358b4dc173n, 0x3da3358b4dc173n, 0x3da3358b4dc173n],
      [0x3da3358b4dc173n, 0x230d2259defdn, 1n],
      [0x230d2259defdn, 0x51b492b3eff2n, bin('10011')],
    ];
    for (const [a, b, gcd] of cases) {
      expect(polGcd(a, b)).toBe(gcd);
      expect(polGcd(b, a)).toBe(gcd);
    }
  });

  it('multiplies modulo', () => {
    expect(polMulMod(0x1230n, 0x230n, 0x55n)).toBe(0x22n);
    expect(polMulMod(0x0eae8c07dbbb3026n, 0xd5d6db9de04771den, 0xdd2bda3b77c9n)).toBe(0x425ae8595b7an);
  });

  it('expands the test polynomial', () => {
    expect(expandPolynomial(TEST_POLYNOMIAL)).toBe(
      'x^53+x^52+x^51+x^50+x^48+x^47+x^45+x^41+x^40+x^37+x^36+x^34+x^32+x^31+x^27+x^25+x^24+x^22+x^19+x^18+x^16+x^15+x^14+x^8+x^6+x^5+x^4+x+1',
    );
  });
});

describe('irreducibility (Ben-Or), restic/chunker cases', () => {
  const cases: [bigint, boolean][] = [
    [0x38f1e565e288dfn, false],
    [0x3da3358b4dc173n, true],
    [0x30a8295b9d5c91n, false],
    [0x255f4350b962cbn, false],
    [0x267f776110a235n, false],
    [0x2f4dae10d41227n, false],
    [0x2482734cacca49n, true],
    [0x312daf4b284899n, false],
    [0x29dfb6553d01d1n, false],
    [0x3548245eb26257n, false],
    [0x3199e7ef4211b3n, false],
    [0x362f39017dae8bn, false],
    [0x200d57aa6fdacbn, false],
    [0x35e0a4efa1d275n, false],
    [0x2ced55b026577fn, false],
    [0x260b012010893dn, false],
    [0x2df29cbcd59e9dn, false],
    [0x3f2ac7488bd429n, false],
    [0x3e5cb1711669fbn, false],
    [0x226d8de57a9959n, false],
    [0x3c8de80aaf5835n, false],
    [0x2026a59efb219bn, false],
    [0x39dfa4d13fb231n, false],
    [0x3143d0464b3299n, false],
  ];
  it.each(cases.map(([p, irr]) => [p.toString(16), irr] as const))('%s → %s', (hex, irr) => {
    expect(isIrreducible(BigInt('0x' + hex))).toBe(irr);
  });

  it('agrees with brute-force trial division for every polynomial of degree ≤ 10', () => {
    // Independent oracle: f (deg ≥ 2) is reducible iff some g with 1 ≤ deg g ≤ deg f / 2 divides it.
    for (let f = 4n; f < 1n << 11n; f++) {
      const d = polDeg(f);
      let reducible = false;
      for (let g = 2n; g < 1n << BigInt(Math.floor(d / 2) + 1) && !reducible; g++) {
        if (polMod(f, g) === 0n) reducible = true;
      }
      expect(isIrreducible(f), f.toString(2)).toBe(!reducible);
    }
  });
});

describe('random polynomial (restic init derivation)', () => {
  it('gives an irreducible degree-53 polynomial', () => {
    const p = randomPolynomial();
    expect(polDeg(p)).toBe(53);
    expect(p & 1n).toBe(1n);
    expect(isIrreducible(p)).toBe(true);
  });

  it('reads 8 bytes little-endian, keeps bits 0–53, forces bits 53 and 0', () => {
    // The first draw becomes 54 one-bits, (x^54 + 1)/(x + 1) = (x^27 + 1)^2/(x + 1), which is
    // reducible (checked below); the derivation must move on to the next draw.
    const draws = [
      Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      // 0x3da3358b4dc173 little-endian, with junk above bit 53 that must be masked off.
      Uint8Array.from([0x73, 0xc1, 0x4d, 0x8b, 0x35, 0xa3, 0x3d | 0xc0, 0xff]),
    ];
    expect(isIrreducible((1n << 54n) - 1n)).toBe(false);
    let i = 0;
    const p = randomPolynomial(() => draws[i++]);
    expect(i).toBe(2);
    expect(p).toBe(TEST_POLYNOMIAL);
  });

  it('sets bit 0 and bit 53 even when the random bytes lack them', () => {
    // 0x2482734cacca49 with bits 0 and 53 cleared.
    const v = 0x2482734cacca49n & ~((1n << 53n) | 1n);
    const bytes = new Uint8Array(8);
    for (let k = 0; k < 8; k++) bytes[k] = Number((v >> BigInt(8 * k)) & 0xffn);
    expect(randomPolynomial(() => bytes)).toBe(0x2482734cacca49n);
  });
});

describe('config hex form', () => {
  it('formats lowercase without 0x and parses it back', () => {
    expect(formatPolynomial(TEST_POLYNOMIAL)).toBe('3da3358b4dc173');
    expect(parsePolynomial('3da3358b4dc173')).toBe(TEST_POLYNOMIAL);
    expect(parsePolynomial('3DA3358B4DC173')).toBe(TEST_POLYNOMIAL);
  });

  it('rejects text that is not a 64-bit hex value, naming the file', () => {
    for (const bad of ['', '0x3da3358b4dc173', 'xyz', '3da3358b4dc173 ', '1' + '0'.repeat(16)]) {
      try {
        parsePolynomial(bad, { file: 'config' });
        expect.unreachable(bad);
      } catch (err) {
        expect(isResticError(err, 'CORRUPT')).toBe(true);
        expect((err as Error).message).toMatch(/config: chunker_polynomial .* not a hexadecimal 64-bit value/);
      }
    }
  });

  it('rejects a reducible polynomial as restic does ("invalid chunker polynomial")', () => {
    for (const bad of ['38f1e565e288df', '0']) {
      try {
        parsePolynomial(bad);
        expect.unreachable(bad);
      } catch (err) {
        expect(isResticError(err, 'CORRUPT')).toBe(true);
        expect((err as Error).message).toMatch(/invalid chunker polynomial/);
      }
    }
  });
});
