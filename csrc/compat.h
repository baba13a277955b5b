/*
** sockit: the parts of the Lua 5.4 C API that sockit uses, for Lua 5.1
** (and LuaJIT 2.1), 5.2 and 5.3. Each missing name becomes a macro onto a
** static function here, so the .c files are written for 5.4 alone; on 5.4
** this file defines nothing.
*/
#ifndef SOCKIT_COMPAT_H
#define SOCKIT_COMPAT_H

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

#endif /* < 503 */


#if LUA_VERSION_NUM == 501

#define lua_absindex  sockit_absindex
static inline int sockit_absindex (lua_State *L, int idx) {
  return idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : lua_gettop(L) + idx + 1;
}

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

/* a buffer of a known size: a userdata block, left on the stack till done */
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

#endif /* 501 */

#endif
