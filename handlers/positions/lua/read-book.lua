-- The position book's reads in one moment (handlers/positions/book.ts: bookReads says what, readPlain
-- does the same with plain commands, scriptRecord names this reply, bookReadOf decodes either's).
-- KEYS: our view's index, the snapshot stream, P3.3's index, the portfolio state ('' for no equity),
-- the governor's watched symbols, the book's memory (quantum:gates:positions:held), the balance
-- tracker's account hash.
-- ARGV: the position-snapshot group, the bound on entries, bookReads as JSON
-- [{over = view|p33|entries|book|held, read = [command, key prefix, args...], suffix = after the symbol,
--   needless = [{read = prefix, numbers = [places], present = [places], absent = [places]}, ...]}, ...],
-- P3.3's symbols the key watch names (JSON), or '' to read every symbol P3.3's index lists.
-- A listing read Redis refuses (a key of another type, a key the user may not read) is noted
-- {listing, key, error} and read as empty: the rest of the book is still read (book.ts bookReadOf).
local listingRefused = {}
local function listing(name, key, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    listingRefused[#listingRefused + 1] = {name, key, reply.err}
    return nil
  end
  return reply
end
local equity = false
if KEYS[4] ~= '' then equity = listing('equity', KEYS[4], 'HMGET', KEYS[4], 'equity_usd', 'timestamp') or false end
-- The symbols the governor watches (its permitted opens until their fills are in the book): read
-- directly, whatever lists them. A watch Redis refuses is a listing refused.
local watched = listing('watch', KEYS[5], 'ZRANGE', KEYS[5], 0, -1) or {}
local lists = {
  view = listing('view', KEYS[1], 'SMEMBERS', KEYS[1]) or {},
  p33 = {},
  entries = {},
  book = {},
  held = {},
}
-- The book's memory (fields SYMBOL:LEG): its symbols are read directly, whatever lists them.
local memory = listing('held', KEYS[6], 'HGETALL', KEYS[6]) or {}
local heldSeen = {}
for j = 1, #memory, 2 do
  local s = memory[j + 1] ~= '' and (string.match(memory[j], '^(.+):LONG$') or string.match(memory[j], '^(.+):SHORT$'))
  if s and not heldSeen[s] then heldSeen[s] = true; lists.held[#lists.held + 1] = s end
end
local tracker = listing('tracker', KEYS[7], 'HGET', KEYS[7], 'timestamp') or false
-- The stream's entries not applied yet: through the group (its pending ones, then those after its
-- last-delivered id), without that group the newest, without the stream none.
local mode, start = 'tail', '-'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[2])
if type(groups) == 'table' and groups.err then
  mode = 'none'
  if not string.find(groups.err, 'no such key', 1, true) then listingRefused[#listingRefused + 1] = {'stream', KEYS[2], groups.err} end
else
  for _, g in ipairs(groups) do
    local info = {}
    for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
    if info.name == ARGV[1] then
      mode, start = 'group', '(' .. info['last-delivered-id']
      if info.pending > 0 then
        local pending = listing('stream', KEYS[2], 'XPENDING', KEYS[2], ARGV[1])
        if pending then start = pending[2] else mode = 'none' end
      end
    end
  end
end
local entries = {}
if mode ~= 'none' then entries = listing('stream', KEYS[2], 'XREVRANGE', KEYS[2], '+', start, 'COUNT', tonumber(ARGV[2]) + 1) or {} end
-- The entries' symbols (an entry's last symbol field, as fieldsToRecord reads it; none empty), then
-- the book's: our view's, the entries', P3.3's index's, each once.
local seen = {}
for _, e in ipairs(entries) do
  local s
  for j = 1, #e[2], 2 do if e[2][j] == 'symbol' then s = e[2][j + 1] end end
  if s and s ~= '' and not seen[s] then seen[s] = true; lists.entries[#lists.entries + 1] = s end
end
-- P3.3's symbols: with the key watch live, the symbols it names (ARGV[4], JSON: hashes other than a
-- sound flat figure) and those of our view and the entries that P3.3's index lists (a flat hash's
-- mark prices another producer's position); without it ('') every symbol P3.3's index lists. The
-- watched symbols either way.
local p33From, inP33 = 'all', {}
local function addP33(s)
  if not inP33[s] then inP33[s] = true; lists.p33[#lists.p33 + 1] = s end
end
if ARGV[4] ~= '' then
  p33From = 'watched'
  for _, s in ipairs(cjson.decode(ARGV[4])) do addP33(s) end
  -- The index is read even when no symbol is looked up in it: an open's permit adds to it
  -- (record.ts), so one of another type must block the open here, not be refused in its commit.
  local readable = listing('p33', KEYS[3], 'SISMEMBER', KEYS[3], '') ~= nil
  for _, name in ipairs({'view', 'entries'}) do
    for _, s in ipairs(lists[name]) do
      if readable and inP33[s] == nil then
        local member = listing('p33', KEYS[3], 'SISMEMBER', KEYS[3], s)
        readable = member ~= nil
        if member == 1 then addP33(s) else inP33[s] = false end
      end
    end
  end
else
  for _, s in ipairs(listing('p33', KEYS[3], 'SMEMBERS', KEYS[3]) or {}) do addP33(s) end
end
for _, s in ipairs(watched) do addP33(s) end
-- The memory's symbols not listed otherwise: P3.3's hashes of each, when one exists (of any type: a
-- key Redis refuses to read is read, and refused, as ever). A symbol of no P3.3 hash has nothing
-- for P3.3's reads to find, so one EXISTS stands for a read under every prefix (most held symbols
-- of a book the balance tracker reports are no P3.3 symbol).
local plans = cjson.decode(ARGV[3])
local p33Prefixes = {}
for _, plan in ipairs(plans) do
  if plan.over == 'p33' then p33Prefixes[#p33Prefixes + 1] = plan.read[2] end
end
for _, s in ipairs(lists.held) do
  if not inP33[s] and #p33Prefixes > 0 then
    local held = {}
    for k, prefix in ipairs(p33Prefixes) do held[k] = prefix .. s end
    if redis.call('EXISTS', unpack(held)) > 0 then addP33(s) end
  end
end
seen = {}
for _, name in ipairs({'view', 'entries', 'p33'}) do
  for _, s in ipairs(lists[name]) do
    if not seen[s] then seen[s] = true; lists.book[#lists.book + 1] = s end
  end
end
-- Surely a number by the readers' rule (domain/number.ts): plain digits, short enough to be finite.
local function number(v)
  return type(v) == 'string' and #v <= 20 and string.match(v, '^%-?%d+%.?%d*$') ~= nil
end
-- Each read for each symbol of its list, unless needless for it (book.ts SymbolRead.needless): false
-- in its place then. A key Redis refuses to read (another type) is false in its place too, noted
-- {read, symbol's place, error}: what that means is the caller's to judge.
local replies, refused, byKey = {}, {}, {}
local function needless(s, clauses)
  for _, c in ipairs(clauses or {}) do
    local reply = byKey[c.read .. s]
    if type(reply) == 'string' then reply = {reply} end
    local all = reply ~= nil
    local row = type(reply) == 'table'
    for _, k in ipairs(c.numbers or {}) do all = all and row and number(reply[k + 1]) end
    for _, k in ipairs(c.present or {}) do all = all and row and reply[k + 1] ~= false and reply[k + 1] ~= nil end
    for _, k in ipairs(c.absent or {}) do all = all and row and reply[k + 1] == false end
    if all then return true end
  end
  return false
end
for r, plan in ipairs(plans) do
  replies[r] = {}
  local command = {unpack(plan.read)}
  for i, s in ipairs(lists[plan.over]) do
    local reply = false
    if not needless(s, plan.needless) then
      command[2] = plan.read[2] .. s .. (plan.suffix or '')
      reply = redis.pcall(unpack(command))
      if type(reply) == 'table' and reply.err then refused[#refused + 1] = {r, i, reply.err}; reply = false end
      byKey[command[2]] = reply
    end
    replies[r][i] = reply
  end
end
-- One named record (book.ts scriptRecord), as JSON: one string crosses the boundary, not thousands of
-- reply elements for Redis to convert and the client to decode one by one. A nil Redis gave (an
-- absent key or field) is false here, an empty list may read {}: the decoder says so.
return cjson.encode({
  equity = equity, mode = mode, entries = entries,
  view = lists.view, p33 = lists.p33, entry_symbols = lists.entries, book = lists.book, held = lists.held,
  replies = replies, refused = refused, refused_listings = listingRefused, p33_listing = p33From,
  memory = memory, tracker = tracker,
})
