package irp_test

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// This file holds the oracle of the state machine and fuzz tests: a plain
// model of the IRP and pool rules (semantics reference §6 and the rule table),
// written as a few flags per object without looking at how package irp keeps
// its state, and a harness that applies one operation to both the
// implementation and the model and compares the violations they report.
//
// The model is told the outcome of choice points (inline or pending, a fault
// drawn at a rate), as a replayed trace would be; everything else it predicts.

type mState int

const (
	mIdle mState = iota
	mInFlight
	mReturned // passed-down IRP handed back to the I/O manager
	mFreed
)

// routineSpec is what a test completion routine does.
type routineSpec struct {
	onSuccess, onError, onCancel bool
	ret                          nt.Status
	freeSelf                     bool // IoFreeIrp on its own IRP before returning
}

type mLend struct {
	blk     int
	off, n  uint64
	snap    []byte
	lentIRP int
}

type mIRP struct {
	name      string
	owned     bool
	state     mState
	stackSize int
	stack     int
	needReuse bool
	routine   *routineSpec
	cancelled bool
	cancelRtn bool
	fn        string
	gen       int
	lends     []mLend
}

type mBlock struct {
	name  string
	tag   uint32
	data  []byte
	freed bool
	lent  int
}

type mPend struct {
	irp  int
	gen  int
	st   nt.Status
	info uint64
}

type model struct {
	irps      []*mIRP
	blocks    []*mBlock
	nIRP      int
	nPool     int
	poolBytes uint64
	budget    uint64
	failNext  map[string]int
	rate      map[string]int
	irql      nt.IRQL
	calls     []string
	queue     []mPend
	viols     []V
	err       string // the implementation did something the model cannot explain
}

func newModel(budget uint64) *model {
	return &model{budget: budget, failNext: map[string]int{}, rate: map[string]int{}}
}

func (md *model) call() string {
	if len(md.calls) == 0 {
		return ""
	}
	return md.calls[len(md.calls)-1]
}

func (md *model) violate(rule string, objs ...string) {
	md.viols = append(md.viols, V{Rule: rule, Call: md.call(), Objects: objs})
}

// begin enters a call; driver-facing routines (max DISPATCH_LEVEL) check the IRQL.
func (md *model) begin(fn string, checkIRQL bool) {
	md.calls = append(md.calls, fn)
	if checkIRQL && md.irql > nt.DISPATCH_LEVEL {
		md.violate(sim.RuleIRQLAboveMax)
	}
}

func (md *model) end() { md.calls = md.calls[:len(md.calls)-1] }

func (md *model) fault(site string, failed bool) bool {
	switch {
	case md.failNext[site] > 0:
		md.failNext[site]--
		if !failed {
			md.err = site + ": FailNext did not fail"
		}
		return true
	case md.rate[site] == 0 || md.rate[site] == 1000:
		if failed != (md.rate[site] == 1000) {
			md.err = fmt.Sprintf("%s at rate %d: failed = %t", site, md.rate[site], failed)
		}
		return md.rate[site] == 1000
	}
	return failed // drawn by the chooser: the model is told
}

// use is the check every IRP routine makes first: NULL and freed IRPs.
func (md *model) use(k int) *mIRP {
	if k < 0 {
		md.violate(irp.RuleNullIRP)
		return nil
	}
	i := md.irps[k]
	if i.state == mFreed {
		md.violate(irp.RuleUseAfterFree, i.name)
		return nil
	}
	return i
}

func (md *model) allocIRP(stack int, gotNil bool) int {
	md.begin("IoAllocateIrp", true)
	defer md.end()
	if stack < 1 || stack > 127 {
		md.violate(irp.RuleBadStackSize)
		return -1
	}
	if md.fault(irp.FaultIRPAlloc, gotNil) {
		return -1
	}
	return md.newIRP(stack, true)
}

func (md *model) newIRP(stack int, owned bool) int {
	md.nIRP++
	md.irps = append(md.irps, &mIRP{name: fmt.Sprint("irp", md.nIRP), owned: owned, stackSize: stack, stack: stack})
	return len(md.irps) - 1
}

