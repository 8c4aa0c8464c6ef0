package trace

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// Options tune a replay.
type Options struct {
	// Profile overrides the header's profile when non-empty.
	Profile string
	// Pins fixes policies (ID → option name) on top of the profile.
	Pins map[string]string
	// PoolBudget caps the bytes of live pool blocks the model allocates
	// (default 256 MiB, the model's own default). A trace that allocates more
	// diverges instead of exhausting memory.
	PoolBudget uint64
	// MaxViolations stops the replay after this many violations (default 1000).
	MaxViolations int
	// Lookahead bounds how many events the replayer reads ahead to find a
	// call's return or an IRP's completion (default 65536).
	Lookahead int

	retryBuffer int64 // bytes of a pipe kept for retries (default maxRetryBuffer)
	retryMemory int   // of those, kept in memory (default retryMemory)

	record bool   // Convert: record the model's sizes of opaque blobs
	seed   uint64 // Convert: the world's seed (the WFP engine's records key)
}

// Profiles maps each named behaviour profile to the policies it pins. The
// default profile pins nothing: every outcome listed for an open point is
// allowed. "model-defaults" pins every policy to the model's documented
// default.
var profiles = map[string]func() map[string]string{
	"default": func() map[string]string { return nil },
	"model-defaults": func() map[string]string {
		m := map[string]string{}
		for _, p := range sim.Policies() {
			m[p.ID] = p.Options[p.Default]
		}
		return m
	},
}

