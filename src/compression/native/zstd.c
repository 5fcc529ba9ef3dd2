/*
 * zstd through the system's libzstd with contexts that are reused, for restic's blobs.
 *
 * Why: @mongodb-js/zstd creates a compression context per call and ignores the level; for a
 * 10 KiB blob that set-up costs several times the compression itself. Here each JavaScript
 * environment (main thread or worker) keeps one ZSTD_CCtx and one ZSTD_DCtx in N-API instance
 * data, so a synchronous call costs the real work plus about a microsecond, at the level asked.
 *
 * Large inputs can instead go to libuv's thread pool (compressAsync / decompressAsync), so the
 * JavaScript thread keeps working meanwhile; such a job copies its input (the caller may reuse
 * or transfer its buffer before the job runs) and borrows contexts from a small pool shared by
 * the environment's jobs (mutex-guarded, reference-counted so a job still running when its
 * environment ends frees the pool last).
 *
 * Bounded decompression: output never exceeds the `maxOutput` the caller gives. Frames that
 * declare their content size are decoded into a buffer of exactly that size (refused up front
 * when it is larger than maxOutput); frames without one are decoded as a stream into a buffer
 * that grows with the output, and decoding stops with an error at maxOutput + 1 bytes.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include <uv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

/* The sync compressor's scratch output is kept between calls unless it grew beyond this. */
#define SCRATCH_KEEP (16u * 1024 * 1024)

/* Contexts kept idle for thread-pool jobs (at most this many; more are freed after use). */
#define POOL_MAX 4

typedef struct {
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
} Contexts;

typedef struct {
  uv_mutex_t lock;
  int refs;
  int idle_count;
  Contexts *idle[POOL_MAX];
} ContextPool;

typedef struct {
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
  uint8_t *scratch;
  size_t scratch_capacity;
  ContextPool *pool;
} ZstdState;

static void free_contexts(Contexts *c) {
  if (c == NULL) return;
  ZSTD_freeCCtx(c->cctx);
  ZSTD_freeDCtx(c->dctx);
  free(c);
}

static ContextPool *pool_new(void) {
  ContextPool *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  if (uv_mutex_init(&p->lock) != 0) {
    free(p);
    return NULL;
  }
  p->refs = 1;
  return p;
}

static void pool_retain(ContextPool *p) {
  uv_mutex_lock(&p->lock);
  p->refs++;
  uv_mutex_unlock(&p->lock);
}

static void pool_release(ContextPool *p) {
  if (p == NULL) return;
  uv_mutex_lock(&p->lock);
  int left = --p->refs;
  uv_mutex_unlock(&p->lock);
  if (left > 0) return;
  for (int i = 0; i < p->idle_count; i++) free_contexts(p->idle[i]);
  uv_mutex_destroy(&p->lock);
  free(p);
}

/* An idle set of contexts, or a new empty set (its contexts are created on first use). */
static Contexts *pool_take(ContextPool *p) {
  Contexts *c = NULL;
  uv_mutex_lock(&p->lock);
  if (p->idle_count > 0) c = p->idle[--p->idle_count];
  uv_mutex_unlock(&p->lock);
  return c != NULL ? c : calloc(1, sizeof(Contexts));
}

static void pool_give(ContextPool *p, Contexts *c) {
  if (c == NULL) return;
  uv_mutex_lock(&p->lock);
  if (p->idle_count < POOL_MAX) {
    p->idle[p->idle_count++] = c;
    c = NULL;
  }
  uv_mutex_unlock(&p->lock);
  free_contexts(c);
}


/* Result of a compress or decompress step: malloc'd output, or an error message. */
typedef struct {
  uint8_t *data;
  size_t length;
  char error[200];
} Output;

static void free_state(ZstdState *s) {
  if (s == NULL) return;
  pool_release(s->pool);
  ZSTD_freeCCtx(s->cctx);
  ZSTD_freeDCtx(s->dctx);
  free(s->scratch);
  free(s);
}

static void finalize_state(napi_env env, void *data, void *hint) {
  free_state((ZstdState *)data);
}

static ZstdState *get_state(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (ZstdState *)data;
}

