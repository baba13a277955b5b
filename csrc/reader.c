/*
** reader.c: the receive buffer of a Stream (sockit.stream), in C.
**
** A reader owns one block of memory from the state's allocator, NULL
** until bytes arrive. The unread bytes are data[pos, len); the Lua code
** addresses them by offsets from pos, which stay valid across fills: a
** fill first moves the unread bytes to the front (pos becomes 0), then
** appends, growing the block by half when it lacks room (one copy of a
** long line, never two). Only consume moves pos forward; the block is
** freed when it is used up and shrunk when a large read leaves little
** behind, so an idle Stream holds no buffer. Every scan resumes where
** the last one stopped (the Lua code passes that offset back), so a line,
** "a" or the white space before "n" cost O(n) however many fills take.
*/
#include "sockit.h"

#include <string.h>

#define BLOCK       (64 * 1024)   /* room a fill asks for */
#define SHRINKFROM  (4 * BLOCK)   /* a larger block shrinks when 3/4 empty */
#define MAXNUMERAL  200           /* longest numeral "n" reads, as liolib */

struct sockit_Reader {
  char *data;
  size_t pos;       /* first unread byte */
  size_t len;       /* end of the bytes received */
  size_t cap;
  size_t maxline;   /* line limit, its end not counted */
};


static sockit_Reader *checkreader (lua_State *L) {
  return (sockit_Reader *)luaL_checkudata(L, 1, SOCKIT_READER);
}


sockit_Reader *sockit_toreader (lua_State *L, int arg) {
  return (sockit_Reader *)luaL_testudata(L, arg, SOCKIT_READER);
}


/* the block resized to 'cap' bytes (0 frees it); false if out of memory */
static int resize (lua_State *L, sockit_Reader *r, size_t cap) {
  void *ud;
  lua_Alloc allocf = lua_getallocf(L, &ud);
  char *p = (char *)allocf(ud, r->data, r->cap, cap);
  if (p == NULL && cap > 0) return 0;
  r->data = p;
  r->cap = cap;
  return 1;
}


char *sockit_readerspace (lua_State *L, sockit_Reader *r, size_t *n) {
  size_t left = r->len - r->pos, want = *n > BLOCK ? *n : BLOCK;
  if (r->pos > 0) {
    memmove(r->data, r->data + r->pos, left);
    r->pos = 0;
    r->len = left;
  }
  if (r->cap - r->len < want) {
    size_t cap = r->cap + r->cap / 2;
    if (cap < r->len + want) cap = r->len + want;
    if (!resize(L, r, cap)) return NULL;
  }
  *n = r->cap - r->len;
  return r->data + r->len;
}


void sockit_readeradd (sockit_Reader *r, size_t n) {
  r->len += n;
}


static size_t unread (const sockit_Reader *r) {
  return r->len - r->pos;
}


/* the unread bytes from offset 'off' (no block yet: none) */
static const char *at (const sockit_Reader *r, size_t off) {
  return r->data == NULL ? "" : r->data + r->pos + off;
}


/* the unread bytes from offset 'off' (an integer at 'arg') on */
static size_t checkoffset (lua_State *L, const sockit_Reader *r, int arg) {
  lua_Integer off = luaL_checkinteger(L, arg);
  luaL_argcheck(L, off >= 0 && (size_t)off <= unread(r), arg,
                "offset out of range");
  return (size_t)off;
}


static size_t checklimit (lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 1, arg, "limit must be at least 1");
  return (size_t)n;
}


/* reader(maxline) -> an empty reader whose lines are at most maxline */
static int l_reader (lua_State *L) {
  size_t maxline = checklimit(L, 1);
  sockit_Reader *r = (sockit_Reader *)lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  r->maxline = maxline;
  luaL_setmetatable(L, SOCKIT_READER);
  return 1;
}


static int l_gc (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  resize(L, r, 0);
  r->pos = r->len = 0;
  return 0;
}


static int l_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)unread(checkreader(L)));
  return 1;
}


/* r:setmaxline(n) -> r */
static int l_setmaxline (lua_State *L) {
  checkreader(L)->maxline = checklimit(L, 2);
  lua_settop(L, 1);
  return 1;
}


