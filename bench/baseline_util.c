/*
** baseline_util.c: the helpers both C baselines use (baseline_util.h).
** Every failure ends the process: a baseline that cannot do its part has
** no figure to give, and run.lua reports its exit status.
*/
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baseline_util.h"


void die (const char *what) {
  perror(what);
  exit(1);
}


static double clockof (clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double wall (void) { return clockof(CLOCK_MONOTONIC); }
double cpu (void) { return clockof(CLOCK_PROCESS_CPUTIME_ID); }


/* a count from the command line: digits only */
long long number (const char *s) {
  char *end;
  long long n = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0' || n < 0) {
    fprintf(stderr, "bench: bad number '%s'\n", s);
    exit(2);
  }
  return n;
}


struct sockaddr_in loopback (int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}


/* a listener on 127.0.0.1, port 0, whose port goes to stdout */
int listening (int backlog) {
  struct sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(fd, backlog) != 0) die("listen");
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) die("getsockname");
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}


int connectto (int port) {
  struct sockaddr_in a = loopback(port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  return fd;
}


void nodelay (int fd) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    die("setsockopt");
}
