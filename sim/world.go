package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/wsksim/wsksim/nt"
)

// Time is virtual time since the world started.
type Time = time.Duration

// Config configures a World.
type Config struct {
	// Seed seeds the default chooser. The same seed and the same inputs give a
	// byte-identical trace and report.
	Seed uint64
	// Chooser, if set, answers every choice point instead of the seeded PRNG.
	Chooser Chooser
	// Trace, if set, receives the run as wsktrace v1 JSON lines.
	Trace io.Writer
	// TraceSource is the header's "source" field.
	TraceSource string
	// Profile is the header's "profile" field ("" means "default").
	Profile string
	// MaxEvents bounds RunUntilIdle (0: 1,000,000), so a livelocked model
	// cannot spin forever.
	MaxEvents int
	// PolicyObserver, if set, is told each time the model reads a policy and
	// which option was in force. Replay uses it to learn which open points a
	// call depended on, so it can retry a divergent call under the other
	// options the policy lists.
	PolicyObserver func(id string, option int)
}

// Task is something the world runs at a virtual time.
type Task interface{ Run() }

// TaskFunc adapts a function to Task.
type TaskFunc func()

// Run implements Task.
func (f TaskFunc) Run() { f() }

type queued struct {
	at   Time
	seq  uint64
	task Task
}

type taskHeap []queued

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *taskHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = queued{}
	*h = old[:n-1]
	return x
}

type faultSite struct {
	label    string
	perMille int
	failNext int
	hits     int
}

// FaultSite documents a named fault-injection site.
type FaultSite struct {
	Name string // e.g. "irp.alloc"
	Doc  string
}

var faultSites = map[string]FaultSite{}

// RegisterFaultSite registers a fault site; packages call it from init.
func RegisterFaultSite(f FaultSite) {
	if _, dup := faultSites[f.Name]; dup {
		panic("sim: internal: duplicate fault site " + f.Name)
	}
	faultSites[f.Name] = f
	RegisterChoice(ChoicePoint{Label: "fault:" + f.Name, Options: []string{"pass", "fail"},
		Doc: "whether fault site " + f.Name + " fails this time (drawn only when its rate is non-zero)"})
}

