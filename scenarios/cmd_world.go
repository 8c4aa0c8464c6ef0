package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/sim"
)

func init() {
	for _, c := range []*command{
		{name: "seed", args: []string{"value"}, run: cmdSeed, help: "set the world's seed; only before the first command that uses the world", ex: "seed value=7"},
		{name: "pin", args: []string{"choice", "value"}, open: true, run: cmdPin, help: "pin a choice point to one option (by name or index) for the rest of the run", ex: "pin choice=irp.completion-irql value=DISPATCH_LEVEL"},
		{name: "unpin", args: []string{"choice"}, open: true, run: cmdUnpin, help: "let the chooser answer a pinned choice point again", ex: "unpin choice=irp.completion-irql"},
		{name: "policy", args: []string{"id", "option"}, open: true, run: cmdPolicy, help: "select an option of a policy (a point the documentation leaves open)", ex: "policy id=P-BADIRP option=invalid-parameter"},
		{name: "rule-action", args: []string{"rule", "action"}, open: true, run: cmdRuleAction, help: "set the verifier's action for a rule: record, halt or off", ex: "rule-action rule=IRP-LEAK action=off"},
		{name: "fault", args: []string{"site", "fail-next", "rate"}, open: true, run: cmdFault, help: "inject faults at a site: fail the next N checks, or fail at a rate per mille", ex: "fault site=irp.alloc fail-next=1"},
		{name: "clear-faults", open: true, run: cmdClearFaults, help: "switch every fault off", ex: "clear-faults"},
		{name: "step", args: []string{"n"}, open: true, run: cmdStep, help: "run the next n queued tasks (default 1), printing what they did", ex: "step n=2"},
		{name: "run", open: true, run: cmdRunIdle, help: "run queued tasks until none is left", ex: "run"},
		{name: "advance", args: []string{"by"}, open: true, run: cmdAdvance, help: "advance virtual time, running the tasks that fall due", ex: "advance by=5us"},
		{name: "irql", args: []string{"level"}, open: true, run: cmdIRQL, help: "set the IRQL the driver runs at (KeRaiseIrql/KeLowerIrql)", ex: "irql level=DISPATCH_LEVEL"},
		{name: "violations", run: cmdViolations, help: "print the violations recorded since the last violations/close, and clear them", ex: "violations"},
		{name: "close", open: true, run: cmdClose, help: "close the world: run the leak checks and print the violations not yet printed", ex: "close"},
		{name: "trace", run: cmdTrace, help: "print the wsktrace v1 trace of the run so far", ex: "trace"},
		{name: "state", open: true, run: cmdState, help: "print the clock, the queue, the IRQL and every live IRP and pool block", ex: "state"},
		{name: "note", args: []string{"quoted"}, input: true, open: true, run: cmdNote, help: "write the input lines into the trace as a note event; with quoted, the input is one Go-quoted string (for text with control characters or a ---- line)", ex: "note\nthe proxy starts here"},
		{name: "choices", run: cmdChoices, help: "list the registered choice points and their options", ex: "choices"},
	} {
		register(c)
	}
}

// cmdSeed sets the world's seed. It must come before any command that uses the
// world; with --seeds N the file then always runs under this seed.
//
// Example: seed value=7
func cmdSeed(in *Interp, c *Command, a *args) error {
	v := a.need("value", "a number")
	if a.err != nil {
		return nil
	}
	if in.w != nil {
		return fmt.Errorf("the world already exists; seed must come before the first command that uses it")
	}
	s, err := parseUint(v)
	if err != nil {
		return fmt.Errorf("value=%s: expected a number", v)
	}
	in.seed = s
	in.printf("seed %d\n", s)
	return nil
}

// cmdPin fixes a choice point to one of its options for the rest of the run,
// so that expected output that depends on it is the same under every seed.
//
// Example: pin choice=irp.completion-irql value=DISPATCH_LEVEL
func cmdPin(in *Interp, c *Command, a *args) error {
	label := a.need("choice", "a choice point")
	val := a.need("value", "an option")
	if a.err != nil {
		return nil
	}
	if _, ok := sim.LookupChoice(label); !ok {
		return fmt.Errorf("choice=%s: unknown choice point (expected one of: %s)", label, choiceLabels())
	}
	v, err := sim.ParseChoiceValue(label, val)
	if err != nil {
		return err
	}
	if err := in.w.Pin(label, v); err != nil {
		return err
	}
	cp, _ := sim.LookupChoice(label)
	in.w.TraceEnv("pin", sim.F("choice", sim.Str(label)), sim.F("value", sim.Str(cp.Options[v])))
	in.printf("pinned %s = %s\n", label, cp.Options[v])
	return nil
}

