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


/*
** The optional positions i (at 'arg', default 1) and j (at arg + 1,
** default -1) over 'len' bytes, as string.sub reads them: returns how many
** bytes they select, and in '*start' the offset of the first.
*/
size_t sockit_range (lua_State *L, int arg, size_t len, size_t *start) {
  lua_Integer n = (lua_Integer)len;
  lua_Integer i = luaL_optinteger(L, arg, 1);
  lua_Integer j = luaL_optinteger(L, arg + 1, -1);
  if (i < 0) i = i < -n ? 1 : n + i + 1;
  else if (i == 0) i = 1;
  if (j < 0) j = j < -n ? 0 : n + j + 1;
  else if (j > n) j = n;
  *start = 0;
  if (i > j) return 0;
  *start = (size_t)(i - 1);
  return (size_t)(j - i + 1);
}


/* buf:tostring([i [, j]]) -> the data it holds, cut as string.sub cuts */
static int l_tostring (lua_State *L) {
  sockit_Buffer *b = checkbuffer(L);
  size_t start, n = sockit_range(L, 2, b->len, &start);
  lua_pushlstring(L, b->data + start, n);
  return 1;
}


static int l_name (lua_State *L) {
  sockit_Buffer *b = checkbuffer(L);
  lua_pushfstring(L, SOCKIT_BUFFER " (%d of %d bytes)", (int)b->len,
                  (int)b->cap);
  return 1;
}


const luaL_Reg sockit_buffer_meth[] = {
  {"capacity", l_capacity},
  {"tostring", l_tostring},
  {NULL, NULL}
};

const luaL_Reg sockit_buffer_metameth[] = {
  {"__len", l_len},
  {"__tostring", l_name},
  {NULL, NULL}
};

const luaL_Reg sockit_buffer_funcs[] = {
  {"buffer", l_buffer},
  {NULL, NULL}
};
