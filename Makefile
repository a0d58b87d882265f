# uzram — one GNU Makefile, no configure step.
#
#   make                       ./uzram and ./libuzram.a
#   make check                 installs missing deps (scripts/deps.sh), builds, runs tests/run
#   make test                  check plus the long suites
#   make SAN=address,undefined check   the same under sanitizers (objects in build/san-*)
#   make fuzz [FUZZ_SECONDS=N] libFuzzer targets with clang, run N seconds each
#   make bench                 the benchmark programs (bench/*.c)
#   make vmbench               fio on /dev/ublkb0, /dev/nbd0 and the kernel's zram, in the VM
#   make vmcheck [VMTESTS=NAME...]  the tests that need a real block layer, each
#                              in its own VM (tests/vm/run; kernel from scripts/vm-kernel.sh)
#
# Variables: CC, CFLAGS, SAN, CI=true (-Werror), BUILD (object directory).

PKGS      := liblz4 libzstd lzo2 zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# liblz4's fast-reset state API (LZ4_compress_fast_extState_fastReset) is in
# its static library only: link that one statically when it is there.
LZ4_A     := $(wildcard $(shell pkg-config --variable=libdir liblz4 2>/dev/null)/liblz4.a)
ifneq ($(LZ4_A),)
PKG_CFLAGS += -DHAVE_LZ4_FASTRESET
PKG_LIBS   := $(LZ4_A) $(filter-out -llz4,$(PKG_LIBS))
endif
# Optional front-end libraries: each is used when pkg-config finds it.
OPT_PKGS  := fuse3 liburing gnutls libmicrohttpd
OPT_FOUND := $(foreach p,$(OPT_PKGS),$(if $(shell pkg-config --exists $(p) && echo y),$(p)))
OPT_CFLAGS := $(if $(OPT_FOUND),$(shell pkg-config --cflags $(OPT_FOUND))) \
	$(if $(filter fuse3,$(OPT_FOUND)),-DHAVE_FUSE3) \
	$(if $(filter liburing,$(OPT_FOUND)),-DHAVE_LIBURING) \
	$(if $(filter gnutls,$(OPT_FOUND)),-DHAVE_GNUTLS) \
	$(if $(filter libmicrohttpd,$(OPT_FOUND)),-DHAVE_MICROHTTPD)
OPT_LIBS  := $(if $(OPT_FOUND),$(shell pkg-config --libs $(OPT_FOUND)))

comma := ,
ifneq ($(SAN),)
BUILD    ?= build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    ?= build/default
SANFLAGS :=
endif

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wundef -Wvla -Wno-unused-parameter
ifeq ($(CI),true)
WARN     += -Werror
endif
ALL_CFLAGS := -std=gnu11 -pthread $(CFLAGS) $(WARN) $(SANFLAGS) -Iinclude -Ilib -Isrc \
	$(PKG_CFLAGS) $(OPT_CFLAGS) -MMD -MP
LDLIBS   := $(PKG_LIBS) $(OPT_LIBS) -lpthread -lm

