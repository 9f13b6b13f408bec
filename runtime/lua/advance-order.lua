local stored = redis.pcall('GET', KEYS[1])
if type(stored) == 'string' and older(ARGV[1], stored) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
