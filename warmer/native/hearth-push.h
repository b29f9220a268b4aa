/*
 * hearth-push: the warmer's native engine, as a Node-API addon that setup builds. One
 * native thread with its own epoll carries two services for the warmer:
 *
 *   - the push client (push-client.c): every push as an HTTP/1.1 request on a kept-alive
 *     connection to the proxy, one request per connection at a time, in a connection set
 *     of its own per colo; responses are parsed by llhttp (the parser Node and undici use,
 *     from Debian's node-llhttp);
 *   - the hint socket (hint-socket.c): the warmer's UDP socket, read in batches with
 *     recvmmsg, each datagram's HMAC checked on this thread.
 *
 * engine.c owns the thread, its epoll and the handover with JavaScript; binding.c is the
 * Node-API surface. This header is the one place for every constant the TypeScript side
 * reads: binding.c exports them (`constants`), warmer/native-engine.ts decodes records and
 * datagrams with them, and test/warmer/native-engine.test.ts checks what the two sides share.
 *
 * Why by hand: undici costs ~30 µs of JavaScript-thread CPU per request and the warmer's
 * ingest needs the same thread; wrk shows the same nginx answering 56,000–86,000 HEAD/s
 * to a C client on these cores. No packaged C client fits: libcurl's multi interface
 * shares one connection cache per handle and spends more per transfer than the request
 * costs here. What is ours is small: a connection per push in flight, a timeout scan,
 * one retry when a kept-alive connection turns out closed.
 *
 * Why no pipelining: nginx answers one connection's requests in order, and a real push
 * is an origin round trip (150 ms in the simulation), so one slow push would hold up
 * every push pipelined behind it. Separate connections make a slow push slow only
 * itself, and a slow or dead colo hold only its own connections.
 *
 * JavaScript hands pushes over with push() (a mutex-guarded list) and wakes the thread
 * once per event-loop turn with flush(); the thread hands results back as records in a
 * second list and calls JavaScript (through a thread-safe function) only when that list
 * goes from empty to non-empty; JavaScript then drain()s records into a typed array.
 */
#ifndef HEARTH_PUSH_H
#define HEARTH_PUSH_H

#define _GNU_SOURCE
#include <node_api.h>
#include <llhttp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- shared with TypeScript (exported as `constants`) ---- */

/* What a record says went wrong (0: the response came whole), and the name JavaScript reports. */
#define HEARTH_KINDS(X)                                                                   \
  X(K_OK, "")                                   /* the response came whole */             \
  X(K_CONNECT, "connect")                       /* connect() failed; errno in the record */ \
  X(K_CONNECT_TIMEOUT, "HEARTH_ERR_CONNECT_TIMEOUT") /* no connection within timeoutMs */  \
  X(K_TIMEOUT, "HEARTH_ERR_TIMEOUT")            /* no whole response within timeoutMs */  \
  X(K_CLOSED, "HEARTH_ERR_CLOSED")              /* closed before the response ended */    \
  X(K_SOCKET, "socket")                         /* send() or recv() failed; errno in it */ \
  X(K_BAD_RESPONSE, "HEARTH_ERR_BAD_RESPONSE")  /* not HTTP, or one llhttp refuses */     \
  X(K_NO_CONNECTION, "HEARTH_ERR_NO_CONNECTION") /* more in flight than connections */
#define HEARTH_KIND_ENUM(k, name) k,
enum { HEARTH_KINDS(HEARTH_KIND_ENUM) K_COUNT };
/* The kinds whose record carries an errno (JavaScript names it: ECONNREFUSED, ...). */
#define KIND_HAS_ERRNO(k) ((k) == K_CONNECT || (k) == K_SOCKET)

/* X-Cache-Status, as nginx's $upstream_cache_status spells it; 0 absent, CACHE_OTHER another value. */
extern const char *const CACHE_NAMES[];
extern const size_t N_CACHE;
#define CACHE_OTHER 255

