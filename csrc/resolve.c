/*
** resolve.c: getaddrinfo without blocking the caller. Each request runs
** getaddrinfo on a small detached thread, which signals an eventfd when
** done; the scheduler watches that descriptor like a socket's.
**
** The job outlives its Lua handle when the handle is cancelled or
** collected first: whichever of the two lets go last frees it. The
** eventfd belongs to the handle alone, so it closes when the handle is
** cancelled, never later on the thread; the thread writes to it only
** while the handle holds it, under the lock.
*/
#include "sockit.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define STACK_SIZE  (256 * 1024)

typedef struct Job {
  pthread_mutex_t lock;
  int refs;        /* the thread and the handle */
  int done;
  int efd;         /* eventfd, readable once done; -1 once cancelled */
  int gaierr, err;
  struct addrinfo hints;
  struct addrinfo *res;
  char *host, *service;  /* copies: the Lua strings may be collected */
} Job;

typedef struct Request {
  Job *job;        /* NULL once cancelled */
} Request;


static void freejob (Job *j) {
  if (j->res != NULL) freeaddrinfo(j->res);
  pthread_mutex_destroy(&j->lock);
  free(j->host);
  free(j->service);
  free(j);
}


/* drop one reference; the handle's also closes the eventfd */
static void release (Job *j, int handle) {
  int last;
  pthread_mutex_lock(&j->lock);
  if (handle) {
    close(j->efd);
    j->efd = -1;
  }
  last = --j->refs == 0;
  pthread_mutex_unlock(&j->lock);
  if (last) freejob(j);
}


static void *run (void *arg) {
  Job *j = (Job *)arg;
  struct addrinfo *res = NULL;
  uint64_t one = 1;
  int gaierr = getaddrinfo(j->host, j->service, &j->hints, &res);
  int err = errno;
  pthread_mutex_lock(&j->lock);
  j->res = res;
  j->gaierr = gaierr;
  j->err = err;
  j->done = 1;
  while (j->efd >= 0 && write(j->efd, &one, sizeof one) < 0 && errno == EINTR)
    ;
  pthread_mutex_unlock(&j->lock);
  release(j, 0);
  return NULL;
}


/*
** A thread may still run this module's code after the Lua state is
** closed and the module unloaded: pin the module in memory once.
*/
static void pin (void) {
  Dl_info info;
  if (dladdr((void *)(size_t)pin, &info) != 0 && info.dli_fname != NULL)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
}

static void pinmodule (void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;  /* process-wide, no state */
  pthread_once(&once, pin);
}


static char *dupstr (const char *s) {
  char *d;
  if (s == NULL) return NULL;
  d = (char *)malloc(strlen(s) + 1);
  if (d != NULL) strcpy(d, s);
  return d;
}


static int newjob (Job **out, const char *host, const char *service,
                   const struct addrinfo *hints) {
  Job *j = (Job *)calloc(1, sizeof *j);
  int err = 0;
  if (j == NULL) return ENOMEM;
  j->host = dupstr(host);
  j->service = dupstr(service);
  if ((host && !j->host) || (service && !j->service))
    err = ENOMEM;
  else if ((j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
    err = errno;
  if (err != 0) {
    free(j->host);
    free(j->service);
    free(j);
    return err;
  }
  pthread_mutex_init(&j->lock, NULL);
  j->hints = *hints;
  j->refs = 2;
  *out = j;
  return 0;
}


static int start (Job *j) {
  pthread_attr_t attr;
  pthread_t t;
  int err;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, STACK_SIZE);
  err = pthread_create(&t, &attr, run, j);
  pthread_attr_destroy(&attr);
  return err;
}


/* resolve(host, service [, hints]) -> request */
static int l_resolve (lua_State *L) {
  const char *host, *service;
  struct addrinfo hints;
  Request *r;
  int err = sockit_checkquery(L, &host, &service, &hints);
  if (err != 0) return sockit_gaifail(L, err, 0);
  r = (Request *)lua_newuserdatauv(L, sizeof *r, 0);
  r->job = NULL;
  luaL_setmetatable(L, SOCKIT_REQUEST);
  if ((err = newjob(&r->job, host, service, &hints)) != 0)
    return sockit_fail(L, err);
  pinmodule();
  if ((err = start(r->job)) != 0) {
    close(r->job->efd);
    freejob(r->job);
    r->job = NULL;
    return sockit_fail(L, err);
  }
  return 1;
}


static Request *checkrequest (lua_State *L) {
  return (Request *)luaL_checkudata(L, 1, SOCKIT_REQUEST);
}


/* the eventfd of the request at 'arg', -1 once cancelled */
int sockit_requestfd (lua_State *L, int arg) {
  Request *r = (Request *)luaL_checkudata(L, arg, SOCKIT_REQUEST);
  return r->job != NULL ? r->job->efd : -1;
}


/* req:fileno() -> descriptor that becomes readable when done */
static int l_fileno (lua_State *L) {
  lua_pushinteger(L, sockit_requestfd(L, 1));
  return 1;
}


/* req:result() -> list, or the fail tuple (EAGAIN while pending) */
static int l_result (lua_State *L) {
  Request *r = checkrequest(L);
  Job *j = r->job;
  int done;
  if (j == NULL) return sockit_fail(L, ECANCELED);
  pthread_mutex_lock(&j->lock);
  done = j->done;
  pthread_mutex_unlock(&j->lock);
  if (!done) return sockit_fail(L, EAGAIN);
  if (j->gaierr != 0) return sockit_gaifail(L, j->gaierr, j->err);
  sockit_pushaddrinfo(L, j->res);
  return 1;
}


/* req:cancel() -> true; also __gc. The thread finishes on its own. */
static int l_cancel (lua_State *L) {
  Request *r = checkrequest(L);
  if (r->job != NULL) {
    release(r->job, 1);
    r->job = NULL;
  }
  lua_pushboolean(L, 1);
  return 1;
}


const luaL_Reg sockit_request_meth[] = {
  {"fileno", l_fileno},
  {"result", l_result},
  {"cancel", l_cancel},
  {NULL, NULL}
};

const luaL_Reg sockit_request_metameth[] = {
  {"__gc", l_cancel},
  {"__close", l_cancel},
  {NULL, NULL}
};

const luaL_Reg sockit_resolve_funcs[] = {
  {"resolve", l_resolve},
  {NULL, NULL}
};
