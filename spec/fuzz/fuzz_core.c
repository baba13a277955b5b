/*
** fuzz_core.c: a fuzz target for the C code of sockit.core that turns Lua
** values into socket addresses and option values (address.c, options.c)
** and kernel addresses back into Lua values.
**
** Each input is read as a little program: up to MAXOPS calls of bind,
** connect, sendto, setoption, getoption, getaddrinfo, getnameinfo,
** recvfrom, getsockname... on up to NSLOTS sockets, with arguments built
** from the input's bytes (numbers at the edges of their ranges, strings
** that are almost addresses, tables of hints, foreign userdata), each in
** lua_pcall on a fresh lua_State. Sockets have timeout 0, so no call
** blocks. Besides the sanitizers, the target checks that every failure
** is a string error or a well-formed fail tuple, and that closing the
** state leaves no descriptor open.
**
** Nothing leaves the machine. The program is linked with --wrap for the
** calls that could reach out (see make fuzz): connect, sendto and bind
** refuse any address outside loopback and the fuzz directory (Unix paths
** without a '/', abstract names starting "sockit-fuzz"); a multicast
** membership must use the loopback interface; getaddrinfo and getnameinfo
** answer EAI_NONAME instead of looking a name up. make fuzz also runs the
** target in a private network namespace when the kernel allows it.
**
** Built with -fsanitize=fuzzer it is a libFuzzer target; built with
** -DSOCKIT_FUZZ_MAIN it has its own main, a seeded random driver:
**   fuzz_core SECONDS [SEED]     random inputs for SECONDS
**   fuzz_core -replay FILE...    each file once
*/
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int luaopen_sockit_core (lua_State *L);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define NSLOTS  8     /* sockets an input can hold */
#define MAXOPS  24    /* calls per input */
#define MAXFD   1024  /* descriptors checked for leaks */
#define MAXDEPTH  2   /* tables inside tables */


/* ------------------------------------------------------------ fences */

int __real_connect (int fd, const struct sockaddr *sa, socklen_t len);
int __real_bind (int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __real_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *sa, socklen_t len);
int __real_setsockopt (int fd, int level, int name, const void *v,
                       socklen_t len);
int __real_getaddrinfo (const char *node, const char *service,
                        const struct addrinfo *hints,
                        struct addrinfo **res);
int __real_getnameinfo (const struct sockaddr *sa, socklen_t salen,
                        char *host, socklen_t hostlen, char *serv,
                        socklen_t servlen, int flags);

