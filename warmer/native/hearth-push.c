/*
 * hearth-push: the warmer's push client, as a Node-API addon that setup builds. One
 * native thread with its own epoll carries every push as an HTTP/1.1 request on a
 * kept-alive connection to the proxy, one request per connection at a time, in a
 * connection set of its own per colo; responses are parsed by llhttp (the parser Node
 * and undici use, from Debian's node-llhttp).
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
#define _GNU_SOURCE
#include <node_api.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/udp.h>
#include <time.h>
#include <unistd.h>

/* What a record says went wrong (0: the response came whole). */
enum {
  K_OK = 0,
  K_CONNECT = 1,         /* connect() failed; errno in the record */
  K_CONNECT_TIMEOUT = 2, /* no connection within timeoutMs */
  K_TIMEOUT = 3,         /* no whole response within timeoutMs of the push */
  K_CLOSED = 4,          /* the proxy closed the connection before the response ended */
  K_SOCKET = 5,          /* send() or recv() failed; errno in the record */
  K_BAD_RESPONSE = 6,    /* not HTTP, or a response llhttp refuses */
  K_NO_CONNECTION = 7,   /* more pushes in flight to a colo than its connections */
};

/* X-Cache-Status, as nginx's $upstream_cache_status spells it; 0 absent, 255 another value. */
static const char *const CACHE_NAMES[] = {NULL, "hit", "miss", "expired", "stale", "updating", "revalidated", "bypass"};
#define N_CACHE (sizeof CACHE_NAMES / sizeof CACHE_NAMES[0])
#define CACHE_OTHER 255

#define PATH_MAX_BYTES 2048
#define HOST_MAX_BYTES 253
#define READ_BUF (64 * 1024)
#define SCAN_NS (50ull * 1000000ull)
#define REC_U32 4 /* a record: token, status | cache << 16 | kind << 24, microseconds, errno */
#define DG_BATCH 64            /* datagrams per recvmmsg */
#define DG_SLOT 4096           /* bytes kept of one datagram (hints are at most 1,400) */
#define DG_PER_WAKE 8          /* recvmmsg calls per readiness, so that pushes are not starved */
#define DG_MAX (8u << 20)      /* datagram bytes waiting for JavaScript before the socket is left unread */
#define MAX_KEYS 8             /* hint keys checked here; with more, JavaScript checks them */
#define SIG_MEMBER ",\"sig\":\""
#define SIG_MEMBER_LEN 8
#define SIG_CHARS 43                                  /* HMAC-SHA256 in base64url, unpadded */
#define SIG_TAIL (SIG_MEMBER_LEN + SIG_CHARS + 2)     /* ,"sig":"…"} */
/* A datagram's signature verdict, in the top byte of its `kept` word. */
#define SIG_NOT_CHECKED 0 /* no keys given */
#define SIG_NO_MATCH 255  /* signed where api-hook signs, by none of the keys */
#define SIG_NOT_THERE 254 /* no signature where api-hook puts it */

typedef struct req {
  struct req *next;
  uint64_t t0; /* CLOCK_MONOTONIC ns when JavaScript handed it over */
  uint32_t token;
  uint16_t colo;
  uint16_t len;
  uint8_t retried;
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
  char *prefix, *suffix; /* the request line's method, then everything after the path */
  size_t prefix_len, suffix_len;
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
  int udp_armed;    /* the socket is in the epoll set for reading */
  int udp_close;    /* JavaScript asked for the socket to be closed */
  int ufd;
  int stopping;
  napi_threadsafe_function tsfn;
  /* Set once at creation. */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  uint64_t timeout_ns, idle_ns;
  uint32_t ncolos, max;
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

static llhttp_settings_t SETTINGS;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- records: the thread's results for JavaScript ---- */

/* Under mu: JavaScript is called when something waits and it has not been called yet. */
static void signal_js_locked(engine *e, int *call) {
  if (!e->signalled) *call = e->signalled = 1;
}


static void record(engine *e, req *r, int status, int cache, int kind, int err) {
  if (e->nout + REC_U32 > e->capout) {
    size_t cap = e->capout ? e->capout * 2 : 4096;
    uint32_t *p = realloc(e->out, cap * sizeof *p);
    if (!p) abort(); /* out of memory: nothing sensible is left to do */
    e->out = p;
    e->capout = cap;
  }
  uint64_t us = (now_ns() - r->t0) / 1000;
  uint32_t *o = e->out + e->nout;
  o[0] = r->token;
  o[1] = (uint32_t)(status & 0xffff) | (uint32_t)(cache & 0xff) << 16 | (uint32_t)(kind & 0xff) << 24;
  o[2] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
  o[3] = (uint32_t)err;
  e->nout += REC_U32;
  free(r);
}

static void publish(engine *e) {
  if (e->nout == 0) return;
  int call = 0;
  pthread_mutex_lock(&e->mu);
  if (e->nrecs + e->nout > e->caprecs) {
    size_t cap = e->caprecs ? e->caprecs : 4096;
    while (cap < e->nrecs + e->nout) cap *= 2;
    uint32_t *p = realloc(e->recs, cap * sizeof *p);
    if (!p) abort();
    e->recs = p;
    e->caprecs = cap;
  }
  memcpy(e->recs + e->nrecs, e->out, e->nout * sizeof *e->out);
  e->nrecs += e->nout;
  signal_js_locked(e, &call);
  pthread_mutex_unlock(&e->mu);
  e->nout = 0;
  if (call) napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking);
}

