local function id_parts(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return tonumber(id) or 0, 0 end
  return tonumber(string.sub(id, 1, dash - 1)) or 0, tonumber(string.sub(id, dash + 1)) or 0
end
local function older(a, b)
  local am, as = id_parts(a)
  local bm, bs = id_parts(b)
  if am ~= bm then return am < bm end
  return as < bs
end
