-- tests/deps.sh: quiet and no apt-get when everything is installed, also
-- when a foreign (multiarch arm64) instance of a package sits next to the
-- native one, which makes `dpkg -s NAME` fail with "ambiguous package name".
-- dpkg, dpkg-query and apt-get are replaced by stand-ins on PATH that answer
-- as a Debian machine with liblua5.4-dev:amd64 and :arm64 installed does.
local H = require "tests.spec.helper"

local function fake_bin()
	local dir = H.tmp(H.uniq("fakebin"))
	os.execute("mkdir -p " .. H.q(dir))
	local log = dir .. "/apt.log"
	H.write(dir .. "/dpkg", [[#!/bin/sh
case "$1" in
--print-architecture) echo amd64 ;;
--print-foreign-architectures) echo arm64 ;;
-s) case "$2" in
	liblua5.4-dev) echo "dpkg-query: error: --status needs a valid package name but 'liblua5.4-dev' is not: ambiguous package name 'liblua5.4-dev' with more than one installed instance" >&2; exit 2 ;;
	lua-busted|liblua5.4-dev:amd64|liblua5.4-dev:arm64) exit 0 ;;
	*) exit 1 ;;
	esac ;;
esac
]])
	H.write(dir .. "/dpkg-query", [[#!/bin/sh
for last; do :; done
case "$last" in
liblua5.4-dev) printf 'ii  amd64\nii  arm64\n' ;;
liblua5.4-dev:amd64) printf 'ii  amd64\n' ;;
liblua5.4-dev:arm64) printf 'ii  arm64\n' ;;
lua-busted) printf 'ii  all\n' ;;
onlyarm) printf 'ii  arm64\n' ;;
*) echo "dpkg-query: no packages found matching $last" >&2; exit 1 ;;
esac
]])
	H.write(dir .. "/apt-get", "#!/bin/sh\necho \"$*\" >>" .. H.q(log) .. "\n")
	os.execute("chmod +x " .. H.q(dir) .. "/*")
	return dir, log
end

describe("tests/deps.sh", function()
	teardown(H.cleanup)

	it("does nothing when the packages are there, native and arm64 side by side", function()
		local dir, log = fake_bin()
		local r = H.run(string.format("env PATH=%s:$PATH sh %s liblua5.4-dev lua-busted liblua5.4-dev:arm64",
			H.q(dir), H.q(H.root .. "/tests/deps.sh")))
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("", r.out .. r.err)
		assert.is_nil(H.read(log), "apt-get was run")
	end)

	it("installs what is missing, and a foreign instance is not the native package", function()
		local dir, log = fake_bin()
		local r = H.run(string.format("env PATH=%s:$PATH sh %s lua-busted nosuch onlyarm",
			H.q(dir), H.q(H.root .. "/tests/deps.sh")))
		assert.equal(0, r.status, r.out .. r.err)
		assert.equal("deps: installing nosuch onlyarm\n", r.out)
		assert.truthy((H.read(log) or ""):find("install .* nosuch onlyarm"), H.read(log))
	end)
end)