/* A record: token, status | cache << REC_CACHE_SHIFT | kind << REC_KIND_SHIFT, microseconds, errno. */
#define REC_U32 4
#define REC_CACHE_SHIFT 16
#define REC_KIND_SHIFT 24
/* A datagram handed over: [u32 length][u32 kept | verdict << DG_VERDICT_SHIFT][bytes, padded to 4]. */
#define DG_HEADER 8
#define DG_SLOT 4096 /* bytes kept of one datagram (hints are at most 1,400) */
#define DG_KEPT_MASK 0xffffffu
#define DG_VERDICT_SHIFT 24
/* A datagram's signature verdict: 1 + the index of the key that signed it, or one of these. */
#define SIG_NOT_CHECKED 0 /* no keys given */
#define SIG_NO_MATCH 255  /* signed where api-hook signs, by none of the keys */
#define SIG_NOT_THERE 254 /* no signature where api-hook puts it */
#define MAX_KEYS 8        /* hint keys checked here; with more, JavaScript checks them */
/* Where api-hook puts the signature (api-hook/src/wire.ts), and its length. */
#define SIG_MEMBER ",\"sig\":\""
#define SIG_MEMBER_LEN 8
#define SIG_CHARS 43                              /* HMAC-SHA256 in base64url, unpadded */
#define SIG_TAIL (SIG_MEMBER_LEN + SIG_CHARS + 2) /* ,"sig":"…"} */
/* stats(): per colo, open connections, connects, connect failures, retries. */
#define STATS_PER_COLO 4
/* The Accept values a push may carry, one per format class (image/formats.ts), given at create. */
#define MAX_VARIANTS 8
#define ACCEPT_MAX_BYTES 128

/* ---- the engine's own ---- */

#define PATH_MAX_BYTES 2048
#define HOST_MAX_BYTES 253
#define READ_BUF (64 * 1024)
#define SCAN_NS (50ull * 1000000ull)
#define DG_BATCH 64       /* datagrams per recvmmsg */
#define DG_PER_WAKE 8     /* recvmmsg calls per readiness, so that pushes are not starved */
#define DG_MAX (8u << 20) /* datagram bytes waiting for JavaScript before the socket is left unread */

typedef struct req {
  struct req *next;
  uint64_t t0; /* CLOCK_MONOTONIC ns when JavaScript handed it over */
  uint32_t token;
  uint16_t colo;
  uint16_t len;
  uint8_t retried;
  uint8_t variant; /* which Accept the request carries */
  char path[];
} req;

enum { C_FREE = 0, C_CONNECTING, C_IDLE, C_BUSY };

typedef struct conn {
  struct conn *next, *prev; /* in its colo's idle list (both) or free list (next) */
  struct engine *e;
  req *cur;
  uint64_t deadline; /* ns; for CONNECTING and BUSY */
  uint64_t idle_since;
  llhttp_t parser;
  char *wbuf; /* what a short send left; rare */
  uint32_t wlen, woff;
  uint32_t served; /* whole responses on this connection */
  int fd;
  uint16_t colo;
  uint8_t state;
  uint8_t got;  /* any byte of cur's response seen */
  uint8_t done; /* cur's final response ended (set by the parser) */
  uint8_t cache;
  uint8_t in_cache_field, field_len, field_bad, value_len;
  char field[16];
  char value[16];
} conn;

typedef struct {
  char *prefix; /* the request line's method */
  size_t prefix_len;
  char *suffix[MAX_VARIANTS]; /* everything after the path, one per Accept */
  size_t suffix_len[MAX_VARIANTS];
  conn *conns; /* `max` of them */
  conn *idle, *free;
  req *wait_head, *wait_tail; /* pushes with no connection yet (only if JavaScript exceeds `max`) */
  uint32_t open;
  /* Counters read by stats() from the JavaScript thread. */
  uint64_t connects, connect_failures, retries;
} colo_t;

