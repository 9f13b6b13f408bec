local out = {}
for k = 1, #KEYS do
  out[2 * k - 1] = redis.call('EXISTS', KEYS[k])
  local value = redis.pcall('GET', KEYS[k])
  if type(value) == 'table' and value.err then
    if string.sub(value.err, 1, 9) ~= 'WRONGTYPE' then return redis.error_reply(value.err) end
    value = false
  end
  out[2 * k] = value
end
return out
