# pgp: build, test and install.  GNU make; libraries through pkg-config.
#
#   make                  programs in bin/ and common/libpgp.a
#   make check            installs missing test dependencies (as root), runs every test
#   make check-asan       the same tests against an AddressSanitizer + UBSan build
#   make demo             provisions and exercises a throwaway local PostgreSQL
#   make install PREFIX=/usr/local DESTDIR=   (never overwrites /etc/pgp/pgp.conf;
#                         PG_BINDIR= where the maintenance units find vacuumdb)
#   make uninstall, make clean
#
# SYSCONFDIR and LOCALSTATEDIR are compiled in (common/paths.h): the programs
# read $(SYSCONFDIR)/pgp/pgp.conf and keep state in $(LOCALSTATEDIR)/lib/pgp.
# DESTDIR only stages the files; it is not compiled in.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=
# The group that may read pgp.conf (its members: postgres, the monitoring
# user), and the user that runs the backups and owns their state directory.
PGP_GROUP  ?= pgp
PGP_BACKUP_USER ?= postgres
# PostgreSQL's own programs for the maintenance units (vacuumdb, reindexdb):
# Debian's directory of the newest version installed, else /usr/bin.
PG_BINDIR  ?= $(or $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1),/usr/bin)

PKGS     := libpq libcurl libconfig zlib libzstd libcrypto libssl json-c
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

PATH_DEFS  := -DPGP_SYSCONFDIR='"$(SYSCONFDIR)"' -DPGP_LOCALSTATEDIR='"$(LOCALSTATEDIR)"'
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Icommon $(PATH_DEFS) $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)
# libpg_query (PostgreSQL's parser, for pgp-migrate-check) has no pkg-config
# file; the linker's --as-needed (Debian's default) keeps it out of the others.
LIBS := $(PKG_LIBS) -lpg_query -lm -lpthread

PROGRAMS   := pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:%.c=$(O)/%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:%.c=$(O)/%)

