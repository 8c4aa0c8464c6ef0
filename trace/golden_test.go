package trace

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden report files under testdata/")

// wantVerdict is the verdict every trace in a testdata directory must get.
var wantVerdict = map[string]Verdict{
	"conforming": Conforms,
	"diverging":  Diverges,
	"violating":  Violations,
	"malformed":  Unusable,
}

// TestGolden replays every trace under testdata/{conforming,diverging,
// violating,malformed}, checks the verdict its directory promises, and
// compares the text and JSON reports with NAME.golden (-update rewrites them).
func TestGolden(t *testing.T) {
	n := 0
	for dir, want := range wantVerdict {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			n++
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(f), ".jsonl"), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Replay(bytes.NewReader(data), Options{})
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := rep.WriteText(&got); err != nil {
					t.Fatal(err)
				}
				got.WriteString("---- json\n")
				if err := rep.WriteJSON(&got); err != nil {
					t.Fatal(err)
				}
				golden := strings.TrimSuffix(f, ".jsonl") + ".golden"
				if *update {
					if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				wantText, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./trace -run TestGolden -update)", err)
				}
				if d := cmp.Diff(string(wantText), got.String()); d != "" {
					t.Errorf("Replay(%s) report mismatch (-want +got):\n%s", f, d)
				}
				if rep.Verdict != want {
					t.Errorf("Replay(%s) verdict = %v, want %v\n%s", f, rep.Verdict, want, got.String())
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no traces under testdata")
	}
}
