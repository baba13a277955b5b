/*
** tls.c: luaopen_sockit_tls. The module table holds the functions of
** contexts (tls_context.c) and of connections (tls_conn.c); every one of
** them has sockit.core's sockit_API as its upvalue.
*/
#include "tls.h"


/* the table core.so left in the registry, of the version built against */
static void pushapi (lua_State *L) {
  const sockit_API *api;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sockit.core");
  lua_call(L, 1, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, SOCKIT_API);
  api = (const sockit_API *)lua_touserdata(L, -1);
  if (api == NULL || api->version != SOCKIT_API_VERSION)
    luaL_error(L, "sockit.tls: sockit.core is of another build");
}


/* a metatable whose functions all have the API (on top) as upvalue */
static void newclass (lua_State *L, const char *tname,
                      const luaL_Reg *metameth, const luaL_Reg *meth) {
  luaL_newmetatable(L, tname);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, metameth, 1);
  lua_newtable(L);
  lua_pushvalue(L, -3);
  luaL_setfuncs(L, meth, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}


LUAMOD_API int luaopen_sockit_tls (lua_State *L) {
  pushapi(L);
  newclass(L, SOCKIT_TLSCONTEXT, sockit_tlscontext_metameth,
           sockit_tlscontext_meth);
  newclass(L, SOCKIT_TLSCONN, sockit_tlsconn_metameth, sockit_tlsconn_meth);
  lua_newtable(L);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, sockit_tlscontext_funcs, 1);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, sockit_tlsconn_funcs, 1);
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "OPENSSL_VERSION");
  return 1;
}