/* r:capacity() -> bytes its block holds, read or not (0: none) */
static int l_capacity (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkreader(L)->cap);
  return 1;
}


/* r:sub(off, n) -> the n unread bytes from offset off (fewer at the end) */
static int l_sub (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  size_t off = checkoffset(L, r, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  size_t left = unread(r) - off;
  luaL_argcheck(L, n >= 0, 3, "size must not be negative");
  if ((lua_Unsigned)n < left) left = (size_t)n;
  lua_pushlstring(L, at(r, off), left);
  return 1;
}


/*
** r:consume(n) -> r: the first n unread bytes are gone. A used-up block
** is freed; a large one mostly read shrinks, so a Stream that read 10 MB
** keeps no 10 MB block (spec/sockit_reader_spec.lua checks both).
*/
static void consume (lua_State *L, sockit_Reader *r, size_t n) {
  size_t left = unread(r) - n;
  r->pos += n;
  if (left == 0) {
    resize(L, r, 0);
    r->pos = r->len = 0;
  }
  else if (r->cap >= SHRINKFROM && left <= r->cap / 4) {
    memmove(r->data, r->data + r->pos, left);
    r->pos = 0;
    r->len = left;
    resize(L, r, left);  /* a failed shrink keeps the block */
  }
}


static int l_consume (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  consume(L, r, checkoffset(L, r, 2));
  lua_settop(L, 1);
  return 1;
}


size_t sockit_readerlen (const sockit_Reader *r) {
  return unread(r);
}


void sockit_readertake (lua_State *L, sockit_Reader *r, size_t n) {
  lua_pushlstring(L, at(r, 0), n);
  consume(L, r, n);
}


/* r:append(s) -> r: s joins the unread bytes, at their end */
static int l_append (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  size_t len, room;
  const char *data = luaL_checklstring(L, 2, &len);
  char *p;
  room = len;
  p = sockit_readerspace(L, r, &room);
  if (p == NULL) return luaL_error(L, "not enough memory");
  memcpy(p, data, len);
  sockit_readeradd(r, len);
  lua_settop(L, 1);
  return 1;
}


/*
** Where the line starting at 'p' ends: the line end's offset from p
** ("\n" or "\r\n"), -1 if the line is too long, -2 if no "\n" is in the
** 'have' bytes, whose first 'from' were scanned already.
*/
static ptrdiff_t findline (const sockit_Reader *r, const char *p,
                           size_t have, size_t from, size_t *end) {
  const char *e = (const char *)memchr(p + from, '\n', have - from);
  size_t last;
  if (e == NULL) {
    /* a last "\r" may be waiting for its "\n" */
    if (have > r->maxline
        && (have > r->maxline + 1 || p[have - 1] != '\r')) return -1;
    return -2;
  }
  *end = (size_t)(e - p);
  last = *end > 0 && e[-1] == '\r' ? *end - 1 : *end;
  return last > r->maxline ? -1 : (ptrdiff_t)last;
}


/*
** r:line(off, keepend, from) -> the line at offset off ("\r\n" or "\n"
** dropped unless keepend) and the offset after it; nil and the bytes
** scanned when no line end is buffered yet (pass them as 'from' after
** the next fill); false when the line is longer than the limit.
*/
static int l_line (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  size_t off = checkoffset(L, r, 2);
  int keepend = lua_toboolean(L, 3);
  lua_Integer from = luaL_optinteger(L, 4, 0);
  size_t have = unread(r) - off, end = 0;
  const char *p = at(r, off);
  ptrdiff_t last;
  if (from < 0 || (lua_Unsigned)from > have) from = 0;
  last = have == 0 ? -2 : findline(r, p, have, (size_t)from, &end);
  if (last == -1) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (last == -2) {
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)have);
    return 2;
  }
  lua_pushlstring(L, p, keepend ? end + 1 : (size_t)last);
  lua_pushinteger(L, (lua_Integer)(off + end + 1));
  return 2;
}


static int iswhite (int c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}


