/*
 * Extended attributes for restic-ts: a minimal Node-API addon over Linux's
 * llistxattr(2), lgetxattr(2) and lsetxattr(2). Node has no xattr API of its own.
 *
 *   llist(path: Uint8Array): Buffer[]                        raw attribute names, in the
 *                                                            file system's listing order
 *   lget(path: Uint8Array, name: Uint8Array): Buffer         the value (may be empty)
 *   lset(path: Uint8Array, name: Uint8Array, value: Uint8Array): undefined
 *
 * Paths and names are byte arrays (no terminating NUL) so that names which are not valid
 * UTF-8 survive. The l* calls never follow symbolic links. A failing call throws an Error
 * whose `code` is the errno name ('ENOTSUP', 'ENODATA', 'EACCES', 'EPERM', ...), `errno`
 * the negated errno (as Node's fs errors) and `syscall` the call's name; the TypeScript
 * side (../xattr.ts) adds the path and decides what each code means.
 *
 * The size of a list or value can change between asking for it and reading it (another
 * process adds an attribute): the read then fails with ERANGE and is simply retried.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

#ifndef __linux__
#error "the xattr addon uses Linux's l*xattr calls"
#endif

/* Linux caps a list and a value at 64 KiB; the retry bound only guards against a kernel
 * that keeps changing sizes forever. */
#define MAX_ATTEMPTS 64
/* First read into the stack: most files have no or few short attributes, so the common
 * case is one system call. */
#define STACK_BUFFER 1024

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case EDQUOT: return "EDQUOT";
    case ESTALE: return "ESTALE";
    case EOVERFLOW: return "EOVERFLOW";
    default: return NULL;
  }
}

/* Throws an Error with code/errno/syscall; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char code_buf[32];
  const char *code = errno_name(err);
  if (code == NULL) {
    snprintf(code_buf, sizeof code_buf, "E%d", err);
    code = code_buf;
  }
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", code, strerror(err), syscall);
  napi_value code_value, message_value, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
      napi_create_error(env, code_value, message_value, &error) != napi_ok) {
    napi_throw_error(env, code, message);
    return NULL;
  }
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "code", code_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

/* A NUL-terminated copy of a byte-array argument; small ones live in `stack`. */
typedef struct {
  char *text;
  size_t length;
  char stack[512];
} c_string;

static void c_string_free(c_string *s) {
  if (s->text != NULL && s->text != s->stack) free(s->text);
  s->text = NULL;
}

/* Reads a Uint8Array/Buffer argument; throws a TypeError and returns 0 when it is not one
 * or contains a NUL byte (which the C call would silently cut the string at). */
static int get_bytes_arg(napi_env env, napi_value value, const char *what, c_string *out) {
  out->text = NULL;
  bool is_typedarray = false;
  napi_is_typedarray(env, value, &is_typedarray);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (!is_typedarray ||
      napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    char message[96];
    snprintf(message, sizeof message, "xattr: %s must be a Uint8Array", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return 0;
  }
  if (length > 0 && memchr(data, 0, length) != NULL) {
    char message[96];
    snprintf(message, sizeof message, "xattr: %s must not contain NUL bytes", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return 0;
  }
  if (length < sizeof out->stack) {
    out->text = out->stack;
  } else {
    out->text = malloc(length + 1);
    if (out->text == NULL) {
      throw_errno(env, ENOMEM, "malloc");
      return 0;
    }
  }
  if (length > 0) memcpy(out->text, data, length);
  out->text[length] = '\0';
  out->length = length;
  return 1;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "xattr: missing arguments");
    return 0;
  }
  return 1;
}

/*
 * Calls `read_call` (llistxattr or lgetxattr) until it fits: first into a stack buffer,
 * then asking the size and reading into a heap buffer of that size, again if the size grew
 * meanwhile (ERANGE). On success *result points at `stack` or a malloc'd buffer (the
 * caller frees it when it is not `stack`) and *result_length is the byte count.
 */
typedef ssize_t (*read_fn)(const char *path, const char *name, char *buffer, size_t size);

static ssize_t list_call(const char *path, const char *name, char *buffer, size_t size) {
  (void)name;
  return llistxattr(path, buffer, size);
}

static ssize_t get_call(const char *path, const char *name, char *buffer, size_t size) {
  return lgetxattr(path, name, buffer, size);
}

