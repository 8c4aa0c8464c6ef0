package trace

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// checkScanAgrees holds the fast object scanner to encoding/json's: whatever
// the fast path accepts, the slow path accepts with the same fields and
// positions. (The fast path may decline what the slow path accepts: escaped
// or duplicate keys, deep nesting; those take the slow path.)
func checkScanAgrees(t *testing.T, raw []byte) {
	t.Helper()
	if !utf8.Valid(raw) {
		return // the parser refuses the line before scanning it
	}
	fast, ok := fastScanObject(raw, 1, nil)
	if !ok {
		return
	}
	slow, err := slowScanObject(1, raw, 1)
	if err != nil {
		t.Fatalf("fast scanner accepted %q, encoding/json refuses it: %v", raw, err)
	}
	type f struct {
		Key        string
		KCol, VCol int
		Val        string
	}
	conv := func(fs []field) (out []f) {
		for _, x := range fs {
			out = append(out, f{x.key, x.kcol, x.vcol, string(x.val)})
		}
		return out
	}
	if d := cmp.Diff(conv(slow), conv(fast)); d != "" {
		t.Fatalf("fast and slow scans of %q differ (-slow +fast):\n%s", raw, d)
	}
}

// TestScanObjectFastMatchesSlow runs the differential check on inputs chosen
// at the grammar's edges; FuzzParse runs it on every line it generates.
func TestScanObjectFastMatchesSlow(t *testing.T) {
	accepted := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : -0.5e+3 , "b":[1,{"c":null}],"d":"\u00e9\"x"}`,
		`{"seq":1,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1,"ChargeQuota":false}}`,
		`{"a":"é ü"}`, `{"a":[]}`, `{"a":{}}`, `{"a":true,"b":false,"c":null}`, `{"a":0,"b":10,"c":1E5}`,
	}
	for _, s := range accepted {
		if _, ok := fastScanObject([]byte(s), 1, nil); !ok {
			t.Errorf("fast scanner declined %q", s)
		}
		checkScanAgrees(t, []byte(s))
	}
	declined := []string{
		`{"a":1,}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`, `{"a":+1}`, `{"a":tru}`,
		`{"a":"x` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12G4"}`, `{"a":1}x`, `{"a":1} {}`, `{"a" 1}`,
		`{a:1}`, `{"a":1,"a":2}`, `{"\u0061":1}`, `[1]`, `"x"`, ``, `{`, `{"a":[1,]}`, `{"a":[1 2]}`,
		`{"a":{"b"}}`, `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "{\"a\":1}\f",
	}
	for _, s := range declined {
		if _, ok := fastScanObject([]byte(s), 1, nil); ok {
			t.Errorf("fast scanner accepted %q", s)
		}
		checkScanAgrees(t, []byte(s))
	}
	// What the fast path declines still parses or fails exactly as before.
	if fs, err := scanObject(1, []byte(`{"\u0061":1}`), 1); err != nil || fs[0].key != "a" {
		t.Errorf("escaped key: %v %v", fs, err)
	}
	if _, err := scanObject(1, []byte(`{"a":1,"a":2}`), 1); err == nil || !strings.Contains(err.Msg, `duplicate key "a"`) {
		t.Errorf("duplicate key: %v", err)
	}
}

// BenchmarkScanObject compares the two scanners on a typical event line.
func BenchmarkScanObject(b *testing.B) {
	line := []byte(`{"seq":123,"ev":"call","fn":"WskReceive","args":{"Socket":"s","Buffer":{"len":64,"pool":"b7"},"Flags":0,"Irp":"irp"}}`)
	for _, c := range []struct {
		name string
		fn   func() bool
	}{
		{"fast", func() bool { _, ok := fastScanObject(line, 1, nil); return ok }},
		{"encoding-json", func() bool { _, err := slowScanObject(1, line, 1); return err == nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if !c.fn() {
					b.Fatal("scan failed")
				}
			}
		})
	}
}

func fuzzScanLines(t *testing.T, data []byte) {
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		checkScanAgrees(t, line)
	}
}
