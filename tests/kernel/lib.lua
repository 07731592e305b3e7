-- lib.lua - what the kernel tier's tests share: "ok - name" / "not ok -
-- name" lines (run.sh counts them). Loaded with dofile by each test.
local T = {}

function T.check(name, cond, ...)
	if cond then
		print("ok - " .. name)
	else
		local why = {}
		for i = 1, select("#", ...) do why[#why + 1] = tostring((select(i, ...))) end
		print("not ok - " .. name .. (#why > 0 and (" (" .. table.concat(why, " ") .. ")") or ""))
	end
	return cond
end

function T.eq(name, want, got, ...)
	return T.check(name, want == got, "want", want, "got", got, ...)
end

function T.readf(path)
	local f = io.open(path, "r")
	if not f then return nil end
	local s = f:read("l")
	f:close()
	return s
end

function T.writef(path, s)
	local f = assert(io.open(path, "w"))
	f:write(s)
	f:close()
end

return T
