/*
** batch.c: a reusable batch of datagrams ("sockit.batch"), which
** recvmmsg(s, batch) fills in place: the datagrams' bytes, lengths and
** senders stay in C, so a receiver pays no table, string or host per
** datagram; the accessors make those only for the datagrams asked about.
**
** One userdata holds it all, laid out after the header: max messages,
** max iovecs (each pointing at its own 'size' bytes), max addresses,
** then the bytes. Only the first 'count' datagrams are valid, and a
** receive starts by setting count to 0, so one that fails leaves none.
** User value 1 is the host string last pushed, for 'last' below.
*/
#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#define MAXBATCH  1024    /* the kernel's UIO_MAXIOV */
#define MAXSIZE   65536   /* the largest UDP datagram, rounded up */

typedef struct Batch {
  int max;              /* datagrams it has room for */
  int count;            /* datagrams of the last receive */
  int unmap;            /* show IPv4-mapped IPv6 senders as IPv4 */
  socklen_t lastlen;    /* 0: no host pushed yet */
  size_t size;          /* bytes of room per datagram */
  struct mmsghdr *m;
  sockit_Addr last;     /* the sender of the host string in user value 1 */
} Batch;


static Batch *checkbatch (lua_State *L, int arg) {
  return (Batch *)luaL_checkudata(L, arg, SOCKIT_BATCH);
}


/* batch(max [, size]) -> batch: room for max datagrams of size bytes */
static int l_batch (lua_State *L) {
  lua_Integer max = luaL_checkinteger(L, 1);
  lua_Integer size = luaL_optinteger(L, 2, MAXSIZE);
  struct iovec *iov;
  sockit_Addr *a;
  char *p;
  Batch *b;
  int i;
  luaL_argcheck(L, 1 <= max && max <= MAXBATCH, 1,
                "max out of range (1 to 1024)");
  luaL_argcheck(L, 1 <= size && size <= MAXSIZE, 2,
                "size out of range (1 to 65536)");
  b = (Batch *)lua_newuserdatauv(L, sizeof *b + (size_t)max * (sizeof *b->m
        + sizeof *iov + sizeof *a + (size_t)size), 1);
  memset(b, 0, sizeof *b);
  b->max = (int)max;
  b->size = (size_t)size;
  b->m = (struct mmsghdr *)(b + 1);
  iov = (struct iovec *)(b->m + max);
  a = (sockit_Addr *)(iov + max);
  p = (char *)(a + max);
  memset(b->m, 0, (size_t)max * sizeof *b->m);
  for (i = 0; i < max; i++) {
    iov[i].iov_base = p + (size_t)i * b->size;
    iov[i].iov_len = b->size;
    b->m[i].msg_hdr.msg_iov = iov + i;
    b->m[i].msg_hdr.msg_iovlen = 1;
    b->m[i].msg_hdr.msg_name = a + i;
  }
  luaL_setmetatable(L, SOCKIT_BATCH);
  return 1;
}


/*
** recvmmsg(s, batch [, unmap]) -> count: one recvmmsg into the batch at
** 2, at least one datagram, at most its max; unmap shows senders of an
** IPv4-mapped IPv6 address (a dual-stack socket) as IPv4 addresses.
*/
int sockit_recvbatch (lua_State *L, sockit_Socket *s) {
  Batch *b = checkbatch(L, 2);
  sockit_Wait w;
  int i, got;
  b->count = 0;
  b->unmap = lua_toboolean(L, 3);
  for (i = 0; i < b->max; i++)
    b->m[i].msg_hdr.msg_namelen = sizeof(sockit_Addr);
  sockit_startwait(L, &w, s->timeout);
  do got = recvmmsg(s->fd, b->m, (unsigned int)b->max,
                    MSG_WAITFORONE | SOCKIT_DONTWAIT(s), NULL);
  while (got < 0 && sockit_retry(s, &w, errno, POLLIN));
  if (got < 0) return sockit_fail(L, w.err);
  b->count = got;
  lua_pushinteger(L, got);
  return 1;
}


