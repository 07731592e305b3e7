-- The test harness itself: a broker on loopback, peers, restart on the same port.
local H = require "tests.spec.helper"

describe("helper", function()
	local broker
	setup(function() broker = H.broker() end)
	teardown(H.cleanup)
	after_each(H.reap)

	it("starts mosquitto on a loopback port and relays a message", function()
		assert.is_true(broker.port >= 20000 and broker.port <= 40000)
		local sub = broker:sub("-q 1 -t h/# -F '%q %r %t %p' -C 1")
		broker:pub("-t h/x -m hello -q 1")
		assert.equal(0, sub:wait(5), H.dump(sub, broker))
		assert.equal("1 0 h/x hello\n", sub:stdout())
	end)

	it("restarts the broker on the same port", function()
		local port = broker.port
		broker:restart()
		assert.equal(port, broker.port)
		local sub = broker:sub("-t h/# -C 1")
		broker:pub("-t h/y -m again")
		assert.equal(0, sub:wait(5))
		assert.equal("again\n", sub:stdout())
	end)

	it("records the exit status of a killed process", function()
		local p = H.spawn("sleep 30")
		assert.is_true(p:alive())
		p:kill("KILL")
		assert.equal(137, p:wait(2))
	end)
end)