static int get_count(napi_env env, napi_value value, const char *name, double min, double max, double *out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || number != number || number < min || number > max ||
      number != (double)(int64_t)number) {
    char message[100];
    snprintf(message, sizeof message, "%s must be an integer from %.0f to %.0f", name, min, max);
    napi_throw_range_error(env, NULL, message);
    return 0;
  }
  *out = number;
  return 1;
}

/* A plain Uint8Array owning its whole ArrayBuffer, holding a copy of `length` bytes. */
static napi_value new_bytes_copy(napi_env env, const uint8_t *source, size_t length) {
  uint8_t *data = NULL;
  napi_value array = new_bytes(env, length, &data);
  if (array != NULL && length > 0) memcpy(data, source, length);
  return array;
}

static void set_error(Output *out, const char *what, size_t code) {
  snprintf(out->error, sizeof out->error, "%s: %s", what, ZSTD_getErrorName(code));
}

/*
 * Compresses `src` into one frame at `level`, with the content size and without a checksum
 * (as restic writes). Writes into `dst` of `capacity` >= ZSTD_compressBound(n); returns the size.
 */
static size_t compress_frame(ZSTD_CCtx *cctx, int level, const uint8_t *src, size_t n, uint8_t *dst, size_t capacity) {
  size_t r = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(r)) r = ZSTD_compress2(cctx, dst, capacity, src, n);
  return r; /* the frame's size, or a zstd error code */
}

/* compress_frame, with a failure described in `out`. */
static size_t compress_into(ZSTD_CCtx *cctx, int level, const uint8_t *src, size_t n, uint8_t *dst, size_t capacity, Output *out) {
  size_t r = compress_frame(cctx, level, src, n, dst, capacity);
  if (ZSTD_isError(r)) {
    set_error(out, "zstd compression failed", r);
    return 0;
  }
  return r;
}

/*
 * The total content size the frames of `src` declare (skippable frames count 0), with the stable
 * API only: ZSTD_CONTENTSIZE_UNKNOWN when a frame declares none, ZSTD_CONTENTSIZE_ERROR when
 * the frames are malformed.
 */
static unsigned long long declared_size(const uint8_t *src, size_t n) {
  unsigned long long total = 0;
  while (n > 0) {
    if (n < 4) return ZSTD_CONTENTSIZE_ERROR;
    uint32_t magic = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
    int skippable = (magic & 0xfffffff0u) == 0x184d2a50u;
    if (!skippable) {
      unsigned long long size = ZSTD_getFrameContentSize(src, n);
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return size;
      if (total + size < total) return ZSTD_CONTENTSIZE_ERROR;
      total += size;
    }
    size_t frame = ZSTD_findFrameCompressedSize(src, n);
    if (ZSTD_isError(frame) || frame == 0 || frame > n) return ZSTD_CONTENTSIZE_ERROR;
    src += frame;
    n -= frame;
  }
  return total;
}

