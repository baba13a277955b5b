/*
** errors.c: errno and getaddrinfo codes to names, and the fail tuple
** (nil, message, code) every sockit.core call returns on failure.
*/
#include "sockit.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>

typedef struct Code {
  const char *name;
  int value;
} Code;

static const Code errnos[] = {
#define SOCKIT_ERRNO(e) {#e, e},
#include "errnames.h"
#undef SOCKIT_ERRNO
  {NULL, 0}
};

static const Code gaicodes[] = {
  {"EAI_BADFLAGS", EAI_BADFLAGS},
  {"EAI_NONAME", EAI_NONAME},
  {"EAI_AGAIN", EAI_AGAIN},
  {"EAI_FAIL", EAI_FAIL},
  {"EAI_FAMILY", EAI_FAMILY},
  {"EAI_SOCKTYPE", EAI_SOCKTYPE},
  {"EAI_SERVICE", EAI_SERVICE},
  {"EAI_MEMORY", EAI_MEMORY},
  {"EAI_OVERFLOW", EAI_OVERFLOW},
#ifdef EAI_NODATA
  {"EAI_NODATA", EAI_NODATA},
#endif
#ifdef EAI_ADDRFAMILY
  {"EAI_ADDRFAMILY", EAI_ADDRFAMILY},
#endif
#ifdef EAI_CANCELED
  {"EAI_CANCELED", EAI_CANCELED},
#endif
  {NULL, 0}
};


static const char *codename (const Code *t, int value) {
  for (; t->name != NULL; t++)
    if (t->value == value) return t->name;
  return NULL;
}


static const Code *codebyname (const Code *t, const char *name) {
  for (; t->name != NULL; t++)
    if (strcmp(t->name, name) == 0) return t;
  return NULL;
}


/* the symbolic name of an errno value; "E?" for one Linux does not define */
const char *sockit_errname (int err) {
  const char *name = codename(errnos, err);
  return name != NULL ? name : "E?";
}


/*
** Push the fail tuple for errno value 'err'. Callers save errno right
** after the system call: a Lua API call may change it.
*/
int sockit_fail (lua_State *L, int err) {
  lua_pushnil(L);
  lua_pushstring(L, strerror(err));
  lua_pushstring(L, sockit_errname(err));
  return 3;
}


/* the fail tuple for a getaddrinfo code; EAI_SYSTEM reports 'err' */
int sockit_gaifail (lua_State *L, int gaierr, int err) {
  const char *name;
  if (gaierr == EAI_SYSTEM) return sockit_fail(L, err);
  name = codename(gaicodes, gaierr);
  lua_pushnil(L);
  lua_pushstring(L, gai_strerror(gaierr));
  lua_pushstring(L, name != NULL ? name : "EAI_FAIL");
  return 3;
}


/*
** strerror(code) -> message; code is a name ("ECONNREFUSED",
** "EAI_NONAME") or an errno number.
*/
static int l_strerror (lua_State *L) {
  const Code *c;
  size_t len;
  const char *name;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, 0 <= n && n <= 0x7fffffff, 1, "errno out of range");
    lua_pushstring(L, strerror((int)n));
    return 1;
  }
  name = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, strlen(name) == len, 1, "unknown error code name");
  c = codebyname(errnos, name);
  if (c != NULL) {
    lua_pushstring(L, strerror(c->value));
    return 1;
  }
  c = codebyname(gaicodes, lua_tostring(L, 1));
  luaL_argcheck(L, c != NULL, 1, "unknown error code name");
  lua_pushstring(L, gai_strerror(c->value));
  return 1;
}


const luaL_Reg sockit_error_funcs[] = {
  {"strerror", l_strerror},
  {NULL, NULL}
};