func (md *model) reuse(k int) {
	md.begin("IoReuseIrp", true)
	defer md.end()
	i := md.use(k)
	switch {
	case i == nil:
	case i.state == mInFlight:
		md.violate(irp.RuleReuseInFlight, i.name)
	case !i.owned:
		md.violate(irp.RuleFreeForeign, i.name)
	default:
		i.stack, i.needReuse, i.routine, i.cancelled, i.cancelRtn = i.stackSize, false, nil, false, false
	}
}

func (md *model) setRoutine(k int, r *routineSpec) {
	md.begin("IoSetCompletionRoutine", true)
	defer md.end()
	i := md.use(k)
	switch {
	case i == nil:
	case i.state == mInFlight:
		md.violate(irp.RuleResubmitInFlight, i.name)
	case i.state == mReturned:
		md.violate(irp.RuleUseAfterFree, i.name)
	default:
		i.routine = r
	}
}

func (md *model) freeIRP(k int) {
	md.begin("IoFreeIrp", true)
	defer md.end()
	i := md.use(k)
	switch {
	case i == nil:
	case !i.owned:
		md.violate(irp.RuleFreeForeign, i.name)
	case i.state == mInFlight:
		md.violate(irp.RuleFreeInFlight, i.name)
	default:
		i.state = mFreed
	}
}

// submit is the start of a provider call: it reports whether the IRP was taken.
func (md *model) submit(k int, fn string) bool {
	i := md.use(k)
	switch {
	case i == nil:
		return false
	case i.state == mInFlight:
		md.violate(irp.RuleResubmitInFlight, i.name)
		return false
	case i.state == mReturned:
		md.violate(irp.RuleUseAfterFree, i.name)
		return false
	case i.stack < 1:
		md.violate(irp.RuleNoStackLocation, i.name)
		return false
	}
	if i.owned {
		if i.needReuse {
			md.violate(irp.RuleResubmitNoReuse, i.name)
		}
		if i.routine == nil {
			md.violate(irp.RuleNoRoutine, i.name)
		} else if r := i.routine; !(r.onSuccess && r.onError && r.onCancel) {
			md.violate(irp.RuleInvokeFlags, i.name)
		}
	}
	i.state, i.fn, i.lends = mInFlight, fn, nil
	i.stack--
	i.gen++
	return true
}

// lend reports whether block b (-1: NULL) was lent to in-flight IRP k.
func (md *model) lend(k, b int, off, n uint64) bool {
	if b < 0 {
		return false
	}
	blk, i := md.blocks[b], md.irps[k]
	size := uint64(len(blk.data))
	switch {
	case blk.freed:
		md.violate(irp.RulePoolUseAfterFree, blk.name, i.name)
		return false
	case off > size || n > size-off:
		md.violate(irp.RuleBufOverrun, blk.name, i.name)
		return false
	}
	i.lends = append(i.lends, mLend{blk: b, off: off, n: n, snap: slices.Clone(blk.data[off : off+n])})
	blk.lent++
	return true
}

// complete is the completion walk of in-flight IRP k.
func (md *model) complete(k int, st nt.Status) {
	i := md.irps[k]
	for _, l := range i.lends {
		blk := md.blocks[l.blk]
		if !blk.freed && !bytes.Equal(l.snap, blk.data[l.off:l.off+l.n]) {
			md.violate(irp.RuleBufWriteWhileLent, blk.name, i.name)
		}
		blk.lent--
	}
	i.lends, i.cancelRtn, i.state, i.needReuse = nil, false, mIdle, i.owned
	i.stack++
	r := i.routine
	success := st <= 0x7FFFFFFF // NT_SUCCESS
	if r == nil || !((success && r.onSuccess) || (!success && r.onError) || (i.cancelled && r.onCancel)) {
		if !i.owned {
			i.state = mReturned
		}
		return
	}
	saved := md.irql
	md.irql = nt.PASSIVE_LEVEL // PASSIVE or DISPATCH: both allowed for what the routine calls
	if r.freeSelf {
		md.freeIRP(k)
	}
	md.irql = saved
	if r.ret != nt.STATUS_MORE_PROCESSING_REQUIRED {
		if i.owned {
			md.violate(irp.RuleRoutineReturn, i.name)
		} else if i.state == mIdle {
			i.state = mReturned
		}
	}
}

