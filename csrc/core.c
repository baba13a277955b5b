/*
** core.c: luaopen_sockit_core builds the module table from the luaL_Reg
** arrays of the concern files; the functions live in those files.
*/
#include "sockit.h"

#include <stdint.h>


/* the methods of a socket, which are also functions of the module */
static const luaL_Reg *const socketmeth[] = {
  sockit_socket_meth, sockit_io_meth, sockit_msg_meth, sockit_address_meth,
  sockit_option_meth, NULL
};

static const luaL_Reg *const buffermeth[] = {sockit_buffer_meth, NULL};
static const luaL_Reg *const pollermeth[] = {sockit_poller_meth, NULL};
static const luaL_Reg *const requestmeth[] = {sockit_request_meth, NULL};
static const luaL_Reg *const readermeth[] = {sockit_reader_meth, NULL};
static const luaL_Reg *const batchmeth[] = {sockit_batch_meth, NULL};

static const luaL_Reg *const funcs[] = {
  sockit_socket_funcs, sockit_io_funcs, sockit_address_funcs,
  sockit_time_funcs,
  sockit_buffer_funcs, sockit_poller_funcs, sockit_resolve_funcs,
  sockit_error_funcs, sockit_reader_funcs, sockit_msg_funcs,
  sockit_batch_funcs, NULL
};


static void setconstants (lua_State *L) {
  lua_pushinteger(L, SOCKIT_RECVMAX);
  lua_setfield(L, -2, "RECVMAX");
  lua_pushinteger(L, SOCKIT_PATHMAX);
  lua_setfield(L, -2, "PATHMAX");
  lua_pushliteral(L, SOCKIT_VERSION);
  lua_setfield(L, -2, "_VERSION");
}


/*
** The calls of sockit_hot_meth, methods and functions alike, as closures
** over one scratch block of this state (a static one would be shared by
** every state of the process) and the metatables they check.
*/
static void sethot (lua_State *L) {
  const luaL_Reg *f;
  luaL_getmetatable(L, SOCKIT_SOCKET);
  lua_getfield(L, -1, "__index");
  lua_newuserdatauv(L, SOCKIT_SCRATCH, 0);
  for (f = sockit_hot_meth; f->name != NULL; f++) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, -4);
    luaL_getmetatable(L, SOCKIT_READER);
    lua_pushcclosure(L, f->func, 3);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, f->name);  /* the methods */
    lua_setfield(L, -5, f->name);  /* the module */
  }
  lua_pop(L, 3);
}


/* the functions sockit.tls calls (sockit.h tells why a table of them) */
static const sockit_API api = {
  SOCKIT_API_VERSION,
  sockit_tosock,
  sockit_toreader, sockit_readerspace, sockit_readeradd,
  sockit_startwait, sockit_retry,
  sockit_fail
};


static void setapi (lua_State *L) {
  /* through an integer: a light userdata has no const */
  lua_pushlightuserdata(L, (void *)(uintptr_t)&api);
  lua_setfield(L, LUA_REGISTRYINDEX, SOCKIT_API);
}


/* core.send(s, data) and s:send(data) are the same function */
LUAMOD_API int luaopen_sockit_core (lua_State *L) {
  sockit_newclass(L, SOCKIT_SOCKET, sockit_socket_metameth, socketmeth);
  sockit_newclass(L, SOCKIT_BUFFER, sockit_buffer_metameth, buffermeth);
  sockit_newclass(L, SOCKIT_POLLER, sockit_poller_metameth, pollermeth);
  sockit_newclass(L, SOCKIT_REQUEST, sockit_request_metameth, requestmeth);
  sockit_newclass(L, SOCKIT_READER, sockit_reader_metameth, readermeth);
  sockit_newclass(L, SOCKIT_BATCH, sockit_batch_metameth, batchmeth);
  lua_newtable(L);
  sockit_setfuncs(L, socketmeth);
  sockit_setfuncs(L, funcs);
  setconstants(L);
  sethot(L);
  setapi(L);
  return 1;
}
