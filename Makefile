# lia - the Lua IoT Agent. One plain Makefile; see README.md.
#   make            build ./lia
#   make test       install test deps, build, run every test; ends "N passed, N failed"
#   make asan       the same suite with -fsanitize=address,undefined (build-asan/)
#   make demo       local broker + example script + a subscriber printing what arrives
#   make deps       install the Debian packages the build and tests need
#   make cross ARCH=arm64|armhf   build-ARCH/lia for 64/32-bit Raspberry Pi OS
#   make test-cross ARCH=...      the full suite on the cross build under qemu-user
#   make dist ARCH=...            lia-VERSION-linux-ARCH.tar.gz and lia_VERSION_ARCH.deb

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN      ?=
CFLAGS   ?=
# 64-bit file offsets and inode numbers on 32-bit targets too (armhf)
CPPFLAGS += -I. -Icore -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DLIA_VERSION='"$(VERSION)"'
PKG_CONFIG ?= pkg-config
CPPFLAGS += $(shell $(PKG_CONFIG) --cflags lua5.4 openssl libserialport libcurl libsystemd 2>/dev/null)
CPPFLAGS += $(SYSROOT_CPPFLAGS)
ALLCFLAGS = -std=c11 $(OPT) $(WARN) $(SAN) $(CFLAGS) -MMD -MP

# Lua, lua-cjson and libserialport are linked statically. OpenSSL
# (core/ossl.h), libcurl (lua/lhttp_curl.h), SQLite (core/db_sqlite.h),
# libsystemd (core/notify.c) and libcjson (lua/lcjson.h) are the system's,
# but loaded with dlopen when first needed (core/dynlib.h): an agent on
# plain mqtt:// that keeps nothing does not carry them. The build still
# needs their -dev headers.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBDIR   ?= /usr/lib/$(MULTIARCH)
STATIC_LIBS = $(LIBDIR)/liblua5.4-cjson.a $(LIBDIR)/liblua5.4.a $(LIBDIR)/libserialport.a
# lua/lua-api.dynlist exports the Lua API, and only that, so scripts can
# still load C modules (lua-*); -z pack-relative-relocs (DT_RELR, glibc 2.36,
# as on Debian 12 and Raspberry Pi OS bookworm) keeps the position-independent
# binary's relocations in a few kB instead of tens: both are pages every
# start maps and the dynamic linker reads.
LDLIBS   := $(STATIC_LIBS) -lm -ldl -lpthread
# (where the linker takes it without a word: binutils 2.40 has it for x86
# only and says "ignored" elsewhere)
RELR     := $(shell echo 'int main(void){return 0;}' | $(CC) -x c - -o /dev/null \
	-Wl,-z,pack-relative-relocs 2>&1 | grep -q . || echo -Wl,-z,pack-relative-relocs)
LDFLAGS  += -Wl,--dynamic-list=lua/lua-api.dynlist $(RELR) $(SAN) $(SYSROOT_LDFLAGS)

