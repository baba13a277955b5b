/*
** baseline.c: the C side of the benchmarks, doing with plain system calls
** what bench/sockit_peer.lua does with sockit. bench/run.lua builds it and
** speaks to it through its command line and stdout (see run.lua).
**
**   baseline sink c BYTES                  receive BYTES, 64 KiB per recv
**   baseline sink copy BYTES               the same, each receive copied
**                                          into fresh memory
**   baseline source c PORT BYTES CHUNK [LINE]
**                                          send BYTES in CHUNK-byte sends;
**                                          with LINE, a newline ends every
**                                          LINE-byte line
**   baseline pong c                        echo single bytes until EOF
**   baseline ping c PORT ROUNDS            ROUNDS 1-byte round trips
**   baseline udpsink c COUNT SIZE          receive datagrams in bursts (see
**                                          "Datagrams" below), one recvfrom
**                                          each
**   baseline udpsink batch COUNT SIZE      the same, 64 per recvmmsg
**   baseline udpsource c PORT COUNT SIZE CONTROL
**                                          send COUNT SIZE-byte datagrams in
**                                          bursts, one sendto each
**   baseline udpsource batch PORT COUNT SIZE CONTROL
**                                          the same, 64 per sendmmsg
**   baseline udpsource gso PORT COUNT SIZE CONTROL
**                                          the same, 64 per sendmsg with
**                                          UDP_SEGMENT
**   baseline filesource c PORT PATH        send the file at PATH with
**                                          sendfile(2)
*/
#define _GNU_SOURCE

#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <stdint.h>
#include <unistd.h>

#include "baseline_util.h"

#define RECVSIZE  65536


/* listen on 127.0.0.1, tell the port on stdout, return the first client */
static int acceptone (void) {
  int fd = listening(1), c = accept(fd, NULL, NULL);
  if (c < 0) die("accept");
  close(fd);
  return c;
}


static void sendall (int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) die("send");
    p += n;
    len -= (size_t)n;
  }
}


/*
** The "copy" sink's work beside each receive: the bytes copied into
** fresh memory, as a receive into a new Lua string is, kept until the
** next receive (volatile: the compiler must not drop the copy).
*/
static char *volatile copied;

static void copyout (const char *p, size_t n) {
  char *q = malloc(n);
  if (q == NULL) die("malloc");
  memcpy(q, p, n);
  free(copied);
  copied = q;
}


static int sink (long long expect, int copy) {
  static char buf[RECVSIZE];
  int fd = acceptone();
  double t0 = wall(), c0 = cpu();
  long long total = 0;
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    total += n;
    if (copy) copyout(buf, (size_t)n);
  }
  if (n < 0) die("recv");
  printf("result bytes=%lld wall=%.9f cpu=%.9f\n", total, wall() - t0,
         cpu() - c0);
  return total == expect ? 0 : 1;
}


/* a chunk of 'size' bytes; with 'line', a newline ends every line */
static char *pattern (size_t size, size_t line) {
  char *p = malloc(size);
  size_t i;
  if (p == NULL) die("malloc");
  for (i = 0; i < size; i++)
    p[i] = (line > 0 && i % line == line - 1) ? '\n' : (char)('a' + i % 26);
  return p;
}


static int source (int port, long long bytes, size_t chunk, size_t line) {
  char *p;
  int fd = connectto(port);
  double t0 = wall(), c0 = cpu();
  if (line > 0) chunk -= chunk % line;  /* every chunk starts a line */
  p = pattern(chunk, line);
  while (bytes > 0) {
    size_t n = (long long)chunk < bytes ? chunk : (size_t)bytes;
    sendall(fd, p, n);
    bytes -= (long long)n;
  }
  close(fd);
  free(p);
  printf("result wall=%.9f cpu=%.9f\n", wall() - t0, cpu() - c0);
  return 0;
}


static int pong (void) {
  int fd = acceptone();
  double c0 = cpu();
  long long rounds = 0;
  char b;
  ssize_t n;
  nodelay(fd);
  while ((n = recv(fd, &b, 1, 0)) == 1) {
    sendall(fd, &b, 1);
    rounds++;
  }
  if (n < 0) die("recv");
  printf("result rounds=%lld cpu=%.9f\n", rounds, cpu() - c0);
  return 0;
}


