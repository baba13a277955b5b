/*
** poller.c: readiness for many descriptors at once, for the scheduler:
** epoll on Linux, poll(2) elsewhere or with -DSOCKIT_USE_POLL.
**
** The poller's user value is a table that maps each watched object to
** its descriptor and each descriptor to its object. It keeps the objects
** alive, so a collected socket can never leave its number to a new one
** while still registered, and p:ready(i) finds the object of an event.
**
** A socket counts the pollers watching it, so closing an unwatched one
** costs nothing; closing a watched one makes every live poller (a weak
** set in the registry) that watches it call its onclose.
*/
#include "sockit.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLLERS  "sockit.pollers"

#if defined(__linux__) && !defined(SOCKIT_USE_POLL)
#define USE_EPOLL 1
#include <sys/epoll.h>
#define EV_R  EPOLLIN
#define EV_W  EPOLLOUT
#define EV_FAIL  (EPOLLERR | EPOLLHUP)
typedef struct epoll_event Event;
#else
#define USE_EPOLL 0
#define EV_R  POLLIN
#define EV_W  POLLOUT
#define EV_FAIL  (POLLERR | POLLHUP | POLLNVAL)
typedef struct pollfd Event;
#endif

/* what backend_ctl does */
enum { OP_ADD, OP_MODIFY, OP_REMOVE };

typedef struct Poller {
  int closed;
#if USE_EPOLL
  int epfd;        /* the epoll descriptor */
#endif
  int count;       /* descriptors watched */
  int nready;      /* events from the last wait */
  int cap;         /* size of 'ev' */
  Event *ev;       /* epoll: events out; poll: the watched set, then ready */
#if !USE_EPOLL
  Event *ready;
  int *slot;       /* descriptor -> index in 'ev', -1 if not watched */
  int nslot;
#endif
} Poller;


static Poller *checkpoller (lua_State *L) {
  Poller *p = (Poller *)luaL_checkudata(L, 1, SOCKIT_POLLER);
  if (p->closed) luaL_argerror(L, 1, "attempt to use a closed poller");
  return p;
}


static int checkevents (lua_State *L, int arg) {
  static const char *const names[] = {"r", "w", "rw", NULL};
  static const int events[] = {EV_R, EV_W, EV_R | EV_W};
  return events[luaL_checkoption(L, arg, NULL, names)];
}


/*
** The descriptor of a socket, a resolve request or a descriptor number
** (standard input, a pipe: what is not a socket); -1 once closed. A
** number is its own object in the map, and the poller does not own it.
*/
static int objfd (lua_State *L, int arg) {
  sockit_Socket *s = (sockit_Socket *)luaL_testudata(L, arg, SOCKIT_SOCKET);
  if (s != NULL) return s->fd;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer fd = luaL_checkinteger(L, arg);
    luaL_argcheck(L, 0 <= fd && fd <= 0x7fffffff, arg, "invalid descriptor");
    return (int)fd;
  }
  if (luaL_testudata(L, arg, SOCKIT_REQUEST) == NULL)
    luaL_typeerror(L, arg, "socket, request or descriptor");
  return sockit_requestfd(L, arg);
}


/*
** Make room for 'n' events; raises on memory errors, before any change.
** With poll(2) one block holds the watched set and, after it, the ready
** entries of the last wait (scratch, so growing need not keep them).
*/
#if USE_EPOLL
#define BLOCKS 1
#else
#define BLOCKS 2
#endif

static void reserve (lua_State *L, Poller *p, int n) {
  void *ud;
  lua_Alloc alloc = lua_getallocf(L, &ud);
  Event *ev;
  int cap = p->cap;
  if (n <= cap) return;
  while (cap < n) cap = cap < 16 ? 16 : cap * 2;
  ev = (Event *)alloc(ud, p->ev, sizeof(Event) * BLOCKS * (size_t)p->cap,
                      sizeof(Event) * BLOCKS * (size_t)cap);
  if (ev == NULL) luaL_error(L, "not enough memory");
  p->ev = ev;
#if !USE_EPOLL
  p->ready = ev + cap;
#endif
  p->cap = cap;
}


#if USE_EPOLL

static int backend_open (Poller *p) {
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  return p->epfd < 0 ? errno : 0;
}