int __wrap_connect (int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_bind (int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __wrap_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *sa, socklen_t len);
int __wrap_setsockopt (int fd, int level, int name, const void *v,
                       socklen_t len);
int __wrap_getaddrinfo (const char *node, const char *service,
                        const struct addrinfo *hints,
                        struct addrinfo **res);
int __wrap_getnameinfo (const struct sockaddr *sa, socklen_t salen,
                        char *host, socklen_t hostlen, char *serv,
                        socklen_t servlen, int flags);

#define ABSTRACT  "sockit-fuzz"

static int loopback4 (const struct in_addr *a) {
  return (ntohl(a->s_addr) >> 24) == 127;
}

static int loopback6 (const struct in6_addr *a) {
  static const uint8_t mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
  if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
  return memcmp(a->s6_addr, mapped, 12) == 0 && a->s6_addr[12] == 127;
}

/* a Unix address inside the fuzz directory or the fuzz abstract names */
static int ourpath (const struct sockaddr_un *un, socklen_t len) {
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = len > off ? len - off : 0;
  if (n == 0) return 1;  /* unnamed: autobind */
  if (un->sun_path[0] == '\0')
    return n > sizeof ABSTRACT
           && memcmp(un->sun_path + 1, ABSTRACT, sizeof ABSTRACT - 1) == 0;
  return memchr(un->sun_path, '/', n) == NULL;
}

static int allowed (const struct sockaddr *sa, socklen_t len) {
  if (sa == NULL) return 1;  /* sendto on a connected socket */
  if (len < sizeof(sa_family_t)) return 0;
  switch (sa->sa_family) {
    case AF_INET:
      return len >= sizeof(struct sockaddr_in)
             && loopback4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
    case AF_INET6:
      return len >= sizeof(struct sockaddr_in6)
             && loopback6(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    case AF_UNIX:
      return ourpath((const struct sockaddr_un *)(const void *)sa, len);
    default:
      return 0;
  }
}

static int refuse (void) {
  errno = EACCES;
  return -1;
}

int __wrap_connect (int fd, const struct sockaddr *sa, socklen_t len) {
  return allowed(sa, len) ? __real_connect(fd, sa, len) : refuse();
}

/* Unix files bound by this input, removed when it ends */
static char bound[NSLOTS * MAXOPS][sizeof ((struct sockaddr_un *)0)->sun_path + 1];
static int nbound;

int __wrap_bind (int fd, const struct sockaddr *sa, socklen_t len) {
  int r;
  if (!allowed(sa, len)) return refuse();
  r = __real_bind(fd, sa, len);
  if (r == 0 && sa->sa_family == AF_UNIX
      && len > offsetof(struct sockaddr_un, sun_path)
      && sa->sa_data[0] != '\0'
      && nbound < (int)(sizeof bound / sizeof bound[0])) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
    size_t n = len - offsetof(struct sockaddr_un, sun_path);
    memcpy(bound[nbound], un->sun_path, n);
    bound[nbound++][n] = '\0';
  }
  return r;
}

ssize_t __wrap_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *sa, socklen_t len) {
  return allowed(sa, len) ? __real_sendto(fd, buf, n, flags, sa, len)
                          : refuse();
}

/* joining a multicast group sends a report on the chosen interface */
int __wrap_setsockopt (int fd, int level, int name, const void *v,
                       socklen_t len) {
  if (level == IPPROTO_IP
      && (name == IP_ADD_MEMBERSHIP || name == IP_DROP_MEMBERSHIP)) {
    const struct ip_mreq *m = (const struct ip_mreq *)v;
    if (len < sizeof *m || !loopback4(&m->imr_interface)) return refuse();
  }
  if (level == IPPROTO_IPV6
      && (name == IPV6_JOIN_GROUP || name == IPV6_LEAVE_GROUP)) {
    const struct ipv6_mreq *m = (const struct ipv6_mreq *)v;
    if (len < sizeof *m || m->ipv6mr_interface == 0
        || m->ipv6mr_interface != if_nametoindex("lo"))
      return refuse();
  }
  return __real_setsockopt(fd, level, name, v, len);
}

/* no name lookups: only numeric hosts (and local service names) */
int __wrap_getaddrinfo (const char *node, const char *service,
                        const struct addrinfo *hints,
                        struct addrinfo **res) {
  if (node != NULL && (hints == NULL || !(hints->ai_flags & AI_NUMERICHOST)))
    return EAI_NONAME;
  return __real_getaddrinfo(node, service, hints, res);
}

int __wrap_getnameinfo (const struct sockaddr *sa, socklen_t salen,
                        char *host, socklen_t hostlen, char *serv,
                        socklen_t servlen, int flags) {
  if (host != NULL && hostlen > 0 && !(flags & NI_NUMERICHOST))
    return EAI_NONAME;
  return __real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}


/* ------------------------------------------------------------ input */

typedef struct Input {
  const uint8_t *p;
  size_t n;
} Input;

static unsigned byte (Input *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

static uint64_t bytes8 (Input *in) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v = (v << 8) | byte(in);
  return v;
}

typedef struct Word {
  const char *s;
  size_t len;
} Word;

#define W(s)  {s, sizeof(s) - 1}
#define COUNT(a)  (sizeof (a) / sizeof (a)[0])

