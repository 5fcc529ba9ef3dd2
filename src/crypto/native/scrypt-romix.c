/*
 * scrypt's memory-hard step, ROMix (RFC 7914 section 5), for some of the p independent lanes,
 * run on libuv's thread pool: romixLanesAsync(blocks, N, r) -> Promise<void>, `blocks` (one or
 * more consecutive 128 * r-byte lanes) replaced in place, lane after lane.
 *
 * Why: restic's key files use p = 5 (N = 2^15, r = 8). node:crypto's scrypt (and Go's, in
 * restic) works the lanes one after another, ~130 ms each here; they are independent by
 * definition, so src/crypto/primitives.ts runs them side by side (PBKDF2 before and after is
 * node:crypto's) and opening a repository waits for ~3 lanes' time on two cores instead of 5.
 *
 * Written from the RFC's definitions (Salsa20/8 core, BlockMix, ROMix, Integerify); checked
 * against node:crypto's scrypt by test/unit/native-crypto.test.ts. Words are kept in host order
 * while mixing and converted from/to little-endian at the ends, so it is endian-neutral.
 *
 * Memory: 128 * r * N bytes per call (32 MiB for restic's parameters), allocated when its first
 * lane starts and freed when its last ends; the caller bounds how many calls run at once.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include "scrypt-romix.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/*
 * Words of a 64-byte sub-block are stored in the order the mixing wants them. The SSE2 path
 * keeps Salsa20's diagonals together, (x0 x5 x10 x15)(x4 x9 x14 x3)(x8 x13 x2 x7)(x12 x1 x6 x11),
 * so each quarter-round step is one vector operation on four columns (or rows, after rotating
 * three of the vectors); the portable path keeps words in natural order. BlockMix only XORs and
 * copies whole sub-blocks, so the order matters only when loading, storing and in Integerify.
 */
#if defined(__SSE2__) && !defined(RESTIC_TS_SCRYPT_PORTABLE)
#include <emmintrin.h>
static const uint8_t WORD_AT[16] = {0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11};
#define POS_OF_X0 0
#define POS_OF_X1 13

static inline __m128i rotl_vec(__m128i v, int n) {
  return _mm_or_si128(_mm_slli_epi32(v, n), _mm_srli_epi32(v, 32 - n));
}

/* Salsa20's quarter-round on four columns (or rows) at once: b ^= (a+d)<<<7, c ^= (b+a)<<<9, d ^= (c+b)<<<13, a ^= (d+c)<<<18. */
static inline void quarter_rounds(__m128i *a, __m128i *b, __m128i *c, __m128i *d) {
  *b = _mm_xor_si128(*b, rotl_vec(_mm_add_epi32(*a, *d), 7));
  *c = _mm_xor_si128(*c, rotl_vec(_mm_add_epi32(*b, *a), 9));
  *d = _mm_xor_si128(*d, rotl_vec(_mm_add_epi32(*c, *b), 13));
  *a = _mm_xor_si128(*a, rotl_vec(_mm_add_epi32(*d, *c), 18));
}