static int backend_ctl (lua_State *L, Poller *p, int op, int fd, int events) {
  struct epoll_event e;
  /* indexed by OP_* */
  static const int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
  (void)L;
  memset(&e, 0, sizeof e);
  e.events = (uint32_t)events;
  e.data.fd = fd;
  return epoll_ctl(p->epfd, ops[op], fd, &e) != 0 ? errno : 0;
}

static int backend_wait (Poller *p, int ms, const sigset_t *mask) {
  int n = epoll_pwait(p->epfd, p->ev, p->cap, ms, mask);
  p->nready = n < 0 ? 0 : n;
  return n < 0 ? errno : 0;
}

static void backend_result (Poller *p, int i, int *fd, int *events) {
  *fd = p->ev[i].data.fd;
  *events = (int)p->ev[i].events;
}

static void backend_close (lua_State *L, Poller *p) {
  (void)L;
  close(p->epfd);
}

#else

static int backend_open (Poller *p) {
  p->slot = NULL;
  p->nslot = 0;
  p->ready = NULL;
  return 0;
}

/* slot[fd] exists; raises on memory errors */
static void reserveslot (lua_State *L, Poller *p, int fd) {
  void *ud;
  lua_Alloc alloc = lua_getallocf(L, &ud);
  int n = p->nslot, *slot;
  if (fd < n) return;
  while (n <= fd) n = n < 64 ? 64 : n * 2;
  slot = (int *)alloc(ud, p->slot, sizeof(int) * (size_t)p->nslot,
                      sizeof(int) * (size_t)n);
  if (slot == NULL) luaL_error(L, "not enough memory");
  while (p->nslot < n) slot[p->nslot++] = -1;
  p->slot = slot;
}

static int backend_ctl (lua_State *L, Poller *p, int op, int fd, int events) {
  int i;
  reserveslot(L, p, fd);
  i = p->slot[fd];
  if (op == OP_ADD) {  /* 'count' already has room */
    if (i >= 0) return EEXIST;
    i = p->slot[fd] = p->count;
    p->ev[i].fd = fd;
  }
  else if (i < 0)
    return ENOENT;
  if (op == OP_REMOVE) {  /* move the last entry into the hole */
    p->ev[i] = p->ev[p->count - 1];
    p->slot[p->ev[i].fd] = i;
    p->slot[fd] = -1;
    return 0;
  }
  p->ev[i].events = (short)events;
  p->ev[i].revents = 0;
  return 0;
}

static int backend_wait (Poller *p, int ms, const sigset_t *mask) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  int i, n = ppoll(p->ev, (nfds_t)p->count, ms < 0 ? NULL : &ts, mask);
  p->nready = 0;
  if (n < 0) return errno;
  for (i = 0; i < p->count; i++)  /* a closed one is forgotten, as epoll does */
    if (p->ev[i].revents != 0 && !(p->ev[i].revents & POLLNVAL))
      p->ready[p->nready++] = p->ev[i];
  return 0;
}

static void backend_result (Poller *p, int i, int *fd, int *events) {
  *fd = p->ready[i].fd;
  *events = p->ready[i].revents;
}

static void backend_close (lua_State *L, Poller *p) {
  void *ud;
  lua_Alloc alloc = lua_getallocf(L, &ud);
  alloc(ud, p->slot, sizeof(int) * (size_t)p->nslot, 0);
  p->ready = NULL;
  p->slot = NULL;
}

#endif


static int l_unwatch (lua_State *L);

/*
** Add the poller on top to the weak set of live pollers. The first one
** also registers how a socket's close reaches them (socket.c calls it).
*/
static void enlist (lua_State *L) {
  if (!luaL_getsubtable(L, LUA_REGISTRYINDEX, POLLERS)) {
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushcfunction(L, l_unwatch);
    lua_setfield(L, LUA_REGISTRYINDEX, SOCKIT_UNWATCH);
  }
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}


/* poller([onclose]) -> poller */
static int l_poller (lua_State *L) {
  Poller *p;
  int err;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  p = (Poller *)lua_newuserdatauv(L, sizeof *p, 2);
  p->closed = 1;
  p->count = p->nready = p->cap = 0;
  p->ev = NULL;
  luaL_setmetatable(L, SOCKIT_POLLER);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 2);
  if ((err = backend_open(p)) != 0) return sockit_fail(L, err);
  p->closed = 0;
  enlist(L);
  return 1;
}