static const Word hosts[] = {
  W("127.0.0.1"), W("127.0.0.2"), W("::1"), W("::ffff:127.0.0.1"), W("*"),
  W("0.0.0.0"), W("::"), W("::1%lo"), W("::1%1"), W("fe80::1%lo"),
  W("fe80::1%no-such-if0"), W("127.1"), W("0x7f.0.0.1"), W("0177.0.0.1"),
  W("2130706433"), W("localhost"), W(""), W("1.2.3.4"), W("255.255.255.255"),
  W("224.0.0.1"), W("239.1.2.3"), W("ff02::1"), W("ff02::1%lo"), W("[::1]"),
  W("127.0.0.1:80"), W(" 127.0.0.1"), W("127.0.0.1 "), W("::ffff:1.2.3.4"),
  W("64:ff9b::7f00:1"), W("127.0.0.1\0junk"), W("::1%"), W("%lo"),
  W("1::2::3"), W("::ffff:127.0.0.1%lo"), W("127.0.0.256"),
};

static const Word paths[] = {
  W("\0sockit-fuzz-a"), W("\0sockit-fuzz-b"), W("\0"), W("\0sockit-fuzz\0x"),
  W("sock-a"), W("sock-b"), W("sock\0b"), W("/tmp/sockit-fuzz-abs"),
  W("../sock-up"), W(""),
};

static const Word names[] = {
  /* services */
  W("http"), W("80"), W("0"), W("65535"), W("65536"), W("-1"), W("smtp"),
  W("domain"), W("no-such-service"), W("80\0junk"), W("0x50"), W(" 80"),
  /* families, types, protocols, events, flags */
  W("inet"), W("inet6"), W("unix"), W("stream"), W("dgram"), W("seqpacket"),
  W("raw"), W("tcp"), W("udp"), W("r"), W("w"), W("rw"), W("peek"),
  /* option names */
  W("reuseaddr"), W("reuseport"), W("keepalive"), W("nodelay"),
  W("broadcast"), W("ipv6only"), W("rcvbuf"), W("sndbuf"), W("rcvlowat"),
  W("linger"), W("keepidle"), W("keepintvl"), W("keepcnt"), W("ttl"),
  W("multicast_ttl"), W("multicast_loop"), W("add_membership"),
  W("drop_membership"), W("error"), W("type"), W("family"), W("acceptconn"),
  W("peercred"), W("nosuch"),
  /* table keys */
  W("passive"), W("numeric"), W("canonname"), W("numerichost"),
  W("numericserv"), W("namereqd"), W("group"), W("interface"), W("lo"),
  /* error names */
  W("EPIPE"), W("EAI_NONAME"), W("E?"), W("EPIPE\0x"),
};

static const lua_Integer ints[] = {
  0, 1, -1, 2, 9, 53, 80, 255, 256, 1024, 65535, 65536, -65536, 108, 109,
  110, 0x7fffffff, (lua_Integer)0x7fffffff + 1, -0x7fffffff - 1,
  (lua_Integer)-0x7fffffff - 2, 0xffffffff, (lua_Integer)1 << 32,
  (lua_Integer)1 << 53, LUA_MAXINTEGER, LUA_MININTEGER, 1 << 20, 1 << 30,
};

static void pushword (lua_State *L, const Word *w) {
  lua_pushlstring(L, w->s, w->len);
}

static void pushvalue (lua_State *L, Input *in, int depth);

/* a dotted quad or an IPv6 text with a scope, mostly loopback */
static void pushhost (lua_State *L, Input *in) {
  char buf[96];
  unsigned k = byte(in);
  if (k & 1)
    snprintf(buf, sizeof buf, "%u.%u.%u.%u", k & 2 ? 127 : byte(in),
             byte(in), byte(in), byte(in) * 3);
  else
    snprintf(buf, sizeof buf, "%x:%x::%x%s%u", byte(in) * 257, byte(in),
             byte(in) | (byte(in) << 8), k & 2 ? "%" : "", byte(in));
  lua_pushstring(L, buf);
}

