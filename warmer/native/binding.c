/* The Node-API surface of the engine: arguments checked here, the work done in engine.c, push-client.c and hint-socket.c. */
#include "hearth-push.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, "HEARTH_ERR_NATIVE", "hearth-push: " #call); \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (!env || !js_cb) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 0, NULL, NULL);
}

static void engine_cleanup_hook(void *arg) { engine_shutdown(arg); }

static void engine_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  engine *e = data;
  napi_remove_env_cleanup_hook(env, engine_cleanup_hook, e);
  engine_shutdown(e);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static engine *engine_arg(napi_env env, napi_value v) {
  engine *e = NULL;
  if (napi_get_value_external(env, v, (void **)&e) != napi_ok || !e) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "hearth-push: not an engine");
    return NULL;
  }
  if (e->closed) {
    napi_throw_error(env, "HEARTH_ERR_CLOSED", "hearth-push: the engine is closed");
    return NULL;
  }
  return e;
}

/* The prologue of every call on an engine: its `n` arguments, the first the engine. */
#define ENGINE_CALL(n)                                         \
  size_t argc = (n);                                           \
  napi_value argv[(n)];                                        \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL)); \
  engine *e = argc == (n) ? engine_arg(env, argv[0]) : NULL;   \
  if (!e) return NULL

/* A numeric IPv4 or IPv6 address and a port, as a socket address; 0 if it is not one. */
static socklen_t parse_addr(const char *address, uint32_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof *a6;
  }
  return 0;
}

static int get_prop_u32(napi_env env, napi_value obj, const char *name, uint32_t *out) {
  napi_value v;
  return napi_get_named_property(env, obj, name, &v) == napi_ok && napi_get_value_uint32(env, v, out) == napi_ok;
}

static int get_prop_str(napi_env env, napi_value obj, const char *name, char *buf, size_t size, size_t *len) {
  napi_value v;
  return napi_get_named_property(env, obj, name, &v) == napi_ok && napi_get_value_string_latin1(env, v, buf, size, len) == napi_ok && *len < size - 1;
}

/* A typed array of `want` elements and at least `min` of them: its data and length, or 0. */
static int typed_arg(napi_env env, napi_value v, napi_typedarray_type want, size_t min, void **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  napi_value buf;
  size_t off;
  return napi_is_typedarray(env, v, &is) == napi_ok && is && napi_get_typedarray_info(env, v, &type, len, data, &buf, &off) == napi_ok && type == want && *len >= min;
}

