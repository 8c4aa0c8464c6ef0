package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const traceData = "../../../../trace/testdata"

// TestReplayExitCodes runs `wsksim replay` on a trace of each verdict and
// checks the exit code the spec gives it, in text and JSON.
func TestReplayExitCodes(t *testing.T) {
	for _, c := range []struct {
		file string
		exit int
		head string
	}{
		{"conforming/spec-example.jsonl", 0, "CONFORMS"},
		{"diverging/wsk-bind-in-use.jsonl", 1, "DIVERGES"},
		{"malformed/bad-json.jsonl", 2, "UNUSABLE"},
		{"violating/wsk-proxy-loop.jsonl", 3, "VIOLATIONS"},
	} {
		path := filepath.Join(traceData, c.file)
		var out, errb bytes.Buffer
		if got := replayMain([]string{path}, nil, &out, &errb); got != c.exit {
			t.Errorf("replay %s = %d, want %d\n%s%s", c.file, got, c.exit, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), c.head) {
			t.Errorf("replay %s: report lacks %q:\n%s", c.file, c.head, out.String())
		}
		out.Reset()
		if got := replayMain([]string{"--json", path}, nil, &out, &errb); got != c.exit {
			t.Errorf("replay --json %s = %d, want %d", c.file, got, c.exit)
		}
		var j struct {
			Exit int `json:"exit"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil || j.Exit != c.exit {
			t.Errorf("replay --json %s: %v, exit %d\n%s", c.file, err, j.Exit, out.String())
		}
	}
}

// TestReplayStdinProfilePins reads a trace from stdin (-), pins a profile
// and a policy, and rejects bad invocations with exit 2.
func TestReplayStdinProfilePins(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(traceData, "conforming/policy-open-options.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if got := replayMain([]string{"-"}, bytes.NewReader(data), &out, &errb); got != 0 {
		t.Fatalf("replay - = %d, want 0\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "P-SZ0: the trace took option success (model default buffer-too-small)") {
		t.Errorf("report does not say which option of P-SZ0 the trace took:\n%s", out.String())
	}
	out.Reset()
	if got := replayMain([]string{"--profile", "model-defaults", "-"}, bytes.NewReader(data), &out, &errb); got != 1 {
		t.Errorf("replay --profile model-defaults = %d, want 1\n%s", got, out.String())
	}
	out.Reset()
	if got := replayMain([]string{"--pin", "P-SZ0=buffer-too-small", "-"}, bytes.NewReader(data), &out, &errb); got != 1 {
		t.Errorf("replay --pin P-SZ0=buffer-too-small = %d, want 1\n%s", got, out.String())
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"--nosuch", "x"}, {"/no/such/file.jsonl"}, {"--pin", "bad", "-"}, {"--profile", "nosuch", "-"}} {
		out.Reset()
		errb.Reset()
		if got := replayMain(args, bytes.NewReader(data), &out, &errb); got != 2 {
			t.Errorf("replay %q = %d, want 2", args, got)
		}
	}
	out.Reset()
	if got := replayMain([]string{"--help"}, nil, &out, &errb); got != 0 || !strings.Contains(out.String(), "Exit codes") {
		t.Errorf("replay --help = %d\n%s", got, out.String())
	}
}