static void pushtable (lua_State *L, Input *in, int depth) {
  unsigned i, n = byte(in) % 5;
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; i++) {
    if (byte(in) % 4 != 0) pushword(L, &names[byte(in) % COUNT(names)]);
    else pushvalue(L, in, depth + 1);
    pushvalue(L, in, depth + 1);
    if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER
                             && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
      lua_pop(L, 2);  /* not a valid key */
    else
      lua_rawset(L, -3);
  }
}

/* any Lua value; the stack holds what run() put there */
static void pushvalue (lua_State *L, Input *in, int depth) {
  static const double floats[] = {
    0.0, -0.0, 0.5, 1.5, 80.0, 65535.0, 65536.0, -1.0, 1e300, -1e300,
    HUGE_VAL, -HUGE_VAL, 9007199254740992.0, 9223372036854775808.0,
    -9223372036854775808.0, 1e-300, 4294967296.0, 2147483648.0,
  };
  double d;
  uint64_t u;
  size_t n;
  char buf[1024];
  if (depth > MAXDEPTH) {
    lua_pushnil(L);
    return;
  }
  switch (byte(in) % 17) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, 0); break;
    case 2: lua_pushboolean(L, 1); break;
    case 3: lua_pushinteger(L, (int8_t)byte(in)); break;
    case 4: lua_pushinteger(L, ints[byte(in) % COUNT(ints)]); break;
    case 5: u = bytes8(in); lua_pushinteger(L, (lua_Integer)u); break;
    case 6:
      if (byte(in) % 8 == 0) lua_pushnumber(L, nan(""));
      else lua_pushnumber(L, floats[byte(in) % COUNT(floats)]);
      break;
    case 7:
      u = bytes8(in);
      memcpy(&d, &u, sizeof d);
      lua_pushnumber(L, d);
      break;
    case 8: pushword(L, &hosts[byte(in) % COUNT(hosts)]); break;
    case 9: pushword(L, &names[byte(in) % COUNT(names)]); break;
    case 10: pushword(L, &paths[byte(in) % COUNT(paths)]); break;
    case 11:  /* raw bytes */
      n = byte(in);
      if (n > in->n) n = in->n;
      lua_pushlstring(L, (const char *)in->p, n);
      in->p += n;
      in->n -= n;
      break;
    case 12:  /* a long run of one byte, around the sizes that matter */
      n = (byte(in) * 4 + byte(in) % 4) % sizeof buf;
      memset(buf, (int)byte(in), n);
      if (n > 0 && byte(in) % 2) buf[0] = '\0';
      lua_pushlstring(L, buf, n);
      break;
    case 13: pushtable(L, in, depth); break;
    case 14: lua_rawgeti(L, 1, (lua_Integer)(byte(in) % NSLOTS + 1)); break;
    case 15:  /* foreign userdata: a file, a buffer */
      if (byte(in) % 2) lua_getfield(L, 2, "stdout");
      else lua_pushvalue(L, 4);
      break;
    default: pushhost(L, in); break;
  }
}

/* from `list` most of the time, any value otherwise */
static void pushchoice (lua_State *L, Input *in, const Word *list,
                        size_t n) {
  unsigned k = byte(in);
  if (k < 200) pushword(L, &list[k % n]);
  else pushvalue(L, in, 0);
}

static void pushport (lua_State *L, Input *in) {
  unsigned k = byte(in);
  if (k < 150) lua_pushinteger(L, k % 3 == 0 ? 0 : 40000 + k);
  else pushvalue(L, in, 0);
}

/* the socket in a slot, or now and then any other value as self */
static void pushself (lua_State *L, Input *in) {
  unsigned k = byte(in);
  if (k < 240) lua_rawgeti(L, 1, (lua_Integer)(k % NSLOTS + 1));
  else pushvalue(L, in, 0);
}

/* host and port, or a path: as the socket's family wants, or not */
static int pushaddress (lua_State *L, Input *in) {
  unsigned k = byte(in);
  if (k % 3 == 0) {
    pushchoice(L, in, paths, COUNT(paths));
    return 1;
  }
  if (k % 3 == 1) pushchoice(L, in, hosts, COUNT(hosts));
  else pushhost(L, in);
  pushport(L, in);
  return 2;
}

