/* scrypt's ROMix for lanes on libuv's thread pool (scrypt-romix.c); registered by seal.c. */
#ifndef RESTIC_TS_SCRYPT_ROMIX_H
#define RESTIC_TS_SCRYPT_ROMIX_H

#include <node_api.h>

/* romixLanesAsync(blocks: Uint8Array (k * 128 * r bytes), N, r, maxWidth?) -> Promise<void>; the k
 * lanes are replaced in place, in groups of up to maxWidth (default 4) lanes worked side by side. */
napi_value js_romix_lanes_async(napi_env env, napi_callback_info info);

/* romixWidths() -> number[]: the group widths this CPU runs (1, and 2 with AVX2, 4 with AVX-512). */
napi_value js_romix_widths(napi_env env, napi_callback_info info);

/* romixReserve(bytes) -> Promise<void> and romixRelease(): a table faulted in ahead of the next ROMix. */
napi_value js_romix_reserve(napi_env env, napi_callback_info info);
napi_value js_romix_release(napi_env env, napi_callback_info info);

#endif
