package sim_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// Registrations a real package would make from init.
const (
	ruleTest   = "SIMTEST-RULE"
	ruleHalt   = "SIMTEST-HALT"
	siteTest   = "simtest.site"
	choiceTest = "simtest.choice"
	policyTest = "P-SIMTEST"
)

func init() {
	sim.RegisterRules(
		sim.Rule{ID: ruleTest, Statement: "test rule", Source: "sim tests", BugCheck: "0x44", Test: "sim.TestViolate"},
		sim.Rule{ID: ruleHalt, Statement: "test rule that halts by default", Source: "sim tests", Test: "sim.TestViolate", Default: sim.Halt},
	)
	sim.RegisterFaultSite(sim.FaultSite{Name: siteTest, Doc: "test site"})
	sim.RegisterChoice(sim.ChoicePoint{Label: choiceTest, Options: []string{"a", "b", "c"}, Doc: "test choice"})
	sim.RegisterPolicy(sim.Policy{ID: policyTest, Question: "q?", Options: []string{"first", "second"}, Default: 1, Reason: "r", Source: "s"})
}

func TestQueueOrder(t *testing.T) {
	w := sim.NewWorld(sim.Config{Seed: 1})
	var got []string
	add := func(d sim.Time, name string) {
		w.Schedule(d, sim.TaskFunc(func() { got = append(got, name+"@"+w.Now().String()) }))
	}
	add(30, "c")
	add(10, "a1")
	add(-5, "zero") // negative delays count as 0
	add(10, "a2")   // same time: scheduling order
	add(20, "b")
	add(10, "a3")
	assert.Equal(t, 6, w.Pending())
	require.NoError(t, w.RunUntilIdle())
	assert.Equal(t, []string{"zero@0s", "a1@10ns", "a2@10ns", "a3@10ns", "b@20ns", "c@30ns"}, got)
	assert.Equal(t, sim.Time(30), w.Now())
	assert.False(t, w.Step(), "Step on an empty queue")

	// A task scheduling at delay 0 runs after everything already due now.
	got = nil
	w.Schedule(0, sim.TaskFunc(func() {
		got = append(got, "first")
		add(0, "nested")
	}))
	add(0, "second")
	require.NoError(t, w.RunUntilIdle())
	assert.Equal(t, []string{"first", "second@30ns", "nested@30ns"}, got)
}

func TestAdvance(t *testing.T) {
	w := sim.NewWorld(sim.Config{})
	var got []sim.Time
	for _, d := range []sim.Time{5, 10, 11, 25} {
		w.Schedule(d, sim.TaskFunc(func() { got = append(got, w.Now()) }))
	}
	w.Advance(10)
	assert.Equal(t, []sim.Time{5, 10}, got, "tasks due within d, inclusive")
	assert.Equal(t, sim.Time(10), w.Now())
	w.Advance(0)
	assert.Equal(t, sim.Time(10), w.Now())
	w.Advance(-3)
	assert.Equal(t, sim.Time(10), w.Now(), "the clock never goes back")
	w.Advance(100)
	assert.Equal(t, []sim.Time{5, 10, 11, 25}, got)
	assert.Equal(t, sim.Time(110), w.Now())
}

func TestRunUntilIdleLimit(t *testing.T) {
	w := sim.NewWorld(sim.Config{MaxEvents: 3})
	var tick func()
	n := 0
	tick = func() { n++; w.Schedule(1, sim.TaskFunc(tick)) }
	w.Schedule(0, sim.TaskFunc(tick))
	err := w.RunUntilIdle()
	require.EqualError(t, err, "sim.RunUntilIdle: still busy after 3 tasks (livelock?)")
	assert.Equal(t, 3, n)

	// Exactly MaxEvents tasks and then idle is not a livelock (regression).
	w = sim.NewWorld(sim.Config{MaxEvents: 3})
	for k := 0; k < 3; k++ {
		w.Schedule(0, sim.TaskFunc(func() {}))
	}
	require.NoError(t, w.RunUntilIdle())
	assert.Equal(t, 0, w.Pending())
}

