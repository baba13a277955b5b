/*
** baseline_util.h: what the C baselines (baseline.c, tls_baseline.c)
** share: failing loudly, the two clocks, the command line's numbers and
** loopback TCP sockets. bench/run.lua compiles baseline_util.c into each.
*/
#ifndef BASELINE_UTIL_H
#define BASELINE_UTIL_H

#include <netinet/in.h>

void die (const char *what);
double wall (void);
double cpu (void);
long long number (const char *s);
struct sockaddr_in loopback (int port);
int listening (int backlog);
int connectto (int port);
void nodelay (int fd);

#endif