func (md *model) step() {
	if len(md.queue) == 0 {
		return
	}
	p := md.queue[0]
	md.queue = md.queue[1:]
	if i := md.irps[p.irp]; i.state == mInFlight && i.gen == p.gen {
		md.complete(p.irp, p.st)
	}
}

func (md *model) cancel(k int) bool {
	md.begin("IoCancelIrp", true)
	defer md.end()
	i := md.use(k)
	if i == nil {
		return false
	}
	if i.state == mReturned {
		md.violate(irp.RuleUseAfterFree, i.name)
		return false
	}
	i.cancelled = true
	if i.cancelRtn && i.state == mInFlight {
		i.cancelRtn = false
		md.complete(k, nt.STATUS_CANCELLED) // what the test's cancel routine does
		return true
	}
	return false
}

func (md *model) completeRequest(k int, st nt.Status) {
	md.begin("IoCompleteRequest", true)
	defer md.end()
	i := md.use(k)
	switch {
	case i == nil:
	case i.owned:
		md.violate(irp.RuleCompleteOwn, i.name)
	case i.state == mReturned:
		md.violate(irp.RuleDoubleComplete, i.name)
	case i.state != mIdle:
		md.violate(irp.RuleCompleteNotOwned, i.name)
	case st == nt.STATUS_PENDING:
		md.violate(irp.RuleCompletePending, i.name)
	case i.cancelRtn:
		md.violate(irp.RuleCompleteCancelSet, i.name)
	default:
		i.state = mReturned
	}
}

func (md *model) allocPool(size uint64, tag uint32, gotNil bool) int {
	md.begin("ExAllocatePool2", true)
	defer md.end()
	if size > md.budget || md.poolBytes > md.budget-size {
		return -1
	}
	if md.fault(irp.FaultPoolAlloc, gotNil) {
		return -1
	}
	md.nPool++
	md.poolBytes += size
	md.blocks = append(md.blocks, &mBlock{name: fmt.Sprint("pool", md.nPool), tag: tag, data: make([]byte, size)})
	return len(md.blocks) - 1
}

func (md *model) freePool(b int, fn string, withTag bool, tag uint32) {
	md.begin(fn, true)
	defer md.end()
	if b < 0 {
		md.violate(irp.RulePoolNull)
		return
	}
	blk := md.blocks[b]
	if blk.freed {
		md.violate(irp.RulePoolDoubleFree, blk.name)
		return
	}
	if withTag && tag != blk.tag {
		md.violate(irp.RulePoolTagMismatch, blk.name)
	}
	if blk.lent > 0 {
		md.violate(irp.RulePoolFreeWhileLent, blk.name)
	}
	blk.freed = true
	md.poolBytes -= uint64(len(blk.data))
}

func (md *model) write(b int, pos int, val byte) {
	blk := md.blocks[b]
	if blk.freed {
		md.violate(irp.RulePoolUseAfterFree, blk.name)
		return
	}
	if len(blk.data) > 0 {
		blk.data[pos%len(blk.data)] = val
	}
}

// close is the leak check: driver-allocated IRPs not freed and not in flight,
// then pool blocks not freed, each in creation order.
func (md *model) close() {
	for _, i := range md.irps {
		if i.owned && (i.state == mIdle) {
			md.violate(irp.RuleLeak, i.name)
		}
	}
	for _, b := range md.blocks {
		if !b.freed {
			md.violate(irp.RulePoolLeak, b.name)
		}
	}
}

// ---- the harness: one operation on both sides ----

type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

type harness struct {
	w      *sim.World
	m      *irp.Manager
	md     *model
	irps   []*irp.IRP
	blocks []*irp.Block
	ops    []string // what ran, for failure messages
	bad    string   // set by a routine that saw something wrong
}

