package irp

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// This file is the provider side: what the WSK subsystem (package wsk) does with
// an IRP a driver hands it. The driver under test never calls these.

// Submit takes ownership of IRP i for the call named fn (the call in progress).
// It reports every misuse the I/O manager or Driver Verifier would catch and
// returns false when the IRP cannot be used at all (NULL, freed, in flight, no
// stack location left); the provider then fails the call with
// STATUS_INVALID_PARAMETER without completing the IRP (policy P-BADIRP).
func (m *Manager) Submit(i *IRP, fn string) bool {
	if !m.checkUse(i, fn) {
		return false
	}
	switch i.st {
	case stInFlight:
		m.w.Violate(RuleResubmitInFlight, fmt.Sprintf("%s given %s while %s (seq %d) still owns it", fn, i.Name(), i.submittedTo, i.submitSeq), i.Name())
		return false
	case stReturned:
		m.w.Violate(RuleUseAfterFree, fn+" given "+i.Name()+" after it was completed back to the I/O manager", i.Name())
		return false
	}
	if i.curLoc < 1 {
		m.w.Violate(RuleNoStackLocation, fmt.Sprintf("%s given %s with no stack location left (StackSize %d)", fn, i.Name(), i.stackSize), i.Name())
		return false
	}
	if i.owned {
		if i.needReuse {
			m.w.Violate(RuleResubmitNoReuse, fn+" given "+i.Name()+", completed earlier, without IoReuseIrp first", i.Name())
		}
		if !i.routineSet {
			m.w.Violate(RuleNoRoutine, fn+" given driver-allocated "+i.Name()+" with no completion routine set", i.Name())
		} else if !(i.onSuccess && i.onError && i.onCancel) {
			m.w.Violate(RuleInvokeFlags, fmt.Sprintf("%s given %s whose routine was set with InvokeOnSuccess=%t InvokeOnError=%t InvokeOnCancel=%t", fn, i.Name(), i.onSuccess, i.onError, i.onCancel), i.Name())
		}
	}
	i.st = stInFlight
	i.curLoc--
	i.submittedTo = fn
	i.submitSeq = 0
	i.submitGen++
	if f, ok := m.w.Current(); ok {
		i.submitSeq = f.Seq
	}
	i.PendingReturned = false
	i.lends = i.lends[:0]
	i.traceInfoObj = ""
	i.traceOut = nil
	return true
}

// Lend lends [off, off+n) of block b to the in-flight IRP i until it completes.
// A freed block is POOL-USE-AFTER-FREE and a range past the block's end is
// BUF-OVERRUN; both return false (the provider then fails the call). A nil
// block returns false without a violation: whether NULL is allowed is the
// calling function's rule.
func (m *Manager) Lend(i *IRP, b *Block, off, n uint64) bool {
	if b == nil || i == nil || i.st != stInFlight {
		return false
	}
	if !m.mine(i, "Lend") {
		return false
	}
	// b may belong to another Manager: the replay lends scratch blocks of its
	// own, which are not the driver's memory. Lending touches only the block's
	// loan count, never either manager's accounting.
	if b.freed {
		m.w.Violate(RulePoolUseAfterFree, fmt.Sprintf("%s given %s after it was freed", i.submittedTo, b.Name()), b.Name(), i.Name())
		return false
	}
	size := uint64(len(b.data))
	if off > size || n > size-off {
		m.w.Violate(RuleBufOverrun, fmt.Sprintf("%s given %d bytes at offset %d of %s, which holds %d", i.submittedTo, n, off, b.Name(), size), b.Name(), i.Name())
		return false
	}
	var l *lend
	if len(i.lends) < cap(i.lends) {
		i.lends = i.lends[:len(i.lends)+1]
		l = &i.lends[len(i.lends)-1]
	} else {
		i.lends = append(i.lends, lend{})
		l = &i.lends[len(i.lends)-1]
	}
	l.b, l.off, l.n = b, off, n
	l.snap = append(l.snap[:0], b.data[off:off+n]...)
	b.lent++
	return true
}