func choiceLabels() string {
	var ls []string
	for _, c := range sim.ChoicePoints() {
		ls = append(ls, c.Label)
	}
	return strings.Join(ls, ", ")
}

// cmdUnpin removes a pin.
//
// Example: unpin choice=irp.completion-irql
func cmdUnpin(in *Interp, c *Command, a *args) error {
	label := a.need("choice", "a choice point")
	if a.err != nil {
		return nil
	}
	if _, ok := sim.LookupChoice(label); !ok {
		return fmt.Errorf("choice=%s: unknown choice point (expected one of: %s)", label, choiceLabels())
	}
	in.w.Unpin(label)
	in.w.TraceEnv("unpin", sim.F("choice", sim.Str(label)))
	in.printf("unpinned %s\n", label)
	return nil
}

// cmdPolicy selects an option of a policy.
//
// Example: policy id=P-BADIRP option=invalid-parameter
func cmdPolicy(in *Interp, c *Command, a *args) error {
	id := a.need("id", "a policy ID")
	opt := a.need("option", "an option name")
	if a.err != nil {
		return nil
	}
	if err := in.w.SetPolicy(id, opt); err != nil {
		return err
	}
	in.w.TraceEnv("policy", sim.F("id", sim.Str(id)), sim.F("option", sim.Str(opt)))
	in.printf("policy %s = %s\n", id, opt)
	return nil
}

// cmdRuleAction sets what the verifier does when a rule is broken: record it,
// halt the world (a bug check), or ignore it.
//
// Example: rule-action rule=IRP-LEAK action=off
func cmdRuleAction(in *Interp, c *Command, a *args) error {
	id := a.need("rule", "a rule ID")
	act := a.need("action", "record, halt or off")
	if a.err != nil {
		return nil
	}
	ac, err := sim.ParseAction(act)
	if err != nil {
		return fmt.Errorf("action=%s: expected record, halt or off", act)
	}
	if err := in.w.SetAction(id, ac); err != nil {
		return fmt.Errorf("rule=%s: unknown rule (see wsksim rules)", id)
	}
	in.w.TraceEnv("rule_action", sim.F("rule", sim.Str(id)), sim.F("action", sim.Str(ac.String())))
	in.printf("rule %s: %s\n", id, ac)
	return nil
}

// cmdFault injects faults at a named site: fail-next=N fails the next N checks
// unconditionally; rate=R fails each check with probability R/1000 (a choice
// drawn from the seed, at choice point fault:<site>).
//
// Example: fault site=pool.alloc fail-next=1
func cmdFault(in *Interp, c *Command, a *args) error {
	site := a.need("site", "a fault site")
	next := a.int("fail-next", -1, 0, 1<<30)
	rate := a.int("rate", -1, 0, 1000)
	if a.err != nil {
		return nil
	}
	if next < 0 && rate < 0 {
		return fmt.Errorf("expected fail-next=N or rate=R (per mille)")
	}
	if !knownFaultSite(site) {
		return fmt.Errorf("site=%s: unknown fault site (expected one of: %s)", site, faultSiteNames())
	}
	if next >= 0 {
		if err := in.w.FailNext(site, next); err != nil {
			return err
		}
		in.printf("fault %s: fail the next %d\n", site, next)
	}
	if rate >= 0 {
		if err := in.w.SetFaultRate(site, rate); err != nil {
			return err
		}
		in.printf("fault %s: fail %d per mille\n", site, rate)
	}
	return nil
}

func knownFaultSite(s string) bool {
	for _, f := range sim.FaultSites() {
		if f.Name == s {
			return true
		}
	}
	return false
}

func faultSiteNames() string {
	var ns []string
	for _, f := range sim.FaultSites() {
		ns = append(ns, f.Name)
	}
	return strings.Join(ns, ", ")
}

// cmdClearFaults switches every fault off.
//
// Example: clear-faults
func cmdClearFaults(in *Interp, c *Command, a *args) error {
	in.w.ClearFaults()
	in.printf("faults cleared\n")
	return nil
}

// cmdStep runs the next n queued tasks (pended completions, network events),
// advancing the clock to each, and prints what they did.
//
// Example: step n=2
func cmdStep(in *Interp, c *Command, a *args) error {
	n := a.int("n", 1, 1, 1<<20)
	if a.err != nil {
		return nil
	}
	ran := 0
	for ran < n && in.w.Step() {
		ran++
	}
	in.printf("stepped %d; now %v, %d queued\n", ran, in.w.Now(), in.w.Pending())
	return nil
}