/*
 * create({ address, port, hosts: string[], accepts: string[], connections, timeoutMs, idleMs, method, userAgent }, onRecords)
 * → engine. `address` is a numeric IPv4 or IPv6 address; hosts[i] is colo i's Host; a push
 * of variant v carries `Accept: accepts[v]`.
 */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create(options, onRecords)");
    return NULL;
  }
  char address[64], method[8], ua[128];
  size_t alen, mlen, ualen;
  uint32_t port, connections, timeout_ms, idle_ms;
  napi_value hosts, accepts_v;
  uint32_t ncolos = 0, naccepts = 0;
  bool is_array = false, accepts_array = false;
  char accepts[MAX_VARIANTS][ACCEPT_MAX_BYTES + 2];
  if (!get_prop_str(env, argv[0], "address", address, sizeof address, &alen) || !get_prop_u32(env, argv[0], "port", &port) || port == 0 || port > 65535 ||
      !get_prop_u32(env, argv[0], "connections", &connections) || connections == 0 || connections > 65536 || !get_prop_u32(env, argv[0], "timeoutMs", &timeout_ms) ||
      !get_prop_u32(env, argv[0], "idleMs", &idle_ms) || !get_prop_str(env, argv[0], "method", method, sizeof method, &mlen) ||
      !get_prop_str(env, argv[0], "userAgent", ua, sizeof ua, &ualen) || !header_safe(ua, ualen) || napi_get_named_property(env, argv[0], "hosts", &hosts) != napi_ok ||
      napi_is_array(env, hosts, &is_array) != napi_ok || !is_array || napi_get_array_length(env, hosts, &ncolos) != napi_ok || ncolos == 0 || ncolos > 65535) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: { address, port, hosts[], accepts[], connections, timeoutMs, idleMs, method, userAgent }");
    return NULL;
  }
  int accepts_ok = napi_get_named_property(env, argv[0], "accepts", &accepts_v) == napi_ok && napi_is_array(env, accepts_v, &accepts_array) == napi_ok &&
                   accepts_array && napi_get_array_length(env, accepts_v, &naccepts) == napi_ok && naccepts > 0 && naccepts <= MAX_VARIANTS;
  for (uint32_t v = 0; accepts_ok && v < naccepts; v++) {
    napi_value a;
    size_t len;
    accepts_ok = napi_get_element(env, accepts_v, v, &a) == napi_ok &&
                 napi_get_value_string_latin1(env, a, accepts[v], sizeof accepts[v], &len) == napi_ok && len > 0 && len <= ACCEPT_MAX_BYTES &&
                 header_safe(accepts[v], len);
  }
  if (!accepts_ok) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: accepts[] must be 1 to 8 header values of at most 128 printable characters");
    return NULL;
  }
  if (strcmp(method, "HEAD") != 0 && strcmp(method, "GET") != 0) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: method must be HEAD or GET");
    return NULL;
  }
  struct sockaddr_storage addr;
  socklen_t addrlen = parse_addr(address, port, &addr);
  if (addrlen == 0) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: address must be a numeric IP address");
    return NULL;
  }
  const char *bad = NULL;
  engine *e = engine_new(ncolos, connections, &bad);
  if (!e) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", bad);
    return NULL;
  }
  e->addr = addr;
  e->addrlen = addrlen;
  e->timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  e->idle_ns = (uint64_t)idle_ms * 1000000ull;
  e->head = method[0] == 'H';
  e->nvariants = naccepts;
  for (uint32_t i = 0; i < ncolos && !bad; i++) {
    napi_value h;
    char host[HOST_MAX_BYTES + 2];
    size_t hlen;
    if (napi_get_element(env, hosts, i, &h) != napi_ok || napi_get_value_string_latin1(env, h, host, sizeof host, &hlen) != napi_ok ||
        !push_client_colo(e, i, method, host, hlen, ua, accepts, naccepts))
      bad = "create: hosts[] must be host names";
  }
  napi_value name;
  if (!bad && (napi_create_string_utf8(env, "hearth-push", NAPI_AUTO_LENGTH, &name) != napi_ok ||
               napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &e->tsfn) != napi_ok)) {
    bad = "create: onRecords must be a function";
  }
  if (!bad) {
    /* A warmer with nothing else to do should be free to exit. */
    napi_unref_threadsafe_function(env, e->tsfn);
    if (!engine_start(e)) bad = "create: could not start the push thread";
  }
  if (bad) {
    engine_shutdown(e);
    pthread_mutex_destroy(&e->mu);
    free(e);
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", bad);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, engine_cleanup_hook, e);
  napi_value result;
  if (napi_create_external(env, e, engine_finalize, NULL, &result) != napi_ok) {
    napi_throw_error(env, "HEARTH_ERR_NATIVE", "hearth-push: napi_create_external");
    return NULL;
  }
  return result;
}

