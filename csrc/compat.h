/*
** sockit: the parts of the Lua 5.4 C API that sockit uses, for Lua 5.1
** (and LuaJIT 2.1), 5.2 and 5.3. Each missing name becomes a macro onto a
** static function here, so the .c files are written for 5.4 alone; on 5.4
** this file defines nothing.
*/
#ifndef SOCKIT_COMPAT_H
#define SOCKIT_COMPAT_H

#include <stdio.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM < 504

#ifndef LUAMOD_API
#define LUAMOD_API  LUALIB_API
#endif

#define luaL_pushfail(L)  lua_pushnil(L)

#define luaL_typeerror  sockit_typeerror
static inline int sockit_typeerror (lua_State *L, int arg, const char *tname) {
  const char *got = luaL_typename(L, arg);
  if (luaL_getmetafield(L, arg, "__name") && lua_type(L, -1) == LUA_TSTRING)
    got = lua_tostring(L, -1);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s",
                                               tname, got));
}

#define luaL_argexpected(L, cond, arg, tname) \
  ((void)((cond) || luaL_typeerror(L, (arg), (tname))))

/*
** User values: one table per userdata made with lua_newuserdatauv(L, n, k)
** for k > 0 (on 5.1 its environment), holding value i at index i.
*/
#if LUA_VERSION_NUM == 501
#define sockit_getuv(L, idx)  lua_getfenv(L, idx)
#define sockit_setuv(L, idx)  lua_setfenv(L, idx)
#else
#define sockit_getuv(L, idx)  lua_getuservalue(L, idx)
#define sockit_setuv(L, idx)  lua_setuservalue(L, idx)
#endif

#define lua_newuserdatauv  sockit_newuserdatauv
static inline void *sockit_newuserdatauv (lua_State *L, size_t size, int nuv) {
  void *p = lua_newuserdata(L, size);
  if (nuv > 0) {
    lua_createtable(L, nuv, 0);
    sockit_setuv(L, -2);
  }
  return p;
}

#define lua_getiuservalue  sockit_getiuservalue
static inline int sockit_getiuservalue (lua_State *L, int idx, int n) {
  sockit_getuv(L, idx);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNONE;
  }
  lua_rawgeti(L, -1, n);
  lua_remove(L, -2);
  return lua_type(L, -1);
}

/* pops the value on top into user value n of the userdata at idx */
#define lua_setiuservalue  sockit_setiuservalue
static inline int sockit_setiuservalue (lua_State *L, int idx, int n) {
  sockit_getuv(L, idx);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 2);
    return 0;
  }
  lua_insert(L, -2);
  lua_rawseti(L, -2, n);
  lua_pop(L, 1);
  return 1;
}

#endif /* < 504 */


#if LUA_VERSION_NUM < 503

#if LUA_VERSION_NUM == 501
#define lua_absindex  sockit_absindex
static inline int sockit_absindex (lua_State *L, int idx) {
  return idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : lua_gettop(L) + idx + 1;
}
#endif

/* a metatable made by luaL_newmetatable names its type in __name */
#define luaL_newmetatable(L, tname)  sockit_newmetatable(L, tname)
static inline int sockit_newmetatable (lua_State *L, const char *tname) {
  if (!(luaL_newmetatable)(L, tname)) return 0;
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "__name");
  return 1;
}

/* lua_getfield and lua_rawgeti return the type they pushed */
#define lua_getfield(L, idx, k)  (lua_getfield(L, idx, k), lua_type(L, -1))
#define lua_rawgeti(L, idx, n)   (lua_rawgeti(L, idx, n), lua_type(L, -1))

/*
** Numbers are doubles: an integer is a number that is integral and exact
** (magnitude below 2^53), and anything else raises as 5.4 does.
*/
#define SOCKIT_EXACT  9007199254740992.0  /* 2^53 */

static inline int sockit_isexact (lua_Number n) {
  return -SOCKIT_EXACT < n && n < SOCKIT_EXACT
         && (lua_Number)(lua_Integer)n == n;
}

#define lua_isinteger  sockit_isinteger
static inline int sockit_isinteger (lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TNUMBER && sockit_isexact(lua_tonumber(L, idx));
}

#define luaL_checkinteger  sockit_checkinteger
static inline lua_Integer sockit_checkinteger (lua_State *L, int arg) {
  lua_Number n = luaL_checknumber(L, arg);
  if (!sockit_isexact(n))
    luaL_argerror(L, arg, "number has no integer representation");
  return (lua_Integer)n;
}

#undef luaL_optinteger
#define luaL_optinteger(L, arg, def) \
  (lua_isnoneornil(L, (arg)) ? (lua_Integer)(def) : luaL_checkinteger(L, (arg)))

/* 5.1 has no lua_Unsigned and 5.2's has 32 bits: a size's type instead */
typedef size_t sockit_Unsigned;
#define lua_Unsigned  sockit_Unsigned

/* lua_geti returns the type it pushed; metamethods apply */
#define lua_geti  sockit_geti
static inline int sockit_geti (lua_State *L, int idx, lua_Integer i) {
  idx = lua_absindex(L, idx);
  lua_pushinteger(L, i);
  lua_gettable(L, idx);
  return lua_type(L, -1);
}

