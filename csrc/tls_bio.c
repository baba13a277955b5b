/*
** tls_bio.c: the BIO of sockit.tls's connections. OpenSSL reads and
** writes the socket through it with recv and send(MSG_NOSIGNAL), so no
** peer can raise SIGPIPE; a call that would block is marked for retry,
** and tls_conn.c waits for the direction OpenSSL asks for.
*/
#include "tls.h"

#include <errno.h>
#include <sys/socket.h>


/* the BIO's failure: one to retry after waiting, or the end of the call */
static int biofail (BIO *b, sockit_TLSConn *c, int write) {
  c->err = errno;
  if (c->err == EAGAIN || c->err == EWOULDBLOCK || c->err == EINTR) {
    if (write) BIO_set_retry_write(b);
    else BIO_set_retry_read(b);
  }
  return -1;
}


static int biowrite (BIO *b, const char *p, int n) {
  sockit_TLSConn *c = (sockit_TLSConn *)BIO_get_data(b);
  ssize_t k;
  BIO_clear_retry_flags(b);
  k = send(c->fd, p, (size_t)n, MSG_NOSIGNAL | (c->dontwait ? MSG_DONTWAIT : 0));
  return k >= 0 ? (int)k : biofail(b, c, 1);
}


static int bioread (BIO *b, char *p, int n) {
  sockit_TLSConn *c = (sockit_TLSConn *)BIO_get_data(b);
  ssize_t k;
  BIO_clear_retry_flags(b);
  k = recv(c->fd, p, (size_t)n, c->dontwait ? MSG_DONTWAIT : 0);
  return k >= 0 ? (int)k : biofail(b, c, 0);
}


static long bioctrl (BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  return cmd == BIO_CTRL_FLUSH;  /* nothing is held back to flush */
}


/* the BIO method of a context's connections; NULL if out of memory */
BIO_METHOD *sockit_newbiomethod (void) {
  BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "sockit socket");
  if (m != NULL && (!BIO_meth_set_write(m, biowrite)
                    || !BIO_meth_set_read(m, bioread)
                    || !BIO_meth_set_ctrl(m, bioctrl))) {
    BIO_meth_free(m);
    m = NULL;
  }
  return m;
}
