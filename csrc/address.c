/*
** address.c: socket addresses to and from Lua (host, port | path), and
** the name services: getaddrinfo, getnameinfo and the classic lookups.
*/
#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#define ADDRINFO_BOX  "sockit.addrinfo"


/* a name with a zero byte inside names nothing: it fails as unknown */
static int zeroed (lua_State *L, int arg) {
  size_t n;
  const char *name = lua_tolstring(L, arg, &n);
  return name != NULL && strlen(name) != n;
}


static int checkport (lua_State *L, int arg) {
  lua_Integer port = luaL_checkinteger(L, arg);
  luaL_argcheck(L, 0 <= port && port <= 65535, arg, "port out of range");
  return (int)port;
}


/* a Unix path; a leading zero byte names the abstract namespace */
static void topath (lua_State *L, int arg, sockit_Addr *a, socklen_t *len) {
  size_t n;
  const char *path = luaL_checklstring(L, arg, &n);
  luaL_argcheck(L, n <= SOCKIT_PATHMAX, arg, "path too long");
  luaL_argcheck(L, n < 2 || memchr(path + 1, '\0', n - 1) == NULL, arg,
                "path contains a zero byte");
  memset(a, 0, sizeof *a);
  a->un.sun_family = AF_UNIX;
  memcpy(a->un.sun_path, path, n);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  if (n > 0 && path[0] != '\0' && n < sizeof a->un.sun_path)
    (*len)++;  /* the terminating zero of a file system path */
}


static void setport (sockit_Addr *a, int port) {
  if (a->sa.sa_family == AF_INET) a->in.sin_port = htons((uint16_t)port);
  else a->in6.sin6_port = htons((uint16_t)port);
}


/* the wildcard address of 'family', for "*" */
static socklen_t wildcard (int family, sockit_Addr *a) {
  memset(a, 0, sizeof *a);
  a->sa.sa_family = (sa_family_t)(family == AF_INET6 ? AF_INET6 : AF_INET);
  if (family == AF_INET6) {
    a->in6.sin6_addr = in6addr_any;
    return sizeof a->in6;
  }
  a->in.sin_addr.s_addr = htonl(INADDR_ANY);
  return sizeof a->in;
}


