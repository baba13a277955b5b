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
#include <pthread.h>
#include <signal.h>
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
** Ctrl-C's window. lua.c's SIGINT handler sets a hook and wakes nothing:
** landing after a call last looked at the hook and before it sleeps in
** the kernel, the signal would leave it asleep (forever, without a
** timeout). So a wait that may sleep blocks SIGINT, looks at the hook,
** and sleeps with the mask it had before, which ppoll and epoll_pwait
** put in place atomically: a SIGINT that came meanwhile, pending, ends
** the sleep at once. sockit_holdint returns the mask to sleep with:
** NULL when the program blocks SIGINT itself (nothing then to undo).
*/
const sigset_t *sockit_holdint (sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &set, old) != 0 || sigismember(old, SIGINT))
    return NULL;
  return old;
}


/* the mask as it was before sockit_holdint gave 'mask' */
void sockit_letint (const sigset_t *mask) {
  if (mask != NULL) pthread_sigmask(SIG_SETMASK, mask, NULL);
}


/* a sleep of 'seconds' (not NaN) for ppoll; NULL: no limit */
static struct timespec *tospec (double seconds, struct timespec *ts) {
  if (seconds < 0) return NULL;
  if (seconds > 1e9) seconds = 1e9;  /* 31 years: not worth a wider cast */
  ts->tv_sec = (time_t)seconds;
  ts->tv_nsec = (long)((seconds - (double)ts->tv_sec) * 1e9);
  return ts;
}


/* one poll of 'p' until 'deadline' -> poll's result, errno set */
static int pollonce (struct pollfd *p, double deadline, const sockit_Wait *w) {
  struct timespec ts;
  sigset_t old;
  const sigset_t *mask;
  int n, err = EINTR;
  if (deadline == SOCKIT_NOWAIT) return poll(p, 1, 0);  /* never sleeps */
  mask = sockit_holdint(&old);
  if (sockit_interrupted(w)) n = -1;
  else {
    n = ppoll(p, 1, tospec(timeleft(deadline), &ts), mask);
    err = errno;
  }
  sockit_letint(mask);
  errno = err;
  return n;
}


/*
** Wait until 'fd' is ready for 'events' (POLLIN, POLLOUT) or the
** deadline of 'w' passes; a negative 'fd' just sleeps until then. EINTR
** restarts the wait with the time that is left, unless it interrupts
** the call. Returns 0 when ready (or in error or hang-up: the next call
** tells which), else an errno value.
*/
int sockit_waitfd (int fd, int events, sockit_Wait *w) {
  double deadline = sockit_waitdeadline(w);
  struct pollfd p;
  p.fd = fd;
  p.events = (short)events;
  for (;;) {
    int n = pollonce(&p, deadline, w), err = errno;
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


/* sleep(seconds) -> true; a poll of nothing, so Ctrl-C's window closes */
static int l_sleep (lua_State *L) {
  double s = luaL_checknumber(L, 1);
  sockit_Wait w;
  int err;
  /* NaN fails the range check too, before any conversion */
  luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds out of range");
  sockit_startwait(L, &w, s);
  err = sockit_waitfd(-1, 0, &w);
  if (err != ETIMEDOUT && err != EAGAIN) return sockit_fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}


const luaL_Reg sockit_time_funcs[] = {
  {"monotime", l_monotime},
  {"sleep", l_sleep},
  {NULL, NULL}
};
