# realmchat - build, run and test
#
#   make          build bin/realmchatd, bin/realmctl and bin/realmchat
#   make run      install missing Debian packages, build, run the demo realm
#   make test     unit, integration, install and man page tests; ends with
#                 "N passed, N failed"
#   make test-asan  the same suite against an ASan+UBSan build
#   make test-valgrind  unit tests under valgrind memcheck, and the VG_IT
#                 integration programs against the daemon under memcheck
#                 (tests/valgrind); fails on any error or definite leak
#   make install  install under $(DESTDIR)$(PREFIX): daemon, realmctl, the
#                 realmchat client, the production config, init script,
#                 systemd unit, man pages
#   make bench    benchmarks against redis and an echo server (docs/PERFORMANCE.md)
#   make fuzz     libFuzzer harnesses (clang, ASan+UBSan) into build/fuzz/, each
#                 run for FUZZ_SECONDS (default 60); fails on a crash
#   make fuzz-regress  replay the fuzz seed corpora and crash regressions
#                 (also part of make test)
#
# BUILD names the object directory, so that a sanitizer build can sit
# beside the normal one without mixing objects.

BUILD   ?= build
BIN     ?= bin
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Werror=implicit-function-declaration
CPPFLAGS += -std=c11 -D_GNU_SOURCE -I. -I$(BUILD) -I/usr/include/cjson
LDLIBS   = -lcjson -lbsd -lcrypt -lssl -lcrypto -pthread

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= $(PREFIX)/etc
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
SUBST       = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined

DEB_PACKAGES = build-essential pkg-config libcjson-dev libbsd-dev \
               libcmocka-dev libcrypt-dev libssl-dev libedit-dev \
               netcat-openbsd mandoc

