/*
** buffer.c: a reusable byte buffer, so receiving need not create a Lua
** string per call.
*/
#include "sockit.h"

#define BUFFER_MAX  ((lua_Integer)1 << 30)


static sockit_Buffer *checkbuffer (lua_State *L) {
  return (sockit_Buffer *)luaL_checkudata(L, 1, SOCKIT_BUFFER);
}


/* buffer(capacity) -> buffer, empty */
static int l_buffer (lua_State *L) {
  lua_Integer cap = luaL_checkinteger(L, 1);
  sockit_Buffer *b;
  luaL_argcheck(L, cap >= 1 && cap <= BUFFER_MAX, 1,
                "capacity out of range");
  b = (sockit_Buffer *)lua_newuserdatauv(L, sizeof *b + (size_t)cap, 0);
  b->len = 0;
  b->cap = (size_t)cap;
  b->data = (char *)(b + 1);
  luaL_setmetatable(L, SOCKIT_BUFFER);
  return 1;
}


static int l_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkbuffer(L)->len);
  return 1;
}


/* buf:capacity() -> bytes it can hold */
static int l_capacity (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkbuffer(L)->cap);
  return 1;
}


/* buf:tostring([i [, j]]) -> the data it holds, cut as string.sub cuts */
static int l_tostring (lua_State *L) {
  sockit_Buffer *b = checkbuffer(L);
  lua_Integer len = (lua_Integer)b->len;
  lua_Integer i = luaL_optinteger(L, 2, 1);
  lua_Integer j = luaL_optinteger(L, 3, -1);
  if (i < 0) i = i < -len ? 1 : len + i + 1;
  else if (i == 0) i = 1;
  if (j < 0) j = j < -len ? 0 : len + j + 1;
  else if (j > len) j = len;
  if (i > j) lua_pushliteral(L, "");
  else lua_pushlstring(L, b->data + i - 1, (size_t)(j - i + 1));
  return 1;
}


static int l_name (lua_State *L) {
  sockit_Buffer *b = checkbuffer(L);
  lua_pushfstring(L, SOCKIT_BUFFER " (%d of %d bytes)", (int)b->len,
                  (int)b->cap);
  return 1;
}


static const luaL_Reg methods[] = {
  {"capacity", l_capacity},
  {"tostring", l_tostring},
  {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
  {"__len", l_len},
  {"__tostring", l_name},
  {NULL, NULL}
};


void sockit_buffer_open (lua_State *L) {
  luaL_newmetatable(L, SOCKIT_BUFFER);
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_buffer);
  lua_setfield(L, -2, "buffer");
}
