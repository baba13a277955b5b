/*
** tls_conn.c: connections. An SSL reaches its socket through the BIO of
** tls_bio.c (recv and send(MSG_NOSIGNAL): no SIGPIPE, whatever the peer
** does). Each call runs OpenSSL until it gets
** somewhere, waiting for the direction OpenSSL asks for (a read may have
** to write, a write to read) under the socket's timeout, as io.c waits;
** at timeout 0 (a scheduler task) it returns nil, msg, "EAGAIN", dir,
** and the caller waits for dir ("r" or "w") before calling again.
** Decrypted bytes OpenSSL holds are always returned before any wait.
** OpenSSL's error queue is empty after every call.
*/
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>


sockit_TLSConn *sockit_checkconn (lua_State *L, int arg) {
  return (sockit_TLSConn *)luaL_checkudata(L, arg, SOCKIT_TLSCONN);
}


/* the open connection at 1, and in *s its open socket */
static sockit_TLSConn *toconn (lua_State *L, sockit_Socket **s) {
  sockit_TLSConn *c = sockit_checkconn(L, 1);
  if (c->ssl == NULL) luaL_argerror(L, 1, "attempt to use a closed connection");
  lua_getiuservalue(L, 1, 1);
  *s = (sockit_Socket *)lua_touserdata(L, -1);  /* anchored there */
  lua_pop(L, 1);
  if ((*s)->fd < 0) luaL_argerror(L, 1, "attempt to use a closed socket");
  c->fd = (*s)->fd;
  ERR_clear_error();
  return c;
}


/* c's fatal failure, from what OpenSSL says of its call that gave 'e' */
static void setfailed (sockit_TLSConn *c, int e) {
  c->failed.ssl = e;
  c->failed.err = c->err;
  c->failed.lib = ERR_peek_last_error();
}


/*
** Reads, writes and handshakes: each as a function of the same type.
** A read that meets the peer's close_notify returns 0 (the end of the
** stream); to the others it is a failure.
*/
typedef int (*Step) (SSL *ssl, void *p, int n);

static int readstep (SSL *ssl, void *p, int n) {
  return SSL_read(ssl, p, n);
}

static int writestep (SSL *ssl, void *p, int n) {
  return SSL_write(ssl, p, n);
}

static int handshakestep (SSL *ssl, void *p, int n) {
  (void)p; (void)n;
  return SSL_do_handshake(ssl);
}


/*
** One step that got nowhere (returned 'ret'): the events to wait for
** when OpenSSL asks for them, else 0 with the outcome noted: the end of
** the stream (*eof) or a fatal failure.
*/
static int wants (sockit_TLSConn *c, Step step, int ret, int *eof) {
  int e = SSL_get_error(c->ssl, ret);
  if (e == SSL_ERROR_WANT_READ) return POLLIN;
  if (e == SSL_ERROR_WANT_WRITE) return POLLOUT;
  if (e == SSL_ERROR_ZERO_RETURN && step == readstep) *eof = 1;
  else setfailed(c, e);
  return 0;
}


/*
** Runs 'step' until it does something: its result (> 0), 0 at the end of
** the stream, or -1 on failure: c->failed says why, or else w->err, with
** *events the direction waited for.
*/
static int drive (const sockit_API *api, sockit_TLSConn *c, sockit_Socket *s,
                  sockit_Wait *w, Step step, void *p, int n, int *events) {
  for (;;) {
    int ret, eof = 0;
    if (c->failed.ssl != 0) return -1;
    c->err = 0;
    ret = step(c->ssl, p, n);
    if (ret > 0) return ret;
    *events = wants(c, step, ret, &eof);
    if (eof) return 0;
    if (*events == 0) return -1;
    if (!api->retry(s, w, c->err != 0 ? c->err : EAGAIN, *events)) return -1;
  }
}


