/*
 * A Redis module that refuses one command on one key, as a policy module would: a command filter
 * rewrites `CMD KEY ...` into the module's own `qgrefuse.refuse CMD KEY ...`, which answers with
 * the module's error. Redis runs the filter on every command, a client's and a script's
 * (redis.call) alike, so the gates meet the error where they sent the command.
 *
 *   qgrefuse.set CMD KEY   refuse CMD on KEY from now on (one rule at a time)
 *   qgrefuse.clear         refuse nothing
 *
 * Compiled and loaded (--loadmodule) by test/integration/redis-module-error.test.ts. Debian's
 * redis-server ships no redismodule.h, so the few declarations it needs are its own, as in
 * src/redismodule.h of Redis 7.0 (the API's signatures, REDISMODULE_OK/ERR, REDISMODULE_APIVER_1),
 * and RedisModule_Init's way of finding the API: the address of RedisModule_GetApi is the first
 * word of the context Redis passes to RedisModule_OnLoad, and every other function is looked up by
 * its name through it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REDISMODULE_OK 0
#define REDISMODULE_ERR 1
#define REDISMODULE_APIVER_1 1

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleCommandFilterCtx RedisModuleCommandFilterCtx;
typedef struct RedisModuleCommandFilter RedisModuleCommandFilter;
typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
typedef void (*RedisModuleCommandFilterFunc)(RedisModuleCommandFilterCtx *filter);

static int (*RedisModule_GetApi)(const char *name, void *fn);
static int (*RedisModule_SetModuleAttribs)(RedisModuleCtx *ctx, const char *name, int ver, int apiver);
static int (*RedisModule_CreateCommand)(RedisModuleCtx *ctx, const char *name, RedisModuleCmdFunc fn, const char *flags, int firstkey,
                                        int lastkey, int keystep);
static int (*RedisModule_WrongArity)(RedisModuleCtx *ctx);
static int (*RedisModule_ReplyWithError)(RedisModuleCtx *ctx, const char *err);
static int (*RedisModule_ReplyWithSimpleString)(RedisModuleCtx *ctx, const char *msg);
static const char *(*RedisModule_StringPtrLen)(const RedisModuleString *str, size_t *len);
static RedisModuleString *(*RedisModule_CreateString)(RedisModuleCtx *ctx, const char *ptr, size_t len);
static RedisModuleCommandFilter *(*RedisModule_RegisterCommandFilter)(RedisModuleCtx *ctx, RedisModuleCommandFilterFunc cb, int flags);
static int (*RedisModule_CommandFilterArgsCount)(RedisModuleCommandFilterCtx *fctx);
static const RedisModuleString *(*RedisModule_CommandFilterArgGet)(RedisModuleCommandFilterCtx *fctx, int pos);
static int (*RedisModule_CommandFilterArgInsert)(RedisModuleCommandFilterCtx *fctx, int pos, RedisModuleString *arg);

#define GET_API(name) RedisModule_GetApi("RedisModule_" #name, (void *)&RedisModule_##name)

#define REFUSE "qgrefuse.refuse"

/* The rule: the command's name and the key it may not touch ("" for none). */
static char refused_command[64];
static char refused_key[512];

static int same(const RedisModuleString *arg, const char *text, int ignore_case) {
  size_t len;
  const char *ptr = RedisModule_StringPtrLen(arg, &len);
  if (len != strlen(text)) return 0;
  return ignore_case ? strncasecmp(ptr, text, len) == 0 : memcmp(ptr, text, len) == 0;
}

/* CMD KEY ... of the rule becomes qgrefuse.refuse CMD KEY ...; the module's own commands pass. */
static void filter(RedisModuleCommandFilterCtx *fctx) {
  if (refused_key[0] == '\0' || RedisModule_CommandFilterArgsCount(fctx) < 2) return;
  if (!same(RedisModule_CommandFilterArgGet(fctx, 0), refused_command, 1)) return;
  if (!same(RedisModule_CommandFilterArgGet(fctx, 1), refused_key, 0)) return;
  /* Owned by Redis from here: never freed by the module. */
  RedisModule_CommandFilterArgInsert(fctx, 0, RedisModule_CreateString(NULL, REFUSE, strlen(REFUSE)));
}

/* The module's answer, worded as modules word theirs: ERR, the module's name, what it refused. */
static int refuse(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  char error[700];
  size_t command_len, key_len;
  const char *command, *key;
  if (argc < 3) return RedisModule_WrongArity(ctx);
  command = RedisModule_StringPtrLen(argv[1], &command_len);
  key = RedisModule_StringPtrLen(argv[2], &key_len);
  snprintf(error, sizeof error, "ERR qgrefuse: %.*s on %.*s is not allowed by this server's policy", (int)command_len, command, (int)key_len,
           key);
  return RedisModule_ReplyWithError(ctx, error);
}

static int set_rule(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  size_t command_len, key_len;
  const char *command, *key;
  if (argc != 3) return RedisModule_WrongArity(ctx);
  command = RedisModule_StringPtrLen(argv[1], &command_len);
  key = RedisModule_StringPtrLen(argv[2], &key_len);
  if (command_len >= sizeof refused_command || key_len == 0 || key_len >= sizeof refused_key)
    return RedisModule_ReplyWithError(ctx, "ERR qgrefuse: command or key too long");
  memcpy(refused_command, command, command_len);
  refused_command[command_len] = '\0';
  memcpy(refused_key, key, key_len);
  refused_key[key_len] = '\0';
  return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int clear_rule(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  (void)argv;
  if (argc != 1) return RedisModule_WrongArity(ctx);
  refused_key[0] = '\0';
  return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  (void)argv;
  (void)argc;
  RedisModule_GetApi = (int (*)(const char *, void *))((void **)ctx)[0];
  if (GET_API(SetModuleAttribs) || GET_API(CreateCommand) || GET_API(WrongArity) || GET_API(ReplyWithError) ||
      GET_API(ReplyWithSimpleString) || GET_API(StringPtrLen) || GET_API(CreateString) || GET_API(RegisterCommandFilter) ||
      GET_API(CommandFilterArgsCount) || GET_API(CommandFilterArgGet) || GET_API(CommandFilterArgInsert))
    return REDISMODULE_ERR;
  RedisModule_SetModuleAttribs(ctx, "qgrefuse", 1, REDISMODULE_APIVER_1);
  /* No key positions: the refusal touches no key, and a script may call it as any command. */
  if (RedisModule_CreateCommand(ctx, REFUSE, refuse, "", 0, 0, 0) == REDISMODULE_ERR) return REDISMODULE_ERR;
  if (RedisModule_CreateCommand(ctx, "qgrefuse.set", set_rule, "", 0, 0, 0) == REDISMODULE_ERR) return REDISMODULE_ERR;
  if (RedisModule_CreateCommand(ctx, "qgrefuse.clear", clear_rule, "", 0, 0, 0) == REDISMODULE_ERR) return REDISMODULE_ERR;
  if (RedisModule_RegisterCommandFilter(ctx, filter, 0) == NULL) return REDISMODULE_ERR;
  return REDISMODULE_OK;
}
