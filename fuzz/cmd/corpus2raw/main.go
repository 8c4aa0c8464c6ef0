// Command corpus2raw converts a native Go fuzzing seed corpus directory
// (testdata/fuzz/<Target>/) into raw-byte files for libFuzzer-style engines.
// .clusterfuzzlite/build.sh uses it to pack seed corpora.
//
//	go run ./fuzz/cmd/corpus2raw -in irp/testdata/fuzz/FuzzIRPOps -out /tmp/seeds
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/wsksim/wsksim/fuzz/internal/corpusfile"
)

func main() {
	in := flag.String("in", "", "corpus directory (go test fuzz v1 files)")
	out := flag.String("out", "", "output directory for raw files")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "corpus2raw: -in and -out are required")
		os.Exit(2)
	}
	ents, err := os.ReadDir(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus2raw:", err)
		os.Exit(2)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "corpus2raw:", err)
		os.Exit(2)
	}
	skipped := 0
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(*in, e.Name()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "corpus2raw:", err)
			os.Exit(2)
		}
		raw, err := corpusfile.Raw(e.Name(), data)
		if err != nil {
			fmt.Fprintln(os.Stderr, "corpus2raw: skipping:", err)
			skipped++
			continue
		}
		if err := os.WriteFile(filepath.Join(*out, e.Name()), raw, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "corpus2raw:", err)
			os.Exit(2)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(os.Stderr, "corpus2raw: %d file(s) skipped\n", skipped)
	}
}