/* an exact integer, or 0 with *isnum false (strings convert, as 5.4) */
#define lua_tointegerx  sockit_tointegerx
static inline lua_Integer sockit_tointegerx (lua_State *L, int idx,
                                             int *isnum) {
  lua_Number n = lua_tonumber(L, idx);
  int ok = lua_isnumber(L, idx) && sockit_isexact(n);
  if (isnum != NULL) *isnum = ok;
  return ok ? (lua_Integer)n : 0;
}

/* lua_stringtonumber: the numeral's value pushed and its size + 1, or 0 */
#define lua_stringtonumber  sockit_stringtonumber
static inline size_t sockit_stringtonumber (lua_State *L, const char *s) {
  lua_Number n;
  lua_pushstring(L, s);
  if (!lua_isnumber(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  n = lua_tonumber(L, -1);
  lua_pop(L, 1);
  lua_pushnumber(L, n);
  return strlen(s) + 1;
}

#if LUA_VERSION_NUM == 502
/* 5.2's lua_rawgetp returns nothing */
#define lua_rawgetp(L, idx, p)  (lua_rawgetp(L, idx, p), lua_type(L, -1))
#endif

#endif /* < 503 */


#if LUA_VERSION_NUM == 501


/* LuaJIT has the next three; its own are as good, these keep one path */
#define luaL_setfuncs  sockit_setfuncs51
static inline void sockit_setfuncs51 (lua_State *L, const luaL_Reg *l, int nup) {
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

#define luaL_testudata  sockit_testudata
static inline void *sockit_testudata (lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}

/* LuaJIT takes a value that is not a string for the default */
#define luaL_checkoption  sockit_checkoption
static inline int sockit_checkoption (lua_State *L, int arg, const char *def,
                                      const char *const lst[]) {
  const char *name = def ? luaL_optstring(L, arg, def) : luaL_checkstring(L, arg);
  int i;
  for (i = 0; lst[i] != NULL; i++)
    if (strcmp(lst[i], name) == 0) return i;
  return luaL_argerror(L, arg, lua_pushfstring(L, "invalid option '%s'", name));
}

#define luaL_setmetatable(L, tname) \
  (luaL_getmetatable(L, tname), lua_setmetatable(L, -2))

#define luaL_getsubtable  sockit_getsubtable
static inline int sockit_getsubtable (lua_State *L, int idx, const char *k) {
  if (lua_getfield(L, idx, k) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, idx, k);
  return 0;
}

#define luaL_tolstring  sockit_tolstring
static inline const char *sockit_tolstring (lua_State *L, int idx, size_t *len) {
  idx = lua_absindex(L, idx);
  if (luaL_callmeta(L, idx, "__tostring")) {
    if (!lua_isstring(L, -1)) luaL_error(L, "'__tostring' must return a string");
  }
  else switch (lua_type(L, idx)) {
    case LUA_TNUMBER: case LUA_TSTRING: lua_pushvalue(L, idx); break;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
      break;
    case LUA_TNIL: lua_pushliteral(L, "nil"); break;
    default:
      lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
  }
  return lua_tolstring(L, -1, len);
}

/*
** A buffer of a known size: a userdata block, left on the stack till done.
** io.c's recv and recvfrom use one only on the path that made it, which
** GCC, inlining these, cannot see.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define luaL_buffinitsize  sockit_buffinitsize
static inline char *sockit_buffinitsize (lua_State *L, luaL_Buffer *B,
                                         size_t size) {
  B->L = L;
  B->lvl = 0;
  B->p = (char *)lua_newuserdata(L, size);
  return B->p;
}

#define luaL_pushresultsize  sockit_pushresultsize
static inline void sockit_pushresultsize (luaL_Buffer *B, size_t size) {
  lua_pushlstring(B->L, B->p, size);
  lua_remove(B->L, -2);
}

#define lua_rawlen(L, idx)  lua_objlen(L, idx)
#define luaL_len(L, idx)    ((lua_Integer)lua_objlen(L, idx))

#define lua_rawgetp  sockit_rawgetp
static inline int sockit_rawgetp (lua_State *L, int idx, const void *p) {
  idx = lua_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)(size_t)p);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

/* pops the value on top into t[p], t the table at idx */
#define lua_rawsetp  sockit_rawsetp
static inline void sockit_rawsetp (lua_State *L, int idx, const void *p) {
  idx = lua_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)(size_t)p);
  lua_insert(L, -2);
  lua_rawset(L, idx);
}

/*
** A Lua file: 5.1's is a FILE * (NULL once closed), LuaJIT's a struct
** whose first field is that FILE *; neither has 5.2's closef, so an open
** file is one whose FILE * is not NULL.
*/
#ifndef LUA_FILEHANDLE
#define LUA_FILEHANDLE  "FILE*"  /* in lualib.h */
#endif

typedef struct luaL_Stream {
  FILE *f;
} luaL_Stream;
#define closef  f

#endif /* 501 */

#endif