/* Decompresses every frame of `src` into a new malloc'd buffer of at most `max_output` bytes. */
static void decompress_bounded(ZSTD_DCtx *dctx, const uint8_t *src, size_t n, size_t max_output, Output *out) {
  unsigned long long declared = declared_size(src, n);
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    snprintf(out->error, sizeof out->error, "invalid zstd data");
    return;
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (declared > max_output) {
      snprintf(out->error, sizeof out->error, "frames declare %llu bytes, more than the %zu allowed", declared, max_output);
      return;
    }
    uint8_t *data = malloc(declared > 0 ? (size_t)declared : 1);
    if (data == NULL) {
      snprintf(out->error, sizeof out->error, "out of memory for %llu bytes", declared);
      return;
    }
    size_t r = ZSTD_decompressDCtx(dctx, data, (size_t)declared, src, n);
    if (ZSTD_isError(r) || r != declared) {
      free(data);
      if (ZSTD_isError(r)) set_error(out, "zstd decompression failed", r);
      else snprintf(out->error, sizeof out->error, "decompressed to %zu bytes, frames declare %llu", r, declared);
      return;
    }
    out->data = data;
    out->length = (size_t)declared;
    return;
  }
  /* No declared size: stream into a growing buffer, stopping once output passes the bound. */
  size_t limit = max_output < SIZE_MAX ? max_output + 1 : SIZE_MAX;
  size_t capacity = n < limit / 4 ? n * 4 : limit;
  if (capacity < 64 * 1024) capacity = 64 * 1024 < limit ? 64 * 1024 : limit;
  uint8_t *data = malloc(capacity > 0 ? capacity : 1);
  if (data == NULL) {
    snprintf(out->error, sizeof out->error, "out of memory");
    return;
  }
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  ZSTD_inBuffer input = {src, n, 0};
  ZSTD_outBuffer output = {data, capacity, 0};
  size_t pending = 1;
  for (;;) {
    pending = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(pending)) {
      set_error(out, "zstd decompression failed", pending);
      free(data);
      return;
    }
    if (output.pos > max_output) {
      snprintf(out->error, sizeof out->error, "output exceeds the %zu bytes allowed", max_output);
      free(data);
      return;
    }
    if (input.pos == input.size && pending == 0) break; /* every frame complete */
    if (output.pos < output.size) {
      if (input.pos == input.size) { /* input used up mid-frame, and no output is held back */
        snprintf(out->error, sizeof out->error, "truncated zstd data");
        free(data);
        return;
      }
      continue;
    }
    /* output buffer full: grow it, up to the bound plus one byte */
    if (output.size >= limit) {
      snprintf(out->error, sizeof out->error, "output exceeds the %zu bytes allowed", max_output);
      free(data);
      return;
    }
    size_t grown = output.size <= limit / 2 ? output.size * 2 : limit;
    uint8_t *bigger = realloc(data, grown);
    if (bigger == NULL) {
      snprintf(out->error, sizeof out->error, "out of memory");
      free(data);
      return;
    }
    data = bigger;
    output.dst = data;
    output.size = grown;
  }
  out->data = data;
  out->length = output.pos;
}

/* --- synchronous calls on the thread's own contexts --------------------------------------------- */

/* (data, level) of compress and compressAsync. */
static int get_compress_args(napi_env env, napi_callback_info info, Bytes *src, double *level) {
  napi_value argv[2];
  return get_args(env, info, 2, argv) && get_bytes_sized(env, argv[0], "data", -1, src) &&
         get_count(env, argv[1], "level", ZSTD_minCLevel(), ZSTD_maxCLevel(), level);
}

/* (data, maxOutput) of decompress and decompressAsync. */
static int get_decompress_args(napi_env env, napi_callback_info info, Bytes *src, double *max_output) {
  napi_value argv[2];
  return get_args(env, info, 2, argv) && get_bytes_sized(env, argv[0], "data", -1, src) &&
         get_count(env, argv[1], "maxOutput", 0, 9007199254740991.0, max_output);
}

/* compress(data, level) -> Uint8Array */
static napi_value js_compress(napi_env env, napi_callback_info info) {
  Bytes src;
  double level;
  if (!get_compress_args(env, info, &src, &level)) return NULL;
  ZstdState *s = get_state(env);
  size_t bound = ZSTD_compressBound(src.length);
  if (s->scratch_capacity < bound) {
    free(s->scratch);
    s->scratch = malloc(bound);
    s->scratch_capacity = s->scratch ? bound : 0;
    if (s->scratch == NULL) {
      napi_throw_error(env, NULL, "zstd compression failed: out of memory");
      return NULL;
    }
  }
  Output out = {0};
  size_t size = compress_into(s->cctx, (int)level, src.data, src.length, s->scratch, s->scratch_capacity, &out);
  napi_value result = out.error[0] ? NULL : new_bytes_copy(env, s->scratch, size);
  if (s->scratch_capacity > SCRATCH_KEEP) {
    free(s->scratch);
    s->scratch = NULL;
    s->scratch_capacity = 0;
  }
  if (out.error[0]) napi_throw_error(env, NULL, out.error);
  return result;
}

/*
 * compressInto(data, level, out, offset, capacity) -> number: compresses straight into
 * out[offset, offset + capacity) and returns the frame's size, or -1 when the frame does not fit
 * in `capacity` (a caller that passes data.length - 1 learns "not smaller" without an allocation
 * or a copy: how the blob workers compress small files into the batch they send back).
 */
