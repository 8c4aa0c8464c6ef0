package cli

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/wsksim/wsksim/trace"
)

// JUnit XML in the shape of the Jenkins/Ant junit.xsd that CI systems
// (Jenkins, GitLab, GitHub test reporters, Azure Pipelines) read:
// testsuites > testsuite > testcase > failure|error. Test
// TestJUnitValidates checks every report against that schema's elements
// and attributes.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// xmlText drops the characters XML 1.0 cannot carry at all (control
// characters other than tab, newline and carriage return).
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r != 0xFFFE && r != 0xFFFF && (r < 0xD800 || r > 0xDFFF) {
			return r
		}
		return '\uFFFD'
	}, s)
}

func (s *junitSuites) add(c junitCase) {
	su := &s.Suites[0]
	su.Tests++
	s.Tests++
	if c.Failure != nil {
		su.Failures++
		s.Failures++
	}
	if c.Error != nil {
		su.Errors++
		s.Errors++
	}
	su.Cases = append(su.Cases, c)
}

func (s *junitSuites) write(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func newJUnit(name string) *junitSuites {
	return &junitSuites{Name: name, Suites: []junitSuite{{Name: name, Time: "0"}}}
}

// replayJUnit writes one test case for the trace: passed when it conforms,
// a failure when it diverges or the driver broke rules, an error when the
// trace is unusable. The text report is the case's body.
func replayJUnit(w io.Writer, uri string, rep *trace.Report) error {
	var text strings.Builder
	rep.WriteText(&text)
	s := newJUnit("wsksim replay")
	c := junitCase{Name: uri, Classname: "wsksim.replay", Time: "0"}
	body := xmlText(text.String())
	switch rep.Verdict {
	case trace.Conforms:
		c.SystemOut = body
	case trace.Unusable:
		msg := "unusable trace"
		if rep.Error != nil {
			msg = fmt.Sprintf("line %d, column %d: %s", rep.Error.Line, rep.Error.Column, rep.Error.Msg)
		}
		c.Error = &junitProblem{Message: xmlText(msg), Type: "unusable", Text: body}
	case trace.Diverges:
		msg := "diverges"
		if d := rep.Divergence; d != nil {
			msg = fmt.Sprintf("line %d: %s: observed %s, model allows %s", d.Line, d.Call, d.Observed, d.Allowed)
		}
		c.Failure = &junitProblem{Message: xmlText(msg), Type: "diverges", Text: body}
	default:
		var ids []string
		for _, v := range rep.Violations {
			ids = append(ids, v.Rule)
		}
		c.Failure = &junitProblem{Message: xmlText(fmt.Sprintf("%d contract violation(s): %s", len(rep.Violations)+rep.ViolationsOmitted, strings.Join(ids, ", "))), Type: "violations", Text: body}
	}
	s.add(c)
	return s.write(w)
}