LIB_SRC    = $(wildcard lib/*.c)
SHM_SRC    = $(wildcard shm/*.c)
WORKER_SRC = $(wildcard worker/*.c)
MASTER_SRC = $(wildcard master/*.c)
REALMD_SRC = $(wildcard realmd/*.c)
DAEMON_SRC = $(MASTER_SRC) $(WORKER_SRC) $(REALMD_SRC) $(SHM_SRC) $(LIB_SRC)
CTL_SRC    = $(wildcard realmctl/*.c) lib/ctl.c lib/config.c lib/log.c lib/util.c
CLIENT_SRC = $(wildcard client/*.c) lib/buf.c lib/filedata.c lib/request.c lib/util.c

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

UNIT_SRC = $(wildcard tests/unit/*.c)
IT_SRC   = $(filter-out tests/it/harness.c,$(wildcard tests/it/*.c))
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/unit_%,$(UNIT_SRC))
IT_BIN   = $(patsubst tests/it/%.c,$(BUILD)/tests/it_%,$(IT_SRC))
OPS_TESTS = $(wildcard tests/ops/*.sh)

# Fuzz harnesses (tests/fuzz/NAME.c).  make fuzz links them with libFuzzer
# (clang); make test links them with tests/fuzz/replay.c and the ordinary
# compiler, to replay their seed corpora and crash regressions.
FUZZ_NAMES   = command link base64 filename config chan
FUZZ_OUT     = build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_BIN     = $(patsubst %,$(FUZZ_OUT)/%,$(FUZZ_NAMES))
FUZZ_REPLAY  = $(patsubst %,$(BUILD)/tests/fuzz_%,$(FUZZ_NAMES))
FUZZ_PACKAGES = clang libclang-rt-dev
# what a harness links: the command harness needs the worker and state code
FUZZ_LINK    = $(call obj,$(LIB_SRC) $(SHM_SRC) $(filter-out worker/worker.c,$(WORKER_SRC)))

.PHONY: all run run-peer test test-asan test-valgrind unit it deps clean install FORCE bench bench-bin \
        fuzz fuzz-bin fuzz-regress

all: $(BIN)/realmchatd $(BIN)/realmctl $(BIN)/realmchat

$(BIN)/realmchatd: $(call obj,$(DAEMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/realmctl: $(call obj,$(CTL_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/realmchat: $(call obj,$(CLIENT_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcjson -lbsd -lcrypto -ledit

# The compiled-in paths, rewritten only when they change, so that a new
# PREFIX rebuilds what uses them and nothing else.
$(BUILD)/paths.h: FORCE
	@mkdir -p $(@D)
	@printf '#define SYSCONFDIR\t"%s"\n' '$(SYSCONFDIR)' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(BUILD)/master/master.o: $(BUILD)/paths.h
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Unit tests link the library and state code, never the process mains.
$(BUILD)/tests/unit_%: tests/unit/%.c $(call obj,$(LIB_SRC) $(SHM_SRC) $(filter-out worker/worker.c,$(WORKER_SRC)))
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/fuzz_%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DFUZZ_NAME='"$*"' $(CFLAGS) $(WARN) -o $@ tests/fuzz/$*.c \
	    tests/fuzz/replay.c $(FUZZ_LINK) $(LDLIBS)

# Integration tests read the state layout and the library's headers too.
IT_HEADERS = tests/it/harness.h tests/it/tlink.h $(wildcard shm/*.h lib/*.h)

$(BUILD)/tests/it_%: tests/it/%.c tests/it/harness.c $(IT_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/it $(CFLAGS) $(WARN) -o $@ tests/it/$*.c tests/it/harness.c -lcjson -lcmocka -lutil -lssl -lcrypto

# The transcript runner replays tests/clients/*.txt (tests/clients/README)
# and tests/seeds/*.txt, one transcript per seed document.
CLIENTS_BIN = $(BUILD)/tests/transcripts

$(CLIENTS_BIN): tests/clients/transcript.c tests/it/harness.c $(IT_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/it $(CFLAGS) $(WARN) -o $@ tests/clients/transcript.c tests/it/harness.c -lcjson -lcmocka

# The benchmark's own programs (bench/): load generator, echo server,
# hash helper.  bench/run installs redis-server itself.
BENCH_BIN = $(BUILD)/bench/load $(BUILD)/bench/echo $(BUILD)/bench/hash \
            $(BUILD)/bench/reply

bench-bin: $(BENCH_BIN)

LOAD_SRC = $(wildcard bench/load/*.c)

$(BUILD)/bench/load: $(LOAD_SRC) bench/load/load.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -pthread -o $@ $(LOAD_SRC)

$(BUILD)/bench/echo: bench/echo.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $<

# the reply path alone: docs/PERFORMANCE.md, "ASCII replies"
$(BUILD)/bench/reply: bench/reply.c $(call obj,lib/reply.c lib/ascii.c lib/buf.c lib/util.c)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/hash: bench/hash.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -lcrypt

deps:
	@missing=; for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing; \
	fi

run: deps
	$(MAKE) all
	@mkdir -p var/demo
	$(BIN)/realmchatd -d -f etc/realmchat.conf

run-peer: deps
	$(MAKE) all
	@mkdir -p var/peer
	$(BIN)/realmchatd -d -f etc/realmchat-peer.conf

test: deps
	$(MAKE) all $(UNIT_BIN) $(IT_BIN) $(CLIENTS_BIN) $(FUZZ_REPLAY)
	REALMCHATD=$(BIN)/realmchatd REALMCTL=$(BIN)/realmctl \
	    REALMCHAT=$(BIN)/realmchat BUILD=$(BUILD) BIN=$(BIN) \
	    TRANSCRIPTS=tests/clients:tests/seeds tests/run $(UNIT_BIN) $(IT_BIN) \
	    $(CLIENTS_BIN) $(FUZZ_REPLAY) $(OPS_TESTS)

fuzz-regress: deps
	$(MAKE) $(FUZZ_REPLAY)
	tests/run $(FUZZ_REPLAY)

# The libFuzzer build has objects of its own (build/fuzz/obj), made by clang
# with coverage and sanitizers; the harnesses land in build/fuzz/.
fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(FUZZ_PACKAGES)"
	$(MAKE) BUILD=$(FUZZ_OUT)/obj CC=clang CFLAGS="$(FUZZ_CFLAGS)" fuzz-bin
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_OUT) $(FUZZ_NAMES)

fuzz-bin: $(FUZZ_BIN)

$(FUZZ_OUT)/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ \
	    tests/fuzz/$*.c $(FUZZ_LINK) $(LDLIBS)

# Integration programs run under test-valgrind: those whose checks do not
# need process titles (under valgrind the daemon's are valgrind's).
VG_IT = $(patsubst %,$(BUILD)/tests/it_%,session framing message group file hostile)

test-valgrind: deps
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES=valgrind
	$(MAKE) all $(UNIT_BIN) $(VG_IT)
	BUILD=$(BUILD) BIN=$(BIN) tests/valgrind $(UNIT_BIN) -- $(VG_IT)

test-asan: deps
	$(MAKE) BUILD=build/asan BIN=build/asan/bin CFLAGS="$(SAN_FLAGS)" \
	        LDFLAGS="-fsanitize=address,undefined" test

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(SYSCONFDIR)/realmchat \
	    $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/default \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BIN)/realmchatd $(BIN)/realmctl $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BIN)/realmchat $(DESTDIR)$(BINDIR)
	@# an existing configuration is the operator's: never overwritten
	conf=$(DESTDIR)$(SYSCONFDIR)/realmchat/realmchat.conf; \
	  if [ -e $$conf ]; then conf=$$conf.dist; fi; \
	  install -m 0644 etc/realmchat.conf.dist $$conf
	$(SUBST) etc/init.d/realmchat > $(DESTDIR)$(SYSCONFDIR)/init.d/realmchat
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/realmchat
	$(SUBST) etc/default/realmchat > $(DESTDIR)$(SYSCONFDIR)/default/realmchat
	$(SUBST) etc/realmchat.service > $(DESTDIR)$(UNITDIR)/realmchat.service
	$(SUBST) man/realmchat.conf.5 > $(DESTDIR)$(MANDIR)/man5/realmchat.conf.5
	$(SUBST) man/realmchatd.8 > $(DESTDIR)$(MANDIR)/man8/realmchatd.8
	$(SUBST) man/realmctl.8 > $(DESTDIR)$(MANDIR)/man8/realmctl.8
	$(SUBST) man/realmchat.1 > $(DESTDIR)$(MANDIR)/man1/realmchat.1
bench: deps
	$(MAKE) all bench-bin
	BUILD=$(BUILD) BIN=$(BIN) bench/run

clean:
	rm -rf build bin
