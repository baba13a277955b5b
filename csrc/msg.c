/*
** msg.c: sendmsg/recvmsg with descriptors, batched datagrams, sendfile.
** Each call is one system call, plus the poll that honours the socket's
** timeout (the retry idiom of io.c).
**
** Ownership: descriptors given to sendmsg stay the caller's; those
** recvmsg receives are the caller's once returned (close-on-exec, to be
** closed with closefd or wrapped with fromfd), and recvmsg closes any it
** does not return. A file sendfile opens by path is closed before it
** returns.
*/
#include "sockit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAXFDS    253     /* the kernel's SCM_MAX_FD */
#define MAXBATCH  1024    /* the kernel's UIO_MAXIOV: most datagrams a call */
#define SCRATCHMAX  (1024 * 1024)  /* the largest scratch block kept */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT  103  /* Linux 4.18; older headers lack it */
#endif
#define MAXSEGS    64     /* datagrams one UDP_SEGMENT send may carry */
#define MAXSEGLEN  1472   /* the largest: Ethernet's MTU less the headers */
#define MAXGSO     65000  /* bytes one send may carry, under IP's 64 KiB */

/* room for the control message of MAXFDS descriptors, aligned */
typedef union Control {
  struct cmsghdr h;
  char buf[CMSG_SPACE(MAXFDS * sizeof(int))];
} Control;


/*
** A scratch block of at least 'size' bytes for the batch calls, kept in
** the registry and reused, so that a receiver looping on recvmmsg does
** not leave a new block (40 KiB for 64 datagrams of 512 bytes) to the
** collector at every call. It is pushed, so it lives at least as long as
** the call; one larger than SCRATCHMAX is not kept.
*/
static void *scratch (lua_State *L, size_t size) {
  static const char key = 0;  /* its address is the registry key */
  void *p;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key) == LUA_TUSERDATA
      && lua_rawlen(L, -1) >= size)
    return lua_touserdata(L, -1);
  lua_pop(L, 1);
  p = lua_newuserdatauv(L, size, 0);
  if (size <= SCRATCHMAX) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
  }
  return p;
}


/* a string's bytes as an iovec takes them: sendmsg does not write there */
static void *bytes (const char *p) {
  return (void *)(uintptr_t)p;
}


static int pushcount (lua_State *L, lua_Integer n) {
  lua_pushinteger(L, n);
  return 1;
}


static int pushtrue (lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}


/* the descriptor in the list at 'arg', index i: an integer or a socket */
static int fdat (lua_State *L, int arg, lua_Integer i) {
  sockit_Socket *s;
  int isint;
  lua_Integer fd;
  lua_geti(L, arg, i);
  fd = lua_tointegerx(L, -1, &isint);
  if (isint && lua_type(L, -1) == LUA_TNUMBER) {
    if (fd < 0 || fd > INT_MAX)
      luaL_argerror(L, arg, lua_pushfstring(L, "invalid descriptor at "
                    "index %d", (int)i));
  }
  else {
    s = (sockit_Socket *)luaL_testudata(L, -1, SOCKIT_SOCKET);
    if (s == NULL || s->fd < 0)
      luaL_argerror(L, arg, lua_pushfstring(L, "descriptor or open socket "
                    "expected at index %d", (int)i));
    fd = s->fd;
  }
  lua_pop(L, 1);
  return (int)fd;
}


/* the descriptors of the optional list at 'arg' into 'c'; their count */
static int checkfds (lua_State *L, int arg, Control *c) {
  int *fds = (int *)CMSG_DATA(&c->h);
  lua_Integer i, n;
  if (lua_isnoneornil(L, arg)) return 0;
  luaL_checktype(L, arg, LUA_TTABLE);
  n = luaL_len(L, arg);
  luaL_argcheck(L, n <= MAXFDS, arg, "more than 253 descriptors");
  memset(c, 0, CMSG_SPACE((size_t)n * sizeof(int)));  /* padding too */
  for (i = 1; i <= n; i++) {
    int fd = fdat(L, arg, i);
    memcpy(fds + i - 1, &fd, sizeof fd);
  }
  return (int)n;
}


