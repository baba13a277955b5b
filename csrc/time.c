/*
** time.c: the monotonic clock, deadlines, and waiting for a descriptor.
*/
#include "sockit.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>


double sockit_now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* milliseconds left until 'deadline' for poll; -1 for no deadline */
static int pollms (double deadline) {
  double left;
  if (deadline < 0) return -1;
  left = (deadline - sockit_now()) * 1e3;
  if (left <= 0) return 0;
  if (left >= 2e9) return 2000000000;
  return (int)ceil(left);
}


/*
** Wait until 'fd' is ready for 'events' (POLLIN, POLLOUT) or the
** monotonic 'deadline' (negative: none) passes. EINTR restarts the wait
** with the time that is left. Returns 0 when ready (or in error or
** hang-up: the next call tells which), else an errno value.
*/
int sockit_waitfd (int fd, int events, double deadline) {
  struct pollfd p;
  p.fd = fd;
  p.events = (short)events;
  for (;;) {
    int n = poll(&p, 1, pollms(deadline));
    if (n > 0) return 0;
    if (n == 0) return deadline == 0 ? EAGAIN : ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}


/* the deadline for a call starting now with 'timeout' (negative: none) */
double sockit_deadline (double timeout) {
  return timeout < 0 ? -1 : timeout == 0 ? 0 : sockit_now() + timeout;
}


/* monotime() -> seconds */
static int l_monotime (lua_State *L) {
  lua_pushnumber(L, sockit_now());
  return 1;
}


/* sleep(seconds) -> true */
static int l_sleep (lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct timespec ts;
  luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds out of range");
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  lua_pushboolean(L, 1);
  return 1;
}


static const luaL_Reg funcs[] = {
  {"monotime", l_monotime},
  {"sleep", l_sleep},
  {NULL, NULL}
};

void sockit_time_funcs (lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}
