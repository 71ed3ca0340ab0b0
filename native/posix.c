/*
 * barge_posix: the POSIX calls Node's fs lacks, as synchronous N-API functions.
 *
 * Extended attributes (l*xattr: symlinks are never followed, so a walker sees the link itself, as
 * lstat does) and mknod with the makedev/major/minor encoding of this libc. Failures throw errors
 * shaped like Node's fs errors (code = errno name, errno = -errno, syscall, path), so callers
 * handle them with the same `err.code === 'ENOENT'` tests they use for fs. Plain C against
 * node_api.h keeps the addon ABI-stable across Node versions and free of npm dependencies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <node_api.h>

#include "deflate.h"

#ifndef __linux__
#error "barge_posix supports Linux only: it relies on the l*xattr calls and Linux dev_t encoding"
#endif

/* Largest integer a JS number holds exactly; device numbers beyond it would silently round. */
#define MAX_SAFE_INTEGER 9007199254740991.0

/* Bail out of a function when an N-API call fails; the failing call left an exception pending
 * or the engine is shutting down, and either way JS gets no value from us. */
#define NAPI_OK(call)                                                                              \
  do {                                                                                             \
    if ((call) != napi_ok) goto fail;                                                              \
  } while (0)

/* The errno names libuv reports, so codes match Node's (ENOTSUP, not EOPNOTSUPP: same value). */
static const char *errno_name(int err) {
  switch (err) {
#define NAME(e)                                                                                    \
  case e:                                                                                          \
    return #e;
    NAME(EPERM) NAME(ENOENT) NAME(EINTR) NAME(EIO) NAME(ENXIO) NAME(E2BIG) NAME(EBADF)
    NAME(EAGAIN) NAME(ENOMEM) NAME(EACCES) NAME(EFAULT) NAME(EBUSY) NAME(EEXIST) NAME(EXDEV)
    NAME(ENODEV) NAME(ENOTDIR) NAME(EISDIR) NAME(EINVAL) NAME(ENFILE) NAME(EMFILE) NAME(ETXTBSY)
    NAME(EFBIG) NAME(ENOSPC) NAME(EROFS) NAME(EMLINK) NAME(ERANGE) NAME(ENAMETOOLONG)
    NAME(ENOSYS) NAME(ENOTEMPTY) NAME(ELOOP) NAME(ENODATA) NAME(ENOTSUP) NAME(EOVERFLOW)
    NAME(EDQUOT) NAME(ESTALE) NAME(EILSEQ) NAME(ENOTCONN) NAME(ETIMEDOUT)
#undef NAME
  default:
    return "UNKNOWN";
  }
}

/* Makes an fs-style error: "ENOENT: no such file or directory, lgetxattr '/p' (user.x)".
 * Returns NULL with an exception pending when even that fails. */
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path,
                              const char *detail) {
  const char *code = errno_name(err);
  char reason[128];
  snprintf(reason, sizeof reason, "%s", strerror(err));
  /* Node's messages are lower case ("no such file or directory"). */
  if (reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = (char)(reason[0] - 'A' + 'a');

  const char *fmt = detail ? "%s: %s, %s '%s' (%s)" : "%s: %s, %s '%s'";
  int len = snprintf(NULL, 0, fmt, code, reason, syscall, path, detail);
  char *message = malloc((size_t)len + 1);
  if (message == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory building an error message");
    return NULL;
  }
  snprintf(message, (size_t)len + 1, fmt, code, reason, syscall, path, detail);

  napi_value code_v, message_v, error, errno_v, syscall_v, path_v;
  napi_status status = napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  if (status == napi_ok) status = napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_v);
  free(message);
  /* napi_create_error sets `.code` from its second argument. */
  if (status == napi_ok) status = napi_create_error(env, code_v, message_v, &error);
  if (status == napi_ok) status = napi_create_int32(env, -err, &errno_v);
  if (status == napi_ok) status = napi_set_named_property(env, error, "errno", errno_v);
  if (status == napi_ok) status = napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  if (status == napi_ok) status = napi_set_named_property(env, error, "syscall", syscall_v);
  if (status == napi_ok) status = napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_v);
  if (status == napi_ok) status = napi_set_named_property(env, error, "path", path_v);
  return status == napi_ok ? error : NULL;
}