/* sendmsg(s, data [, fds]) -> bytes sent; the descriptors go with them */
static int l_sendmsg (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  struct iovec iov;
  struct msghdr msg;
  Control c;
  sockit_Wait w;
  ssize_t n;
  int nfds;
  iov.iov_base = bytes(luaL_checklstring(L, 2, &iov.iov_len));
  nfds = checkfds(L, 3, &c);
  luaL_argcheck(L, iov.iov_len > 0 || nfds == 0, 2,
                "descriptors need at least one byte of data");
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    c.h.cmsg_level = SOL_SOCKET;
    c.h.cmsg_type = SCM_RIGHTS;
    c.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
    msg.msg_control = c.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
  }
  sockit_startwait(L, &w, s->timeout);
  do n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | SOCKIT_DONTWAIT(s));
  while (n < 0 && sockit_retry(s, &w, errno, POLLOUT));
  if (n < 0) return sockit_fail(L, w.err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/*
** Move the descriptors of the control messages of 'msg' into the table
** on top, up to 'maxfds', closing the rest. The table has room for
** maxfds: nothing here can raise, so no descriptor leaks.
*/
static int takefds (lua_State *L, struct msghdr *msg, int maxfds) {
  struct cmsghdr *h;
  int got = 0, cut = 0;
  for (h = CMSG_FIRSTHDR(msg); h != NULL; h = CMSG_NXTHDR(msg, h)) {
    size_t i, n;
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      if (got < maxfds) {
        lua_pushinteger(L, fd);
        lua_rawseti(L, -2, ++got);
      }
      else {
        close(fd);
        cut = 1;
      }
    }
  }
  return cut;
}


/*
** recvmsg(s, n [, maxfds]) -> data, fds [, true]; fds a list of the
** descriptors received (close-on-exec), true when data or descriptors
** were cut. maxfds: 0 to 253, default 253.
*/
static int l_recvmsg (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  lua_Integer size = luaL_checkinteger(L, 2);
  lua_Integer maxfds = luaL_optinteger(L, 3, MAXFDS);
  struct iovec iov;
  struct msghdr msg;
  Control c;
  sockit_Wait w;
  ssize_t got;
  int cut;
  luaL_argcheck(L, size >= 1, 2, "size must be at least 1");
  luaL_argcheck(L, 0 <= maxfds && maxfds <= MAXFDS, 3,
                "maxfds out of range (0 to 253)");
  iov.iov_len = size < SOCKIT_RECVMAX ? (size_t)size : SOCKIT_RECVMAX;
  lua_createtable(L, (int)maxfds, 0);
  iov.iov_base = lua_newuserdatauv(L, iov.iov_len, 0);
  sockit_startwait(L, &w, s->timeout);
  do {
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = maxfds > 0 ? c.buf : NULL;
    msg.msg_controllen = maxfds > 0 ? CMSG_SPACE(maxfds * sizeof(int)) : 0;
    got = recvmsg(s->fd, &msg, MSG_CMSG_CLOEXEC | SOCKIT_DONTWAIT(s));
  } while (got < 0 && sockit_retry(s, &w, errno, POLLIN));
  if (got < 0) return sockit_fail(L, w.err);
  lua_pushvalue(L, -2);
  cut = takefds(L, &msg, (int)maxfds);
  lua_pop(L, 1);
  lua_pushlstring(L, (const char *)iov.iov_base, (size_t)got);
  lua_replace(L, -2);  /* the data where the scratch block was */
  lua_insert(L, -2);   /* data, fds */
  if (!cut && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return 2;
  lua_pushboolean(L, 1);
  return 3;
}


/* closefd(fd) -> true: closes a plain descriptor, as recvmsg gives */
static int l_closefd (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, 0 <= fd && fd <= INT_MAX, 1, "invalid descriptor");
  if (close((int)fd) != 0) return sockit_fail(L, errno);
  return pushtrue(L);
}


/*
** The descriptor of the file at 'arg': an open Lua file (its pending
** writes flushed first), or -1 for a path, which the caller opens once
** every argument is checked.
*/
static int filefd (lua_State *L, int arg) {
  luaL_Stream *p;
  if (lua_type(L, arg) == LUA_TSTRING) return -1;
  p = (luaL_Stream *)luaL_checkudata(L, arg, LUA_FILEHANDLE);
  luaL_argcheck(L, p->closef != NULL, arg, "attempt to use a closed file");
  fflush(p->f);
  return fileno(p->f);
}


