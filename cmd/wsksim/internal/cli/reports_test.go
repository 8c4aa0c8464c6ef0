package cli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// junitSchema is the subset of the Jenkins/Ant junit.xsd
// (jenkinsci/xunit-plugin, src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd)
// that CI readers accept: for each element, its allowed attributes (true:
// required) and allowed children. validateJUnit checks a document against
// it, and that the counts agree with the test cases: no network is needed.
var junitSchema = map[string]struct {
	attrs    map[string]bool
	children []string
	text     bool
}{
	"testsuites": {map[string]bool{"name": false, "time": false, "tests": false, "failures": false, "disabled": false, "errors": false}, []string{"testsuite"}, false},
	"testsuite": {map[string]bool{"name": true, "tests": true, "failures": false, "errors": false, "time": false, "disabled": false, "skipped": false,
		"timestamp": false, "hostname": false, "id": false, "package": false, "file": false, "log": false, "url": false, "version": false},
		[]string{"properties", "testcase", "system-out", "system-err"}, false},
	"properties": {map[string]bool{}, []string{"property"}, false},
	"property":   {map[string]bool{"name": true, "value": true}, nil, false},
	"testcase": {map[string]bool{"name": true, "assertions": false, "time": false, "classname": false, "status": false, "file": false, "line": false, "log": false, "url": false},
		[]string{"skipped", "error", "failure", "system-out", "system-err"}, false},
	"skipped":    {map[string]bool{"message": false}, nil, true},
	"error":      {map[string]bool{"message": false, "type": false}, nil, true},
	"failure":    {map[string]bool{"message": false, "type": false}, nil, true},
	"system-out": {map[string]bool{}, nil, true},
	"system-err": {map[string]bool{}, nil, true},
}

var junitNumeric = map[string]bool{"tests": true, "failures": true, "errors": true, "skipped": true, "disabled": true, "time": true, "assertions": true}

type xnode struct {
	name     string
	attrs    map[string]string
	children []*xnode
	text     string
}

func parseXML(data []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*xnode
	var root *xnode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("two root elements")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

func validateJUnit(data []byte) error {
	root, err := parseXML(data)
	if err != nil {
		return err
	}
	if root.name != "testsuites" {
		return fmt.Errorf("root is <%s>, want <testsuites>", root.name)
	}
	var check func(n *xnode) error
	check = func(n *xnode) error {
		sch, ok := junitSchema[n.name]
		if !ok {
			return fmt.Errorf("element <%s> is not in junit.xsd", n.name)
		}
		for a, req := range sch.attrs {
			if _, has := n.attrs[a]; req && !has {
				return fmt.Errorf("<%s> lacks required attribute %s", n.name, a)
			}
		}
		for a, v := range n.attrs {
			if _, ok := sch.attrs[a]; !ok {
				return fmt.Errorf("<%s> has attribute %s, not in junit.xsd", n.name, a)
			}
			if junitNumeric[a] {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					return fmt.Errorf("<%s %s=%q>: not a number", n.name, a, v)
				}
			}
		}
		if !sch.text && strings.TrimSpace(n.text) != "" {
			return fmt.Errorf("<%s> has text content", n.name)
		}
		for _, c := range n.children {
			allowed := false
			for _, a := range sch.children {
				allowed = allowed || a == c.name
			}
			if !allowed {
				return fmt.Errorf("<%s> inside <%s> is not allowed by junit.xsd", c.name, n.name)
			}
			if err := check(c); err != nil {
				return err
			}
		}
		if n.name == "testsuite" {
			var tests, failures, errors int
			for _, c := range n.children {
				if c.name != "testcase" {
					continue
				}
				tests++
				for _, p := range c.children {
					switch p.name {
					case "failure":
						failures++
					case "error":
						errors++
					}
				}
			}
			for a, want := range map[string]int{"tests": tests, "failures": failures, "errors": errors} {
				if v, ok := n.attrs[a]; ok && v != strconv.Itoa(want) {
					return fmt.Errorf("<testsuite %s=%q> but it holds %d", a, v, want)
				}
			}
		}
		return nil
	}
	return check(root)
}

