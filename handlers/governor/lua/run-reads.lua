local out = {}
local i, n = 1, 0
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  n = n + 1
  out[n] = redis.pcall(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
return out
