/*
** tls.h: declarations shared by the files of sockit.tls (tls_context.c,
** tls_conn.c, tls_info.c), a module of its own linked with OpenSSL.
** It reaches sockit.core only through the sockit_API table (sockit.h).
*/
#ifndef SOCKIT_TLS_H
#define SOCKIT_TLS_H

#include "sockit.h"

#include <openssl/ssl.h>

#define SOCKIT_TLSCONTEXT  "sockit.tls.context"
#define SOCKIT_TLSCONN     "sockit.tls.connection"

/* the longest name a client checks and sends (a DNS name is at most 253) */
#define SOCKIT_NAMEMAX  255

/*
** A context: one SSL_CTX, shared by every connection made from it. Its
** uservalue anchors the ALPN list 'alpn' points into. A client context
** keeps the last session of the last name it connected to, which the
** next connection to that name resumes.
*/
typedef struct sockit_TLSContext {
  SSL_CTX *ctx;              /* NULL once collected */
  BIO_METHOD *bio;           /* how its connections reach their socket */
  int server;
  const unsigned char *alpn; /* the server's ALPN list, wire format */
  size_t alpnlen;
  SSL_SESSION *session;      /* client: the session to resume */
  char sessionname[SOCKIT_NAMEMAX + 1];
  char servername[SOCKIT_NAMEMAX + 1];  /* the 'servername' option */
} sockit_TLSContext;

/*
** A connection: one SSL over a sockit.core socket (uservalue 1), made
** from a context (uservalue 2, which keeps it alive: its BIO method must
** outlive the SSL). 'fd' is the socket's descriptor as of the current
** call; the BIO reads and writes it with recv and send.
*/
typedef struct sockit_TLSFailure {
  int ssl;                   /* SSL_get_error's answer; 0: none */
  int err;                   /* the errno value behind it, or 0 */
  unsigned long lib;         /* OpenSSL's error code, or 0 */
} sockit_TLSFailure;

typedef struct sockit_TLSConn {
  SSL *ssl;                  /* NULL once closed */
  int fd;
  int err;                   /* errno of the BIO's last failed call */
  int dontwait;              /* the BIO never blocks (MSG_DONTWAIT) */
  int server;
  sockit_TLSFailure failed;  /* a fatal failure: every later call's */
  char name[SOCKIT_NAMEMAX + 1];  /* client: the name checked and sent */
} sockit_TLSConn;

/* the sockit_API of sockit.core: upvalue 1 of every function */
#define sockit_tlsapi(L) \
  ((const sockit_API *)lua_touserdata(L, lua_upvalueindex(1)))

/* tls.c */
LUAMOD_API int luaopen_sockit_tls (lua_State *L);

/* tls_bio.c */
BIO_METHOD *sockit_newbiomethod (void);

/* tls_context.c */
sockit_TLSContext *sockit_checkcontext (lua_State *L, int arg);
extern const luaL_Reg sockit_tlscontext_meth[], sockit_tlscontext_metameth[],
                      sockit_tlscontext_funcs[];

/* tls_conn.c */
sockit_TLSConn *sockit_checkconn (lua_State *L, int arg);
extern const luaL_Reg sockit_tlsconn_meth[], sockit_tlsconn_metameth[],
                      sockit_tlsconn_funcs[];

/* tls_info.c */
int sockit_tlsinfo (lua_State *L);

#endif
