/*
** options.c: setoption and getoption, driven by one table of options.
*/
#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>

typedef enum Kind {
  BOOL, INT, LINGER, MEMBERSHIP,   /* settable */
  FLAG, ERROR, TYPE, FAMILY, CRED  /* get-only */
} Kind;

/* IPv6 sockets use level6/name6 where they are not 0 */
typedef struct Option {
  int level, name;
  int level6, name6;
  Kind kind;
} Option;

#define IP4   IPPROTO_IP
#define IP6   IPPROTO_IPV6
#define SOL   SOL_SOCKET

#define OPTIONS(X) \
  X(reuseaddr, SOL, SO_REUSEADDR, 0, 0, BOOL) \
  X(reuseport, SOL, SO_REUSEPORT, 0, 0, BOOL) \
  X(keepalive, SOL, SO_KEEPALIVE, 0, 0, BOOL) \
  X(nodelay, IPPROTO_TCP, TCP_NODELAY, 0, 0, BOOL) \
  X(broadcast, SOL, SO_BROADCAST, 0, 0, BOOL) \
  X(ipv6only, IP6, IPV6_V6ONLY, 0, 0, BOOL) \
  X(rcvbuf, SOL, SO_RCVBUF, 0, 0, INT) \
  X(sndbuf, SOL, SO_SNDBUF, 0, 0, INT) \
  X(rcvlowat, SOL, SO_RCVLOWAT, 0, 0, INT) \
  X(linger, SOL, SO_LINGER, 0, 0, LINGER) \
  X(keepidle, IPPROTO_TCP, TCP_KEEPIDLE, 0, 0, INT) \
  X(keepintvl, IPPROTO_TCP, TCP_KEEPINTVL, 0, 0, INT) \
  X(keepcnt, IPPROTO_TCP, TCP_KEEPCNT, 0, 0, INT) \
  X(ttl, IP4, IP_TTL, IP6, IPV6_UNICAST_HOPS, INT) \
  X(multicast_ttl, IP4, IP_MULTICAST_TTL, IP6, IPV6_MULTICAST_HOPS, INT) \
  X(multicast_loop, IP4, IP_MULTICAST_LOOP, IP6, IPV6_MULTICAST_LOOP, BOOL) \
  X(add_membership, IP4, IP_ADD_MEMBERSHIP, IP6, IPV6_JOIN_GROUP, MEMBERSHIP) \
  X(drop_membership, IP4, IP_DROP_MEMBERSHIP, IP6, IPV6_LEAVE_GROUP, \
    MEMBERSHIP) \
  X(error, SOL, SO_ERROR, 0, 0, ERROR) \
  X(type, SOL, SO_TYPE, 0, 0, TYPE) \
  X(family, SOL, SO_DOMAIN, 0, 0, FAMILY) \
  X(acceptconn, SOL, SO_ACCEPTCONN, 0, 0, FLAG) \
  X(peercred, SOL, SO_PEERCRED, 0, 0, CRED)

#define NAME(n, l, o, l6, o6, k)  #n,
#define ENTRY(n, l, o, l6, o6, k)  {l, o, l6, o6, k},

static const char *const optnames[] = {OPTIONS(NAME) NULL};
static const Option options[] = {OPTIONS(ENTRY)};


typedef struct Setting {
  sockit_Socket *s;
  int level, name;
  Kind kind;
} Setting;


static Setting checkoption (lua_State *L) {
  Setting o;
  const Option *opt;
  o.s = sockit_tosock(L, 1);
  opt = &options[luaL_checkoption(L, 2, NULL, optnames)];
  o.kind = opt->kind;
  o.level = opt->level;
  o.name = opt->name;
  if (o.s->family == AF_INET6 && opt->level6 != 0) {
    o.level = opt->level6;
    o.name = opt->name6;
  }
  return o;
}


static int result (lua_State *L, int r) {
  if (r != 0) return sockit_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


static int setint (const Setting *o, int v) {
  return setsockopt(o->s->fd, o->level, o->name, &v, sizeof v);
}


static int checkint (lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= -0x7fffffff && v <= 0x7fffffff, arg,
                "value out of range");
  return (int)v;
}


