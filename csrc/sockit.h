/*
** sockit: internal declarations shared by the C files of sockit.core.
*/
#ifndef SOCKIT_H
#define SOCKIT_H

/* glibc hides accept4, getaddrinfo, clock_gettime... under -std=c99 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "lua.h"
#include "lauxlib.h"

#define SOCKIT_SOCKET   "sockit.socket"
#define SOCKIT_BUFFER   "sockit.buffer"
#define SOCKIT_POLLER   "sockit.poller"
#define SOCKIT_REQUEST  "sockit.request"

/* the most one recv allocates, whatever the caller asks for */
#define SOCKIT_RECVMAX  (1024 * 1024)

typedef struct sockit_Socket {
  int fd;           /* -1 once closed */
  int family;       /* AF_INET, AF_INET6, AF_UNIX */
  int type;         /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  double timeout;   /* seconds; negative: none, block forever */
} sockit_Socket;

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

/* errors.c */
const char *sockit_errname (int err);
int sockit_fail (lua_State *L, int err);
int sockit_gaifail (lua_State *L, int gaierr, int err);
int sockit_strerror (lua_State *L);

/* core.c */
LUAMOD_API int luaopen_sockit_core (lua_State *L);
void sockit_class (lua_State *L, const char *tname, const luaL_Reg *meta,
                   const luaL_Reg *methods);

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
void sockit_socket_open (lua_State *L);
void sockit_socket_funcs (lua_State *L);

/* io.c */
void sockit_io_methods (lua_State *L);
void sockit_io_funcs (lua_State *L);

/* buffer.c */
size_t sockit_range (lua_State *L, int arg, size_t len, size_t *start);
void sockit_buffer_open (lua_State *L);

/* address.c */
int sockit_toaddr (lua_State *L, int arg, int family, int passive,
                   sockit_Addr *a, socklen_t *len);
int sockit_pushaddr (lua_State *L, const sockit_Addr *a, socklen_t len);
void sockit_pushaddrinfo (lua_State *L, const struct addrinfo *res);
int sockit_checkquery (lua_State *L, const char **host, const char **service,
                       struct addrinfo *hints);
void sockit_address_methods (lua_State *L);
void sockit_address_funcs (lua_State *L);

/* options.c */
void sockit_option_methods (lua_State *L);

/* time.c */
double sockit_now (void);
double sockit_deadline (double timeout);
int sockit_waitfd (int fd, int events, double deadline);
void sockit_time_funcs (lua_State *L);

/* poller.c */
void sockit_poller_open (lua_State *L);

/* resolve.c */
int sockit_requestfd (lua_State *L, int arg);
void sockit_resolve_open (lua_State *L);

#endif