static const Word hintkeys[] = {
  W("family"), W("type"), W("passive"), W("numeric"), W("canonname"),
};
static const Word flagkeys[] = {
  W("numerichost"), W("numericserv"), W("namereqd"), W("dgram"),
};

/*
** A hints or flags table with keys from 'keys' mostly, and values of
** every kind; numeric lookups mostly (the fences refuse the others).
*/
static void pushflags (lua_State *L, Input *in, const Word *keys, size_t n,
                       const char *numeric) {
  unsigned i, k = byte(in), count = byte(in) % 4;
  if (k >= 230) {
    pushvalue(L, in, 0);
    return;
  }
  lua_createtable(L, 0, (int)count + 1);
  for (i = 0; i < count; i++) {
    unsigned v = byte(in);
    pushchoice(L, in, keys, n);
    if (lua_type(L, -1) != LUA_TSTRING) {  /* a key of another type */
      lua_pop(L, 1);
      lua_pushinteger(L, (lua_Integer)v);
    }
    if (v < 100) lua_pushboolean(L, v & 1);
    else if (v < 180) pushchoice(L, in, names, COUNT(names));
    else pushvalue(L, in, 1);
    lua_rawset(L, -3);
  }
  if (k % 4 != 0) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, numeric);
  }
}


/* ------------------------------------------------------------ calls */

static const char *current;  /* the function being called, for tracing */
static int tracing = -1;     /* SOCKIT_FUZZ_TRACE=1: print every call */

/* sockit.core function 'name', pushed below its arguments */
static void pushfunc (lua_State *L, const char *name) {
  current = name;
  lua_getfield(L, 3, name);
}

static void trace (lua_State *L, int status, int base) {
  int i, top = lua_gettop(L);
  fprintf(stderr, "%s %s:", current, status == LUA_OK ? "returns" : "raises");
  for (i = base + 1; i <= top; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    fprintf(stderr, " %.*s", (int)(len > 60 ? 60 : len), s);
    lua_pop(L, 1);
  }
  fputc('\n', stderr);
}

static const Word families[] = {W("inet"), W("inet6"), W("unix")};
static const Word types[] = {W("stream"), W("dgram"), W("seqpacket")};
static const Word options[] = {
  W("reuseaddr"), W("reuseport"), W("keepalive"), W("nodelay"),
  W("broadcast"), W("ipv6only"), W("rcvbuf"), W("sndbuf"), W("rcvlowat"),
  W("linger"), W("keepidle"), W("keepintvl"), W("keepcnt"), W("ttl"),
  W("multicast_ttl"), W("multicast_loop"), W("add_membership"),
  W("drop_membership"), W("error"), W("type"), W("family"), W("acceptconn"),
  W("peercred"),
};

/* the value for option 'name': of its kind mostly */
static void pushoption (lua_State *L, Input *in) {
  unsigned k = byte(in);
  if (k < 60) lua_pushboolean(L, k & 1);
  else if (k < 120) lua_pushinteger(L, ints[k % COUNT(ints)]);
  else if (k < 160) {
    lua_createtable(L, 0, 2);
    pushchoice(L, in, hosts, COUNT(hosts));
    lua_setfield(L, -2, "group");
    if (byte(in) % 2) lua_pushstring(L, "127.0.0.1");
    else pushvalue(L, in, 1);
    lua_setfield(L, -2, "interface");
  }
  else pushvalue(L, in, 0);
}