/* ---- connections ---- */

static void idle_unlink(colo_t *k, conn *c) {
  if (c->prev) c->prev->next = c->next;
  else k->idle = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = NULL;
}

static void idle_push(colo_t *k, conn *c) {
  c->prev = NULL;
  c->next = k->idle;
  if (k->idle) k->idle->prev = c;
  k->idle = c;
}

static void conn_close(engine *e, conn *c) {
  colo_t *k = &e->colos[c->colo];
  if (c->fd >= 0) {
    close(c->fd); /* also leaves the epoll set */
    BUMP(k->open, -1);
  }
  if (c->state == C_IDLE) idle_unlink(k, c);
  free(c->wbuf);
  c->wbuf = NULL;
  c->wlen = c->woff = 0;
  c->fd = -1;
  c->cur = NULL;
  c->state = C_FREE;
  c->next = k->free;
  k->free = c;
}

static int send_rest(conn *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    if (n > 0) c->woff += (uint32_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && errno == EAGAIN) return 0;
    else return n < 0 ? errno : EPIPE;
  }
  free(c->wbuf);
  c->wbuf = NULL;
  c->wlen = c->woff = 0;
  return 0;
}

static void fail(engine *e, conn *c, int kind, int err);
static void assign(engine *e, colo_t *k, req *r);

/* Writes cur's request on a connected socket. */
static void send_request(engine *e, conn *c) {
  colo_t *k = &e->colos[c->colo];
  req *r = c->cur;
  size_t len = k->prefix_len + r->len + k->suffix_len;
  char *b = e->sbuf;
  memcpy(b, k->prefix, k->prefix_len);
  memcpy(b + k->prefix_len, r->path, r->len);
  memcpy(b + k->prefix_len + r->len, k->suffix, k->suffix_len);
  c->state = C_BUSY;
  c->got = c->done = 0;
  c->cache = 0;
  c->deadline = r->t0 + e->timeout_ns;
  ssize_t n;
  do n = send(c->fd, b, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)len) return;
  if (n < 0 && errno != EAGAIN) return fail(e, c, K_SOCKET, errno);
  size_t sent = n > 0 ? (size_t)n : 0;
  c->wbuf = malloc(len - sent);
  if (!c->wbuf) abort();
  memcpy(c->wbuf, b + sent, len - sent);
  c->wlen = (uint32_t)(len - sent);
  c->woff = 0;
}

static void open_conn(engine *e, colo_t *k, conn *c, req *r) {
  k->free = c->next;
  c->next = NULL;
  c->cur = r;
  c->served = 0;
  c->state = C_CONNECTING;
  c->deadline = now_ns() + e->timeout_ns;
  BUMP(k->connects, 1);
  int fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    c->fd = -1;
    return fail(e, c, K_CONNECT, errno);
  }
  c->fd = fd;
  BUMP(k->open, 1);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  llhttp_init(&c->parser, HTTP_RESPONSE, &SETTINGS);
  c->parser.data = c; /* llhttp_init clears it */
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
  if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) < 0) return fail(e, c, K_CONNECT, errno);
  if (connect(fd, (struct sockaddr *)&e->addr, e->addrlen) < 0 && errno != EINPROGRESS) return fail(e, c, K_CONNECT, errno);
  /* Connected or not, EPOLLOUT says when: the request goes then. */
}

/* A connection that is free to take the next push of its colo. */
static void reuse(engine *e, conn *c) {
  colo_t *k = &e->colos[c->colo];
  c->cur = NULL;
  if (k->wait_head) {
    req *r = k->wait_head;
    k->wait_head = r->next;
    if (!k->wait_head) k->wait_tail = NULL;
    r->next = NULL;
    c->cur = r;
    return send_request(e, c);
  }
  c->state = C_IDLE;
  c->idle_since = now_ns();
  idle_push(k, c);
}