/* the message of datagram i (at 2) of the batch at 1 */
static const struct mmsghdr *checkmsg (lua_State *L, Batch **pb) {
  Batch *b = checkbatch(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  luaL_argcheck(L, 1 <= i && i <= b->count, 2, "no datagram at that index");
  *pb = b;
  return b->m + i - 1;
}


/* the sender of 'm' into 'a', an IPv4-mapped one as IPv4 if b says so */
static socklen_t sender (const Batch *b, const struct mmsghdr *m,
                         sockit_Addr *a) {
  const sockit_Addr *from = (const sockit_Addr *)m->msg_hdr.msg_name;
  socklen_t len = m->msg_hdr.msg_namelen;
  if (len > sizeof *a) len = sizeof *a;
  memcpy(a, from, len);
  if (b->unmap && len >= sizeof a->in6 && a->sa.sa_family == AF_INET6
      && IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
    in_port_t port = a->in6.sin6_port;
    struct in_addr v4;
    memcpy(&v4, a->in6.sin6_addr.s6_addr + 12, sizeof v4);
    memset(a, 0, sizeof a->in);
    a->in.sin_family = AF_INET;
    a->in.sin_port = port;
    a->in.sin_addr = v4;
    len = sizeof a->in;
  }
  return len;
}


/* whether IP addresses x (of length len: 0 for no sender) and y name one
   host */
static int samehost (const sockit_Addr *x, const sockit_Addr *y,
                     socklen_t len) {
  if (len == sizeof x->in && x->sa.sa_family == AF_INET)
    return y->sa.sa_family == AF_INET
        && x->in.sin_addr.s_addr == y->in.sin_addr.s_addr;
  return len == sizeof x->in6 && x->sa.sa_family == AF_INET6
      && y->sa.sa_family == AF_INET6
      && x->in6.sin6_scope_id == y->in6.sin6_scope_id
      && memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr,
                sizeof x->in6.sin6_addr) == 0;
}


/*
** Push the sender of 'm': host, port or a path. Consecutive datagrams
** mostly come from one host, so its string is kept and pushed again
** without formatting it anew.
*/
static int pushsender (lua_State *L, Batch *b, const struct mmsghdr *m) {
  sockit_Addr a;
  socklen_t len = sender(b, m, &a);
  int k;
  if (b->lastlen > 0 && samehost(&a, &b->last, len)) {
    lua_getiuservalue(L, 1, 1);
    lua_pushinteger(L, ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port
                                                       : a.in6.sin6_port));
    return 2;
  }
  k = sockit_pushaddr(L, &a, len);
  if (k == 2) {
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, 1, 1);
    memcpy(&b->last, &a, len);
    b->lastlen = len;
  }
  return k;
}


/* batch:get(i) -> data, host, port (or data, path) [, true when cut] */
static int l_get (lua_State *L) {
  Batch *b;
  const struct mmsghdr *m = checkmsg(L, &b);
  int k;
  lua_pushlstring(L, (const char *)m->msg_hdr.msg_iov->iov_base,
                  m->msg_len);
  k = pushsender(L, b, m);
  if (!(m->msg_hdr.msg_flags & MSG_TRUNC)) return 1 + k;
  lua_pushboolean(L, 1);
  return 2 + k;
}


/* batch:peer(i) -> host, port (or path) of datagram i's sender */
static int l_peer (lua_State *L) {
  Batch *b;
  const struct mmsghdr *m = checkmsg(L, &b);
  return pushsender(L, b, m);
}


/* batch:len(i) -> bytes of datagram i [, true when it was cut] */
static int l_len (lua_State *L) {
  Batch *b;
  const struct mmsghdr *m = checkmsg(L, &b);
  lua_pushinteger(L, (lua_Integer)m->msg_len);
  if (!(m->msg_hdr.msg_flags & MSG_TRUNC)) return 1;
  lua_pushboolean(L, 1);
  return 2;
}


/* #batch -> datagrams of the last receive */
static int l_count (lua_State *L) {
  lua_pushinteger(L, checkbatch(L, 1)->count);
  return 1;
}


static int l_name (lua_State *L) {
  Batch *b = checkbatch(L, 1);
  lua_pushfstring(L, SOCKIT_BATCH " (%d of %d datagrams)", b->count, b->max);
  return 1;
}


const luaL_Reg sockit_batch_meth[] = {
  {"get", l_get},
  {"peer", l_peer},
  {"len", l_len},
  {NULL, NULL}
};

const luaL_Reg sockit_batch_metameth[] = {
  {"__len", l_count},
  {"__tostring", l_name},
  {NULL, NULL}
};

const luaL_Reg sockit_batch_funcs[] = {
  {"batch", l_batch},
  {NULL, NULL}
};