const harnessBudget = 64

func newHarness(c sim.Chooser) *harness {
	w := sim.NewWorld(sim.Config{Seed: 1, Chooser: c})
	m := irp.NewManager(w)
	m.PoolBudget = harnessBudget
	return &harness{w: w, m: m, md: newModel(harnessBudget)}
}

func (h *harness) logf(format string, args ...any) {
	h.ops = append(h.ops, fmt.Sprintf(format, args...))
}

func (h *harness) irp(k int) *irp.IRP {
	if k < 0 {
		return nil
	}
	return h.irps[k]
}

func (h *harness) block(k int) *irp.Block {
	if k < 0 {
		return nil
	}
	return h.blocks[k]
}

type routineCtx struct {
	h    *harness
	spec routineSpec
}

func testRoutine(i *irp.IRP, ctx any) nt.Status {
	c := ctx.(*routineCtx)
	if l := c.h.w.IRQL(); l != nt.PASSIVE_LEVEL && l != nt.DISPATCH_LEVEL {
		c.h.bad = fmt.Sprintf("completion routine of %s ran at %v", i.Name(), l)
	}
	if !c.h.w.InCompletion() {
		c.h.bad = "completion routine ran outside InCompletion"
	}
	if c.spec.freeSelf {
		c.h.m.IoFreeIrp(i)
	}
	return c.spec.ret
}

func (h *harness) allocIRP(stack int) {
	h.logf("IoAllocateIrp(%d)", stack)
	i := h.m.IoAllocateIrp(stack, false)
	k := h.md.allocIRP(stack, i == nil)
	if (k < 0) != (i == nil) {
		h.md.err = fmt.Sprintf("IoAllocateIrp(%d) = %v, model index %d", stack, i, k)
		return
	}
	if i != nil {
		h.irps = append(h.irps, i)
	}
}

func (h *harness) passedDown(n int) {
	h.logf("NewPassedDownIrp(%d)", n)
	i, err := h.m.NewPassedDownIrp(n)
	if err != nil {
		h.md.err = err.Error()
		return
	}
	h.irps = append(h.irps, i)
	h.md.newIRP(n, false)
}

func (h *harness) reuse(k int) {
	h.logf("IoReuseIrp(%s)", h.irp(k).Name())
	h.m.IoReuseIrp(h.irp(k), nt.STATUS_UNSUCCESSFUL)
	h.md.reuse(k)
}

func (h *harness) setRoutine(k int, r *routineSpec) {
	h.logf("IoSetCompletionRoutine(%s, %v)", h.irp(k).Name(), r)
	if r == nil {
		h.m.IoSetCompletionRoutine(h.irp(k), nil, nil, true, true, true)
	} else {
		h.m.IoSetCompletionRoutine(h.irp(k), testRoutine, &routineCtx{h: h, spec: *r}, r.onSuccess, r.onError, r.onCancel)
	}
	h.md.setRoutine(k, r)
}

type lendSpec struct {
	blk    int
	off, n uint64
}

// Completion modes of submit.
const (
	modeFinish = iota // Finish: inline or pending as the choice point says
	modeHold          // MarkPending: the IRP waits for providerComplete or a cancel
)

