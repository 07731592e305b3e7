-- seeds.lua OUTDIR JSON... - write every "send" payload of the conformance
-- corpus as a binary seed file for the fuzzers (decoder seeds as they are,
-- prefixed by a version byte; the same bytes serve the client target).
local out = arg[1]
local n = 0
for i = 2, #arg do
  local f = assert(io.open(arg[i], "rb"))
  local text = f:read("a")
  f:close()
  for hex in text:gmatch('"type"%s*:%s*"send"%s*,%s*"payload"%s*:%s*"([0-9A-Fa-f ]*)"') do
    hex = hex:gsub("%s", "")
    if #hex % 2 == 0 then
      local bytes = hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
      -- once as 3.1.1 (first byte 0) and once as 5.0 (first byte 1)
      for ver = 0, 1 do
        n = n + 1
        local s = assert(io.open(string.format("%s/seed-%05d", out, n), "wb"))
        s:write(string.char(ver), bytes)
        s:close()
      end
    end
  end
end
print(string.format("fuzz seeds: %d written to %s", n, out))
