package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Verdict is the outcome of a replay; its value is the exit code of
// `wsksim replay`.
type Verdict int

// Verdicts.
const (
	Conforms   Verdict = 0 // every outcome allowed, no rule broken
	Diverges   Verdict = 1 // an observed outcome the model does not allow
	Unusable   Verdict = 2 // the trace cannot be used
	Violations Verdict = 3 // conforms, but the driver broke contract rules
)

func (v Verdict) String() string {
	switch v {
	case Conforms:
		return "conforms"
	case Diverges:
		return "diverges"
	case Unusable:
		return "unusable"
	case Violations:
		return "violations"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// ExitCode returns the process exit code for the verdict.
func (v Verdict) ExitCode() int { return int(v) }

// Divergence is the first observed outcome the model does not allow.
type Divergence struct {
	Seq      uint64 `json:"seq"`              // the event that shows the outcome
	Line     int    `json:"line"`             // its line
	Call     string `json:"call"`             // the function, and the seq of its call: "WskBind (seq 13)"
	Observed string `json:"observed"`         // what the trace shows
	Allowed  string `json:"allowed"`          // what the model allows in that state
	Rule     string `json:"rule"`             // the rule or document behind it
	Detail   string `json:"detail,omitempty"` // more context
	// Policies the model read for the divergent call, with the option in
	// force ("P-SZ0=buffer-too-small (pinned)"); the replay tried the others
	// of those not pinned.
	Policies []string `json:"policies,omitempty"`
}

// ViolationReport is one contract rule the driver broke.
type ViolationReport struct {
	Rule string `json:"rule"`
	// Seq and Line: the trace event being replayed when it was found; for
	// one found at the end of the trace (AtEnd: a leak), the event that
	// created the object it is about (0 when the trace never named it).
	Seq      uint64   `json:"seq"`
	Line     int      `json:"line"`
	AtEnd    bool     `json:"at_end,omitempty"`
	Call     string   `json:"call,omitempty"`
	Objects  []string `json:"objects,omitempty"`
	Detail   string   `json:"detail"`
	BugCheck string   `json:"bug_check,omitempty"`
}

// ChoiceTaken counts how often the trace took one option of a choice point or
// policy the contract leaves open.
type ChoiceTaken struct {
	Point  string `json:"point"`
	Option string `json:"option"`
	Count  int    `json:"count"`
}

// Report is the result of Replay.
type Report struct {
	Verdict           Verdict           `json:"-"`
	Source            string            `json:"source"`
	Profile           string            `json:"profile"`
	Events            int               `json:"events"`
	Error             *Error            `json:"-"`
	Divergence        *Divergence       `json:"divergence,omitempty"`
	Violations        []ViolationReport `json:"violations"`
	ViolationsOmitted int               `json:"violations_omitted,omitempty"`
	Choices           []ChoiceTaken     `json:"choices"`
	Policies          []PolicyTaken     `json:"policies,omitempty"`
	Notes             []string          `json:"notes"`
	// Unsupported lists the checks this trace cannot support: what its
	// writer said (a note starting "unsupported check: ") it did that
	// wsktrace v1 cannot express, with the rule it broke there.
	Unsupported []UnsupportedCheck `json:"unsupported,omitempty"`
}

// UnsupportedCheck is a check the trace says it cannot support.
type UnsupportedCheck struct {
	Rule   string `json:"rule"`
	Seq    uint64 `json:"seq"` // the note's seq
	Reason string `json:"reason"`
}

// UnsupportedPrefix starts a note that names a check the trace cannot
// support: "unsupported check: RULE-ID: why" (docs/wsktrace.md).
const UnsupportedPrefix = "unsupported check: "

// parseUnsupported reads an unsupported-check note.
func parseUnsupported(seq uint64, text string) (UnsupportedCheck, bool) {
	rest, ok := strings.CutPrefix(text, UnsupportedPrefix)
	if !ok {
		return UnsupportedCheck{}, false
	}
	rule, why, _ := strings.Cut(rest, ": ")
	return UnsupportedCheck{Rule: strings.TrimSpace(rule), Seq: seq, Reason: why}, rule != ""
}

// ExitCode returns the exit code for the report's verdict.
func (r *Report) ExitCode() int { return r.Verdict.ExitCode() }

var verdictHeadline = map[Verdict]string{
	Conforms:   "CONFORMS: every return and completion is allowed by the model, and no contract rule was broken",
	Diverges:   "DIVERGES: an observed outcome is not allowed by the model",
	Unusable:   "UNUSABLE: the trace cannot be used",
	Violations: "VIOLATIONS: every outcome is allowed, but the driver broke contract rules",
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "wsksim replay: %s (exit %d)\n", verdictHeadline[r.Verdict], r.ExitCode())
	if r.Source != "" || r.Profile != "" {
		fmt.Fprintf(&b, "trace: %q, profile %s, %d events replayed\n", r.Source, r.Profile, r.Events)
	}
	if r.Error != nil {
		if r.Error.Line == 0 {
			fmt.Fprintf(&b, "error: %s\n", r.Error.Msg)
		} else {
			fmt.Fprintf(&b, "error at line %d, column %d: %s\n", r.Error.Line, r.Error.Column, r.Error.Msg)
		}
	}
	if d := r.Divergence; d != nil {
		if d.Seq == 0 && d.Line == 0 {
			fmt.Fprintf(&b, "first divergence at the end of the trace, in %s:\n", d.Call)
		} else {
			fmt.Fprintf(&b, "first divergence at seq %d (line %d), in %s:\n", d.Seq, d.Line, d.Call)
		}
		fmt.Fprintf(&b, "  observed:     %s\n", d.Observed)
		fmt.Fprintf(&b, "  model allows: %s\n", d.Allowed)
		fmt.Fprintf(&b, "  rule:         %s\n", d.Rule)
		if d.Detail != "" {
			fmt.Fprintf(&b, "  detail:       %s\n", d.Detail)
		}
		if len(d.Policies) > 0 {
			fmt.Fprintf(&b, "  policies:     %s\n", strings.Join(d.Policies, ", "))
		}
	}
	if len(r.Violations) > 0 {
		fmt.Fprintf(&b, "contract violations (%d):\n", len(r.Violations)+r.ViolationsOmitted)
		for _, v := range r.Violations {
			where := fmt.Sprintf("at seq %d (line %d)", v.Seq, v.Line)
			if v.AtEnd {
				where = "at the end of the trace"
				if v.Seq != 0 {
					where += fmt.Sprintf(" (created at seq %d, line %d)", v.Seq, v.Line)
				}
			}
			fmt.Fprintf(&b, "  %s %s", v.Rule, where)
			if v.Call != "" {
				fmt.Fprintf(&b, " in %s", v.Call)
			}
			if len(v.Objects) > 0 {
				fmt.Fprintf(&b, " [%s]", strings.Join(v.Objects, " "))
			}
			fmt.Fprintf(&b, ": %s", v.Detail)
			if v.BugCheck != "" {
				fmt.Fprintf(&b, " (bug check %s)", v.BugCheck)
			}
			b.WriteByte('\n')
		}
		if r.ViolationsOmitted > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", r.ViolationsOmitted)
		}
	}
	if len(r.Choices) > 0 || len(r.Policies) > 0 {
		b.WriteString("open points the trace decided:\n")
		for _, p := range r.Policies {
			fmt.Fprintf(&b, "  %s: the trace took option %s (model default %s)\n", p.Policy, p.Option, p.Default)
		}
		for _, c := range r.Choices {
			fmt.Fprintf(&b, "  %s = %s (%d×)\n", c.Point, c.Option, c.Count)
		}
	}
	if len(r.Unsupported) > 0 {
		b.WriteString("checks this trace cannot support (its writer did something wsktrace v1 cannot express):\n")
		for _, u := range r.Unsupported {
			fmt.Fprintf(&b, "  %s at seq %d: %s\n", u.Rule, u.Seq, u.Reason)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("notes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonReport struct {
	Verdict string `json:"verdict"`
	Exit    int    `json:"exit"`
	*Report
	Error *Error `json:"error,omitempty"`
}

// MarshalJSON encodes the Error field with line, column and message.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Msg    string `json:"message"`
	}{e.Line, e.Column, e.Msg})
}

// WriteJSON writes the report as one JSON object followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	rr := *r
	if rr.Violations == nil {
		rr.Violations = []ViolationReport{}
	}
	if rr.Choices == nil {
		rr.Choices = []ChoiceTaken{}
	}
	if rr.Notes == nil {
		rr.Notes = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport{Verdict: r.Verdict.String(), Exit: r.ExitCode(), Report: &rr, Error: r.Error})
}

func sortChoices(cs []ChoiceTaken) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Point != cs[j].Point {
			return cs[i].Point < cs[j].Point
		}
		return cs[i].Option < cs[j].Option
	})
}