/*
** A numeric host. inet_pton covers the common forms; getaddrinfo the
** rest (IPv6 scope ids) and gives the error code for anything else.
*/
static int tohost (const char *host, int family, sockit_Addr *a,
                   socklen_t *len) {
  struct addrinfo hints, *ai;
  int err;
  memset(a, 0, sizeof *a);
  if (family != AF_INET6 && inet_pton(AF_INET, host, &a->in.sin_addr) == 1) {
    a->in.sin_family = AF_INET;
    *len = sizeof a->in;
    return 0;
  }
  if (family != AF_INET && inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
    a->in6.sin6_family = AF_INET6;
    *len = sizeof a->in6;
    return 0;
  }
  if (family == AF_INET6 && inet_pton(AF_INET, host, &a->in6.sin6_addr.s6_addr[12]) == 1) {
    a->in6.sin6_family = AF_INET6;  /* v4-mapped: ::ffff:a.b.c.d */
    a->in6.sin6_addr.s6_addr[10] = a->in6.sin6_addr.s6_addr[11] = 0xff;
    *len = sizeof a->in6;
    return 0;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_flags = AI_NUMERICHOST;
  err = getaddrinfo(host, NULL, &hints, &ai);
  if (err != 0) return err;
  memcpy(a, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}


/*
** The address at 'arg' for a socket of 'family': host and port (at
** arg + 1), or a Unix path. Raises on a malformed argument; returns 0 or
** a getaddrinfo code for a host that is not a numeric address.
** 'passive' allows the wildcard "*".
*/
int sockit_toaddr (lua_State *L, int arg, int family, int passive,
                   sockit_Addr *a, socklen_t *len) {
  const char *host;
  int port, err = 0;
  if (family == AF_UNIX) {
    topath(L, arg, a, len);
    return 0;
  }
  host = luaL_checkstring(L, arg);
  port = checkport(L, arg + 1);
  if (zeroed(L, arg))
    err = EAI_NONAME;
  else if (strcmp(host, "*") != 0)
    err = tohost(host, family, a, len);
  else if (passive)
    *len = wildcard(family, a);
  else
    err = EAI_NONAME;  /* the wildcard is for bind only */
  if (err == 0) setport(a, port);
  return err;
}


/*
** Dotted IPv4 by hand: inet_ntop goes through sprintf, which was a tenth
** of the CPU time of a UDP receiver (perf, make bench).
*/
static const char *dotted (const struct in_addr *in, char *buf) {
  const unsigned char *b = (const unsigned char *)&in->s_addr;
  char *p = buf;
  int i;
  for (i = 0; i < 4; i++) {
    if (b[i] >= 100) *p++ = (char)('0' + b[i] / 100);
    if (b[i] >= 10) *p++ = (char)('0' + b[i] / 10 % 10);
    *p++ = (char)('0' + b[i] % 10);
    *p++ = i < 3 ? '.' : '\0';
  }
  return buf;
}


static const char *hostname (const sockit_Addr *a, char *buf, size_t size) {
  if (a->sa.sa_family == AF_INET)
    return dotted(&a->in.sin_addr, buf);
  if (a->in6.sin6_scope_id == 0)
    return inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, (socklen_t)size);
  if (getnameinfo(&a->sa, sizeof a->in6, buf, (socklen_t)size, NULL, 0,
                  NI_NUMERICHOST) != 0)  /* it adds the %scope */
    return NULL;
  return buf;
}


/* push host, port or a Unix path; returns how many values */
int sockit_pushaddr (lua_State *L, const sockit_Addr *a, socklen_t len) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t pathoff = offsetof(struct sockaddr_un, sun_path);
  if (len < sizeof(sa_family_t) || a->sa.sa_family == AF_UNIX) {
    const char *path = a->un.sun_path;
    size_t n = len > pathoff ? len - pathoff : 0;
    if (n > 0 && path[0] != '\0') n = strnlen(path, n);
    lua_pushlstring(L, path, n);
    return 1;
  }
  if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, hostname(a, buf, sizeof buf));
  lua_pushinteger(L, ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port
                                                     : a->in6.sin6_port));
  return 2;
}


/* the local or (peer) the remote address of the socket at 1 */
static int pushsockaddr (lua_State *L, int peer) {
  sockit_Socket *s = sockit_tosock(L, 1);
  sockit_Addr a;
  socklen_t len = sizeof a;
  int r = peer ? getpeername(s->fd, &a.sa, &len)
               : getsockname(s->fd, &a.sa, &len);
  if (r != 0) return sockit_fail(L, errno);
  return sockit_pushaddr(L, &a, len);
}

/* getsockname(s) -> host, port / path */
static int l_getsockname (lua_State *L) {
  return pushsockaddr(L, 0);
}

/* getpeername(s) -> host, port / path */
static int l_getpeername (lua_State *L) {
  return pushsockaddr(L, 1);
}


/*
** An addrinfo list lives in a box on the stack: each function frees it
** once its result is built, and the box's __gc frees it when building the
** result raised (a memory error). No to-be-closed variable: Lua 5.1-5.3.
*/
static void dropbox (struct addrinfo **box) {
  if (*box != NULL) freeaddrinfo(*box);
  *box = NULL;
}

static int freebox (lua_State *L) {
  dropbox((struct addrinfo **)lua_touserdata(L, 1));
  return 0;
}

static struct addrinfo **newbox (lua_State *L) {
  struct addrinfo **box = (struct addrinfo **)lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, ADDRINFO_BOX)) {
    lua_pushcfunction(L, freebox);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return box;
}


static int boolfield (lua_State *L, int t, const char *key) {
  int v;
  lua_getfield(L, t, key);
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_argerror(L, t, lua_pushfstring(L, "field '%s' must be a boolean",
                                        key));
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}


