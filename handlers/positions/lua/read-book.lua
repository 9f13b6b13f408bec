local equity = false
if KEYS[4] ~= '' then equity = redis.call('HGET', KEYS[4], 'equity_usd') end
local symbols = redis.call('SMEMBERS', KEYS[1])
local rows = {}
local wanted, sigmaSymbols, hasSigma = {}, {}, {}
local function want(s)
  if s ~= nil and wanted[s] == nil then wanted[s] = true; sigmaSymbols[#sigmaSymbols + 1] = s end
end
-- Surely a number by the readers' rule (domain/number.ts): plain digits, short enough to be finite.
local function number(v)
  return type(v) == 'string' and #v <= 20 and string.match(v, '^%-?%d+%.?%d*$') ~= nil
end
-- A per-symbol read Redis refuses (a key of another type) is that symbol's problem only: false in
-- its place, and {symbol, kind, key} noted, never the whole read's error.
local unreadable = {}
local function read(s, kind, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    unreadable[#unreadable + 1] = {s, kind, (select(2, ...))}
    return false
  end
  return reply
end
for i, s in ipairs(symbols) do
  local row = read(s, 'position', 'HMGET', ARGV[1] .. s, 'position_notional_usd', 'sigma', 'qty', 'mark_price', 'updated_at', 'volatility', 'side') or {}
  rows[i] = row
  local sigma = row[2]
  if not sigma then sigma = row[6] end
  if number(row[1]) and number(sigma) then hasSigma[s] = true end
  want(s)
end
local mode, start = 'tail', '-'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[2])
if type(groups) == 'table' and not groups.err then
  for _, g in ipairs(groups) do
    local name, last, pending
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then last = g[j + 1] elseif g[j] == 'pending' then pending = g[j + 1] end
    end
    if name == ARGV[3] then
      mode, start = 'group', '(' .. last
      if pending > 0 then start = redis.call('XPENDING', KEYS[2], ARGV[3])[2] end
    end
  end
else
  mode = 'none'
end
local entries = {}
if mode ~= 'none' then entries = redis.call('XREVRANGE', KEYS[2], '+', start, 'COUNT', tonumber(ARGV[4]) + 1) end
local applied, seen = {}, {}
for i, e in ipairs(entries) do
  local f = e[2]
  for j = 1, #f, 2 do
    if f[j] == 'symbol' then
      local s = f[j + 1]
      if seen[s] == nil then seen[s] = redis.call('GET', ARGV[2] .. s) or '' end
      applied[i] = seen[s]
      want(s)
    end
  end
  if applied[i] == nil then applied[i] = '' end
end
local p33 = redis.call('SMEMBERS', KEYS[3])
local p33rows = {}
for i, s in ipairs(p33) do
  local row, held = {}, false
  for k = 9, #ARGV do
    local part = read(s, 'position', 'HMGET', ARGV[k] .. s, 'position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma') or {false, false, false, false, false}
    for _, v in ipairs(part) do row[#row + 1] = v; if v then held = true end end
  end
  p33rows[i] = row
  -- A listed symbol with no hash yet (one the governor watches) needs no sigma.
  if held then want(s) end
end
-- Read only where they can be used (mergeBook): not for a symbol whose view row brings its own
-- sigma, and the market state's only when the publisher's is no number.
local sigmaRows = {}
for i, s in ipairs(sigmaSymbols) do
  if hasSigma[s] then
    sigmaRows[i] = {}
  else
    local published = read(s, 'sigma', 'HGET', ARGV[6] .. s, 'sigma')
    if number(published) then sigmaRows[i] = {published} else sigmaRows[i] = {published, read(s, 'sigma', 'HGET', ARGV[5] .. s, 'sigma')} end
  end
end
-- Every held symbol's quotes (the governor prices each position at the freshest mark of all producers).
local quoteRows = {}
local indexed = {}
if ARGV[8] ~= '' then for _, s in ipairs(p33) do indexed[s] = true end end
for i, s in ipairs(sigmaSymbols) do
  if ARGV[7] ~= '' then
    local market = read(s, 'quote', 'HMGET', ARGV[5] .. s, 'mark_price', 'timestamp') or {false, false}
    local ticker = read(s, 'quote', 'HMGET', ARGV[7] .. s, 'markPrice', 'timestamp') or {false, false}
    local row = {market[1], market[2], ticker[1], ticker[2]}
    -- ARGV[8] set: a symbol outside the P3.3 index gets P3.3's marks too, as a direct read would.
    if ARGV[8] ~= '' and not indexed[s] then
      for k = 9, #ARGV do
        local part = read(s, 'quote', 'HMGET', ARGV[k] .. s, 'mark_price', 'ts_epoch') or {false, false}
        row[#row + 1] = part[1]
        row[#row + 1] = part[2]
      end
    end
    quoteRows[i] = row
  else
    quoteRows[i] = {}
  end
end
return {equity, symbols, rows, mode, entries, applied, p33, p33rows, sigmaSymbols, sigmaRows, quoteRows, unreadable}
