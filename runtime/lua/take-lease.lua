local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then return 0 end
if ARGV[1] == 'absent' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  if redis.call('TYPE', KEYS[1]).ok ~= 'string' or redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