func (h *harness) submit(k int, fn string, lends []lendSpec, mode int, cancelable bool, st nt.Status, info uint64) {
	h.logf("%s(%s, lends %v, mode %d, cancelable %t, %v)", fn, h.irp(k).Name(), lends, mode, cancelable, st)
	i := h.irp(k)
	// The implementation.
	f := h.w.Begin(fn)
	r := nt.STATUS_INVALID_PARAMETER
	ok := h.m.Submit(i, fn)
	lent := 0
	if ok {
		for _, l := range lends {
			if !h.m.Lend(i, h.block(l.blk), l.off, l.n) {
				break
			}
			lent++
		}
		switch {
		case lent < len(lends):
			h.m.Complete(i, nt.STATUS_INVALID_PARAMETER, 0)
		case mode == modeHold:
			h.m.MarkPending(i)
			r = nt.STATUS_PENDING
		default:
			if cancelable {
				// Settable before Finish: a pended IRP stays cancelable, an
				// inline completion clears the routine.
				h.m.SetCancelRoutine(i, h.cancelRoutine)
			}
			r = h.m.Finish(i, choiceFinish, st, info)
		}
		if mode == modeHold && lent == len(lends) && cancelable {
			h.m.SetCancelRoutine(i, h.cancelRoutine)
		}
	}
	h.w.Return(f, r)

	// The model.
	md := h.md
	md.begin(fn, false)
	defer md.end()
	if !md.submit(k, fn) {
		if ok {
			md.err = fn + ": Submit took an IRP the model refuses"
		}
		return
	}
	if !ok {
		md.err = fn + ": Submit refused an IRP the model takes"
		return
	}
	for _, l := range lends {
		if !md.lend(k, l.blk, l.off, l.n) {
			md.complete(k, nt.STATUS_INVALID_PARAMETER)
			return
		}
	}
	mi := md.irps[k]
	if cancelable {
		mi.cancelRtn = true
	}
	switch {
	case mode == modeHold:
	case r == nt.STATUS_PENDING:
		md.queue = append(md.queue, mPend{irp: k, gen: mi.gen, st: st, info: info})
	case r == st:
		md.complete(k, st)
	default:
		md.err = fmt.Sprintf("%s: Finish returned %v for %v", fn, r, st)
	}
}

func (h *harness) cancelRoutine(i *irp.IRP) { h.m.Complete(i, nt.STATUS_CANCELLED, 0) }

// providerComplete completes an in-flight IRP as the network would.
func (h *harness) providerComplete(k int, st nt.Status) {
	if k < 0 || !h.irps[k].InFlight() {
		return
	}
	h.logf("Complete(%s, %v)", h.irps[k].Name(), st)
	h.m.Complete(h.irps[k], st, 0)
	if h.md.irps[k].state != mInFlight {
		h.md.err = "Complete of an IRP the model has not in flight"
		return
	}
	h.md.complete(k, st)
}

func (h *harness) step() {
	h.logf("Step")
	h.w.Step()
	h.md.step()
}

func (h *harness) freeIRP(k int) {
	h.logf("IoFreeIrp(%s)", h.irp(k).Name())
	h.m.IoFreeIrp(h.irp(k))
	h.md.freeIRP(k)
}

func (h *harness) cancel(k int) {
	h.logf("IoCancelIrp(%s)", h.irp(k).Name())
	got := h.m.IoCancelIrp(h.irp(k))
	if want := h.md.cancel(k); got != want {
		h.md.err = fmt.Sprintf("IoCancelIrp = %t, model %t", got, want)
	}
}

func (h *harness) completeRequest(k int, st nt.Status) {
	h.logf("IoCompleteRequest(%s, %v)", h.irp(k).Name(), st)
	h.m.IoCompleteRequest(h.irp(k), st, 0)
	h.md.completeRequest(k, st)
}

func (h *harness) allocPool(size uint64, tag uint32) {
	h.logf("ExAllocatePool2(%d, %s)", size, irp.TagString(tag))
	b := h.m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, size, tag)
	k := h.md.allocPool(size, tag, b == nil)
	if (k < 0) != (b == nil) {
		h.md.err = fmt.Sprintf("ExAllocatePool2(%d) = %v, model index %d", size, b, k)
		return
	}
	if b != nil {
		h.blocks = append(h.blocks, b)
	}
}

// Ways to free a pool block.
const (
	freePlain    = iota // ExFreePool
	freeTagRight        // ExFreePoolWithTag with the block's tag
	freeTagWrong        // ExFreePoolWithTag with another tag
)

func (h *harness) freePool(k, how int) {
	b := h.block(k)
	h.logf("free(%s, %d)", b.Name(), how)
	var tag uint32
	if b != nil {
		tag = b.Tag()
	}
	switch how {
	case freePlain:
		h.m.ExFreePool(b)
		h.md.freePool(k, "ExFreePool", false, 0)
	case freeTagRight:
		h.m.ExFreePoolWithTag(b, tag)
		h.md.freePool(k, "ExFreePoolWithTag", true, tag)
	default:
		h.m.ExFreePoolWithTag(b, tag^0x20)
		h.md.freePool(k, "ExFreePoolWithTag", true, tag^0x20)
	}
}

