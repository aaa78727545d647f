# Convenience over meson: `make run` and `make test` work on a fresh Debian 12 (as root).
# meson setup / meson test keep working on their own.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_CLANG ?= build-clang
PYTHON     := /usr/bin/python3
PYTEST     := $(PYTHON) -m pytest
PORT       ?= 8080
PACKAGES   ?= build-packages

# Debian packages needed to build, test and run.
DEPS := build-essential clang pkg-config meson ninja-build \
	libh2o-evloop-dev libzmq3-dev libjson-c-dev libsystemd-dev libseccomp-dev libinih-dev libgmp-dev \
	python3 python3-pytest python3-zmq python3-hpack curl procps systemd systemd-container util-linux scdoc \
	git man-db libssl-dev dpkg-dev debhelper lintian rpm rpmlint prometheus \
	clang-format-14 shellcheck python3-pyflakes iproute2 haproxy \
	openssl testssl.sh

SAN_ENV := SQDIFF_SECCOMP=0 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp

# The signed apt repository (make repo, tests/test_repo.py).
DEPS += reprepro gnupg gpgv

.PHONY: all deps build build-asan build-clang check-prose format-check lint test mutants packages repo run stop bench clean

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Warnings are errors in the builds `make test` makes: gcc here, clang below.
$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=/usr -Dwerror=true

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --prefix=/usr -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

$(BUILD_CLANG)/build.ninja:
	CC=clang meson setup $(BUILD_CLANG) --prefix=/usr -Dwerror=true

build-clang: deps $(BUILD_CLANG)/build.ninja
	ninja -C $(BUILD_CLANG)

# The prose names only what is there: backticked names in the READMEs and docs/, the pure
# core's includes, helpers declared and never used (tools/check-prose says how).
check-prose: deps
	$(PYTHON) tools/check-prose

