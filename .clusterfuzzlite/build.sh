#!/bin/bash -eu
# Compiles every fuzz target listed in the Makefile (FUZZ_TARGETS, the one list)
# with OSS-Fuzz's native Go support, and packs each target's committed seed
# corpus (testdata/fuzz/<Target>/, "go test fuzz v1" files) as a libFuzzer seed
# corpus of raw inputs.
cd "$SRC/wsksim"
go get github.com/AdamKorcz/go-118-fuzz-build/testing
module=$(go list -m)
for t in $(make -s print-fuzz-targets); do
	pkg=${t%%:*}
	name=${t##*:}
	compile_native_go_fuzzer "$module/${pkg#./}" "$name" "$name"
	corpus="${pkg#./}/testdata/fuzz/$name"
	if [ -d "$corpus" ]; then
		tmp=$(mktemp -d)
		go run ./fuzz/cmd/corpus2raw -in "$corpus" -out "$tmp"
		(cd "$tmp" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
		rm -rf "$tmp"
	fi
done
