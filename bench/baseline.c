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
**   baseline udpsink c COUNT SIZE          count datagrams until none came
**                                          for 0.1 s
**   baseline udpsink batch COUNT SIZE      the same, 64 per recvmmsg
**   baseline udpsource c PORT COUNT SIZE   send COUNT SIZE-byte datagrams
**   baseline udpsource blast PORT COUNT SIZE
**                                          the same, 64 per sendmmsg, faster
**                                          than any receiver
**   baseline filesource c PORT PATH        send the file at PATH with
**                                          sendfile(2)
*/
#define _GNU_SOURCE

#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <time.h>
#include <unistd.h>

#define RECVSIZE  65536


static void die (const char *what) {
  perror(what);
  exit(1);
}


static double clockof (clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall (void) { return clockof(CLOCK_MONOTONIC); }
static double cpu (void) { return clockof(CLOCK_PROCESS_CPUTIME_ID); }


static long long number (const char *s) {
  char *end;
  long long n = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0' || n < 0) {
    fprintf(stderr, "baseline: bad number '%s'\n", s);
    exit(2);
  }
  return n;
}


static struct sockaddr_in loopback (int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}


static void nodelay (int fd) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    die("setsockopt");
}


/* listen on 127.0.0.1, tell the port on stdout, return the first client */
static int acceptone (void) {
  struct sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), c;
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(fd, 1) != 0) die("listen");
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) die("getsockname");
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  c = accept(fd, NULL, NULL);
  if (c < 0) die("accept");
  close(fd);
  return c;
}


static int connectto (int port) {
  struct sockaddr_in a = loopback(port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  return fd;
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


#define BATCH 64

/* one recvmmsg of up to BATCH datagrams of 'size' bytes into 'buf' */
static int recvbatch (int fd, char *buf, size_t size) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  int i;
  memset(msgs, 0, sizeof msgs);
  for (i = 0; i < BATCH; i++) {
    iov[i].iov_base = buf + (size_t)i * size;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  return recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
}


/* one datagram, or a batch: the count received, -1 when none came */
static int recvsome (int fd, char *buf, size_t size, int batched) {
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  if (batched) return recvbatch(fd, buf, size);
  return recvfrom(fd, buf, size, 0, (struct sockaddr *)&from, &len) < 0
         ? -1 : 1;
}


static int udpsink (size_t size, int batched) {
  struct sockaddr_in a = loopback(0);
  struct timeval idle = {0, 100000};
  socklen_t len = sizeof a;
  char *buf = pattern(size * BATCH, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0), n;
  long long got = 0;
  double t0 = 0, t1 = 0, c0 = 0;
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) die("getsockname");
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  while ((n = recvsome(fd, buf, size, batched)) > 0) {
    t1 = wall();
    if (got == 0) {  /* the clocks start at the first datagrams */
      t0 = t1;
      c0 = cpu();
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    }
    got += n;
  }
  printf("result got=%lld span=%.9f cpu=%.9f\n", got, t1 - t0, cpu() - c0);
  free(buf);
  return got > 1 ? 0 : 1;
}


/* 'count' datagrams in batches of up to BATCH, one sendmmsg each */
static void blast (int fd, struct sockaddr_in *a, char *buf, size_t size,
                   long long count) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov = {buf, size};
  int i, n;
  memset(msgs, 0, sizeof msgs);
  for (i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_name = a;
    msgs[i].msg_hdr.msg_namelen = sizeof *a;
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  while (count > 0) {
    n = sendmmsg(fd, msgs, count < BATCH ? (unsigned)count : BATCH, 0);
    if (n < 0) die("sendmmsg");
    count -= n;
  }
}


static int udpsource (int batched, int port, long long count, size_t size) {
  struct sockaddr_in a = loopback(port);
  char *buf = pattern(size, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  double t0 = wall(), c0 = cpu();
  long long i;
  if (fd < 0) die("socket");
  if (batched) blast(fd, &a, buf, size, count);
  else
    for (i = 0; i < count; i++)
      if (sendto(fd, buf, size, 0, (struct sockaddr *)&a, sizeof a) < 0)
        die("sendto");
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
  if (strcmp(role, "udpsource") == 0 && argc == 6)
    return udpsource(strcmp(argv[2], "blast") == 0, (int)number(argv[3]),
                     number(argv[4]),
                     (size_t)number(argv[5]));
  fprintf(stderr, "usage: baseline ROLE c ARGS... (see baseline.c)\n");
  return 2;
}