func TestPin(t *testing.T) {
	w := sim.NewWorld(sim.Config{Seed: 1})
	require.EqualError(t, w.Pin("no.such", 0), `sim.Pin: unknown choice point "no.such"`)
	require.EqualError(t, w.Pin(choiceTest, 3), `sim.Pin: choice point "simtest.choice" has 3 options, got 3`)
	require.EqualError(t, w.Pin(choiceTest, -1), `sim.Pin: choice point "simtest.choice" has 3 options, got -1`)
	require.NoError(t, w.Pin(choiceTest, 2))
	for k := 0; k < 5; k++ {
		assert.Equal(t, 2, w.Choose(choiceTest, 3))
	}
	assert.Equal(t, 1, w.Choose(choiceTest, 2), "a pin beyond n is clamped to n-1")
	w.Unpin(choiceTest)
	w.Unpin(choiceTest) // idempotent
	seen := map[int]bool{}
	for k := 0; k < 50; k++ {
		seen[w.Choose(choiceTest, 3)] = true
	}
	assert.Len(t, seen, 3, "unpinned, the PRNG answers")
	assert.Equal(t, 0, w.Choose(choiceTest, 1), "n = 1 has one answer")
}

type countingChooser struct{ labels []string }

func (c *countingChooser) Choose(label string, n int) int {
	c.labels = append(c.labels, label)
	return n - 1
}

func TestChooserConfig(t *testing.T) {
	c := &countingChooser{}
	w := sim.NewWorld(sim.Config{Chooser: c})
	assert.Equal(t, 4, w.Choose("x", 5))
	assert.Equal(t, 0, w.Choose("y", 1), "n <= 1 does not consult the chooser")
	assert.Equal(t, []string{"x"}, c.labels)

	bad := sim.NewWorld(sim.Config{Chooser: chooserFunc(func(string, int) int { return 9 })})
	assert.PanicsWithValue(t, `sim: internal: chooser returned 9 for "x" with n=2`, func() { bad.Choose("x", 2) })
}

type chooserFunc func(string, int) int

func (f chooserFunc) Choose(l string, n int) int { return f(l, n) }

func TestFaults(t *testing.T) {
	c := &countingChooser{}
	w := sim.NewWorld(sim.Config{Chooser: c})
	assert.False(t, w.Fault(siteTest), "an untouched site never fails")
	assert.False(t, w.Fault("no.such"), "nor does an unknown one")
	require.EqualError(t, w.FailNext("no.such", 1), `sim.FailNext: unknown fault site "no.such"`)
	require.EqualError(t, w.FailNext(siteTest, -1), `sim.FailNext: negative count -1 for "simtest.site"`)
	require.EqualError(t, w.SetFaultRate("no.such", 1), `sim.SetFaultRate: unknown fault site "no.such"`)
	require.EqualError(t, w.SetFaultRate(siteTest, 1001), `sim.SetFaultRate: rate 1001 for "simtest.site" is outside 0..1000`)
	require.EqualError(t, w.SetFaultRate(siteTest, -1), `sim.SetFaultRate: rate -1 for "simtest.site" is outside 0..1000`)

	require.NoError(t, w.FailNext(siteTest, 2))
	assert.Equal(t, []bool{true, true, false}, []bool{w.Fault(siteTest), w.Fault(siteTest), w.Fault(siteTest)})
	assert.Empty(t, c.labels, "a site with no rate never draws from the chooser")

	require.NoError(t, w.SetFaultRate(siteTest, 1000))
	assert.True(t, w.Fault(siteTest)) // countingChooser answers 999 < 1000
	assert.Equal(t, []string{"fault:" + siteTest}, c.labels)
	require.NoError(t, w.SetFaultRate(siteTest, 999))
	assert.False(t, w.Fault(siteTest)) // 999 is not < 999

	// Pins name options: 0 "pass", 1 "fail" (regression: pinning "pass" used
	// to fail every time, since 0 < rate).
	require.NoError(t, w.SetFaultRate(siteTest, 500))
	require.NoError(t, w.Pin("fault:"+siteTest, 0))
	assert.False(t, w.Fault(siteTest))
	require.NoError(t, w.Pin("fault:"+siteTest, 1))
	assert.True(t, w.Fault(siteTest))
	require.NoError(t, w.SetFaultRate(siteTest, 0))
	assert.False(t, w.Fault(siteTest), "a pin does not make a site without a rate fail")
	w.Unpin("fault:" + siteTest)

	require.NoError(t, w.SetFaultRate(siteTest, 1000))
	require.NoError(t, w.FailNext(siteTest, 5))
	w.ClearFaults()
	assert.False(t, w.Fault(siteTest))

	var names []string
	for _, f := range sim.FaultSites() {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, siteTest)
	assert.True(t, isSorted(names))
	cp, ok := sim.LookupChoice("fault:" + siteTest)
	require.True(t, ok)
	assert.Equal(t, []string{"pass", "fail"}, cp.Options)
}