// Profiles returns the names of the built-in profiles.
func Profiles() []string {
	var out []string
	for n := range profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type qev struct {
	ev      *Event
	matched bool // a complete already consumed by a model completion, or a return already checked
}

type standin struct{ kind string }

// replayer drives the model from a trace.
type replayer struct {
	opts     Options
	parser   *Parser
	q        []*qev
	eof      bool
	perr     error
	w        *sim.World
	m        *irp.Manager
	objs     map[string]any
	cur      *qev
	rep      *Report
	stopped  bool
	nviol    int
	divViol  int // the model's violation count when the replay diverged
	choices  map[[2]string]int
	standins int
	// callLines are the lines of the calls being replayed, by seq (for a
	// violation found inside a call while a nested event is replayed).
	callLines map[uint64]int
	// allCompletions: the header says every completion is shown.
	allCompletions bool
	notes          map[string]bool
	// compIRP is the IRP the model is completing right now (set by the routine
	// search), so the IRQL choice can be answered.
	lastComplete *qev
	rev          map[string]string // model display name → trace name
	standinIRPs  map[string]bool
	routineSet   map[string]bool
	unseen       map[string]nt.Status // a status the partial routine of an IRP does not see
	deadObjs     []string             // freed names still mapped, oldest first (bounded)
	blobSize     map[string]uint64

	// The WSK provider and the WFP engine the WSK and FWPS calls run on.
	p       *wsk.Provider
	e       *wfp.Engine
	scratch *irp.Manager // blocks for buffers the trace gives without a pool block
	ws      wskState
	fw      fwpsState
	// Policies read while events were replayed (for retries), and the seq
	// of the call the divergence belongs to.
	polLog  []polRead
	divFrom uint64
	irpCall map[string]uint64 // IRP trace name → seq of the call it was last given to
	conv    map[uint64]*convSizes
	moved   uint64 // bytes of buffers and peer data made or moved (spend)
	// created is the event being replayed when each trace name was bound
	// (the call or completion that created the object): an end-of-trace
	// violation about the object (a leak) points there.
	created map[string]evPos
	// lastEv is the last event taken from the trace (replayed or already
	// matched); bugAt the last event a violation with a bug check was found
	// at, and bugRule that violation's rule and bug check.
	lastEv  *Event
	bugAt   *Event
	bugRule string
	// localAddrs are the machine's addresses the replay learned from the
	// trace (Convert declares them in the scenario).
	localAddrs []netip.Addr
}

// evPos is where an event is in the trace.
type evPos struct {
	seq  uint64
	line int
}

// Replay runs the trace read from r against the model and reports whether
// everything it shows is allowed. The error is non-nil only for an I/O
// problem writing nothing; a malformed trace gives a report with verdict
// Unusable and Report.Error set.
func Replay(r io.Reader, opts Options) (*Report, error) {
	if opts.MaxViolations <= 0 {
		opts.MaxViolations = 1000
	}
	if opts.Lookahead <= 0 {
		opts.Lookahead = 1 << 16
	}
	return replayWithRetries(r, opts)
}

// replayOnce runs the trace once under opts.
func replayOnce(r io.Reader, opts Options) *replayer {
	rp := &replayer{opts: opts, parser: NewParser(r), objs: map[string]any{}, choices: map[[2]string]int{}, notes: map[string]bool{},
		rep: &Report{}}
	rp.run()
	return rp
}

func (r *replayer) unusable(err error) {
	var te *Error
	if !errors.As(err, &te) {
		te = &Error{Msg: err.Error()}
	}
	r.rep.Verdict = Unusable
	r.rep.Error = te
	r.stopped = true
}

func (r *replayer) note(s string) {
	if !r.notes[s] {
		r.notes[s] = true
		r.rep.Notes = append(r.rep.Notes, s)
	}
}

func (r *replayer) run() {
	h, err := r.parser.Header()
	if err != nil {
		r.unusable(err)
		return
	}
	r.rep.Source, r.rep.Profile = h.Source, h.Profile
	r.allCompletions = h.AllCompletions
	if r.opts.Profile != "" {
		r.rep.Profile = r.opts.Profile
	}
	prof, ok := profiles[r.rep.Profile]
	if !ok {
		r.unusable(errAt(1, 1, fmt.Sprintf("unknown profile %q (known: %s)", r.rep.Profile, strings.Join(Profiles(), ", "))))
		return
	}
	r.w = sim.NewWorld(sim.Config{Seed: r.opts.seed, Chooser: r, PolicyObserver: r.observePolicy})
	for id, opt := range prof() {
		if err := r.w.SetPolicy(id, opt); err != nil {
			r.unusable(errAt(1, 1, err.Error()))
			return
		}
	}
	ids := make([]string, 0, len(r.opts.Pins))
	for id := range r.opts.Pins {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := r.w.SetPolicy(id, r.opts.Pins[id]); err != nil {
			r.unusable(errAt(0, 0, err.Error()))
			return
		}
	}
	// Every fault site may fire: the trace says whether it did.
	for _, f := range sim.FaultSites() {
		_ = r.w.SetFaultRate(f.Name, 500)
	}
	r.m = irp.NewManager(r.w)
	if r.opts.PoolBudget != 0 {
		r.m.PoolBudget = r.opts.PoolBudget
	}
	r.e = wfp.NewEngine(r.w)
	prov, err := wsk.NewProvider(r.m, wsk.Config{Engine: r.e})
	if err != nil {
		panic("trace: internal: " + err.Error())
	}
	r.p = prov
	r.scratch = irp.NewManager(sim.NewWorld(sim.Config{}))
	r.scratch.PoolBudget = 1 << 62
	for !r.stopped {
		e := r.next()
		if e == nil {
			break
		}
		r.cur = e
		r.rep.Events++
		r.step(e)
		r.collect(e.ev)
	}
	if r.perr != nil && r.rep.Verdict != Unusable {
		r.unusable(r.perr)
	}
	if r.rep.Verdict == Unusable {
		return
	}
	if !r.stopped && r.bugAt != nil && r.bugAt == r.lastEv && r.bugAt.Kind == EvCall {
		// The trace ends at the call whose violation bug-checks: Windows
		// stopped in it (wsktrace v1: "A trace may end with a call that has
		// no return: the machine stopped there"), so the trace is complete.
		// (A trace that ends at another event, a completion routine's
		// return say, is not taken as stopped: the recorder went on.)
		// Completions the model still owes never came, and objects still
		// live were never freed, because the machine was down.
		r.note(fmt.Sprintf("the trace ends at seq %d (line %d), where %s bug-checks: Windows stopped there, so completions still owed and objects still live at that point are not checked", r.bugAt.Seq, r.bugAt.Line, r.bugRule))
		r.stopped = true
	}
	if !r.stopped {
		r.cur = nil
		// Completions the model still owes: each must have been shown.
		for r.w.Step() && !r.stopped {
		}
		if !r.stopped {
			r.w.Close()
		}
		r.collect(nil)
	}
	r.finish()
}

func (r *replayer) finish() {
	for k, n := range r.choices {
		r.rep.Choices = append(r.rep.Choices, ChoiceTaken{Point: k[0], Option: k[1], Count: n})
	}
	sortChoices(r.rep.Choices)
	r.finishNotes()
	switch {
	case r.rep.Verdict == Unusable:
	case r.rep.Divergence != nil:
		r.rep.Verdict = Diverges
	case len(r.rep.Violations) > 0:
		r.rep.Verdict = Violations
	default:
		r.rep.Verdict = Conforms
	}
}

// ---- event source with lookahead ----

func (r *replayer) fill(n int) bool {
	for len(r.q) < n && !r.eof {
		ev, err := r.parser.Next()
		if err != nil {
			r.eof = true
			if err != io.EOF {
				r.perr = err
			}
			return len(r.q) >= n
		}
		r.q = append(r.q, &qev{ev: ev})
	}
	return len(r.q) >= n
}

func (r *replayer) next() *qev {
	for {
		if !r.fill(1) {
			if r.perr != nil {
				r.unusable(r.perr)
			}
			return nil
		}
		e := r.q[0]
		r.q[0] = nil
		r.q = r.q[1:]
		if len(r.q) == 0 {
			r.q = nil
		}
		r.lastEv = e.ev
		if e.matched {
			r.rep.Events++
			continue
		}
		return e
	}
}

// scan walks the lookahead from its front; f returns true to stop. It returns
// the event f stopped at, or nil.
func (r *replayer) scan(f func(*qev) bool) *qev {
	for i := 0; i < r.opts.Lookahead; i++ {
		if !r.fill(i + 1) {
			return nil
		}
		if f(r.q[i]) {
			return r.q[i]
		}
	}
	r.note(fmt.Sprintf("lookahead limit of %d events reached; a return or completion further away was treated as absent", r.opts.Lookahead))
	return nil
}

// findReturn finds the return of call seq in the lookahead.
func (r *replayer) findReturn(seq uint64) *qev {
	return r.scan(func(q *qev) bool { return q.ev.Kind == EvReturn && q.ev.Call == seq })
}

// usesIRP reports whether ev is a call that passes IRP name for a new use
// (submission, reuse, free...; IoCancelIrp does not count: it races the
// completion).
func usesIRP(ev *Event, name string) bool {
	if ev.Kind != EvCall || ev.Fn == "IoCancelIrp" || ev.irpBusy {
		return false
	}
	v, ok := ev.Arg("Irp")
	return ok && v.Kind == Name && v.Name == name
}

// findComplete finds the unmatched complete of IRP name: the current event
// itself, or in the lookahead before the IRP is used again.
func (r *replayer) findComplete(name string) *qev {
	if c := r.cur; c != nil && !c.matched && c.ev.Kind == EvComplete && c.ev.IRP == name {
		return c
	}
	return r.scan(func(q *qev) bool {
		if q.ev.Kind == EvComplete && q.ev.IRP == name && !q.matched {
			return true
		}
		return usesIRP(q.ev, name)
	})
}

// ---- divergences and violations ----

func (r *replayer) diverge(at *Event, call string, observed, allowed, rule, detail string) {
	if r.rep.Divergence != nil || r.rep.Verdict == Unusable {
		return
	}
	d := &Divergence{Call: call, Observed: observed, Allowed: allowed, Rule: rule, Detail: detail}
	r.divFrom = r.callSeqOf(at)
	if at != nil {
		d.Seq, d.Line = at.Seq, at.Line
	} else {
		d.Detail = strings.TrimSpace(d.Detail + " (at the end of the trace)")
	}
	r.rep.Divergence = d
	r.stopped = true
	if r.w != nil {
		r.divViol = r.w.ViolationCount()
	}
}

func (r *replayer) collect(at *Event) {
	if r.w == nil || r.w.ViolationCount() == r.nviol {
		return
	}
	end := r.w.ViolationCount()
	if r.rep.Divergence != nil && r.divViol < end {
		// What the model reports after the divergence comes from unwinding
		// calls the trace never finished (a classifyFn cut short, say), not
		// from the trace: leave it out.
		end = r.divViol
	}
	var vs []sim.Violation
	if end > r.nviol {
		vs = r.w.Violations()[r.nviol:end]
	}
	r.nviol = r.w.ViolationCount()
	for _, v := range vs {
		if len(r.rep.Violations) >= r.opts.MaxViolations {
			r.rep.ViolationsOmitted++
			continue
		}
		vr := ViolationReport{Rule: v.Rule, Call: v.Call, Objects: r.traceNames(v.Objects), Detail: r.renameIn(v.Detail, v.Objects), BugCheck: v.BugCheck}
		if at != nil {
			vr.Seq, vr.Line = at.Seq, at.Line
		} else {
			vr.AtEnd = true
			for _, n := range vr.Objects {
				if p, ok := r.created[n]; ok {
					vr.Seq, vr.Line = p.seq, p.line
					break
				}
			}
		}
		if ln, ok := r.callLines[v.Seq]; ok && v.Seq != 0 && at != nil && v.Seq < at.Seq {
			// Found in an enclosing call (a classify the call caused, a
			// completion routine it ran): the violation is that call's.
			vr.Seq, vr.Line = v.Seq, ln
		}
		r.rep.Violations = append(r.rep.Violations, vr)
		if v.BugCheck != "" && at != nil {
			r.bugAt, r.bugRule = at, fmt.Sprintf("%s (bug check %s)", v.Rule, v.BugCheck)
		}
	}
	if r.rep.ViolationsOmitted > 0 && !r.stopped {
		r.note(fmt.Sprintf("replay stopped after %d violations", r.opts.MaxViolations))
		r.stopped = true
	}
}

// ---- names ↔ model objects ----

// modelNames maps the model's display names back to trace names.
func (r *replayer) traceNames(ns []string) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n
		if t, ok := r.rev[n]; ok {
			out[i] = t
		}
	}
	return out
}