// Deliver writes src into the lent range of b starting at off, as the provider
// filling an output buffer. It first checks that the driver has not written the
// range while it was lent. It returns how many bytes it wrote.
func (m *Manager) Deliver(i *IRP, b *Block, off uint64, src []byte) uint64 {
	if i == nil || b == nil {
		m.w.Misuse("irp.Manager.Deliver", "nil IRP or block; nothing was written")
		return 0
	}
	for k := range i.lends {
		l := &i.lends[k]
		if l.b != b || off < l.off || off-l.off > l.n || uint64(len(src)) > l.n-(off-l.off) {
			continue
		}
		if b.lent == 1 {
			m.checkLend(i, l)
			copy(b.data[off:], src)
			copy(l.snap[off-l.off:], src)
			return uint64(len(src))
		}
		// The block is lent more than once (a WskReceiveFrom whose Buffer and
		// ControlInfo share a block, or two calls given overlapping memory):
		// check every loan the write touches before it, and refresh each one's
		// snapshot after it, so the provider's own write is never taken for the
		// driver's.
		end := off + uint64(len(src))
		m.eachLoanOverlapping(b, off, end, m.checkLend)
		copy(b.data[off:], src)
		m.eachLoanOverlapping(b, off, end, func(_ *IRP, o *lend) {
			copy(o.snap, b.data[o.off:o.off+o.n])
		})
		return uint64(len(src))
	}
	panic(fmt.Sprintf("irp: internal: Deliver of %d bytes at %d of %s outside every lent range of %s", len(src), off, b.Name(), i.Name()))
}

// eachLoanOverlapping calls fn for every loan of b, by any in-flight IRP of
// m, whose range meets [off, end).
func (m *Manager) eachLoanOverlapping(b *Block, off, end uint64, fn func(*IRP, *lend)) {
	for _, j := range m.live {
		if j.st != stInFlight {
			continue
		}
		for k := range j.lends {
			o := &j.lends[k]
			if o.b == b && o.off < end && off < o.off+o.n {
				fn(j, o)
			}
		}
	}
}

func (m *Manager) checkLend(i *IRP, l *lend) {
	if l.b.freed {
		return // reported when it was freed
	}
	if !bytes.Equal(l.snap, l.b.data[l.off:l.off+l.n]) {
		m.w.Violate(RuleBufWriteWhileLent, fmt.Sprintf("%s was written while lent to %s for %s", l.b.Name(), i.Name(), i.submittedTo), l.b.Name(), i.Name())
		copy(l.snap, l.b.data[l.off:l.off+l.n])
	}
}

// SetCancelRoutine sets or clears the cancel routine of an in-flight IRP.
func (m *Manager) SetCancelRoutine(i *IRP, r CancelRoutine) {
	if i == nil {
		m.w.Misuse("irp.Manager.SetCancelRoutine", "nil IRP")
		return
	}
	i.cancelRtn = r
}

// MarkPending records that the call owning i is returning STATUS_PENDING.
func (m *Manager) MarkPending(i *IRP) {
	if i == nil {
		m.w.Misuse("irp.Manager.MarkPending", "nil IRP")
		return
	}
	i.PendingReturned = true
}

// TraceDetail attaches trace-only details to the next completion of i: an
// object name bound by Information (a new socket) and out-parameters. Call it
// only when the world is tracing.
func (m *Manager) TraceDetail(i *IRP, infoBind string, out ...sim.Field) {
	i.traceInfoObj = infoBind
	i.traceOut = out
}

// Finish completes i for the call in progress, inline or pending: the choice
// point label decides (0 = inline, 1 = pending). Inline, the completion routine
// runs before Finish returns and Finish returns st; pending, the completion runs
// after Manager.PendingDelay of virtual time and Finish returns STATUS_PENDING.
// The caller must not touch i after Finish.
func (m *Manager) Finish(i *IRP, label string, st nt.Status, info uint64) nt.Status {
	if m.w.Choose(label, 2) == 0 {
		m.Complete(i, st, info)
		return st
	}
	m.CompleteLater(i, st, info, m.PendingDelay)
	return nt.STATUS_PENDING
}

// CompleteLater marks i pending and schedules its completion after d.
func (m *Manager) CompleteLater(i *IRP, st nt.Status, info uint64, d sim.Time) {
	i.PendingReturned = true
	i.pendStatus, i.pendInfo = st, info
	i.pendScheduled = true
	m.w.Schedule(d, &pendTask{i: i, gen: i.submitGen})
}

// pendTask completes the submission gen of an IRP. It does nothing when that
// submission already ended (cancelled, closed), even if the IRP was reused and
// submitted again meanwhile.
type pendTask struct {
	i   *IRP
	gen uint64
}

// CompleteNow runs, now, the completion CompleteLater scheduled for i, instead
// of at its virtual time. Replay uses it to follow the completion order a trace
// shows. It returns false when i has no scheduled completion.
func (m *Manager) CompleteNow(i *IRP) bool {
	if i == nil || i.st != stInFlight || !i.pendScheduled {
		return false
	}
	m.Complete(i, i.pendStatus, i.pendInfo)
	return true
}

