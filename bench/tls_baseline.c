/*
** tls_baseline.c: the C OpenSSL side of the TLS benchmarks: the server
** every contender talks to, and the C client sockit is measured against.
** bench/run.lua builds it (with -lssl -lcrypto) and speaks to it through
** its command line and stdout, as to baseline.c.
**
**   tls_baseline source CERT KEY BYTES     serve one client: handshake,
**                                          BYTES in 64 KiB records, then
**                                          close_notify
**   tls_baseline accept CERT KEY COUNT     COUNT full handshakes, one
**                                          client after the other
**   tls_baseline sink c PORT BYTES CAFILE  receive BYTES, 64 KiB per
**                                          SSL_read
**   tls_baseline handshake c PORT COUNT CAFILE
**                                          COUNT full handshakes
**
** The server speaks TLS 1.3 with AES-128-GCM only, and neither issues
** tickets nor caches sessions: every handshake is a full one, whatever the
** client would resume. Clients check the certificate against CAFILE and
** the address 127.0.0.1, as sockit does.
*/
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "baseline_util.h"

#define CHUNK 65536


/* an OpenSSL failure: its own error queue says more than errno */
static void ssldie (const char *what) {
  fprintf(stderr, "tls_baseline: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}


static int connected (int port) {
  int s = connectto(port);
  nodelay(s);
  return s;
}


static SSL_CTX *server_context (const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL
      || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
      || !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256")
      || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
      || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    ssldie("server context");
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}


static SSL_CTX *client_context (const char *cafile) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL
      || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
      || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
    ssldie("client context");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  return ctx;
}


/* accepts one client and completes the handshake */
static SSL *accepted (SSL_CTX *ctx, int l) {
  int c = accept(l, NULL, NULL);
  SSL *ssl = SSL_new(ctx);
  if (c < 0 || ssl == NULL) ssldie("accept");
  SSL_set_fd(ssl, c);
  if (SSL_accept(ssl) != 1) ssldie("SSL_accept");
  return ssl;
}


/* connects and completes the handshake, checking the peer's address */
static SSL *connecting (SSL_CTX *ctx, int port) {
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) ssldie("SSL_new");
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, connected(port));
  if (SSL_connect(ssl) != 1) ssldie("SSL_connect");
  return ssl;
}


/* sends close_notify, waits for the peer's end, closes */
static void finish (SSL *ssl) {
  char b[256];
  int fd = SSL_get_fd(ssl);
  SSL_shutdown(ssl);
  while (SSL_read(ssl, b, sizeof b) > 0) {}
  SSL_free(ssl);
  close(fd);
}


static int source (const char *cert, const char *key, long long bytes) {
  static char block[CHUNK];
  SSL_CTX *ctx = server_context(cert, key);
  SSL *ssl = accepted(ctx, listening(128));
  long long sent = 0;
  memset(block, 'x', sizeof block);
  while (sent < bytes) {
    int n = (int)(bytes - sent < CHUNK ? bytes - sent : CHUNK);
    if (SSL_write(ssl, block, n) != n) ssldie("SSL_write");
    sent += n;
  }
  finish(ssl);
  printf("result bytes=%lld\n", sent);
  return 0;
}


static int accepting (const char *cert, const char *key, long long count) {
  SSL_CTX *ctx = server_context(cert, key);
  int l = listening(128);
  long long i;
  for (i = 0; i < count; i++) finish(accepted(ctx, l));
  printf("result handshakes=%lld\n", count);
  return 0;
}


static int sink (int port, long long bytes, const char *cafile) {
  static char buf[CHUNK];
  SSL_CTX *ctx = client_context(cafile);
  double t0 = wall(), c0 = cpu();
  SSL *ssl = connecting(ctx, port);
  long long total = 0;
  int n;
  while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) total += n;
  finish(ssl);
  printf("result bytes=%lld wall=%.9f cpu=%.9f\n", total, wall() - t0, cpu() - c0);
  return total == bytes ? 0 : 1;
}


static int handshakes (int port, long long count, const char *cafile) {
  SSL_CTX *ctx = client_context(cafile);
  double t0 = wall(), c0 = cpu();
  long long i;
  for (i = 0; i < count; i++) finish(connecting(ctx, port));
  printf("result handshakes=%lld wall=%.9f cpu=%.9f\n", count, wall() - t0,
         cpu() - c0);
  return 0;
}


int main (int argc, char **argv) {
  const char *role = argc > 1 ? argv[1] : "";
  if (strcmp(role, "source") == 0 && argc == 5)
    return source(argv[2], argv[3], number(argv[4]));
  if (strcmp(role, "accept") == 0 && argc == 5)
    return accepting(argv[2], argv[3], number(argv[4]));
  if (strcmp(role, "sink") == 0 && argc == 6)
    return sink((int)number(argv[3]), number(argv[4]), argv[5]);
  if (strcmp(role, "handshake") == 0 && argc == 6)
    return handshakes((int)number(argv[3]), number(argv[4]), argv[5]);
  fprintf(stderr, "usage: see the top of bench/tls_baseline.c\n");
  return 2;
}