/*
** Every failure is a raise that names an argument by its position (the
** calls here raise only for their arguments), or nil, message, code.
*/
static void checkresult (lua_State *L, int status, int base) {
  int n = lua_gettop(L) - base;
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    const char *arg = msg != NULL ? strstr(msg, "bad argument #") : NULL;
    if (msg != NULL && strstr(msg, "not enough memory") != NULL) return;
    if (arg == NULL || arg[14] < '1' || arg[14] > '9') {
      fprintf(stderr, "fuzz: an error that names no argument: %s\n",
              msg != NULL ? msg : "(not a string)");
      abort();
    }
    return;
  }
  if (n >= 1 && lua_isnil(L, base + 1) && n != 1) {
    const char *code = lua_tostring(L, base + 3);
    if (n != 3 || lua_type(L, base + 2) != LUA_TSTRING || code == NULL
        || code[0] != 'E') {
      fprintf(stderr, "fuzz: a malformed fail tuple (%d values)\n", n);
      abort();
    }
  }
}

/* keep the sockets among the results in slots, at timeout 0 */
static void keepsockets (lua_State *L, Input *in, int base) {
  int i, top = lua_gettop(L);
  for (i = base + 1; i <= top; i++) {
    if (luaL_testudata(L, i, "sockit.socket") == NULL) continue;
    lua_getfield(L, 3, "settimeout");
    lua_pushvalue(L, i);
    lua_pushinteger(L, 0);
    lua_call(L, 2, 0);
    lua_pushvalue(L, i);
    lua_rawseti(L, 1, (lua_Integer)(byte(in) % NSLOTS + 1));
  }
}

static void call (lua_State *L, Input *in, int base, int nargs) {
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  if (tracing) trace(L, status, base);
  checkresult(L, status, base);
  if (status == LUA_OK) keepsockets(L, in, base);
  lua_settop(L, base);
}

static void step (lua_State *L, Input *in) {
  int base = lua_gettop(L);
  int n = 0;
  switch (byte(in) % 16) {
    case 0:
      pushfunc(L, "socket");
      pushchoice(L, in, families, COUNT(families));
      pushchoice(L, in, types, COUNT(types));
      n = 2;
      if (byte(in) % 8 == 0) { pushvalue(L, in, 0); n++; }
      break;
    case 1:
      pushfunc(L, "socketpair");
      pushchoice(L, in, types, COUNT(types));
      n = 1;
      break;
    case 2: case 3:
      pushfunc(L, "bind");
      pushself(L, in);
      n = 1 + pushaddress(L, in);
      break;
    case 4:
      pushfunc(L, "connect");
      pushself(L, in);
      n = 1 + pushaddress(L, in);
      break;
    case 5:
      pushfunc(L, "sendto");
      pushself(L, in);
      if (byte(in) % 8) lua_pushliteral(L, "datagram");
      else pushvalue(L, in, 0);
      n = 2 + pushaddress(L, in);
      break;
    case 6: case 7:
      pushfunc(L, "setoption");
      pushself(L, in);
      pushchoice(L, in, options, COUNT(options));
      pushoption(L, in);
      n = 3;
      break;
    case 8:
      pushfunc(L, "getoption");
      pushself(L, in);
      pushchoice(L, in, options, COUNT(options));
      n = 2;
      break;
    case 9:
      pushfunc(L, "getaddrinfo");
      if (byte(in) % 8) pushchoice(L, in, hosts, COUNT(hosts));
      else lua_pushnil(L);
      if (byte(in) % 2) pushport(L, in);
      else pushchoice(L, in, names, COUNT(names));
      pushflags(L, in, hintkeys, COUNT(hintkeys), "numeric");
      n = 3;
      break;
    case 10:
      pushfunc(L, "getnameinfo");
      pushchoice(L, in, hosts, COUNT(hosts));
      pushport(L, in);
      pushflags(L, in, flagkeys, COUNT(flagkeys), "numerichost");
      n = 3;
      break;
    case 11:
      pushfunc(L, byte(in) % 2 ? "recvfrom" : "recv");
      pushself(L, in);
      pushvalue(L, in, 0);
      n = 2;
      break;
    case 12:
      pushfunc(L, byte(in) % 2 ? "getsockname" : "getpeername");
      pushself(L, in);
      n = 1;
      break;
    case 13:
      pushfunc(L, byte(in) % 2 ? "listen" : "accept");
      pushself(L, in);
      n = 1;
      if (byte(in) % 2) { pushvalue(L, in, 0); n++; }
      break;
    case 14:
      switch (byte(in) % 4) {
        case 0: pushfunc(L, "gethostbyname"); break;
        case 1: pushfunc(L, "getservbyname"); break;
        case 2: pushfunc(L, "strerror"); break;
        default: pushfunc(L, "close"); break;
      }
      pushvalue(L, in, 0);
      pushvalue(L, in, 0);
      n = 2;
      break;
    default:
      pushfunc(L, byte(in) % 2 ? "settimeout" : "send");
      pushself(L, in);
      pushvalue(L, in, 0);
      pushvalue(L, in, 0);
      n = 3;
      break;
  }
  call(L, in, base, n);
}