/* push(engine, token, colo, path, variant) → true, or false when the path could never be sent. */
static napi_value push(napi_env env, napi_callback_info info) {
  ENGINE_CALL(5);
  napi_value result;
  uint32_t token, colo, variant;
  char path[PATH_MAX_BYTES + 1];
  size_t len;
  if (napi_get_value_uint32(env, argv[1], &token) != napi_ok || napi_get_value_uint32(env, argv[2], &colo) != napi_ok || colo >= e->ncolos ||
      napi_get_value_string_utf8(env, argv[3], path, sizeof path, &len) != napi_ok || napi_get_value_uint32(env, argv[4], &variant) != napi_ok ||
      variant >= e->nvariants) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "push(engine, token, colo, path, variant)");
    return NULL;
  }
  /* The request line is ours to keep whole: a path must be printable ASCII without spaces
   * (UTF-8, so that no character is cut down to another byte; anything longer is cut and refused). */
  int ok = len > 0 && len < PATH_MAX_BYTES && path[0] == '/';
  for (size_t i = 0; ok && i < len; i++) ok = (unsigned char)path[i] > 0x20 && (unsigned char)path[i] < 0x7f;
  if (ok) {
    req *r = malloc(sizeof *r + len);
    if (!r) abort();
    r->next = NULL;
    r->t0 = now_ns();
    r->token = token;
    r->colo = (uint16_t)colo;
    r->len = (uint16_t)len;
    r->retried = 0;
    r->variant = (uint8_t)variant;
    memcpy(r->path, path, len);
    engine_submit(e, r);
  }
  CHECK(napi_get_boolean(env, ok, &result));
  return result;
}

/* flush(engine): wakes the thread for what push() handed over since the last flush. */
static napi_value flush(napi_env env, napi_callback_info info) {
  ENGINE_CALL(1);
  engine_flush(e);
  return NULL;
}

/*
 * drain(engine, records: Uint32Array, datagrams: Uint8Array, counts: Uint32Array(3)):
 * copies push records and received datagrams as far as each array holds; counts =
 * [records, datagram bytes, 1 if anything is left]. JavaScript is called again only once
 * a drain has left nothing, so it must call until counts[2] is 0.
 */
static napi_value drain(napi_env env, napi_callback_info info) {
  ENGINE_CALL(4);
  uint32_t *recs, *counts;
  uint8_t *dgs;
  size_t nrec, ndg, ncount;
  if (!typed_arg(env, argv[1], napi_uint32_array, REC_U32, (void **)&recs, &nrec) ||
      !typed_arg(env, argv[2], napi_uint8_array, DG_HEADER + DG_SLOT, (void **)&dgs, &ndg) || !typed_arg(env, argv[3], napi_uint32_array, 3, (void **)&counts, &ncount)) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "drain(engine, Uint32Array(≥ 4), Uint8Array(≥ 4104), Uint32Array(3))");
    return NULL;
  }
  size_t took, bytes;
  int left = engine_drain(e, recs, nrec, &took, dgs, ndg, &bytes);
  counts[0] = (uint32_t)took;
  counts[1] = (uint32_t)bytes;
  counts[2] = (uint32_t)left;
  return NULL;
}

/*
 * listen(engine, { address, port, recvBufferBytes }) → { port, recvBuffer }: binds the
 * hint socket; the thread reads it and drain() hands its datagrams over. Throws with the
 * errno's name (EADDRINUSE, EACCES, ...) as code.
 */
static napi_value listen_udp(napi_env env, napi_callback_info info) {
  ENGINE_CALL(2);
  char address[64];
  size_t alen;
  uint32_t port, rcvbuf;
  if (!get_prop_str(env, argv[1], "address", address, sizeof address, &alen) || !get_prop_u32(env, argv[1], "port", &port) || port > 65535 ||
      !get_prop_u32(env, argv[1], "recvBufferBytes", &rcvbuf)) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "listen(engine, { address, port, recvBufferBytes })");
    return NULL;
  }
  if (e->ufd >= 0 || e->udp_close) {
    napi_throw_error(env, "HEARTH_ERR_INVALID", "listen: this engine has had its socket");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = parse_addr(address, port, &ss);
  if (sl == 0) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "listen: address must be a numeric IP address");
    return NULL;
  }
  uint32_t bound;
  int granted;
  int err = hint_socket_bind(e, &ss, sl, (int)rcvbuf, &bound, &granted);
  if (err) {
    char msg[128];
    snprintf(msg, sizeof msg, "bind udp %s:%u: %s", address, port, strerror(err));
    napi_value code, text, error;
    CHECK(napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
    CHECK(napi_create_error(env, code, text, &error));
    napi_throw(env, error);
    return NULL;
  }
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_uint32(env, bound, &v));
  CHECK(napi_set_named_property(env, result, "port", v));
  CHECK(napi_create_uint32(env, (uint32_t)granted, &v));
  CHECK(napi_set_named_property(env, result, "recvBuffer", v));
  return result;
}