static lua_Integer checkrange (lua_State *L, int arg, const char *what) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 0, arg, what);
  return n;
}


/*
** sendfile(s, file, offset, count) -> bytes sent, 0 at the file's end:
** one sendfile(2) from the file (a path or an open Lua file) at offset;
** the file's own position does not move.
*/
static int l_sendfile (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  int fd = filefd(L, 2);
  off_t off = (off_t)checkrange(L, 3, "offset must not be negative");
  lua_Integer count = checkrange(L, 4, "count must not be negative");
  int owned = fd < 0, err;
  sockit_Wait w;
  ssize_t n;
  if (owned && (fd = open(lua_tostring(L, 2), O_RDONLY | O_CLOEXEC)) < 0)
    return sockit_fail(L, errno);
  if (count > 0x7ffff000) count = 0x7ffff000;  /* the most Linux sends */
  sockit_startwait(L, &w, s->timeout);
  if ((w.err = sockit_prewait(s, &w, POLLOUT)) != 0) n = -1;
  else do n = sendfile(s->fd, fd, &off, (size_t)count);
  while (n < 0 && sockit_retry(s, &w, errno, POLLOUT));
  err = w.err;
  if (owned) close(fd);
  if (n < 0) return sockit_fail(L, err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/*
** The address of an entry, at 'idx' (and idx + 1), checked so that
** sockit_toaddr cannot raise: its raise would name a stack slot, not
** argument 2.
*/
static void checkaddr (lua_State *L, int idx, int family) {
  size_t len;
  int isint;
  const char *p;
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_argerror(L, 2, "an entry's host or path must be a string");
  p = lua_tolstring(L, idx, &len);
  if (family == AF_UNIX) {
    if (len > (size_t)SOCKIT_PATHMAX || (len > 0 && memchr(p + 1, 0, len - 1)))
      luaL_argerror(L, 2, "an entry's path is too long or has a zero byte");
  }
  else {
    lua_Integer port = lua_tointegerx(L, idx + 1, &isint);
    if (lua_type(L, idx + 1) != LUA_TNUMBER || !isint || port < 0
        || port > 65535)
      luaL_argerror(L, 2, "an entry's port must be an integer 0 to 65535");
  }
}


/* the address of the entry before, to reuse for an entry naming it too;
   the name is copied, since Lua code (a metamethod) may run meanwhile */
typedef struct Last {
  size_t len;        /* of the name; 0: none yet */
  char host[64];
  lua_Integer port;
  const sockit_Addr *a;
  socklen_t alen;
} Last;


/*
** The address {host, port} or {path} at 'idx' into 'a': the one of the
** entry before when it names the same (most lists go to one peer or a
** few: parsing each address was over a third of sendmany's CPU time
** outside the kernel, perf).
** Returns 0 or a getaddrinfo code.
*/
static int toaddr (lua_State *L, int idx, const sockit_Socket *s,
                   sockit_Addr *a, socklen_t *len, Last *last) {
  size_t n;
  const char *host = lua_tolstring(L, idx, &n);
  lua_Integer port = lua_tointeger(L, idx + 1);
  int err;
  if (n > 0 && n == last->len && port == last->port
      && memcmp(host, last->host, n) == 0) {
    memcpy(a, last->a, sizeof *a);
    *len = last->alen;
    return 0;
  }
  err = sockit_toaddr(L, idx, s->family, 0, a, len);
  last->len = 0;
  if (err == 0 && n < sizeof last->host) {
    memcpy(last->host, host, n);
    last->len = n;
    last->port = port;
    last->a = a;
    last->alen = *len;
  }
  return err;
}


/*
** Fill message 'm' from the entry {data [, host, port | path]} on top
** of the stack, which stays there (its data is used in place); the
** address goes into 'a'. Returns 0 or a getaddrinfo code.
*/
static int setentry (lua_State *L, sockit_Socket *s, struct mmsghdr *m,
                     struct iovec *iov, sockit_Addr *a, Last *last) {
  int t = lua_gettop(L), err = 0;
  luaL_argcheck(L, lua_type(L, t) == LUA_TTABLE, 2,
                "list of {data, address} tables expected");
  luaL_argcheck(L, lua_geti(L, t, 1) == LUA_TSTRING, 2,
                "an entry's data must be a string");
  iov->iov_base = bytes(lua_tolstring(L, -1, &iov->iov_len));
  memset(m, 0, sizeof *m);
  m->msg_hdr.msg_iov = iov;
  m->msg_hdr.msg_iovlen = 1;
  lua_geti(L, t, 2);
  lua_geti(L, t, 3);
  if (!lua_isnil(L, t + 2)) {
    socklen_t len;
    checkaddr(L, t + 2, s->family);
    err = toaddr(L, t + 2, s, a, &len, last);
    m->msg_hdr.msg_name = a;
    m->msg_hdr.msg_namelen = len;
  }
  lua_pop(L, 3);
  return err;
}


/*
** Datagrams that UDP's segmentation offload can send (UDP_SEGMENT): n of
** them, 2 to MAXSEGS, to one address, all of one length but the last,
** which may be shorter. One sendmsg then carries them down the network
** stack once, and the kernel (or the network card) cuts them apart: on
** loopback, 512-byte datagrams 64 a call cost the sender a quarter of
** the CPU time that sendmmsg does (make bench).
*/
static int segmentable (const sockit_Socket *s, const struct mmsghdr *m,
                        int n) {
  const struct msghdr *h0 = &m[0].msg_hdr;
  size_t seg = h0->msg_iov->iov_len, total = 0;
  int i;
  if (s->type != SOCK_DGRAM || s->family == AF_UNIX || n < 2 || n > MAXSEGS
      || seg == 0 || seg > MAXSEGLEN)
    return 0;
  for (i = 0; i < n; i++) {
    const struct msghdr *h = &m[i].msg_hdr;
    size_t len = h->msg_iov->iov_len;
    if (len != seg && (i < n - 1 || len == 0 || len > seg)) return 0;
    if (h->msg_namelen != h0->msg_namelen || (h->msg_name != h0->msg_name
        && memcmp(h->msg_name, h0->msg_name, h0->msg_namelen) != 0))
      return 0;
    total += len;
  }
  return total <= MAXGSO;
}


/* failures of a segmented send that sendmmsg may not have: no offload
   here (an old kernel, a route's smaller MTU), a full buffer (sendmmsg
   can send the first datagrams), or an interrupted wait */
static int unsegmented (int err) {
  switch (err) {
    case EAGAIN: case EINTR: case EINVAL: case EIO: case EMSGSIZE:
    case ENOBUFS: case ENOMEM: case ENOPROTOOPT: case EOPNOTSUPP:
      return 1;
    default:
      return 0;
  }
}


/*
** The n segmentable datagrams of 'm' (their iovecs consecutive) in one
** sendmsg: 0 when sent, else its errno.
*/
static int sendsegments (const sockit_Socket *s, const struct mmsghdr *m,
                         int n) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(uint16_t))];
  } c;
  struct msghdr msg = m[0].msg_hdr;
  uint16_t seg = (uint16_t)msg.msg_iov->iov_len;
  memset(&c, 0, sizeof c);
  c.h.cmsg_level = SOL_UDP;
  c.h.cmsg_type = UDP_SEGMENT;
  c.h.cmsg_len = CMSG_LEN(sizeof seg);
  memcpy(CMSG_DATA(&c.h), &seg, sizeof seg);
  msg.msg_iovlen = (size_t)n;
  msg.msg_control = c.buf;
  msg.msg_controllen = sizeof c.buf;
  return sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? errno : 0;
}


