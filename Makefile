# wsksim — see README.md. Every target runs on a fresh machine with Go 1.26.
GO       ?= go
FUZZTIME ?= 10s
SEED     ?= 1

# Every fuzz target in the repository, as package:Target. A test
# (fuzz.TestMakefileListsEveryFuzzTarget) fails when one is missing here.
FUZZ_TARGETS = \
	./fuzz:FuzzWorld \
	./irp:FuzzIRPOps \
	./scenarios:FuzzScenario \
	./trace:FuzzParse \
	./trace:FuzzReplay \
	./wfp:FuzzClassify \
	./wfp:FuzzDecodeRecords \
	./wsk:FuzzControlSocket

CORE = ./nt/... ./sim/... ./irp/... ./wfp/... ./wsk/...

.PHONY: all test vet unit race fuzz fuzz-smoke run bench bench-ratios rules docs check-fmt

all: test

## test: everything CI runs: format, vet, unit tests, race detector on the core, fuzz smoke.
test: check-fmt vet unit race fuzz-smoke

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(CORE)

## fuzz-smoke: each fuzz target for a fixed number of executions (CI). A count,
## not a duration: with -fuzztime given in seconds, Go's fuzz coordinator can end
## a healthy run with "context deadline exceeded" when the deadline falls while a
## worker is busy (seen once in seven runs on a loaded 2-core machine), and a
## count has no deadline. The count also makes the smoke's work independent of
## the machine's speed.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(SMOKEEXECS)
SMOKEEXECS ?= 3000x

## fuzz: each fuzz target in turn for FUZZTIME (make fuzz FUZZTIME=30m).
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME); \
	done

## run: the main job, wsksim on its built-in scenario suite.
run:
	$(GO) run ./cmd/wsksim run --seed $(SEED)

## bench: the benchmarks docs/performance.md reports.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./irp ./wsk ./wfp ./trace | tee bench.out

## bench-ratios: run the benchmarks behind the performance goals, print each
## ratio against its goal, and regenerate that section of docs/performance.md
## (with the commit and machine). Takes a few minutes (the 1M-socket store).
bench-ratios:
	$(GO) run ./internal/benchratios -write docs/performance.md

## docs: regenerate generated docs (rules, policies) and generated code.
docs:
	$(GO) generate ./...
	$(GO) run ./cmd/wsksim rules --markdown > docs/rules.md
	$(GO) run ./cmd/wsksim policies --markdown > docs/policies.md

## print-fuzz-targets: the fuzz target list, one package:Target a line (.clusterfuzzlite/build.sh reads it).
print-fuzz-targets:
	@for t in $(FUZZ_TARGETS); do echo $$t; done