static napi_value js_compress_into(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Bytes src, dst;
  double level, offset, capacity;
  if (!get_args(env, info, 5, argv) || !get_bytes_sized(env, argv[0], "data", -1, &src) ||
      !get_count(env, argv[1], "level", ZSTD_minCLevel(), ZSTD_maxCLevel(), &level) ||
      !get_bytes_sized(env, argv[2], "out", -1, &dst) || !get_count(env, argv[3], "offset", 0, 9007199254740991.0, &offset) ||
      !get_count(env, argv[4], "capacity", 0, 9007199254740991.0, &capacity)) {
    return NULL;
  }
  if (offset > (double)dst.length || capacity > (double)dst.length - offset) {
    napi_throw_range_error(env, NULL, "out is too small for offset + capacity");
    return NULL;
  }
  size_t r = compress_frame(get_state(env)->cctx, (int)level, src.data, src.length, dst.data + (size_t)offset, (size_t)capacity);
  napi_value result;
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall) {
      char message[160];
      snprintf(message, sizeof message, "zstd compression failed: %s", ZSTD_getErrorName(r));
      napi_throw_error(env, NULL, message);
      return NULL;
    }
    napi_create_int32(env, -1, &result);
    return result;
  }
  napi_create_double(env, (double)r, &result);
  return result;
}

/* decompress(data, maxOutput) -> Uint8Array */
static napi_value js_decompress(napi_env env, napi_callback_info info) {
  Bytes src;
  double max_output;
  if (!get_decompress_args(env, info, &src, &max_output)) return NULL;
  ZstdState *s = get_state(env);
  Output out = {0};
  decompress_bounded(s->dctx, src.data, src.length, (size_t)max_output, &out);
  if (out.error[0]) {
    napi_throw_error(env, NULL, out.error);
    return NULL;
  }
  napi_value result = new_bytes_copy(env, out.data, out.length);
  free(out.data);
  return result;
}

/* --- jobs on libuv's thread pool ------------------------------------------------------------------ */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  ContextPool *pool;
  int compress;
  int level;
  size_t max_output;
  uint8_t *src;
  size_t src_length;
  Output out;
  /* Decompression with declared sizes: the result array, made on the JavaScript thread and
   * filled in place by the job (no second copy); held by `result_ref` until the job ends. */
  napi_ref result_ref;
  uint8_t *result_data;
  size_t result_length;
} Job;

static void job_execute(napi_env env, void *data) {
  Job *job = (Job *)data;
  Contexts *c = pool_take(job->pool);
  if (c == NULL) {
    snprintf(job->out.error, sizeof job->out.error, "zstd: out of memory");
    return;
  }
  if (job->compress) {
    if (c->cctx == NULL) c->cctx = ZSTD_createCCtx();
    size_t bound = ZSTD_compressBound(job->src_length);
    uint8_t *dst = malloc(bound);
    if (c->cctx == NULL || dst == NULL) {
      snprintf(job->out.error, sizeof job->out.error, "zstd compression failed: out of memory");
      free(dst);
    } else {
      job->out.length = compress_into(c->cctx, job->level, job->src, job->src_length, dst, bound, &job->out);
      if (job->out.error[0]) free(dst);
      else job->out.data = dst;
    }
  } else {
    if (c->dctx == NULL) c->dctx = ZSTD_createDCtx();
    if (c->dctx == NULL) {
      snprintf(job->out.error, sizeof job->out.error, "zstd decompression failed: out of memory");
    } else if (job->result_ref != NULL) {
      size_t r = ZSTD_decompressDCtx(c->dctx, job->result_data, job->result_length, job->src, job->src_length);
      if (ZSTD_isError(r)) set_error(&job->out, "zstd decompression failed", r);
      else if (r != job->result_length)
        snprintf(job->out.error, sizeof job->out.error, "decompressed to %zu bytes, frames declare %zu", r, job->result_length);
    } else {
      decompress_bounded(c->dctx, job->src, job->src_length, job->max_output, &job->out);
    }
  }
  pool_give(job->pool, c);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  Job *job = (Job *)data;
  napi_value value = NULL;
  if (status == napi_ok && !job->out.error[0]) {
    if (job->result_ref != NULL) napi_get_reference_value(env, job->result_ref, &value);
    else value = new_bytes_copy(env, job->out.data, job->out.length);
  }
  if (value != NULL) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    reject_deferred_with(env, job->deferred, job->out.error[0] ? job->out.error : "zstd job cancelled");
  }
  napi_delete_async_work(env, job->work);
  if (job->result_ref != NULL) napi_delete_reference(env, job->result_ref);
  pool_release(job->pool);
  free(job->out.data);
  free(job->src);
  free(job);
}

