/* The push client: a connection per push in flight, per colo; requests out, responses parsed by llhttp. */
#include "hearth-push.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

const char *const CACHE_NAMES[] = {NULL, "hit", "miss", "expired", "stale", "updating", "revalidated", "bypass"};
const size_t N_CACHE = sizeof CACHE_NAMES / sizeof CACHE_NAMES[0];

static llhttp_settings_t SETTINGS;

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

/* Writes cur's request on a connected socket. */
static void send_request(engine *e, conn *c) {
  colo_t *k = &e->colos[c->colo];
  req *r = c->cur;
  size_t len = k->prefix_len + r->len + k->suffix_len[r->variant];
  char *b = e->sbuf;
  memcpy(b, k->prefix, k->prefix_len);
  memcpy(b + k->prefix_len, r->path, r->len);
  memcpy(b + k->prefix_len + r->len, k->suffix[r->variant], k->suffix_len[r->variant]);
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
    return push_client_assign(e, r);
  }
  record(e, r, 0, 0, kind, err);
}

void push_client_assign(engine *e, req *r) {
  colo_t *k = &e->colos[r->colo];
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

void push_client_init(void) {
  llhttp_settings_init(&SETTINGS);
  SETTINGS.on_message_begin = on_message_begin;
  SETTINGS.on_header_field = on_header_field;
  SETTINGS.on_header_field_complete = on_header_field_complete;
  SETTINGS.on_header_value = on_header_value;
  SETTINGS.on_header_value_complete = on_header_value_complete;
  SETTINGS.on_headers_complete = on_headers_complete;
  SETTINGS.on_message_complete = on_message_complete;
}

/* ---- events ---- */

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

void push_client_event(engine *e, conn *c, uint32_t ev) {
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

void push_client_scan(engine *e, uint64_t now) {
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

/* ---- set-up and tear-down ---- */

static char *dup_len(const char *s, size_t *len) {
  char *d = strdup(s);
  if (!d) abort();
  *len = strlen(d);
  return d;
}

int header_safe(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
  return 1;
}

int push_client_colo(engine *e, uint32_t i, const char *method, const char *host, size_t hlen, const char *user_agent, char accepts[][ACCEPT_MAX_BYTES + 2],
                     uint32_t naccepts) {
  if (hlen == 0 || hlen > HOST_MAX_BYTES || !header_safe(host, hlen) || memchr(host, ' ', hlen)) return 0;
  colo_t *k = &e->colos[i];
  char line[HOST_MAX_BYTES + ACCEPT_MAX_BYTES + 300];
  snprintf(line, sizeof line, "%s ", method);
  k->prefix = dup_len(line, &k->prefix_len);
  /* A push asks for the format class the viewer's browser will: the cache keys by it. */
  for (uint32_t v = 0; v < naccepts; v++) {
    snprintf(line, sizeof line, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: %s\r\nX-Hearth-Warm: 1\r\n\r\n", host, user_agent, accepts[v]);
    k->suffix[v] = dup_len(line, &k->suffix_len[v]);
  }
  k->conns = calloc(e->max, sizeof *k->conns);
  if (!k->conns) abort();
  for (uint32_t j = e->max; j-- > 0;) {
    conn *c = &k->conns[j];
    c->fd = -1;
    c->e = e;
    c->colo = (uint16_t)i;
    c->parser.data = c;
    c->next = k->free;
    k->free = c;
  }
  return 1;
}

void push_client_free(engine *e) {
  for (uint32_t i = 0; e->colos && i < e->ncolos; i++) {
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
    for (uint32_t v = 0; v < MAX_VARIANTS; v++) free(k->suffix[v]);
  }
  free(e->colos);
  e->colos = NULL;
}
