/*
 * scrypt's memory-hard step, ROMix (RFC 7914 section 5), for some of the p independent lanes,
 * run on libuv's thread pool: romixLanesAsync(blocks, N, r, maxWidth?) -> Promise<void>,
 * `blocks` (one or more consecutive 128 * r-byte lanes) replaced in place.
 *
 * Why: restic's key files use p = 4 or 5 (N = 2^15, r = 8). node:crypto's scrypt (and Go's, in
 * restic) works the lanes one after another, ~100 ms each here; they are independent by
 * definition, so they run side by side: up to four in one thread, one lane per 128-bit part of
 * an AVX-512 vector (two with AVX2; romix-group.h), and src/crypto/primitives.ts spreads groups
 * of lanes over the cores (PBKDF2 before and after is node:crypto's).
 *
 * Written from the RFC's definitions (Salsa20/8 core, BlockMix, ROMix, Integerify); checked
 * against node:crypto's scrypt, and every group width against the others, by
 * test/unit/native-crypto.test.ts. Words are kept in host order while mixing and converted
 * from/to little-endian at the ends, so it is endian-neutral.
 *
 * Memory: 128 * r * N bytes per lane of the widest group a call runs (32 MiB per lane for
 * restic's parameters), allocated (or taken from the reservation below) when the call starts and
 * freed when it ends; the caller bounds how many calls run at once.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include "scrypt-romix.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Words are kept in host order while mixing, read and written little-endian at the ends. */
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
 * Words of a 64-byte sub-block are stored in the order the mixing wants them. The vector paths
 * keep Salsa20's diagonals together, (x0 x5 x10 x15)(x4 x9 x14 x3)(x8 x13 x2 x7)(x12 x1 x6 x11),
 * so each quarter-round step is one vector operation on four columns (or rows, after rotating
 * three of the vectors); the portable path keeps words in natural order. BlockMix only XORs and
 * copies whole sub-blocks, so the order matters only when loading, storing and in Integerify.
 */
#if defined(__SSE2__) && !defined(RESTIC_TS_SCRYPT_PORTABLE)
#define ROMIX_VECTOR 1
#include <immintrin.h>
static const uint8_t WORD_AT[16] = {0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11};

/* One lane per vector: SSE2, which every x86-64 has. */
#define W 1
#define VEC __m128i
#define ATTR
#define SUFFIX sse2
#define V_ADD(a, b) _mm_add_epi32(a, b)
#define V_XOR(a, b) _mm_xor_si128(a, b)
#define V_ROL(v, n) _mm_or_si128(_mm_slli_epi32(v, n), _mm_srli_epi32(v, 32 - (n)))
#define V_SHUF(v, imm) _mm_shuffle_epi32(v, imm)
#define V_LOAD_LANES(src, off) _mm_loadu_si128((const __m128i *)((src)[0] + (off)))
#define V_STORE_LANES(dst, off, v) _mm_storeu_si128((__m128i *)((dst)[0] + (off)), v)
#include "romix-group.h"

/*
 * Two and four lanes per vector where the CPU has AVX2 / AVX-512 (checked at run time, so one
 * build serves every x86-64): compiled with target attributes, which GCC and clang support.
 */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ROMIX_WIDE 1
#define V_LOAD_2(src, off) \
  _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)((src)[0] + (off)))), _mm_loadu_si128((const __m128i *)((src)[1] + (off))), 1)
#define V_STORE_2(dst, off, v)                                                     \
  do {                                                                             \
    _mm_storeu_si128((__m128i *)((dst)[0] + (off)), _mm256_castsi256_si128(v));    \
    _mm_storeu_si128((__m128i *)((dst)[1] + (off)), _mm256_extracti128_si256(v, 1)); \
  } while (0)

#define W 2
#define VEC __m256i
#define ATTR __attribute__((target("avx2")))
#define SUFFIX avx2
#define V_ADD(a, b) _mm256_add_epi32(a, b)
#define V_XOR(a, b) _mm256_xor_si256(a, b)
#define V_ROL(v, n) _mm256_or_si256(_mm256_slli_epi32(v, n), _mm256_srli_epi32(v, 32 - (n)))
#define V_SHUF(v, imm) _mm256_shuffle_epi32(v, imm)
#define V_LOAD_LANES V_LOAD_2
#define V_STORE_LANES V_STORE_2
#include "romix-group.h"

