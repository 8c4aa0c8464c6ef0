// Package fuzz holds wsksim's cross-package fuzz targets and the tooling that
// keeps every fuzz target in the repository runnable in CI and at scale.
//
// The list of fuzz targets lives in one place, the Makefile's FUZZ_TARGETS;
// TestMakefileListsEveryFuzzTarget fails when a target is missing from it or
// listed but gone. `make fuzz FUZZTIME=10m` runs each in turn, `make
// fuzz-smoke` runs each for a few seconds (CI), and .clusterfuzzlite/build.sh
// compiles the same list for ClusterFuzzLite / OSS-Fuzz. See docs/fuzzing.md.
package fuzz
