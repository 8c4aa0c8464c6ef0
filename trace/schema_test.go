package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsksim/wsksim/nt"
)

const schemaFile = "../docs/wsktrace.schema.json"

func TestConstantNames(t *testing.T) {
	for _, n := range nt.ConstantNames() {
		if _, ok := nt.LookupConstant(n); !ok {
			t.Errorf("nt.LookupConstant(%q) = false", n)
		}
	}
}

// TestSchemaFile keeps docs/wsktrace.schema.json equal to Schema().
func TestSchemaFile(t *testing.T) {
	got := Schema()
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (go test ./trace -run TestSchemaFile -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Fatalf("docs/wsktrace.schema.json is stale (-file +Schema()); run go test ./trace -run TestSchemaFile -update:\n%s", d)
	}
}

// ---- a small validator for the keywords the schema uses ----

type validator struct{ root map[string]any }

func loadSchema(t *testing.T) *validator {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	return &validator{root: root}
}

var knownKeywords = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true, "$ref": true,
	"type": true, "const": true, "enum": true, "properties": true, "required": true, "additionalProperties": true,
	"oneOf": true, "anyOf": true, "allOf": true, "not": true, "pattern": true, "minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"items": true, "maxItems": true}

func (v *validator) def(name string) map[string]any {
	return v.root["$defs"].(map[string]any)[name].(map[string]any)
}

var reCache = map[string]*regexp.Regexp{}

func num(x any) (*big.Float, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return nil, false
	}
	f, _, err := big.ParseFloat(string(n), 10, 200, big.ToNearestEven)
	return f, err == nil
}

func typeOK(t string, x any) bool {
	switch t {
	case "null":
		return x == nil
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "number":
		_, ok := num(x)
		return ok
	case "integer":
		f, ok := num(x)
		return ok && f.IsInt()
	}
	panic("unknown type " + t)
}

func jsonEqual(a, b any) bool {
	fa, oka := num(a)
	fb, okb := num(b)
	if oka && okb {
		return fa.Cmp(fb) == 0
	}
	if oka || okb {
		// const 1 in the schema decodes as json.Number too.
		return false
	}
	return fmt.Sprint(a) == fmt.Sprint(b) && fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func (v *validator) valid(s map[string]any, x any) bool {
	for k := range s {
		if !knownKeywords[k] {
			panic("validator: unsupported keyword " + k)
		}
	}
	if r, ok := s["$ref"].(string); ok {
		if !v.valid(v.def(strings.TrimPrefix(r, "#/$defs/")), x) {
			return false
		}
	}
	if t, ok := s["type"]; ok {
		match := false
		switch t := t.(type) {
		case string:
			match = typeOK(t, x)
		case []any:
			for _, e := range t {
				match = match || typeOK(e.(string), x)
			}
		}
		if !match {
			return false
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, x) {
		return false
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, c := range e {
			found = found || jsonEqual(c, x)
		}
		if !found {
			return false
		}
	}
	if str, ok := x.(string); ok {
		if p, ok := s["pattern"].(string); ok {
			re := reCache[p]
			if re == nil {
				re = regexp.MustCompile(p)
				reCache[p] = re
			}
			if !re.MatchString(str) {
				return false
			}
		}
		n := len([]rune(str))
		if m, ok := num(s["minLength"]); ok && big.NewFloat(float64(n)).Cmp(m) < 0 {
			return false
		}
		if m, ok := num(s["maxLength"]); ok && big.NewFloat(float64(n)).Cmp(m) > 0 {
			return false
		}
	}
	if f, ok := num(x); ok {
		if m, ok := num(s["minimum"]); ok && f.Cmp(m) < 0 {
			return false
		}
		if m, ok := num(s["maximum"]); ok && f.Cmp(m) > 0 {
			return false
		}
	}
	if a, ok := x.([]any); ok {
		if m, ok := num(s["maxItems"]); ok && big.NewFloat(float64(len(a))).Cmp(m) > 0 {
			return false
		}
		if it, ok := s["items"].(map[string]any); ok {
			for _, e := range a {
				if !v.valid(it, e) {
					return false
				}
			}
		}
	}
	if o, ok := x.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for k, val := range o {
			if ps, ok := props[k]; ok {
				if !v.valid(ps.(map[string]any), val) {
					return false
				}
			} else if ap, ok := s["additionalProperties"]; ok {
				if b, isBool := ap.(bool); isBool && !b {
					return false
				}
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := o[r.(string)]; !ok {
					return false
				}
			}
		}
	}
	if l, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, e := range l {
			if v.valid(e.(map[string]any), x) {
				n++
			}
		}
		if n != 1 {
			return false
		}
	}
	if l, ok := s["anyOf"].([]any); ok {
		matched := false
		for _, e := range l {
			if v.valid(e.(map[string]any), x) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	if l, ok := s["allOf"].([]any); ok {
		for _, e := range l {
			if !v.valid(e.(map[string]any), x) {
				return false
			}
		}
	}
	if n, ok := s["not"].(map[string]any); ok && v.valid(n, x) {
		return false
	}
	return true
}

// line validates one trace line against $defs/header or $defs/event.
func (v *validator) line(def string, line []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return false
	}
	if dec.More() {
		return false
	}
	return v.valid(v.def(def), x)
}

// TestSchemaAcceptsTestdata validates every line of every trace in testdata
// that the parser accepts against the schema.
func TestSchemaAcceptsTestdata(t *testing.T) {
	v := loadSchema(t)
	files, _ := filepath.Glob("testdata/*/*.jsonl")
	files2, _ := filepath.Glob("testdata/fuzz/seeds/*.jsonl")
	for _, f := range append(files, files2...) {
		if strings.Contains(f, "malformed") {
			continue
		}
		data, _ := os.ReadFile(f)
		first := true
		for i, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			def := "event"
			if first {
				def, first = "header", false
			}
			if !v.line(def, l) {
				t.Errorf("%s:%d: schema rejects a line the parser accepts: %s", f, i+1, l)
			}
		}
	}
}

