/*
** tls_context.c: contexts: one options table
** (design/tls.md) checked whole, then an SSL_CTX set up from it, secure
** unless told otherwise: TLS 1.2 at least, set here and not left to
** OpenSSL's build; peers verified (clients against the system store);
** no compression, no renegotiation.
*/
#include "tls.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static const char *const optnames[] = {
  "mode", "verify", "cafile", "capath", "certificate", "key", "password",
  "min_version", "max_version", "ciphers", "ciphersuites", "alpn",
  "servername", NULL
};

/* the Lua type of each option above: all strings but verify and alpn */
static int opttype (int i) {
  if (strcmp(optnames[i], "verify") == 0) return LUA_TBOOLEAN;
  if (strcmp(optnames[i], "alpn") == 0) return LUA_TTABLE;
  return LUA_TSTRING;
}


static int optindex (const char *name) {
  int i;
  for (i = 0; optnames[i] != NULL; i++)
    if (strcmp(optnames[i], name) == 0) return i;
  return -1;
}


static int opterror (lua_State *L, const char *name, const char *why) {
  return luaL_argerror(L, 1, lua_pushfstring(L, "option '%s': %s", name, why));
}


/* every key of the options table at 1 is known, with a value of its type */
static void checkopts (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    int i = lua_type(L, -2) == LUA_TSTRING ? optindex(lua_tostring(L, -2)) : -1;
    if (i < 0)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s'",
                    luaL_tolstring(L, -2, NULL)));
    if (lua_type(L, -1) != opttype(i))
      opterror(L, optnames[i], lua_pushfstring(L, "%s expected, got %s",
               lua_typename(L, opttype(i)), luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
}


/* the string option 'name', or NULL when it is not set */
static const char *optstring (lua_State *L, const char *name) {
  const char *s;
  lua_getfield(L, 1, name);
  s = lua_tostring(L, -1);  /* anchored by the options table */
  lua_pop(L, 1);
  return s;
}


static int optbool (lua_State *L, const char *name, int def) {
  int b;
  lua_getfield(L, 1, name);
  b = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}


/* OpenSSL's reason for the last failure, its error queue then cleared */
static const char *reason (lua_State *L) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  lua_pushstring(L, r != NULL ? r : "unknown error");  /* void on 5.1 */
  return lua_tostring(L, -1);
}


/* raises for option 'name' (a file) that OpenSSL could not use */
static int loaderror (lua_State *L, const char *name, const char *path) {
  const char *why = reason(L);
  return opterror(L, name, lua_pushfstring(L, "cannot load '%s' (%s)",
                                           path, why));
}


static int version (lua_State *L, const char *name, int def) {
  static const char *const names[] = {"tls1.2", "tls1.3", NULL};
  static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
  const char *v = optstring(L, name);
  int i;
  if (v == NULL) return def;
  for (i = 0; names[i] != NULL; i++)
    if (strcmp(names[i], v) == 0) return versions[i];
  return opterror(L, name, lua_pushfstring(L, "invalid value '%s'", v));
}


static void setversions (lua_State *L, SSL_CTX *ctx) {
  int min = version(L, "min_version", TLS1_2_VERSION);
  int max = version(L, "max_version", 0);
  if (max != 0 && max < min)
    opterror(L, "max_version", "below min_version");
  SSL_CTX_set_min_proto_version(ctx, min);
  SSL_CTX_set_max_proto_version(ctx, max);
}


static void setciphers (lua_State *L, SSL_CTX *ctx) {
  const char *list = optstring(L, "ciphers");
  if (list != NULL && !SSL_CTX_set_cipher_list(ctx, list))
    opterror(L, "ciphers", reason(L));
  list = optstring(L, "ciphersuites");
  if (list != NULL && !SSL_CTX_set_ciphersuites(ctx, list))
    opterror(L, "ciphersuites", reason(L));
}


/* OpenSSL reads a capath lazily, at the first check: look at it now */
static void checkdir (lua_State *L, const char *path) {
  struct stat st;
  const char *why;
  if (stat(path, &st) != 0) why = strerror(errno);
  else if (!S_ISDIR(st.st_mode)) why = "not a directory";
  else return;
  opterror(L, "capath", lua_pushfstring(L, "cannot load '%s' (%s)", path, why));
}