/* Ends cur with an error, or sends it again once when a kept-alive connection was closed under it. */
static void fail(engine *e, conn *c, int kind, int err) {
  colo_t *k = &e->colos[c->colo];
  req *r = c->cur;
  int was_connecting = c->state == C_CONNECTING;
  uint32_t served = c->served;
  int got = c->got;
  c->cur = NULL;
  conn_close(e, c);
  if (was_connecting) BUMP(k->connect_failures, 1);
  if (!r) return;
  /* The peer closing an idle kept-alive connection races our request on it: nothing of the
   * response arrived, so the request was never processed; a push is idempotent. */
  if (served > 0 && !got && !r->retried && (kind == K_CLOSED || kind == K_SOCKET)) {
    r->retried = 1;
    BUMP(k->retries, 1);
    return assign(e, k, r);
  }
  record(e, r, 0, 0, kind, err);
}

static void assign(engine *e, colo_t *k, req *r) {
  if (k->idle) {
    conn *c = k->idle;
    idle_unlink(k, c);
    c->cur = r;
    return send_request(e, c);
  }
  if (k->free) return open_conn(e, k, k->free, r);
  r->next = NULL;
  if (k->wait_tail) k->wait_tail->next = r;
  else k->wait_head = r;
  k->wait_tail = r;
}

/* ---- the response parser's callbacks ---- */

static int on_message_begin(llhttp_t *p) {
  conn *c = p->data;
  c->cache = 0;
  c->field_len = c->value_len = 0;
  c->field_bad = c->in_cache_field = 0;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->field_len + len > sizeof c->field) c->field_bad = 1;
  else {
    memcpy(c->field + c->field_len, at, len);
    c->field_len += (uint8_t)len;
  }
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  conn *c = p->data;
  c->in_cache_field = !c->field_bad && c->field_len == 14 && strncasecmp(c->field, "x-cache-status", 14) == 0;
  c->field_len = 0;
  c->field_bad = 0;
  c->value_len = 0;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  conn *c = p->data;
  if (!c->in_cache_field) return 0;
  size_t room = sizeof c->value - c->value_len;
  if (len > room) {
    c->value_len = sizeof c->value; /* too long for any known status */
    return 0;
  }
  memcpy(c->value + c->value_len, at, len);
  c->value_len += (uint8_t)len;
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  conn *c = p->data;
  if (!c->in_cache_field) return 0;
  c->cache = CACHE_OTHER;
  for (size_t i = 1; i < N_CACHE; i++) {
    if (strlen(CACHE_NAMES[i]) == c->value_len && strncasecmp(c->value, CACHE_NAMES[i], c->value_len) == 0) c->cache = (uint8_t)i;
  }
  c->in_cache_field = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  conn *c = p->data;
  /* A 1xx is followed by the real response; a response to HEAD has no body. */
  if (llhttp_get_status_code(p) < 200) return 1;
  return c->e->head ? 1 : 0;
}

static int on_message_complete(llhttp_t *p) {
  conn *c = p->data;
  if (llhttp_get_status_code(p) < 200) return 0;
  c->done = 1;
  return HPE_PAUSED;
}

/* ---- hints: the warmer's UDP socket, read here in batches ---- */

static char UDP_MARK; /* its epoll data.ptr */

/*
 * Which key signed this datagram, checked as the warmer's SignatureVerifier checks it: the
 * MAC of every byte before `,"sig":"` and then `}`, against the 43 base64url characters
 * that follow. Done here, off the event loop, with each key's pads hashed once.
 */
static uint32_t sig_verdict(engine *e, const uint8_t *d, uint32_t len) {
  if (e->nkeys == 0) return SIG_NOT_CHECKED;
  if (len <= SIG_TAIL || d[len - 1] != '}' || d[len - 2] != '"' || memcmp(d + len - SIG_TAIL, SIG_MEMBER, SIG_MEMBER_LEN) != 0) return SIG_NOT_THERE;
  size_t at = len - SIG_TAIL;
  const uint8_t *given = d + at + SIG_MEMBER_LEN;
  for (uint32_t k = 0; k < e->nkeys; k++) {
    uint8_t ih[32], mac[32];
    unsigned char b64[48];
    EVP_MD_CTX *c = e->scratch;
    if (!EVP_MD_CTX_copy_ex(c, e->inner[k]) || !EVP_DigestUpdate(c, d, at) || !EVP_DigestUpdate(c, "}", 1) || !EVP_DigestFinal_ex(c, ih, NULL) ||
        !EVP_MD_CTX_copy_ex(c, e->outer[k]) || !EVP_DigestUpdate(c, ih, 32) || !EVP_DigestFinal_ex(c, mac, NULL))
      return SIG_NOT_CHECKED; /* JavaScript checks it then */
    EVP_EncodeBlock(b64, mac, 32);
    for (int i = 0; i < SIG_CHARS; i++) b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    if (CRYPTO_memcmp(b64, given, SIG_CHARS) == 0) return k + 1;
  }
  return SIG_NO_MATCH;
}

static void udp_arm(engine *e, int on) {
  struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &UDP_MARK};
  epoll_ctl(e->ep, EPOLL_CTL_MOD, e->ufd, &ev);
  e->udp_armed = on;
}