/* x = Salsa20/8(x ^ a [^ b]) for one sub-block held as four diagonal vectors; writes it to out. */
static inline void salsa_step(__m128i x[4], const uint32_t *a, const uint32_t *b, uint32_t *out) {
  __m128i in0 = _mm_xor_si128(x[0], _mm_loadu_si128((const __m128i *)a));
  __m128i in1 = _mm_xor_si128(x[1], _mm_loadu_si128((const __m128i *)(a + 4)));
  __m128i in2 = _mm_xor_si128(x[2], _mm_loadu_si128((const __m128i *)(a + 8)));
  __m128i in3 = _mm_xor_si128(x[3], _mm_loadu_si128((const __m128i *)(a + 12)));
  if (b) {
    in0 = _mm_xor_si128(in0, _mm_loadu_si128((const __m128i *)b));
    in1 = _mm_xor_si128(in1, _mm_loadu_si128((const __m128i *)(b + 4)));
    in2 = _mm_xor_si128(in2, _mm_loadu_si128((const __m128i *)(b + 8)));
    in3 = _mm_xor_si128(in3, _mm_loadu_si128((const __m128i *)(b + 12)));
  }
  __m128i va = in0, vb = in1, vc = in2, vd = in3;
  for (int round = 0; round < 8; round += 2) {
    /* Column round: (a, b, c, d) are four columns at once. */
    quarter_rounds(&va, &vb, &vc, &vd);
    /* Rotate lanes so that the same steps work on the rows, with d in b's place and b in d's. */
    vd = _mm_shuffle_epi32(vd, 0x39);
    vc = _mm_shuffle_epi32(vc, 0x4E);
    vb = _mm_shuffle_epi32(vb, 0x93);
    quarter_rounds(&va, &vd, &vc, &vb);
    vd = _mm_shuffle_epi32(vd, 0x93);
    vc = _mm_shuffle_epi32(vc, 0x4E);
    vb = _mm_shuffle_epi32(vb, 0x39);
  }
  x[0] = _mm_add_epi32(va, in0);
  x[1] = _mm_add_epi32(vb, in1);
  x[2] = _mm_add_epi32(vc, in2);
  x[3] = _mm_add_epi32(vd, in3);
  _mm_storeu_si128((__m128i *)out, x[0]);
  _mm_storeu_si128((__m128i *)(out + 4), x[1]);
  _mm_storeu_si128((__m128i *)(out + 8), x[2]);
  _mm_storeu_si128((__m128i *)(out + 12), x[3]);
}

/*
 * BlockMix over the 2r sub-blocks of `in` (XORed with `xor_with` first when that is not NULL),
 * written to `out` in the RFC's order: the even-numbered results first, then the odd ones.
 */
static void block_mix(const uint32_t *in, const uint32_t *xor_with, uint32_t *out, uint32_t r) {
  const size_t last = (2 * (size_t)r - 1) * 16;
  __m128i x[4];
  for (int k = 0; k < 4; k++) {
    x[k] = _mm_loadu_si128((const __m128i *)(in + last + 4 * k));
    if (xor_with) x[k] = _mm_xor_si128(x[k], _mm_loadu_si128((const __m128i *)(xor_with + last + 4 * k)));
  }
  for (size_t i = 0; i < 2 * (size_t)r; i++) {
    uint32_t *dest = out + ((i & 1) ? (r + i / 2) : (i / 2)) * 16;
    salsa_step(x, in + i * 16, xor_with ? xor_with + i * 16 : NULL, dest);
  }
}

