package sim

import (
	"fmt"
	"sort"
	"strings"
)

// Action is what the verifier does when a rule is broken (Driver Verifier's
// break / ignore / zap).
type Action uint8

const (
	// Record adds the violation to the report and lets the run go on.
	Record Action = iota
	// Halt records the violation and stops the world: Step, RunUntilIdle and
	// Advance fire no further events and Halted returns the bug check.
	Halt
	// Off ignores the rule.
	Off
)

func (a Action) String() string {
	switch a {
	case Record:
		return "record"
	case Halt:
		return "halt"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ParseAction parses "record", "halt" or "off".
func ParseAction(s string) (Action, error) {
	switch s {
	case "record":
		return Record, nil
	case "halt":
		return Halt, nil
	case "off":
		return Off, nil
	}
	return 0, fmt.Errorf("sim.ParseAction: unknown action %q (want record, halt or off)", s)
}

// Rule is one contract rule the model enforces on the driver under test.
type Rule struct {
	ID        string // stable, e.g. "IRP-DOUBLE-COMPLETE"
	Statement string // one line: what the driver must (not) do
	Source    string // document link or "observed: ..." with a link
	BugCheck  string // nearest real bug check, e.g. "0x44" or "0xC9/0x06"; "" if none
	Test      string // the Go test that shows it (package.TestName)
	Default   Action // Record unless stated otherwise
}

var rules = map[string]Rule{}

// RegisterRules adds rules to the global rule table. Packages call it from init.
// A duplicate or malformed rule is a programming error and panics at init time.
func RegisterRules(rs ...Rule) {
	for _, r := range rs {
		if r.ID == "" || r.Statement == "" || r.Source == "" || r.Test == "" {
			panic("sim: internal: incomplete rule " + r.ID)
		}
		if strings.ToUpper(r.ID) != r.ID || strings.ContainsAny(r.ID, " \t") {
			panic("sim: internal: rule ID must be upper-case without spaces: " + r.ID)
		}
		if _, dup := rules[r.ID]; dup {
			panic("sim: internal: duplicate rule " + r.ID)
		}
		rules[r.ID] = r
	}
}

// Rules returns the rule table sorted by ID.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupRule returns the rule with the given ID.
func LookupRule(id string) (Rule, bool) {
	r, ok := rules[id]
	return r, ok
}

// Violation is one broken rule, as the verifier saw it.
type Violation struct {
	Rule     string   // rule ID
	BugCheck string   // copied from the rule
	Seq      uint64   // trace sequence number of the call in progress (0: none)
	Call     string   // the function in progress ("" outside any call)
	Time     Time     // virtual time
	Objects  []string // display names of the objects involved
	Detail   string   // what happened, in a sentence
}

func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Rule)
	if v.Seq != 0 {
		fmt.Fprintf(&b, " at seq %d", v.Seq)
	}
	if v.Call != "" {
		fmt.Fprintf(&b, " in %s", v.Call)
	}
	if len(v.Objects) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(v.Objects, " "))
	}
	b.WriteString(": ")
	b.WriteString(v.Detail)
	if v.BugCheck != "" {
		fmt.Fprintf(&b, " (bug check %s)", v.BugCheck)
	}
	return b.String()
}

// BugCheck is the error Halted returns once a rule whose action is Halt fired.
type BugCheck struct{ Violation Violation }

func (b *BugCheck) Error() string { return "sim: world halted: " + b.Violation.String() }

// Generic rules enforced by the world itself.
const (
	RuleIRQLAboveMax = "IRQL-ABOVE-MAX"
)

func init() {
	RegisterRules(Rule{
		ID:        RuleIRQLAboveMax,
		Statement: "A function is called at an IRQL above the maximum its documentation allows (e.g. a PASSIVE_LEVEL-only call from a completion routine running at DISPATCH_LEVEL).",
		Source:    "https://learn.microsoft.com/windows-hardware/drivers/kernel/managing-hardware-priorities",
		BugCheck:  "0xC4",
		Test:      "sim.TestIRQLAboveMax",
	})
}
