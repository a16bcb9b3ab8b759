SHELL := /bin/bash

# ngx_lfv_module: build, test and check the nginx module.
#
#   make            build build/objs/ngx_http_lfv_module.so against
#                   Debian's nginx (nginx-dev) or NGINX_SRC=<dir>
#   make test       build, then run the whole suite with prove
#   make dynalite   install the tests' DynamoDB (npm's dynalite) under build/node
#   make demo       run nginx with the module in front of the simulators

NGINX_SRC   ?= /usr/share/nginx/src
BUILD       ?= $(CURDIR)/build/objs
NGINX_BIN   ?= /usr/sbin/nginx
PERL_PROVE  ?= prove
PROVE_FLAGS ?= -j2
WERROR      ?= -Werror
CC_OPT      ?= -O2

# Debian packages the build and the suite need
APT_PKGS = nginx-dev libssl-dev libpcre2-dev python3-botocore python3-boto3 \
           python3-cryptography awscli curl \
           openssl perl libfaketime gdb

FUZZ_PKGS = clang-14 libclang-rt-14-dev

# dynalite, the DynamoDB on LevelDB that the tests run (LFV::Sim->dynalite):
# npm's package, pinned, installed under build/node only (its npm cache too),
# never globally; the suite uses it from there
DYNALITE_VERSION = 4.0.0
NODE_DIR = $(CURDIR)/build/node
DYNALITE = $(NODE_DIR)/node_modules/.bin/dynalite
DYNALITE_STAMP = $(NODE_DIR)/dynalite-$(DYNALITE_VERSION).installed

MODULE = $(BUILD)/ngx_http_lfv_module.so
SOURCES = config $(wildcard ngx_lfv_module/*.c ngx_lfv_module/*.h)

.PHONY: all deps test clean demo deb unit fuzz fuzz-run bench bench-quick \
        bench-soak test-asan test-valgrind test-nginx lint dynalite

all: $(MODULE)

deps:
	@missing=""; \
	for p in $(APT_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	    else \
	        echo "missing packages; run as root:"; \
	        echo "  apt-get install -y$$missing"; exit 1; \
	    fi; \
	fi

$(BUILD)/Makefile: config Makefile | deps
	mkdir -p $(BUILD)
	cd $(NGINX_SRC) && \
	if [ -f conf_flags ]; then . ./conf_flags; else NGX_CONF_FLAGS=(); fi; \
	./configure "$${NGX_CONF_FLAGS[@]}" --builddir=$(BUILD) \
	    --with-cc-opt="$(WERROR) $(CC_OPT)" --with-ld-opt="$(LD_OPT)" \
	    --add-dynamic-module=$(CURDIR) $(CONFIGURE_EXTRA) \
	    > $(BUILD)/configure.log 2>&1 || \
	    { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/Makefile $(SOURCES)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGINX_SRC) modules

test: $(MODULE) unit dynalite
	$(PERL_PROVE) $(PROVE_FLAGS) t/

# once per version: the stamp is written only when the package loads
# (its LevelDB binding is a prebuilt N-API binary in classic-level)

dynalite: $(DYNALITE_STAMP)

$(DYNALITE_STAMP):
	@command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || { \
	    echo "make dynalite: npm and node (>= 20) are needed to install dynalite" \
	         "$(DYNALITE_VERSION) from the npm registry for the tests; not found on PATH"; \
	    exit 1; }
	rm -f $(NODE_DIR)/dynalite-*.installed
	npm install --prefix $(NODE_DIR) --cache $(NODE_DIR)/npm-cache --no-audit --no-fund \
	    --no-update-notifier --save-exact dynalite@$(DYNALITE_VERSION)
	node -e 'require(process.argv[1])' $(NODE_DIR)/node_modules/dynalite
	test -x $(DYNALITE)
	touch $@

# the module's pure files linked without nginx: test drivers, fuzzers

unit: $(BUILD)/Makefile
	$(MAKE) -C t/unit NGINX_SRC=$(NGINX_SRC) BUILD=$(BUILD)

fuzz: $(BUILD)/Makefile
	$(MAKE) deps APT_PKGS="$(FUZZ_PKGS)"
	$(MAKE) -C t/fuzz NGINX_SRC=$(NGINX_SRC) BUILD=$(BUILD)

# each fuzzer for FUZZ_SECONDS (default 10)

fuzz-run: fuzz
	$(MAKE) -C t/fuzz run NGINX_SRC=$(NGINX_SRC) BUILD=$(BUILD)

# memory checks and static analysis: each script's header says what it runs

test-valgrind: APT_PKGS += valgrind
lint: APT_PKGS += bear cppcheck clang-tidy jq

test-asan: deps $(MODULE) unit dynalite
	PROVE_FLAGS="$(PROVE_FLAGS)" t/asan/run.sh

test-valgrind: deps $(MODULE) unit dynalite
	PROVE_FLAGS="$(PROVE_FLAGS)" t/valgrind/run.sh

lint: deps
	NGINX_SRC="$(NGINX_SRC)" t/lint/run.sh

# the suite against nginx stable and mainline built from ../shared/vendor
# (LFV_VENDOR); skipped with a message where there is none

test-nginx: deps unit dynalite
	PROVE_FLAGS="$(PROVE_FLAGS)" t/compat/run.sh $(NGINX_VERSIONS)

# benchmark against plain proxy_pass (docs/performance.md); not a test

bench: $(MODULE) dynalite
	bash bench/run.sh

bench-quick: $(MODULE) dynalite
	BENCH_QUICK=1 bash bench/run.sh

bench-soak: $(MODULE)
	BENCH_SOAK=1 bash bench/run.sh

# the README's "run it": build, then nginx with the module in front of the
# simulators on 127.0.0.1:8080 (DEMO_PORT); Ctrl-C stops it.
# DEMO_SELFTEST=1 runs every printed command, stops, exits 0/1.

demo:
	bash demo/run.sh

# build/deb/libnginx-mod-http-lfv_VERSION_ARCH.deb for Debian's nginx

deb:
	bash debian-pkg/build.sh

clean:
	rm -rf build