/* cafile and capath, or else (client) the system store */
static int settrust (lua_State *L, sockit_TLSContext *t) {
  const char *file = optstring(L, "cafile"), *path = optstring(L, "capath");
  if (path != NULL) checkdir(L, path);
  if (file != NULL || path != NULL) {
    if (!SSL_CTX_load_verify_locations(t->ctx, file, path))
      loaderror(L, file != NULL ? "cafile" : "capath",
                file != NULL ? file : path);
    return 1;
  }
  if (!t->server) SSL_CTX_set_default_verify_paths(t->ctx);
  ERR_clear_error();  /* a system without a store verifies nothing */
  return 0;
}


/*
** A client verifies unless verify = false. A server asks for a client's
** certificate only when verify = true, against its cafile/capath, and
** then refuses a client without one (mutual TLS).
*/
static void setverify (lua_State *L, sockit_TLSContext *t) {
  int trust = settrust(L, t);
  const char *file = optstring(L, "cafile");
  if (!t->server) {
    SSL_CTX_set_verify(t->ctx, optbool(L, "verify", 1) ? SSL_VERIFY_PEER
                                                         : SSL_VERIFY_NONE,
                       NULL);
    return;
  }
  if (!optbool(L, "verify", 0)) return;
  if (!trust)
    opterror(L, "verify", "a server verifies clients against a cafile "
             "or capath");
  SSL_CTX_set_verify(t->ctx,
                     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  if (file != NULL) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);
    if (names == NULL) loaderror(L, "cafile", file);
    SSL_CTX_set_client_CA_list(t->ctx, names);
  }
}


/* the certificate chain and its key: a server's, or a client's own */
static void setcertificate (lua_State *L, sockit_TLSContext *t) {
  const char *cert = optstring(L, "certificate"), *key = optstring(L, "key");
  const char *password = optstring(L, "password");
  if (cert == NULL && key == NULL && !t->server) return;
  if (cert == NULL) opterror(L, "certificate", "required with a key "
                             "and by a server");
  if (key == NULL) opterror(L, "key", "required with a certificate");
  if (!SSL_CTX_use_certificate_chain_file(t->ctx, cert))
    loaderror(L, "certificate", cert);
  /* OpenSSL's own callback answers with the string it is given */
  SSL_CTX_set_default_passwd_cb_userdata(t->ctx, (void *)(size_t)password);
  if (!SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM)) {
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    loaderror(L, "key", key);
  }
  SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
  if (!SSL_CTX_check_private_key(t->ctx)) loaderror(L, "key", key);
}


/* the server's choice: its first protocol the client offers too */
static int selectalpn (SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  sockit_TLSContext *t = (sockit_TLSContext *)arg;
  unsigned char *chosen;
  (void)ssl;
  if (SSL_select_next_proto(&chosen, outlen, t->alpn, (unsigned int)t->alpnlen,
                            in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}


/* alpn: the list as the wire has it, kept as the context's uservalue */
static void setalpn (lua_State *L, sockit_TLSContext *t) {
  luaL_Buffer b;
  lua_Integer i, n;
  int list;
  if (lua_getfield(L, 1, "alpn") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  list = lua_gettop(L);
  n = luaL_len(L, list);
  if (n < 1) opterror(L, "alpn", "empty list");
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    size_t len = 0;
    const char *name;
    lua_geti(L, list, i);
    name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (name == NULL || len < 1 || len > 255)
      opterror(L, "alpn", "names of 1 to 255 bytes expected");
    lua_pop(L, 1);
    luaL_addchar(&b, (char)len);
    luaL_addlstring(&b, name, len);
  }
  luaL_pushresult(&b);
  t->alpn = (const unsigned char *)lua_tolstring(L, -1, &t->alpnlen);
  lua_setiuservalue(L, 2, 1);  /* the context, made just after the options */
  lua_pop(L, 1);
  if (t->server) SSL_CTX_set_alpn_select_cb(t->ctx, selectalpn, t);
  else if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn, (unsigned)t->alpnlen))
    opterror(L, "alpn", reason(L));
}


static void setservername (lua_State *L, sockit_TLSContext *t) {
  const char *name = optstring(L, "servername");
  if (name == NULL) return;
  if (t->server) opterror(L, "servername", "a client option");
  if (name[0] == '\0' || strlen(name) > SOCKIT_NAMEMAX)
    opterror(L, "servername", "invalid name");
  strcpy(t->servername, name);
}


