package irp_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// choiceFinish is the choice point of the test provider below: 0 completes the
// call inline, 1 pends it. WSK functions register their own in package wsk.
const choiceFinish = "irptest.finish"

const (
	inline  = 0
	pending = 1
)

func init() {
	sim.RegisterChoice(sim.ChoicePoint{Label: choiceFinish, Options: []string{"inline", "pending"},
		Doc: "test provider in irp tests: complete the call inline or pend it"})
}

// newWorld returns a world with seed 1 and its manager.
func newWorld(t testing.TB) (*sim.World, *irp.Manager) {
	t.Helper()
	w := sim.NewWorld(sim.Config{Seed: 1})
	return w, irp.NewManager(w)
}

// pin pins the test provider's completion choice (inline or pending).
func pin(t testing.TB, w *sim.World, v int) {
	t.Helper()
	if err := w.Pin(choiceFinish, v); err != nil {
		t.Fatal(err)
	}
}

type lendArg struct {
	b      *irp.Block
	off, n uint64
}

// call is the provider side of a WSK function that takes an IRP, the way
// package wsk writes one: Submit, Lend every buffer, Finish (inline or pending
// as choice point irptest.finish says). A refused IRP fails the call with
// STATUS_INVALID_PARAMETER without completing it; a refused buffer completes
// the IRP with STATUS_INVALID_PARAMETER.
func call(w *sim.World, m *irp.Manager, i *irp.IRP, fn string, st nt.Status, info uint64, lends ...lendArg) nt.Status {
	f := w.Begin(fn)
	if w.Tracing() {
		w.TraceCall(f, sim.F("Irp", sim.Obj(irpName(i))))
	}
	if !m.Submit(i, fn) {
		w.Return(f, nt.STATUS_INVALID_PARAMETER)
		return nt.STATUS_INVALID_PARAMETER
	}
	for _, l := range lends {
		if !m.Lend(i, l.b, l.off, l.n) {
			m.Complete(i, nt.STATUS_INVALID_PARAMETER, 0)
			w.Return(f, nt.STATUS_INVALID_PARAMETER)
			return nt.STATUS_INVALID_PARAMETER
		}
	}
	r := m.Finish(i, choiceFinish, st, info)
	w.Return(f, r)
	return r
}

func irpName(i *irp.IRP) string {
	if i == nil {
		return ""
	}
	return i.Name()
}

// mpr is a completion routine that keeps the IRP (the WSK sample pattern).
func mpr(*irp.IRP, any) nt.Status { return nt.STATUS_MORE_PROCESSING_REQUIRED }

// setRoutine sets mpr with all three InvokeOn flags, as WSK requires.
func setRoutine(m *irp.Manager, i *irp.IRP) {
	m.IoSetCompletionRoutine(i, mpr, nil, true, true, true)
}

// V is a violation as tests compare it: Detail lists substrings the detail
// must contain (the call first, where there is one).
type V struct {
	Rule    string
	Call    string
	Objects []string
	Detail  []string
}

func project(vs []sim.Violation) []V {
	out := make([]V, 0, len(vs))
	for _, v := range vs {
		out = append(out, V{Rule: v.Rule, Call: v.Call, Objects: v.Objects})
	}
	return out
}

var cmpV = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.IgnoreFields(V{}, "Detail")}

// expect asserts the violations the world recorded, in order.
func expect(t testing.TB, w *sim.World, want ...V) {
	t.Helper()
	got := w.Violations()
	if d := cmp.Diff(want, project(got), cmpV...); d != "" {
		t.Fatalf("violations (-want +got):\n%s\nall: %v", d, got)
	}
	for k, v := range want {
		for _, s := range v.Detail {
			if !strings.Contains(got[k].Detail, s) {
				t.Errorf("violation %d (%s): detail %q does not contain %q", k, v.Rule, got[k].Detail, s)
			}
		}
	}
}

func expectEqualLists(t testing.TB, what string, want, got []string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-registry +test):\n%s", what, d)
	}
}

func fmtInt(n int) string { return strconv.Itoa(n) }
