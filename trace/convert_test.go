package trace

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConvert pins the scenario text Convert writes for the spec example.
func TestConvert(t *testing.T) {
	data, err := os.ReadFile("testdata/conforming/spec-example.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := Convert(bytes.NewReader(data), &got); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/convert/spec-example.txt"
	if *update {
		os.MkdirAll("testdata/convert", 0o755)
		os.WriteFile(golden, got.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got.String()); d != "" {
		t.Errorf("Convert mismatch (-want +got):\n%s", d)
	}
	if err := Convert(strings.NewReader("{\"wsktrace\":2}\n"), &got); err == nil {
		t.Error("Convert of a bad trace: no error")
	}
}