/* every key of the table at 't' is one of 'names'; raise otherwise */
static void checkkeys (lua_State *L, int t, const char *const names[]) {
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    int i;
    for (i = 0; names[i] != NULL && strcmp(names[i], key) != 0; i++)
      ;
    if (names[i] == NULL)
      luaL_argerror(L, t, lua_pushfstring(L, "unknown field '%s'",
                                          luaL_tolstring(L, -2, NULL)));
    lua_pop(L, 1);
  }
}


/* the field 'key' of the table at 't', a name that 'value' knows */
static int namefield (lua_State *L, int t, const char *key,
                      int (*value) (const char *), int def) {
  int v = def;
  if (lua_getfield(L, t, key) != LUA_TNIL) {
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if ((v = value(name)) < 0)
      luaL_argerror(L, t, lua_pushfstring(L, "invalid %s '%s'", key,
                                          luaL_tolstring(L, -1, NULL)));
  }
  lua_pop(L, 1);
  return v;
}


static void checkhints (lua_State *L, int t, struct addrinfo *hints) {
  static const char *const keys[] = {"family", "type", "passive", "numeric",
                                     "canonname", NULL};
  memset(hints, 0, sizeof *hints);
  hints->ai_family = AF_UNSPEC;
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  checkkeys(L, t, keys);
  hints->ai_family = namefield(L, t, "family", sockit_family, AF_UNSPEC);
  hints->ai_socktype = namefield(L, t, "type", sockit_type, 0);
  if (boolfield(L, t, "passive")) hints->ai_flags |= AI_PASSIVE;
  if (boolfield(L, t, "numeric")) hints->ai_flags |= AI_NUMERICHOST;
  if (boolfield(L, t, "canonname")) hints->ai_flags |= AI_CANONNAME;
}


/* the service argument: nil, a port number, or a name */
static const char *checkservice (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return NULL;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_pushfstring(L, "%d", checkport(L, arg));
    lua_replace(L, arg);
  }
  return luaL_checkstring(L, arg);
}


static void setfield (lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}


static void pushentry (lua_State *L, const struct addrinfo *ai) {
  lua_createtable(L, 0, 6);
  setfield(L, "family", sockit_familyname(ai->ai_family));
  setfield(L, "type", sockit_typename(ai->ai_socktype));
  lua_pushinteger(L, ai->ai_protocol);
  lua_setfield(L, -2, "protocol");
  sockit_pushaddr(L, (const sockit_Addr *)(void *)ai->ai_addr, ai->ai_addrlen);
  lua_setfield(L, -3, "port");
  lua_setfield(L, -2, "host");
  if (ai->ai_canonname != NULL) setfield(L, "canonname", ai->ai_canonname);
}


