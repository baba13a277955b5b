/*
** socket.c: the socket handle: creation, closing, timeouts, descriptors.
*/
#include "sockit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *const familynames[] = {"inet", "inet6", "unix", NULL};
static const int families[] = {AF_INET, AF_INET6, AF_UNIX};

static const char *const typenames[] = {"stream", "dgram", "seqpacket", NULL};
static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};


static const char *nameof (const char *const names[], const int values[],
                           int value) {
  int i;
  for (i = 0; names[i] != NULL; i++)
    if (values[i] == value) return names[i];
  return NULL;
}

const char *sockit_familyname (int family) {
  return nameof(familynames, families, family);
}

const char *sockit_typename (int type) {
  return nameof(typenames, types, type);
}

static int valueof (const char *const names[], const int values[],
                    const char *name) {
  int i;
  for (i = 0; names[i] != NULL; i++)
    if (strcmp(names[i], name) == 0) return values[i];
  return -1;
}

/* AF_* for a family name; -1 for an unknown one */
int sockit_family (const char *name) {
  return valueof(familynames, families, name);
}

/* SOCK_* for a type name; -1 for an unknown one */
int sockit_type (const char *name) {
  return valueof(typenames, types, name);
}

int sockit_checkfamily (lua_State *L, int arg) {
  return families[luaL_checkoption(L, arg, NULL, familynames)];
}

int sockit_checktype (lua_State *L, int arg, const char *def) {
  return types[luaL_checkoption(L, arg, def, typenames)];
}


/*
** A new handle, closed. The descriptor is created after it, so a memory
** error while making the userdata can never leak one.
*/
sockit_Socket *sockit_newsock (lua_State *L) {
  sockit_Socket *s = (sockit_Socket *)lua_newuserdatauv(L, sizeof *s, 0);
  s->fd = -1;
  s->family = AF_UNSPEC;
  s->type = 0;
  s->timeout = SOCKIT_FOREVER;
  s->watchers = 0;
  luaL_setmetatable(L, SOCKIT_SOCKET);
  return s;
}


/* the open handle at 'arg'; raises on anything else */
sockit_Socket *sockit_tosock (lua_State *L, int arg) {
  sockit_Socket *s = (sockit_Socket *)luaL_checkudata(L, arg, SOCKIT_SOCKET);
  if (s->fd < 0) luaL_argerror(L, arg, "attempt to use a closed socket");
  return s;
}


static sockit_Socket *checksock (lua_State *L) {
  return (sockit_Socket *)luaL_checkudata(L, 1, SOCKIT_SOCKET);
}


/* socket(family, type [, protocol]) -> socket */
static int l_socket (lua_State *L) {
  int family = sockit_checkfamily(L, 1);
  int type = sockit_checktype(L, 2, NULL);
  lua_Integer protocol = luaL_optinteger(L, 3, 0);
  sockit_Socket *s;
  luaL_argcheck(L, 0 <= protocol && protocol <= 0x7fffffff, 3,
                "protocol out of range");
  s = sockit_newsock(L);
  s->fd = socket(family, type | SOCK_CLOEXEC, (int)protocol);
  if (s->fd < 0) return sockit_fail(L, errno);
  s->family = family;
  s->type = type;
  return 1;
}


/* socketpair([type]) -> socket, socket */
static int l_socketpair (lua_State *L) {
  int type = sockit_checktype(L, 1, "stream");
  sockit_Socket *a = sockit_newsock(L);
  sockit_Socket *b = sockit_newsock(L);
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0)
    return sockit_fail(L, errno);
  a->fd = fds[0];
  b->fd = fds[1];
  a->family = b->family = AF_UNIX;
  a->type = b->type = type;
  return 2;
}


/* the pollers watching the socket at 1 learn it was closed */
static void unwatch (lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, SOCKIT_UNWATCH);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
}


/*
** close(s) -> true; also __gc and __close, so it never raises (but an
** onclose of a poller watching it may)
*/
static int l_close (lua_State *L) {
  sockit_Socket *s = checksock(L);
  if (s->fd >= 0) {
    close(s->fd);  /* the descriptor is gone even when close fails */
    s->fd = -1;
    if (s->watchers > 0) unwatch(L);
  }
  lua_pushboolean(L, 1);
  return 1;
}