# C formatting per .clang-format (clang-format 14, Debian 12's), without changing a file; to fix:
# clang-format-14 -i FILE... (see .clang-format).
C_SOURCES = $(wildcard src/*/*.c src/*/*.h fuzz/*.c fuzz/*.h bench/*.c)
format-check: deps
	clang-format-14 --dry-run -Werror $(C_SOURCES)

# The shell scripts (shellcheck) and the Python of tests/, bench/ and tools/ (pyflakes).
SHELL_SCRIPTS = .ci/run packaging/build-deb.sh packaging/build-rpm.sh packaging/copy-source.sh \
	packaging/debian/sqdiff.postinst packaging/debian/sqdiff.postrm packaging/debian/sqdiff.prerm \
	packaging/debian/tests/smoke units/libexec/refresh-credentials
PYTHON_SOURCES = $(wildcard tests/*.py bench/*.py tools/*.py) tools/check-prose tools/check-layers tools/sqdiff-box
lint: deps
	shellcheck $(SHELL_SCRIPTS)
	$(PYTHON) -m pyflakes $(PYTHON_SOURCES)

# Every test: the prose check, the C formatting, shellcheck and pyflakes; the unit tests (with
# the fuzz corpora replayed) of a gcc and a clang build, both warning-free (-Wall -Wextra as
# errors), and of a sanitized one; the black-box suite against the sanitized build as plain
# processes, and its sandbox tests against the plain build (the sanitized one runs without
# seccomp); then the .deb is built and the black-box suite, the systemd-only checks, the
# harness's own tests, the package life cycle and the package's autopkgtests (debian/tests/)
# run against it, installed with apt in a real systemd booted in a throwaway container
# (tools/sdbox.py); with it the signed repository (tests/test_repo.py) and the suite run inside
# a box against the installed .deb as on a live machine (SQDIFF_TARGET=host, tests/test_host.py).
test: check-prose format-check lint build build-asan build-clang
	meson test -C $(BUILD) --print-errorlogs
	meson test -C $(BUILD_CLANG) --print-errorlogs
	meson test -C $(BUILD_ASAN) --print-errorlogs
	$(SAN_ENV) SQDIFF_BUILDDIR=$(BUILD_ASAN) SQDIFF_TARGET=process $(PYTEST) -q tests/ \
		--ignore=tests/test_sdbox.py --ignore=tests/test_packaging.py
	SQDIFF_BUILDDIR=$(BUILD) SQDIFF_TARGET=process $(PYTEST) -q tests/test_sandbox.py
	SQDIFF_BUILDDIR=$(BUILD) SQDIFF_TARGET=process $(PYTEST) -q tests/test_tls.py -k costs
	deb=$$(packaging/build-deb.sh $(PACKAGES) | tail -n 1) && \
	SQDIFF_DEB=$$deb SQDIFF_BUILDDIR=$(BUILD) SQDIFF_TARGET=systemd $(PYTEST) -q tests/

# Mutation testing (not part of `make test`): each mutant of tools/mutants.toml, a one-line bug,
# is planted in a scratch copy of the tree (build-mutants/), rebuilt, and run through the fast
# loop (unit tests, then the black-box suite against plain processes; the ASan build for memory
# bugs); it reports which the tests kill, the kill rate and the run time. MUTANTS=id,id for some.
mutants: deps
	$(PYTHON) tools/mutate $(if $(MUTANTS),--only $(MUTANTS))

# The Debian package and the RPM, into $(PACKAGES)/.
packages: deps
	packaging/build-deb.sh $(PACKAGES)
	packaging/build-rpm.sh $(PACKAGES)

# A signed apt repository of the .deb and its source package in $(REPO_DIR)
# (packaging/build-repo.sh): REPO_KEY=FINGERPRINT, a secret key in GNUPGHOME (default ~/.gnupg).
REPO_DIR ?= $(PACKAGES)/repo
repo: deps
	@[ -n "$(REPO_KEY)" ] || { echo "make repo: set REPO_KEY to the fingerprint of the signing key" \
		"(gpg --list-secret-keys; GNUPGHOME for another keyring)" >&2; exit 2; }
	deb=$$(packaging/build-deb.sh $(PACKAGES) | tail -n 1) && \
	REPO_KEY=$(REPO_KEY) packaging/build-repo.sh $(REPO_DIR) $$deb $${deb%_*}.dsc

# Starts the suite under a real systemd: on a machine whose PID 1 is systemd, installs it
# there; elsewhere in a container (tools/sqdiff-box), on port $(PORT). `make stop` ends it.
run: build
	@if [ "$$(cat /proc/1/comm)" = systemd ]; then \
		meson install -C $(BUILD) --no-rebuild && systemd-sysusers && journalctl --update-catalog && \
		systemctl daemon-reload && \
		systemctl enable --now sqdiff-httpd.socket sqdiff-worker@sum sqdiff-worker@square && \
		echo "sqdiff on http://localhost:8080/  (curl 'http://localhost:8080/?n=1&n=2&n=3'; journalctl -u 'sqdiff*')"; \
	else \
		$(PYTHON) tools/sqdiff-box up --port $(PORT); \
	fi

stop:
	@if [ "$$(cat /proc/1/comm)" = systemd ]; then \
		systemctl disable --now sqdiff-httpd.socket sqdiff-httpd.service sqdiff-worker@sum sqdiff-worker@square; \
	else \
		$(PYTHON) tools/sqdiff-box down; \
	fi

# The side-by-side benchmark against nginx and the request-size benchmark (bench/README.md),
# then their pictures (bench/plot.py). Run it on an otherwise idle machine.
bench: deps
	@for p in wrk nginx-light h2o nghttp2-client mongrel2-core python3-matplotlib; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$p; done
	$(PYTHON) bench/bench.py
	$(PYTHON) bench/size.py
	$(PYTHON) bench/tls.py --no-build
	$(PYTHON) bench/plot.py

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_CLANG) $(PACKAGES) build-mutants