/* Two lanes with AVX-512VL's rotate instruction (one op instead of shift, shift, or). */
#define W 2
#define VEC __m256i
#define ATTR __attribute__((target("avx2,avx512f,avx512vl")))
#define SUFFIX avx512vl
#define V_ADD(a, b) _mm256_add_epi32(a, b)
#define V_XOR(a, b) _mm256_xor_si256(a, b)
#define V_ROL(v, n) _mm256_rol_epi32(v, n)
#define V_SHUF(v, imm) _mm256_shuffle_epi32(v, imm)
#define V_LOAD_LANES V_LOAD_2
#define V_STORE_LANES V_STORE_2
#include "romix-group.h"

#define W 4
#define VEC __m512i
#define ATTR __attribute__((target("avx512f")))
#define SUFFIX avx512
#define V_ADD(a, b) _mm512_add_epi32(a, b)
#define V_XOR(a, b) _mm512_xor_si512(a, b)
#define V_ROL(v, n) _mm512_rol_epi32(v, n)
#define V_SHUF(v, imm) _mm512_shuffle_epi32(v, imm)
#define V_LOAD_LANES(src, off)                                                                                        \
  _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)((src)[0] + (off)))), \
                                                           _mm_loadu_si128((const __m128i *)((src)[1] + (off))), 1),                    \
                                        _mm_loadu_si128((const __m128i *)((src)[2] + (off))), 2),                                       \
                     _mm_loadu_si128((const __m128i *)((src)[3] + (off))), 3)
#define V_STORE_LANES(dst, off, v)                                                        \
  do {                                                                                    \
    _mm_storeu_si128((__m128i *)((dst)[0] + (off)), _mm512_castsi512_si128(v));         \
    _mm_storeu_si128((__m128i *)((dst)[1] + (off)), _mm512_extracti32x4_epi32(v, 1));   \
    _mm_storeu_si128((__m128i *)((dst)[2] + (off)), _mm512_extracti32x4_epi32(v, 2));   \
    _mm_storeu_si128((__m128i *)((dst)[3] + (off)), _mm512_extracti32x4_epi32(v, 3));   \
  } while (0)
#include "romix-group.h"
#endif

#else /* portable C */
static const uint8_t WORD_AT[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
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
    uint64_t j = (((uint64_t)tail[1] << 32) | tail[0]) & (n - 1);
    block_mix(x, v + j * words, y, r);
    uint32_t *swap = x;
    x = y;
    y = swap;
  }
  for (size_t sub = 0; sub < words; sub += 16)
    for (int pos = 0; pos < 16; pos++) store_le32(block + 4 * (sub + WORD_AT[pos]), x[sub + pos]);
}
#endif

/*
 * The tables V (128 * r * N bytes per lane). On Linux they are 2 MiB-aligned and marked for
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

/*
 * One table reserved ahead of a key derivation. Faulting in fresh memory is a large part of a
 * derivation's cost when it starts cold: a group of four lanes needs 128 MiB of tables (restic's
 * parameters), and the first touch of that much memory cost 60-150 ms of kernel time here, more
 * than the four lanes' mixing (~80 ms). `romixReserve` allocates and touches a table on libuv's
 * thread pool while the process does other things (the CLI loads its modules, reads the key
 * file); the next ROMix call whose tables fit takes it, waiting for it when it is still being
 * filled. A reservation nobody takes is freed by `romixRelease`. Shared by every thread of the
 * process (worker threads load this addon too), so it sits behind a mutex.
 */
static uv_once_t reserve_once = UV_ONCE_INIT;
static uv_mutex_t reserve_lock;
static uv_cond_t reserve_filled;
static struct {
  uint32_t *table; /* faulted in and free to take; NULL when none */
  size_t bytes;    /* its size, also while it is being filled */
  int filling;
  int release_when_filled;
} reserved;

static void reserve_init(void) {
  if (uv_mutex_init(&reserve_lock) != 0 || uv_cond_init(&reserve_filled) != 0) abort();
}

/*
 * A table of `bytes`: the reserved one when it fits (at least `bytes`, at most twice that, so a
 * one-lane call does not take the four-lane group's table), else a fresh one.
 */
static uint32_t *table_for(size_t bytes) {
  uv_once(&reserve_once, reserve_init);
  uv_mutex_lock(&reserve_lock);
  const int fits = reserved.bytes >= bytes && reserved.bytes / 2 <= bytes;
  while (fits && reserved.filling) uv_cond_wait(&reserve_filled, &reserve_lock);
  uint32_t *table = NULL;
  if (fits && reserved.table != NULL) {
    table = reserved.table;
    reserved.table = NULL;
    reserved.bytes = 0;
  }
  uv_mutex_unlock(&reserve_lock);
  return table != NULL ? table : alloc_table(bytes);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  size_t bytes;
  uint32_t *table;
} ReserveJob;

