// Package fuzz holds wsksim's cross-package fuzz targets and the tooling that
// keeps every fuzz target in the repository runnable in CI and at scale.
//
// The list of fuzz targets lives in one place, the Makefile's FUZZ_TARGETS;
// TestMakefileListsEveryFuzzTarget fails when a target is missing from it or
// listed but gone. `make fuzz FUZZTIME=10m` runs each in turn, `make
// fuzz-smoke` runs each for a few seconds (CI), and .clusterfuzzlite/build.sh
// compiles the same list for ClusterFuzzLite / OSS-Fuzz. See docs/fuzzing.md.
//
// FuzzWorld is the world fuzzer: Decode turns bytes into a Program (the byte
// format is documented on Program) of operations across IRPs, pool, WSK, WFP
// callouts, scripted peers, the queue and choice points, with a swarm of
// fault sites switched on by the first bytes. Program.Run executes it through
// the scenario interpreter (package scenarios), so Program.Scenario prints
// exactly what ran; Check holds every input to a plain model of the IRP and
// pool rules, the SET/QUERY status classes, liveness after faults are
// switched off, and a byte-identical trace when the printed scenario runs
// again. `go run ./fuzz/cmd/fuzz2scenario <corpus file>` prints an input as a
// scenario.
package fuzz