/*
** After a step did something: more of the same while it needs no wait
** (a fill takes every record received, a write goes on while the socket
** takes it), up to 'n' bytes. A failure is noted for the next call.
*/
static int more (sockit_TLSConn *c, Step step, char *p, int got, int n) {
  int ret = 1, eof = 0;
  c->dontwait = 1;
  while (got < n && c->failed.ssl == 0) {
    c->err = 0;
    ret = step(c->ssl, p + got, n - got);
    if (ret <= 0) break;
    got += ret;
  }
  if (ret <= 0) wants(c, step, ret, &eof);
  c->dontwait = 0;
  ERR_clear_error();
  return got;
}


static int pushreason (lua_State *L, const sockit_TLSConn *c) {
  const sockit_TLSFailure *f = &c->failed;
  const char *r = f->lib != 0 ? ERR_reason_error_string(f->lib) : NULL;
  if (r != NULL) lua_pushstring(L, r);
  else if (f->ssl == SSL_ERROR_ZERO_RETURN)
    lua_pushliteral(L, "closed by the peer (close_notify)");
  else if (f->ssl == SSL_ERROR_SYSCALL)
    lua_pushliteral(L, "unexpected end of stream");
  else lua_pushliteral(L, "TLS failure");
  return 1;
}


/*
** The fail tuple of c's fatal failure: the socket's errno name, "ECERT"
** when the peer's certificate was rejected, else "ETLS".
*/
static int pushfailure (lua_State *L, const sockit_API *api,
                        const sockit_TLSConn *c) {
  const sockit_TLSFailure *f = &c->failed;
  if (f->err != 0 && f->err != EAGAIN && f->err != EWOULDBLOCK
      && f->err != EINTR)
    return api->fail(L, f->err);
  lua_pushnil(L);
  if (ERR_GET_LIB(f->lib) == ERR_LIB_SSL
      && ERR_GET_REASON(f->lib) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(c->ssl);
    lua_pushfstring(L, "certificate verify failed: %s",
                    X509_verify_cert_error_string(v));
    lua_pushliteral(L, "ECERT");
  }
  else {
    pushreason(L, c);
    lua_pushliteral(L, "ETLS");
  }
  return 3;
}


/* the fail tuple of a call that drive ended with -1 */
static int failed (lua_State *L, const sockit_API *api, sockit_TLSConn *c,
                   const sockit_Wait *w, int events) {
  ERR_clear_error();
  if (c->failed.ssl != 0) return pushfailure(L, api, c);
  api->fail(L, w->err);
  if (w->err != EAGAIN) return 3;
  lua_pushstring(L, events == POLLOUT ? "w" : "r");
  return 4;
}


/*
** One call of 'step' on up to n bytes at p (none for a handshake) under
** the socket's timeout, more of it taken while no wait is needed: the
** bytes done (0: the end of the stream), or -1 with the fail tuple
** pushed, *nret values.
*/
static int call (lua_State *L, sockit_TLSConn *c, sockit_Socket *s,
                 Step step, char *p, int n, int *nret) {
  const sockit_API *api = sockit_tlsapi(L);
  sockit_Wait w;
  int events = 0, done;
  api->startwait(L, &w, s->timeout);
  done = drive(api, c, s, &w, step, p, n, &events);
  if (done == 0 && step != readstep) {
    setfailed(c, SSL_ERROR_ZERO_RETURN);
    done = -1;
  }
  if (done < 0) {
    *nret = failed(L, api, c, &w, events);
    return -1;
  }
  if (done > 0 && step != handshakestep) done = more(c, step, p, done, n);
  ERR_clear_error();
  return done;
}


/* conn:handshake() -> true; the fail tuple (+ dir) as the other calls */
static int l_handshake (lua_State *L) {
  sockit_Socket *s;
  sockit_TLSConn *c = toconn(L, &s);
  int nret;
  if (call(L, c, s, handshakestep, NULL, 0, &nret) < 0) return nret;
  lua_pushboolean(L, 1);
  return 1;
}