/* Throws the error errno_error makes. */
static void throw_errno(napi_env env, int err, const char *syscall, const char *path,
                        const char *detail) {
  napi_value error = errno_error(env, err, syscall, path, detail);
  if (error != NULL) napi_throw(env, error);
}

/* Reads argument `v` as a NUL-terminated C string from a JS string or Uint8Array (Buffer), which
 * lets callers pass names that are not valid UTF-8. Returns malloc'd memory, or NULL with a
 * TypeError pending. Embedded NULs are refused, as Node's fs does, because the kernel would
 * silently truncate the path at them. */
static char *get_bytes_arg(napi_env env, napi_value v, const char *what, int allow_buffer) {
  napi_valuetype type;
  char *out = NULL;
  size_t len = 0;
  char message[160];
  NAPI_OK(napi_typeof(env, v, &type));
  if (type == napi_string) {
    NAPI_OK(napi_get_value_string_utf8(env, v, NULL, 0, &len));
    out = malloc(len + 1);
    if (out == NULL) goto oom;
    NAPI_OK(napi_get_value_string_utf8(env, v, out, len + 1, &len));
  } else {
    bool is_typed = false;
    napi_typedarray_type ta_type;
    void *data;
    if (allow_buffer) NAPI_OK(napi_is_typedarray(env, v, &is_typed));
    if (is_typed) NAPI_OK(napi_get_typedarray_info(env, v, &ta_type, &len, &data, NULL, NULL));
    if (!is_typed || ta_type != napi_uint8_array) {
      snprintf(message, sizeof message, "The \"%s\" argument must be of type string%s", what,
               allow_buffer ? " or Buffer" : "");
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
      return NULL;
    }
    out = malloc(len + 1);
    if (out == NULL) goto oom;
    if (len > 0) memcpy(out, data, len);
    out[len] = '\0';
  }
  if (strlen(out) != len) {
    free(out);
    snprintf(message, sizeof message, "The \"%s\" argument must not contain null bytes", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return NULL;
  }
  return out;
oom:
  napi_throw_error(env, "ENOMEM", "out of memory copying an argument");
  return NULL;
fail:
  free(out);
  return NULL;
}

/* Reads an integral JS number in [0, max]; anything else is a TypeError/RangeError, never a
 * silent truncation (a mode of 1.5 or a negative device number is a caller bug). */
static int get_uint_arg(napi_env env, napi_value v, const char *what, double max, double *out) {
  napi_valuetype type;
  char message[160];
  if (napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type != napi_number) {
    snprintf(message, sizeof message, "The \"%s\" argument must be of type number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return 0;
  }
  if (napi_get_value_double(env, v, out) != napi_ok) return 0;
  if (!(*out >= 0 && *out <= max && floor(*out) == *out)) {
    snprintf(message, sizeof message, "The \"%s\" argument must be an integer in [0, %.0f]", what,
             max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return 0;
  }
  return 1;
}

/* Fetches exactly `want` arguments; fewer is a TypeError rather than reading `undefined`. */
static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    char message[80];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", want, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", message);
    return 0;
  }
  return 1;
}

/* listXattrs(path): string[] -- names in kernel order, symlinks not followed. */
static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  char *path = NULL, *names = NULL;
  ssize_t size;
  uint32_t index = 0;
  if (!get_args(env, info, 1, argv)) return NULL;
  if ((path = get_bytes_arg(env, argv[0], "path", 1)) == NULL) return NULL;
  /* Size, then fetch: the list can grow in between (ERANGE), so retry until it fits. */
  for (;;) {
    size = llistxattr(path, NULL, 0);
    if (size < 0) {
      throw_errno(env, errno, "llistxattr", path, NULL);
      goto fail;
    }
    if (size == 0) break;
    free(names);
    names = malloc((size_t)size);
    if (names == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory listing xattrs");
      goto fail;
    }
    size = llistxattr(path, names, (size_t)size);
    if (size >= 0) break;
    if (errno != ERANGE) {
      throw_errno(env, errno, "llistxattr", path, NULL);
      goto fail;
    }
  }
  NAPI_OK(napi_create_array(env, &result));
  for (ssize_t at = 0; at < size;) {
    size_t len = strnlen(names + at, (size_t)(size - at));
    napi_value name;
    NAPI_OK(napi_create_string_utf8(env, names + at, len, &name));
    NAPI_OK(napi_set_element(env, result, index++, name));
    at += (ssize_t)len + 1;
  }
  free(names);
  free(path);
  return result;
