/*
** core.c: luaopen_sockit_core builds the module table; the functions
** live in the file of their concern.
*/
#include "sockit.h"


/*
** Register the metatable 'tname' of a class of userdata: its
** metamethods, and its methods as __index.
*/
void sockit_class (lua_State *L, const char *tname, const luaL_Reg *meta,
                   const luaL_Reg *methods) {
  luaL_newmetatable(L, tname);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}


/*
** The methods of the handle are also functions of the module, so
** core.send(s, data) and s:send(data) are the same function.
*/
LUAMOD_API int luaopen_sockit_core (lua_State *L) {
  lua_newtable(L);  /* methods */
  sockit_io_methods(L);
  sockit_address_methods(L);
  sockit_option_methods(L);
  sockit_socket_open(L);
  lua_newtable(L);  /* module */
  lua_pushnil(L);
  while (lua_next(L, -3) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  sockit_socket_funcs(L);
  sockit_io_funcs(L);
  sockit_address_funcs(L);
  sockit_time_funcs(L);
  sockit_buffer_open(L);
  sockit_poller_open(L);
  sockit_resolve_open(L);
  lua_pushcfunction(L, sockit_strerror);
  lua_setfield(L, -2, "strerror");
  return 1;
}