typedef struct engine {
  /* Shared with the JavaScript thread, under mu. */
  pthread_mutex_t mu;
  req *sub_head, *sub_tail;
  uint32_t *recs;
  size_t nrecs, caprecs;
  int signalled; /* JavaScript was called and has not yet drained everything */
  int wake_pending;
  int sleeping; /* the thread is in (or about to enter) epoll_wait with no submission left */
  uint8_t *dgs; /* received datagrams, each [u32 length][u32 bytes kept][bytes, padded to 4] */
  size_t ndgs, capdgs;
  int udp_armed; /* the socket is in the epoll set for reading */
  int udp_close; /* JavaScript asked for the socket to be closed */
  int ufd;
  int stopping;
  napi_threadsafe_function tsfn;
  /* Set once at creation. */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  uint64_t timeout_ns, idle_ns;
  uint32_t ncolos, max;
  uint32_t nvariants; /* Accept values given at create */
  int head; /* HEAD: a response never has a body */
  colo_t *colos;
  int efd, ep;
  pthread_t thread;
  int started, closed;
  /* The thread's own. */
  uint32_t *out; /* records of this loop turn */
  size_t nout, capout;
  char *rbuf;
  char *sbuf;
  struct mmsghdr *mm;
  uint8_t *stage; /* DG_BATCH × DG_SLOT */
  /* HMAC-SHA256 of each key, as digest states after its inner and outer pad (set before listen). */
  uint32_t nkeys;
  EVP_MD_CTX *inner[MAX_KEYS], *outer[MAX_KEYS], *scratch;
  uint64_t next_scan;
} engine;

/* Counters the thread alone writes and stats() reads from the JavaScript thread. */
#define BUMP(x, d) __atomic_store_n(&(x), (x) + (d), __ATOMIC_RELAXED)

/* ---- engine.c: the thread, its epoll, the handover ---- */

/* The engine for `ncolos` colos of `connections` each: buffers, eventfd and epoll; NULL with *why set if they fail. */
engine *engine_new(uint32_t ncolos, uint32_t connections, const char **why);
/* Starts the thread; 0 if it could not. */
int engine_start(engine *e);
/* Stops the thread and frees everything but `e` and its mutex; pushes still in flight are forgotten. */
void engine_shutdown(engine *e);
uint64_t now_ns(void);
/* Frees a list of pushes that will never be reported. */
void free_reqs(req *r);
/* Ends a push: a record for JavaScript, and the push freed. */
void record(engine *e, req *r, int status, int cache, int kind, int err);
/* Under mu: JavaScript is called when something waits and it has not been called yet. */
void signal_js_locked(engine *e, int *call);
/* Hands a push to the thread (the thread takes it at its next turn, or once flush() wakes it). */
void engine_submit(engine *e, req *r);
/* Wakes the thread when something was submitted while it slept. */
void engine_flush(engine *e);
/* Wakes the thread whatever it is doing. */
void engine_wake(engine *e);
/* Copies records and whole datagrams as far as each buffer holds; returns whether anything is left. */
int engine_drain(engine *e, uint32_t *recs, size_t nrec, size_t *took, uint8_t *dgs, size_t ndg, size_t *bytes);

/* ---- push-client.c: connections, requests, responses ---- */

void push_client_init(void);
/* Printable ASCII only: what may go in a request header. */
int header_safe(const char *s, size_t len);
/* Colo i's request line around the path (user_agent already header_safe), and its connections; 0 if host is no host name. */
int push_client_colo(engine *e, uint32_t i, const char *method, const char *host, size_t hlen, const char *user_agent, char accepts[][ACCEPT_MAX_BYTES + 2],
                     uint32_t naccepts);
/* A push onto a connection of its colo: an idle one, a new one, or the colo's wait list. */
void push_client_assign(engine *e, req *r);
/* A connection's epoll events. */
void push_client_event(engine *e, conn *c, uint32_t ev);
/* Timeouts, idle connections and pushes that waited too long for a connection. */
void push_client_scan(engine *e, uint64_t now);
/* Closes every connection and frees what is in flight or waiting. */
void push_client_free(engine *e);

/* ---- hint-socket.c: the warmer's UDP socket, read here ---- */

/* Binds the socket and adds it to the epoll set; 0, or the errno. */
int hint_socket_bind(engine *e, const struct sockaddr_storage *ss, socklen_t sl, int recv_buffer, uint32_t *port, int *granted);
/* The HMAC keys, before bind; 0 if OpenSSL failed. */
int hint_socket_keys(engine *e, const uint8_t *const *keys, const size_t *lens, uint32_t n);
/* Reads what the socket holds, DG_PER_WAKE batches at most. */
void hint_socket_read(engine *e);
/* Under mu: reads the socket again, or stops, as JavaScript keeps up or falls behind. */
void hint_socket_arm(engine *e, int on);
int hint_socket_is(const void *epoll_data);
void hint_socket_free(engine *e);

#endif