fail:
  free(names);
  free(path);
  return NULL;
}

/* getXattr(path, name): Buffer -- the raw value, symlinks not followed. */
static napi_value get_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  char *path = NULL, *name = NULL, *value = NULL;
  ssize_t size;
  void *copy;
  if (!get_args(env, info, 2, argv)) return NULL;
  if ((path = get_bytes_arg(env, argv[0], "path", 1)) == NULL) goto out;
  if ((name = get_bytes_arg(env, argv[1], "name", 0)) == NULL) goto out;
  for (;;) {
    size = lgetxattr(path, name, NULL, 0);
    if (size < 0) {
      throw_errno(env, errno, "lgetxattr", path, name);
      goto out;
    }
    if (size == 0) break;
    free(value);
    value = malloc((size_t)size);
    if (value == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory reading an xattr");
      goto out;
    }
    size = lgetxattr(path, name, value, (size_t)size);
    if (size >= 0) break;
    if (errno != ERANGE) {
      throw_errno(env, errno, "lgetxattr", path, name);
      goto out;
    }
  }
  if (napi_create_buffer_copy(env, (size_t)size, size > 0 ? value : "", &copy, &result) != napi_ok)
    result = NULL;
out:
  free(value);
  free(name);
  free(path);
  return result;
}

/* setXattr(path, name, value: Uint8Array): creates or replaces, symlinks not followed. */
static napi_value set_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char *path = NULL, *name = NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (!get_args(env, info, 3, argv)) return NULL;
  if ((path = get_bytes_arg(env, argv[0], "path", 1)) == NULL) goto out;
  if ((name = get_bytes_arg(env, argv[1], "name", 0)) == NULL) goto out;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok) goto out;
  if (is_typed && napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL) != napi_ok)
    goto out;
  if (!is_typed || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"value\" argument must be a Buffer");
    goto out;
  }
  if (lsetxattr(path, name, len > 0 ? data : "", len, 0) != 0)
    throw_errno(env, errno, "lsetxattr", path, name);
out:
  free(name);
  free(path);
  return NULL;
}

/* removeXattr(path, name), symlinks not followed. */
static napi_value remove_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *path = NULL, *name = NULL;
  if (!get_args(env, info, 2, argv)) return NULL;
  if ((path = get_bytes_arg(env, argv[0], "path", 1)) == NULL) goto out;
  if ((name = get_bytes_arg(env, argv[1], "name", 0)) == NULL) goto out;
  if (lremovexattr(path, name) != 0) throw_errno(env, errno, "lremovexattr", path, name);
out:
  free(name);
  free(path);
  return NULL;
}

/* mknod(path, mode, dev): mode carries the type bits (S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK);
 * the process umask applies to the permission bits, as for mknod(2). */
static napi_value make_node(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char *path = NULL;
  double mode, dev;
  if (!get_args(env, info, 3, argv)) return NULL;
  if ((path = get_bytes_arg(env, argv[0], "path", 1)) == NULL) return NULL;
  if (get_uint_arg(env, argv[1], "mode", 4294967295.0, &mode) &&
      get_uint_arg(env, argv[2], "dev", MAX_SAFE_INTEGER, &dev) &&
      mknod(path, (mode_t)mode, (dev_t)dev) != 0)
    throw_errno(env, errno, "mknod", path, NULL);
  free(path);
  return NULL;
}

/* makedev(major, minor): number -- this libc's dev_t encoding, as lstat reports rdev. */
static napi_value make_dev(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  double major_v, minor_v;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_uint_arg(env, argv[0], "major", 4294967295.0, &major_v)) return NULL;
  if (!get_uint_arg(env, argv[1], "minor", 4294967295.0, &minor_v)) return NULL;
  uint64_t dev = (uint64_t)makedev((unsigned int)major_v, (unsigned int)minor_v);
  if ((double)dev > MAX_SAFE_INTEGER) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "makedev: the device number does not fit in a JS number");
    return NULL;
  }
  napi_create_double(env, (double)dev, &result);
  return result;
}