// renameIn replaces the model's display names in text by their trace names:
// every whole word that is the display name of an object the trace named
// (the violation's objects, and others its detail mentions, such as the
// socket of a hop in WFP-FLOW-UNFINISHED), in one pass, then the names of
// objs that are not single words.
func (r *replayer) renameIn(text string, objs []string) string {
	if len(r.rev) > 0 {
		var b strings.Builder
		last, changed := 0, false
		for k := 0; k < len(text); {
			if !isNameByte(text[k]) {
				k++
				continue
			}
			end := k
			for end < len(text) && isNameByte(text[end]) {
				end++
			}
			if t, ok := r.rev[text[k:end]]; ok && t != text[k:end] {
				b.WriteString(text[last:k])
				b.WriteString(t)
				last, changed = end, true
			}
			k = end
		}
		if changed {
			b.WriteString(text[last:])
			text = b.String()
		}
	}
	for _, n := range objs {
		t, ok := r.rev[n]
		if !ok || t == n || isWord(n) {
			continue
		}
		var b strings.Builder
		for {
			k := strings.Index(text, n)
			if k < 0 {
				b.WriteString(text)
				break
			}
			end := k + len(n)
			wordL := k == 0 || !isNameByte(text[k-1])
			wordR := end == len(text) || !isNameByte(text[end])
			b.WriteString(text[:k])
			if wordL && wordR {
				b.WriteString(t)
			} else {
				b.WriteString(n)
			}
			text = text[end:]
		}
		text = b.String()
	}
	return text
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (r *replayer) bindObj(name string, obj any, modelName string) {
	r.objs[name] = obj
	if r.rev == nil {
		r.rev = map[string]string{}
	}
	if modelName != "" {
		r.rev[modelName] = name
	}
	if r.cur != nil {
		if r.created == nil {
			r.created = map[string]evPos{}
		}
		r.created[name] = evPos{r.cur.ev.Seq, r.cur.ev.Line}
	}
}

// forget keeps the model object of a freed name for a while (so a use after
// free reaches the model), then drops it: memory follows live objects.
func (r *replayer) forget(name string) {
	r.deadObjs = append(r.deadObjs, name)
	if len(r.deadObjs) > maxDeadNames {
		old := r.deadObjs[0]
		r.deadObjs = r.deadObjs[1:]
		if o, ok := r.objs[old]; ok {
			if n, ok := o.(interface{ Name() string }); ok {
				delete(r.rev, n.Name())
			}
			delete(r.objs, old)
			delete(r.created, old)
		}
	}
}

func (r *replayer) irpOf(v Value) *irp.IRP {
	if v.Kind != Name {
		return nil
	}
	i, _ := r.objs[v.Name].(*irp.IRP)
	return i
}

func (r *replayer) blockOf(v Value) *irp.Block {
	if v.Kind != Name {
		return nil
	}
	b, _ := r.objs[v.Name].(*irp.Block)
	return b
}

// ---- the chooser ----

// Choose implements sim.Chooser from what the trace shows.
func (r *replayer) Choose(label string, n int) int {
	v, opt := r.choose(label, n)
	if v < 0 || v >= n {
		v = 0
	}
	if opt == "" {
		opt = fmt.Sprint(v)
		if c, ok := sim.LookupChoice(label); ok && v < len(c.Options) {
			opt = c.Options[v]
		}
	}
	if !strings.HasPrefix(label, "fault:") && !strings.HasPrefix(label, "trace.") {
		r.choices[[2]string{label, opt}]++
	}
	return v
}

func (r *replayer) choose(label string, n int) (int, string) {
	switch {
	case label == irp.ChoiceCompletionIRQL:
		// The complete being delivered: set by completeShown and by the
		// stand-in before it completes inline. Never scanned for, so a
		// pending completion costs no lookahead.
		c := r.lastComplete
		if c != nil && c.ev.IRQLSet && c.ev.IRQL >= nt.DISPATCH_LEVEL {
			return 1, ""
		}
		return 0, ""
	case strings.HasPrefix(label, "fault:"):
		if r.cur == nil || r.cur.ev.Kind != EvCall {
			return n - 1, "pass"
		}
		ret := r.findReturn(r.cur.ev.Seq)
		fail := false
		if ret != nil {
			switch {
			case ret.ev.HasValue && ret.ev.Value.Kind == Null:
				fail = true
			case ret.ev.HasStatus && (ret.ev.Status == nt.STATUS_INSUFFICIENT_RESOURCES || ret.ev.Status == nt.STATUS_NO_MEMORY):
				fail = true
			}
		}
		if fail {
			return 0, "fail"
		}
		return n - 1, "pass"
	case label == standinLabel:
		return r.inlineOrPending(), ""
	case label == wsk.ChoiceCancel:
		return r.cancelWins(), ""
	case label == wsk.ChoiceSendPartial || label == wsk.ChoiceReceivePartial:
		// Partial transfers are replayed by giving the model the length the
		// trace transferred (see wskBuf): the model then moves all of it.
		return 0, ""
	case label == wfp.ChoiceFilterTie:
		// The answers the env filter being added carries (its "tie").
		if len(r.fw.ties) > 0 {
			v := r.fw.ties[0]
			r.fw.ties = r.fw.ties[1:]
			return v, ""
		}
		return 0, ""
	case strings.HasPrefix(label, "wsk.event."):
		return r.eventChoice(label), ""
	}
	if c, ok := sim.LookupChoice(label); ok {
		if len(c.Options) == 2 && c.Options[0] == "inline" && c.Options[1] == "pending" {
			return r.inlineOrPending(), ""
		}
		// Options named by NTSTATUS: take the one the trace shows.
		if st, ok := r.observedStatus(); ok {
			for i, o := range c.Options {
				if o == st.String() && i < n {
					return i, o
				}
			}
		}
	}
	r.note(fmt.Sprintf("choice point %q was answered with its first option: the replayer cannot yet tell from the trace which option was taken", label))
	return 0, ""
}

const standinLabel = "trace.standin.complete"

// inlineOrPending answers an inline/pending choice for the call being
// replayed: inline when the IRP's complete comes before the call's return and
// the return is not STATUS_PENDING.
func (r *replayer) inlineOrPending() int {
	if r.cur == nil || r.cur.ev.Kind != EvCall {
		return 1
	}
	ev := r.cur.ev
	iv, _ := ev.Arg("Irp")
	ret := r.findReturn(ev.Seq)
	if ret != nil && ret.ev.HasStatus && ret.ev.Status == nt.STATUS_PENDING {
		return 1
	}
	if iv.Kind != Name {
		return 0
	}
	c := r.scan(func(q *qev) bool {
		return q == ret || (q.ev.Kind == EvComplete && q.ev.IRP == iv.Name && !q.matched)
	})
	if c != nil && c != ret {
		return 0
	}
	if ret != nil {
		return 0 // returned a final status without a completion the routine saw
	}
	return 1
}

// observedStatus is the status the trace shows for the current call: its
// IRP's completion, else its return.
func (r *replayer) observedStatus() (nt.Status, bool) {
	if r.cur == nil {
		return 0, false
	}
	ev := r.cur.ev
	if ev.Kind == EvComplete {
		return ev.Status, true
	}
	if ev.Kind != EvCall {
		return 0, false
	}
	if iv, ok := ev.Arg("Irp"); ok && iv.Kind == Name {
		if c := r.findComplete(iv.Name); c != nil && c.ev.Kind == EvComplete {
			return c.ev.Status, true
		}
		if c := r.completionEnv(iv.Name); c != nil {
			v, _ := c.ev.Arg("status")
			return v.St, true
		}
	}
	if ret := r.findReturn(ev.Seq); ret != nil && ret.ev.HasStatus {
		return ret.ev.Status, true
	}
	return 0, false
}