/*
** r:skipspace(off) -> the offset of the first byte after off that is not
** white space, or nil when all the rest is white space
*/
static int l_skipspace (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  size_t off = checkoffset(L, r, 2), n = unread(r);
  const char *p = at(r, 0);
  while (off < n && iswhite((unsigned char)p[off])) off++;
  if (off == n) lua_pushnil(L);
  else lua_pushinteger(L, (lua_Integer)off);
  return 1;
}


/* the bytes of a numeral a read("n") may take, as liolib's test2 */
static int numeralbyte (int c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
         || c == '.' || c == 'x' || c == 'X' || c == 'p' || c == 'P'
         || c == '+' || c == '-';
}


typedef struct Scan {
  const char *p;
  size_t i, n;
} Scan;


/* take the byte at the cursor if it is one of 'set' */
static int take (Scan *s, const char *set) {
  if (s->i < s->n && s->p[s->i] != '\0' && strchr(set, s->p[s->i]) != NULL) {
    s->i++;
    return 1;
  }
  return 0;
}


static int isdigit_ (int c, int hex) {
  return (c >= '0' && c <= '9')
         || (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}


static size_t digits (Scan *s, int hex) {
  size_t start = s->i;
  while (s->i < s->n && isdigit_((unsigned char)s->p[s->i], hex)) s->i++;
  return s->i - start;
}


/* the length of the numeral at s->p, taken as liolib's read_number does */
static size_t numeral (Scan *s) {
  size_t count = 0;
  int hex = 0;
  take(s, "-+");
  if (take(s, "0")) {
    if (take(s, "xX")) hex = 1;
    else count = 1;
  }
  count += digits(s, hex);
  if (take(s, ".")) count += digits(s, hex);
  if (count > 0 && take(s, hex ? "pP" : "eE")) {
    take(s, "-+");
    digits(s, 0);
  }
  return s->i;
}


static void pushnumber (lua_State *L, const char *p, size_t n) {
  char buf[MAXNUMERAL + 1];
  memcpy(buf, p, n);
  buf[n] = '\0';
  if (lua_stringtonumber(L, buf) == 0) lua_pushnil(L);
}


/*
** r:number(off [, eof]) -> the offset after the numeral at off, and its
** value (nil if it is not a number); nothing while the numeral may go on
** past the buffered bytes, unless eof says none will come.
*/
static int l_number (lua_State *L) {
  sockit_Reader *r = checkreader(L);
  size_t off = checkoffset(L, r, 2), have = unread(r) - off, i = 0;
  Scan s;
  s.p = at(r, off);
  while (i < have && numeralbyte((unsigned char)s.p[i])) i++;
  if (i == have && have <= MAXNUMERAL && !lua_toboolean(L, 3)) return 0;
  s.i = 0;
  s.n = have < MAXNUMERAL + 1 ? have : MAXNUMERAL + 1;
  i = numeral(&s);
  lua_pushinteger(L, (lua_Integer)(off + i));
  if (i > MAXNUMERAL) lua_pushnil(L);
  else pushnumber(L, s.p, i);
  return 2;
}


/* the reader's line at the stack top ("l"), if one is buffered */
static int pushline (lua_State *L, sockit_Reader *r) {
  size_t have = unread(r), end = 0;
  const char *p = at(r, 0);
  ptrdiff_t last;
  if (have == 0) return 0;
  last = findline(r, p, have, 0, &end);
  if (last < 0) return 0;
  lua_pushlstring(L, p, (size_t)last);
  r->pos += end + 1;
  if (r->pos == r->len) {
    resize(L, r, 0);
    r->pos = r->len = 0;
  }
  return 1;
}


/* the buffered line a bound read returns, or 0 when the slow path must */
static int fastline (lua_State *L, sockit_Reader *r, int iterator) {
  if (iterator) return pushline(L, r);
  if (lua_gettop(L) == 2 && lua_type(L, 2) == LUA_TSTRING
      && lua_rawequal(L, 1, lua_upvalueindex(3))) {
    size_t len;
    const char *fmt = lua_tolstring(L, 2, &len);
    return len == 1 && fmt[0] == 'l' && pushline(L, r);
  }
  return 0;
}


#if LUA_VERSION_NUM >= 503

static int finishcall (lua_State *L, int status, lua_KContext base) {
  (void)status;
  return lua_gettop(L) - (int)base;
}


/* called as owner:read(n), n a positive integer, with a count function */
static int iscount (lua_State *L) {
  return lua_gettop(L) == 2 && lua_isinteger(L, 2) && lua_tointeger(L, 2) > 0
         && !lua_isnil(L, lua_upvalueindex(4))
         && lua_rawequal(L, 1, lua_upvalueindex(3));
}


/*
** The closure r:bind makes. Upvalues: the reader, the slow function,
** the owner (nil for an iterator) and the count function (or nil).
** Called as owner:read("l"), or as an iterator, it returns a buffered
** line itself; owner:read(n) goes to the count function, everything
** else to the slow function; both may yield.
*/
static int boundread (lua_State *L) {
  sockit_Reader *r = (sockit_Reader *)lua_touserdata(L, lua_upvalueindex(1));
  int iterator = lua_isnil(L, lua_upvalueindex(3));
  if (iterator) lua_settop(L, 0);
  if (fastline(L, r, iterator)) return 1;
  lua_pushvalue(L, lua_upvalueindex(iscount(L) ? 4 : 2));
  lua_insert(L, 1);
  lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, finishcall);
  return finishcall(L, LUA_OK, 0);
}