static void free_unqueued(napi_env env, Job *job) {
  if (job->result_ref != NULL) napi_delete_reference(env, job->result_ref);
  free(job->src);
  free(job);
}

static napi_value queue_job(napi_env env, Job *job, const Bytes *src) {
  ZstdState *s = get_state(env);
  job->src = malloc(src->length > 0 ? src->length : 1);
  if (job->src == NULL) {
    free_unqueued(env, job);
    napi_throw_error(env, NULL, "zstd: out of memory");
    return NULL;
  }
  if (src->length > 0) memcpy(job->src, src->data, src->length);
  job->src_length = src->length;
  /* The job holds the pool until it completes (set before queueing: it may run at once). */
  job->pool = s->pool;
  pool_retain(s->pool);
  napi_value promise = queue_promise_work(env, "restic-ts:zstd", job_execute, job_complete, job, &job->work, &job->deferred);
  if (promise == NULL) {
    pool_release(job->pool);
    free_unqueued(env, job);
  }
  return promise;
}

/* A zeroed job, or NULL with an exception pending. */
static Job *new_job(napi_env env) {
  Job *job = calloc(1, sizeof *job);
  if (job == NULL) napi_throw_error(env, NULL, "zstd: out of memory");
  return job;
}

/* compressAsync(data, level) -> Promise<Uint8Array> */
static napi_value js_compress_async(napi_env env, napi_callback_info info) {
  Bytes src;
  double level;
  if (!get_compress_args(env, info, &src, &level)) return NULL;
  Job *job = new_job(env);
  if (job == NULL) return NULL;
  job->compress = 1;
  job->level = (int)level;
  return queue_job(env, job, &src);
}

/* decompressAsync(data, maxOutput) -> Promise<Uint8Array> */
static napi_value js_decompress_async(napi_env env, napi_callback_info info) {
  Bytes src;
  double max_output;
  if (!get_decompress_args(env, info, &src, &max_output)) return NULL;
  Job *job = new_job(env);
  if (job == NULL) return NULL;
  job->max_output = (size_t)max_output;
  unsigned long long declared = declared_size(src.data, src.length);
  if (declared != ZSTD_CONTENTSIZE_ERROR && declared != ZSTD_CONTENTSIZE_UNKNOWN && declared <= job->max_output) {
    uint8_t *data = NULL;
    napi_value result = new_bytes(env, (size_t)declared, &data);
    if (result == NULL || napi_create_reference(env, result, 1, &job->result_ref) != napi_ok) {
      free(job);
      return NULL;
    }
    job->result_data = data;
    job->result_length = (size_t)declared;
  }
  return queue_job(env, job, &src);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  ZstdState *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->cctx = ZSTD_createCCtx();
    s->dctx = ZSTD_createDCtx();
    s->pool = pool_new();
  }
  if (s == NULL || s->cctx == NULL || s->dctx == NULL || s->pool == NULL) {
    free_state(s);
    napi_throw_error(env, NULL, "restic-ts zstd addon: cannot create zstd contexts");
    return NULL;
  }
  if (napi_set_instance_data(env, s, finalize_state, NULL) != napi_ok) {
    free_state(s);
    napi_throw_error(env, NULL, "restic-ts zstd addon: cannot set instance data");
    return NULL;
  }
  napi_value version;
  napi_create_string_utf8(env, ZSTD_versionString(), NAPI_AUTO_LENGTH, &version);
  napi_property_descriptor properties[] = {
      {"compress", NULL, js_compress, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressInto", NULL, js_compress_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decompress", NULL, js_decompress, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressAsync", NULL, js_compress_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decompressAsync", NULL, js_decompress_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}