func isSorted(s []string) bool {
	for k := 1; k < len(s); k++ {
		if s[k-1] >= s[k] {
			return false
		}
	}
	return true
}

func TestPolicies(t *testing.T) {
	w := sim.NewWorld(sim.Config{})
	assert.Equal(t, 1, w.Policy(policyTest))
	assert.Equal(t, "second", w.PolicyName(policyTest))
	require.NoError(t, w.SetPolicy(policyTest, "first"))
	assert.Equal(t, 0, w.Policy(policyTest))
	assert.Equal(t, 1, sim.NewWorld(sim.Config{}).Policy(policyTest), "policies are per world")
	require.EqualError(t, w.SetPolicy("P-NOPE", "x"), `sim.SetPolicy: unknown policy "P-NOPE"`)
	require.EqualError(t, w.SetPolicy(policyTest, "third"), `sim.SetPolicy: policy P-SIMTEST has no option "third" (options: first, second)`)
	assert.Equal(t, 0, w.Policy(policyTest), "a failed SetPolicy changes nothing")
	assert.PanicsWithValue(t, "sim: internal: unregistered policy P-NOPE", func() { w.Policy("P-NOPE") })

	p, ok := sim.LookupPolicy(policyTest)
	require.True(t, ok)
	assert.Equal(t, "q?", p.Question)
	var ids []string
	for _, p := range sim.Policies() {
		ids = append(ids, p.ID)
	}
	assert.Contains(t, ids, policyTest)
	assert.True(t, isSorted(ids))

	assert.PanicsWithValue(t, "sim: internal: duplicate policy P-SIMTEST", func() {
		sim.RegisterPolicy(sim.Policy{ID: policyTest, Question: "q?", Options: []string{"a", "b"}, Reason: "r", Source: "s"})
	})
	for _, bad := range []sim.Policy{
		{ID: "", Question: "q", Options: []string{"a", "b"}, Reason: "r", Source: "s"},
		{ID: "P-X", Question: "q", Options: []string{"a"}, Reason: "r", Source: "s"},
		{ID: "P-X", Question: "q", Options: []string{"a", "b"}, Default: 2, Reason: "r", Source: "s"},
		{ID: "P-X", Question: "q", Options: []string{"a", "b"}, Source: "s"},
	} {
		assert.Panics(t, func() { sim.RegisterPolicy(bad) }, "malformed policy %+v", bad)
	}
	_, ok = sim.LookupPolicy("P-X")
	assert.False(t, ok)
}