/*
** r:bind(fn [, owner [, count]]) -> a function that returns the reader's
** next buffered line, when called as owner:read("l") (or with no owner,
** as an iterator), count(owner, n) when called as owner:read(n) for a
** positive integer n, and fn(...) otherwise: the Stream's read method
** and its lines() iterator, without a Lua call per buffered line.
*/
static int l_bind (lua_State *L) {
  checkreader(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TFUNCTION);
  lua_settop(L, 4);
  lua_pushcclosure(L, boundread, 4);
  return 1;
}

#else

/*
** Without lua_callk (Lua 5.1, LuaJIT, 5.2: a C function cannot call one
** that yields), the bound function is Lua: it asks fastread, a C closure
** with the same upvalues, for the buffered line, and calls the slow
** function itself.
*/
static const char BINDER[] =
  "local fast, slow, owner = ...\n"
  "if owner == nil then\n"
  "  return function()\n"
  "    local line = fast()\n"
  "    if line ~= nil then return line end\n"
  "    return slow()\n"
  "  end\n"
  "end\n"
  "return function(...)\n"
  "  local line = fast(...)\n"
  "  if line ~= nil then return line end\n"
  "  return slow(...)\n"
  "end\n";


static int fastread (lua_State *L) {
  sockit_Reader *r = (sockit_Reader *)lua_touserdata(L, lua_upvalueindex(1));
  int iterator = lua_isnil(L, lua_upvalueindex(3));
  if (iterator) lua_settop(L, 0);
  return fastline(L, r, iterator);
}


/*
** r:bind(fn [, owner [, count]]), as above; count is an optimisation
** only, which the Lua binder goes without: fn takes every call.
*/
static int l_bind (lua_State *L) {
  checkreader(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  if (luaL_loadbuffer(L, BINDER, sizeof BINDER - 1, "=sockit.reader.bind"))
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_pushcclosure(L, fastread, 3);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_call(L, 3, 1);
  return 1;
}

#endif


const luaL_Reg sockit_reader_meth[] = {
  {"setmaxline", l_setmaxline},
  {"capacity", l_capacity},
  {"sub", l_sub},
  {"consume", l_consume},
  {"append", l_append},
  {"line", l_line},
  {"skipspace", l_skipspace},
  {"number", l_number},
  {"bind", l_bind},
  {NULL, NULL}
};

const luaL_Reg sockit_reader_metameth[] = {
  {"__len", l_len},
  {"__gc", l_gc},
  {NULL, NULL}
};

const luaL_Reg sockit_reader_funcs[] = {
  {"reader", l_reader},
  {NULL, NULL}
};
