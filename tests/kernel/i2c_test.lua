-- i2c_test.lua - lia.i2c's Linux backend against i2c-stub (an SMBus-only
-- adapter with a chip at 0x48): the SMBus mapping of read/write/read_reg/
-- write_reg, scan, and the errors. init sets STUB_BUS (/dev/i2c-N).
local T = dofile("/tests/lib.lua")
local i2c = require "lia.i2c"

local bus = assert(i2c.open(os.getenv("STUB_BUS"), { timeout_ms = 100 }))
T.eq("i2c-stub is SMBus-only", false, bus:info().plain_i2c)
local d = bus:device(0x48)

T.eq("write_reg 2 bytes (word data)", true, d:write_reg(0x01, "\x60\xA0"))
T.eq("read_reg 2 bytes (word data), wire order", "\x60\xA0", d:read_reg(0x01, 2))
T.eq("write_reg 1 byte (byte data)", true, d:write_reg(0x10, 0x5A))
T.eq("read_reg 1 byte (byte data)", "\x5A", d:read_reg(0x10))
T.eq("write_reg 4 bytes (I2C block)", true, d:write_reg(0x20, "abcd"))
T.eq("read_reg 4 bytes (I2C block)", "abcd", d:read_reg(0x20, 4))
T.eq("write 1 byte sets the pointer (send byte)", true, d:write("\x10"))
T.eq("read 1 byte (receive byte)", "\x5A", d:read(1))
T.eq("write 2 bytes (byte data)", true, d:write("\x11\x7F"))
T.eq("... reads back", "\x7F", d:read_reg(0x11, 1))

local found = bus:scan()
T.check("scan finds 0x48 only", #found == 1 and found[1] == 0x48, table.concat(found, ","))

local r, msg, code = d:transfer{ { write = "\x01" }, { read = 2 } }
T.check("combined transfer on SMBus-only: EOPNOTSUPP", r == nil and code == "EOPNOTSUPP", msg, code)
r, msg, code = d:read(2)
T.check("plain 2-byte read on SMBus-only: EOPNOTSUPP", r == nil and code == "EOPNOTSUPP", msg, code)
r, msg, code = bus:device(0x49):read_reg(0x00, 1)
T.check("no device at 0x49: ENXIO", r == nil and code == "ENXIO", msg, code)
r, msg, code = i2c.open("/dev/i2c-99")
T.check("no such bus: ENODEV", r == nil and msg == "/dev/i2c-99: no such device" and code == "ENODEV",
	msg, code)
bus:close()
lia.stop()
