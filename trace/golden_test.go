package trace

import (
	"bytes"
	"flag"
	"fmt"
	"io"
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
				// The same trace from a pipe (not seekable: retries under
				// open policies replay the bytes kept in memory) gives the
				// same report.
				prep, err := Replay(struct{ io.Reader }{bytes.NewReader(data)}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				var piped bytes.Buffer
				prep.WriteText(&piped)
				piped.WriteString("---- json\n")
				prep.WriteJSON(&piped)
				if d := cmp.Diff(got.String(), piped.String()); d != "" {
					t.Errorf("Replay(%s) from a pipe differs from a file (-file +pipe):\n%s", f, d)
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

// TestPipeOverRetryBuffer: a trace from a pipe longer than the bytes kept for
// retries, whose replay needs another option of an open policy, is UNUSABLE
// with a plain reason, never a verdict the same trace from a file would not
// get; under the cap the pipe gives the file's report.
func TestPipeOverRetryBuffer(t *testing.T) {
	data, err := os.ReadFile("testdata/conforming/policy-open-options.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := Replay(bytes.NewReader(data), Options{retryBuffer: 64, retryMemory: 16})
	if file.Verdict != Conforms || len(file.Policies) == 0 {
		t.Fatalf("from a file: verdict %v, policies %v; want conforms after retries", file.Verdict, file.Policies)
	}
	pipe, _ := Replay(struct{ io.Reader }{bytes.NewReader(data)}, Options{retryBuffer: 64, retryMemory: 16})
	if pipe.Verdict != Unusable || pipe.Error == nil || !strings.Contains(pipe.Error.Msg, "from a pipe and is longer than the 64 bytes") || !strings.Contains(pipe.Error.Msg, "replay it from a file") {
		t.Fatalf("from a pipe over the cap: verdict %v, error %v; want unusable saying why", pipe.Verdict, pipe.Error)
	}
	var txt bytes.Buffer
	pipe.WriteText(&txt)
	t.Logf("%s", txt.String())
	// Under the cap, past the memory part: kept in a temporary file, removed
	// when the replay ends.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	under, _ := Replay(struct{ io.Reader }{bytes.NewReader(data)}, Options{retryBuffer: int64(len(data)), retryMemory: 16})
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the replay left %d temporary files behind", len(left))
	}
	if under.Verdict != file.Verdict || fmt.Sprint(under.Policies) != fmt.Sprint(file.Policies) {
		t.Fatalf("from a pipe under the cap: verdict %v policies %v; the file's: %v %v", under.Verdict, under.Policies, file.Verdict, file.Policies)
	}
	// A trace that needs no retry is replayed once, whatever its length.
	data2, err := os.ReadFile("testdata/conforming/wsk-socket-connect.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Replay(bytes.NewReader(data2), Options{})
	b, _ := Replay(struct{ io.Reader }{bytes.NewReader(data2)}, Options{retryBuffer: 64, retryMemory: 16})
	if a.Verdict != b.Verdict || b.Verdict != Conforms {
		t.Fatalf("no retry needed: file %v, pipe over the cap %v", a.Verdict, b.Verdict)
	}
}