/* push the table of the objects the poller at 'arg' watches; its index */
static int getmap (lua_State *L, int arg) {
  lua_getiuservalue(L, arg, 1);
  return lua_gettop(L);
}


/* the descriptor the object at 'arg' was added with, or -1 */
static int watched (lua_State *L, int map, int arg) {
  int fd;
  lua_pushvalue(L, arg);
  lua_rawget(L, map);
  fd = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
  lua_pop(L, 1);
  return fd;
}


static void forget (lua_State *L, Poller *p, int map, int fd) {
  sockit_Socket *s;
  lua_rawgeti(L, map, fd);
  s = (sockit_Socket *)luaL_testudata(L, -1, SOCKIT_SOCKET);
  if (s != NULL) s->watchers--;
  lua_pushnil(L);
  lua_rawset(L, map);
  lua_pushnil(L);
  lua_rawseti(L, map, fd);
  p->count--;
}


/* p:add(obj, events) -> true */
static int l_add (lua_State *L) {
  Poller *p = checkpoller(L);
  int fd = objfd(L, 2);
  int events = checkevents(L, 3);
  int map = getmap(L, 1);
  sockit_Socket *s = (sockit_Socket *)luaL_testudata(L, 2, SOCKIT_SOCKET);
  int err;
  luaL_argcheck(L, fd >= 0, 2, "attempt to watch a closed object");
  if (watched(L, map, 2) >= 0) return sockit_fail(L, EEXIST);
  if (lua_rawgeti(L, map, fd) != LUA_TNIL) {
    /* a number cannot take the place of an open object with it */
    if (objfd(L, lua_gettop(L)) == fd) return sockit_fail(L, EEXIST);
    /* an object closed while watched left its number behind */
    backend_ctl(L, p, OP_REMOVE, fd, 0);
    forget(L, p, map, fd);
  }
  reserve(L, p, p->count + 1);
  if ((err = backend_ctl(L, p, OP_ADD, fd, events)) != 0)
    return sockit_fail(L, err);
  lua_pushvalue(L, 2);
  lua_pushinteger(L, fd);
  lua_rawset(L, map);
  lua_pushvalue(L, 2);
  lua_rawseti(L, map, fd);
  p->count++;
  if (s != NULL) s->watchers++;
  lua_pushboolean(L, 1);
  return 1;
}


/* p:modify(obj, events) -> true */
static int l_modify (lua_State *L) {
  Poller *p = checkpoller(L);
  int events = checkevents(L, 3);
  int fd = watched(L, getmap(L, 1), 2);
  int err = fd < 0 ? ENOENT : backend_ctl(L, p, OP_MODIFY, fd, events);
  if (err != 0) return sockit_fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}


/*
** p:remove(obj) -> true. Works on a socket closed since it was added:
** the kernel has forgotten it already, the poller forgets it here.
*/
static int l_remove (lua_State *L) {
  Poller *p = checkpoller(L);
  int map = getmap(L, 1);
  int fd = watched(L, map, 2);
  if (fd < 0) return sockit_fail(L, ENOENT);
  backend_ctl(L, p, OP_REMOVE, fd, 0);  /* EBADF/ENOENT after a close: fine */
  forget(L, p, map, fd);
  lua_pushboolean(L, 1);
  return 1;
}


/* does the open poller at 'pi' watch the socket at 'arg'? */
static int watches (lua_State *L, int pi, int arg) {
  int fd = -1;
  if (!((Poller *)lua_touserdata(L, pi))->closed) {
    fd = watched(L, getmap(L, pi), arg);
    lua_pop(L, 1);
  }
  return fd >= 0;
}


/*
** unwatch(socket): the socket, watched by some poller, was closed: each
** open poller watching it calls its onclose(socket), so the task waiting
** on it wakes (the kernel forgets a closed descriptor: no event would
** come). The poller still holds it until p:remove, as any closed socket.
*/
static int l_unwatch (lua_State *L) {
  const int arg = 1;
  int set, hooks, n = 0;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, POLLERS);  /* exists: see enlist */
  set = lua_gettop(L);
  lua_newtable(L);  /* the hooks to call, once the walk is over */
  hooks = set + 1;
  lua_pushnil(L);
  while (lua_next(L, set) != 0) {
    lua_pop(L, 1);
    if (watches(L, hooks + 1, arg)
        && lua_getiuservalue(L, hooks + 1, 2) == LUA_TFUNCTION)
      lua_rawseti(L, hooks, ++n);
    else
      lua_settop(L, hooks + 1);
  }
  for (; n > 0; n--) {
    lua_rawgeti(L, hooks, n);
    lua_pushvalue(L, arg);
    lua_call(L, 1, 0);
  }
  return 0;
}


