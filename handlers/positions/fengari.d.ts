/**
 * The few parts of fengari (a Lua 5.3 VM in JavaScript, no types of its own) that
 * script-as-commands.ts uses: the C API, by its C names.
 */
declare module 'fengari' {
  /** A Lua state. */
  export interface LuaState {
    readonly __luaState: unique symbol;
  }
  /** A Lua string: bytes. */
  export type LuaString = Uint8Array;
  interface Lua {
    readonly LUA_OK: number;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    lua_type(L: LuaState, index: number): number;
    lua_gettop(L: LuaState): number;
    lua_settop(L: LuaState, index: number): void;
    lua_pop(L: LuaState, n: number): void;
    lua_absindex(L: LuaState, index: number): number;
    lua_pushboolean(L: LuaState, value: boolean): void;
    lua_pushinteger(L: LuaState, value: number): void;
    lua_pushnumber(L: LuaState, value: number): void;
    lua_pushstring(L: LuaState, value: LuaString): void;
    lua_pushcfunction(L: LuaState, fn: (L: LuaState) => number): void;
    lua_createtable(L: LuaState, arrayLength: number, hashLength: number): void;
    lua_rawseti(L: LuaState, index: number, n: number): void;
    lua_rawgeti(L: LuaState, index: number, n: number): number;
    lua_setfield(L: LuaState, index: number, key: LuaString): void;
    lua_getfield(L: LuaState, index: number, key: LuaString): number;
    lua_setglobal(L: LuaState, name: LuaString): void;
    lua_getglobal(L: LuaState, name: LuaString): number;
    lua_toboolean(L: LuaState, index: number): boolean;
    lua_tonumber(L: LuaState, index: number): number;
    lua_tolstring(L: LuaState, index: number): LuaString;
    lua_isinteger(L: LuaState, index: number): boolean;
    lua_pcall(L: LuaState, nargs: number, nresults: number, errfunc: number): number;
  }
  interface LuaAuxLib {
    luaL_newstate(): LuaState;
    luaL_loadstring(L: LuaState, source: LuaString): number;
  }
  interface LuaLib {
    luaL_openlibs(L: LuaState): void;
  }
  const fengari: {
    readonly lua: Lua;
    readonly lauxlib: LuaAuxLib;
    readonly lualib: LuaLib;
    to_luastring(value: string): LuaString;
    to_jsstring(value: LuaString): string;
  };
  export default fengari;
}