// SARIF 2.1.0, as Go types that mirror the schema's properties for the
// objects wsksim writes; decoding with DisallowUnknownFields rejects any
// property the schema does not define for them, and checkSARIF checks the
// required ones and the enums (sarif-schema-2.1.0.json, OASIS).
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				Version        string `json:"version"`
				InformationURI string `json:"informationUri"`
				Rules          []struct {
					ID               string `json:"id"`
					ShortDescription *struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
					HelpURI string `json:"helpUri"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex *int   `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine   int `json:"startLine"`
						StartColumn int `json:"startColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

func checkSARIF(data []byte) (*sarifDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d sarifDoc
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	for _, k := range []string{"version", "$schema", "runs"} {
		if _, ok := raw[k]; !ok {
			return nil, fmt.Errorf("missing required property %s", k)
		}
	}
	if d.Version != "2.1.0" {
		return nil, fmt.Errorf("version %q, want 2.1.0", d.Version)
	}
	if !strings.Contains(d.Schema, "sarif") || !strings.Contains(d.Schema, "2.1.0") {
		return nil, fmt.Errorf("$schema %q", d.Schema)
	}
	if len(d.Runs) == 0 {
		return nil, fmt.Errorf("no runs")
	}
	for _, r := range d.Runs {
		if r.Tool.Driver.Name == "" {
			return nil, fmt.Errorf("runs[].tool.driver.name is empty")
		}
		for k, res := range r.Results {
			switch res.Level {
			case "none", "note", "warning", "error":
			default:
				return nil, fmt.Errorf("results[%d].level %q not in the enum", k, res.Level)
			}
			if res.RuleID == "" || res.Message.Text == "" {
				return nil, fmt.Errorf("results[%d]: ruleId %q, message.text %q", k, res.RuleID, res.Message.Text)
			}
			if res.RuleIndex != nil && (*res.RuleIndex < 0 || *res.RuleIndex >= len(r.Tool.Driver.Rules) || r.Tool.Driver.Rules[*res.RuleIndex].ID != res.RuleID) {
				return nil, fmt.Errorf("results[%d].ruleIndex %d does not name rule %s", k, *res.RuleIndex, res.RuleID)
			}
			if len(res.Locations) == 0 {
				return nil, fmt.Errorf("results[%d] has no location", k)
			}
			for _, l := range res.Locations {
				if l.PhysicalLocation.ArtifactLocation.URI == "" || l.PhysicalLocation.Region == nil || l.PhysicalLocation.Region.StartLine < 1 {
					return nil, fmt.Errorf("results[%d]: location %+v", k, l)
				}
			}
		}
	}
	return &d, nil
}

// TestJUnitValidates writes JUnit reports from run (passing, failing and
// unusable files) and replay (every verdict) and validates each against
// the junit.xsd subset.
func TestJUnitValidates(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.txt", "alloc-irp stak=1\n----\n")
	unp := writeFile(t, dir, "u.txt", unpinned)
	for _, c := range []struct {
		args          []string
		exit          int
		tests, failed int
	}{
		{[]string{"run", "world/pin.txt", "irp/cancel.txt"}, 0, 2, 0},
		{[]string{"run", "--seeds", "5", unp}, 1, 0, 1},
		{[]string{"run", bad, "world/pin.txt"}, 2, 2, 1},
	} {
		rep := filepath.Join(dir, "junit.xml")
		out, errs, code := run(t, append(c.args, "--junit", rep)...)
		if code != c.exit {
			t.Fatalf("%q: exit %d\n%s%s", c.args, code, out, errs)
		}
		data, err := os.ReadFile(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJUnit(data); err != nil {
			t.Errorf("%q: invalid JUnit: %v\n%s", c.args, err, data)
		}
		if c.tests > 0 && !strings.Contains(string(data), fmt.Sprintf(`tests="%d"`, c.tests)) {
			t.Errorf("%q: want %d tests:\n%s", c.args, c.tests, data)
		}
		if c.failed > 0 && !strings.Contains(string(data), "<failure") && !strings.Contains(string(data), "<error") {
			t.Errorf("%q: no failure:\n%s", c.args, data)
		}
	}
	for _, c := range []struct {
		file, elem string
		exit       int
	}{
		{"conforming/spec-example.jsonl", "<system-out>", 0},
		{"diverging/wsk-bind-in-use.jsonl", `<failure message="line `, 1},
		{"malformed/bad-json.jsonl", `<error message="line `, 2},
		{"violating/wsk-proxy-loop.jsonl", `type="violations"`, 3},
	} {
		rep := filepath.Join(dir, "r.xml")
		if _, errs, code := run(t, "replay", "--junit", rep, filepath.Join(traceData, c.file)); code != c.exit {
			t.Fatalf("replay %s: exit %d %s", c.file, code, errs)
		}
		data, _ := os.ReadFile(rep)
		if err := validateJUnit(data); err != nil {
			t.Errorf("replay %s: invalid JUnit: %v\n%s", c.file, err, data)
		}
		if !strings.Contains(string(data), c.elem) {
			t.Errorf("replay %s: JUnit lacks %s:\n%s", c.file, c.elem, data)
		}
	}
	// The validator itself rejects what junit.xsd rejects.
	for _, bad := range []string{
		`<testsuite name="x" tests="1"/>`,
		`<testsuites><testsuite tests="0"/></testsuites>`,
		`<testsuites><testsuite name="x" tests="1"><testcase classname="c"/></testsuite></testsuites>`,
		`<testsuites><testsuite name="x" tests="1"><testcase name="a" result="x"/></testsuite></testsuites>`,
		`<testsuites><testsuite name="x" tests="2"><testcase name="a"/></testsuite></testsuites>`,
		`<testsuites><testsuite name="x" tests="1"><testcase name="a"><fail/></testcase></testsuite></testsuites>`,
		`<testsuites><testsuite name="x" tests="one"></testsuite></testsuites>`,
	} {
		if validateJUnit([]byte(bad)) == nil {
			t.Errorf("validator accepted %s", bad)
		}
	}
}