static int ping (int port, long long rounds) {
  int fd = connectto(port);
  double t0 = wall(), c0 = cpu();
  long long i;
  char b = 'x';
  nodelay(fd);
  for (i = 0; i < rounds; i++) {
    sendall(fd, &b, 1);
    if (recv(fd, &b, 1, 0) != 1) die("recv");
  }
  close(fd);
  printf("result wall=%.9f cpu=%.9f\n", wall() - t0, cpu() - c0);
  return 0;
}


/*
** Datagrams go in bursts of BURST, which the receiver's buffer holds
** whole: the sender sends a burst to the receiver's data port, then "g"
** to its control port, and waits for the receiver's "a"; the receiver
** waits for "g", drains the data port without waiting, answers "a". So a
** receiver always finds a full queue (its CPU time is its own work, not
** wakeups while a slower sender catches up) and nothing is dropped (a
** drop would spare the sender the delivery). "e" ends the last burst.
*/
#define BATCH 64
#define BURST 256
#define RCVBUF (4 * 1024 * 1024)  /* asked for; Linux caps it at rmem_max */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif


static int udpsocket (struct sockaddr_in *a) {
  socklen_t len = sizeof *a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)a, sizeof *a) != 0) die("bind");
  if (getsockname(fd, (struct sockaddr *)a, &len) != 0) die("getsockname");
  return fd;
}


/* the messages of a batch of BATCH datagrams, 'size' bytes each at 'buf' */
static void setbatch (struct mmsghdr *msgs, struct iovec *iov,
                      struct sockaddr_storage *from, char *buf, size_t size) {
  int i;
  memset(msgs, 0, BATCH * sizeof *msgs);
  for (i = 0; i < BATCH; i++) {
    iov[i].iov_base = buf + (size_t)i * size;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}


/* one recvmmsg of up to BATCH datagrams of 'size' bytes into 'buf' */
static int recvbatch (int fd, char *buf, size_t size) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  setbatch(msgs, iov, from, buf, size);
  return recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
}


/* one datagram, or a batch: the count received, -1 when none was there */
static int recvsome (int fd, char *buf, size_t size, int batched) {
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  if (batched) return recvbatch(fd, buf, size);
  return recvfrom(fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)&from,
                  &len) < 0 ? -1 : 1;
}


static int udpsink (size_t size, int batched) {
  struct sockaddr_in a = loopback(0), k = loopback(0), from;
  socklen_t len = sizeof from;
  char *buf = pattern(size * BATCH, 0), c = 0;
  int fd = udpsocket(&a), ctl = udpsocket(&k), n, big = RCVBUF;
  long long got = 0;
  double t0 = 0, c0 = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  printf("port %d\ncontrol %d\n", ntohs(a.sin_port), ntohs(k.sin_port));
  fflush(stdout);
  while (c != 'e') {
    if (recvfrom(ctl, &c, 1, 0, (struct sockaddr *)&from, &len) != 1)
      die("recvfrom");
    if (got == 0) {  /* the clocks start at the first burst */
      t0 = wall();
      c0 = cpu();
    }
    while ((n = recvsome(fd, buf, size, batched)) > 0) got += n;
    if (c != 'e' && sendto(ctl, "a", 1, 0, (struct sockaddr *)&from, len) < 0)
      die("sendto");
  }
  printf("result got=%lld span=%.9f cpu=%.9f\n", got, wall() - t0,
         cpu() - c0);
  free(buf);
  return got > 1 ? 0 : 1;
}


/* up to BATCH datagrams in one sendmmsg: the count sent */
static int sendbatch (int fd, struct sockaddr_in *a, char *buf, size_t size,
                      int n) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  int i;
  setbatch(msgs, iov, from, buf, size);
  for (i = 0; i < n; i++) {
    msgs[i].msg_hdr.msg_name = a;
    msgs[i].msg_hdr.msg_namelen = sizeof *a;
  }
  return sendmmsg(fd, msgs, (unsigned)n, 0);
}


/* up to BATCH datagrams in one sendmsg, cut into 'size'-byte datagrams
   by the kernel (UDP generic segmentation offload) */
