package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertCommand converts the spec example to a scenario and rejects a
// malformed trace with exit 2.
func TestConvertCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if got := convertMain([]string{filepath.Join(traceData, "conforming/spec-example.jsonl")}, nil, &out, &errb); got != 0 {
		t.Fatalf("convert = %d\n%s", got, errb.String())
	}
	for _, want := range []string{"wsk-register name=reg1", "redirected-connect name=app1", "wsk-control socket=out1", "wsk-connect socket=out1 remote=198.51.100.7:443"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("converted scenario lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if got := convertMain([]string{"-"}, strings.NewReader("{\"wsktrace\":2}\n"), &out, &errb); got != 2 {
		t.Errorf("convert of a bad trace = %d, want 2", got)
	}
	if got := convertMain(nil, nil, &out, &errb); got != 2 {
		t.Errorf("convert without a file = %d, want 2", got)
	}
}
