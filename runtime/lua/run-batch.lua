-- Redis 5 and 6 refuse writes after XADD's random id without it.
if redis.replicate_commands then redis.replicate_commands() end
local stream, group, consumer, first, last, cursorKey = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
-- Out of memory, Redis refuses a script's writes only while it has written nothing (a write it
-- never refuses, DEL or LTRIM, lets every later one through): a refusal for memory (OOM) is
-- therefore always the first write's, and refuses the whole batch at once, nothing of it written
-- (see oom). It was a write that changes nothing (SETRANGE) made first by every commit.
local function oom(reply)
  if type(reply) == 'table' and reply.err and string.sub(reply.err, 1, 3) == 'OOM' then return reply.err end
  return nil
end
local items = cjson.decode(ARGV[7])
-- The group's oldest pending entries with their consumers, as many as the batch and a few more:
-- most often all of them. Ownership, the earlier entries an item may wait for and the group's
-- restart point are read from it; only what lies past it is asked apart (one XPENDING a page).
local window, complete, mine = {}, true, {}
if first ~= '' then
  local size = #items + 64
  window = redis.call('XPENDING', stream, group, '-', '+', size)
  complete = #window < size
  for r = 1, #window do
    if window[r][2] == consumer then mine[window[r][1]] = true end
  end
  local from = not complete and older(window[#window][1], last) and ('(' .. window[#window][1])
  while from do
    local rows = redis.call('XPENDING', stream, group, from, last, 1000, consumer)
    for r = 1, #rows do mine[rows[r][1]] = true end
    from = #rows == 1000 and ('(' .. rows[#rows][1])
  end
end
-- The type each written key must hold for its command to succeed; a key another writer gave
-- another type fails its item before anything of the item is written.
local needs = {XADD = 'stream', QG_DEAD_LETTER_APPEND = 'stream', HSET = 'hash', SADD = 'set', SREM = 'set', ZADD = 'zset', ZREMRANGEBYSCORE = 'zset', LPUSH = 'list', LTRIM = 'list'}
local types = {}
-- The error of a write to `key` when it holds another type than `want` (nil: any type will do).
local function type_problem(key, want)
  if want == nil then return nil end
  local t = types[key]
  if t == nil then
    t = redis.call('TYPE', key)
    if type(t) == 'table' then t = t.ok end
    types[key] = t
  end
  if t ~= 'none' and t ~= want then return 'WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a ' .. want end
  return nil
end
-- Whether the user may run a command as the item runs it (an ACL may refuse one command, or one
-- key only): asked of the ACL itself (redis.acl_check_cmd, Redis 7+), which writes nothing. A
-- refusal fails the item before anything of it is written, so a write refused for a while never
-- leaves the item's other writes applied, to be written again. Each item asks only of its own
-- commands: a close never needs what a permit writes. Redis 6.2 has no such check (its start-up
-- check and `doctor` cover the commands; a per-key ACL changed under it may leave an item's earlier
-- writes applied, written again on its retry).
local allowed = {}
local function write_problem(name, key)
  if not redis.acl_check_cmd then return nil end
  local asked = name .. ' ' .. tostring(key)
  if allowed[asked] == nil then
    -- An unknown command (renamed away) raises: its words, as the command itself would have failed.
    local ok, permitted = pcall(redis.acl_check_cmd, name, key)
    if not ok then allowed[asked] = tostring(permitted)
    elseif permitted then allowed[asked] = true
    else allowed[asked] = 'NOPERM the gates\' user may not run ' .. name .. ' on ' .. tostring(key) end
  end
  if allowed[asked] == true then return nil end
  return allowed[asked] .. ' (writing ' .. tostring(key) .. ')'
end
local function appends(name) return name == 'QG_DEAD_LETTER_APPEND' or string.upper(name) == 'XADD' end
-- The command an item runs first (its first other than an append, or its first append) when
-- nothing of it is written before (no newest-wins id): a wrong type refuses it before anything of
-- the item is written, so its key's type is not asked ahead. A check run writes nothing, and asks.
local function lead(commands, condKey)
  if check_only or condKey ~= '' then return nil end
  for k = 1, #commands do
    if not appends(commands[k][1]) then return k end
  end
  return 1
end
-- The first of the commands whose key holds the wrong type (a dead letter's index, its third
-- argument, must be a sorted set) or may not be written; `first_run`'s type is not asked.
local function wrong_type(commands, first_run)
  local replaced = {}
  for k = 1, #commands do
    local name, key = string.upper(commands[k][1]), commands[k][2]
    local problem
    if name == 'QG_DEAD_LETTER_APPEND' then
      problem = write_problem('XADD', key) or write_problem('ZADD', commands[k][3])
    else
      -- The command and its key: every command a commit writes with has its key first, and the ACL asks no more.
      problem = write_problem(name, key)
    end
    if problem then return problem end
    if name == 'DEL' or name == 'SET' then
      replaced[key] = true
    elseif not replaced[key] and k ~= first_run then
      problem = type_problem(key, needs[name]) or (name == 'QG_DEAD_LETTER_APPEND' and type_problem(commands[k][3], 'zset'))
      if problem then return problem end
    end
  end
  return nil
end
-- Entries pending in the group before this batch's last entry and not part of this batch (another
-- replica holds them, or they wait for a retry), with their fields: read only when an item asks
-- for stream order by a field, once per batch (most gates never ask).
local earlier = nil
local function load_earlier()
  earlier = {}
  if last == '' then return end
  local inBatch = {}
  for x = 1, #items do
    if items[x][1] ~= '' then inBatch[items[x][1]] = true end
  end
  local rows = window
  if not complete and older(window[#window][1], last) then rows = redis.call('XPENDING', stream, group, '-', last, 1000) end
  for r = 1, #rows do
    local id = rows[r][1]
    if not inBatch[id] and not older(last, id) then
      local found = redis.call('XRANGE', stream, id, id)
      if found[1] then
        local values, kv = {}, found[1][2]
        for f = 1, #kv, 2 do values[kv[f]] = kv[f + 1] end
        earlier[#earlier + 1] = {id, values}
      end
    end
  end
end
-- True when an entry before `entry`, still pending and not in this batch, has the same value of
-- one of the item's order fields: the item must wait for it.
local function must_wait(entry, orders)
  if #orders == 0 or entry == '' then return false end
  if earlier == nil then load_earlier() end
  for e = 1, #earlier do
    if older(earlier[e][1], entry) then
      for o = 1, #orders, 2 do
        if earlier[e][2][orders[o]] == orders[o + 1] then return true end
      end
    end
  end
  return false
end
-- Each item's answer, one letter: k committed, s superseded, c conflicted (a guard), l lost,
-- w waiting, h withheld (a write failed).
local failed, answers, acks = {}, {}, {}
-- Keys of items refused for a guard (and of items refused after them for touching such a key):
-- a later item touching one waits too, so no item overtakes an earlier one on a key they share.
-- Appends to a stream (XADD, dead letters) never change what a later item reads, so they do not count.
local blocked, anyBlocked = {}, false
local function writes_blocked(commands)
  for k = 1, #commands do
    local name = commands[k][1]
    if name ~= 'XADD' and name ~= 'QG_DEAD_LETTER_APPEND' and blocked[commands[k][2]] then return true end
  end
  return false
end
local function block(checks, condKey, commands)
  anyBlocked = true
  for g = 1, #checks, 3 do blocked[checks[g + 1]] = true end
  if condKey ~= '' then blocked[condKey] = true end
  for k = 1, #commands do
    local name = commands[k][1]
    if name ~= 'XADD' and name ~= 'QG_DEAD_LETTER_APPEND' then blocked[commands[k][2]] = true end
  end
end
-- A check run (check_only) sets no newest-wins key: the ids its items would set, by key.
local newest = {}
-- Dead letters removed from the stream by the per-gate bound of the batch's dead letters.
local trimmed = 0
local command = 0
for item = 1, #items do
  local entry, condKey, condId, orders, checks, commands = unpack(items[item])
  -- Guards on keys no earlier item of the batch writes ('a' absent, 'e' equals), checked before
  -- anything else, as a check before the transaction would: an item failing one, or touching a
  -- key of an item refused before it ('t': a key it touches that its commands do not show), is
  -- refused whole, whoever owns its entry, as is one whose guard did not hold when checked
  -- elsewhere ('r').
  local refused = anyBlocked and ((condKey ~= '' and blocked[condKey]) or writes_blocked(commands))
  for g = 1, #checks, 3 do
    local kind, key = checks[g], checks[g + 1]
    if refused then break end
    if blocked[key] then refused = true
    elseif kind == 'a' then refused = redis.call('EXISTS', key) == 1
    elseif kind == 'e' then refused = redis.pcall('GET', key) ~= checks[g + 2]
    elseif kind == 'r' then refused = true end
  end
  local owned = not refused and (entry == '' or mine[entry] == true)
  local waits = owned and must_wait(entry, orders)
  -- A check run holds back later items touching a waiting item's keys too, as for a refused one.
  if refused or (check_only and waits) then block(checks, condKey, commands) end
  local answer = 'k'
  if refused then answer = 'c'
  elseif not owned then answer = 'l'
  elseif waits then answer = 'w' end
  local first_run = lead(commands, condKey)
  if answer == 'k' then
    local problem = wrong_type(commands, first_run)
    if problem then
      answer = 'h'
      failed[#failed + 1] = command + 1
      failed[#failed + 1] = problem
    end
  end
  if answer == 'k' and condKey ~= '' then
    local stored = check_only and newest[condKey] or redis.pcall('GET', condKey)
    if type(stored) == 'string' and older(condId, stored) then
      answer = 's'
    elseif check_only then
      newest[condKey] = condId
    else
      local reply = redis.pcall('SET', condKey, condId)
      if oom(reply) then return redis.error_reply(reply.err) end
      if type(reply) == 'table' and reply.err then
        answer = 'h'
        failed[#failed + 1] = command + 1
        failed[#failed + 1] = reply.err
      end
    end
  end
  local applies = answer == 'k' and not check_only
  -- The item's appends (XADD, dead letters) after its other writes, and nothing after a refused
  -- one: a write refused where no check above foresees it (a module's policy) leaves no entry
  -- appended, and the item, withheld, writes its other writes again as the same values. (Only a
  -- refused second append of one item leaves the first, to be appended again.)
  local base = command
  for pass = 1, 2 do
    for c = 1, #commands do
      local args = commands[c]
      if applies and appends(args[1]) == (pass == 2) then
        local reply
        if args[1] == 'QG_DEAD_LETTER_APPEND' then
          reply = dead_letter_append(args[2], args[3], tonumber(args[4]), args, 5)
          if type(reply) == 'number' then trimmed = trimmed + reply end
        else
          reply = redis.pcall(unpack(args))
        end
        if oom(reply) then return redis.error_reply(reply.err) end
        if type(reply) == 'table' and reply.err then
          answer = 'h'
          applies = false
          failed[#failed + 1] = base + c
          -- The item's first command, its type not asked ahead: named as the check names it.
          local wrong = string.sub(reply.err, 1, 9) == 'WRONGTYPE' and c == first_run and type_problem(args[2], needs[string.upper(args[1])])
          failed[#failed + 1] = wrong or reply.err
        end
      end
    end
  end
  command = base + #commands
  answers[item] = answer
  if entry ~= '' and not check_only and (answer == 'k' or answer == 's') then acks[#acks + 1] = entry end
end
for a = 1, #acks, 1000 do
  redis.call('XACK', stream, group, unpack(acks, a, math.min(a + 999, #acks)))
end
-- Where the group would have to start again were it lost: just before the oldest entry still
-- pending, or after the newest acknowledged when none is.
if cursorKey ~= '' and #acks > 0 then
  -- The window's first row not acknowledged here; a window past which entries are pending holds
  -- 64 more rows than the batch has entries, so one is never acknowledged.
  local acked, oldest = {}, nil
  for a = 1, #acks do acked[acks[a]] = true end
  for r = 1, #window do
    if not acked[window[r][1]] then oldest = window[r][1]; break end
  end
  local cursor
  if oldest then
    cursor = '(' .. oldest
  else
    cursor = acks[1]
    for a = 2, #acks do if older(cursor, acks[a]) then cursor = acks[a] end end
    local stored = redis.call('HGET', cursorKey, group)
    if type(stored) == 'string' and string.sub(stored, 1, 1) ~= '(' and older(cursor, stored) then cursor = stored end
  end
  redis.call('HSET', cursorKey, group, cursor)
end
return {failed, table.concat(answers), trimmed}
