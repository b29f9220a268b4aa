/* The engine: one thread, its epoll, and the handover of pushes and results with JavaScript. */
#include "hearth-push.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

engine *engine_new(uint32_t ncolos, uint32_t connections, const char **why) {
  engine *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->efd = e->ep = e->ufd = -1;
  pthread_mutex_init(&e->mu, NULL);
  e->max = connections;
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
  e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (e->efd < 0 || e->ep < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->efd, &ev) < 0) {
    *why = "create: eventfd or epoll failed";
    engine_shutdown(e);
    pthread_mutex_destroy(&e->mu);
    free(e);
    return NULL;
  }
  return e;
}

/* ---- records: the thread's results for JavaScript ---- */

void signal_js_locked(engine *e, int *call) {
  if (!e->signalled) *call = e->signalled = 1;
}

void record(engine *e, req *r, int status, int cache, int kind, int err) {
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
  o[1] = (uint32_t)(status & 0xffff) | (uint32_t)(cache & 0xff) << REC_CACHE_SHIFT | (uint32_t)(kind & 0xff) << REC_KIND_SHIFT;
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

int engine_drain(engine *e, uint32_t *recs, size_t nrec, size_t *took, uint8_t *dgs, size_t ndg, size_t *bytes) {
  size_t take = nrec / REC_U32 * REC_U32;
  pthread_mutex_lock(&e->mu);
  if (take > e->nrecs) take = e->nrecs;
  memcpy(recs, e->recs, take * sizeof(uint32_t));
  memmove(e->recs, e->recs + take, (e->nrecs - take) * sizeof(uint32_t));
  e->nrecs -= take;
  /* Whole datagrams only. */
  size_t b = 0;
  while (b < e->ndgs) {
    uint32_t kept;
    memcpy(&kept, e->dgs + b + 4, 4);
    kept &= DG_KEPT_MASK;
    size_t one = DG_HEADER + ((kept + 3) & ~3u);
    if (b + one > ndg) break;
    b += one;
  }
  memcpy(dgs, e->dgs, b);
  memmove(e->dgs, e->dgs + b, e->ndgs - b);
  e->ndgs -= b;
  int left = e->nrecs > 0 || e->ndgs > 0;
  if (!left) e->signalled = 0;
  if (e->ufd >= 0 && !e->udp_armed && e->ndgs < DG_MAX / 2 && !e->udp_close) hint_socket_arm(e, 1);
  pthread_mutex_unlock(&e->mu);
  *took = take / REC_U32;
  *bytes = b;
  return left;
}

/* ---- submissions: JavaScript's pushes for the thread ---- */

void engine_submit(engine *e, req *r) {
  pthread_mutex_lock(&e->mu);
  if (e->sub_tail) e->sub_tail->next = r;
  else e->sub_head = r;
  e->sub_tail = r;
  pthread_mutex_unlock(&e->mu);
}

void engine_wake(engine *e) {
  uint64_t one = 1;
  ssize_t w = write(e->efd, &one, sizeof one);
  (void)w; /* an eventfd write fails only when its counter would overflow: the thread is awake then */
}

void engine_flush(engine *e) {
  int wake = 0;
  pthread_mutex_lock(&e->mu);
  if (e->sub_head && e->sleeping && !e->wake_pending) wake = e->wake_pending = 1;
  pthread_mutex_unlock(&e->mu);
  if (wake) engine_wake(e);
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
    push_client_assign(e, r);
    r = next;
  }
  return 1;
}

/* ---- the thread ---- */

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
      } else if (hint_socket_is(p)) hint_socket_read(e);
      else push_client_event(e, p, evs[i].events);
    }
    uint64_t now = now_ns();
    if (now >= e->next_scan) {
      push_client_scan(e, now);
      e->next_scan = now + SCAN_NS;
    }
    publish(e);
  }
  return NULL;
}

int engine_start(engine *e) {
  if (pthread_create(&e->thread, NULL, run, e) != 0) return 0;
  e->started = 1;
  return 1;
}

void free_reqs(req *r) {
  while (r) {
    req *next = r->next;
    free(r);
    r = next;
  }
}

void engine_shutdown(engine *e) {
  if (e->closed) return;
  e->closed = 1;
  if (e->started) {
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
    engine_wake(e);
    pthread_join(e->thread, NULL);
  }
  push_client_free(e);
  free_reqs(e->sub_head);
  e->sub_head = e->sub_tail = NULL;
  hint_socket_free(e);
  if (e->ep >= 0) close(e->ep);
  if (e->efd >= 0) close(e->efd);
  free(e->out);
  free(e->recs);
  free(e->rbuf);
  free(e->sbuf);
  e->recs = NULL;
  e->nrecs = 0;
  if (e->tsfn) napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
  e->tsfn = NULL;
}