func TestRegistryPanics(t *testing.T) {
	assert.PanicsWithValue(t, "sim: internal: duplicate rule SIMTEST-RULE", func() {
		sim.RegisterRules(sim.Rule{ID: ruleTest, Statement: "s", Source: "s", Test: "t"})
	})
	assert.PanicsWithValue(t, "sim: internal: incomplete rule SIMTEST-X", func() { sim.RegisterRules(sim.Rule{ID: "SIMTEST-X"}) })
	assert.PanicsWithValue(t, "sim: internal: rule ID must be upper-case without spaces: simtest-x", func() {
		sim.RegisterRules(sim.Rule{ID: "simtest-x", Statement: "s", Source: "s", Test: "t"})
	})
	assert.PanicsWithValue(t, "sim: internal: duplicate fault site simtest.site", func() { sim.RegisterFaultSite(sim.FaultSite{Name: siteTest}) })
	assert.PanicsWithValue(t, "sim: internal: duplicate choice point simtest.choice", func() {
		sim.RegisterChoice(sim.ChoicePoint{Label: choiceTest, Options: []string{"a", "b"}})
	})
	assert.PanicsWithValue(t, "sim: internal: choice point simtest.one needs at least two options", func() {
		sim.RegisterChoice(sim.ChoicePoint{Label: "simtest.one", Options: []string{"a"}})
	})
}

func TestViolate(t *testing.T) {
	w := sim.NewWorld(sim.Config{})
	w.Violate(ruleTest, "outside any call", "obj1")
	f := w.Begin("SomeCall")
	w.Advance(7)
	w.Violate(ruleTest, "inside", "a", "b")
	w.ReturnVoid(f)
	want := []sim.Violation{
		{Rule: ruleTest, BugCheck: "0x44", Objects: []string{"obj1"}, Detail: "outside any call"},
		{Rule: ruleTest, BugCheck: "0x44", Seq: 1, Call: "SomeCall", Time: 7, Objects: []string{"a", "b"}, Detail: "inside"},
	}
	if d := cmp.Diff(want, w.Violations()); d != "" {
		t.Fatalf("Violations (-want +got):\n%s", d)
	}
	assert.Equal(t, 2, w.ViolationCount())
	assert.Equal(t, "SIMTEST-RULE [obj1]: outside any call (bug check 0x44)", want[0].String())
	assert.Equal(t, "SIMTEST-RULE at seq 1 in SomeCall [a b]: inside (bug check 0x44)", want[1].String())
	got := w.Violations()
	got[0].Rule = "changed"
	assert.Equal(t, ruleTest, w.Violations()[0].Rule, "Violations returns a copy")

	assert.PanicsWithValue(t, "sim: internal: violation of unregistered rule NOPE", func() { w.Violate("NOPE", "x") })
	require.EqualError(t, w.SetAction("NOPE", sim.Off), `sim.SetAction: unknown rule "NOPE"`)

	// Off ignores, Record records, Halt records and halts once.
	require.NoError(t, w.SetAction(ruleTest, sim.Off))
	assert.Equal(t, sim.Off, w.ActionFor(ruleTest))
	w.Violate(ruleTest, "ignored")
	assert.Equal(t, 2, w.ViolationCount())
	assert.Equal(t, sim.Halt, w.ActionFor(ruleHalt), "a rule's Default action applies to new worlds")
	require.NoError(t, w.Halted())
	w.Violate(ruleHalt, "first")
	w.Violate(ruleHalt, "second")
	assert.Equal(t, 4, w.ViolationCount(), "a halted world still records")
	var bc *sim.BugCheck
	require.True(t, errors.As(w.Halted(), &bc))
	assert.Equal(t, "first", bc.Violation.Detail, "the first halting violation is the bug check")
	assert.Equal(t, "sim: world halted: SIMTEST-HALT: first", bc.Error())

	w.Schedule(0, sim.TaskFunc(func() { t.Error("a halted world ran a task") }))
	assert.False(t, w.Step())
	require.NoError(t, w.RunUntilIdle())
	w.Advance(5)
	assert.Equal(t, sim.Time(7), w.Now(), "a halted world's clock stands still")
}

