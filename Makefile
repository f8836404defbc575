# pgp: build, test and install.  GNU make; libraries through pkg-config.
#
#   make                  programs in bin/ and common/libpgp.a
#   make check            installs missing test dependencies (as root), runs every test
#   make check-asan       the same tests against an AddressSanitizer + UBSan build
#   make demo             provisions and exercises a throwaway local PostgreSQL
#   make install PREFIX=/usr/local DESTDIR=   (never overwrites /etc/pgp/pgp.conf)
#   make uninstall, make clean

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=

PKGS     := libpq libcurl libconfig zlib libcrypto json-c
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wno-format-nonliteral -Wno-format-truncation
# (snprintf into fixed path buffers truncates by design; long paths fail later with ENOENT)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# Build variant: plain objects under build/obj, sanitized ones under build/asan.
O       ?= build/obj
BINOUT  ?= bin
LIBPGP  ?= common/libpgp.a
SANITIZE ?=
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Icommon $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)
LIBS := $(PKG_LIBS) -lm -lpthread

PROGRAMS   := pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:%.c=$(O)/%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:%.c=$(O)/%)

# A program is bin/NAME.c; once it outgrows one file its modules live in
# bin/<NAME without "pgp-">/ (bin/pgp-create.c + bin/create/*.c), since the
# binary itself is bin/NAME.
prog_src = $(wildcard bin/$(1).c bin/$(subst pgp-,,$(1))/*.c)
prog_obj = $(patsubst %.c,$(O)/%.o,$(call prog_src,$(1)))

.SECONDARY:
.PHONY: all check check-asan test-progs deps demo install uninstall clean lint
all: $(addprefix $(BINOUT)/,$(PROGRAMS)) $(LIBPGP)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBPGP): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

define PROGRAM_rule
$(BINOUT)/$(1): $(call prog_obj,$(1)) $(LIBPGP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $(call prog_obj,$(1)) $(LIBPGP) $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_rule,$(p))))

$(O)/tests/%: $(O)/tests/%.o $(LIBPGP)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBPGP) $(LIBS)

# Unit tests of a program's pure modules link those modules.
$(O)/tests/unit/test_tune: $(O)/bin/tune/formulas.o
$(O)/tests/tools/archive-rows: $(O)/bin/backup/archive.o

test-progs: all $(UNIT_BIN) $(TOOL_BIN)

# Dependencies first (a fresh machine has no libconfig yet), then a fresh
# make so pkg-config sees them.
deps:
	@scripts/install-deps --ensure

check: deps
	@$(MAKE) --no-print-directory test-progs
	@PGP_BIN=$(CURDIR)/$(BINOUT) PGP_TESTBIN=$(CURDIR)/$(O)/tests tests/run

check-asan: deps
	@$(MAKE) --no-print-directory O=build/asan BINOUT=build/asan/bin \
		LIBPGP=build/asan/libpgp.a SANITIZE=1 CFLAGS="-O1 -g" test-progs
	@PGP_BIN=$(CURDIR)/build/asan/bin PGP_TESTBIN=$(CURDIR)/build/asan/tests \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99 \
		tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

lint:
	mandoc -Tlint -Wwarning man/man1/*.1 man/man5/*.5 man/man7/*.7
	scripts/check-docs

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(SYSCONFDIR)/pgp
	install -m 0755 $(addprefix $(BINOUT)/,$(PROGRAMS)) $(DESTDIR)$(BINDIR)/
	install -m 0644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 etc/pgp.conf $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf.sample
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf ]; then \
		echo "kept existing $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf (sample in pgp.conf.sample)"; \
	else \
		install -m 0640 etc/pgp.conf $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(addsuffix .1,$(PROGRAMS)))
	rm -f $(DESTDIR)$(MANDIR)/man5/pgp.conf.5 $(DESTDIR)$(MANDIR)/man7/pgp.7
	rm -f $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf.sample
	@echo "left $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf in place (remove it by hand if unwanted)"

clean:
	rm -rf build common/libpgp.a $(addprefix bin/,$(PROGRAMS)) tests/.log

-include $(shell find build -name '*.d' 2>/dev/null)
