/*
** resolve.c: getaddrinfo without blocking the caller. Each request runs
** getaddrinfo on a thread of a small pool, which signals an eventfd when
** done; the scheduler watches that descriptor like a socket's.
**
** The pool runs at most 'cap' lookups at once (core.resolvers): the
** others wait in a queue, which a request cancelled before its turn
** leaves without ever running. A thread takes jobs until the queue is
** empty, then ends, so an idle process holds no thread. Threads outlive
** any lua_State, so the pool is process-wide: it is the one deliberate
** exception to "no C globals with state", guarded by its mutex.
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define STACK_SIZE  (256 * 1024)
#define DEFAULT_CAP  32
#define MAX_CAP      1024

typedef struct Job {
  struct Job *prev, *next;  /* in the queue, under pool.lock */
  int queued;
  pthread_mutex_t lock;
  int refs;        /* the queue or thread, and the handle */
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

static struct {
  pthread_mutex_t lock;
  Job *head, *tail;  /* waiting jobs, oldest first */
  int queued;
  int threads;       /* running, each taking jobs until none is left */
  int cap;
} pool = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, DEFAULT_CAP};


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


static void lookup (Job *j) {
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
}


/* the queue, under pool.lock */
static void enqueue (Job *j) {
  j->prev = pool.tail;
  j->next = NULL;
  if (pool.tail != NULL) pool.tail->next = j;
  else pool.head = j;
  pool.tail = j;
  j->queued = 1;
  pool.queued++;
}

static void unqueue (Job *j) {
  if (j->prev != NULL) j->prev->next = j->next;
  else pool.head = j->next;
  if (j->next != NULL) j->next->prev = j->prev;
  else pool.tail = j->prev;
  j->queued = 0;
  pool.queued--;
}


/*
** The next job for a pool thread, or NULL when it must end: the queue is
** empty, or the cap was lowered below the threads running (the others
** go on, so a waiting job always has a thread).
*/
static Job *nextjob (void) {
  Job *j;
  pthread_mutex_lock(&pool.lock);
  j = pool.head;
  if (j == NULL || pool.threads > pool.cap) {
    pool.threads--;
    j = NULL;
  }
  else
    unqueue(j);
  pthread_mutex_unlock(&pool.lock);
  return j;
}

static void *worker (void *arg) {
  Job *j;
  (void)arg;
  while ((j = nextjob()) != NULL)
    lookup(j);
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


/*
** One more pool thread, counted in pool.threads already. It starts with
** every signal blocked, so that they all go to the program's threads:
** a SIGINT taken by a pool thread while the caller holds it blocked
** (see sockit_holdint) would set lua.c's hook and wake no waiter.
*/
static int startthread (void) {
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  int err;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, STACK_SIZE);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&t, &attr, worker, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    pthread_mutex_lock(&pool.lock);
    pool.threads--;
    pthread_mutex_unlock(&pool.lock);
  }
  return err;
}


/*
** Queue 'j', with one more thread while under the cap. When no thread
** can start and none runs, 'j' leaves the queue and the error is
** reported; with one running, 'j' waits for it.
*/
static int submit (Job *j) {
  int more, err = 0;
  pthread_mutex_lock(&pool.lock);
  enqueue(j);
  more = pool.threads < pool.cap;
  if (more) pool.threads++;
  pthread_mutex_unlock(&pool.lock);
  if (more && (err = startthread()) != 0) {
    pthread_mutex_lock(&pool.lock);
    if (pool.threads > 0 || !j->queued) err = 0;  /* taken, or will be */
    else unqueue(j);
    pthread_mutex_unlock(&pool.lock);
  }
  return err;
}


/* take 'j' out of the queue if it has not started -> whether it had not */
static int dequeue (Job *j) {
  int queued;
  pthread_mutex_lock(&pool.lock);
  queued = j->queued;
  if (queued) unqueue(j);
  pthread_mutex_unlock(&pool.lock);
  return queued;
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
  if ((err = submit(r->job)) != 0) {
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
    if (dequeue(r->job)) release(r->job, 0);  /* the queue's reference */
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

/*
** resolvers([n]) -> the cap on lookups running at once, before the call;
** n sets it. Raising it starts threads for waiting lookups now; lowering
** it lets the threads past it end after their lookup.
*/
static int l_resolvers (lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 0);
  int old, more = 0;
  luaL_argcheck(L, lua_isnoneornil(L, 1) || (1 <= n && n <= MAX_CAP), 1,
                "count out of range");
  pthread_mutex_lock(&pool.lock);
  old = pool.cap;
  if (n > 0) {
    pool.cap = (int)n;
    more = pool.cap - pool.threads;
    if (more > pool.queued) more = pool.queued;
    if (more > 0) pool.threads += more;
  }
  pthread_mutex_unlock(&pool.lock);
  for (; more > 0; more--)
    startthread();  /* on failure the running ones serve the queue */
  lua_pushinteger(L, old);
  return 1;
}


const luaL_Reg sockit_resolve_funcs[] = {
  {"resolve", l_resolve},
  {"resolvers", l_resolvers},
  {NULL, NULL}
};