func TestActions(t *testing.T) {
	for _, a := range []sim.Action{sim.Record, sim.Halt, sim.Off} {
		p, err := sim.ParseAction(a.String())
		require.NoError(t, err)
		assert.Equal(t, a, p)
	}
	_, err := sim.ParseAction("break")
	require.EqualError(t, err, `sim.ParseAction: unknown action "break" (want record, halt or off)`)
	assert.Equal(t, "Action(9)", sim.Action(9).String())
}

// TestIRQLAboveMax shows rule IRQL-ABOVE-MAX: CheckIRQL fires when the current
// IRQL is above the call's documented maximum, naming the call, and not at or
// below it.
func TestIRQLAboveMax(t *testing.T) {
	w := sim.NewWorld(sim.Config{})
	f := w.Begin("FwpsRedirectHandleCreate0")
	assert.True(t, w.CheckIRQL(nt.PASSIVE_LEVEL), "at the maximum")
	assert.Equal(t, 0, w.ViolationCount())
	old := w.SetIRQL(nt.DISPATCH_LEVEL)
	assert.Equal(t, nt.PASSIVE_LEVEL, old)
	assert.True(t, w.CheckIRQL(nt.DISPATCH_LEVEL))
	assert.False(t, w.CheckIRQL(nt.PASSIVE_LEVEL), "above the maximum")
	w.ReturnVoid(f)
	want := []sim.Violation{{Rule: sim.RuleIRQLAboveMax, BugCheck: "0xC4", Seq: 1, Call: "FwpsRedirectHandleCreate0",
		Detail: "FwpsRedirectHandleCreate0 called at DISPATCH_LEVEL; its documented maximum is PASSIVE_LEVEL"}}
	if d := cmp.Diff(want, w.Violations(), cmpEmpty); d != "" {
		t.Fatalf("Violations (-want +got):\n%s", d)
	}
	r, ok := sim.LookupRule(sim.RuleIRQLAboveMax)
	require.True(t, ok)
	assert.Equal(t, "sim.TestIRQLAboveMax", r.Test)
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") })

func TestFramesAndSeq(t *testing.T) {
	w := sim.NewWorld(sim.Config{})
	_, ok := w.Current()
	assert.False(t, ok)
	outer := w.Begin("Outer")
	inner := w.Begin("Inner")
	cur, ok := w.Current()
	require.True(t, ok)
	assert.Equal(t, sim.Frame{Fn: "Inner", Seq: 2}, cur)
	assert.PanicsWithValue(t, "sim: internal: unbalanced Begin/End for Outer", func() { w.End(outer) })
	w.Return(inner, nt.STATUS_SUCCESS) // takes seq 3
	w.ReturnValue(outer, sim.Bool(true))
	assert.Equal(t, uint64(4), w.Seq())
	assert.Equal(t, uint64(5), w.NextSeq())
	assert.Equal(t, 1, w.NextName("irp"))
	assert.Equal(t, 2, w.NextName("irp"))
	assert.Equal(t, 1, w.NextName("sock"))
	assert.Equal(t, "irp2", sim.Name("irp", 2))
	w.EnterCompletion()
	assert.True(t, w.InCompletion())
	w.LeaveCompletion()
	assert.False(t, w.InCompletion())
}

func TestClose(t *testing.T) {
	w := sim.NewWorld(sim.Config{Seed: 3})
	assert.Equal(t, uint64(3), w.Seed())
	var order []int
	w.OnClose(func() { order = append(order, 1) })
	w.OnClose(func() { order = append(order, 2) })
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.Equal(t, []int{1, 2}, order, "checks run once, in registration order")
	assert.True(t, w.Closed())

	w = sim.NewWorld(sim.Config{Trace: failWriter{}})
	w.TraceNote("x")
	require.EqualError(t, w.Close(), "disk full")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