/*
 * setKeys(engine, keys: Uint8Array[]) → how many the thread checks (0 when there are more
 * than it takes: JavaScript checks them all then). Before listen(): the keys are fixed once
 * hints flow. A datagram's verdict is 1 + the index of the key that signed it.
 */
static napi_value set_keys(napi_env env, napi_callback_info info) {
  ENGINE_CALL(2);
  napi_value result;
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "setKeys(engine, Uint8Array[])");
    return NULL;
  }
  if (e->ufd >= 0 || e->nkeys > 0) {
    napi_throw_error(env, "HEARTH_ERR_INVALID", "setKeys: keys are set once, before listen");
    return NULL;
  }
  if (n <= MAX_KEYS) {
    uint8_t *keys[MAX_KEYS];
    size_t lens[MAX_KEYS];
    for (uint32_t k = 0; k < n; k++) {
      napi_value v;
      if (napi_get_element(env, argv[1], k, &v) != napi_ok || !typed_arg(env, v, napi_uint8_array, 1, (void **)&keys[k], &lens[k])) {
        napi_throw_type_error(env, "HEARTH_ERR_INVALID", "setKeys: every key a non-empty Uint8Array");
        return NULL;
      }
    }
    if (!hint_socket_keys(e, (const uint8_t *const *)keys, lens, n)) {
      napi_throw_error(env, "HEARTH_ERR_NATIVE", "setKeys: OpenSSL digest setup failed");
      return NULL;
    }
  }
  CHECK(napi_create_uint32(env, e->nkeys, &result));
  return result;
}

/* unlisten(engine): the thread closes the hint socket at its next turn; what was read stays for drain(). */
static napi_value unlisten_udp(napi_env env, napi_callback_info info) {
  ENGINE_CALL(1);
  pthread_mutex_lock(&e->mu);
  e->udp_close = 1;
  if (e->ufd >= 0 && e->udp_armed) hint_socket_arm(e, 0);
  pthread_mutex_unlock(&e->mu);
  engine_wake(e);
  return NULL;
}