/* the length of the list at 2, 1 to MAXBATCH */
static int checklist (lua_State *L) {
  lua_Integer n;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = luaL_len(L, 2);
  luaL_argcheck(L, 1 <= n && n <= MAXBATCH, 2,
                "list of 1 to 1024 datagrams expected");
  return (int)n;
}


/*
** Room for n messages, then 'naddr' addresses, then n iovecs: these are
** consecutive, so a segmented send gathers the datagrams where they lie.
*/
static struct mmsghdr *newmsgs (lua_State *L, int n, int naddr) {
  return (struct mmsghdr *)scratch(L, (size_t)n * (sizeof(struct mmsghdr)
    + sizeof(struct iovec)) + (size_t)naddr * sizeof(sockit_Addr));
}


/*
** The n messages of 'm' from the list at 2 of {data, host, port},
** {data, path} or {data}, each with its own address after the messages.
** Returns 0 or a getaddrinfo code.
*/
static int setentries (lua_State *L, sockit_Socket *s,
                       struct mmsghdr *m, int n) {
  sockit_Addr *a = (sockit_Addr *)(m + n);
  struct iovec *iov = (struct iovec *)(a + n);
  Last last;
  int i, err = 0;
  last.len = 0;
  for (i = 0; i < n && err == 0; i++) {
    lua_geti(L, 2, i + 1);
    err = setentry(L, s, m + i, iov + i, a + i, &last);
    lua_pop(L, 1);  /* the list holds the entry and its data */
  }
  return err;
}


