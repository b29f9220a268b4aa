/* The hint socket: the warmer's UDP socket, read on the engine's thread in batches, each datagram's signature checked here. */
#include "hearth-push.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static char UDP_MARK; /* its epoll data.ptr */

int hint_socket_is(const void *epoll_data) { return epoll_data == &UDP_MARK; }

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

void hint_socket_arm(engine *e, int on) {
  struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &UDP_MARK};
  epoll_ctl(e->ep, EPOLL_CTL_MOD, e->ufd, &ev);
  e->udp_armed = on;
}

void hint_socket_read(engine *e) {
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
      need += DG_HEADER + ((kept + 3) & ~3u);
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
      uint32_t word = kept | (len == kept ? sig_verdict(e, d, len) : SIG_NOT_THERE) << DG_VERDICT_SHIFT;
      uint8_t *o = e->dgs + e->ndgs;
      memcpy(o, &len, 4);
      memcpy(o + 4, &word, 4);
      memcpy(o + DG_HEADER, d, kept);
      e->ndgs += DG_HEADER + ((kept + 3) & ~3u);
    }
    signal_js_locked(e, &call);
    /* JavaScript is behind: leave the rest in the socket's buffer (the kernel counts what
     * overflows it) rather than grow without bound; drain() reads it again. */
    int full = e->ndgs >= DG_MAX;
    if (full) hint_socket_arm(e, 0);
    pthread_mutex_unlock(&e->mu);
    if (call) napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking);
    if (full || n < DG_BATCH) return;
  }
}

int hint_socket_bind(engine *e, const struct sockaddr_storage *ss, socklen_t sl, int recv_buffer, uint32_t *port, int *granted) {
  struct sockaddr_storage bound = *ss;
  int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &recv_buffer, sizeof recv_buffer) < 0 || bind(fd, (const struct sockaddr *)ss, sl) < 0 ||
      getsockname(fd, (struct sockaddr *)&bound, &sl) < 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return err;
  }
  socklen_t ol = sizeof *granted;
  *granted = recv_buffer;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, granted, &ol);
  *port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port : ((struct sockaddr_in6 *)&bound)->sin6_port);
  pthread_mutex_lock(&e->mu);
  e->ufd = fd;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &UDP_MARK};
  int rc = epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
  int err = errno;
  e->udp_armed = rc == 0;
  pthread_mutex_unlock(&e->mu);
  return rc < 0 ? err : 0;
}

static void free_keys(engine *e) {
  for (uint32_t k = 0; k < e->nkeys; k++) {
    EVP_MD_CTX_free(e->inner[k]);
    EVP_MD_CTX_free(e->outer[k]);
  }
  EVP_MD_CTX_free(e->scratch);
  e->scratch = NULL;
  e->nkeys = 0;
}

int hint_socket_keys(engine *e, const uint8_t *const *keys, const size_t *lens, uint32_t n) {
  const EVP_MD *sha256 = EVP_sha256();
  e->scratch = EVP_MD_CTX_new();
  for (uint32_t k = 0; k < n; k++) {
    uint8_t block[64] = {0}, pad[64];
    unsigned int dlen;
    if (lens[k] > 64) EVP_Digest(keys[k], lens[k], block, &dlen, sha256, NULL);
    else memcpy(block, keys[k], lens[k]);
    e->inner[k] = EVP_MD_CTX_new();
    e->outer[k] = EVP_MD_CTX_new();
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    int ok = e->inner[k] && EVP_DigestInit_ex(e->inner[k], sha256, NULL) && EVP_DigestUpdate(e->inner[k], pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && e->outer[k] && EVP_DigestInit_ex(e->outer[k], sha256, NULL) && EVP_DigestUpdate(e->outer[k], pad, 64);
    e->nkeys = k + 1;
    if (!ok || !e->scratch) {
      free_keys(e);
      return 0;
    }
  }
  return 1;
}

void hint_socket_free(engine *e) {
  if (e->ufd >= 0) close(e->ufd);
  e->ufd = -1;
  if (e->mm) free(e->mm[0].msg_hdr.msg_iov);
  free(e->mm);
  free(e->stage);
  free_keys(e);
  free(e->dgs);
  e->mm = NULL;
  e->stage = NULL;
  e->dgs = NULL;
  e->ndgs = 0;
}
