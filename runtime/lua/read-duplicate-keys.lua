local out = {}
for k = 1, #KEYS do
  if ARGV[k] == 'e' then out[k] = redis.pcall('EXISTS', KEYS[k]) else out[k] = redis.pcall('GET', KEYS[k]) end
end
return out