/* stats(engine, out: Float64Array of STATS_PER_COLO × colos): open connections, connects, connect failures, retries. */
static napi_value stats(napi_env env, napi_callback_info info) {
  ENGINE_CALL(2);
  double *d;
  size_t len;
  if (!typed_arg(env, argv[1], napi_float64_array, STATS_PER_COLO * (size_t)e->ncolos, (void **)&d, &len)) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "stats(engine, Float64Array of 4 × colos)");
    return NULL;
  }
  for (uint32_t i = 0; i < e->ncolos; i++) {
    colo_t *k = &e->colos[i];
    d[STATS_PER_COLO * i] = __atomic_load_n(&k->open, __ATOMIC_RELAXED);
    d[STATS_PER_COLO * i + 1] = (double)__atomic_load_n(&k->connects, __ATOMIC_RELAXED);
    d[STATS_PER_COLO * i + 2] = (double)__atomic_load_n(&k->connect_failures, __ATOMIC_RELAXED);
    d[STATS_PER_COLO * i + 3] = (double)__atomic_load_n(&k->retries, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* close(engine): stops the thread and closes every connection; later calls throw. */
static napi_value close_engine(napi_env env, napi_callback_info info) {
  ENGINE_CALL(1);
  napi_remove_env_cleanup_hook(env, engine_cleanup_hook, e);
  engine_shutdown(e);
  return NULL;
}

/* ---- constants: what the TypeScript side decodes with (warmer/native-engine.ts) ---- */

static int set_u32(napi_env env, napi_value obj, const char *name, uint32_t n) {
  napi_value v;
  return napi_create_uint32(env, n, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok;
}

static int set_str(napi_env env, napi_value obj, const char *name, const char *s) {
  napi_value v;
  return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok;
}

static int set_strings(napi_env env, napi_value obj, const char *name, const char *const *s, size_t n) {
  napi_value a, v;
  if (napi_create_array_with_length(env, n, &a) != napi_ok) return 0;
  for (size_t i = 0; i < n; i++)
    if (napi_create_string_utf8(env, s[i] ? s[i] : "", NAPI_AUTO_LENGTH, &v) != napi_ok || napi_set_element(env, a, (uint32_t)i, v) != napi_ok) return 0;
  return napi_set_named_property(env, obj, name, a) == napi_ok;
}

#define HEARTH_KIND_NAME(k, name) name,
static const char *const KIND_NAMES[] = {HEARTH_KINDS(HEARTH_KIND_NAME)};

static napi_value constants(napi_env env) {
  napi_value c, errno_kinds, v;
  if (napi_create_object(env, &c) != napi_ok || napi_create_array(env, &errno_kinds) != napi_ok) return NULL;
  uint32_t n = 0;
  for (uint32_t k = 0; k < K_COUNT; k++)
    if (KIND_HAS_ERRNO(k) && (napi_create_uint32(env, k, &v) != napi_ok || napi_set_element(env, errno_kinds, n++, v) != napi_ok)) return NULL;
  int ok = set_strings(env, c, "kinds", KIND_NAMES, K_COUNT) && napi_set_named_property(env, c, "errnoKinds", errno_kinds) == napi_ok &&
           set_strings(env, c, "cacheStatuses", CACHE_NAMES + 1, N_CACHE - 1) && set_u32(env, c, "cacheOther", CACHE_OTHER) && set_u32(env, c, "recordWords", REC_U32) &&
           set_u32(env, c, "recordCacheShift", REC_CACHE_SHIFT) && set_u32(env, c, "recordKindShift", REC_KIND_SHIFT) && set_u32(env, c, "datagramHeader", DG_HEADER) &&
           set_u32(env, c, "datagramSlot", DG_SLOT) && set_u32(env, c, "datagramKeptMask", DG_KEPT_MASK) && set_u32(env, c, "datagramVerdictShift", DG_VERDICT_SHIFT) &&
           set_u32(env, c, "sigNotChecked", SIG_NOT_CHECKED) && set_u32(env, c, "sigNoMatch", SIG_NO_MATCH) && set_u32(env, c, "sigNotThere", SIG_NOT_THERE) &&
           set_str(env, c, "sigMember", SIG_MEMBER) && set_u32(env, c, "sigChars", SIG_CHARS) && set_u32(env, c, "maxKeys", MAX_KEYS) && set_u32(env, c, "statsPerColo", STATS_PER_COLO) && set_u32(env, c, "pathMaxBytes", PATH_MAX_BYTES) && set_u32(env, c, "maxVariants", MAX_VARIANTS) && set_u32(env, c, "acceptMaxBytes", ACCEPT_MAX_BYTES);
  return ok ? c : NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  push_client_init();
  napi_value c = constants(env);
  if (!c) {
    napi_throw_error(env, "HEARTH_ERR_NATIVE", "hearth-push: constants");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},     {"push", NULL, push, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, flush, NULL, NULL, NULL, napi_default, NULL},       {"drain", NULL, drain, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},       {"close", NULL, close_engine, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, listen_udp, NULL, NULL, NULL, napi_default, NULL}, {"unlisten", NULL, unlisten_udp, NULL, NULL, NULL, napi_default, NULL},
      {"setKeys", NULL, set_keys, NULL, NULL, NULL, napi_default, NULL},  {"constants", NULL, NULL, NULL, NULL, c, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
