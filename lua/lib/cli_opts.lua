-- lia.cli.opts - client options from lia's command line (lua/args.c's
-- table): the default client of lia run, and lia pub / lia sub (lia.cli).
-- Its own module so that lia run does not load the command-line clients.
local M = {}

-- -D command name value [value]: { connect = {...}, publish = {...}, will = {...},
-- subscribe, unsubscribe, disconnect, auth } as lia.mqtt takes properties
-- (names in snake case, numbers as numbers). main.c checked that each
-- belongs in its packet and that numbers are numbers.
local string_props = { content_type = true, response_topic = true, correlation_data = true,
	reason_string = true, authentication_method = true, authentication_data = true,
	response_information = true, server_reference = true, assigned_client_identifier = true }

function M.properties(a)
	local by = {}
	for _, p in ipairs(a.props or {}) do
		local cmd, name = p[1], p[2]:gsub("-", "_")
		local t = by[cmd] or {}
		by[cmd] = t
		if name == "user_property" then
			t.user_property = t.user_property or {}
			t.user_property[#t.user_property + 1] = { p[3], p[4] }
		elseif string_props[name] then
			t[name] = p[3]
		else
			t[name] = tonumber(p[3]) or p[3]
		end
	end
	return by
end

-- Enhanced authentication from -D connect|auth authentication-method M
-- [-D ... authentication-data D]: lia.mqtt's auth option, which runs the
-- exchange (SCRAM-SHA-256 built in, with -u / -P: the password is then
-- never sent); the method leaves the CONNECT properties, where the auth
-- option puts it itself.
function M.auth(a, props)
	local method, data
	for _, t in ipairs { props.connect or {}, props.auth or {} } do
		method = t.authentication_method or method
		data = t.authentication_data or data
		t.authentication_method, t.authentication_data = nil, nil
	end
	if not method then return nil end
	if method == "SCRAM-SHA-256" and a.username and a.password then
		return { method = method, username = a.username, password = a.password }
	end
	return { method = method, data = data }
end

-- Client options from the command line.
function M.client_opts(a)
	local o = {
		uri = a.uri, host = a.host, port = a.port, client_id = a.id,
		username = a.username, password = a.password, keepalive = a.keepalive,
		protocol = a.protocol, clean = a.clean, session_expiry = a.session_expiry,
		max_inflight = a.max_inflight, bind_address = a.bind_address,
	}
	local props = M.properties(a)
	o.properties = props.connect
	o.disconnect_properties = props.disconnect
	o.auth = M.auth(a, props)
	if o.auth and o.auth.password then o.username, o.password = nil, nil end
	if a.cafile or a.capath or a.cert or a.key or a.keypass or a.alpn or a.ciphers
			or a.tls_version or a.insecure then
		-- any TLS option turns TLS on, as in mosquitto_pub
		o.tls = { ca_file = a.cafile, ca_path = a.capath, cert = a.cert, key = a.key,
			key_password = a.keypass, alpn = a.alpn, ciphers = a.ciphers,
			min_version = a.tls_version, insecure = a.insecure or nil }
	end
	o.proxy = a.proxy
	if a.will_topic then
		o.will = { topic = a.will_topic, payload = a.will_payload or "",
			qos = a.will_qos or 0, retain = a.will_retain, properties = props.will }
	end
	return o
end

return M
