/*
** io.c: connecting, accepting, sending, receiving, waiting; each call is
** one system call, plus the poll that honours the socket's timeout.
*/
#include "sockit.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>


/*
** After a call of 'w' failed with 'err': true to try it again, else
** false with the errno value to report in w->err. A socket with a
** timeout (or without one, where SOCKIT_DONTWAIT applies) waits here
** until it is ready or the deadline passes; a signal retries, unless it
** interrupts the call (see sockit_interrupted).
*/
static int retry (sockit_Socket *s, sockit_Wait *w, int err, int events) {
  if (err == EAGAIN && s->timeout != SOCKIT_NOWAIT)
    err = sockit_waitfd(s->fd, events, w);
  else if (err == EINTR && !sockit_interrupted(w)) err = 0;
  w->err = err;
  return err == 0;
}


/* retry for the calls of the other files (msg.c) */
int sockit_retry (sockit_Socket *s, sockit_Wait *w, int err, int events) {
  return retry(s, w, err, events);
}


/*
** accept4 and sendfile take no MSG_DONTWAIT: where it applies, they wait
** in poll first, then find the socket ready (unless another process
** sharing it took what was there: then they block as on 5.4).
*/
int sockit_prewait (sockit_Socket *s, sockit_Wait *w, int events) {
  return SOCKIT_DONTWAIT(s) ? sockit_waitfd(s->fd, events, w) : 0;
}


static int pushtrue (lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}


/*
** The userdata at 'arg' of a function of sockit_hot_meth when its
** metatable is the function's upvalue 'up', else NULL: the test
** luaL_checkudata makes, without looking the name up in the registry
** (callgrind: 130 instructions less a call, of 850 in a 1-byte send or
** recv).
*/
static void *hotudata (lua_State *L, int arg, int up) {
  void *p = lua_touserdata(L, arg);
  if (p != NULL && lua_getmetatable(L, arg)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(up));
    lua_pop(L, 1);
    if (same) return p;
  }
  return NULL;
}


/*
** The open socket at 1 (upvalue 2 is the socket metatable); anything
** else goes to sockit_tosock, which raises as for every other function.
*/
static sockit_Socket *hotsock (lua_State *L) {
  sockit_Socket *s = (sockit_Socket *)hotudata(L, 1, 2);
  return s != NULL && s->fd >= 0 ? s : sockit_tosock(L, 1);
}


static int socketerror (int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}