/*
** Decrypts up to n bytes (the count at 3, which may be absent unless
** 'needn': then as many as fit) into the free space of the reader at 2
** (sockit.core's, a Stream's), at *p: the bytes got, 0 at the end of the
** stream (the peer's close_notify), or -1 with the fail tuple pushed,
** *nret values. The reader does not count them yet.
*/
static int intoreader (lua_State *L, int needn, lua_Integer *n,
                       sockit_Reader **r, char **p, int *nret) {
  const sockit_API *api = sockit_tlsapi(L);
  sockit_Socket *s;
  sockit_TLSConn *c = toconn(L, &s);
  size_t room;
  *r = api->toreader(L, 2);
  luaL_argexpected(L, *r != NULL, 2, "sockit.reader");
  *n = needn ? luaL_checkinteger(L, 3) : luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, *n >= 1 || (*n == 0 && lua_isnoneornil(L, 3)), 3,
                "size must be at least 1");
  room = (size_t)*n;
  *p = api->readerspace(L, *r, &room);
  if (*p == NULL) return luaL_error(L, "not enough memory");
  if (*n > 0 && (size_t)*n < room) room = (size_t)*n;
  return call(L, c, s, readstep, *p, room > INT_MAX ? INT_MAX : (int)room,
              nret);
}


/* conn:recv_into(reader [, n]) -> bytes added to the reader, at most n */
static int l_recv_into (lua_State *L) {
  lua_Integer n;
  sockit_Reader *r;
  char *p;
  int nret, got = intoreader(L, 0, &n, &r, &p, &nret);
  if (got < 0) return nret;
  sockit_tlsapi(L)->readeradd(r, (size_t)got);
  lua_pushinteger(L, got);
  return 1;
}


/*
** conn:recv(reader, n) -> n bytes as a string, decrypted through the
** free space of reader, which keeps none of them: the one copy of a
** large read. Fewer bytes (all that came without waiting) are added to
** the reader, and their count comes back instead; 0 at the end of the
** stream.
*/
static int l_recv (lua_State *L) {
  lua_Integer n;
  sockit_Reader *r;
  char *p;
  int nret, got = intoreader(L, 1, &n, &r, &p, &nret);
  if (got < 0) return nret;
  if ((lua_Integer)got == n) lua_pushlstring(L, p, (size_t)got);
  else {
    sockit_tlsapi(L)->readeradd(r, (size_t)got);
    lua_pushinteger(L, got);
  }
  return 1;
}


