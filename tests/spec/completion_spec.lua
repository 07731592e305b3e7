-- Shell completion (packaging/completion/lia.bash, _lia) and the manual page
-- (docs/lia.1): the man page names every option --help lists and renders
-- cleanly; bash completes sub-commands, options from --help, values, and
-- the topics lia sub has seen; the zsh function parses and completes.
local H = require "tests.spec.helper"

local BASH = H.root .. "/packaging/completion/lia.bash"
local ZSH = H.root .. "/packaging/completion/_lia"
local MAN = H.root .. "/docs/lia.1"

local function help_options()
	local set, list = {}, {}
	for _, cmd in ipairs { "run", "pub", "sub", "check" } do
		local r = H.lia_run { cmd, "--help" }
		for o in ("\n" .. r.out):gmatch("[%s,(](%-%-?[%a][%w%-]*)") do
			if not set[o] then set[o] = true; list[#list + 1] = o end
		end
	end
	return list, set
end

-- complete(words, cword): COMPREPLY of _lia for `lia words...`, cursor on
-- word cword (0-based as in bash), one entry a line.
local function complete(words, cword, env)
	local quoted = {}
	for i, w in ipairs(words) do quoted[i] = H.q(w) end
	local script = string.format(
		"source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _lia; printf '%%s\\n' \"${COMPREPLY[@]}\"",
		H.q(BASH), table.concat(quoted, " "), cword)
	local r = H.run(string.format("env %s bash -c %s", env or "", H.q(script)))
	assert.equal(0, r.status, r.err)
	local set = {}
	for _, l in ipairs(H.lines(r.out)) do set[l] = true end
	return set, r.out
end

describe("the manual page", function()
	teardown(H.cleanup)

	it("names every option of lia <command> --help", function()
		local man = H.read(MAN):gsub("\\%-", "-")
		local list = help_options()
		assert.truthy(#list > 40, "too few options parsed from --help")
		for _, o in ipairs(list) do
			assert.truthy(man:find(o:gsub("%p", "%%%0") .. "[^%w%-]"), "docs/lia.1 does not mention " .. o)
		end
	end)

	it("renders without a groff warning", function()
		local r = H.run("groff -man -ww -z " .. H.q(MAN))
		assert.equal(0, r.status, r.err)
		assert.equal("", r.err)
	end)
end)

describe("bash completion", function()
	teardown(H.cleanup)
	after_each(H.reap)
	local lia_dir = H.lia:match("^(.*)/[^/]*$")

	it("completes sub-commands, options from --help and option values", function()
		local env = "PATH=" .. H.q(lia_dir) .. ":$PATH"
		local c = complete({ "lia", "" }, 1, env)
		for _, w in ipairs { "run", "pub", "sub", "check" } do assert.truthy(c[w], w) end
		c = complete({ "lia", "sub", "--re" }, 2, env)
		assert.truthy(c["--retained-only"] and c["--remove-retained"], "sub options")
		c = complete({ "lia", "pub", "-" }, 2, env)
		assert.truthy(c["--repeat-delay"] and c["-D"] and c["-t"], "pub options")
		assert.falsy(c["--pretty"], "a sub option offered for pub")
		c = complete({ "lia", "pub", "-V", "" }, 3, env)
		assert.truthy(c["5"] and c["mqttv311"])
	end)

	it("offers the topics lia sub has seen after -t, -T and -U", function()
		local broker = H.broker()
		local cache = H.tmp(H.uniq("cache"))
		local t, id = H.uniq("seen"), H.uniq("subid")
		local sub = H.lia_spawn({ "sub", "-h", "127.0.0.1", "-p", broker.port, "-i", id, "-t", t .. "/#",
			"-C", "2" }, { env = { XDG_CACHE_HOME = cache } })
		assert.truthy(broker:subscribed(id), H.dump(sub, broker))
		broker:pub(string.format("-t '%s/kitchen/temp' -m 1", t))
		broker:pub(string.format("-t '%s/hall/door' -m 2", t))
		assert.equal(0, sub:wait(5), H.dump(sub))
		local env = "XDG_CACHE_HOME=" .. H.q(cache)
		for _, opt in ipairs { "-t", "-T", "-U" } do
			local c, out = complete({ "lia", "sub", opt, t .. "/k" }, 3, env)
			assert.truthy(c[t .. "/kitchen/temp"], opt .. ": " .. out)
			assert.falsy(c[t .. "/hall/door"], out)
		end
	end)
end)

describe("zsh completion", function()
	teardown(H.cleanup)

	it("parses and completes sub-commands and --help options", function()
		local r = H.run("zsh -n " .. H.q(ZSH))
		assert.equal(0, r.status, r.err)
		-- compadd stands in for zsh's completion system: it prints what it was given
		local lia_dir = H.lia:match("^(.*)/[^/]*$")
		local script = string.format([=[
compadd() {
	local arr=0 a
	for a in "$@"; do
		if [[ $a == -a ]]; then arr=1
		elif [[ $a == -* && $a != --* ]]; then :
		elif (( arr )); then print -rl -- "${(@P)a}"
		else print -r -- "$a"; fi
	done
}
_files() { :; }
source %s 2>/dev/null
words=(lia pub --rep); CURRENT=3; PREFIX=--rep; _lia
words=(lia ''); CURRENT=2; PREFIX=''; _lia
]=], H.q(ZSH))
		r = H.run(string.format("env PATH=%s:$PATH zsh -f -c %s", H.q(lia_dir), H.q(script)))
		assert.equal(0, r.status, r.err)
		assert.truthy(r.out:find("\n%-%-repeat%-delay\n") or r.out:find("^%-%-repeat%-delay\n"), r.out)
		assert.truthy(r.out:find("\nsub\n", 1, true), r.out)
	end)
end)