/*
** A Unix socket's connect to a full backlog cannot be polled for: the
** non-blocking one fails with EAGAIN at once. The kernel waits for room
** in blocking mode only, for at most SO_SNDTIMEO, which this uses.
*/
static int unixconnect (sockit_Socket *s, sockit_Wait *w,
                        const sockit_Addr *a, socklen_t len) {
  double deadline = sockit_waitdeadline(w);
  struct timeval tv = {0, 0};
  int err;
  if (sockit_setblocking(s->fd, 1) != 0) return errno;
  do {
    double left = deadline == SOCKIT_FOREVER ? 1e6 : deadline - sockit_now();
    if (left <= 0) {
      err = EAGAIN;
      break;
    }
    if (left > 1e6) left = 1e6;  /* past it the kernel waits forever */
    tv.tv_sec = (time_t)left;
    tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;  /* 0: no limit */
    if (setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
      err = errno;
    else
      err = connect(s->fd, &a->sa, len) == 0 ? 0 : errno;
  } while ((err == EINTR && !sockit_interrupted(w))
           || (err == EAGAIN && deadline == SOCKIT_FOREVER));
  tv.tv_sec = tv.tv_usec = 0;
  setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockit_setblocking(s->fd, s->timeout == SOCKIT_FOREVER);
  return err == EAGAIN ? ETIMEDOUT : err;
}


/* connect(2), O_NONBLOCK for the call where SOCKIT_DONTWAIT applies */
static int startconnect (sockit_Socket *s, const sockit_Addr *a,
                         socklen_t len) {
  int err;
  if (!SOCKIT_DONTWAIT(s)) return connect(s->fd, &a->sa, len) == 0 ? 0 : errno;
  if (sockit_setblocking(s->fd, 0) != 0) return errno;
  err = connect(s->fd, &a->sa, len) == 0 ? 0 : errno;
  sockit_setblocking(s->fd, 1);
  return err;
}


/* connect(s, host, port) / connect(s, path) -> true */
static int l_connect (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Addr a;
  socklen_t len;
  sockit_Wait w;
  int err = sockit_toaddr(L, 2, s->family, 0, &a, &len);
  if (err != 0) return sockit_gaifail(L, err, 0);
  sockit_startwait(L, &w, s->timeout);
  if ((err = startconnect(s, &a, len)) == 0) return pushtrue(L);
  /* the connection goes on after EINTR: wait for it as for EINPROGRESS */
  if ((err == EINPROGRESS && s->timeout != SOCKIT_NOWAIT)
      || (err == EINTR && !sockit_interrupted(&w))) {
    err = sockit_waitfd(s->fd, POLLOUT, &w);
    if (err == 0) err = socketerror(s->fd);
    else if (err == EAGAIN) err = EINPROGRESS;  /* timeout 0, after EINTR */
  }
  else if (err == EAGAIN && s->family == AF_UNIX && s->timeout != SOCKIT_NOWAIT)
    err = unixconnect(s, &w, &a, len);
  return err == 0 ? pushtrue(L) : sockit_fail(L, err);
}


/* bind(s, host, port) / bind(s, path) -> true */
static int l_bind (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Addr a;
  socklen_t len;
  int err = sockit_toaddr(L, 2, s->family, 1, &a, &len);
  if (err != 0) return sockit_gaifail(L, err, 0);
  if (bind(s->fd, &a.sa, len) != 0) return sockit_fail(L, errno);
  return pushtrue(L);
}


/* listen(s [, backlog]) -> true */
static int l_listen (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  lua_Integer backlog = luaL_optinteger(L, 2, SOMAXCONN);
  luaL_argcheck(L, backlog >= 0 && backlog <= 0x7fffffff, 2,
                "backlog out of range");
  if (listen(s->fd, (int)backlog) != 0) return sockit_fail(L, errno);
  return pushtrue(L);
}


/* accept(s) -> socket, host, port / socket, path */
static int l_accept (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Socket *c = sockit_newsock(L);
  sockit_Wait w;
  sockit_Addr a;
  socklen_t len;
  int fd;
  sockit_startwait(L, &w, s->timeout);
  if ((w.err = sockit_prewait(s, &w, POLLIN)) != 0)
    return sockit_fail(L, w.err);
  do {
    len = sizeof a;
    fd = accept4(s->fd, &a.sa, &len, SOCK_CLOEXEC);
  } while (fd < 0 && retry(s, &w, errno, POLLIN));
  if (fd < 0) return sockit_fail(L, w.err);
  c->fd = fd;
  c->family = s->family;
  c->type = s->type;
  return 1 + sockit_pushaddr(L, &a, len);
}


/*
** The bytes to send: a string (or number) or a buffer at 'arg', cut to
** the range [i, j] that follows it, as string.sub does.
*/
static const char *checkdata (lua_State *L, int arg, size_t *len) {
  int t = lua_type(L, arg);
  sockit_Buffer *b;
  const char *p;
  size_t start;
  /* a string first: the buffer's test costs a registry lookup */
  if (t == LUA_TSTRING || t == LUA_TNUMBER)
    p = lua_tolstring(L, arg, len);
  else if ((b = (sockit_Buffer *)luaL_testudata(L, arg, SOCKIT_BUFFER))) {
    p = b->data;
    *len = b->len;
  }
  else
    return (void)luaL_typeerror(L, arg, "string or buffer"), NULL;
  if (lua_gettop(L) <= arg) return p;  /* no range: all of it */
  *len = sockit_range(L, arg + 1, *len, &start);
  return p + start;
}


/* send(s, data [, i [, j]]) -> bytes sent */
static int l_send (lua_State *L) {
  sockit_Socket *s = hotsock(L);
  size_t len;
  const char *p = checkdata(L, 2, &len);
  sockit_Wait w;
  ssize_t n;
  if (len == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  sockit_startwait(L, &w, s->timeout);
  do n = send(s->fd, p, len, MSG_NOSIGNAL | SOCKIT_DONTWAIT(s));
  while (n < 0 && retry(s, &w, errno, POLLOUT));
  if (n < 0) return sockit_fail(L, w.err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/* the size argument of a receive: an integer >= 1, at most 'max' used */
static size_t checksize (lua_State *L, int arg, size_t max) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 1, arg, "size must be at least 1");
  return (size_t)n < max ? (size_t)n : max;
}


static int recvflags (lua_State *L, int arg) {
  static const char *const flagnames[] = {"peek", NULL};
  if (lua_isnoneornil(L, arg)) return 0;
  luaL_checkoption(L, arg, NULL, flagnames);
  return MSG_PEEK;
}


static ssize_t recvsome (lua_State *L, sockit_Socket *s, char *p, size_t n,
                         int flags, int *err) {
  sockit_Wait w;
  ssize_t got;
  sockit_startwait(L, &w, s->timeout);
  do got = recv(s->fd, p, n, flags | SOCKIT_DONTWAIT(s));
  while (got < 0 && retry(s, &w, errno, POLLIN));
  *err = w.err;
  return got;
}


/*
** recv(s, n [, "peek"]) -> string; "" at end of stream. Up to
** SOCKIT_SCRATCH bytes are received into the state's scratch block
** (upvalue 1, shared with recvfrom) and only those received are copied
** into the string. Measured: a string buffer of n bytes per call had the
** generational collector run a major collection every other call (8,192
** in 16,384 receives of 64 KiB; 3 this way).
*/
static int l_recv (lua_State *L) {
  sockit_Socket *s = hotsock(L);
  size_t n = checksize(L, 2, SOCKIT_RECVMAX);
  int flags = recvflags(L, 3);
  char *scratch = (char *)lua_touserdata(L, lua_upvalueindex(1));
  luaL_Buffer b;
  char *p = n <= SOCKIT_SCRATCH ? scratch : luaL_buffinitsize(L, &b, n);
  int err = 0;
  ssize_t got = recvsome(L, s, p, n, flags, &err);
  if (got < 0) return sockit_fail(L, err);
  if (p == scratch) lua_pushlstring(L, p, (size_t)got);
  else luaL_pushresultsize(&b, (size_t)got);
  return 1;
}


/* recv_into(s, reader [, n]): appends to a Stream's reader (reader.c) */
static int recvreader (lua_State *L, sockit_Socket *s, sockit_Reader *r) {
  size_t room = 0, n;
  char *p = sockit_readerspace(L, r, &room);
  int err = 0;
  ssize_t got;
  if (p == NULL) return luaL_error(L, "not enough memory");
  n = lua_isnoneornil(L, 3) ? room : checksize(L, 3, room);
  got = recvsome(L, s, p, n, 0, &err);
  if (got < 0) return sockit_fail(L, err);
  sockit_readeradd(r, (size_t)got);
  lua_pushinteger(L, (lua_Integer)got);
  return 1;
}


/*
** recv_into(s, buf [, n]) -> bytes received; 0 at end of stream. A
** buffer is filled from its start; a reader gets the bytes appended.
*/
static int l_recv_into (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Reader *r = sockit_toreader(L, 2);
  sockit_Buffer *b;
  size_t n;
  int err = 0;
  ssize_t got;
  if (r != NULL) return recvreader(L, s, r);
  b = (sockit_Buffer *)luaL_checkudata(L, 2, SOCKIT_BUFFER);
  n = lua_isnoneornil(L, 3) ? b->cap : checksize(L, 3, b->cap);
  got = recvsome(L, s, b->data, n, 0, &err);
  if (got < 0) return sockit_fail(L, err);
  b->len = (size_t)got;
  lua_pushinteger(L, (lua_Integer)got);
  return 1;
}


/*
** The room to receive into for recvn's count 'n' (0: "a"): a fill's
** worth, or for a count of SOCKIT_SCRATCH or more only the bytes still
** missing (at most SOCKIT_RECVMAX), so the next count starts empty.
*/
static size_t missing (const sockit_Reader *r, size_t n) {
  size_t left;
  if (n < SOCKIT_SCRATCH) return 0;
  left = n - sockit_readerlen(r);
  return left < SOCKIT_RECVMAX ? left : SOCKIT_RECVMAX;
}


/* the reader at 'arg' of recvn, its metatable upvalue 3 (see hotudata) */
static sockit_Reader *hotreader (lua_State *L, int arg) {
  void *r = hotudata(L, arg, 3);
  if (r == NULL) r = luaL_checkudata(L, arg, SOCKIT_READER);
  return (sockit_Reader *)r;
}


/* one receive into 'r' for recvn: bytes received, 0 at end, -1 failed */
static ssize_t fill (lua_State *L, sockit_Socket *s, sockit_Reader *r,
                     size_t n, sockit_Wait *w) {
  size_t want = missing(r, n), room = want;
  char *p = sockit_readerspace(L, r, &room);
  ssize_t got;
  if (p == NULL) return luaL_error(L, "not enough memory");
  if (want == 0) want = room;
  do got = recv(s->fd, p, want, SOCKIT_DONTWAIT(s));
  while (got < 0 && retry(s, w, errno, POLLIN));
  if (got > 0) sockit_readeradd(r, (size_t)got);
  return got;
}


/*
** A count of at most SOCKIT_SCRATCH asked of an empty reader: the first
** receive goes into the state's scratch block, asking what a fill would,
** and the count's string is made from there when it came whole; the
** bytes left over (a short receive, or those past the count) go into the
** reader. Returns as fill does, or -2 with the string pushed. Measured:
** a 64 KiB block allocated and freed per read(65536) cost 420
** instructions (callgrind).
*/
static ssize_t scratchfill (lua_State *L, sockit_Socket *s, sockit_Reader *r,
                            size_t n, sockit_Wait *w) {
  char *p = (char *)lua_touserdata(L, lua_upvalueindex(1)), *q;
  size_t left;
  ssize_t got;
  do got = recv(s->fd, p, SOCKIT_SCRATCH, SOCKIT_DONTWAIT(s));
  while (got < 0 && retry(s, w, errno, POLLIN));
  if (got <= 0) return got;
  left = (size_t)got;
  if (left >= n) {
    lua_pushlstring(L, p, n);
    p += n;
    left -= n;
  }
  if (left > 0) {
    size_t room = left;
    if ((q = sockit_readerspace(L, r, &room)) == NULL)
      return luaL_error(L, "not enough memory");
    memcpy(q, p, left);
    sockit_readeradd(r, left);
  }
  return (size_t)got >= n ? -2 : got;
}


/*
** recvn(s, reader [, n]) -> string: receives into a Stream's reader
** until it holds n unread bytes (no n: until the end of stream), then
** takes them out; a Stream's read(n) and read("a") in one call, under
** one deadline. At the end of stream: the bytes there are (for a count,
** nil if none). A failure (EAGAIN at timeout 0 too) leaves the bytes
** received in the reader, so the next call goes on from there.
*/
static int l_recvn (lua_State *L) {
  sockit_Socket *s = hotsock(L);
  sockit_Reader *r = hotreader(L, 2);
  int all = lua_isnoneornil(L, 3);
  size_t n = all ? 0 : checksize(L, 3, (size_t)-1);
  sockit_Wait w;
  ssize_t got = 1;
  sockit_startwait(L, &w, s->timeout);
  if (!all && n <= SOCKIT_SCRATCH && sockit_readerlen(r) == 0
      && (got = scratchfill(L, s, r, n, &w)) == -2)
    return 1;
  while (got > 0 && (all || sockit_readerlen(r) < n))
    got = fill(L, s, r, n, &w);
  if (got < 0) return sockit_fail(L, w.err);
  if (got == 0) n = sockit_readerlen(r);  /* the end of stream */
  if (n == 0 && !all) lua_pushnil(L);
  else sockit_readertake(L, r, n);
  return 1;
}


/* sendto(s, data, host, port) / sendto(s, data, path) -> bytes sent */
static int l_sendto (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  size_t len;
  const char *p;
  sockit_Addr a;
  socklen_t alen;
  sockit_Wait w;
  ssize_t n;
  int err;
  luaL_argexpected(L, lua_type(L, 2) == LUA_TSTRING
                   || lua_type(L, 2) == LUA_TNUMBER
                   || luaL_testudata(L, 2, SOCKIT_BUFFER), 2,
                   "string or buffer");
  err = sockit_toaddr(L, 3, s->family, 0, &a, &alen);
  if (err != 0) return sockit_gaifail(L, err, 0);
  lua_settop(L, 2);  /* no range: the address follows the data */
  p = checkdata(L, 2, &len);
  sockit_startwait(L, &w, s->timeout);
  do n = sendto(s->fd, p, len, MSG_NOSIGNAL | SOCKIT_DONTWAIT(s),
                &a.sa, alen);
  while (n < 0 && retry(s, &w, errno, POLLOUT));
  if (n < 0) return sockit_fail(L, w.err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/*
** Push the sender of 'msg', received into 'a', and true when the
** datagram was cut; returns how many values it pushed.
*/
static int pushsender (lua_State *L, const sockit_Socket *s,
                       const struct msghdr *msg, const sockit_Addr *a) {
  int count;
  if (msg->msg_namelen == 0 && s->family != AF_UNIX) {
    lua_pushnil(L);  /* a connected stream socket tells no sender */
    count = 1;
  }
  else
    count = sockit_pushaddr(L, a, msg->msg_namelen);
  if (!(msg->msg_flags & MSG_TRUNC)) return count;
  lua_pushboolean(L, 1);
  return count + 1;
}


/*
** recvfrom(s, n) -> data, host, port [, true] / data, path [, true];
** the final true says the datagram was longer than n and was cut.
*/
static int l_recvfrom (lua_State *L) {
  sockit_Socket *s = hotsock(L);
  size_t n = checksize(L, 2, SOCKIT_RECVMAX);
  char *scratch = (char *)lua_touserdata(L, lua_upvalueindex(1));
  luaL_Buffer b;
  struct iovec iov;
  struct msghdr msg;
  sockit_Addr a;
  sockit_Wait w;
  ssize_t got;
  iov.iov_base = n <= SOCKIT_SCRATCH ? scratch : luaL_buffinitsize(L, &b, n);
  iov.iov_len = n;
  sockit_startwait(L, &w, s->timeout);
  do {
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &a;
    msg.msg_namelen = sizeof a;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    got = recvmsg(s->fd, &msg, SOCKIT_DONTWAIT(s));
  } while (got < 0 && retry(s, &w, errno, POLLIN));
  if (got < 0) return sockit_fail(L, w.err);
  if (iov.iov_base == scratch) lua_pushlstring(L, scratch, (size_t)got);
  else luaL_pushresultsize(&b, (size_t)got);
  return 1 + pushsender(L, s, &msg, &a);
}


/*
** wait(s, "r"/"w"/"rw" [, timeout]) -> true. No timeout: the socket's;
** a negative one: forever.
*/
static int l_wait (lua_State *L) {
  static const char *const evnames[] = {"r", "w", "rw", NULL};
  static const int events[] = {POLLIN, POLLOUT, POLLIN | POLLOUT};
  sockit_Socket *s = sockit_tosock(L, 1);
  int ev = events[luaL_checkoption(L, 2, NULL, evnames)];
  sockit_Wait w;
  int err;
  sockit_startwait(L, &w, sockit_opttimeout(L, 3, s->timeout));
  err = sockit_waitfd(s->fd, ev, &w);
  return err == 0 ? pushtrue(L) : sockit_fail(L, err);
}


/*
** read(fd, n) -> string: one read(2) of at most n bytes from a descriptor
** number that need not be a socket (standard input, a pipe, a terminal);
** "" at end of file. It blocks as the descriptor does: wait for it with
** a poller first. A signal retries, unless it interrupts the call.
*/
static int l_read (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  size_t n = checksize(L, 2, SOCKIT_RECVMAX);
  sockit_Wait w;
  luaL_Buffer b;
  char *p;
  ssize_t got;
  luaL_argcheck(L, 0 <= fd && fd <= 0x7fffffff, 1, "invalid descriptor");
  sockit_startwait(L, &w, SOCKIT_FOREVER);
  p = luaL_buffinitsize(L, &b, n);
  do got = read((int)fd, p, n);
  while (got < 0 && errno == EINTR && !sockit_interrupted(&w));
  if (got < 0) return sockit_fail(L, errno);
  luaL_pushresultsize(&b, (size_t)got);
  return 1;
}


const luaL_Reg sockit_io_funcs[] = {
  {"read", l_read},
  {NULL, NULL}
};


const luaL_Reg sockit_io_meth[] = {
  {"connect", l_connect},
  {"bind", l_bind},
  {"listen", l_listen},
  {"accept", l_accept},
  {"recv_into", l_recv_into},
  {"sendto", l_sendto},
  {"wait", l_wait},
  {NULL, NULL}
};

/*
** The calls of a transfer loop, with three upvalues: the state's scratch
** block of SOCKIT_SCRATCH bytes, the socket metatable and the reader's.
*/
const luaL_Reg sockit_hot_meth[] = {
  {"send", l_send},
  {"recv", l_recv},
  {"recvfrom", l_recvfrom},
  {"recvn", l_recvn},
  {NULL, NULL}
};