static void on_udp(engine *e) {
  for (int round = 0; round < DG_PER_WAKE; round++) {
    for (int i = 0; i < DG_BATCH; i++) {
      e->mm[i].msg_hdr.msg_flags = 0;
      e->mm[i].msg_len = 0;
    }
    int n = recvmmsg(e->ufd, e->mm, DG_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n <= 0) return; /* EAGAIN, or an error the next datagram will not have */
    size_t need = 0;
    for (int i = 0; i < n; i++) {
      uint32_t kept = e->mm[i].msg_len < DG_SLOT ? e->mm[i].msg_len : DG_SLOT;
      need += 8 + ((kept + 3) & ~3u);
    }
    int call = 0;
    pthread_mutex_lock(&e->mu);
    if (e->ndgs + need > e->capdgs) {
      size_t cap = e->capdgs ? e->capdgs : 65536;
      while (cap < e->ndgs + need) cap *= 2;
      uint8_t *p = realloc(e->dgs, cap);
      if (!p) abort();
      e->dgs = p;
      e->capdgs = cap;
    }
    for (int i = 0; i < n; i++) {
      uint32_t len = e->mm[i].msg_len, kept = len < DG_SLOT ? len : DG_SLOT;
      const uint8_t *d = e->stage + (size_t)i * DG_SLOT;
      uint32_t word = kept | (len == kept ? sig_verdict(e, d, len) : SIG_NOT_THERE) << 24;
      uint8_t *o = e->dgs + e->ndgs;
      memcpy(o, &len, 4);
      memcpy(o + 4, &word, 4);
      memcpy(o + 8, d, kept);
      e->ndgs += 8 + ((kept + 3) & ~3u);
    }
    signal_js_locked(e, &call);
    /* JavaScript is behind: leave the rest in the socket's buffer (the kernel counts what
     * overflows it) rather than grow without bound; drain() reads it again. */
    int full = e->ndgs >= DG_MAX;
    if (full) udp_arm(e, 0);
    pthread_mutex_unlock(&e->mu);
    if (call) napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking);
    if (full || n < DG_BATCH) return;
  }
}

/* ---- the thread ---- */

static void on_readable(engine *e, conn *c, int rdhup) {
  for (;;) {
    ssize_t n = recv(c->fd, e->rbuf, READ_BUF, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      if (c->state == C_IDLE) return conn_close(e, c);
      return fail(e, c, K_SOCKET, errno);
    }
    if (n == 0) {
      if (c->state == C_IDLE || !c->cur) return conn_close(e, c);
      /* A body that runs to the end of the connection ends here. */
      if (c->got) llhttp_finish(&c->parser);
      if (!c->done) return fail(e, c, K_CLOSED, 0);
      record(e, c->cur, llhttp_get_status_code(&c->parser), c->cache, K_OK, 0);
      c->cur = NULL;
      return conn_close(e, c);
    }
    if (c->state != C_BUSY || !c->cur) return conn_close(e, c); /* bytes nobody asked for */
    c->got = 1;
    llhttp_errno_t rc = llhttp_execute(&c->parser, e->rbuf, (size_t)n);
    if (rc == HPE_PAUSED && c->done) {
      size_t used = (size_t)(llhttp_get_error_pos(&c->parser) - e->rbuf);
      int keep = llhttp_should_keep_alive(&c->parser) && used == (size_t)n;
      record(e, c->cur, llhttp_get_status_code(&c->parser), c->cache, K_OK, 0);
      c->cur = NULL;
      c->served++;
      if (!keep) return conn_close(e, c);
      llhttp_resume(&c->parser);
      reuse(e, c);
      if (c->state == C_FREE) return; /* the next push failed to go out on it */
      /* Whatever the peer sends next on an idle connection is read then. */
      if (!rdhup && n < READ_BUF) return;
      continue;
    }
    if (rc != HPE_OK) return fail(e, c, K_BAD_RESPONSE, (int)rc);
    if (!rdhup && n < READ_BUF) return;
  }
}

