-- The position book's reads in one moment (handlers/positions/book.ts: bookReads says what, readListed
-- does the same with plain commands, bookReadOf decodes either's replies).
-- KEYS: our view's index, the snapshot stream, P3.3's index, the portfolio state ('' for no equity).
-- ARGV: the position-snapshot group, the bound on entries, the per-symbol reads as JSON
-- [[list, command, key prefix, args...], ...], list one of view, p33, entries, book.
local equity = false
if KEYS[4] ~= '' then equity = redis.call('HGET', KEYS[4], 'equity_usd') end
local lists = {view = redis.call('SMEMBERS', KEYS[1]), p33 = redis.call('SMEMBERS', KEYS[3]), entries = {}, book = {}}
-- The stream's entries not applied yet: through the group (its pending ones, then those after its
-- last-delivered id), without that group the newest, without the stream none.
local mode, start = 'tail', '-'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[2])
if groups.err then mode = 'none' else
  for _, g in ipairs(groups) do
    local info = {}
    for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
    if info.name == ARGV[1] then
      mode, start = 'group', '(' .. info['last-delivered-id']
      if info.pending > 0 then start = redis.call('XPENDING', KEYS[2], ARGV[1])[2] end
    end
  end
end
local entries = {}
if mode ~= 'none' then entries = redis.call('XREVRANGE', KEYS[2], '+', start, 'COUNT', tonumber(ARGV[2]) + 1) end
-- The entries' symbols (an entry's last symbol field, as fieldsToRecord reads it), then the book's:
-- our view's, the entries', P3.3's index's, each once.
local seen = {}
for _, e in ipairs(entries) do
  local s
  for j = 1, #e[2], 2 do if e[2][j] == 'symbol' then s = e[2][j + 1] end end
  if s and not seen[s] then seen[s] = true; lists.entries[#lists.entries + 1] = s end
end
seen = {}
for _, name in ipairs({'view', 'entries', 'p33'}) do
  for _, s in ipairs(lists[name]) do
    if not seen[s] then seen[s] = true; lists.book[#lists.book + 1] = s end
  end
end
-- Each read for each symbol of its list. A key Redis refuses to read (another type) is false in its
-- place and noted {read, symbol's place, error}: what that means is the caller's to judge.
local replies, refused = {}, {}
for r, read in ipairs(cjson.decode(ARGV[3])) do
  replies[r] = {}
  for i, s in ipairs(lists[read[1]]) do
    local command = {read[2], read[3] .. s}
    for k = 4, #read do command[#command + 1] = read[k] end
    local reply = redis.pcall(unpack(command))
    if type(reply) == 'table' and reply.err then refused[#refused + 1] = {r, i, reply.err}; reply = false end
    replies[r][i] = reply
  end
end
return {equity, mode, entries, {lists.view, lists.p33, lists.entries, lists.book}, replies, refused}