static int sendgso (int fd, struct sockaddr_in *a, char *buf, size_t size,
                    int n) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(uint16_t))]; } ctl;
  struct iovec iov;
  struct msghdr m;
  uint16_t seg = (uint16_t)size;
  ssize_t sent;
  iov.iov_base = buf;
  iov.iov_len = size * (size_t)n;
  memset(&m, 0, sizeof m);
  memset(&ctl, 0, sizeof ctl);
  m.msg_name = a;
  m.msg_namelen = sizeof *a;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.b;
  m.msg_controllen = sizeof ctl.b;
  ctl.h.cmsg_level = SOL_UDP;
  ctl.h.cmsg_type = UDP_SEGMENT;
  ctl.h.cmsg_len = CMSG_LEN(sizeof seg);
  memcpy(CMSG_DATA(&ctl.h), &seg, sizeof seg);
  sent = sendmsg(fd, &m, 0);
  return sent < 0 ? -1 : (int)(sent / (ssize_t)size);
}


/* one call of the mode's: the count of datagrams sent */
static int sendsome (int mode, int fd, struct sockaddr_in *a, char *buf,
                     size_t size, long long left) {
  int n = left < BATCH ? (int)left : BATCH;
  if (mode == 'b') return sendbatch(fd, a, buf, size, n);
  if (mode == 'g') return sendgso(fd, a, buf, size, n);
  return sendto(fd, buf, size, 0, (struct sockaddr *)a, sizeof *a) < 0
         ? -1 : 1;
}


static int udpsource (int mode, int port, long long count, size_t size,
                      int control) {
  struct sockaddr_in a = loopback(port), k = loopback(control);
  char *buf = pattern(size * BATCH, 0), c;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), n;
  double t0 = wall(), c0 = cpu();
  long long left = count, burst;
  if (fd < 0) die("socket");
  while (left > 0) {
    for (burst = 0; burst < BURST && left > 0; burst += n, left -= n)
      if ((n = sendsome(mode, fd, &a, buf, size, left)) < 0) die("send");
    c = left > 0 ? 'g' : 'e';
    if (sendto(fd, &c, 1, 0, (struct sockaddr *)&k, sizeof k) < 0)
      die("sendto");
    if (c == 'g' && recv(fd, &c, 1, 0) != 1) die("recv");
  }
  printf("result sent=%lld wall=%.9f cpu=%.9f\n", count, wall() - t0,
         cpu() - c0);
  free(buf);
  return 0;
}


static int filesource (int port, const char *path) {
  int fd = connectto(port), f = open(path, O_RDONLY);
  double t0 = wall(), c0 = cpu();
  struct stat st;
  off_t off = 0;
  if (f < 0 || fstat(f, &st) != 0) die(path);
  while (off < st.st_size)
    if (sendfile(fd, f, &off, (size_t)(st.st_size - off)) < 0)
      die("sendfile");
  close(f);
  close(fd);
  printf("result wall=%.9f cpu=%.9f\n", wall() - t0, cpu() - c0);
  return 0;
}


int main (int argc, char **argv) {
  const char *role = argc > 1 ? argv[1] : "";
  if (strcmp(role, "sink") == 0 && argc == 4)
    return sink(number(argv[3]), strcmp(argv[2], "copy") == 0);
  if (strcmp(role, "source") == 0 && (argc == 6 || argc == 7))
    return source((int)number(argv[3]), number(argv[4]),
                  (size_t)number(argv[5]),
                  argc == 7 ? (size_t)number(argv[6]) : 0);
  if (strcmp(role, "pong") == 0 && argc == 3)
    return pong();
  if (strcmp(role, "ping") == 0 && argc == 5)
    return ping((int)number(argv[3]), number(argv[4]));
  if (strcmp(role, "udpsink") == 0 && argc == 5)
    return udpsink((size_t)number(argv[4]), strcmp(argv[2], "batch") == 0);
  if (strcmp(role, "filesource") == 0 && argc == 5)
    return filesource((int)number(argv[3]), argv[4]);
  if (strcmp(role, "udpsource") == 0 && argc == 7)
    return udpsource(argv[2][0], (int)number(argv[3]), number(argv[4]),
                     (size_t)number(argv[5]), (int)number(argv[6]));
  fprintf(stderr, "usage: baseline ROLE c ARGS... (see baseline.c)\n");
  return 2;
}