static void on_event(engine *e, conn *c, uint32_t ev) {
  if (c->state == C_CONNECTING) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) return fail(e, c, K_CONNECT, err);
    send_request(e, c);
    if (c->state != C_BUSY) return;
  }
  if (c->wbuf && (ev & EPOLLOUT)) {
    int err = send_rest(c);
    if (err) return fail(e, c, K_SOCKET, err);
  }
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(e, c, (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
}

/* Takes what JavaScript handed over; with nothing there, marks the thread asleep (under the
 * same lock push() appends under, so flush() knows whether to wake it) and says so. */
static int take_submissions(engine *e) {
  pthread_mutex_lock(&e->mu);
  req *r = e->sub_head;
  e->sub_head = e->sub_tail = NULL;
  e->wake_pending = 0;
  e->sleeping = r == NULL;
  int close_udp = e->udp_close && e->ufd >= 0;
  pthread_mutex_unlock(&e->mu);
  if (close_udp) {
    close(e->ufd); /* also leaves the epoll set */
    e->ufd = -1;
  }
  if (!r) return 0;
  while (r) {
    req *next = r->next;
    r->next = NULL;
    assign(e, &e->colos[r->colo], r);
    r = next;
  }
  return 1;
}

static void scan(engine *e, uint64_t now) {
  for (uint32_t i = 0; i < e->ncolos; i++) {
    colo_t *k = &e->colos[i];
    for (uint32_t j = 0; j < e->max; j++) {
      conn *c = &k->conns[j];
      if ((c->state == C_CONNECTING || c->state == C_BUSY) && c->deadline <= now) fail(e, c, c->state == C_CONNECTING ? K_CONNECT_TIMEOUT : K_TIMEOUT, 0);
      else if (c->state == C_IDLE && now - c->idle_since >= e->idle_ns) conn_close(e, c);
    }
    while (k->wait_head && k->wait_head->t0 + e->timeout_ns <= now) {
      req *r = k->wait_head;
      k->wait_head = r->next;
      if (!k->wait_head) k->wait_tail = NULL;
      record(e, r, 0, 0, K_NO_CONNECTION, 0);
    }
  }
}

static void *run(void *arg) {
  engine *e = arg;
  struct epoll_event evs[512];
  e->next_scan = now_ns() + SCAN_NS;
  for (;;) {
    /* Pushes handed over while the thread was busy are taken without a wake-up. */
    int took = take_submissions(e);
    if (took) publish(e);
    int n = epoll_wait(e->ep, evs, 512, took ? 0 : (int)(SCAN_NS / 1000000));
    if (__atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE)) break;
    __atomic_store_n(&e->sleeping, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == NULL) {
        uint64_t v;
        while (read(e->efd, &v, sizeof v) < 0 && errno == EINTR) {
        }
      } else if (p == &UDP_MARK) on_udp(e);
      else on_event(e, p, evs[i].events);
    }
    uint64_t now = now_ns();
    if (now >= e->next_scan) {
      scan(e, now);
      e->next_scan = now + SCAN_NS;
    }
    publish(e);
  }
  return NULL;
}

/* ---- Node-API ---- */

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "HEARTH_ERR_NATIVE", "hearth-push: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (!env || !js_cb) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 0, NULL, NULL);
}

static void free_reqs(req *r) {
  while (r) {
    req *next = r->next;
    free(r);
    r = next;
  }
}

/* Stops the thread and frees everything; pushes still in flight are forgotten. */
static void shutdown_engine(engine *e) {
  if (e->closed) return;
  e->closed = 1;
  if (e->started) {
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t w = write(e->efd, &one, sizeof one);
    (void)w;
    pthread_join(e->thread, NULL);
  }
  for (uint32_t i = 0; i < e->ncolos; i++) {
    colo_t *k = &e->colos[i];
    for (uint32_t j = 0; k->conns && j < e->max; j++) {
      conn *c = &k->conns[j];
      if (c->fd >= 0) close(c->fd);
      free(c->cur);
      free(c->wbuf);
    }
    free_reqs(k->wait_head);
    free(k->conns);
    free(k->prefix);
    free(k->suffix);
  }
  free(e->colos);
  free_reqs(e->sub_head);
  e->sub_head = e->sub_tail = NULL;
  if (e->ufd >= 0) close(e->ufd);
  e->ufd = -1;
  if (e->ep >= 0) close(e->ep);
  if (e->efd >= 0) close(e->efd);
  if (e->mm) free(e->mm[0].msg_hdr.msg_iov);
  free(e->mm);
  free(e->stage);
  for (uint32_t k = 0; k < e->nkeys; k++) {
    EVP_MD_CTX_free(e->inner[k]);
    EVP_MD_CTX_free(e->outer[k]);
  }
  EVP_MD_CTX_free(e->scratch);
  e->scratch = NULL;
  e->nkeys = 0;
  free(e->dgs);
  e->mm = NULL;
  e->stage = NULL;
  e->dgs = NULL;
  e->ndgs = 0;
  free(e->out);
  free(e->recs);
  free(e->rbuf);
  free(e->sbuf);
  e->recs = NULL;
  e->nrecs = 0;
  if (e->tsfn) napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
  e->tsfn = NULL;
}

static void engine_cleanup_hook(void *arg);

static void engine_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  engine *e = data;
  napi_remove_env_cleanup_hook(env, engine_cleanup_hook, e);
  shutdown_engine(e);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static void engine_cleanup_hook(void *arg) { shutdown_engine(arg); }

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
#define ENGINE_CALL(n)                                              \
  size_t argc = (n);                                                \
  napi_value argv[(n)];                                             \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));      \
  engine *e = argc == (n) ? engine_arg(env, argv[0]) : NULL;        \
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