/*
** The n messages of 'm' from the list at 2 of strings, all to the
** address at 3 (none: the connected peer). The strings stay on the
** stack while they are sent. No table, address or comparison per
** datagram: with a list of {data, host, port} tables, those were three
** fifths of sendmany's instructions (callgrind).
** Returns 0 or a getaddrinfo code.
*/
static int setstrings (lua_State *L, sockit_Socket *s, struct mmsghdr *m,
                       int n, sockit_Addr *a) {
  struct iovec *iov = (struct iovec *)(m + n);
  socklen_t len = 0;
  int i, err = 0;
  if (!lua_isnil(L, 3) || !lua_isnil(L, 4))
    err = sockit_toaddr(L, 3, s->family, 0, a, &len);
  luaL_checkstack(L, n, "too many datagrams");
  for (i = 0; i < n; i++) {
    struct msghdr *h = &m[i].msg_hdr;
    luaL_argcheck(L, lua_geti(L, 2, i + 1) == LUA_TSTRING, 2,
                  "list of strings expected");
    iov[i].iov_base = bytes(lua_tolstring(L, -1, &iov[i].iov_len));
    h->msg_name = len > 0 ? a : NULL;
    h->msg_namelen = len;
    h->msg_iov = iov + i;
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
  }
  return err;
}


/* whether the list at 2 is of strings (to the address at 3 if any) */
static int strings (lua_State *L) {
  int t;
  if (!lua_isnil(L, 3) || !lua_isnil(L, 4)) return 1;
  t = lua_rawgeti(L, 2, 1);
  lua_pop(L, 1);
  return t == LUA_TSTRING;
}


/*
** The n messages of 'm' in one system call: one segmented send where the
** kernel can (above), else, or when that fails for want of offload or
** room, by sendmmsg.
*/
static int sendmsgs (lua_State *L, sockit_Socket *s, struct mmsghdr *m,
                     int n) {
  sockit_Wait w;
  int sent;
  if (segmentable(s, m, n)) {
    int err = sendsegments(s, m, n);
    if (err == 0) return pushcount(L, n);
    if (!unsegmented(err)) return sockit_fail(L, err);
  }
  sockit_startwait(L, &w, s->timeout);
  do sent = sendmmsg(s->fd, m, (unsigned int)n,
                     MSG_NOSIGNAL | SOCKIT_DONTWAIT(s));
  while (sent < 0 && sockit_retry(s, &w, errno, POLLOUT));
  if (sent < 0) return sockit_fail(L, w.err);
  return pushcount(L, sent);
}


/*
** sendmmsg(s, list) -> datagrams sent: each entry of the list is {data,
** host, port}, {data, path}, or {data} on a connected socket.
** sendmmsg(s, list, host, port | path) -> the same for a list of
** strings, all to that address; sendmmsg(s, list) of strings on a
** connected socket. One system call sends them in order, and may send
** only the first ones.
*/
static int l_sendmmsg (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  int n = checklist(L), err;
  struct mmsghdr *m;
  sockit_Addr a;
  lua_settop(L, 4);  /* the scratch block goes above the address */
  if (strings(L)) {
    m = newmsgs(L, n, 0);
    err = setstrings(L, s, m, n, &a);
  }
  else {
    m = newmsgs(L, n, n);
    err = setentries(L, s, m, n);
  }
  if (err != 0) return sockit_gaifail(L, err, 0);
  return sendmsgs(L, s, m, n);
}


