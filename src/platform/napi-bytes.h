/*
 * Node-API helpers shared by restic-ts's native addons (src/crypto/native/seal.c,
 * src/crypto/native/scrypt-romix.c, src/compression/native/zstd.c): argument checks and byte
 * arrays in and out. Header-only (static inline, so a file using only some of them builds without
 * unused-function warnings), included with the addon's binding.gyp `include_dirs`.
 */
#ifndef RESTIC_TS_NAPI_BYTES_H
#define RESTIC_TS_NAPI_BYTES_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  uint8_t *data;
  size_t length;
} Bytes;

/* Reads `value` as a Uint8Array (Buffer included); `want` >= 0 demands that length. */
static inline int get_bytes_sized(napi_env env, napi_value value, const char *name, long want, Bytes *out) {
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed &&
      napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) {
    return 0;
  }
  if (!is_typed || type != napi_uint8_array) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  if (want >= 0 && length != (size_t)want) {
    char message[128];
    snprintf(message, sizeof message, "%s must be %ld bytes, got %zu", name, want, length);
    napi_throw_range_error(env, NULL, message);
    return 0;
  }
  out->data = (uint8_t *)data;
  out->length = length;
  return 1;
}

/* The call's first `count` arguments; a TypeError when fewer were given. */
static inline int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < count) {
    napi_throw_type_error(env, NULL, "too few arguments");
    return 0;
  }
  return 1;
}

/*
 * A new Uint8Array of `length` bytes that owns its whole ArrayBuffer (so it can be transferred to
 * another thread). The memory comes from napi_create_buffer, which does not zero it (the caller
 * overwrites every byte): zeroing a fresh ArrayBuffer costs as much as sealing a small blob. The
 * Buffer is re-wrapped as a plain Uint8Array, the type the pure implementations return.
 */
static inline napi_value new_bytes(napi_env env, size_t length, uint8_t **data) {
  napi_value node_buffer, array_buffer, array;
  void *raw = NULL;
  if (napi_create_buffer(env, length, &raw, &node_buffer) != napi_ok) return NULL;
  if (napi_get_typedarray_info(env, node_buffer, NULL, NULL, NULL, &array_buffer, NULL) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_uint8_array, length, array_buffer, 0, &array) != napi_ok) return NULL;
  *data = (uint8_t *)raw;
  return array;
}

/*
 * Queues `execute` on libuv's thread pool, `complete` after it on the JavaScript thread, and
 * returns a new promise for `complete` to settle through *deferred (then it deletes *work). On
 * failure nothing is queued, an exception is pending and NULL is returned: the caller frees
 * `data`.
 */
static inline napi_value queue_promise_work(napi_env env, const char *name, napi_async_execute_callback execute,
                                            napi_async_complete_callback complete, void *data, napi_async_work *work,
                                            napi_deferred *deferred) {
  napi_value resource_name, promise;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, complete, data, work) != napi_ok) {
    napi_throw_error(env, NULL, "cannot create work for the thread pool");
    return NULL;
  }
  if (napi_create_promise(env, deferred, &promise) != napi_ok || napi_queue_async_work(env, *work) != napi_ok) {
    napi_delete_async_work(env, *work);
    napi_throw_error(env, NULL, "cannot queue work on the thread pool");
    return NULL;
  }
  return promise;
}

/* Rejects `deferred` with the pending exception if there is one (e.g. out of memory while
 * making the result), else with a new Error(message). */
static inline void reject_deferred_with(napi_env env, napi_deferred deferred, const char *message) {
  bool pending = false;
  napi_value error = NULL;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &error);
  if (error == NULL) {
    napi_value text;
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &error);
  }
  napi_reject_deferred(env, deferred, error);
}

#endif
