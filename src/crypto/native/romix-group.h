/*
 * ROMix for a group of W lanes at once, one lane per 128-bit part of a W * 128-bit vector.
 * Included by scrypt-romix.c once per vector width, after it defines:
 *
 *   W          lanes per vector (1, 2 or 4)
 *   VEC        the vector type (__m128i, __m256i, __m512i)
 *   ATTR       the target attribute of the functions (empty for SSE2)
 *   SUFFIX     the name suffix of this instantiation
 *   V_ADD, V_XOR, V_ROL(v, n), V_SHUF(v, imm)   32-bit ops; V_SHUF shuffles within each 128-bit part
 *   V_LOAD_LANES(src, off)        a vector from 4 words at src[k] + off of each lane k
 *   V_STORE_LANES(dst, off, v)    the reverse
 *
 * Why several lanes per vector: scrypt's p lanes are independent, and Salsa20/8 on one lane
 * keeps a 128-bit vector's four columns busy but not a wider one. With AVX-512, four lanes cost
 * about 1.4 times what one costs with SSE2 (docs/benchmarks.md, "Sixth pass").
 *
 * Layout: each lane's 64-byte sub-blocks hold Salsa20's diagonals together (WORD_AT in
 * scrypt-romix.c), so a sub-block is four vectors and a quarter-round step is one vector op on
 * four columns (or rows, after rotating three of the vectors). The working blocks x, y, t hold
 * vector m of every lane side by side (8r vectors of W lanes); each lane's table keeps its own
 * blocks in the one-lane layout, so the random reads of ROMix's second loop fetch one lane's
 * 16 bytes at a time from its own table.
 */
#define ROMIX_CAT2(a, b) a##b
#define ROMIX_CAT(a, b) ROMIX_CAT2(a, b)

/* Salsa20's quarter-round on four columns (or rows) of every lane: b ^= (a+d)<<<7, c ^= (b+a)<<<9, d ^= (c+b)<<<13, a ^= (d+c)<<<18. */
static inline ATTR void ROMIX_CAT(quarter_rounds_, SUFFIX)(VEC *a, VEC *b, VEC *c, VEC *d) {
  *b = V_XOR(*b, V_ROL(V_ADD(*a, *d), 7));
  *c = V_XOR(*c, V_ROL(V_ADD(*b, *a), 9));
  *d = V_XOR(*d, V_ROL(V_ADD(*c, *b), 13));
  *a = V_XOR(*a, V_ROL(V_ADD(*d, *c), 18));
}

/* x = Salsa20/8(x ^ in) for one sub-block of every lane; also written to out. */
static inline ATTR void ROMIX_CAT(salsa_step_, SUFFIX)(VEC x[4], const VEC *in, VEC *out) {
  const VEC in0 = V_XOR(x[0], in[0]), in1 = V_XOR(x[1], in[1]), in2 = V_XOR(x[2], in[2]), in3 = V_XOR(x[3], in[3]);
  VEC a = in0, b = in1, c = in2, d = in3;
  for (int round = 0; round < 8; round += 2) {
    ROMIX_CAT(quarter_rounds_, SUFFIX)(&a, &b, &c, &d);
    /* Rotate within each lane so that the same steps work on the rows, with d in b's place. */
    d = V_SHUF(d, 0x39);
    c = V_SHUF(c, 0x4E);
    b = V_SHUF(b, 0x93);
    ROMIX_CAT(quarter_rounds_, SUFFIX)(&a, &d, &c, &b);
    d = V_SHUF(d, 0x93);
    c = V_SHUF(c, 0x4E);
    b = V_SHUF(b, 0x39);
  }
  x[0] = out[0] = V_ADD(a, in0);
  x[1] = out[1] = V_ADD(b, in1);
  x[2] = out[2] = V_ADD(c, in2);
  x[3] = out[3] = V_ADD(d, in3);
}

/* BlockMix of the 2r sub-blocks of `in` into `out`, in the RFC's order (even results first, then odd). */
static inline ATTR void ROMIX_CAT(block_mix_, SUFFIX)(const VEC *in, VEC *out, uint32_t r) {
  const VEC *last = in + (2 * (size_t)r - 1) * 4;
  VEC x[4] = {last[0], last[1], last[2], last[3]};
  for (size_t i = 0; i < 2 * (size_t)r; i++) {
    VEC *dest = out + ((i & 1) ? (r + i / 2) : (i / 2)) * 4;
    ROMIX_CAT(salsa_step_, SUFFIX)(x, in + i * 4, dest);
  }
}

/*
 * ROMix of W lanes in place: lane k is the 128 * r bytes at lanes[k] (little-endian words in
 * the RFC's order), tables[k] its table of N blocks. x, y and t hold 8r vectors each, aligned
 * for VEC.
 */
static ATTR void ROMIX_CAT(romix_group_, SUFFIX)(uint8_t *const *lanes, uint64_t n, uint32_t r, uint32_t *const *tables, VEC *x, VEC *y, VEC *t) {
  const size_t vectors = 8 * (size_t)r, words = 32 * (size_t)r;
  uint32_t *xw = (uint32_t *)x;
  for (int k = 0; k < W; k++)
    for (size_t m = 0; m < vectors; m++)
      for (int w = 0; w < 4; w++) xw[(m * W + (size_t)k) * 4 + (size_t)w] = load_le32(lanes[k] + 4 * ((m / 4) * 16 + WORD_AT[(m % 4) * 4 + (size_t)w]));
  /* V[i] = X; X = BlockMix(X). */
  for (uint64_t i = 0; i < n; i++) {
    uint32_t *dst[W];
    for (int k = 0; k < W; k++) dst[k] = tables[k] + i * words;
    for (size_t m = 0; m < vectors; m++) V_STORE_LANES(dst, m * 4, x[m]);
    ROMIX_CAT(block_mix_, SUFFIX)(x, y, r);
    VEC *swap = x;
    x = y;
    y = swap;
  }
  /* X = BlockMix(X ^ V[Integerify(X) mod N]), each lane with its own j. */
  const size_t last = vectors - 4;
  for (uint64_t i = 0; i < n; i++) {
    const uint32_t *src[W];
    xw = (uint32_t *)x;
    for (int k = 0; k < W; k++) {
      /* Integerify: the last sub-block's words 0 and 1 (vector 0 word 0, vector 3 word 1 in this layout). */
      const uint32_t x0 = xw[((last + 0) * W + (size_t)k) * 4 + 0];
      const uint32_t x1 = xw[((last + 3) * W + (size_t)k) * 4 + 1];
      src[k] = tables[k] + ((((uint64_t)x1 << 32) | x0) & (n - 1)) * words;
    }
    for (size_t m = 0; m < vectors; m++) t[m] = V_XOR(x[m], V_LOAD_LANES(src, m * 4));
    ROMIX_CAT(block_mix_, SUFFIX)(t, y, r);
    VEC *swap = x;
    x = y;
    y = swap;
  }
  xw = (uint32_t *)x;
  for (int k = 0; k < W; k++)
    for (size_t m = 0; m < vectors; m++)
      for (int w = 0; w < 4; w++) store_le32(lanes[k] + 4 * ((m / 4) * 16 + WORD_AT[(m % 4) * 4 + (size_t)w]), xw[(m * W + (size_t)k) * 4 + (size_t)w]);
}

#undef W
#undef VEC
#undef ATTR
#undef SUFFIX
#undef V_ADD
#undef V_XOR
#undef V_ROL
#undef V_SHUF
#undef V_LOAD_LANES
#undef V_STORE_LANES