static int l_tostring (lua_State *L) {
  sockit_Socket *s = checksock(L);
  const char *family = sockit_familyname(s->family);
  const char *type = sockit_typename(s->type);
  if (s->fd < 0)
    lua_pushliteral(L, SOCKIT_SOCKET " (closed)");
  else
    lua_pushfstring(L, SOCKIT_SOCKET " (%s %s, fd %d)",
                    family ? family : "?", type ? type : "?", s->fd);
  return 1;
}


/* fileno(s) -> descriptor, -1 when closed */
static int l_fileno (lua_State *L) {
  lua_pushinteger(L, checksock(L)->fd);
  return 1;
}


/* detach(s) -> descriptor, left open; the handle becomes closed */
static int l_detach (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  lua_pushinteger(L, s->fd);
  s->fd = -1;
  return 1;
}


static int getint (int fd, int level, int name, int *value) {
  socklen_t len = sizeof *value;
  return getsockopt(fd, level, name, value, &len);
}


/* fromfd(fd) -> socket, taking ownership of a socket descriptor */
static int l_fromfd (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  sockit_Socket *s;
  int type, family, flags;
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "invalid descriptor");
  s = sockit_newsock(L);
  if (getint((int)fd, SOL_SOCKET, SO_TYPE, &type) != 0
      || getint((int)fd, SOL_SOCKET, SO_DOMAIN, &family) != 0
      || (flags = fcntl((int)fd, F_GETFL)) < 0
      || fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0)
    return sockit_fail(L, errno);
  s->fd = (int)fd;
  s->family = family;
  s->type = type;
  s->timeout = (flags & O_NONBLOCK) ? SOCKIT_NOWAIT : SOCKIT_FOREVER;
  return 1;
}


/* type(x) -> "socket", "closed socket" or nil, as io.type */
static int l_type (lua_State *L) {
  sockit_Socket *s;
  luaL_checkany(L, 1);
  s = (sockit_Socket *)luaL_testudata(L, 1, SOCKIT_SOCKET);
  if (s == NULL)
    luaL_pushfail(L);
  else if (s->fd < 0)
    lua_pushliteral(L, "closed socket");
  else
    lua_pushliteral(L, "socket");
  return 1;
}


/* clear or set O_NONBLOCK on 'fd'; 0, or -1 with errno */
int sockit_setblocking (int fd, int blocking) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  return fcntl(fd, F_SETFL, flags);
}


/*
** settimeout(s, t) -> s. The descriptor is O_NONBLOCK only while a
** timeout is set; fcntl runs only when that changes, so the layer above
** may set the time left before every call.
*/
static int l_settimeout (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  double t = sockit_opttimeout(L, 2, SOCKIT_FOREVER);
  if ((t == SOCKIT_FOREVER) != (s->timeout == SOCKIT_FOREVER)
      && sockit_setblocking(s->fd, t == SOCKIT_FOREVER) != 0)
    return sockit_fail(L, errno);
  s->timeout = t;
  lua_settop(L, 1);
  return 1;
}


/* gettimeout(s) -> seconds or nil */
static int l_gettimeout (lua_State *L) {
  sockit_Socket *s = sockit_tosock(L, 1);
  if (s->timeout == SOCKIT_FOREVER) lua_pushnil(L);
  else lua_pushnumber(L, s->timeout);
  return 1;
}


/* shutdown(s [, how]) -> true */
static int l_shutdown (lua_State *L) {
  static const char *const hownames[] = {"r", "w", "rw", NULL};
  static const int hows[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
  sockit_Socket *s = sockit_tosock(L, 1);
  int how = hows[luaL_checkoption(L, 2, "rw", hownames)];
  if (shutdown(s->fd, how) != 0) return sockit_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


const luaL_Reg sockit_socket_meth[] = {
  {"close", l_close},
  {"fileno", l_fileno},
  {"detach", l_detach},
  {"settimeout", l_settimeout},
  {"gettimeout", l_gettimeout},
  {"shutdown", l_shutdown},
  {NULL, NULL}
};

const luaL_Reg sockit_socket_funcs[] = {
  {"socket", l_socket},
  {"socketpair", l_socketpair},
  {"fromfd", l_fromfd},
  {"type", l_type},
  {NULL, NULL}
};

const luaL_Reg sockit_socket_metameth[] = {
  {"__gc", l_close},
  {"__close", l_close},
  {"__tostring", l_tostring},
  {NULL, NULL}
};