func (h *harness) write(k, pos int, val byte) {
	if k < 0 {
		return
	}
	h.logf("write(%s[%d] = %d)", h.blocks[k].Name(), pos, val)
	if p := h.blocks[k].Bytes(); len(p) > 0 {
		p[pos%len(p)] = val
	}
	h.md.write(k, pos, val)
}

func (h *harness) setIRQL(l nt.IRQL) {
	h.logf("SetIRQL(%v)", l)
	h.w.SetIRQL(l)
	h.md.irql = l
}

func (h *harness) failNext(site string, n int) {
	h.logf("FailNext(%s, %d)", site, n)
	if err := h.w.FailNext(site, n); err != nil {
		h.md.err = err.Error()
	}
	h.md.failNext[site] = n
}

func (h *harness) setFaultRate(site string, r int) {
	h.logf("SetFaultRate(%s, %d)", site, r)
	if err := h.w.SetFaultRate(site, r); err != nil {
		h.md.err = err.Error()
	}
	h.md.rate[site] = r
}

// pin pins (v >= 0) or unpins (v < 0) a choice point.
func (h *harness) pin(label string, v int) {
	h.logf("Pin(%s, %d)", label, v)
	if v < 0 {
		h.w.Unpin(label)
	} else if err := h.w.Pin(label, v); err != nil {
		h.md.err = err.Error()
	}
}

func (h *harness) close() {
	h.logf("Close")
	for len(h.md.calls) > 0 {
		h.md.end()
	}
	h.w.SetIRQL(nt.PASSIVE_LEVEL)
	h.md.irql = nt.PASSIVE_LEVEL
	if err := h.w.Close(); err != nil {
		h.md.err = err.Error()
	}
	h.md.close()
}

// check compares the implementation with the model after an operation.
func (h *harness) check(t fataler) {
	t.Helper()
	if h.md.err != "" || h.bad != "" {
		t.Fatalf("after %v:\n%s%s", h.ops, h.md.err, h.bad)
	}
	if got := h.w.Violations(); !sameViolations(h.md.viols, got) {
		t.Fatalf("after %v:\nviolations (-model +implementation):\n%s", h.ops, cmp.Diff(h.md.viols, project(got), cmpV...))
	}
	for k, i := range h.irps {
		mi := h.md.irps[k]
		if i.InFlight() != (mi.state == mInFlight) || i.Freed() != (mi.state == mFreed) {
			t.Fatalf("after %v:\n%v: model state %d", h.ops, i, mi.state)
		}
	}
	for k, b := range h.blocks {
		mb := h.md.blocks[k]
		if b.Freed() != mb.freed || b.Lent() != (mb.lent > 0) {
			t.Fatalf("after %v:\n%s: freed %t lent %t, model %+v", h.ops, b.Name(), b.Freed(), b.Lent(), mb)
		}
	}
	if h.w.InCompletion() || h.w.IRQL() != h.md.irql {
		t.Fatalf("after %v: InCompletion %t, IRQL %v, model IRQL %v", h.ops, h.w.InCompletion(), h.w.IRQL(), h.md.irql)
	}
}

func (r *routineSpec) String() string {
	if r == nil {
		return "NULL"
	}
	return fmt.Sprintf("{S%t E%t C%t returns %v free %t}", r.onSuccess, r.onError, r.onCancel, r.ret, r.freeSelf)
}

// sameViolations is the quick form of the cmp.Diff in check, which runs once
// per operation.
func sameViolations(want []V, got []sim.Violation) bool {
	if len(want) != len(got) {
		return false
	}
	for k, v := range want {
		if v.Rule != got[k].Rule || v.Call != got[k].Call || !slices.Equal(v.Objects, got[k].Objects) {
			return false
		}
	}
	return true
}