/* conn:send(data [, i]) -> bytes of data from its i-th (default 1) sent */
static int l_send (lua_State *L) {
  sockit_Socket *s;
  sockit_TLSConn *c = toconn(L, &s);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  int sent, nret;
  luaL_argcheck(L, i >= 1 && (lua_Unsigned)i <= len + 1, 3,
                "index out of range");
  len -= (size_t)(i - 1);
  if (len == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  /* SSL_write takes no const: it only reads */
  sent = call(L, c, s, writestep, (char *)(size_t)(data + i - 1),
              len > INT_MAX ? INT_MAX : (int)len, &nret);
  if (sent < 0) return nret;
  lua_pushinteger(L, sent);
  return 1;
}


/*
** conn:close() -> true: sends close_notify if the socket takes it at
** once (no wait for the peer's), then frees the connection. The socket
** stays open: its owner closes it. Closing twice is fine.
*/
static int l_close (lua_State *L) {
  sockit_TLSConn *c = sockit_checkconn(L, 1);
  if (c->ssl != NULL) {
    sockit_Socket *s;
    lua_getiuservalue(L, 1, 1);
    s = (sockit_Socket *)lua_touserdata(L, -1);
    if (s->fd >= 0 && c->failed.ssl == 0 && SSL_is_init_finished(c->ssl)) {
      c->fd = s->fd;
      c->dontwait = 1;
      SSL_shutdown(c->ssl);
    }
    ERR_clear_error();
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  lua_pushboolean(L, 1);
  return 1;
}


/* the collector frees without a word: the socket may be closed and its
   descriptor number another socket's by now */
static int l_gc (lua_State *L) {
  sockit_TLSConn *c = sockit_checkconn(L, 1);
  if (c->ssl != NULL) SSL_free(c->ssl);
  c->ssl = NULL;
  return 0;
}


static int l_tostring (lua_State *L) {
  sockit_TLSConn *c = sockit_checkconn(L, 1);
  if (c->ssl == NULL) lua_pushliteral(L, "sockit.tls.connection (closed)");
  else lua_pushfstring(L, "sockit.tls.connection (%s): %p",
                       c->server ? "server" : "client", (void *)c);
  return 1;
}


static int isaddress (const char *name) {
  unsigned char a[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}


/*
** A client checks 'name' against the peer's certificate (an address as
** an address) and sends it as SNI (a name only), and resumes the last
** session its context had with that name.
*/
static void setpeer (lua_State *L, sockit_TLSConn *c,
                     const sockit_TLSContext *t, const char *name) {
  int ok;
  strcpy(c->name, name);
  if (isaddress(name))
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
  else
    ok = SSL_set1_host(c->ssl, name)  /* SNI from the copy: the macro takes it mutable */
         && SSL_set_tlsext_host_name(c->ssl, c->name);
  if (!ok) {
    ERR_clear_error();
    luaL_argerror(L, 3, "invalid name");
  }
  if (t->session != NULL && strcmp(t->sessionname, name) == 0)
    SSL_set_session(c->ssl, t->session);
}


/* the name a client connection checks: the context's servername first */
static const char *checkname (lua_State *L, const sockit_TLSContext *t) {
  const char *name = luaL_optstring(L, 3, NULL);
  if (t->servername[0] != '\0') name = t->servername;
  luaL_argcheck(L, name != NULL, 3, "a client needs the name to check");
  luaL_argcheck(L, name[0] != '\0' && strlen(name) <= SOCKIT_NAMEMAX, 3,
                "invalid name");
  return name;
}


/*
** connection(ctx, sock [, name]) -> a connection over sock, a connected
** sockit.core socket, as a client or server after ctx's mode. A client
** checks name (or ctx's servername). Nothing is sent yet: the handshake
** runs at conn:handshake() or the first read or write.
*/
static int l_connection (lua_State *L) {
  const sockit_API *api = sockit_tlsapi(L);
  sockit_TLSContext *t = sockit_checkcontext(L, 1);
  sockit_Socket *s = api->tosock(L, 2);
  const char *name = t->server ? NULL : checkname(L, t);
  sockit_TLSConn *c = (sockit_TLSConn *)lua_newuserdatauv(L, sizeof *c, 2);
  BIO *bio;
  memset(c, 0, sizeof *c);
  c->fd = s->fd;
  c->server = t->server;
  luaL_setmetatable(L, SOCKIT_TLSCONN);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 2);
  c->ssl = SSL_new(t->ctx);
  bio = c->ssl != NULL ? BIO_new(t->bio) : NULL;
  if (bio == NULL) {
    ERR_clear_error();
    return luaL_error(L, "not enough memory");
  }
  SSL_set_app_data(c->ssl, c);
  BIO_set_data(bio, c);
  BIO_set_init(bio, 1);
  SSL_set_bio(c->ssl, bio, bio);
  if (t->server) SSL_set_accept_state(c->ssl);
  else {
    setpeer(L, c, t, name);
    SSL_set_connect_state(c->ssl);
  }
  return 1;
}


const luaL_Reg sockit_tlsconn_meth[] = {
  {"handshake", l_handshake},
  {"recv_into", l_recv_into},
  {"recv", l_recv},
  {"send", l_send},
  {"info", sockit_tlsinfo},
  {"close", l_close},
  {NULL, NULL}
};

const luaL_Reg sockit_tlsconn_metameth[] = {
  {"__gc", l_gc},
  {"__tostring", l_tostring},
  {NULL, NULL}
};

const luaL_Reg sockit_tlsconn_funcs[] = {
  {"connection", l_connection},
  {NULL, NULL}
};