func (t *pendTask) Run() {
	i := t.i
	if i.st != stInFlight || i.submitGen != t.gen {
		return // completed meanwhile (cancelled, closed)
	}
	i.m.Complete(i, i.pendStatus, i.pendInfo)
}

// Complete runs the completion walk for in-flight IRP i: it returns the lent
// buffers (checking they were not written), sets IoStatus, and calls the
// completion routine when its InvokeOn flags select it, at an IRQL drawn from
// choice point irp.completion-irql. A routine of a driver-allocated IRP that
// returns anything but STATUS_MORE_PROCESSING_REQUIRED is IRP-ROUTINE-RETURN.
func (m *Manager) Complete(i *IRP, st nt.Status, info uint64) {
	if i == nil || i.st != stInFlight {
		panic("irp: internal: Complete of an IRP that is not in flight: " + i.String())
	}
	if st == nt.STATUS_PENDING {
		panic("irp: internal: provider completed " + i.Name() + " with STATUS_PENDING")
	}
	for k := range i.lends {
		l := &i.lends[k]
		m.checkLend(i, l)
		l.b.lent--
		l.b = nil
	}
	i.lends = i.lends[:0]
	i.cancelRtn = nil
	i.pendScheduled = false
	i.IoStatus = IoStatusBlock{Status: st, Information: info}
	i.st = stIdle
	i.curLoc++
	i.needReuse = i.owned
	run := i.routineSet && ((st.IsSuccess() && i.onSuccess) || (!st.IsSuccess() && i.onError) || (i.Cancel && i.onCancel))
	if !run {
		// No routine sees this completion; the trace still says when it
		// happened (env irp_completed), so a replay orders it as the run did.
		// The event takes its seq whether or not the world traces.
		name := ""
		if m.w.Tracing() {
			name = i.Name()
		}
		m.w.TraceEnv("irp_completed", sim.F("irp", sim.Str(name)), sim.F("status", sim.Status(st)), sim.F("information", sim.Int(info)))
		if !i.owned {
			i.st = stReturned
			m.unlive(i)
		}
		return
	}
	// TraceCompleteBegin takes the complete event's seq whether or not the
	// world traces, so seq numbers agree between traced and untraced runs.
	infoV := sim.Int(info)
	name := ""
	if m.w.Tracing() {
		if i.traceInfoObj != "" {
			infoV = sim.Bind(i.traceInfoObj)
		}
		name = i.Name()
	}
	tok := m.w.TraceCompleteBegin(name, st, infoV, i.PendingReturned, i.traceOut...)
	irql := nt.PASSIVE_LEVEL
	if m.w.Choose(ChoiceCompletionIRQL, 2) == 1 {
		irql = nt.DISPATCH_LEVEL
	}
	fn := i.submittedTo
	old := m.w.SetIRQL(irql)
	m.w.EnterCompletion()
	r := i.routine(i, i.routineCtx)
	m.w.LeaveCompletion()
	m.w.SetIRQL(old)
	m.w.TraceCompleteEnd(tok, r)
	if r != nt.STATUS_MORE_PROCESSING_REQUIRED {
		if i.owned {
			m.w.Violate(RuleRoutineReturn, fmt.Sprintf("the completion routine of driver-allocated %s, completing %s, returned %s; the I/O manager would go on to complete and free it", i.Name(), fn, r), i.Name())
		} else if i.st == stIdle {
			i.st = stReturned
			m.unlive(i)
		}
	}
}

// ---- leaks ----

func (m *Manager) checkLeaks() {
	for _, i := range m.Live() {
		switch {
		case i.st == stInFlight:
			// The provider's own liveness is checked by the provider.
		case i.owned:
			m.w.Violate(RuleLeak, fmt.Sprintf("%s, allocated by IoAllocateIrp at seq %d, was never freed", i.Name(), i.allocSeq), i.Name())
		}
	}
	blocks := append([]*Block(nil), m.blocks...)
	sort.Slice(blocks, func(a, b int) bool { return blocks[a].num < blocks[b].num })
	for _, b := range blocks {
		m.w.Violate(RulePoolLeak, fmt.Sprintf("%s (tag %s, %d bytes), allocated by ExAllocatePool2 at seq %d, was never freed", b.Name(), TagString(b.tag), len(b.data), b.allocSeq), b.Name())
	}
}

// Live returns the IRPs not yet freed or handed back, in a stable order (by name).
func (m *Manager) Live() []*IRP {
	out := append([]*IRP(nil), m.live...)
	sortIRPs(out)
	return out
}

func sortIRPs(s []*IRP) { sort.Slice(s, func(a, b int) bool { return s[a].num < s[b].num }) }