/* Shared body of major(dev) and minor(dev). */
static napi_value split_dev(napi_env env, napi_callback_info info, int want_major) {
  napi_value argv[1], result = NULL;
  double dev;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (!get_uint_arg(env, argv[0], "dev", MAX_SAFE_INTEGER, &dev)) return NULL;
  dev_t d = (dev_t)dev;
  napi_create_uint32(env, want_major ? (uint32_t)major(d) : (uint32_t)minor(d), &result);
  return result;
}

static napi_value dev_major(napi_env env, napi_callback_info info) {
  return split_dev(env, info, 1);
}

static napi_value dev_minor(napi_env env, napi_callback_info info) {
  return split_dev(env, info, 0);
}

/* ---- treeFingerprint(root): a digest of every entry's path and inode fields under root ----
 *
 * Used to skip an unchanged republish without reading anything else. ctime moves on every inode
 * change (content, mode, owner, xattrs, link count), so equal fingerprints mean equal trees when
 * no entry changed within a timestamp tick of the scan; `newestNs` lets the caller refuse to trust
 * a fingerprint taken too soon. Names are visited in byte order, so the digest does not depend on
 * readdir order. The digest is two independent 64-bit FNV-1a streams: a change detector, not a
 * security boundary (the publisher hashes its own tree). Measured: ~10 ms for 6,000 entries, where
 * the same walk in JS took ~130 ms.
 */
#include <dirent.h>
#include <fcntl.h>

typedef struct {
  uint64_t a, b;
  double entries;
  int64_t newest;
} tree_digest;

static void fnv(tree_digest *d, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    d->a = (d->a ^ p[i]) * 0x100000001b3ULL;
    d->b = (d->b ^ p[i]) * 0x100000001b3ULL;
  }
}

