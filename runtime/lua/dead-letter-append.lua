local function dead_letter_append(stream, index, maxLen, values, from)
  -- Checked before anything is written: a refused item is retried, and must not leave a copy.
  local held = redis.call('TYPE', index)
  if type(held) == 'table' then held = held.ok end
  if held ~= 'none' and held ~= 'zset' then return {err = 'WRONGTYPE ' .. index .. ' holds a ' .. held .. ', not a zset'} end
  local id = redis.pcall('XADD', stream, '*', unpack(values, from))
  if type(id) == 'table' and id.err then return id end
  local dash = string.find(id, '-', 1, true)
  local seq = string.sub(id, dash + 1)
  local added = redis.pcall('ZADD', index, string.sub(id, 1, dash - 1), string.sub(id, 1, dash) .. string.rep('0', 20 - #seq) .. seq)
  if type(added) == 'table' and added.err then return added end
  local trimmed = 0
  if maxLen > 0 then
    local over = redis.call('ZCARD', index) - maxLen
    if over > 0 then
      local popped = redis.call('ZPOPMIN', index, over)
      for p = 1, #popped, 2 do
        local member = popped[p]
        local at = string.find(member, '-', 1, true)
        local digits = string.gsub(string.sub(member, at + 1), '^0+', '')
        if digits == '' then digits = '0' end
        -- 0 for an entry an operator already dropped or replayed: not counted.
        trimmed = trimmed + redis.call('XDEL', stream, string.sub(member, 1, at) .. digits)
      end
    end
  end
  return trimmed
end