/* backend_wait, Ctrl-C's window closed (see sockit_holdint) */
static int pollerwait (Poller *p, int ms, const sockit_Wait *w) {
  sigset_t old;
  const sigset_t *mask;
  int err = EINTR;
  if (ms == 0) return backend_wait(p, 0, NULL);  /* never sleeps */
  mask = sockit_holdint(&old);
  if (!sockit_interrupted(w)) err = backend_wait(p, ms, mask);
  else p->nready = 0;
  sockit_letint(mask);
  return err;
}


/* p:wait([timeout]) -> number of ready entries; EINTR gives 0 */
static int l_wait (lua_State *L) {
  sockit_Wait w;  /* for the hook only */
  Poller *p = checkpoller(L);
  int ms = sockit_pollms(sockit_opttimeout(L, 2, SOCKIT_FOREVER));
  int err;
  sockit_startwait(L, &w, SOCKIT_FOREVER);
  reserve(L, p, p->count > 0 ? p->count : 1);
  err = pollerwait(p, ms, &w);
  if (err != 0 && err != EINTR) return sockit_fail(L, err);
  lua_pushinteger(L, p->nready);
  return 1;
}


/*
** p:ready(i) -> obj, events. An error or hang-up shows as every event
** the object was waiting for, so its waiter wakes and sees the failure.
*/
static int l_ready (lua_State *L) {
  Poller *p = checkpoller(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  int fd, ev;
  luaL_argcheck(L, 1 <= i && i <= p->nready, 2, "index out of range");
  backend_result(p, (int)i - 1, &fd, &ev);
  if (ev & EV_FAIL) ev |= EV_R | EV_W;
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, fd);
  if ((ev & EV_R) && (ev & EV_W)) lua_pushliteral(L, "rw");
  else if (ev & EV_R) lua_pushliteral(L, "r");
  else lua_pushliteral(L, "w");
  return 2;
}


/* the sockets the poller at 1 still watches stop counting it */
static void unwatchall (lua_State *L) {
  int map = getmap(L, 1);
  lua_pushnil(L);
  while (lua_next(L, map) != 0) {
    sockit_Socket *s = (sockit_Socket *)luaL_testudata(L, -2, SOCKIT_SOCKET);
    if (s != NULL) s->watchers--;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


/* p:close() -> true; also __gc and __close */
static int l_close (lua_State *L) {
  Poller *p = (Poller *)luaL_checkudata(L, 1, SOCKIT_POLLER);
  void *ud;
  lua_Alloc alloc = lua_getallocf(L, &ud);
  if (!p->closed) {
    unwatchall(L);
    backend_close(L, p);
    alloc(ud, p->ev, sizeof(Event) * BLOCKS * (size_t)p->cap, 0);
    p->ev = NULL;
    p->cap = p->count = p->nready = 0;
    p->closed = 1;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}


static int l_tostring (lua_State *L) {
  Poller *p = (Poller *)luaL_checkudata(L, 1, SOCKIT_POLLER);
  if (p->closed) lua_pushliteral(L, SOCKIT_POLLER " (closed)");
  else lua_pushfstring(L, SOCKIT_POLLER " (%s, %d watched)",
                       USE_EPOLL ? "epoll" : "poll", p->count);
  return 1;
}


const luaL_Reg sockit_poller_meth[] = {
  {"add", l_add},
  {"modify", l_modify},
  {"remove", l_remove},
  {"wait", l_wait},
  {"ready", l_ready},
  {"close", l_close},
  {NULL, NULL}
};

const luaL_Reg sockit_poller_metameth[] = {
  {"__gc", l_close},
  {"__close", l_close},
  {"__tostring", l_tostring},
  {NULL, NULL}
};

const luaL_Reg sockit_poller_funcs[] = {
  {"poller", l_poller},
  {NULL, NULL}
};
