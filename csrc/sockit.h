/*
** sockit: internal declarations shared by the C files of sockit.core.
*/
#ifndef SOCKIT_H
#define SOCKIT_H

/* glibc hides accept4, getaddrinfo, clock_gettime... under -std=c99 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "lua.h"
#include "lauxlib.h"
#include "compat.h"  /* the 5.4 API on Lua 5.1-5.3 and LuaJIT */

#define SOCKIT_VERSION  "0.1.0"  /* the one place; the Makefile reads it */

#define SOCKIT_SOCKET   "sockit.socket"
#define SOCKIT_BUFFER   "sockit.buffer"
#define SOCKIT_POLLER   "sockit.poller"
#define SOCKIT_REQUEST  "sockit.request"
#define SOCKIT_READER   "sockit.reader"
#define SOCKIT_BATCH    "sockit.batch"

/* registry: the function a watched socket's close calls (poller.c) */
#define SOCKIT_UNWATCH  "sockit.unwatch"

/* the most one recv allocates, whatever the caller asks for */
#define SOCKIT_RECVMAX  (1024 * 1024)

/* a recv up to this size goes through the state's scratch block (io.c) */
#define SOCKIT_SCRATCH  (64 * 1024)

/* the longest Unix socket path, in bytes (sun_path: 108 on Linux) */
#define SOCKIT_PATHMAX  ((int)sizeof(((struct sockaddr_un *)0)->sun_path))

/* the ints first: 24 bytes, not 32 with the double's padding */
typedef struct sockit_Socket {
  int fd;           /* -1 once closed */
  int family;       /* AF_INET, AF_INET6, AF_UNIX */
  int type;         /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  int watchers;     /* pollers watching it (poller.c) */
  double timeout;   /* seconds, or SOCKIT_FOREVER: blocking */
} sockit_Socket;

/* timeouts and deadlines (time.c): no limit, and try once */
#define SOCKIT_FOREVER  (-1.0)
#define SOCKIT_NOWAIT   0.0

/*
** Before 5.4, lua.c (and luajit.c) installs its SIGINT handler with
** signal(), which glibc gives SA_RESTART (seen with strace: lua5.1,
** lua5.2, luajit; Debian's lua5.3 does without it, other builds may
** not): a call blocked in the kernel would go on after Ctrl-C. There a
** call without a timeout runs non-blocking (MSG_DONTWAIT) and waits in
** poll, which a handler always interrupts; 5.4 keeps the plain blocking
** call.
*/
#if LUA_VERSION_NUM < 504
#define SOCKIT_DONTWAIT(s)  ((s)->timeout < 0 ? MSG_DONTWAIT : 0)
#else
#define SOCKIT_DONTWAIT(s)  0
#endif

/* one call that may wait: its deadline, and what interrupts it */
typedef struct sockit_Wait {
  lua_State *L;
  lua_Hook hook;    /* the state's hook when the call began */
  int hookmask;
  int dated;        /* 'deadline' is set */
  double timeout;
  double deadline;
  int err;          /* why the call failed */
} sockit_Wait;

typedef struct sockit_Buffer {
  size_t len;       /* bytes held */
  size_t cap;
  char *data;       /* points just past the header, same block */
} sockit_Buffer;

typedef union sockit_Addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
  struct sockaddr_un un;
  struct sockaddr_storage ss;
} sockit_Addr;

struct addrinfo;

/*
** Each concern file exports its functions as luaL_Reg arrays: 'meth'
** (methods of its class), 'metameth', 'funcs' (functions of the module).
*/

/* class.c */
void sockit_setfuncs (lua_State *L, const luaL_Reg *const lists[]);
void sockit_newclass (lua_State *L, const char *tname,
                      const luaL_Reg *metameth, const luaL_Reg *const meth[]);

/* core.c */
LUAMOD_API int luaopen_sockit_core (lua_State *L);

/* errors.c */
const char *sockit_errname (int err);
int sockit_fail (lua_State *L, int err);
int sockit_gaifail (lua_State *L, int gaierr, int err);
extern const luaL_Reg sockit_error_funcs[];

/* socket.c */
sockit_Socket *sockit_newsock (lua_State *L);
sockit_Socket *sockit_tosock (lua_State *L, int arg);
const char *sockit_familyname (int family);
const char *sockit_typename (int type);
int sockit_family (const char *name);
int sockit_type (const char *name);
int sockit_checkfamily (lua_State *L, int arg);
int sockit_checktype (lua_State *L, int arg, const char *def);
int sockit_setblocking (int fd, int blocking);
extern const luaL_Reg sockit_socket_meth[], sockit_socket_metameth[],
                      sockit_socket_funcs[];

/* io.c */
int sockit_retry (sockit_Socket *s, sockit_Wait *w, int err, int events);
int sockit_prewait (sockit_Socket *s, sockit_Wait *w, int events);
extern const luaL_Reg sockit_io_meth[], sockit_hot_meth[], sockit_io_funcs[];