/* ------------------------------------------------------------ the target */

static int openfds (void) {
  int fd, n = 0;
  for (fd = 0; fd < MAXFD; fd++)
    if (fcntl(fd, F_GETFD) != -1) n++;
  return n;
}

/* stack: 1 slots, 2 io, 3 sockit.core, 4 a buffer; then the calls */
static int run (lua_State *L) {
  Input *in = (Input *)lua_touserdata(L, 1);
  int i;
  lua_settop(L, 0);
  lua_createtable(L, NSLOTS, 0);
  luaL_requiref(L, "io", luaopen_io, 0);
  luaL_requiref(L, "sockit.core", luaopen_sockit_core, 0);
  lua_getfield(L, 3, "buffer");
  lua_pushinteger(L, 16);
  lua_call(L, 1, 1);
  for (i = 0; i < MAXOPS && in->n > 0; i++) step(L, in);
  return 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  int before = openfds();
  Input in;
  lua_State *L;
  int i;
  if (tracing < 0) tracing = getenv("SOCKIT_FUZZ_TRACE") != NULL;
  in.p = data;
  in.n = size;
  nbound = 0;
  L = luaL_newstate();
  if (L == NULL) return 0;
  luaL_requiref(L, "_G", luaopen_base, 1);
  lua_pop(L, 1);
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &in);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    /* a raise outside the calls (memory): nothing to check */
    lua_pop(L, 1);
  }
  lua_close(L);
  for (i = 0; i < nbound; i++) unlink(bound[i]);
  if (openfds() != before) {
    fprintf(stderr, "fuzz: %d descriptors open after the input, %d before\n",
            openfds(), before);
    abort();
  }
  return 0;
}


#ifdef SOCKIT_FUZZ_MAIN
/* ------------------------------------------------------------ driver */

#include <time.h>

static uint64_t rng;

static uint64_t next (void) {  /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

static int replay (int argc, char **argv) {
  static uint8_t buf[1 << 16];
  int i;
  for (i = 2; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    size_t n;
    if (f == NULL) {
      perror(argv[i]);
      return 1;
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("fuzz: replayed %d inputs\n", argc - 2);
  return 0;
}

int main (int argc, char **argv) {
  static uint8_t buf[1024];
  double seconds = argc > 1 ? atof(argv[1]) : 60;
  time_t end;
  unsigned long long runs = 0;
  if (argc > 1 && strcmp(argv[1], "-replay") == 0) return replay(argc, argv);
  rng = argc > 2 ? strtoull(argv[2], NULL, 0) : (uint64_t)time(NULL);
  if (rng == 0) rng = 1;
  printf("fuzz: random driver, seed %llu, %.0f s\n", (unsigned long long)rng,
         seconds);
  end = time(NULL) + (time_t)seconds;
  while (time(NULL) < end) {
    int i;
    for (i = 0; i < 1000; i++) {
      size_t j, n = (size_t)(next() % sizeof buf);
      for (j = 0; j < n; j++) buf[j] = (uint8_t)next();
      LLVMFuzzerTestOneInput(buf, n);
      runs++;
    }
  }
  printf("Done %llu runs in %.0f second(s)\n", runs, seconds);
  return 0;
}
#endif
