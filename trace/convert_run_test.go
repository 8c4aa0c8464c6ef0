package trace_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/trace"
)

// TestConvertRuns converts every conforming testdata trace into a scenario,
// runs it with package scenarios and replays the trace the run writes: the
// run must record no violation and its trace must conform, the verdict of
// the original. Traces of callout drivers are left out: no scenario command
// replays a recorded classifyFn (their FWPS calls are kept as comments).
func TestConvertRuns(t *testing.T) {
	files, _ := filepath.Glob("testdata/conforming/*.jsonl")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		if strings.HasPrefix(name, "fwps-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var scn bytes.Buffer
			if err := trace.Convert(bytes.NewReader(data), &scn); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := scenarios.Run(name+".txt", bytes.NewReader(scn.Bytes()), scenarios.Options{Seed: 1, Trace: &out})
			if err != nil {
				t.Fatalf("scenarios.Run: %v\nscenario:\n%s", err, scn.String())
			}
			if len(res.Violations) > 0 {
				t.Fatalf("the converted scenario broke rules: %v\nscenario:\n%s\ntranscript:\n%s", res.Violations, scn.String(), res.Transcript())
			}
			rep, _ := trace.Replay(bytes.NewReader(out.Bytes()), trace.Options{})
			if rep.Verdict != trace.Conforms {
				var b bytes.Buffer
				rep.WriteText(&b)
				t.Fatalf("the scenario's trace does not conform:\n%s\nscenario:\n%s\ntranscript:\n%s", b.String(), scn.String(), res.Transcript())
			}
		})
	}
}
