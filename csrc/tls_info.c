/*
** tls_info.c: conn:info(), what a connection negotiated and whom with,
** as stream:tls() returns it.
*/
#include "tls.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>


/* an X509 name as RFC 2253 writes it ("CN=localhost,O=Example") */
static void pushname (lua_State *L, const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long len;
  if (b == NULL || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
    BIO_free(b);
    lua_pushnil(L);
    return;
  }
  len = BIO_get_mem_data(b, &p);
  lua_pushlstring(L, p, (size_t)len);
  BIO_free(b);
}


/* a certificate's time, as seconds since the epoch (UTC) */
static void pushtime (lua_State *L, const ASN1_TIME *t) {
  struct tm tm;
  if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) lua_pushnil(L);
  else lua_pushinteger(L, (lua_Integer)timegm(&tm));
}


/* one subjectAltName entry: a DNS name or an IP address, else nothing */
static int pushaltname (lua_State *L, const GENERAL_NAME *g) {
  char text[INET6_ADDRSTRLEN];
  const ASN1_OCTET_STRING *ip;
  if (g->type == GEN_DNS) {
    const ASN1_IA5STRING *dns = g->d.dNSName;
    lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(dns),
                    (size_t)ASN1_STRING_length(dns));
    return 1;
  }
  if (g->type != GEN_IPADD) return 0;
  ip = g->d.iPAddress;
  if (ASN1_STRING_length(ip) == 4)
    inet_ntop(AF_INET, ASN1_STRING_get0_data(ip), text, sizeof text);
  else if (ASN1_STRING_length(ip) == 16)
    inet_ntop(AF_INET6, ASN1_STRING_get0_data(ip), text, sizeof text);
  else return 0;
  lua_pushstring(L, text);
  return 1;
}


/* the subjectAltName DNS names and IP addresses, as a list */
static void pushaltnames (lua_State *L, X509 *cert) {
  GENERAL_NAMES *names =
    (GENERAL_NAMES *)X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int i, n = 0;
  lua_newtable(L);
  for (i = 0; i < sk_GENERAL_NAME_num(names); i++)
    if (pushaltname(L, sk_GENERAL_NAME_value(names, i)))
      lua_rawseti(L, -2, ++n);
  GENERAL_NAMES_free(names);
}


static void pushpeer (lua_State *L, X509 *cert) {
  lua_createtable(L, 0, 5);
  pushname(L, X509_get_subject_name(cert));
  lua_setfield(L, -2, "subject");
  pushname(L, X509_get_issuer_name(cert));
  lua_setfield(L, -2, "issuer");
  pushtime(L, X509_get0_notBefore(cert));
  lua_setfield(L, -2, "notbefore");
  pushtime(L, X509_get0_notAfter(cert));
  lua_setfield(L, -2, "notafter");
  pushaltnames(L, cert);
  lua_setfield(L, -2, "names");
}


#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define getpeercert  SSL_get1_peer_certificate
#else
#define getpeercert  SSL_get_peer_certificate
#endif


/* the name the client sent (a server's view) or checks (a client's) */
static void pushservername (lua_State *L, const sockit_TLSConn *c) {
  const char *name = c->server
    ? SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name) : c->name;
  if (name != NULL) lua_pushstring(L, name);
  else lua_pushnil(L);
}


static void pushalpn (lua_State *L, const SSL *ssl) {
  const unsigned char *p;
  unsigned int len;
  SSL_get0_alpn_selected(ssl, &p, &len);
  if (len > 0) lua_pushlstring(L, (const char *)p, len);
  else lua_pushnil(L);
}


/*
** conn:info() -> {version, cipher, alpn, servername, verified, resumed,
** peer}: peer = {subject, issuer, notbefore, notafter, names} or nil when
** the peer sent no certificate; verified is true when it was checked and
** passed (chain and name), resumed when the handshake resumed a session
*/
int sockit_tlsinfo (lua_State *L) {
  sockit_TLSConn *c = sockit_checkconn(L, 1);
  X509 *cert;
  luaL_argcheck(L, c->ssl != NULL, 1, "attempt to use a closed connection");
  cert = getpeercert(c->ssl);
  lua_createtable(L, 0, 7);
  lua_pushstring(L, SSL_get_version(c->ssl));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SSL_get_cipher_name(c->ssl));
  lua_setfield(L, -2, "cipher");
  pushalpn(L, c->ssl);
  lua_setfield(L, -2, "alpn");
  pushservername(L, c);
  lua_setfield(L, -2, "servername");
  lua_pushboolean(L, cert != NULL && SSL_is_init_finished(c->ssl)
                     && SSL_get_verify_result(c->ssl) == X509_V_OK);
  lua_setfield(L, -2, "verified");
  lua_pushboolean(L, SSL_session_reused(c->ssl));
  lua_setfield(L, -2, "resumed");
  if (cert != NULL) {
    pushpeer(L, cert);
    lua_setfield(L, -2, "peer");
    X509_free(cert);
  }
  ERR_clear_error();
  return 1;
}
