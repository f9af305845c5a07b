# Debian packages of the real servers the tests start (see internal/testenv).
# postgresql-15 and patch serve Spacebar (internal/testenv/spacebar), which the
# tests build once with npm (Node 24 and its modules come from the npm registry).
TEST_PACKAGES := prosody prosody-modules ejabberd inspircd atheme-services ngircd biboumi dovecot-imapd dovecot-lmtpd dovecot-submissiond opensmtpd redis-server redis-sentinel redis-tools kannel kannel-extras postgresql-15 patch
DEMO_PACKAGES := prosody inspircd atheme-services

GO ?= go

.PHONY: test demo demo-discord demo-sms bench load load-burst load-idle load-idle-gateways check deps build fuzz

## test: install the peer servers the tests need, then run every test with the race detector
test: deps
	$(GO) test -race -count=1 ./...

deps:
	./scripts/install-deps.sh $(TEST_PACKAGES)
	@command -v npm >/dev/null || ./scripts/install-deps.sh npm

## demo: start Prosody and Switchboard in a temp dir and walk a client through discovery and registration
demo:
	./scripts/install-deps.sh $(DEMO_PACKAGES)
	$(GO) run ./cmd/switchboard-demo

## demo-discord: the same with the Discord transport against Spacebar, a Discord-compatible server (PostgreSQL and Node: built on first run)
demo-discord:
	./scripts/install-deps.sh prosody postgresql-15 patch
	@command -v npm >/dev/null || ./scripts/install-deps.sh npm
	$(GO) run ./cmd/switchboard-demo -discord

## demo-sms: the same with the SMS transport through a real Kannel (bearerbox, smsbox, a fake SMS centre)
demo-sms:
	./scripts/install-deps.sh prosody kannel kannel-extras
	$(GO) run ./cmd/switchboard-demo -sms

## bench: run the benchmarks (stanza path, start-up with 10 000 registrations, storage)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

## load: N XMPP users (USERS=50) in one IRC channel through Switchboard and biboumi; prints a table
USERS ?= 50
load: deps
	$(GO) run ./cmd/switchboard-load -users $(USERS)

## load-burst: outgoing pacing: 10 XMPP users (USERS=N) in one IRC channel each send a burst of 30 at once, through Switchboard and biboumi, on an InspIRCd without echo-message (ECHO=true: with it); prints a table
ECHO ?= false
load-burst: deps
	$(GO) run ./cmd/switchboard-load -burst -echo=$(ECHO)$(if $(filter command line environment,$(origin USERS)), -users $(USERS))

## load-idle: idle users join one InspIRCd channel step by step (STEPS=50,200,500; USERS=N: one step of N) and stay: heap, goroutines, RSS per user of the irc package in process
## load-idle-gateways: the same steps through Prosody and both gateways (Switchboard, biboumi): each gateway's RSS per joined user
STEPS ?= 50,200,500
IDLE_STEPS = $(if $(filter command line environment,$(origin USERS)),$(USERS),$(STEPS))
load-idle: deps
	$(GO) run ./cmd/switchboard-load -idle -steps $(IDLE_STEPS)

## (load-idle-gateways measures RSS 3 s after each step's joins and again SETTLE=130s after them: an idle Go process collects at least every 2 minutes, which shrinks the stacks the joins grew, and returns freed pages; SETTLE=0 for the first figure only. WARMUP=true: one user joins and leaves first, and the figures are also given against the RSS after that, the marginal cost per user)
SETTLE ?= 130s
WARMUP ?= false
load-idle-gateways: deps
	$(GO) run ./cmd/switchboard-load -idle-gateways -steps $(IDLE_STEPS) -settle $(SETTLE) -warmup=$(WARMUP)

## fuzz: run every fuzz target for FUZZTIME (default 20s) each
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## check: formatting and vet
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o bin/switchboard ./cmd/switchboard