/* msg.c */
extern const luaL_Reg sockit_msg_meth[], sockit_msg_funcs[];

/* batch.c: datagrams received in place (recvmmsg into a batch) */
int sockit_recvbatch (lua_State *L, sockit_Socket *s);
extern const luaL_Reg sockit_batch_meth[], sockit_batch_metameth[],
                      sockit_batch_funcs[];

/* buffer.c */
size_t sockit_range (lua_State *L, int arg, size_t len, size_t *start);
extern const luaL_Reg sockit_buffer_meth[], sockit_buffer_metameth[],
                      sockit_buffer_funcs[];

/*
** reader.c: a Stream's receive buffer, where every byte a Stream reads
** enters. Another C module (a TLS binding) fills one without a Lua
** string per fill: it takes the reader (the Stream's `reader` field, made
** at its first read, or one from core.reader) with sockit_toreader, asks
** sockit_readerspace for room (*n: the least it needs, 0 for a fill's
** worth of 64 KiB; set to the room there is), writes up to *n bytes at
** the pointer returned (decrypted data, say), then says how many with
** sockit_readeradd. The pointer is valid until the reader's next use
** from Lua; NULL means out of memory, with nothing changed. core's
** recv_into(s, reader) is the same three steps around recv.
*/
typedef struct sockit_Reader sockit_Reader;
sockit_Reader *sockit_toreader (lua_State *L, int arg);  /* NULL: not one */
char *sockit_readerspace (lua_State *L, sockit_Reader *r, size_t *n);
void sockit_readeradd (sockit_Reader *r, size_t n);
/* its count of unread bytes; the first n of them pushed and consumed */
size_t sockit_readerlen (const sockit_Reader *r);
void sockit_readertake (lua_State *L, sockit_Reader *r, size_t n);
extern const luaL_Reg sockit_reader_meth[], sockit_reader_metameth[],
                      sockit_reader_funcs[];

/* address.c */
int sockit_toaddr (lua_State *L, int arg, int family, int passive,
                   sockit_Addr *a, socklen_t *len);
int sockit_pushaddr (lua_State *L, const sockit_Addr *a, socklen_t len);
void sockit_pushaddrinfo (lua_State *L, const struct addrinfo *res);
int sockit_checkquery (lua_State *L, const char **host, const char **service,
                       struct addrinfo *hints);
extern const luaL_Reg sockit_address_meth[], sockit_address_funcs[];

/* options.c */
extern const luaL_Reg sockit_option_meth[];

/* time.c */
double sockit_now (void);
double sockit_opttimeout (lua_State *L, int arg, double def);
int sockit_pollms (double seconds);
void sockit_startwait (lua_State *L, sockit_Wait *w, double timeout);
int sockit_interrupted (const sockit_Wait *w);
double sockit_waitdeadline (sockit_Wait *w);
int sockit_waitfd (int fd, int events, sockit_Wait *w);
const sigset_t *sockit_holdint (sigset_t *old);
void sockit_letint (const sigset_t *mask);
extern const luaL_Reg sockit_time_funcs[];

/* poller.c */
extern const luaL_Reg sockit_poller_meth[], sockit_poller_metameth[],
                      sockit_poller_funcs[];

/*
** The seam between sockit.core and sockit.tls. Lua loads each C module
** RTLD_LOCAL, so tls.so cannot call core.so's functions by name: core.so
** puts this table of them in the registry, as a light userdata under
** SOCKIT_API, and tls.so takes it after require "sockit.core", refusing
** a table whose version is not the one it was built with (a core.so
** and a tls.so from two builds). The table is constant: core.c defines
** it once for every state. Bump the version with any change below or in
** the structs these functions take.
*/
#define SOCKIT_API          "sockit.api"
#define SOCKIT_API_VERSION  1

typedef struct sockit_API {
  int version;
  /* the open socket at 'arg' (raises otherwise) */
  sockit_Socket *(*tosock) (lua_State *L, int arg);
  /* the reader at 'arg' or NULL, its room and what was added to it */
  sockit_Reader *(*toreader) (lua_State *L, int arg);
  char *(*readerspace) (lua_State *L, sockit_Reader *r, size_t *n);
  void (*readeradd) (sockit_Reader *r, size_t n);
  /* a call that may wait for up to 'timeout', and its retry after 'err' */
  void (*startwait) (lua_State *L, sockit_Wait *w, double timeout);
  int (*retry) (sockit_Socket *s, sockit_Wait *w, int err, int events);
  /* the fail tuple of errno value 'err' */
  int (*fail) (lua_State *L, int err);
} sockit_API;

/* resolve.c */
int sockit_requestfd (lua_State *L, int arg);
extern const luaL_Reg sockit_request_meth[], sockit_request_metameth[],
                      sockit_resolve_funcs[];

#endif