static int usable (const struct addrinfo *ai) {
  return (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
         && (ai->ai_socktype == SOCK_STREAM || ai->ai_socktype == SOCK_DGRAM
             || ai->ai_socktype == SOCK_SEQPACKET);
}


/* push the list of entries for 'res' */
void sockit_pushaddrinfo (lua_State *L, const struct addrinfo *res) {
  int n = 0;
  lua_newtable(L);
  for (; res != NULL; res = res->ai_next) {
    if (!usable(res)) continue;  /* raw entries */
    pushentry(L, res);
    lua_rawseti(L, -2, ++n);
  }
}


/*
** The arguments host, service [, hints] of getaddrinfo and resolve.
** Raises on malformed ones; returns 0 or the getaddrinfo code for names
** that cannot exist.
*/
int sockit_checkquery (lua_State *L, const char **host, const char **service,
                       struct addrinfo *hints) {
  *host = luaL_optstring(L, 1, NULL);
  *service = checkservice(L, 2);
  checkhints(L, 3, hints);
  if (zeroed(L, 1)) return EAI_NONAME;
  if (zeroed(L, 2)) return EAI_SERVICE;
  return 0;
}


/* getaddrinfo(host, service [, hints]) -> list of entries */
static int l_getaddrinfo (lua_State *L) {
  const char *host, *service;
  struct addrinfo hints, **box;
  int err = sockit_checkquery(L, &host, &service, &hints);
  if (err != 0) return sockit_gaifail(L, err, 0);
  box = newbox(L);
  err = getaddrinfo(host, service, &hints, box);
  if (err != 0) return sockit_gaifail(L, err, errno);
  sockit_pushaddrinfo(L, *box);
  dropbox(box);
  return 1;
}


static int niflags (lua_State *L, int t) {
  static const char *const keys[] = {"numerichost", "numericserv", "namereqd",
                                     "dgram", NULL};
  static const int flags[] = {NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD,
                              NI_DGRAM};
  int i, f = 0;
  if (lua_isnoneornil(L, t)) return 0;
  luaL_checktype(L, t, LUA_TTABLE);
  checkkeys(L, t, keys);
  for (i = 0; keys[i] != NULL; i++)
    if (boolfield(L, t, keys[i])) f |= flags[i];
  return f;
}


/* getnameinfo(host, port [, flags]) -> hostname, service */
static int l_getnameinfo (lua_State *L) {
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  sockit_Addr a;
  socklen_t len;
  int err = sockit_toaddr(L, 1, AF_UNSPEC, 0, &a, &len);
  int flags = niflags(L, 3);
  if (err != 0) return sockit_gaifail(L, err, 0);
  err = getnameinfo(&a.sa, len, host, sizeof host, serv, sizeof serv, flags);
  if (err != 0) return sockit_gaifail(L, err, errno);
  lua_pushstring(L, host);
  lua_pushstring(L, serv);
  return 2;
}


/* gethostbyname(name) -> the first IPv4 address of name */
static int l_gethostbyname (lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  struct addrinfo hints, **box = newbox(L);
  char buf[INET_ADDRSTRLEN];
  int err;
  if (zeroed(L, 1)) return sockit_gaifail(L, EAI_NONAME, 0);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  err = getaddrinfo(name, NULL, &hints, box);
  if (err != 0) return sockit_gaifail(L, err, errno);
  lua_pushstring(L, hostname((const sockit_Addr *)(void *)(*box)->ai_addr,
                             buf, sizeof buf));
  dropbox(box);
  return 1;
}


/* getservbyname(name [, "tcp"/"udp"]) -> port number */
static int l_getservbyname (lua_State *L) {
  static const char *const protos[] = {"tcp", "udp", NULL};
  static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  const char *name = luaL_checkstring(L, 1);
  struct addrinfo hints, **box;
  int err;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = types[luaL_checkoption(L, 2, "tcp", protos)];
  hints.ai_flags = AI_PASSIVE;
  if (zeroed(L, 1)) return sockit_gaifail(L, EAI_SERVICE, 0);
  box = newbox(L);
  err = getaddrinfo(NULL, name, &hints, box);
  if (err != 0) return sockit_gaifail(L, err, errno);
  lua_pushinteger(L, ntohs(((struct sockaddr_in *)(void *)(*box)->ai_addr)->sin_port));
  dropbox(box);
  return 1;
}


/* gethostname() -> string */
static int l_gethostname (lua_State *L) {
  char buf[256];
  if (gethostname(buf, sizeof buf) != 0) return sockit_fail(L, errno);
  buf[sizeof buf - 1] = '\0';
  lua_pushstring(L, buf);
  return 1;
}


const luaL_Reg sockit_address_meth[] = {
  {"getsockname", l_getsockname},
  {"getpeername", l_getpeername},
  {NULL, NULL}
};

const luaL_Reg sockit_address_funcs[] = {
  {"getaddrinfo", l_getaddrinfo},
  {"getnameinfo", l_getnameinfo},
  {"gethostbyname", l_gethostbyname},
  {"getservbyname", l_getservbyname},
  {"gethostname", l_gethostname},
  {NULL, NULL}
};