LIB_SRC   := $(sort $(wildcard lib/*.c lib/*/*.c))
PROG_SRC  := $(sort $(wildcard src/*.c src/*/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))
# Helper programs of the VM tests (tests/vm/run), not tests of tests/run.
VM_TEST_SRC := $(sort $(wildcard tests/vm/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The library again with fault injection (lib/util/fault.h), for
# tests/test_faults only: the shipped objects have no fault site.
FAULT_OBJ := $(LIB_SRC:%.c=$(BUILD)/fault/%.o)
FAULT_LIBA := $(BUILD)/fault/libuzram.a
PROG_OBJ  := $(PROG_SRC:%.c=$(BUILD)/%.o)
LIBA      := $(BUILD)/libuzram.a
PROG      := $(BUILD)/uzram
TEST_BIN  := $(TEST_SRC:%.c=$(BUILD)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
REPLAY_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/replay_%)
EXAMPLE_BIN := $(EXAMPLE_SRC:%.c=$(BUILD)/%)
VM_TEST_BIN := $(VM_TEST_SRC:%.c=$(BUILD)/%)

.PHONY: all check test fuzz bench run clean deps tests vmcheck vmbench \
	shared install uninstall
# Keep objects of the test and bench programs between runs.
.SECONDARY:
.DEFAULT_GOAL := all

ifeq ($(BUILD),build/default)
all: uzram libuzram.a
uzram: $(PROG)
	$(Q)cp -f $< $@
libuzram.a: $(LIBA)
	$(Q)cp -f $< $@
else
all: $(PROG) $(LIBA)
endif

# Quiet unless V=1.
ifneq ($(V),1)
Q = @
E = @echo
else
Q =
E = @:
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(E) "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(BUILD)/fault/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  CC [FAULT] $<"
	$(Q)$(CC) $(ALL_CFLAGS) -DUZRAM_FAULT_INJECT -c -o $@ $<

$(FAULT_LIBA): $(FAULT_OBJ)
	@rm -f $@
	$(E) "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(PROG): $(PROG_OBJ) $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(PROG_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# The write and read paths with faults injected (lib/util/fault.h).
$(BUILD)/tests/test_faults: $(BUILD)/tests/test_faults.o $(FAULT_LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(FAULT_LIBA) $(LDLIBS)

# ublk's request dispatch, tested without a kernel.
$(BUILD)/tests/test_ublk_io: $(BUILD)/tests/test_ublk_io.o $(BUILD)/src/ublk/ublk_io.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBA) $(LDLIBS)

# zram-generator.conf's size arithmetic (uzram serve --config).
$(BUILD)/tests/test_sizeexpr: $(BUILD)/tests/test_sizeexpr.o $(BUILD)/src/serve/sizeexpr.o
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) -lm

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/tests/vm/%: $(BUILD)/tests/vm/%.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Corpus replay: each fuzz target linked with a plain main() that feeds it
# every file of fuzz/corpus/<target>/ (no libFuzzer needed).
$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/%.o $(BUILD)/fuzz/replay_main.o $(LIBA)
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

tests: $(PROG) $(LIBA) $(TEST_BIN) $(REPLAY_BIN) $(EXAMPLE_BIN) $(BENCH_BIN)

deps:
	@scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) UZRAM=$(BUILD)/uzram SAN=$(SAN) tests/run check

test: deps
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) UZRAM=$(BUILD)/uzram SAN=$(SAN) tests/run test

# A skipped suite (exit 77: no qemu, no kernel) is not a failure, except with
# CI=true, where tests/vm/run fails instead of skipping.
vmcheck: deps
	@$(MAKE) --no-print-directory $(PROG) $(LIBA) $(VM_TEST_BIN)
	@BUILD=$(BUILD) UZRAM=$(BUILD)/uzram tests/vm/run $(VMTESTS); rc=$$?; \
	  [ $$rc = 77 ] && rc=0; exit $$rc

bench: $(PROG) $(BENCH_BIN)

# Benchmarks that need a real block layer (bench/vm/t_*.sh), in the VM.
vmbench: deps
	@$(MAKE) --no-print-directory $(PROG) $(LIBA) $(VM_TEST_BIN)
	@BUILD=$(BUILD) UZRAM=$(BUILD)/uzram UZRAM_VM_TESTS=bench/vm tests/vm/run $(VMTESTS)

run: deps all
	@scripts/run.sh

# libFuzzer builds always use clang with ASan+UBSan, in their own directory.
# Each target starts from its committed corpus (fuzz/corpus/<target>, read
# only) and adds what it finds to build/fuzz/corpus-<target>; a crash, leak or
# hang (-timeout) fails `make fuzz` and leaves the input in build/fuzz/.
# FUZZ_TARGETS=name... runs some of them.
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz
FUZZ_TARGETS ?= $(FUZZ_SRC:fuzz/%.c=%)
FUZZ_FLAGS := -std=gnu11 -pthread -O1 -g -fsanitize=fuzzer,address,undefined \
	-Iinclude -Ilib -Isrc $(PKG_CFLAGS) $(OPT_CFLAGS)
