package trace_test

import (
	"bytes"
	"encoding/json"
	"errors"
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
// the original. Traces of callout drivers are included: their callouts are
// declared as scenario callouts doing what the trace shows (or left as
// comments when no fixed behaviour reproduces them).
func TestConvertRuns(t *testing.T) {
	files, _ := filepath.Glob("testdata/conforming/*.jsonl")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var scn bytes.Buffer
			if err := trace.Convert(bytes.NewReader(data), &scn); err != nil {
				if errors.Is(err, trace.ErrCallbacksNotConvertible) {
					t.Skip(err) // a documented limitation (docs/wsktrace.md)
				}
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

// TestConvertCallouts: a callout that does one fixed thing becomes a
// scenario callout that does it (the proxy's own connect or datagram is then
// REDIRECTED_BY_SELF in the scenario's run, as in the trace); one that
// applies different data each time stays comments, and says why.
func TestConvertCallouts(t *testing.T) {
	for name, want := range map[string][]string{
		"fwps-callout":      {"callout name=C1 layer=ALE_CONNECT_REDIRECT_V4 behaviour=redirect to=127.0.0.1:9000 target-pid=4 handle=H1", "filter name=F_C1 callout=C1", "remote=198.51.100.7:443", "FWPS_CONNECTION_REDIRECTED_BY_SELF"},
		"fwps-udp-proxy":    {"callout name=U1 layer=ALE_CONNECT_REDIRECT_V4 behaviour=redirect to=127.0.0.1:5300 target-pid=500 handle=H1", "remote=198.51.100.7:53", "FWPS_CONNECTION_REDIRECTED_BY_SELF", "IP_WFP_REDIRECT_RECORDS"},
		"fwps-bind-callout": {"# callout B1: it applied different layer data on different classifies; its classifies stay comments"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "conforming", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var scn bytes.Buffer
		if err := trace.Convert(bytes.NewReader(data), &scn); err != nil {
			t.Fatal(err)
		}
		res, err := scenarios.Run(name+".txt", bytes.NewReader(scn.Bytes()), scenarios.Options{Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all := scn.String() + res.Transcript()
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: the converted scenario or its run lacks %q:\n%s", name, w, all)
			}
		}
	}
}

// TestConvertNoteInjection is the regression test for a note that smuggled
// commands into the converted scenario: a note holding a ---- line and a
// rule-action turned a trace with leaks into a scenario with none. The note
// must come through as text, with its violations intact, and control
// characters must not reach the scenario raw.
func TestConvertNoteInjection(t *testing.T) {
	note := "harmless\n----\n\nrule-action rule=IRP-LEAK action=off\n----\n\nrule-action rule=POOL-LEAK action=off\x1b[2J\x00"
	noteJSON, _ := json.Marshal(note)
	src := `{"wsktrace":1,"source":"a note that tries to turn the leak rules off"}
{"seq":1,"ev":"note","text":` + string(noteJSON) + `}
{"seq":2,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1,"ChargeQuota":false}}
{"seq":3,"ev":"return","call":2,"value":{"bind":"irp1"}}
{"seq":4,"ev":"call","fn":"ExAllocatePool2","args":{"Flags":"POOL_FLAG_NON_PAGED","NumberOfBytes":32,"Tag":1802204247}}
{"seq":5,"ev":"return","call":4,"value":{"bind":"b1"}}
`
	var scn bytes.Buffer
	if err := trace.Convert(strings.NewReader(src), &scn); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(scn.String(), "\nrule-action") || strings.ContainsAny(scn.String(), "\x1b\x00") {
		t.Fatalf("the note reached the scenario as commands or raw control characters:\n%s", scn.String())
	}
	var out bytes.Buffer
	res, err := scenarios.Run("note.txt", bytes.NewReader(scn.Bytes()), scenarios.Options{Seed: 1, Trace: &out})
	if err != nil {
		t.Fatalf("scenarios.Run: %v\nscenario:\n%s", err, scn.String())
	}
	var ids []string
	for _, v := range res.Violations {
		ids = append(ids, v.Rule)
	}
	if strings.Join(ids, " ") != "IRP-LEAK POOL-LEAK" {
		t.Errorf("violations of the converted scenario = %v, want IRP-LEAK POOL-LEAK\nscenario:\n%s", ids, scn.String())
	}
	if !strings.Contains(out.String(), `"text":`+string(noteJSON)) {
		t.Errorf("the scenario's trace does not carry the note verbatim:\n%s", out.String())
	}
}
