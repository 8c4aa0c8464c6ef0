// Command statusgen regenerates nt/zstatus.go from nt/statuses.txt.
//
// Usage (from the nt directory, normally via go generate):
//
//	go run ./internal/statusgen/cmd/statusgen -in statuses.txt -out zstatus.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/wsksim/wsksim/nt/internal/statusgen"
)

func main() {
	in := flag.String("in", "statuses.txt", "curated status list to read")
	out := flag.String("out", "zstatus.go", "Go file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "statusgen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	code, err := statusgen.Generate(src)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, code) {
		return nil // up to date; leave the file (and its mtime) alone
	}
	return os.WriteFile(out, code, 0o644)
}
