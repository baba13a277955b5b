/*
** time.c: the monotonic clock, timeouts and deadlines, and waiting for a
** descriptor.
**
** A timeout is seconds from now, SOCKIT_FOREVER (any negative number is
** read as it) for none, SOCKIT_NOWAIT (0) to try once; a deadline is a
** sockit_now() time, or one of those two marks. NaN is refused where a
** timeout enters (sockit_opttimeout), so no double reaching an int
** conversion here is NaN.
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


/* the timeout argument at 'arg', 'def' when absent; raises on NaN */
double sockit_opttimeout (lua_State *L, int arg, double def) {
  double t = luaL_optnumber(L, arg, def);
  luaL_argcheck(L, t == t, arg, "timeout is NaN");
  return t < 0 ? SOCKIT_FOREVER : t;
}


/* poll's milliseconds for 'seconds' (not NaN), rounded up; -1 forever */
int sockit_pollms (double seconds) {
  double ms = seconds * 1e3;
  if (seconds < 0) return -1;
  if (ms >= 2e9) return 2000000000;
  return (int)ceil(ms);
}


/* the deadline for a call starting now with 'timeout' */
static double deadlineof (double timeout) {
  if (timeout < 0) return SOCKIT_FOREVER;
  return timeout == 0 ? SOCKIT_NOWAIT : sockit_now() + timeout;
}


static double timeleft (double deadline) {
  double left;
  if (deadline == SOCKIT_FOREVER) return SOCKIT_FOREVER;
  left = deadline - sockit_now();
  return left > 0 ? left : 0;
}


/*
** Start a call that may wait for up to 'timeout'. The deadline is set
** at the first wait, so a call that needs none never reads the clock.
** The hook is noted because lua.c answers SIGINT by setting one: a hook
** changed during the call means Ctrl-C, and the call must return.
*/
void sockit_startwait (lua_State *L, sockit_Wait *w, double timeout) {
  w->L = L;
  w->hook = lua_gethook(L);
  w->hookmask = lua_gethookmask(L);
  w->timeout = timeout;
  w->dated = 0;
  w->err = 0;
}


/* after EINTR: did the signal ask the Lua state to stop? */
int sockit_interrupted (const sockit_Wait *w) {
  return lua_gethook(w->L) != w->hook || lua_gethookmask(w->L) != w->hookmask;
}


/* the deadline of 'w', set now if it is not yet */
double sockit_waitdeadline (sockit_Wait *w) {
  if (!w->dated) {
    w->deadline = deadlineof(w->timeout);
    w->dated = 1;
  }
  return w->deadline;
}


/*
** Wait until 'fd' is ready for 'events' (POLLIN, POLLOUT) or the
** deadline of 'w' passes. EINTR restarts the wait with the time that is
** left, unless it interrupts the call. Returns 0 when ready (or in error
** or hang-up: the next call tells which), else an errno value.
*/
int sockit_waitfd (int fd, int events, sockit_Wait *w) {
  double deadline = sockit_waitdeadline(w);
  struct pollfd p;
  p.fd = fd;
  p.events = (short)events;
  for (;;) {
    int n = poll(&p, 1, sockit_pollms(timeleft(deadline))), err = errno;
    if (n > 0) return 0;
    if (n == 0) return deadline == SOCKIT_NOWAIT ? EAGAIN : ETIMEDOUT;
    if (err != EINTR || sockit_interrupted(w)) return err;
  }
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
  sockit_Wait w;
  int r, err = 0;
  /* NaN fails the range check too, before any conversion */
  luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds out of range");
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  sockit_startwait(L, &w, s);
  while ((r = nanosleep(&ts, &ts)) != 0 && (err = errno) == EINTR
         && !sockit_interrupted(&w))
    ;
  if (r != 0) return sockit_fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}


const luaL_Reg sockit_time_funcs[] = {
  {"monotime", l_monotime},
  {"sleep", l_sleep},
  {NULL, NULL}
};