static int read_sized(read_fn read_call, const char *path, const char *name, char *stack, size_t stack_size,
                      char **result, size_t *result_length, int *error) {
  ssize_t n = read_call(path, name, stack, stack_size);
  if (n >= 0) {
    *result = stack;
    *result_length = (size_t)n;
    return 1;
  }
  if (errno != ERANGE) {
    *error = errno;
    return 0;
  }
  for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    ssize_t size = read_call(path, name, NULL, 0);
    if (size < 0) {
      *error = errno;
      return 0;
    }
    if (size == 0) {
      /* emptied meanwhile; a read with size 0 would be another size query, not a read */
      *result = stack;
      *result_length = 0;
      return 1;
    }
    char *heap = malloc((size_t)size);
    if (heap == NULL) {
      *error = ENOMEM;
      return 0;
    }
    n = read_call(path, name, heap, (size_t)size);
    if (n >= 0) {
      *result = heap;
      *result_length = (size_t)n;
      return 1;
    }
    int err = errno;
    free(heap);
    if (err != ERANGE) {
      *error = err;
      return 0;
    }
  }
  *error = ERANGE;
  return 0;
}

static napi_value llist(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  c_string path;
  if (!get_bytes_arg(env, argv[0], "path", &path)) return NULL;

  char stack[STACK_BUFFER];
  char *list = NULL;
  size_t length = 0;
  int err = 0;
  int ok = read_sized(list_call, path.text, NULL, stack, sizeof stack, &list, &length, &err);
  c_string_free(&path);
  if (!ok) return throw_errno(env, err, "llistxattr");

  /* the list is NUL-terminated names: count them, then one Buffer per name */
  uint32_t count = 0;
  for (size_t i = 0; i < length; i++)
    if (list[i] == '\0') count++;
  napi_value names;
  napi_status status = napi_create_array_with_length(env, count, &names);
  size_t start = 0;
  uint32_t index = 0;
  for (size_t i = 0; status == napi_ok && i < length; i++) {
    if (list[i] != '\0') continue;
    napi_value name;
    status = napi_create_buffer_copy(env, i - start, list + start, NULL, &name);
    if (status == napi_ok) status = napi_set_element(env, names, index++, name);
    start = i + 1;
  }
  if (list != stack) free(list);
  if (status != napi_ok) {
    napi_throw_error(env, NULL, "xattr: could not build the name list");
    return NULL;
  }
  return names;
}

/* argv[0] and argv[1] as the NUL-terminated path and attribute name (both freed on failure). */
static int get_path_and_name(napi_env env, napi_value *argv, c_string *path, c_string *name) {
  if (!get_bytes_arg(env, argv[0], "path", path)) return 0;
  if (!get_bytes_arg(env, argv[1], "name", name)) {
    c_string_free(path);
    return 0;
  }
  return 1;
}

static napi_value lget(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  c_string path, name;
  if (!get_path_and_name(env, argv, &path, &name)) return NULL;

  char stack[STACK_BUFFER];
  char *value = NULL;
  size_t length = 0;
  int err = 0;
  int ok = read_sized(get_call, path.text, name.text, stack, sizeof stack, &value, &length, &err);
  c_string_free(&path);
  c_string_free(&name);
  if (!ok) return throw_errno(env, err, "lgetxattr");

  napi_value result;
  napi_status status = napi_create_buffer_copy(env, length, value, NULL, &result);
  if (value != stack) free(value);
  if (status != napi_ok) {
    napi_throw_error(env, NULL, "xattr: could not allocate the value");
    return NULL;
  }
  return result;
}

static napi_value lset(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  c_string path, name;
  if (!get_path_and_name(env, argv, &path, &name)) return NULL;
  /* the value is binary: NUL bytes allowed, no copy needed */
  bool is_typedarray = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  napi_is_typedarray(env, argv[2], &is_typedarray);
  if (!is_typedarray || napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    c_string_free(&path);
    c_string_free(&name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "xattr: value must be a Uint8Array");
    return NULL;
  }
  static const char empty = 0;
  int rc = lsetxattr(path.text, name.text, length > 0 ? data : &empty, length, 0);
  int err = errno;
  c_string_free(&path);
  c_string_free(&name);
  if (rc != 0) return throw_errno(env, err, "lsetxattr");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"llist", NULL, llist, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lget", NULL, lget, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lset", NULL, lset, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