static int name_cmp(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Walks `path` (an absolute or relative path whose lstat is `st`); returns 0 or an errno. */
static int walk(tree_digest *d, char *path, size_t len, size_t cap, const struct stat *st, const char **failed) {
  int64_t fields[10] = {(int64_t)st->st_dev, (int64_t)st->st_ino, (int64_t)st->st_mode, (int64_t)st->st_uid,
                        (int64_t)st->st_gid, (int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
                        (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec, (int64_t)st->st_nlink,
                        (int64_t)st->st_rdev};
  fnv(d, path, len + 1);
  fnv(d, fields, sizeof fields);
  d->entries += 1;
  if (fields[6] > d->newest) d->newest = fields[6];
  if (fields[7] > d->newest) d->newest = fields[7];
  if (!S_ISDIR(st->st_mode)) return 0;
  DIR *dir = opendir(path);
  if (dir == NULL) {
    *failed = "opendir";
    return errno;
  }
  size_t n = 0, alloc = 64;
  char **names = malloc(alloc * sizeof *names);
  int err = 0;
  struct dirent *e;
  errno = 0;
  while (names != NULL && (e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (n == alloc) {
      char **grown = realloc(names, (alloc *= 2) * sizeof *names);
      if (grown == NULL) break;
      names = grown;
    }
    names[n] = strdup(e->d_name);
    if (names[n] == NULL) break;
    n++;
  }
  if (names == NULL || errno != 0) err = errno ? errno : ENOMEM;
  closedir(dir);
  if (err == 0) qsort(names, n, sizeof *names, name_cmp);
  for (size_t i = 0; err == 0 && i < n; i++) {
    size_t nl = strlen(names[i]);
    if (len + 1 + nl + 1 > cap) {
      err = ENAMETOOLONG;
      *failed = "walk";
      break;
    }
    path[len] = '/';
    memcpy(path + len + 1, names[i], nl + 1);
    struct stat child;
    if (lstat(path, &child) != 0) {
      err = errno;
      *failed = "lstat";
      break;
    }
    err = walk(d, path, len + 1 + nl, cap, &child, failed);
    if (err) break; /* keep the failing path in the buffer for the error message */
    path[len] = '\0';
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (err && *failed == NULL) *failed = "readdir";
  return err;
}

static napi_value tree_fingerprint(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL, value;
  char *root = NULL, *path = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  root = get_bytes_arg(env, argv[0], "root", 1);
  if (root == NULL) return NULL;
  size_t cap = 1 << 16;
  path = malloc(cap);
  tree_digest d = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0, INT64_MIN};
  struct stat st;
  const char *failed = NULL;
  int err = 0;
  if (path == NULL) err = ENOMEM;
  else if (strlen(root) + 1 > cap) err = ENAMETOOLONG;
  else {
    strcpy(path, root);
    if (lstat(path, &st) != 0) {
      err = errno;
      failed = "lstat";
    } else {
      err = walk(&d, path, strlen(root), cap, &st, &failed);
    }
  }
  if (err) {
    throw_errno(env, err, failed ? failed : "treeFingerprint", path ? path : root, NULL);
    goto done;
  }
  void *bytes;
  NAPI_OK(napi_create_object(env, &result));
  NAPI_OK(napi_create_buffer(env, 16, &bytes, &value));
  memcpy(bytes, &d.a, 8);
  memcpy((char *)bytes + 8, &d.b, 8);
  NAPI_OK(napi_set_named_property(env, result, "digest", value));
  NAPI_OK(napi_create_double(env, d.entries, &value));
  NAPI_OK(napi_set_named_property(env, result, "entries", value));
  NAPI_OK(napi_create_bigint_int64(env, d.newest, &value));
  NAPI_OK(napi_set_named_property(env, result, "newestNs", value));
  goto done;
fail:
  result = NULL;
done:
  free(root);
  free(path);
  return result;
}

/* syncfs(2) of the file system holding a path, on libuv's thread pool: one call makes everything
 * written durable (thousands of fsyncs in one), without blocking the event loop and without the
 * fork of `sync -f` (about 20 ms of CPU for a Node process of a few hundred MB). */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int err;
  const char *syscall;
} syncfs_job;

static void syncfs_execute(napi_env env, void *data) {
  (void)env;
  syncfs_job *job = data;
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    job->err = errno;
    job->syscall = "open";
    return;
  }
  if (syncfs(fd) != 0) {
    job->err = errno;
    job->syscall = "syncfs";
  }
  close(fd);
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  syncfs_job *job = data;
  napi_value undefined, error;
  if (status != napi_ok) {
    job->err = ECANCELED;
    job->syscall = "syncfs";
  }
  if (job->err == 0) {
    if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    error = errno_error(env, job->err, job->syscall, job->path, NULL);
    if (error == NULL) napi_get_and_clear_last_exception(env, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
}

static napi_value sync_filesystem(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise = NULL, name;
  syncfs_job *job = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = get_bytes_arg(env, argv[0], "path", 1);
  if (path == NULL) return NULL;
  job = calloc(1, sizeof *job);
  if (job == NULL) {
    free(path);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  job->path = path;
  NAPI_OK(napi_create_promise(env, &job->deferred, &promise));
  NAPI_OK(napi_create_string_utf8(env, "barge:syncfs", NAPI_AUTO_LENGTH, &name));
  NAPI_OK(napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, job, &job->work));
  NAPI_OK(napi_queue_async_work(env, job->work));
  return promise;
fail:
  /* A promise already made is never settled here: the pending exception is what JS sees. */
  free(job->path);
  free(job);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"listXattrs", NULL, list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getXattr", NULL, get_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"removeXattr", NULL, remove_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, make_node, NULL, NULL, NULL, napi_enumerable, NULL},
      {"makedev", NULL, make_dev, NULL, NULL, NULL, napi_enumerable, NULL},
      {"major", NULL, dev_major, NULL, NULL, NULL, napi_enumerable, NULL},
      {"minor", NULL, dev_minor, NULL, NULL, NULL, napi_enumerable, NULL},
      {"treeFingerprint", NULL, tree_fingerprint, NULL, NULL, NULL, napi_enumerable, NULL},
      {"syncFilesystem", NULL, sync_filesystem, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  if (define_deflate(env, exports) != napi_ok) return NULL;
  return exports;
}