// TestSchemaAgreesWithParser checks, for lines valid and invalid, that the
// parser accepts a line exactly when the schema does. Each sample is a line
// after a fixed context that binds irp1, b1, s1, reg1, rec1 and opens call 20.
func TestSchemaAgreesWithParser(t *testing.T) {
	v := loadSchema(t)
	ctx := `{"wsktrace":1,"source":"schema agreement"}
{"seq":1,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1,"ChargeQuota":false}}
{"seq":2,"ev":"return","call":1,"value":{"bind":"irp1"}}
{"seq":3,"ev":"call","fn":"ExAllocatePool2","args":{"Flags":64,"NumberOfBytes":64,"Tag":1}}
{"seq":4,"ev":"return","call":3,"value":{"bind":"b1"}}
{"seq":5,"ev":"call","fn":"WskRegister","args":{"WskClientNpi":{"Version":"1.0"},"WskRegistration":{"bind":"reg1"}}}
{"seq":6,"ev":"return","call":5,"status":"STATUS_SUCCESS"}
{"seq":7,"ev":"call","fn":"WskSocket","args":{"Client":null,"Irp":"irp1"}}
{"seq":8,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","information":{"bind":"s1"}}
{"seq":9,"ev":"return","call":7,"status":"STATUS_SUCCESS"}
{"seq":10,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","Irp":"irp1"}}
{"seq":11,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","information":4,"out":{"OutputBuffer":{"bind":"rec1"}}}
{"seq":12,"ev":"return","call":10,"status":"STATUS_SUCCESS"}
{"seq":20,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","Irp":"irp1"}}
`
	samples := []struct {
		line string
		ok   bool
	}{
		{`{"seq":21,"ev":"return","call":20,"status":"STATUS_PENDING"}`, true},
		{`{"seq":21,"ev":"return","call":20,"status":"0xC0000095"}`, true},
		{`{"seq":21,"ev":"return","call":20,"status":"STATUS_FINE"}`, false},
		{`{"seq":21,"ev":"return","call":20,"status":"0x1C0000095"}`, false},
		{`{"seq":21,"ev":"return","call":20,"status":3221225621}`, true},
		{`{"seq":21,"ev":"return","call":20,"status":"STATUS_SUCCESS","extra":1}`, false},
		{`{"seq":21,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","information":0}`, true},
		{`{"seq":21,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","information":"0x10","pending_returned":true,"routine_returned":"STATUS_SUCCESS","irql":"DISPATCH_LEVEL"}`, true},
		{`{"seq":21,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","pending_returned":1}`, false},
		{`{"seq":21,"ev":"complete","irp":"irp1"}`, false},
		{`{"seq":21,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","irql":"HIGH_LEVEL"}`, false},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":"0xFFFFFFFFFFFFFFFF","ChargeQuota":true}}`, true},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1e3}}`, true},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1.5}}`, false},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":18446744073709551616}}`, false},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":-1}}`, true},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"StakSize":1}}`, false},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrpEx","args":{}}`, false},
		{`{"seq":21,"ev":"call","fn":"IoAllocateIrp","args":{"ChargeQuota":"yes"}}`, false},
		{`{"seq":21,"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp1"},"irql":"DISPATCH_LEVEL"}`, true},
		{`{"seq":21,"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp1"},"irq":"DISPATCH_LEVEL"}`, false},
		{`{"seq":21,"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp 1"}}`, false},
		{`{"seq":21,"ev":"call","fn":"ExAllocatePool2","args":{"Flags":"POOL_FLAG_NON_PAGED|POOL_FLAG_UNINITIALIZED","NumberOfBytes":"0x10","Tag":"WSK_FLAG_LISTEN_SOCKET"}}`, true},
		{`{"seq":21,"ev":"call","fn":"ExAllocatePool2","args":{"Flags":"POOL_FLAG_SPARKLY"}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","RequestType":"WskIoctl","ControlCode":"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS","InputBuffer":{"ref":"rec1","pool":"b1"},"OutputSizeReturned":null,"Irp":null}}`, true},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"hex":"c0ffee"}}}`, true},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"hex":"c0ffe"}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"b64":"wP/u"}}}`, true},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"b64":"wP/"}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"len":1e18}}}`, true},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"len":-1}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"len":1,"hex":"00"}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"pool":"b1"}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","InputBuffer":{"len":1,"size":1}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskControlSocket","args":{"Socket":"s1","OutputSizeReturned":false}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskBind","args":{"Socket":"s1","LocalAddress":"[::1]:443","Irp":"irp1"}}`, true},
		{`{"seq":21,"ev":"call","fn":"WskBind","args":{"Socket":"s1","LocalAddress":"127.0.0.1","Irp":"irp1"}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskRegister","args":{"WskClientNpi":{"Version":"1.0","Bogus":1},"WskRegistration":{"bind":"reg2"}}}`, false},
		{`{"seq":21,"ev":"call","fn":"WskRegister","args":{"WskClientNpi":{"Version":"1.0"},"WskRegistration":"reg2"}}`, false},
		{`{"seq":21,"ev":"call","fn":"FwpsQueryConnectionRedirectState0","args":{"redirectRecords":null,"redirectHandle":null,"redirectContext":true}}`, true},
		{`{"seq":21,"ev":"env","what":"peer_listen","addr":"127.0.0.1:9000"}`, true},
		{`{"seq":21,"ev":"env","what":"peer_listen"}`, false},
		{`{"seq":21,"ev":"env","what":"peer_listen","addr":null}`, false},
		{`{"seq":21,"ev":"env","what":"peer_connect","to":"127.0.0.1:9000","name":"p1","from":"10.0.0.1:5000"}`, true},
		{`{"seq":21,"ev":"env","what":"redirected_connect","name":"app1","from":"192.0.2.10:50000","original":"198.51.100.7:443","to":"127.0.0.1:9000","handle":"H1","context":{"hex":"c0ffee"},"target_pid":4}`, true},
		{`{"seq":21,"ev":"env","what":"redirect_policy","handle":"H1","match":"198.51.100.7:443","to":"127.0.0.1:9000"}`, true},
		{`{"seq":21,"ev":"env","what":"redirect_policy","handle":"H1","match":"198.51.100.7:443","to":"127.0.0.1:9000","bogus":1}`, false},
		{`{"seq":21,"ev":"env","what":"earthquake"}`, false},
		{`{"seq":21,"ev":"note","text":"hello"}`, true},
		{`{"seq":21,"ev":"note"}`, false},
		{`{"seq":21,"ev":"note","text":7}`, false},
		{`{"seq":0,"ev":"note","text":"x"}`, false},
		{`{"seq":"21","ev":"note","text":"x"}`, false},
		{`{"ev":"note","text":"x"}`, false},
		{`{"seq":21,"ev":"sleep"}`, false},
		{`[1,2]`, false},
		{`{"seq":21,"ev":"note","text":"x"} trailing`, false},
	}
	for _, s := range samples {
		_, _, perr := ParseAll(strings.NewReader(ctx + s.line + "\n"))
		parserOK := perr == nil
		schemaOK := v.line("event", []byte(s.line))
		if parserOK != s.ok || schemaOK != s.ok {
			t.Errorf("line %s: parser accepts=%v (err %v), schema accepts=%v, want %v", s.line, parserOK, perr, schemaOK, s.ok)
		}
	}
	headers := []struct {
		line string
		ok   bool
	}{
		{`{"wsktrace":1}`, true},
		{`{"wsktrace":1,"source":"s","profile":"default","anything":[1]}`, true},
		{`{"wsktrace":2}`, false},
		{`{"source":"s"}`, false},
		{`{"wsktrace":1,"profile":""}`, false},
		{`{"wsktrace":1,"seq":1,"ev":"note"}`, false},
	}
	for _, h := range headers {
		p := NewParser(strings.NewReader(h.line + "\n"))
		_, err := p.Header()
		if (err == nil) != h.ok || v.line("header", []byte(h.line)) != h.ok {
			t.Errorf("header %s: parser err %v, schema %v, want ok=%v", h.line, err, v.line("header", []byte(h.line)), h.ok)
		}
	}
}