static char *dup_len(const char *s, size_t *len) {
  char *d = strdup(s);
  if (!d) abort();
  *len = strlen(d);
  return d;
}

static int header_safe(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
  return 1;
}

/*
 * create({ address, port, hosts: string[], connections, timeoutMs, idleMs, method, userAgent }, onRecords)
 * → engine. `address` is a numeric IPv4 or IPv6 address; hosts[i] is colo i's Host.
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
  napi_value hosts;
  uint32_t ncolos = 0;
  bool is_array = false;
  if (!get_prop_str(env, argv[0], "address", address, sizeof address, &alen) || !get_prop_u32(env, argv[0], "port", &port) || port == 0 || port > 65535 ||
      !get_prop_u32(env, argv[0], "connections", &connections) || connections == 0 || connections > 65536 || !get_prop_u32(env, argv[0], "timeoutMs", &timeout_ms) ||
      !get_prop_u32(env, argv[0], "idleMs", &idle_ms) || !get_prop_str(env, argv[0], "method", method, sizeof method, &mlen) ||
      !get_prop_str(env, argv[0], "userAgent", ua, sizeof ua, &ualen) || !header_safe(ua, ualen) || napi_get_named_property(env, argv[0], "hosts", &hosts) != napi_ok ||
      napi_is_array(env, hosts, &is_array) != napi_ok || !is_array || napi_get_array_length(env, hosts, &ncolos) != napi_ok || ncolos == 0 || ncolos > 65535) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: { address, port, hosts[], connections, timeoutMs, idleMs, method, userAgent }");
    return NULL;
  }
  if (strcmp(method, "HEAD") != 0 && strcmp(method, "GET") != 0) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: method must be HEAD or GET");
    return NULL;
  }
  engine *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->efd = e->ep = e->ufd = -1;
  pthread_mutex_init(&e->mu, NULL);
  e->addrlen = parse_addr(address, port, &e->addr);
  if (e->addrlen == 0) {
    free(e);
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "create: address must be a numeric IP address");
    return NULL;
  }
  e->timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  e->idle_ns = (uint64_t)idle_ms * 1000000ull;
  e->max = connections;
  e->head = method[0] == 'H';
  e->ncolos = ncolos;
  e->colos = calloc(ncolos, sizeof *e->colos);
  e->rbuf = malloc(READ_BUF);
  e->sbuf = malloc(PATH_MAX_BYTES + 512 + HOST_MAX_BYTES);
  e->mm = calloc(DG_BATCH, sizeof *e->mm);
  e->stage = malloc((size_t)DG_BATCH * DG_SLOT);
  struct iovec *iov = calloc(DG_BATCH, sizeof *iov);
  if (!e->colos || !e->rbuf || !e->sbuf || !e->mm || !e->stage || !iov) abort();
  for (int i = 0; i < DG_BATCH; i++) {
    iov[i].iov_base = e->stage + (size_t)i * DG_SLOT;
    iov[i].iov_len = DG_SLOT;
    e->mm[i].msg_hdr.msg_iov = &iov[i];
    e->mm[i].msg_hdr.msg_iovlen = 1;
  }
  napi_value result;
  const char *bad = NULL;
  for (uint32_t i = 0; i < ncolos && !bad; i++) {
    napi_value h;
    char host[HOST_MAX_BYTES + 2];
    size_t hlen;
    if (napi_get_element(env, hosts, i, &h) != napi_ok || napi_get_value_string_latin1(env, h, host, sizeof host, &hlen) != napi_ok || hlen == 0 || hlen > HOST_MAX_BYTES ||
        !header_safe(host, hlen) || strchr(host, ' ')) {
      bad = "create: hosts[] must be host names";
      break;
    }
    colo_t *k = &e->colos[i];
    char line[HOST_MAX_BYTES + 200];
    snprintf(line, sizeof line, "%s ", method);
    k->prefix = dup_len(line, &k->prefix_len);
    snprintf(line, sizeof line, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nX-Hearth-Warm: 1\r\n\r\n", host, ua);
    k->suffix = dup_len(line, &k->suffix_len);
    k->conns = calloc(connections, sizeof *k->conns);
    if (!k->conns) abort();
    for (uint32_t j = connections; j-- > 0;) {
      conn *c = &k->conns[j];
      c->fd = -1;
      c->e = e;
      c->colo = (uint16_t)i;
      c->parser.data = c;
      c->next = k->free;
      k->free = c;
    }
  }
  if (!bad) {
    e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (e->efd < 0 || e->ep < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->efd, &ev) < 0) bad = "create: eventfd or epoll failed";
  }
  napi_value name;
  if (!bad && (napi_create_string_utf8(env, "hearth-push", NAPI_AUTO_LENGTH, &name) != napi_ok ||
               napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &e->tsfn) != napi_ok)) {
    bad = "create: onRecords must be a function";
  }
  if (!bad) {
    /* A warmer with nothing else to do should be free to exit. */
    napi_unref_threadsafe_function(env, e->tsfn);
    if (pthread_create(&e->thread, NULL, run, e) != 0) bad = "create: could not start the push thread";
    else e->started = 1;
  }
  if (bad) {
    shutdown_engine(e);
    pthread_mutex_destroy(&e->mu);
    free(e);
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", bad);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, engine_cleanup_hook, e);
  if (napi_create_external(env, e, engine_finalize, NULL, &result) != napi_ok) {
    napi_throw_error(env, "HEARTH_ERR_NATIVE", "hearth-push: napi_create_external");
    return NULL;
  }
  return result;
}

