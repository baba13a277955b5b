/*
** sigwindow.so, for spec/core_interrupt_spec.lua (LD_PRELOAD): Ctrl-C in
** the window between the interpreter's last look at its hook and the
** moment the process sleeps in the kernel. The first call of one of the
** functions named in SIGWINDOW (a comma-separated list: poll, ppoll,
** epoll_wait, epoll_pwait, recv, nanosleep) that may sleep (a timeout
** other than 0; recv without MSG_DONTWAIT) raises SIGINT just before the
** real call. Unblocked, the handler runs at once and sets lua.c's
** hook, and the wait starts after it, as in the race; blocked (a wait
** that holds it blocked up to the sleep), it stays pending until the
** wait lets it in.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

/* is 'name' one of the comma-separated names in 'list'? */
static int named (const char *list, const char *name) {
  size_t n = strlen(name);
  for (;;) {
    if (strncmp(list, name, n) == 0 && (list[n] == ',' || list[n] == '\0'))
      return 1;
    if ((list = strchr(list, ',')) == NULL) return 0;
    list++;
  }
}

static void before (const char *name, int sleeps) {
  static int done;
  const char *list = getenv("SIGWINDOW");
  if (!done && sleeps && list != NULL && named(list, name)) {
    done = 1;
    raise(SIGINT);
  }
}

#define REAL(name, sleeps)  static __typeof__(name) *real; \
  if (real == NULL) real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name); \
  before(#name, sleeps)

int poll (struct pollfd *fds, nfds_t n, int ms) {
  REAL(poll, ms != 0);
  return real(fds, n, ms);
}

int ppoll (struct pollfd *fds, nfds_t n, const struct timespec *t,
           const sigset_t *mask) {
  REAL(ppoll, t == NULL || t->tv_sec != 0 || t->tv_nsec != 0);
  return real(fds, n, t, mask);
}

int epoll_wait (int epfd, struct epoll_event *ev, int max, int ms) {
  REAL(epoll_wait, ms != 0);
  return real(epfd, ev, max, ms);
}

int epoll_pwait (int epfd, struct epoll_event *ev, int max, int ms,
                 const sigset_t *mask) {
  REAL(epoll_pwait, ms != 0);
  return real(epfd, ev, max, ms, mask);
}

ssize_t recv (int fd, void *p, size_t n, int flags) {
  REAL(recv, !(flags & MSG_DONTWAIT));
  return real(fd, p, n, flags);
}

int nanosleep (const struct timespec *t, struct timespec *left) {
  REAL(nanosleep, 1);
  return real(t, left);
}