// cmdRunIdle runs queued tasks until the queue is empty (or the world halts).
//
// Example: run
func cmdRunIdle(in *Interp, c *Command, a *args) error {
	if err := in.w.RunUntilIdle(); err != nil {
		in.printf("%v\n", err)
	}
	if in.w.Halted() != nil {
		in.printf("halted; now %v, %d queued\n", in.w.Now(), in.w.Pending())
		return nil
	}
	in.printf("idle; now %v\n", in.w.Now())
	return nil
}

// cmdAdvance moves virtual time forward, running every task due meanwhile.
//
// Example: advance by=5us
func cmdAdvance(in *Interp, c *Command, a *args) error {
	d := a.duration("by", 0)
	if a.err != nil {
		return nil
	}
	if !a.has("by") {
		return fmt.Errorf("missing argument by=<duration>")
	}
	in.w.Advance(d)
	in.printf("now %v, %d queued\n", in.w.Now(), in.w.Pending())
	return nil
}

// cmdIRQL sets the IRQL the driver under test runs at.
//
// Example: irql level=DISPATCH_LEVEL
func cmdIRQL(in *Interp, c *Command, a *args) error {
	l := a.irql("level", 0)
	if a.err != nil {
		return nil
	}
	if !a.has("level") {
		return fmt.Errorf("missing argument level=<IRQL>")
	}
	old := in.w.SetIRQL(l)
	in.printf("IRQL %s -> %s\n", old, l)
	return nil
}

// cmdViolations prints the violations recorded since the last violations or
// close command, one per line, and clears them.
//
// Example: violations
func cmdViolations(in *Interp, c *Command, a *args) error {
	in.printViolations()
	return nil
}

func (in *Interp) printViolations() {
	vs := in.Violations()
	if len(vs) == 0 {
		in.printf("no violations\n")
		return
	}
	for _, v := range vs {
		in.printf("%s\n", v)
	}
	in.seen += len(vs)
}

// cmdClose closes the world: the leak checks run (IRP-LEAK, POOL-LEAK, ...),
// and the violations not yet printed are printed and cleared.
//
// Example: close
func cmdClose(in *Interp, c *Command, a *args) error {
	if err := in.w.Close(); err != nil {
		return fmt.Errorf("writing the trace: %v", err)
	}
	in.printf("closed\n")
	in.printViolations()
	return nil
}

// cmdTrace prints the run so far as wsktrace v1 JSON lines (it replays the
// commands so far in a fresh world with the same seed, then closes it).
//
// Example: trace
func cmdTrace(in *Interp, c *Command, a *args) error {
	t, err := in.traceSoFar()
	if err != nil {
		return err
	}
	in.out.WriteString(t)
	return nil
}

// cmdState prints the clock, the queue, the IRQL and the live IRPs and pool blocks.
//
// Example: state
func cmdState(in *Interp, c *Command, a *args) error {
	in.printf("now %v, %d queued, IRQL %s\n", in.w.Now(), in.w.Pending(), in.w.IRQL())
	for _, i := range in.io.Live() {
		in.printf("%s\n", in.describeIRP(i))
	}
	for _, b := range in.pools {
		if !b.Freed() {
			lent := ""
			if b.Lent() {
				lent = ", lent"
			}
			in.printf("%s: %d bytes, tag %s%s\n", in.shown(b.Name(), b), b.Size(), irp.TagString(b.Tag()), lent)
		}
	}
	return nil
}

// cmdNote writes its input lines into the trace as a note event.
//
// Example: note
func cmdNote(in *Interp, c *Command, a *args) error {
	text := c.Input
	if a.flag("quoted", false) {
		u, err := strconv.Unquote(text)
		if err != nil {
			return fmt.Errorf("note quoted: the input must be one Go-quoted string (\"...\"): %v", err)
		}
		text = u
	}
	if a.err != nil {
		return a.err
	}
	in.w.TraceNote(text)
	in.printf("note\n")
	return nil
}

// cmdChoices lists the registered choice points with their options.
//
// Example: choices
func cmdChoices(in *Interp, c *Command, a *args) error {
	for _, cp := range sim.ChoicePoints() {
		in.printf("%s: %s\n", cp.Label, strings.Join(cp.Options, ", "))
	}
	return nil
}
