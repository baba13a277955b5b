/*
** class.c: the metatables of sockit.core's userdata, each built the same
** way from the luaL_Reg arrays the concern files export.
*/
#include "sockit.h"


/* set every function of the NULL-ended 'lists' into the table on top */
void sockit_setfuncs (lua_State *L, const luaL_Reg *const lists[]) {
  for (; *lists != NULL; lists++)
    luaL_setfuncs(L, *lists, 0);
}


/*
** Register the metatable 'tname': its metamethods, and a table of the
** methods of 'meth' as __index.
*/
void sockit_newclass (lua_State *L, const char *tname,
                      const luaL_Reg *metameth, const luaL_Reg *const meth[]) {
  luaL_newmetatable(L, tname);
  luaL_setfuncs(L, metameth, 0);
  lua_newtable(L);
  sockit_setfuncs(L, meth);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
