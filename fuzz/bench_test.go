package fuzz

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsksim/wsksim/fuzz/internal/corpusfile"
)

// BenchmarkFuzzWorldExecs runs FuzzWorld's check on every committed input of
// its seed corpus in turn and reports executions per second on one core
// (execs/s; make bench-ratios holds it against its goal) and allocations per
// execution.
func BenchmarkFuzzWorldExecs(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzWorld", "*"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no FuzzWorld corpus: %v", err)
	}
	var inputs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := corpusfile.Raw(f, data)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, raw)
	}
	b.ReportAllocs()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		if problems := Check(inputs[n%len(inputs)]); len(problems) > 0 {
			b.Fatalf("%s: %v", files[n%len(inputs)], problems)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "execs/s")
}
