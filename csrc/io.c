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


/*
** After a call of 'w' failed with 'err': true to try it again, else
** false with the errno value to report in w->err. A socket with a
** timeout waits here until it is ready or the deadline passes; a signal
** retries, unless it interrupts the call (see sockit_interrupted).
*/
static int retry (sockit_Socket *s, sockit_Wait *w, int err, int events) {
  if (err == EAGAIN && s->timeout > SOCKIT_NOWAIT)
    err = sockit_waitfd(s->fd, events, w);
  else if (err == EINTR && !sockit_interrupted(w)) err = 0;
  w->err = err;
  return err == 0;
}


static int pushtrue (lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
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
    double left = deadline - sockit_now();
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
  } while (err == EINTR && !sockit_interrupted(w));
  tv.tv_sec = tv.tv_usec = 0;
  setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockit_setblocking(s->fd, 0);  /* a socket with a timeout is O_NONBLOCK */
  return err == EAGAIN ? ETIMEDOUT : err;
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
  if (connect(s->fd, &a.sa, len) == 0) return pushtrue(L);
  err = errno;
  /* the connection goes on after EINTR: wait for it as for EINPROGRESS */
  if ((err == EINPROGRESS && s->timeout != SOCKIT_NOWAIT)
      || (err == EINTR && !sockit_interrupted(&w))) {
    err = sockit_waitfd(s->fd, POLLOUT, &w);
    if (err == 0) err = socketerror(s->fd);
    else if (err == EAGAIN) err = EINPROGRESS;  /* timeout 0, after EINTR */
  }
  else if (err == EAGAIN && s->family == AF_UNIX && s->timeout > SOCKIT_NOWAIT)
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
  sockit_Buffer *b = (sockit_Buffer *)luaL_testudata(L, arg, SOCKIT_BUFFER);
  const char *p;
  size_t start;
  if (b != NULL) {
    p = b->data;
    *len = b->len;
  }
  else if (lua_type(L, arg) == LUA_TSTRING || lua_type(L, arg) == LUA_TNUMBER)
    p = lua_tolstring(L, arg, len);
  else
    return (void)luaL_typeerror(L, arg, "string or buffer"), NULL;
  *len = sockit_range(L, arg + 1, *len, &start);
  return p + start;
}


/* send(s, data [, i [, j]]) -> bytes sent */
static int l_send (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  size_t len;
  const char *p = checkdata(L, 2, &len);
  sockit_Wait w;
  ssize_t n;
  if (len == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  sockit_startwait(L, &w, s->timeout);
  do n = send(s->fd, p, len, MSG_NOSIGNAL);
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
  do got = recv(s->fd, p, n, flags);
  while (got < 0 && retry(s, &w, errno, POLLIN));
  *err = w.err;
  return got;
}


/* recv(s, n [, "peek"]) -> string; "" at end of stream */
static int l_recv (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  size_t n = checksize(L, 2, SOCKIT_RECVMAX);
  int flags = recvflags(L, 3);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n);
  int err = 0;
  ssize_t got = recvsome(L, s, p, n, flags, &err);
  if (got < 0) return sockit_fail(L, err);
  luaL_pushresultsize(&b, (size_t)got);
  return 1;
}


/* recv_into(s, buf [, n]) -> bytes received; 0 at end of stream */
static int l_recv_into (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Buffer *b = (sockit_Buffer *)luaL_checkudata(L, 2, SOCKIT_BUFFER);
  size_t n = lua_isnoneornil(L, 3) ? b->cap : checksize(L, 3, b->cap);
  int err = 0;
  ssize_t got = recvsome(L, s, b->data, n, 0, &err);
  if (got < 0) return sockit_fail(L, err);
  b->len = (size_t)got;
  lua_pushinteger(L, (lua_Integer)got);
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
  do n = sendto(s->fd, p, len, MSG_NOSIGNAL, &a.sa, alen);
  while (n < 0 && retry(s, &w, errno, POLLOUT));
  if (n < 0) return sockit_fail(L, w.err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/*
** recvfrom(s, n) -> data, host, port [, true] / data, path [, true];
** the final true says the datagram was longer than n and was cut.
*/
static int l_recvfrom (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  size_t n = checksize(L, 2, SOCKIT_RECVMAX);
  luaL_Buffer b;
  struct iovec iov;
  struct msghdr msg;
  sockit_Addr a;
  sockit_Wait w;
  ssize_t got;
  int count;
  iov.iov_base = luaL_buffinitsize(L, &b, n);
  iov.iov_len = n;
  sockit_startwait(L, &w, s->timeout);
  do {
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &a;
    msg.msg_namelen = sizeof a;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    got = recvmsg(s->fd, &msg, 0);
  } while (got < 0 && retry(s, &w, errno, POLLIN));
  if (got < 0) return sockit_fail(L, w.err);
  luaL_pushresultsize(&b, (size_t)got);
  if (msg.msg_namelen == 0 && s->family != AF_UNIX) {
    lua_pushnil(L);  /* a connected stream socket tells no sender */
    count = 2;
  }
  else
    count = 1 + sockit_pushaddr(L, &a, msg.msg_namelen);
  if (msg.msg_flags & MSG_TRUNC) {
    lua_pushboolean(L, 1);
    count++;
  }
  return count;
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


const luaL_Reg sockit_io_meth[] = {
  {"connect", l_connect},
  {"bind", l_bind},
  {"listen", l_listen},
  {"accept", l_accept},
  {"send", l_send},
  {"recv", l_recv},
  {"recv_into", l_recv_into},
  {"sendto", l_sendto},
  {"recvfrom", l_recvfrom},
  {"wait", l_wait},
  {NULL, NULL}
};