/* a {group=, interface=} table for add_membership/drop_membership */
static int setmembership (lua_State *L, const Setting *o) {
  const char *group, *iface;
  lua_Integer index;
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_getfield(L, 3, "group");
  lua_getfield(L, 3, "interface");
  luaL_argcheck(L, lua_type(L, -2) == LUA_TSTRING, 3,
                "field 'group' must be a string");
  luaL_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING
                   || lua_isinteger(L, -1), 3,
                "field 'interface' must be a string or an index");
  index = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  iface = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  group = lua_tostring(L, -2);
  if (o->s->family == AF_INET6) {
    struct ipv6_mreq m;
    memset(&m, 0, sizeof m);
    if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1)
      return sockit_gaifail(L, EAI_NONAME, 0);
    m.ipv6mr_interface = (unsigned)index;
    if (iface != NULL && (m.ipv6mr_interface = if_nametoindex(iface)) == 0)
      return sockit_fail(L, errno);
    return result(L, setsockopt(o->s->fd, o->level, o->name, &m, sizeof m));
  }
  else {
    struct ip_mreq m;
    luaL_argcheck(L, index == 0, 3,
                  "field 'interface' must be an IPv4 address");
    memset(&m, 0, sizeof m);
    m.imr_interface.s_addr = htonl(INADDR_ANY);
    if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1
        || (iface != NULL && inet_pton(AF_INET, iface, &m.imr_interface) != 1))
      return sockit_gaifail(L, EAI_NONAME, 0);
    return result(L, setsockopt(o->s->fd, o->level, o->name, &m, sizeof m));
  }
}


static int setlinger (lua_State *L, const Setting *o) {
  struct linger l;
  if (lua_isboolean(L, 3) && !lua_toboolean(L, 3)) {
    l.l_onoff = 0;
    l.l_linger = 0;
  }
  else {
    luaL_argexpected(L, lua_type(L, 3) == LUA_TNUMBER, 3, "seconds or false");
    l.l_onoff = 1;
    l.l_linger = checkint(L, 3);
    luaL_argcheck(L, l.l_linger >= 0, 3, "seconds must not be negative");
  }
  return result(L, setsockopt(o->s->fd, o->level, o->name, &l, sizeof l));
}


/* setoption(s, name, value) -> true */
static int l_setoption (lua_State *L) {
  Setting o = checkoption(L);
  switch (o.kind) {
    case BOOL:
      luaL_checktype(L, 3, LUA_TBOOLEAN);
      return result(L, setint(&o, lua_toboolean(L, 3)));
    case INT:
      return result(L, setint(&o, checkint(L, 3)));
    case LINGER:
      return setlinger(L, &o);
    case MEMBERSHIP:
      return setmembership(L, &o);
    default:
      return luaL_argerror(L, 2, "option is read-only");
  }
}


static int getvalue (const Setting *o, void *v, socklen_t size) {
  socklen_t len = size;
  memset(v, 0, size);
  return getsockopt(o->s->fd, o->level, o->name, v, &len);
}


/* a constant by its name, or its number when it has none */
static void pushconst (lua_State *L, const char *name, int v) {
  if (name != NULL) lua_pushstring(L, name);
  else lua_pushinteger(L, v);
}


static void pushcred (lua_State *L, const struct ucred *c) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, c->pid);
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, c->uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, c->gid);
  lua_setfield(L, -2, "gid");
}


/* getoption(s, name) -> value */
static int l_getoption (lua_State *L) {
  Setting o = checkoption(L);
  union { int i; struct linger l; struct ucred c; } v;
  if (o.kind == MEMBERSHIP) return luaL_argerror(L, 2, "option is write-only");
  if (getvalue(&o, &v, o.kind == LINGER ? sizeof v.l
                       : o.kind == CRED ? sizeof v.c : sizeof v.i) != 0)
    return sockit_fail(L, errno);
  switch (o.kind) {
    case BOOL: case FLAG: lua_pushboolean(L, v.i); break;
    case INT: lua_pushinteger(L, v.i); break;
    case LINGER:
      if (v.l.l_onoff) lua_pushinteger(L, v.l.l_linger);
      else lua_pushboolean(L, 0);
      break;
    case ERROR:
      if (v.i) lua_pushstring(L, sockit_errname(v.i));
      else lua_pushboolean(L, 0);
      break;
    case TYPE: pushconst(L, sockit_typename(v.i), v.i); break;
    case FAMILY: pushconst(L, sockit_familyname(v.i), v.i); break;
    default: pushcred(L, &v.c); break;
  }
  return 1;
}


const luaL_Reg sockit_option_meth[] = {
  {"setoption", l_setoption},
  {"getoption", l_getoption},
  {NULL, NULL}
};