/* push(engine, token, colo, path) → true, or false when the path could never be sent. */
static napi_value push(napi_env env, napi_callback_info info) {
  ENGINE_CALL(4);
  napi_value result;
  uint32_t token, colo;
  char path[PATH_MAX_BYTES + 1];
  size_t len;
  if (napi_get_value_uint32(env, argv[1], &token) != napi_ok || napi_get_value_uint32(env, argv[2], &colo) != napi_ok || colo >= e->ncolos ||
      napi_get_value_string_utf8(env, argv[3], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "push(engine, token, colo, path)");
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
    memcpy(r->path, path, len);
    pthread_mutex_lock(&e->mu);
    if (e->sub_tail) e->sub_tail->next = r;
    else e->sub_head = r;
    e->sub_tail = r;
    pthread_mutex_unlock(&e->mu);
  }
  CHECK(napi_get_boolean(env, ok, &result));
  return result;
}

/* flush(engine): wakes the thread for what push() handed over since the last flush. */
static napi_value flush(napi_env env, napi_callback_info info) {
  ENGINE_CALL(1);
  int wake = 0;
  pthread_mutex_lock(&e->mu);
  if (e->sub_head && e->sleeping && !e->wake_pending) wake = e->wake_pending = 1;
  pthread_mutex_unlock(&e->mu);
  if (wake) {
    uint64_t one = 1;
    ssize_t w = write(e->efd, &one, sizeof one);
    (void)w; /* an eventfd write fails only when its counter would overflow: the thread is awake then */
  }
  return NULL;
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
 * drain(engine, records: Uint32Array, datagrams: Uint8Array, counts: Uint32Array(3)):
 * copies push records (4 u32s each) and received datagrams ([u32 length][u32 bytes
 * kept][bytes, padded to 4]) as far as each array holds; counts = [records, datagram
 * bytes, 1 if anything is left]. JavaScript is called again only once a drain has
 * left nothing, so it must call until counts[2] is 0.
 */
static napi_value drain(napi_env env, napi_callback_info info) {
  ENGINE_CALL(4);
  uint32_t *recs, *counts;
  uint8_t *dgs;
  size_t nrec, ndg, ncount;
  if (!typed_arg(env, argv[1], napi_uint32_array, REC_U32, (void **)&recs, &nrec) || !typed_arg(env, argv[2], napi_uint8_array, 8 + DG_SLOT, (void **)&dgs, &ndg) ||
      !typed_arg(env, argv[3], napi_uint32_array, 3, (void **)&counts, &ncount)) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "drain(engine, Uint32Array(≥ 4), Uint8Array(≥ 4104), Uint32Array(3))");
    return NULL;
  }
  size_t take = nrec / REC_U32 * REC_U32;
  pthread_mutex_lock(&e->mu);
  if (take > e->nrecs) take = e->nrecs;
  memcpy(recs, e->recs, take * sizeof(uint32_t));
  memmove(e->recs, e->recs + take, (e->nrecs - take) * sizeof(uint32_t));
  e->nrecs -= take;
  /* Whole datagrams only. */
  size_t bytes = 0;
  while (bytes < e->ndgs) {
    uint32_t kept;
    memcpy(&kept, e->dgs + bytes + 4, 4);
    kept &= 0xffffff;
    size_t one = 8 + ((kept + 3) & ~3u);
    if (bytes + one > ndg) break;
    bytes += one;
  }
  memcpy(dgs, e->dgs, bytes);
  memmove(e->dgs, e->dgs + bytes, e->ndgs - bytes);
  e->ndgs -= bytes;
  int left = e->nrecs > 0 || e->ndgs > 0;
  if (!left) e->signalled = 0;
  if (e->ufd >= 0 && !e->udp_armed && e->ndgs < DG_MAX / 2 && !e->udp_close) udp_arm(e, 1);
  pthread_mutex_unlock(&e->mu);
  counts[0] = (uint32_t)(take / REC_U32);
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
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int size = (int)rcvbuf;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    char msg[128];
    snprintf(msg, sizeof msg, "bind udp %s:%u: %s", address, port, strerror(err));
    napi_value code, text, error;
    CHECK(napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
    CHECK(napi_create_error(env, code, text, &error));
    napi_throw(env, error);
    return NULL;
  }
  socklen_t ol = sizeof size;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &ol);
  pthread_mutex_lock(&e->mu);
  e->ufd = fd;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &UDP_MARK};
  int rc = epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
  e->udp_armed = rc == 0;
  pthread_mutex_unlock(&e->mu);
  if (rc < 0) {
    napi_throw_error(env, "HEARTH_ERR_NATIVE", "listen: epoll_ctl failed");
    return NULL;
  }
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_uint32(env, ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port), &v));
  CHECK(napi_set_named_property(env, result, "port", v));
  CHECK(napi_create_uint32(env, (uint32_t)size, &v));
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
    const EVP_MD *sha256 = EVP_sha256();
    e->scratch = EVP_MD_CTX_new();
    for (uint32_t k = 0; k < n; k++) {
      napi_value v;
      uint8_t *key;
      size_t klen;
      if (napi_get_element(env, argv[1], k, &v) != napi_ok || !typed_arg(env, v, napi_uint8_array, 1, (void **)&key, &klen)) {
        napi_throw_type_error(env, "HEARTH_ERR_INVALID", "setKeys: every key a non-empty Uint8Array");
        return NULL;
      }
      uint8_t block[64] = {0}, pad[64];
      unsigned int dlen;
      if (klen > 64) EVP_Digest(key, klen, block, &dlen, sha256, NULL);
      else memcpy(block, key, klen);
      e->inner[k] = EVP_MD_CTX_new();
      e->outer[k] = EVP_MD_CTX_new();
      for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
      int ok = e->inner[k] && EVP_DigestInit_ex(e->inner[k], sha256, NULL) && EVP_DigestUpdate(e->inner[k], pad, 64);
      for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
      ok = ok && e->outer[k] && EVP_DigestInit_ex(e->outer[k], sha256, NULL) && EVP_DigestUpdate(e->outer[k], pad, 64);
      if (!ok || !e->scratch) {
        napi_throw_error(env, "HEARTH_ERR_NATIVE", "setKeys: OpenSSL digest setup failed");
        return NULL;
      }
      e->nkeys = k + 1;
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
  if (e->ufd >= 0 && e->udp_armed) udp_arm(e, 0);
  pthread_mutex_unlock(&e->mu);
  uint64_t one = 1;
  ssize_t w = write(e->efd, &one, sizeof one);
  (void)w;
  return NULL;
}