# A program is bin/NAME.c; once it outgrows one file its modules live in
# bin/<first word of NAME without "pgp-">/ (bin/pgp-create.c + bin/create/*.c,
# bin/pgp-migrate-check.c + bin/migrate/*.c), since the binary itself is bin/NAME.
prog_dir = $(firstword $(subst -, ,$(subst pgp-,,$(1))))
prog_src = $(wildcard bin/$(1).c bin/$(call prog_dir,$(1))/*.c)
prog_obj = $(patsubst %.c,$(O)/%.o,$(call prog_src,$(1)))

.SECONDARY:
.PHONY: all check check-asan test-progs deps demo install uninstall clean lint
all: $(addprefix $(BINOUT)/,$(PROGRAMS)) $(LIBPGP)

# The compiled-in paths, recorded so that a change of SYSCONFDIR or
# LOCALSTATEDIR rebuilds the objects (rewritten only when they differ).
PATHS_STAMP := $(O)/paths.stamp
$(shell mkdir -p $(O) && printf '%s\n' 'SYSCONFDIR=$(SYSCONFDIR) LOCALSTATEDIR=$(LOCALSTATEDIR)' | \
	cmp -s - $(PATHS_STAMP) 2>/dev/null || \
	printf '%s\n' 'SYSCONFDIR=$(SYSCONFDIR) LOCALSTATEDIR=$(LOCALSTATEDIR)' >$(PATHS_STAMP))
$(PATHS_STAMP): ;

$(O)/%.o: %.c $(PATHS_STAMP)
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
$(O)/tests/unit/test_alert: $(O)/bin/alert/threshold.o $(O)/bin/alert/catalog.o $(O)/bin/alert/queries.o
$(O)/tests/unit/test_alert_eval: $(patsubst %.c,$(O)/%.o,$(wildcard bin/alert/*.c))
$(O)/tests/unit/test_migrate_sqlparse: $(addprefix $(O)/bin/migrate/,sqlparse.o report.o)
$(O)/tests/unit/test_migrate_rules: $(addprefix $(O)/bin/migrate/,sqlparse.o rules.o rules_ddl.o rules_learn.o rules_types.o rules_locks.o rules_pooler.o rules_table.o report.o)
$(O)/tests/unit/test_migrate_layout: $(addprefix $(O)/bin/migrate/,layout.o layout_sql.o layout_plan.o checksum.o sqlparse.o report.o)
$(O)/tests/tools/archive-rows: $(O)/bin/backup/archive.o
$(O)/tests/unit/test_compress: $(O)/bin/backup/compress.o
$(O)/tests/unit/test_backup_physical: $(addprefix $(O)/bin/backup/,walname.o tarstream.o crc32c.o pgmanifest.o basebackup.o)
$(O)/tests/tools/walchain-tool: $(addprefix $(O)/bin/backup/,wal.o walchain.o cluster.o stream.o repo.o compress.o keys.o manifest.o walname.o)
$(O)/tests/tools/basebackup-tool: $(addprefix $(O)/bin/backup/,walname.o tarstream.o crc32c.o pgmanifest.o basebackup.o)

test-progs: all $(UNIT_BIN) $(TOOL_BIN)

# Dependencies first (a fresh machine has no libconfig yet), then a fresh
# make so pkg-config sees them.
deps:
	@sh scripts/install-deps --ensure

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

# Installed units and the cron file get the real paths; pgp.conf and the
# cron file are the administrator's once installed and never overwritten.
# As root into the live system (no DESTDIR), install also creates the
# group $(PGP_GROUP) (pgp.conf is root:$(PGP_GROUP) 0640) and the state
# directory, owned by $(PGP_BACKUP_USER); otherwise INSTALL says what to do.
# systemd's StateDirectory= is under /var/lib: with another LOCALSTATEDIR
# the units leave it out, and the directory is make install's.
STATE_DIRECTORY := $(if $(filter /var,$(LOCALSTATEDIR)),StateDirectory=pgp,\# StateDirectory=pgp left out: LOCALSTATEDIR is $(LOCALSTATEDIR), not /var)
STATE_MODE := $(if $(filter /var,$(LOCALSTATEDIR)),,\# )
SUBST := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' -e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g' \
	-e 's|@PGP_GROUP@|$(PGP_GROUP)|g' -e 's|@PG_BINDIR@|$(PG_BINDIR)|g' -e 's|^@STATE_DIRECTORY@$$|$(STATE_DIRECTORY)|' -e 's|^StateDirectoryMode=|$(STATE_MODE)StateDirectoryMode=|'
UNITS := $(notdir $(wildcard etc/systemd/*.service etc/systemd/*.timer))
LIVE  := $(if $(DESTDIR),,$(filter 0,$(shell id -u)))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(SYSCONFDIR)/pgp $(DESTDIR)$(SYSCONFDIR)/cron.d \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(LOCALSTATEDIR)/lib/pgp \
		$(DESTDIR)$(LOCALSTATEDIR)/lib/pgp/alert $(DESTDIR)$(DATADIR)/pgp/prometheus
	install -m 0755 $(addprefix $(BINOUT)/,$(PROGRAMS)) $(DESTDIR)$(BINDIR)/
	install -m 0644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 etc/pgp.conf $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf.sample
	@# Prometheus's rules for pgp-alert's textfile: the operator links or
	@# copies them into Prometheus's rule_files.
	install -m 0644 etc/prometheus/pgp-alert.rules.yml $(DESTDIR)$(DATADIR)/pgp/prometheus/
	@set -e; for u in $(UNITS); do \
		$(SUBST) etc/systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp; \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp; \
		mv $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
	done; echo "installed $(UNITS) in $(DESTDIR)$(SYSTEMDUNITDIR)"
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/cron.d/pgp ]; then \
		echo "kept existing $(DESTDIR)$(SYSCONFDIR)/cron.d/pgp"; \
	else \
		$(SUBST) etc/cron.d/pgp >$(DESTDIR)$(SYSCONFDIR)/cron.d/pgp && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/cron.d/pgp; \
	fi
	@if [ -n "$(LIVE)" ] && ! getent group $(PGP_GROUP) >/dev/null; then \
		groupadd --system $(PGP_GROUP) && echo "created group $(PGP_GROUP) (add postgres and your monitoring user to it)"; \
	fi
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf ]; then \
		echo "kept existing $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf (sample in pgp.conf.sample)"; \
	else \
		install -m 0640 etc/pgp.conf $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf; \
		if [ -n "$(LIVE)" ]; then chown root:$(PGP_GROUP) $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf; fi; \
	fi
	@if [ -n "$(LIVE)" ] && id $(PGP_BACKUP_USER) >/dev/null 2>&1; then \
		chown $(PGP_BACKUP_USER): $(DESTDIR)$(LOCALSTATEDIR)/lib/pgp; \
	fi
	@# pgp-alert's state (alert.state_dir): any member of the group writes it.
	@if [ -n "$(LIVE)" ]; then \
		chown root:$(PGP_GROUP) $(DESTDIR)$(LOCALSTATEDIR)/lib/pgp/alert && \
		chmod 2770 $(DESTDIR)$(LOCALSTATEDIR)/lib/pgp/alert; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(addsuffix .1,$(PROGRAMS)))
	rm -f $(DESTDIR)$(MANDIR)/man5/pgp.conf.5 $(DESTDIR)$(MANDIR)/man7/pgp.7
	rm -f $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf.sample
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(DATADIR)/pgp/prometheus/pgp-alert.rules.yml
	-rmdir $(DESTDIR)$(DATADIR)/pgp/prometheus $(DESTDIR)$(DATADIR)/pgp 2>/dev/null
	@echo "left $(DESTDIR)$(SYSCONFDIR)/pgp/pgp.conf, $(DESTDIR)$(SYSCONFDIR)/cron.d/pgp and $(DESTDIR)$(LOCALSTATEDIR)/lib/pgp in place (remove them by hand if unwanted)"

clean:
	rm -rf build common/libpgp.a $(addprefix bin/,$(PROGRAMS)) tests/.log

-include $(shell find build -name '*.d' 2>/dev/null)