/*
** A new session of a client: kept for the next connection to the same
** name, replacing the last one (the callback owns 'sess' when it says 1).
*/
static int newsession (SSL *ssl, SSL_SESSION *sess) {
  sockit_TLSContext *t =
    (sockit_TLSContext *)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  sockit_TLSConn *c = (sockit_TLSConn *)SSL_get_app_data(ssl);
  if (t->session != NULL) SSL_SESSION_free(t->session);
  t->session = sess;
  strcpy(t->sessionname, c->name);
  return 1;
}


static void setsessions (sockit_TLSContext *t) {
  static const unsigned char id[] = "sockit";
  if (t->server) {
    /* a server asking for certificates resumes only with an id context */
    SSL_CTX_set_session_id_context(t->ctx, id, sizeof id - 1);
    return;
  }
  SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT
                                 | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(t->ctx, newsession);
}


/* the mode option: a server or (default) a client */
static int ismode (lua_State *L) {
  const char *mode = optstring(L, "mode");
  if (mode == NULL || strcmp(mode, "client") == 0) return 0;
  if (strcmp(mode, "server") == 0) return 1;
  return opterror(L, "mode", lua_pushfstring(L, "invalid value '%s'", mode));
}


/* a context userdata, collectable at once, with nothing in it yet */
static sockit_TLSContext *newcontext (lua_State *L, int server) {
  sockit_TLSContext *t =
    (sockit_TLSContext *)lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, SOCKIT_TLSCONTEXT);
  t->server = server;
  t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  t->bio = sockit_newbiomethod();
  if (t->ctx == NULL || t->bio == NULL) {
    ERR_clear_error();
    luaL_error(L, "not enough memory");
  }
  SSL_CTX_set_app_data(t->ctx, t);
  return t;
}


/*
** context([opts]) -> a context, from the options of design/tls.md;
** raises for an unknown option, a wrong type or a file it cannot load
*/
static int l_context (lua_State *L) {
  sockit_TLSContext *t;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  checkopts(L);
  t = newcontext(L, ismode(L));
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                   | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* a fill takes every record the socket has in one recv */
  SSL_CTX_set_read_ahead(t->ctx, 1);
  setversions(L, t->ctx);
  setciphers(L, t->ctx);
  setverify(L, t);
  setcertificate(L, t);
  setalpn(L, t);
  setservername(L, t);
  setsessions(t);
  lua_settop(L, 2);
  return 1;
}


sockit_TLSContext *sockit_checkcontext (lua_State *L, int arg) {
  return (sockit_TLSContext *)luaL_checkudata(L, arg, SOCKIT_TLSCONTEXT);
}


static int l_gc (lua_State *L) {
  sockit_TLSContext *t = sockit_checkcontext(L, 1);
  if (t->session != NULL) SSL_SESSION_free(t->session);
  if (t->ctx != NULL) SSL_CTX_free(t->ctx);
  if (t->bio != NULL) BIO_meth_free(t->bio);
  t->session = NULL;
  t->ctx = NULL;
  t->bio = NULL;
  return 0;
}


/* ctx:mode() -> "client" or "server" */
static int l_mode (lua_State *L) {
  lua_pushstring(L, sockit_checkcontext(L, 1)->server ? "server" : "client");
  return 1;
}


static int l_tostring (lua_State *L) {
  sockit_TLSContext *t = sockit_checkcontext(L, 1);
  lua_pushfstring(L, "sockit.tls.context (%s): %p",
                  t->server ? "server" : "client", (void *)t);
  return 1;
}


/* type(v) -> "context", "connection", or nil for anything else */
static int l_type (lua_State *L) {
  if (luaL_testudata(L, 1, SOCKIT_TLSCONTEXT)) lua_pushliteral(L, "context");
  else if (luaL_testudata(L, 1, SOCKIT_TLSCONN))
    lua_pushliteral(L, "connection");
  else lua_pushnil(L);
  return 1;
}


const luaL_Reg sockit_tlscontext_meth[] = {
  {"mode", l_mode},
  {NULL, NULL}
};

const luaL_Reg sockit_tlscontext_metameth[] = {
  {"__gc", l_gc},
  {"__tostring", l_tostring},
  {NULL, NULL}
};

const luaL_Reg sockit_tlscontext_funcs[] = {
  {"context", l_context},
  {"type", l_type},
  {NULL, NULL}
};
