package trace

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedTraces are the fuzz seeds: every committed trace, plus
// testdata/fuzz/seeds/*.jsonl (cut-down traces that reach the replayer's
// inline/pending, cancel and alloc-failure paths).
func seedTraces(f *testing.F) {
	for _, pat := range []string{"testdata/*/*.jsonl", "testdata/fuzz/seeds/*.jsonl"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzParse: the parser never panics, and memory stays bounded by the input
// (a {"len":1e18} buffer is never allocated).
func FuzzParse(f *testing.F) {
	seedTraces(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzScanLines(t, data)
		p := NewParser(bytes.NewReader(data))
		for i := 0; i < 1<<16; i++ {
			_, err := p.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Next returned %T %v, want *Error", err, err)
				}
				return
			}
		}
	})
}

// FuzzReplay: the replayer never panics and always gives one of the four
// verdicts; the pool budget is small so a trace cannot make it allocate much.
func FuzzReplay(f *testing.F) {
	seedTraces(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var rep *Report
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			rep, err = Replay(bytes.NewReader(data), Options{PoolBudget: 1 << 20, MaxViolations: 100, Lookahead: 1024})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Replay did not return within 10s")
		}
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict < Conforms || rep.Verdict > Violations {
			t.Fatalf("verdict %v", rep.Verdict)
		}
		if (rep.Verdict == Unusable) != (rep.Error != nil) {
			t.Fatalf("verdict %v with error %v", rep.Verdict, rep.Error)
		}
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteText(&b); err != nil {
			t.Fatal(err)
		}
	})
}