// TestSARIFValidates writes SARIF for every replay verdict, checks it
// against SARIF 2.1.0 and that each result points at the trace line the
// text report names.
func TestSARIFValidates(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file    string
		exit    int
		results int
		rule    string
	}{
		{"conforming/spec-example.jsonl", 0, 0, ""},
		{"diverging/wsk-bind-in-use.jsonl", 1, 1, sarifDiverges},
		{"malformed/bad-json.jsonl", 2, 1, sarifUnusable},
		{"violating/wsk-proxy-loop.jsonl", 3, -1, "WFP-PROXY-LOOP"},
	} {
		rep := filepath.Join(dir, "r.sarif")
		path := filepath.Join(traceData, c.file)
		out, errs, code := run(t, "replay", "--json", "--sarif", rep, path)
		if code != c.exit {
			t.Fatalf("replay %s: exit %d %s", c.file, code, errs)
		}
		data, _ := os.ReadFile(rep)
		d, err := checkSARIF(data)
		if err != nil {
			t.Errorf("replay %s: invalid SARIF: %v\n%s", c.file, err, data)
			continue
		}
		res := d.Runs[0].Results
		if c.results >= 0 && len(res) != c.results || c.results < 0 && len(res) == 0 {
			t.Errorf("replay %s: %d results\n%s", c.file, len(res), data)
			continue
		}
		if c.rule == "" {
			continue
		}
		var rep2 struct {
			Divergence *struct{ Line int }
			Violations []struct {
				Rule string
				Line int
			}
			Error *struct{ Line int }
		}
		json.Unmarshal([]byte(out), &rep2)
		found := false
		for _, r := range res {
			loc := r.Locations[0].PhysicalLocation
			if loc.ArtifactLocation.URI != path {
				t.Errorf("replay %s: uri %q, want %q", c.file, loc.ArtifactLocation.URI, path)
			}
			if r.RuleID != c.rule {
				continue
			}
			found = true
			want := 0
			switch {
			case c.rule == sarifDiverges:
				want = rep2.Divergence.Line
			case c.rule == sarifUnusable:
				want = rep2.Error.Line
			default:
				for _, v := range rep2.Violations {
					if v.Rule == c.rule {
						want = v.Line
						break
					}
				}
			}
			if want > 0 && loc.Region.StartLine != want {
				t.Errorf("replay %s: %s at line %d, report says %d", c.file, c.rule, loc.Region.StartLine, want)
			}
		}
		if !found {
			t.Errorf("replay %s: no %s result\n%s", c.file, c.rule, data)
		}
	}
	for _, bad := range []string{
		`{"version":"2.1.0","runs":[]}`,
		`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"R","level":"fatal","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":1}}}]}]}]}`,
		`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"R","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":0}}}]}]}]}`,
		`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","colour":1}},"results":[]}]}`,
		`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":""}},"results":[]}]}`,
	} {
		if _, err := checkSARIF([]byte(bad)); err == nil {
			t.Errorf("checker accepted %s", bad)
		}
	}
}

// TestJSONDoesNotEscapeHTML: run --json and replay --json print > as >.
func TestJSONDoesNotEscapeHTML(t *testing.T) {
	p := writeFile(t, t.TempDir(), "u.txt", unpinned)
	out, _, _ := run(t, "run", "--json", "--seeds", "10", p)
	if strings.Contains(out, `\u003e`) || !strings.Contains(out, "->") {
		t.Errorf("run --json escapes >:\n%s", out)
	}
}