/* stats(engine, out: Float64Array of 4 × colos): open connections, connects, connect failures, retries. */
static napi_value stats(napi_env env, napi_callback_info info) {
  ENGINE_CALL(2);
  bool is;
  napi_typedarray_type type;
  size_t len, off;
  double *d;
  napi_value buf;
  if (napi_is_typedarray(env, argv[1], &is) != napi_ok || !is || napi_get_typedarray_info(env, argv[1], &type, &len, (void **)&d, &buf, &off) != napi_ok || type != napi_float64_array ||
      len < 4 * (size_t)e->ncolos) {
    napi_throw_type_error(env, "HEARTH_ERR_INVALID", "stats(engine, Float64Array of 4 × colos)");
    return NULL;
  }
    for (uint32_t i = 0; i < e->ncolos; i++) {
    colo_t *k = &e->colos[i];
    d[4 * i] = __atomic_load_n(&k->open, __ATOMIC_RELAXED);
    d[4 * i + 1] = (double)__atomic_load_n(&k->connects, __ATOMIC_RELAXED);
    d[4 * i + 2] = (double)__atomic_load_n(&k->connect_failures, __ATOMIC_RELAXED);
    d[4 * i + 3] = (double)__atomic_load_n(&k->retries, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* close(engine): stops the thread and closes every connection; later calls throw. */
static napi_value close_engine(napi_env env, napi_callback_info info) {
  ENGINE_CALL(1);
  napi_remove_env_cleanup_hook(env, engine_cleanup_hook, e);
  shutdown_engine(e);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  llhttp_settings_init(&SETTINGS);
  SETTINGS.on_message_begin = on_message_begin;
  SETTINGS.on_header_field = on_header_field;
  SETTINGS.on_header_field_complete = on_header_field_complete;
  SETTINGS.on_header_value = on_header_value;
  SETTINGS.on_header_value_complete = on_header_value_complete;
  SETTINGS.on_headers_complete = on_headers_complete;
  SETTINGS.on_message_complete = on_message_complete;
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL}, {"push", NULL, push, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, flush, NULL, NULL, NULL, napi_default, NULL},   {"drain", NULL, drain, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},   {"close", NULL, close_engine, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, listen_udp, NULL, NULL, NULL, napi_default, NULL}, {"unlisten", NULL, unlisten_udp, NULL, NULL, NULL, napi_default, NULL},
      {"setKeys", NULL, set_keys, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