static void reserve_execute(napi_env env, void *data) {
  ReserveJob *job = data;
  uint8_t *table = (uint8_t *)alloc_table(job->bytes);
  /* One write per 4 KiB page faults the whole table in (one per 2 MiB would do with huge pages). */
  if (table != NULL)
    for (size_t at = 0; at < job->bytes; at += 4096) ((volatile uint8_t *)table)[at] = 0;
  job->table = (uint32_t *)table;
}

static void reserve_complete(napi_env env, napi_status status, void *data) {
  ReserveJob *job = data;
  uv_mutex_lock(&reserve_lock);
  reserved.filling = 0;
  if (job->table != NULL && !reserved.release_when_filled) {
    reserved.table = job->table;
    job->table = NULL;
  } else {
    reserved.bytes = 0;
  }
  reserved.release_when_filled = 0;
  uv_cond_broadcast(&reserve_filled);
  uv_mutex_unlock(&reserve_lock);
  free(job->table);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_resolve_deferred(env, job->deferred, undefined);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* What this CPU can run: bit w set for each group width w (1, 2, 4) available. */
enum { WIDTH_1 = 1, WIDTH_2 = 2, WIDTH_4 = 4 };

static int available_widths(void) {
  int widths = WIDTH_1;
#if defined(ROMIX_WIDE)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) widths |= WIDTH_2;
  if (__builtin_cpu_supports("avx512f")) widths |= WIDTH_4;
#endif
  return widths;
}

#if defined(ROMIX_VECTOR)
/* The widest group of at most `at_most` lanes this CPU runs (within `allowed`). */
static size_t group_width(size_t at_most, int allowed) {
  if (at_most >= 4 && (allowed & WIDTH_4)) return 4;
  if (at_most >= 2 && (allowed & WIDTH_2)) return 2;
  return 1;
}
#endif

/*
 * ROMix of `lanes` consecutive lanes of `blocks` in place, in groups of up to `max_width` lanes
 * worked side by side (the widest the CPU has), the groups one after another sharing the tables:
 * a fresh 32 MiB table (restic's N = 2^15, r = 8) costs the kernel ~11 ms of page clearing, so
 * tables are allocated once per call, not per group. 0 when the memory cannot be allocated.
 */
static int romix(uint8_t *blocks, size_t lanes, uint64_t n, uint32_t r, size_t max_width) {
  const size_t words = 32 * (size_t)r, lane_bytes = words * sizeof(uint32_t), table_words = words * (size_t)n;
#if defined(ROMIX_VECTOR)
  const int allowed = available_widths();
#if defined(ROMIX_WIDE)
  const int vl = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
  const size_t widest = group_width(lanes < max_width ? lanes : max_width, allowed);
  uint32_t *v = table_for(table_words * sizeof(uint32_t) * widest);
  /* x, y, t: 8r vectors of `widest` lanes each, aligned for the widest vector. */
  void *work = NULL;
  if (posix_memalign(&work, 64, 3 * lane_bytes * widest) != 0) work = NULL;
  const int ok = v && work;
  if (ok) {
    uint8_t *x = work, *y = x + lane_bytes * widest, *t = y + lane_bytes * widest;
    uint32_t *tables[4];
    for (size_t k = 0; k < widest; k++) tables[k] = v + k * table_words;
    for (size_t lane = 0; lane < lanes;) {
      const size_t width = group_width(lanes - lane < widest ? lanes - lane : widest, allowed);
      uint8_t *group[4];
      for (size_t k = 0; k < width; k++) group[k] = blocks + (lane + k) * lane_bytes;
#if defined(ROMIX_WIDE)
      if (width == 4) romix_group_avx512(group, n, r, tables, (__m512i *)x, (__m512i *)y, (__m512i *)t);
      else if (width == 2 && vl) romix_group_avx512vl(group, n, r, tables, (__m256i *)x, (__m256i *)y, (__m256i *)t);
      else if (width == 2) romix_group_avx2(group, n, r, tables, (__m256i *)x, (__m256i *)y, (__m256i *)t);
      else
#endif
        romix_group_sse2(group, n, r, tables, (__m128i *)x, (__m128i *)y, (__m128i *)t);
      lane += width;
    }
  }
  free(v);
  free(work);
  return ok;
#else
  (void)max_width;
  uint32_t *v = table_for(table_words * sizeof(uint32_t));
  uint32_t *x = malloc(lane_bytes);
  uint32_t *y = malloc(lane_bytes);
  const int ok = v && x && y;
  if (ok)
    for (size_t lane = 0; lane < lanes; lane++) romix_lane(blocks + lane * lane_bytes, n, r, v, x, y);
  free(v);
  free(x);
  free(y);
  return ok;
#endif
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref block_ref; /* keeps the caller's array alive while the pool thread writes into it */
  uint8_t *block;
  size_t lanes;
  size_t max_width;
  uint64_t n;
  uint32_t r;
  int ok;
} RomixJob;

static void romix_execute(napi_env env, void *data) {
  RomixJob *job = data;
  job->ok = romix(job->block, job->lanes, job->n, job->r, job->max_width);
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
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "too few arguments");
    return NULL;
  }
  Bytes block;
  if (!get_bytes_sized(env, argv[0], "block", -1, &block)) return NULL;
  double n_value = 0, r_value = 0;
  if (napi_get_value_double(env, argv[1], &n_value) != napi_ok || napi_get_value_double(env, argv[2], &r_value) != napi_ok) {
    napi_throw_type_error(env, NULL, "N and r must be numbers");
    return NULL;
  }
  /* N a power of two in [2, 2^40]; r in [1, 2^24]; the table (128 * r * N bytes) at most 1 TiB,
   * so that no size computed below can overflow; the block a whole number of 128 * r-byte lanes. */
  if (!(n_value >= 2 && n_value <= 1099511627776.0) || !(r_value >= 1 && r_value <= 16777216.0) || 128.0 * r_value * n_value > 1099511627776.0) {
    napi_throw_range_error(env, NULL, "scrypt N or r out of range");
    return NULL;
  }
  /* Optional: the widest group of lanes to work side by side (1, 2 or 4; default 4), so tests
   * can check each path the CPU has against the others. */
  double width_value = 4;
  napi_valuetype width_type = napi_undefined;
  if (argc >= 4 && napi_typeof(env, argv[3], &width_type) == napi_ok && width_type != napi_undefined &&
      (napi_get_value_double(env, argv[3], &width_value) != napi_ok || !(width_value == 1 || width_value == 2 || width_value == 4))) {
    napi_throw_range_error(env, NULL, "scrypt lane group width must be 1, 2 or 4");
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
  job->max_width = (size_t)width_value;
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

napi_value js_romix_widths(napi_env env, napi_callback_info info) {
  const int widths = available_widths();
  napi_value result, value;
  if (napi_create_array(env, &result) != napi_ok) return NULL;
  uint32_t i = 0;
  for (int w = 1; w <= 4; w *= 2) {
    if (!(widths & w)) continue;
    if (napi_create_uint32(env, (uint32_t)w, &value) != napi_ok || napi_set_element(env, result, i++, value) != napi_ok) return NULL;
  }
  return result;
}

/* romixReserve(bytes) -> Promise<void>: reserves and faults in a table of `bytes` for the next
 * ROMix call it fits (see `reserved`); nothing when one is already reserved. */
napi_value js_romix_reserve(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  double bytes = 0;
  if (napi_get_value_double(env, argv[0], &bytes) != napi_ok || !(bytes >= 0 && bytes <= 1099511627776.0)) {
    napi_throw_range_error(env, NULL, "scrypt reservation: bytes must be between 0 and 1 TiB");
    return NULL;
  }
  uv_once(&reserve_once, reserve_init);
  ReserveJob *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "scrypt reservation: out of memory");
    return NULL;
  }
  job->bytes = (size_t)bytes;
  uv_mutex_lock(&reserve_lock);
  const int busy = reserved.filling || reserved.table != NULL || job->bytes == 0;
  if (!busy) {
    reserved.filling = 1;
    reserved.bytes = job->bytes;
  }
  uv_mutex_unlock(&reserve_lock);
  if (busy) {
    free(job);
    napi_value promise;
    napi_deferred deferred;
    napi_value undefined;
    if (napi_create_promise(env, &deferred, &promise) != napi_ok) return NULL;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, deferred, undefined);
    return promise;
  }
  napi_value promise = queue_promise_work(env, "restic-ts:scrypt-reserve", reserve_execute, reserve_complete, job, &job->work, &job->deferred);
  if (promise == NULL) {
    uv_mutex_lock(&reserve_lock);
    reserved.filling = 0;
    reserved.bytes = 0;
    uv_cond_broadcast(&reserve_filled);
    uv_mutex_unlock(&reserve_lock);
    free(job);
  }
  return promise;
}

/* romixRelease(): frees a reserved table nobody took (one still being filled is freed once it is). */
napi_value js_romix_release(napi_env env, napi_callback_info info) {
  uv_once(&reserve_once, reserve_init);
  uv_mutex_lock(&reserve_lock);
  uint32_t *table = reserved.table;
  reserved.table = NULL;
  if (reserved.filling) reserved.release_when_filled = 1;
  else reserved.bytes = 0;
  uv_mutex_unlock(&reserve_lock);
  free(table);
  return NULL;
}