/* the datagram of 'm' (its bytes at 'p') as {data, host, port [, cut]} */
static void pushdatagram (lua_State *L, const struct mmsghdr *m,
                          const char *p) {
  int i, k;
  lua_createtable(L, 3, 0);  /* no hash part: "cut" is rare */
  lua_pushlstring(L, p, m->msg_len);
  lua_rawseti(L, -2, 1);
  k = sockit_pushaddr(L, (const sockit_Addr *)m->msg_hdr.msg_name,
                      m->msg_hdr.msg_namelen);
  for (i = k; i >= 1; i--) lua_rawseti(L, -1 - i, 1 + i);
  if (m->msg_hdr.msg_flags & MSG_TRUNC) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "cut");
  }
}


/* room for 'max' datagrams of 'size' bytes, the messages pointing in it */
static struct mmsghdr *newbatch (lua_State *L, int max, size_t size) {
  struct mmsghdr *m = (struct mmsghdr *)scratch(L, (size_t)max
    * (sizeof *m + sizeof(struct iovec) + sizeof(sockit_Addr) + size));
  struct iovec *iov = (struct iovec *)(m + max);
  sockit_Addr *a = (sockit_Addr *)(iov + max);
  char *p = (char *)(a + max);
  int i;
  for (i = 0; i < max; i++) {
    iov[i].iov_base = p + (size_t)i * size;
    iov[i].iov_len = size;
  }
  return m;
}


static void resetbatch (struct mmsghdr *m, int max) {
  struct iovec *iov = (struct iovec *)(m + max);
  sockit_Addr *a = (sockit_Addr *)(iov + max);
  int i;
  memset(m, 0, (size_t)max * sizeof *m);
  for (i = 0; i < max; i++) {
    m[i].msg_hdr.msg_iov = iov + i;
    m[i].msg_hdr.msg_iovlen = 1;
    m[i].msg_hdr.msg_name = a + i;
    m[i].msg_hdr.msg_namelen = sizeof *a;
  }
}


/*
** recvmmsg(s, max [, size]) -> list of {data, host, port} or {data,
** path}, with cut = true on a datagram longer than size (default 65536):
** what one system call gives, at least one datagram, at most max.
** recvmmsg(s, batch [, unmap]) -> count: the same into a batch (batch.c).
*/
static int l_recvmmsg (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  lua_Integer max;
  if (lua_type(L, 2) == LUA_TUSERDATA) return sockit_recvbatch(L, s);
  max = luaL_checkinteger(L, 2);
  lua_Integer size = luaL_optinteger(L, 3, 65536);
  struct mmsghdr *m;
  sockit_Wait w;
  int i, got;
  luaL_argcheck(L, 1 <= max && max <= MAXBATCH, 2,
                "max out of range (1 to 1024)");
  luaL_argcheck(L, 1 <= size && size <= 65536, 3,
                "size out of range (1 to 65536)");
  m = newbatch(L, (int)max, (size_t)size);
  sockit_startwait(L, &w, s->timeout);
  do {
    resetbatch(m, (int)max);
    got = recvmmsg(s->fd, m, (unsigned int)max,
                   MSG_WAITFORONE | SOCKIT_DONTWAIT(s), NULL);
  } while (got < 0 && sockit_retry(s, &w, errno, POLLIN));
  if (got < 0) return sockit_fail(L, w.err);
  lua_createtable(L, got, 0);
  for (i = 0; i < got; i++) {
    pushdatagram(L, m + i, (const char *)m[i].msg_hdr.msg_iov->iov_base);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}


const luaL_Reg sockit_msg_meth[] = {
  {"sendmsg", l_sendmsg},
  {"recvmsg", l_recvmsg},
  {"sendfile", l_sendfile},
  {"sendmmsg", l_sendmmsg},
  {"recvmmsg", l_recvmmsg},
  {NULL, NULL}
};

const luaL_Reg sockit_msg_funcs[] = {
  {"closefd", l_closefd},
  {NULL, NULL}
};