CORE_SRC := $(wildcard core/*.c)
LUA_SRC  := $(wildcard lua/*.c)
HW_SRC   := $(wildcard hw/*.c)
LUA_LIB  := $(wildcard lua/lib/*.lua lua/lib/drivers/*.lua)
MAIN_SRC := main.c

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  := $(LUA_SRC:%.c=$(BUILD)/%.o) $(HW_SRC:%.c=$(BUILD)/%.o) \
            $(BUILD)/lua/embedded.o $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# bench_paho*.c need libpaho-mqtt-dev, which only make bench installs;
# copycount.c (make bench) and slowwal.c (durability_spec) are LD_PRELOAD
# shims, not programs
TOOL_SRC := $(filter-out tests/tools/bench_paho.c tests/tools/bench_paho_async.c tests/tools/copycount.c tests/tools/slowwal.c,$(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all deps test build-tests asan demo install uninstall clean fuzz conformance bench bench-deps

all: lia

# copy then rename, so a running ./lia never blocks the build
lia: $(BUILD)/lia
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/lia: $(CORE_OBJ) $(APP_OBJ) lua/lua-api.dynlist
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -c -o $@ $<

# Lua-side library code (lua/lib/*.lua) is compiled into the binary.
$(BUILD)/lua/embedded.c: $(LUA_LIB) lua/embed.sh
	@mkdir -p $(dir $@)
	sh lua/embed.sh $(LUA_LIB) > $@

$(BUILD)/lua/embedded.o: $(BUILD)/lua/embedded.c
	$(CC) $(CPPFLAGS) -std=c11 $(OPT) $(SAN) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)

# the test tools read JSON (the conformance corpus) with Debian's libcjson
TOOL_LDLIBS := -lcjson
$(BUILD)/tools/%: tests/tools/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS) $(TOOL_LDLIBS)

# ---- dependencies (Debian) ----
DEB_BUILD := build-essential pkg-config liblua5.4-dev libssl-dev libserialport-dev lua-cjson-dev libcjson-dev \
	libsystemd-dev libsqlite3-dev libcurl4-openssl-dev
DEB_TEST  := lua5.4 lua-busted mosquitto mosquitto-clients openssl tinyproxy microsocks python3 python3-websockets valgrind clang socat \
	libcjson-dev python3-paho-mqtt tzdata sqlite3 stress-ng zsh groff-base strace
# make test-brokers: other broker implementations (RabbitMQ's MQTT plugin, ejabberd's mod_mqtt)
DEB_BROKERS := rabbitmq-server ejabberd
# make test-kernel: Debian's kernel under qemu with gpio-sim (built here) and i2c-stub
DEB_KERNEL := linux-image-amd64 linux-headers-amd64 linux-source busybox-static qemu-system-x86 cpio e2fsprogs
deps:
	@sh tests/deps.sh $(DEB_BUILD) $(DEB_TEST)
	@$(if $(ARCH),sh packaging/cross-deps.sh $(ARCH))

# ---- tests ----
# make test: the suite, the conformance corpus, valgrind and a short fuzz
# run with the normal build, then the suite again under ASan + UBSan.
ASAN_BUILD = $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" build-tests

# The builds use every core (JOBS); the tiers then share them (tests/run.sh).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	@sh tests/deps.sh $(DEB_KERNEL)
	@sh tests/deps.sh $(DEB_BROKERS)
	@sh packaging/cross-deps.sh arm64
	@sh packaging/cross-deps.sh armhf
	@$(MAKE) --no-print-directory -j$(JOBS) build-tests
	@$(MAKE) --no-print-directory -j$(JOBS) ARCH=arm64 cross-build-tests
	@$(MAKE) --no-print-directory -j$(JOBS) ARCH=armhf cross-build-tests
	@$(ASAN_BUILD) -j$(JOBS)
	@$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_BIN) build-fuzz/seeds/.done
	@sh tests/run.sh $(BUILD) build-asan

build-tests: $(BUILD)/lia $(UNIT_BIN) $(TOOL_BIN) $(BUILD)/tools/slowwal.so

# make test-faults: only the fault-injection tier (tests/faults/faults.py):
# QoS 1/2 through cut, torn and half-open links, broker restarts, a soak.
.PHONY: test-faults
test-faults: $(BUILD)/lia
	@python3 tests/faults/faults.py $(BUILD)/lia

# make test-stress: unit, spec and conformance tiers, plain and ASan, three
# times in a row with stress-ng keeping both cores busy; all three must pass
# (tests/stress.sh; STRESS_RUNS=N for another count).
STRESS_RUNS ?= 3
.PHONY: test-stress
test-stress: deps
	@$(MAKE) --no-print-directory build-tests
	@$(ASAN_BUILD)
	@sh tests/stress.sh $(BUILD) build-asan $(STRESS_RUNS)

# make asan: only the ASan + UBSan build's unit tests, specs and conformance
asan: deps
	@$(ASAN_BUILD)
	@sh tests/run.sh --sanitizers build-asan

demo: deps lia
	@sh scripts/demo.sh

# make test-powercut: 50 power cuts (kill -9 of the VM) while lia writes its
# store on an ext4 virtual disk (tests/kernel/powercut.sh), alone (make
# test-kernel and make test run them too, after the GPIO/I2C tests)
.PHONY: test-powercut
test-powercut: $(BUILD)/lia
	@sh tests/deps.sh $(DEB_KERNEL)
	@sh tests/kernel/build.sh $(BUILD)/kernel $(BUILD)/lia && CUTS=$${CUTS:-50} sh tests/kernel/powercut.sh $(BUILD)/kernel

# make test-kernel: lia's Linux GPIO and I2C backends against the kernel's own
# gpio-sim and i2c-stub drivers in a small VM (tests/kernel/run.sh; ~20 s with
# TCG, mostly building gpio-sim.ko once); ends "kernel: N passed, N failed".
.PHONY: test-kernel
test-kernel: $(BUILD)/lia
	@sh tests/deps.sh $(DEB_KERNEL)
	@sh tests/kernel/run.sh $(BUILD)/kernel $(BUILD)/lia

# make test-brokers: lia against mosquitto, RabbitMQ and ejabberd (and a
# two-node ejabberd cluster killed under load), started on loopback with
# private dirs and a private epmd; ~1-2 minutes. Part of make test too.
.PHONY: test-brokers
test-brokers: $(BUILD)/lia
	@sh tests/deps.sh $(DEB_TEST) $(DEB_BROKERS)
	@sh tests/brokers/run.sh $(BUILD)/lia

# the manual page (docs/lia.1) and the bash and zsh completion (packaging/completion/)
MANDIR   ?= $(PREFIX)/share/man/man1
BASHCOMP ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMP  ?= $(PREFIX)/share/zsh/vendor-completions

install: lia
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lia/examples
	install -m 755 lia $(DESTDIR)$(PREFIX)/bin/lia
	install -m 644 scripts/examples/*.lua $(DESTDIR)$(PREFIX)/share/lia/examples/
	install -d $(DESTDIR)$(MANDIR) $(DESTDIR)$(BASHCOMP) $(DESTDIR)$(ZSHCOMP)
	install -m 644 docs/lia.1 $(DESTDIR)$(MANDIR)/lia.1
	install -m 644 packaging/completion/lia.bash $(DESTDIR)$(BASHCOMP)/lia
	install -m 644 packaging/completion/_lia $(DESTDIR)$(ZSHCOMP)/_lia

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lia
	rm -rf $(DESTDIR)$(PREFIX)/share/lia
	rm -f $(DESTDIR)$(MANDIR)/lia.1 $(DESTDIR)$(BASHCOMP)/lia $(DESTDIR)$(ZSHCOMP)/_lia

clean:
	rm -rf build build-asan build-fuzz build-arm64 build-armhf build-sysroot dist lia

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (clang's libFuzzer) ----
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TIME  ?= 20
FUZZ_BIN   := build-fuzz/fuzz_decode build-fuzz/fuzz_client build-fuzz/fuzz_uri \
              build-fuzz/fuzz_ws_frame build-fuzz/fuzz_config build-fuzz/fuzz_cli \
              build-fuzz/fuzz_scram build-fuzz/fuzz_alias build-fuzz/fuzz_bundle
# the configuration and command-line parsers are plain C in lua/ that need
# args_init (lua/args.c, which links Lua) and, for --hw, the hw backends
FUZZ_LUA   := $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null) -I.
FUZZ_LUALIBS := $(LIBDIR)/liblua5.4.a $(LIBDIR)/libserialport.a -lm -ldl
# what core/ needs: OpenSSL, SQLite and libsystemd are dlopen'ed
FUZZ_SYSLIBS := -ldl
CONFORMANCE_DIR ?= ../shared/conformance/mosquitto-client-sequences

# Every source is compiled once for all targets (instrumented, not linked
# with the fuzzer's main), then each target links what it needs: compiling
# core/ nine times was most of make test's build time.
FUZZ_OBJ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-std=c11 -D_GNU_SOURCE -Icore $(FUZZ_LUA)
FUZZ_CORE_OBJ := $(patsubst %.c,build-fuzz/obj/%.o,$(CORE_SRC))
FUZZ_ARGS_OBJ := $(patsubst %.c,build-fuzz/obj/%.o,lua/args.c lua/args_check.c)
FUZZ_HW_OBJ   := $(patsubst %.c,build-fuzz/obj/%.o,$(HW_SRC))

build-fuzz/obj/%.o: %.c $(wildcard core/*.h lua/*.h hw/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -c -o $@ $<

build-fuzz/%: tests/fuzz/%.c $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Icore -o $@ $< $(FUZZ_CORE_OBJ) $(FUZZ_SYSLIBS)

build-fuzz/fuzz_config: tests/fuzz/fuzz_config.c build-fuzz/obj/lua/config.o $(FUZZ_ARGS_OBJ) $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Icore $(FUZZ_LUA) -o $@ $(filter-out %.h,$^) \
		$(FUZZ_SYSLIBS) $(FUZZ_LUALIBS)

build-fuzz/fuzz_cli: tests/fuzz/fuzz_cli.c build-fuzz/obj/lua/cli_args.o $(FUZZ_ARGS_OBJ) $(FUZZ_HW_OBJ) $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Icore $(FUZZ_LUA) -o $@ $(filter-out %.h,$^) \
		$(FUZZ_SYSLIBS) $(FUZZ_LUALIBS)

# the fleet's bundle parser (lua/lfleet_bundle.c: libcjson, OpenSSL; no Lua)
BUNDLE_SRC := lua/lfleet_bundle.c lua/lcjson.c core/ossl.c core/dynlib.c core/log.c
build-fuzz/fuzz_bundle: tests/fuzz/fuzz_bundle.c $(BUNDLE_SRC) lua/lfleet_bundle.h lua/lcjson.h core/ossl.h core/dynlib.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Ilua -Icore -o $@ $< $(BUNDLE_SRC) -ldl

build-fuzz/seeds/.done: tests/fuzz/seeds.lua
	@mkdir -p build-fuzz/seeds
	@if [ -d $(CONFORMANCE_DIR) ]; then lua5.4 tests/fuzz/seeds.lua build-fuzz/seeds $(CONFORMANCE_DIR)/*.json; fi
	@touch $@

# make fuzz: each target for FUZZ_TIME seconds (FUZZ_TIME=3600 for a long run).
fuzz: $(FUZZ_BIN) build-fuzz/seeds/.done
	@sh tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BIN)

# ---- benchmark: lia's core vs libmosquitto's clients through one mosquitto ----
# `make bench`: lia next to its peers (tests/bench.py), the table in
# $(BUILD)/bench.json and README's performance section; then the core's own
# numbers (tests/bench.sh). The peers are installed here: DEB_BENCH from
# Debian, MQTT.js from npm under $(BUILD)/bench-node (never committed).
DEB_BENCH := mosquitto mosquitto-clients python3 python3-paho-mqtt libpaho-mqtt-dev nodejs npm
MQTTJS_VERSION := 5
bench: bench-deps $(BUILD)/lia $(BUILD)/tools/bench $(BUILD)/tools/bench_paho $(BUILD)/tools/bench_paho_async $(BUILD)/tools/rtt_floor \
		$(BUILD)/tools/copycount.so
	@python3 tests/bench.py $(BUILD)
	@python3 tests/bench_readme.py $(BUILD)/bench.json README.md
	@sh tests/bench.sh $(BUILD)

# A node and npm already on PATH (e.g. NodeSource's nodejs, which bundles npm
# and conflicts with Debian's npm package) are used as they are.
BENCH_NPM := $(shell command -v npm 2>/dev/null)
bench-deps: deps
	@sh tests/deps.sh $(if $(BENCH_NPM),$(filter-out nodejs npm,$(DEB_BENCH)),$(DEB_BENCH))
	@[ -d $(BUILD)/bench-node/node_modules/mqtt ] || { mkdir -p $(BUILD)/bench-node && \
		npm install --prefix $(BUILD)/bench-node --no-audit --no-fund --silent mqtt@$(MQTTJS_VERSION) || \
		echo "bench: npm install mqtt failed: MQTT.js will be reported as missing" >&2; }

# counts the bytes a process copies (tests/bench.py's large-payload rows);
# its byte loop must stay a loop, not become a call to the memcpy it replaces
$(BUILD)/tools/copycount.so: tests/tools/copycount.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -fPIC -shared -fno-builtin -fno-tree-loop-distribute-patterns \
		$(CFLAGS) -o $@ $< -ldl

# slows SQLite's WAL writes for durability_spec's kill runs (LD_PRELOAD)
$(BUILD)/tools/slowwal.so: tests/tools/slowwal.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -fPIC -shared -o $@ $< -ldl

$(BUILD)/tools/bench_paho: tests/tools/bench_paho.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra $(CFLAGS) -o $@ $< -lpaho-mqtt3c

$(BUILD)/tools/bench_paho_async: tests/tools/bench_paho_async.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra $(CFLAGS) -o $@ $< -lpaho-mqtt3a

# ---- protocol conformance: the 1 343-case corpus from ../shared ----
conformance: $(BUILD)/tools/conformance
	@$(BUILD)/tools/conformance $(CONFORMANCE_DIR)

# ---- Raspberry Pi: cross builds with Debian's cross compilers ----
# arm64 (Pi 3/4/5, Zero 2 on 64-bit Raspberry Pi OS) builds against the
# multiarch -dev packages (dpkg --add-architecture arm64). armhf (ARMv7:
# Pi 2 and later on 32-bit Raspberry Pi OS; not the ARMv6 Pi 1 / Zero)
# builds against a sysroot of downloaded packages, because this mirror's
# armhf index fails to update and would break native apt (packaging/sysroot.sh).
# Both keep build-sysroot/ARCH as the root qemu-user runs the tests in.
CROSS_arm64 := aarch64-linux-gnu
CROSS_armhf := arm-linux-gnueabihf
TRIPLET      = $(CROSS_$(ARCH))
XSYSROOT     = $(CURDIR)/build-sysroot/$(ARCH)
CROSS_MULTIARCH = BUILD=build-$(ARCH) CC=$(TRIPLET)-gcc \
	PKG_CONFIG="env PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config"
CROSS_SYSROOT = BUILD=build-$(ARCH) CC=$(TRIPLET)-gcc LIBDIR=$(XSYSROOT)/usr/lib/$(TRIPLET) \
	PKG_CONFIG="env PKG_CONFIG_SYSROOT_DIR=$(XSYSROOT) PKG_CONFIG_LIBDIR=$(XSYSROOT)/usr/lib/$(TRIPLET)/pkgconfig pkg-config" \
	SYSROOT_CPPFLAGS="-I$(XSYSROOT)/usr/include/$(TRIPLET) -I$(XSYSROOT)/usr/include" \
	SYSROOT_LDFLAGS="-L$(XSYSROOT)/usr/lib/$(TRIPLET) -Wl,-rpath-link=$(XSYSROOT)/usr/lib/$(TRIPLET) \
	-Wl,-rpath-link=$(XSYSROOT)/lib/$(TRIPLET)"
# (libsystemd's own libraries, liblzma and libgpg-error, are in lib/, not usr/lib/)
# The sysroot when it has the -dev headers (armhf; arm64 when multiarch
# failed), else multiarch. Expanded when a recipe runs: after cross-deps.
CROSS_MAKE = $(MAKE) --no-print-directory \
	$(if $(wildcard $(XSYSROOT)/usr/include/lua5.4/lua.h),$(CROSS_SYSROOT),$(CROSS_MULTIARCH))

.PHONY: cross cross-check cross-deps cross-build-tests test-cross dist deb
cross-check:
	@test -n "$(TRIPLET)" || { echo "make: ARCH must be arm64 or armhf (ARCH=$(ARCH))"; exit 1; }

cross-deps: cross-check
	@sh packaging/cross-deps.sh $(ARCH)

cross: cross-deps
	@$(CROSS_MAKE) build-$(ARCH)/lia

# the binary, the C unit tests and the test tools, for the emulated tier
cross-build-tests: cross-check
	@$(CROSS_MAKE) build-tests

# make test-cross ARCH=...: only the emulated tier of make test (every unit
# test, every spec and the conformance corpus under qemu-user); deps with
# ARCH set runs cross-deps.sh.
test-cross: cross-check deps
	@$(CROSS_MAKE) build-tests
	@sh tests/cross/run.sh $(ARCH)

# ---- release bundle and Debian package ----
dist: cross
	@sh packaging/dist.sh $(ARCH) build-$(ARCH)/lia $(VERSION)

deb: dist