// FaultSites returns every registered fault site sorted by name.
func FaultSites() []FaultSite {
	out := make([]FaultSite, 0, len(faultSites))
	for _, f := range faultSites {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Frame is one call in progress.
type Frame struct {
	Fn  string
	Seq uint64
}

// World is the deterministic world. It is not safe for concurrent use: the
// model is single-threaded by design, like etcd raft's RawNode.
type World struct {
	cfg     Config
	chooser Chooser
	pins    map[string]int
	now     Time
	queue   taskHeap
	qseq    uint64
	seq     uint64
	irql    nt.IRQL
	inComp  int
	frames  []Frame
	faults  map[string]*faultSite
	actions map[string]Action
	viols   []Violation
	halted  *BugCheck
	closers []func()
	closed  bool
	misuse  []error
	// lastBugSeq is the seq of the call of the last violation with a bug check.
	lastBugSeq uint64
	tr         *tracer
	names      map[string]int
	polVals    []int16 // option set by SetPolicy per policy index; -1: the default
	polCache   [32]policyCacheEntry
}

// NewWorld returns a world at virtual time zero.
func NewWorld(cfg Config) *World {
	w := &World{cfg: cfg, pins: map[string]int{}, faults: map[string]*faultSite{},
		actions: map[string]Action{}, names: map[string]int{}}
	if cfg.MaxEvents <= 0 {
		w.cfg.MaxEvents = 1_000_000
	}
	w.chooser = cfg.Chooser
	if w.chooser == nil {
		w.chooser = NewPRNG(cfg.Seed)
	}
	if cfg.Trace != nil {
		w.tr = newTracer(cfg.Trace, cfg.TraceSource, cfg.Profile)
	}
	for _, r := range rules {
		if r.Default != Record {
			w.actions[r.ID] = r.Default
		}
	}
	return w
}

// Seed returns the configured seed.
func (w *World) Seed() uint64 { return w.cfg.Seed }

// Now returns the virtual time.
func (w *World) Now() Time { return w.now }

// NextName returns the next display number for objects of a kind: 1, 2, 3...
// Objects format their names from it lazily ("irp1", "pool2"), never from
// addresses, so every output is reproducible.
func (w *World) NextName(kind string) int {
	w.names[kind]++
	return w.names[kind]
}

// Name formats a display name: kind followed by n.
func Name(kind string, n int) string { return kind + strconv.Itoa(n) }

// ---- choices ----

// Choose answers the choice point label with a value in [0, n). A pinned value
// wins over the chooser.
func (w *World) Choose(label string, n int) int {
	if len(w.pins) > 0 {
		if v, ok := w.pins[label]; ok {
			if v < n {
				return v
			}
			return n - 1
		}
	}
	if n <= 1 {
		return 0
	}
	v := w.chooser.Choose(label, n)
	if v < 0 || v >= n {
		panic(fmt.Sprintf("sim: internal: chooser returned %d for %q with n=%d", v, label, n))
	}
	return v
}

// Pin fixes choice point label to value v for the rest of the run.
func (w *World) Pin(label string, v int) error {
	c, ok := choicePoints[label]
	if !ok {
		return fmt.Errorf("sim.Pin: unknown choice point %q", label)
	}
	if v < 0 || v >= len(c.Options) {
		return fmt.Errorf("sim.Pin: choice point %q has %d options, got %d", label, len(c.Options), v)
	}
	w.pins[label] = v
	return nil
}

// Unpin removes a pin.
func (w *World) Unpin(label string) { delete(w.pins, label) }

// ---- faults ----

// SetFaultRate makes site fail with probability perMille/1000 (drawn through
// the chooser at "fault:<site>").
func (w *World) SetFaultRate(site string, perMille int) error {
	f, err := w.fault(site, "sim.SetFaultRate")
	if err != nil {
		return err
	}
	if perMille < 0 || perMille > 1000 {
		return fmt.Errorf("sim.SetFaultRate: rate %d for %q is outside 0..1000", perMille, site)
	}
	f.perMille = perMille
	return nil
}

// FailNext makes the next n checks of site fail unconditionally.
func (w *World) FailNext(site string, n int) error {
	f, err := w.fault(site, "sim.FailNext")
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("sim.FailNext: negative count %d for %q", n, site)
	}
	f.failNext = n
	return nil
}

// ClearFaults switches every fault off (the liveness phase of a fuzz run).
func (w *World) ClearFaults() {
	for _, f := range w.faults {
		f.perMille, f.failNext = 0, 0
	}
}

func (w *World) fault(site, fn string) (*faultSite, error) {
	if f, ok := w.faults[site]; ok {
		return f, nil
	}
	if _, ok := faultSites[site]; !ok {
		return nil, fmt.Errorf("%s: unknown fault site %q", fn, site)
	}
	f := &faultSite{label: "fault:" + site}
	w.faults[site] = f
	return f, nil
}

// Fault reports whether the fault site fails now. A site with no rate and no
// pending forced failures never consults the chooser.
func (w *World) Fault(site string) bool {
	f, ok := w.faults[site]
	if !ok {
		return false
	}
	if f.failNext > 0 {
		f.failNext--
		f.hits++
		return true
	}
	if f.perMille == 0 {
		return false
	}
	var fail bool
	if v, ok := w.pins[f.label]; ok {
		fail = v == 1 // pinned by option: 0 "pass", 1 "fail"
	} else {
		fail = w.Choose(f.label, 1000) < f.perMille
	}
	if fail {
		f.hits++
	}
	return fail
}

// ---- IRQL and calls ----

// IRQL returns the IRQL the driver is running at.
func (w *World) IRQL() nt.IRQL { return w.irql }

// SetIRQL sets the current IRQL and returns the previous one (KeRaiseIrql /
// KeLowerIrql for the driver under test; completion delivery for providers).
func (w *World) SetIRQL(l nt.IRQL) nt.IRQL {
	old := w.irql
	w.irql = l
	return old
}

// EnterCompletion and LeaveCompletion bracket a completion routine, so that
// providers can tell a call made from inside one.
func (w *World) EnterCompletion() { w.inComp++ }

// LeaveCompletion ends a bracket opened by EnterCompletion.
func (w *World) LeaveCompletion() { w.inComp-- }

// InCompletion reports whether a completion routine is running.
func (w *World) InCompletion() bool { return w.inComp > 0 }

// NextSeq allocates the next trace sequence number. Every call, return,
// completion and env event takes one, whether or not a trace is written, so
// violation reports and traces agree.
func (w *World) NextSeq() uint64 {
	w.seq++
	return w.seq
}

// Seq returns the last sequence number allocated.
func (w *World) Seq() uint64 { return w.seq }

// Begin opens a call to fn and returns its frame. Pair it with End.
//
// Every modelled function calls Begin first, so a nil World here means the
// function was called on an object not made by its constructor (a zero
// irp.Manager, wsk.Provider or wfp.Engine): a programming error in the Go
// code using the model, reported with a message that says so.
func (w *World) Begin(fn string) Frame {
	if w == nil {
		panic(fn + ": called on a zero or nil object that has no world; make it with its constructor (irp.NewManager, wsk.NewProvider, wfp.NewEngine)")
	}
	f := Frame{Fn: fn, Seq: w.NextSeq()}
	w.frames = append(w.frames, f)
	return f
}

// End closes the innermost call.
func (w *World) End(f Frame) {
	n := len(w.frames)
	if n == 0 || w.frames[n-1].Seq != f.Seq {
		panic("sim: internal: unbalanced Begin/End for " + f.Fn)
	}
	w.frames = w.frames[:n-1]
}

// Current returns the innermost call in progress, if any.
func (w *World) Current() (Frame, bool) {
	if len(w.frames) == 0 {
		return Frame{}, false
	}
	return w.frames[len(w.frames)-1], true
}

// CheckIRQL reports IRQL-ABOVE-MAX when the current IRQL exceeds max for the
// call in progress. It returns false when the rule fired.
func (w *World) CheckIRQL(max nt.IRQL) bool {
	if w.irql <= max {
		return true
	}
	f, _ := w.Current()
	w.Violate(RuleIRQLAboveMax, fmt.Sprintf("%s called at %s; its documented maximum is %s", f.Fn, w.irql, max))
	return false
}

// ---- verifier ----

// SetAction sets the verifier's action for a rule.
func (w *World) SetAction(ruleID string, a Action) error {
	if _, ok := rules[ruleID]; !ok {
		return fmt.Errorf("sim.SetAction: unknown rule %q", ruleID)
	}
	w.actions[ruleID] = a
	return nil
}

// ActionFor returns the verifier's action for a rule.
func (w *World) ActionFor(ruleID string) Action { return w.actions[ruleID] }

// Violate reports that the driver broke rule ruleID. Objects are display names.
func (w *World) Violate(ruleID, detail string, objects ...string) {
	r, ok := rules[ruleID]
	if !ok {
		panic("sim: internal: violation of unregistered rule " + ruleID)
	}
	act := w.actions[ruleID]
	if act == Off {
		return
	}
	v := Violation{Rule: ruleID, BugCheck: r.BugCheck, Time: w.now, Objects: objects, Detail: detail}
	if f, ok := w.Current(); ok {
		v.Seq, v.Call = f.Seq, f.Fn
	}
	w.viols = append(w.viols, v)
	if r.BugCheck != "" {
		w.lastBugSeq = v.Seq
	}
	if act == Halt && w.halted == nil {
		w.halted = &BugCheck{Violation: v}
	}
}

// Violations returns every violation recorded so far, in order.
func (w *World) Violations() []Violation { return append([]Violation(nil), w.viols...) }

// ViolationCount returns how many violations were recorded.
func (w *World) ViolationCount() int { return len(w.viols) }

// Halted returns the bug check that stopped the world, or nil.
func (w *World) Halted() error {
	if w.halted == nil {
		return nil
	}
	return w.halted
}

// ---- the event queue ----

// Schedule runs t after d of virtual time (d < 0 counts as 0). Tasks at the
// same time run in the order they were scheduled.
func (w *World) Schedule(d Time, t Task) {
	if d < 0 {
		d = 0
	}
	w.qseq++
	heap.Push(&w.queue, queued{at: w.now + d, seq: w.qseq, task: t})
}

// Pending returns how many tasks are queued.
func (w *World) Pending() int { return len(w.queue) }

// Step runs the next queued task, advancing the clock to its time. It returns
// false when the queue is empty or the world is halted.
func (w *World) Step() bool {
	if len(w.queue) == 0 || w.halted != nil {
		return false
	}
	q := heap.Pop(&w.queue).(queued)
	if q.at > w.now {
		w.now = q.at
	}
	q.task.Run()
	return true
}

// RunUntilIdle runs tasks until none is left, the world halts, or MaxEvents
// tasks ran. It returns an error in the last case.
func (w *World) RunUntilIdle() error {
	for i := 0; i < w.cfg.MaxEvents; i++ {
		if !w.Step() {
			return nil
		}
	}
	if len(w.queue) == 0 || w.halted != nil {
		return nil // the last allowed task emptied the queue
	}
	return fmt.Errorf("sim.RunUntilIdle: still busy after %d tasks (livelock?)", w.cfg.MaxEvents)
}

// Advance runs every task due within d and moves the clock forward by d.
func (w *World) Advance(d Time) {
	end := w.now + d
	for len(w.queue) > 0 && w.queue[0].at <= end && w.halted == nil {
		w.Step()
	}
	if w.halted == nil && end > w.now {
		w.now = end
	}
}

// ---- closing ----

// OnClose registers a check run by Close (leak checks), in registration order.
func (w *World) OnClose(fn func()) { w.closers = append(w.closers, fn) }

// Close runs the leak checks once and flushes the trace. It returns the
// harness misuse Misuse recorded and the trace writer's error, if any.
func (w *World) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.traceEndOfCall()
	for _, fn := range w.closers {
		fn()
	}
	errs := w.misuse
	if w.tr != nil {
		if err := w.tr.flush(); err != nil {
			errs = append(errs[:len(errs):len(errs)], err)
		}
	}
	return errors.Join(errs...)
}

// maxMisuse bounds the harness errors a world keeps.
const maxMisuse = 64

// Misuse records that the Go code driving the model misused the harness in a
// call that has no error result (an object of another world passed in, a nil
// where the provider side needs an object): not the driver's contract, so not a
// violation, and not a reason to panic. The call does nothing else; Close
// returns the errors, and MisuseErrors lists them at any time. call names the
// Go method ("irp.Manager.IoFreeIrp").
func (w *World) Misuse(call, format string, a ...any) {
	if len(w.misuse) < maxMisuse {
		w.misuse = append(w.misuse, fmt.Errorf("%s: %s", call, fmt.Sprintf(format, a...)))
	}
}

// MisuseErrors returns the harness misuse recorded so far (at most 64).
func (w *World) MisuseErrors() []error { return append([]error(nil), w.misuse...) }

// Closed reports whether Close ran.
func (w *World) Closed() bool { return w.closed }

// SetSeq sets the last sequence number allocated, so that the next event takes
// seq+1. Replay uses it to keep the model's numbering equal to a trace's (which
// may have gaps). It never moves the numbering backwards.
func (w *World) SetSeq(seq uint64) {
	if seq > w.seq {
		w.seq = seq
	}
}