#else /* portable C */
static const uint8_t WORD_AT[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#define POS_OF_X0 0
#define POS_OF_X1 1
#define ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

/* Salsa20/8: B = B + 8 rounds of Salsa20's double round applied to B (16 words). */
static void salsa20_8(uint32_t b[16]) {
  uint32_t x[16];
  memcpy(x, b, sizeof x);
  for (int round = 0; round < 8; round += 2) {
    /* Column round. */
    x[4] ^= ROTL32(x[0] + x[12], 7);
    x[8] ^= ROTL32(x[4] + x[0], 9);
    x[12] ^= ROTL32(x[8] + x[4], 13);
    x[0] ^= ROTL32(x[12] + x[8], 18);
    x[9] ^= ROTL32(x[5] + x[1], 7);
    x[13] ^= ROTL32(x[9] + x[5], 9);
    x[1] ^= ROTL32(x[13] + x[9], 13);
    x[5] ^= ROTL32(x[1] + x[13], 18);
    x[14] ^= ROTL32(x[10] + x[6], 7);
    x[2] ^= ROTL32(x[14] + x[10], 9);
    x[6] ^= ROTL32(x[2] + x[14], 13);
    x[10] ^= ROTL32(x[6] + x[2], 18);
    x[3] ^= ROTL32(x[15] + x[11], 7);
    x[7] ^= ROTL32(x[3] + x[15], 9);
    x[11] ^= ROTL32(x[7] + x[3], 13);
    x[15] ^= ROTL32(x[11] + x[7], 18);
    /* Row round. */
    x[1] ^= ROTL32(x[0] + x[3], 7);
    x[2] ^= ROTL32(x[1] + x[0], 9);
    x[3] ^= ROTL32(x[2] + x[1], 13);
    x[0] ^= ROTL32(x[3] + x[2], 18);
    x[6] ^= ROTL32(x[5] + x[4], 7);
    x[7] ^= ROTL32(x[6] + x[5], 9);
    x[4] ^= ROTL32(x[7] + x[6], 13);
    x[5] ^= ROTL32(x[4] + x[7], 18);
    x[11] ^= ROTL32(x[10] + x[9], 7);
    x[8] ^= ROTL32(x[11] + x[10], 9);
    x[9] ^= ROTL32(x[8] + x[11], 13);
    x[10] ^= ROTL32(x[9] + x[8], 18);
    x[12] ^= ROTL32(x[15] + x[14], 7);
    x[13] ^= ROTL32(x[12] + x[15], 9);
    x[14] ^= ROTL32(x[13] + x[12], 13);
    x[15] ^= ROTL32(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) b[i] += x[i];
}

/* BlockMix as above, one word at a time. */
static void block_mix(const uint32_t *in, const uint32_t *xor_with, uint32_t *out, uint32_t r) {
  uint32_t x[16];
  const size_t last = (2 * (size_t)r - 1) * 16;
  for (int k = 0; k < 16; k++) x[k] = xor_with ? in[last + k] ^ xor_with[last + k] : in[last + k];
  for (size_t i = 0; i < 2 * (size_t)r; i++) {
    const uint32_t *sub = in + i * 16;
    if (xor_with) {
      const uint32_t *other = xor_with + i * 16;
      for (int k = 0; k < 16; k++) x[k] ^= sub[k] ^ other[k];
    } else {
      for (int k = 0; k < 16; k++) x[k] ^= sub[k];
    }
    salsa20_8(x);
    uint32_t *dest = out + ((i & 1) ? (r + i / 2) : (i / 2)) * 16;
    memcpy(dest, x, sizeof x);
  }
}
#endif

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void store_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/*
 * The lane's table V (128 * r * N bytes). On Linux it is 2 MiB-aligned and marked for
 * transparent huge pages where the kernel allows them on request: ROMix's second loop reads V at
 * random, and with 4 KiB pages a lane spends about a fifth of its time on first-touch page
 * faults and TLB misses. Without huge pages this is an ordinary allocation.
 */
static uint32_t *alloc_table(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const size_t huge = 2u << 20;
  if (bytes >= huge) {
    void *table = NULL;
    if (posix_memalign(&table, huge, bytes) != 0) return NULL;
    madvise(table, bytes, MADV_HUGEPAGE); /* advice only: failure leaves ordinary pages */
    return table;
  }
#endif
  return malloc(bytes);
}

/* ROMix of one lane in place, with the table `v` (128 * r * N bytes) and the two blocks x, y. */
static void romix_lane(uint8_t *block, uint64_t n, uint32_t r, uint32_t *v, uint32_t *x, uint32_t *y) {
  const size_t words = 32 * (size_t)r; /* 128 * r bytes */
  for (size_t sub = 0; sub < words; sub += 16)
    for (int pos = 0; pos < 16; pos++) x[sub + pos] = load_le32(block + 4 * (sub + WORD_AT[pos]));
  /* V[i] = X; X = BlockMix(X): BlockMix writes straight into the next V slot. */
  memcpy(v, x, words * sizeof(uint32_t));
  for (uint64_t i = 0; i + 1 < n; i++) block_mix(v + i * words, NULL, v + (i + 1) * words, r);
  block_mix(v + (n - 1) * words, NULL, x, r);
  for (uint64_t i = 0; i < n; i++) {
    /* Integerify: the last sub-block's words 0 and 1 as a little-endian 64-bit number, mod N. */
    const uint32_t *tail = x + (2 * (size_t)r - 1) * 16;
    uint64_t j = (((uint64_t)tail[POS_OF_X1] << 32) | tail[POS_OF_X0]) & (n - 1);
    block_mix(x, v + j * words, y, r);
    uint32_t *swap = x;
    x = y;
    y = swap;
  }
  for (size_t sub = 0; sub < words; sub += 16)
    for (int pos = 0; pos < 16; pos++) store_le32(block + 4 * (sub + WORD_AT[pos]), x[sub + pos]);
}

/*
 * ROMix of `lanes` consecutive lanes of `blocks` in place, one after another, sharing one table:
 * a fresh 32 MiB table (restic's N = 2^15, r = 8) costs the kernel ~11 ms of page clearing, so a
 * thread that runs three of the five lanes clears it once instead of three times. 0 when the
 * working memory cannot be allocated.
 */
static int romix(uint8_t *blocks, size_t lanes, uint64_t n, uint32_t r) {
  const size_t words = 32 * (size_t)r;
  uint32_t *v = alloc_table(words * sizeof(uint32_t) * (size_t)n);
  uint32_t *x = malloc(words * sizeof(uint32_t));
  uint32_t *y = malloc(words * sizeof(uint32_t));
  const int ok = v && x && y;
  if (ok)
    for (size_t lane = 0; lane < lanes; lane++) romix_lane(blocks + lane * words * sizeof(uint32_t), n, r, v, x, y);
  free(v);
  free(x);
  free(y);
  return ok;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref block_ref; /* keeps the caller's array alive while the pool thread writes into it */
  uint8_t *block;
  size_t lanes;
  uint64_t n;
  uint32_t r;
  int ok;
} RomixJob;

static void romix_execute(napi_env env, void *data) {
  RomixJob *job = data;
  job->ok = romix(job->block, job->lanes, job->n, job->r);
}

static void romix_complete(napi_env env, napi_status status, void *data) {
  RomixJob *job = data;
  if (status == napi_ok && job->ok) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    reject_deferred_with(env, job->deferred, job->ok ? "scrypt lane cancelled" : "scrypt lane: out of memory");
  }
  napi_delete_reference(env, job->block_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value js_romix_lanes_async(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  Bytes block;
  if (!get_bytes_sized(env, argv[0], "block", -1, &block)) return NULL;
  double n_value = 0, r_value = 0;
  if (napi_get_value_double(env, argv[1], &n_value) != napi_ok || napi_get_value_double(env, argv[2], &r_value) != napi_ok) {
    napi_throw_type_error(env, NULL, "N and r must be numbers");
    return NULL;
  }
  /* N a power of two in [2, 2^40]; r in [1, 2^24]; the table (128 * r * N bytes) at most 1 TiB,
   * so that no size computed below can overflow; the block exactly 128 * r bytes. */
  if (!(n_value >= 2 && n_value <= 1099511627776.0) || !(r_value >= 1 && r_value <= 16777216.0) || 128.0 * r_value * n_value > 1099511627776.0) {
    napi_throw_range_error(env, NULL, "scrypt N or r out of range");
    return NULL;
  }
  uint64_t n = (uint64_t)n_value;
  uint32_t r = (uint32_t)r_value;
  if ((double)n != n_value || (double)r != r_value || (n & (n - 1)) != 0 || block.length == 0 || block.length % (128 * (size_t)r) != 0) {
    napi_throw_range_error(env, NULL, "scrypt lane: N must be a power of two and the block a whole number of 128 * r-byte lanes");
    return NULL;
  }
  RomixJob *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "scrypt lane: out of memory");
    return NULL;
  }
  job->block = block.data;
  job->lanes = block.length / (128 * (size_t)r);
  job->n = n;
  job->r = r;
  if (napi_create_reference(env, argv[0], 1, &job->block_ref) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "scrypt lane: cannot hold the block");
    return NULL;
  }
  napi_value promise = queue_promise_work(env, "restic-ts:scrypt-lane", romix_execute, romix_complete, job, &job->work, &job->deferred);
  if (promise == NULL) {
    napi_delete_reference(env, job->block_ref);
    free(job);
  }
  return promise;
}