fuzz:
	@mkdir -p $(FUZZ_BUILD)
	@failed=; for t in $(FUZZ_TARGETS); do \
	  clang $(FUZZ_FLAGS) -o $(FUZZ_BUILD)/$$t fuzz/$$t.c $(LIB_SRC) $(LDLIBS) || exit 1; \
	  mkdir -p fuzz/corpus/$$t $(FUZZ_BUILD)/corpus-$$t; \
	  echo "== $$t ($(FUZZ_SECONDS)s)"; \
	  if $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -print_final_stats=1 \
	      -artifact_prefix=$(FUZZ_BUILD)/$$t- $(FUZZ_BUILD)/corpus-$$t fuzz/corpus/$$t \
	      >$(FUZZ_BUILD)/$$t.log 2>&1; then \
	    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_BUILD)/$$t.log; \
	  else \
	    failed="$$failed $$t"; grep -E -A12 '^==[0-9]+==ERROR|SUMMARY|^ALARM|Test unit written' \
	      $(FUZZ_BUILD)/$$t.log | head -40; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed (logs in $(FUZZ_BUILD))"; exit 1; fi

# ---- the shared library and `make install` ----
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   bin/uzram, lib/libuzram.a,
#       lib/libuzram.so.MAJOR (SONAME; exports only uzram_*, dist/libuzram.map),
#       include/uzram.h, lib/pkgconfig/uzram.pc, the man pages (man/*.[0-9])
#       and the systemd units (dist/systemd: uzram.service, uzram.socket)
#   make uninstall [PREFIX=...] [DESTDIR=]        removes exactly those files
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
UNITDIR    ?= $(PREFIX)/lib/systemd/system
VERSION    := $(shell sed -n 's/^\#define UZRAM_VERSION "\(.*\)"/\1/p' include/uzram.h)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
# The engine needs the codec libraries and liburing (writeback), not FUSE or TLS.
LIB_LIBS   := $(PKG_LIBS) $(if $(filter liburing,$(OPT_FOUND)),$(shell pkg-config --libs liburing)) \
	-lpthread -lm
PIC_OBJ    := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
SO_REAL    := $(BUILD)/libuzram.so.$(VERSION)
MAN_PAGES  := $(wildcard man/*.[1-9])
UNITS      := uzram.service uzram.socket

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  CC [PIC] $<"
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(SO_REAL): $(PIC_OBJ) dist/libuzram.map
	$(E) "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libuzram.so.$(MAJOR) \
		-Wl,--version-script=dist/libuzram.map -Wl,-z,defs -o $@ $(PIC_OBJ) $(LIB_LIBS)

shared: $(SO_REAL)

$(BUILD)/uzram.pc: dist/uzram.pc.in include/uzram.h
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@LIBS_PRIVATE@|$(subst $(LZ4_A),-l:liblz4.a,$(LIB_LIBS))|' $< >$@

$(BUILD)/systemd/%: dist/systemd/%
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' $< >$@

install: $(PROG) $(LIBA) $(SO_REAL) $(BUILD)/uzram.pc $(UNITS:%=$(BUILD)/systemd/%)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 $(PROG) $(DESTDIR)$(BINDIR)/uzram
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libuzram.a
	install -m 755 $(SO_REAL) $(DESTDIR)$(LIBDIR)/libuzram.so.$(VERSION)
	ln -sf libuzram.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libuzram.so.$(MAJOR)
	ln -sf libuzram.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libuzram.so
	install -m 644 include/uzram.h $(DESTDIR)$(INCLUDEDIR)/uzram.h
	install -m 644 $(BUILD)/uzram.pc $(DESTDIR)$(PKGCONFIGDIR)/uzram.pc
	install -m 644 $(UNITS:%=$(BUILD)/systemd/%) $(DESTDIR)$(UNITDIR)/
	$(foreach m,$(MAN_PAGES),install -D -m 644 $(m) \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)) &&) true

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/uzram $(DESTDIR)$(LIBDIR)/libuzram.a \
		$(DESTDIR)$(LIBDIR)/libuzram.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libuzram.so.$(MAJOR) \
		$(DESTDIR)$(LIBDIR)/libuzram.so $(DESTDIR)$(INCLUDEDIR)/uzram.h \
		$(DESTDIR)$(PKGCONFIGDIR)/uzram.pc $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) \
		$(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

clean:
	rm -rf build uzram libuzram.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
