package trace

import (
	"fmt"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// Documents divergences cite.
const (
	docIRPs     = "https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions"
	docCtrl     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_control_socket"
	docAllocIrp = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioallocateirp"
	docCancel   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iocancelirp"
	docPool2    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exallocatepool2"
	docSpec     = "wsktrace v1, \"Replay verdicts\" (a model completion the trace never shows, or the reverse, is a divergence)"
	docIOSB     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/ns-wdm-_io_status_block"
)

// alignSeq advances the world's sequence numbers so that the model's next
// seq is the trace's seq: details the model writes ("allocated at seq 5")
// then name trace seqs. Gaps larger than 1<<16 are left unaligned.
func (r *replayer) alignSeq(seq uint64) {
	if seq > 0 {
		r.w.SetSeq(seq - 1)
	}
}

func (r *replayer) step(q *qev) {
	ev := q.ev
	switch ev.Kind {
	case EvCall:
		r.alignSeq(ev.Seq)
		r.w.SetIRQL(ev.IRQL)
		if r.callLines == nil || len(r.callLines) > 4096 {
			r.callLines = map[uint64]int{}
		}
		r.callLines[ev.Seq] = ev.Line
		defer delete(r.callLines, ev.Seq)
		r.call(q)
		r.w.SetIRQL(nt.PASSIVE_LEVEL)
	case EvReturn:
		// Returns are checked when their call is replayed; a VOID call's
		// optional return carries nothing to check.
	case EvComplete:
		r.alignSeq(ev.Seq)
		r.completeShown(q)
	case EvEnv:
		r.alignSeq(ev.Seq)
		r.env(q)
	case EvCallback:
		r.alignSeq(ev.Seq)
		r.callbackShown(q)
	case EvCallbackReturn:
		// Matched by the callback it returns from (evreplay.go).
	case EvNote:
		if u, ok := parseUnsupported(ev.Seq, ev.Text); ok && len(r.rep.Unsupported) < 1000 {
			r.rep.Unsupported = append(r.rep.Unsupported, u)
		}
	}
}

func callName(ev *Event) string {
	if ev == nil {
		return "?"
	}
	return fmt.Sprintf("%s (seq %d)", ev.Fn, ev.Seq)
}

// completeShown handles a complete the model has not produced yet: the model
// must complete that IRP now (it runs its queued work until it does).
func (r *replayer) completeShown(q *qev) {
	ev := q.ev
	i, _ := r.objs[ev.IRP].(*irp.IRP)
	wasInFlight := i != nil && i.InFlight()
	r.lastComplete = q
	for !q.matched && !r.stopped && i != nil && i.InFlight() && r.w.Step() {
	}
	if q.matched || r.stopped {
		return
	}
	if i != nil && i.InFlight() && r.isStandin(ev.IRP) && ev.Status != nt.STATUS_PENDING {
		// The stand-in provider completes when the trace says so.
		var info uint64
		if ev.Information.Kind == Int {
			info = ev.Information.U
		}
		r.m.Complete(i, ev.Status, info)
		if q.matched || r.stopped {
			return
		}
	}
	state := "not in flight"
	switch {
	case wasInFlight && !i.InFlight():
		state = "completed, but the completion routine set on it is not invoked for " + ev.Status.String() + " (see its InvokeOn flags), so no routine saw this completion"
	case i == nil:
		state = "not an IRP the model knows"
	case i.Freed():
		state = "freed"
	case i.InFlight():
		state = "in flight, and the model has no completion for it yet (it waits for something the trace has not shown)"
	}
	r.diverge(ev, "completion of "+ev.IRP, fmt.Sprintf("complete %s with %s", ev.IRP, ev.Status),
		"no completion of "+ev.IRP+" here: it is "+state, docSpec, "")
}

// routine is the completion routine the replay sets on every IRP: it finds
// the complete event the trace shows for this completion, checks it, and
// returns what the trace says the driver's routine returned.
func (r *replayer) routine(i *irp.IRP, ctx any) nt.Status {
	name, _ := ctx.(string)
	c := r.findComplete(name)
	if c == nil || c.ev.Kind != EvComplete {
		at := (*Event)(nil)
		when := "by the end of the trace"
		if c != nil {
			at = c.ev
			when = "before " + callName(c.ev) + " uses it again"
		} else if r.cur != nil && usesIRP(r.cur.ev, name) {
			at = r.cur.ev
			when = "before " + callName(r.cur.ev) + " uses it again"
		}
		r.diverge(at, "completion of "+name, "no completion of "+name+" "+when,
			fmt.Sprintf("the completion routine of %s runs with %s, information %d", name, i.IoStatus.Status, i.IoStatus.Information), docSpec, "")
		return nt.STATUS_MORE_PROCESSING_REQUIRED
	}
	c.matched = true
	r.lastComplete = nil
	ev := c.ev
	if ev.Status != i.IoStatus.Status {
		rule, detail := docIOSB, ""
		if w := r.ws.calls[name]; w != nil {
			rule = statusDoc(w.fn, i.IoStatus.Status)
			detail = fmt.Sprintf("%s (seq %d) completes its IRP with %s here", w.ev.Fn, w.ev.Seq, i.IoStatus.Status)
			if !wsk.StatusAllowed(w.fn, ev.Status) {
				detail += "; " + ev.Status.String() + " is not documented for " + w.fn
			}
		}
		r.diverge(ev, "completion of "+name, "status "+ev.Status.String(), "status "+i.IoStatus.Status.String(), rule, detail)
		return ev.RoutineReturned
	}
	if w := r.ws.calls[name]; w != nil {
		delete(r.ws.calls, name)
		r.wskComplete(w, i, ev)
	} else {
		switch ev.Information.Kind {
		case Int:
			if ev.Information.U != i.IoStatus.Information && !r.isStandin(name) {
				r.diverge(ev, "completion of "+name, fmt.Sprintf("information %d", ev.Information.U), fmt.Sprintf("information %d", i.IoStatus.Information), docIOSB, "")
			}
		case Bind:
			r.bindObj(ev.Information.Name, standin{kind: ObjSocket}, "")
		}
	}
	if ev.HasPendingReturned && ev.PendingReturned != i.PendingReturned {
		r.diverge(ev, "completion of "+name, fmt.Sprintf("pending_returned %t", ev.PendingReturned),
			fmt.Sprintf("pending_returned %t (the call returned %s)", i.PendingReturned, map[bool]string{true: "STATUS_PENDING", false: "its final status"}[i.PendingReturned]), docIRPs, "")
	}
	r.bindOuts(ev.Out)
	if ev.RoutineEnd > ev.Seq {
		r.routineEvents(ev.RoutineEnd)
	}
	return ev.RoutineReturned
}

// routineEvents replays, inside the completion routine being run, the events
// the trace shows it caused (up to seq end, the complete's "routine_end"), so
// the model sees them made from a completion routine.
func (r *replayer) routineEvents(end uint64) {
	outer := r.cur
	defer func() { r.cur = outer }()
	for !r.stopped {
		q := r.nextUnmatched()
		if q == nil || q.ev.Seq > end {
			return
		}
		e := r.next()
		if e == nil {
			return
		}
		r.cur = e
		r.rep.Events++
		r.step(e)
		r.collect(e.ev)
	}
}

func (r *replayer) isStandin(irpName string) bool { return r.standinIRPs[irpName] }

func (r *replayer) bindOuts(out []Arg) {
	for _, a := range out {
		r.bindValue(a.Val)
	}
}

func (r *replayer) bindValue(v Value) {
	switch v.Kind {
	case Bind:
		if _, ok := r.objs[v.Name]; !ok {
			r.bindObj(v.Name, standin{}, "")
		}
	case Struct:
		for _, f := range v.Fields {
			r.bindValue(f.Val)
		}
	}
}

// ---- calls ----

func (r *replayer) call(q *qev) {
	ev := q.ev
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	argDef := func(n string) Value {
		if v, ok := ev.Arg(n); ok {
			return v
		}
		if p := ev.spec.arg(n); p != nil && p.def != nil {
			return *p.def
		}
		return Value{}
	}
	// A pending completion the model has queued is not forced before the
	// driver uses the IRP again: pending completions may come at any time, and
	// the trace's order says this one had not come yet (using the IRP now is
	// then the driver's violation). It must be shown by the end of the trace.
	// A completion nobody can observe (no completion routine) may have
	// happened at any time before, so it is run first.
	if iv := arg("Irp"); iv.Kind == Name && ev.Fn != "IoCancelIrp" && !r.allCompletions && !r.routineSet[iv.Name] && !r.completionEnvLater(iv.Name) {
		if i := r.irpOf(iv); i != nil && i.InFlight() {
			for i.InFlight() && !r.stopped && r.w.Step() {
			}
		}
	}
	switch ev.Fn {
	case "IoAllocateIrp":
		ss := int64(arg("StackSize").U)
		if ss > 1<<20 || ss < -(1<<20) {
			ss = 1 << 20
		}
		i := r.m.IoAllocateIrp(int(ss), arg("ChargeQuota").B)
		r.checkValueObj(ev, i != nil, func(name string) { r.bindObj(name, i, i.Name()) }, "an IRP", docAllocIrp)
	case "IoReuseIrp":
		if i := r.irpOf(arg("Irp")); i != nil && !i.InFlight() {
			delete(r.routineSet, arg("Irp").Name)
			delete(r.unseen, arg("Irp").Name)
		}
		r.m.IoReuseIrp(r.irpOf(arg("Irp")), arg("Iostatus").St)
	case "IoFreeIrp":
		i := r.irpOf(arg("Irp"))
		r.m.IoFreeIrp(i)
		if i != nil && i.Freed() {
			r.forget(arg("Irp").Name)
		}
	case "IoSetCompletionRoutine":
		iv := arg("Irp")
		var rtn irp.CompletionRoutine
		if argDef("CompletionRoutine").Kind != Null {
			rtn = r.routine
		}
		if i := r.irpOf(iv); i != nil && !i.InFlight() && !i.Freed() {
			if r.routineSet == nil {
				r.routineSet = map[string]bool{}
			}
			// "Set" here means every completion is observed: a routine
			// invoked on success, error and cancel.
			r.routineSet[iv.Name] = rtn != nil && arg("InvokeOnSuccess").B && arg("InvokeOnError").B && arg("InvokeOnCancel").B
			if rtn != nil && !r.routineSet[iv.Name] {
				if r.unseen == nil {
					r.unseen = map[string]nt.Status{}
				}
				// A status this routine is not invoked for.
				r.unseen[iv.Name] = nt.STATUS_UNSUCCESSFUL
				if arg("InvokeOnError").B {
					r.unseen[iv.Name] = nt.STATUS_SUCCESS
				}
			} else {
				delete(r.unseen, iv.Name)
			}
		}
		r.m.IoSetCompletionRoutine(r.irpOf(iv), rtn, iv.Name, arg("InvokeOnSuccess").B, arg("InvokeOnError").B, arg("InvokeOnCancel").B)
	case "IoCompleteRequest":
		r.m.IoCompleteRequest(r.irpOf(arg("Irp")), arg("Status").St, arg("Information").U)
	case "IoSetCancelRoutine":
		// The driver's cancel routine: what it does (IoCompleteRequest) the
		// trace shows as the calls that follow.
		if i := r.irpOf(arg("Irp")); i != nil {
			if arg("CancelRoutine").Kind == Null {
				r.m.SetCancelRoutine(i, nil)
			} else {
				r.m.SetCancelRoutine(i, func(*irp.IRP) {})
			}
		}
		if ret := r.findReturn(ev.Seq); ret != nil {
			ret.matched = true
		}
	case "IoCancelIrp":
		i := r.irpOf(arg("Irp"))
		ret := r.findReturn(ev.Seq)
		if i != nil && i.InFlight() && r.isStandin(arg("Irp").Name) {
			// The stand-in provider has no cancel semantics: whether a
			// cancel routine was set is taken from the trace.
			if ret != nil && ret.ev.HasValue && ret.ev.Value.B {
				r.m.SetCancelRoutine(i, func(*irp.IRP) {})
			} else {
				r.m.SetCancelRoutine(i, nil)
			}
		}
		got := r.m.IoCancelIrp(i)
		if ret != nil {
			ret.matched = true
			if ret.ev.Value.B != got {
				r.diverge(ret.ev, callName(ev), fmt.Sprintf("value %t", ret.ev.Value.B), fmt.Sprintf("value %t", got), docCancel,
					"IoCancelIrp returns TRUE only when the IRP has a cancel routine set")
			}
		}
	case "ExAllocatePool2":
		b := r.m.ExAllocatePool2(arg("Flags").U, arg("NumberOfBytes").U, uint32(arg("Tag").U))
		r.checkValueObj(ev, b != nil, func(name string) { r.bindObj(name, b, b.Name()) }, "a pool block", docPool2)
	case "ExFreePoolWithTag":
		b := r.blockOf(arg("P"))
		r.m.ExFreePoolWithTag(b, uint32(arg("Tag").U))
		if b != nil && b.Freed() {
			r.forget(arg("P").Name)
		}
	case "ExFreePool":
		b := r.blockOf(arg("P"))
		r.m.ExFreePool(b)
		if b != nil && b.Freed() {
			r.forget(arg("P").Name)
		}
	default:
		switch ev.spec.group {
		case "wsk":
			r.wskCall(q)
		case "fwps":
			r.fwpsCall(q)
		default:
			r.standinCall(q)
		}
	}
}

// checkValueObj compares an object-returning call's result with the trace.
func (r *replayer) checkValueObj(ev *Event, gotObj bool, bind func(string), what, doc string) {
	ret := r.findReturn(ev.Seq)
	if ret == nil {
		return
	}
	ret.matched = true
	v := ret.ev.Value
	switch {
	case v.Kind == Bind && gotObj:
		bind(v.Name)
	case v.Kind == Null && !gotObj:
	case v.Kind == Bind:
		r.diverge(ret.ev, callName(ev), "value "+v.String(), "NULL", doc, "the model cannot return "+what+" for these arguments in this state (see the violations, or Options.PoolBudget)")
	default:
		r.diverge(ret.ev, callName(ev), "value "+v.String(), what, doc, "")
	}
}

// standinCall replays a WSK or FWPS call at the IRP level: the IRP is
// submitted, checked, lent its pool buffers and completed with the status the
// trace shows; the call's own semantics are not checked.
func (r *replayer) standinCall(q *qev) {
	ev := q.ev
	r.standins++
	f := r.w.Begin(ev.Fn)
	maxIRQL := nt.DISPATCH_LEVEL
	if ev.spec.maxIRQ == "PASSIVE_LEVEL" {
		maxIRQL = nt.PASSIVE_LEVEL
	}
	r.w.CheckIRQL(maxIRQL)
	ret := r.findReturn(ev.Seq)
	iv, hasIRP := ev.Arg("Irp")
	var result nt.Status
	var resultKnown bool
	switch {
	case !ev.spec.takesIRP() || !hasIRP || iv.Kind == Null && ev.Fn != "IoCallDriver":
		if ret != nil && ret.ev.HasStatus {
			result, resultKnown = ret.ev.Status, true
		}
	default:
		i := r.irpOf(iv)
		fn := ev.Fn
		if v, ok := ev.Arg("Function"); ok && ev.Fn == "IoCallDriver" && v.Name != "" {
			fn = v.Name // the function the driver below stands in for
		}
		if !r.m.Submit(i, fn) {
			result, resultKnown = nt.STATUS_INVALID_PARAMETER, true
			break
		}
		if r.standinIRPs == nil {
			r.standinIRPs = map[string]bool{}
		}
		r.standinIRPs[iv.Name] = true
		for _, a := range ev.Args {
			if a.Val.Kind == Buf && a.Val.Buf.Pool != "" {
				n := a.Val.Buf.Len
				if a.Val.Buf.Form == BufRef {
					n = r.blobSize[a.Val.Buf.Ref]
				}
				r.m.Lend(i, r.blockOf(Value{Kind: Name, Name: a.Val.Buf.Pool}), a.Val.Buf.Offset, n)
			}
		}
		c := r.findComplete(iv.Name)
		var st nt.Status
		var info uint64
		switch {
		case c != nil && c.ev.Kind == EvComplete:
			st = c.ev.Status
			if c.ev.Information.Kind == Int {
				info = c.ev.Information.U
			}
		case ret != nil && ret.ev.HasStatus && ret.ev.Status != nt.STATUS_PENDING:
			st = ret.ev.Status
		case !r.allCompletions && !r.routineSet[iv.Name] && !r.completedLater(iv.Name) && !r.completionEnvLater(iv.Name) && ev.Fn != "IoCallDriver":
			// (IoCallDriver is what wsksim writes, and it writes env
			// irp_completed for every completion no routine sees: none
			// shown means none happened.)
			// No routine: nobody observes the completion, so it cannot be
			// shown; the stand-in completes it later with success.
			st := nt.STATUS_SUCCESS
			if u, ok := r.unseen[iv.Name]; ok {
				st = u
			}
			r.m.CompleteLater(i, st, 0, r.m.PendingDelay)
			result, resultKnown = nt.STATUS_PENDING, true
		default:
			// Pending with no completion shown (yet): it stays in flight.
			r.m.MarkPending(i)
			result, resultKnown = nt.STATUS_PENDING, true
		}
		if !resultKnown {
			if st == nt.STATUS_PENDING {
				r.diverge(c.ev, callName(ev), "completion with STATUS_PENDING", "a final status (never STATUS_PENDING)", docIRPs, "an IRP is never completed with STATUS_PENDING")
				r.w.Return(f, nt.STATUS_PENDING)
				return
			}
			if c != nil && c.ev.Kind == EvComplete {
				r.lastComplete = c
			}
			result, resultKnown = r.m.Finish(i, standinLabel, st, info), true
		}
		if r.stopped {
			r.w.Return(f, result)
			return
		}
	}
	if ret != nil {
		ret.matched = true
		if resultKnown && ret.ev.HasStatus && ret.ev.Status != result {
			allowed := result.String()
			if hasIRP && iv.Kind == Name && result != nt.STATUS_INVALID_PARAMETER {
				allowed = "STATUS_PENDING or the IRP's final status " + result.String()
			}
			r.diverge(ret.ev, callName(ev), "return "+ret.ev.Status.String(), allowed, docCtrl,
				"with an IRP, the direct return is STATUS_PENDING or the status the IRP is completed with")
		}
		r.bindOuts(ret.ev.Out)
		r.recordSizes(ev, ret.ev)
	}
	if ev.spec.ret == retStatus {
		r.w.Return(f, result)
	} else {
		r.w.ReturnVoid(f)
	}
	_ = sim.Null
	_ = strings.TrimSpace
}

// recordSizes takes sizes the trace reports for opaque blobs as their sizes
// for the rest of the replay (wsktrace v1: opaque sizes).
func (r *replayer) recordSizes(call, shown *Event) {
	ob, ok := shown.OutArg("OutputBuffer")
	if !ok || ob.Kind != Bind {
		return
	}
	if n, ok := shown.OutArg("OutputSizeReturned"); ok && n.Kind == Int {
		if r.blobSize == nil {
			r.blobSize = map[string]uint64{}
		}
		r.blobSize[ob.Name] = n.U
	}
}

// completedLater reports whether the trace shows a completion of IRP name
// later, before the IRP is submitted to another call.
func (r *replayer) completedLater(name string) bool {
	q := r.scan(func(q *qev) bool {
		if q.ev.Kind == EvComplete && q.ev.IRP == name && !q.matched {
			return true
		}
		return q.ev.Kind == EvCall && q.ev.spec != nil && q.ev.spec.group != "io" && q.ev.spec.group != "pool" && usesIRP(q.ev, name)
	})
	return q != nil && q.ev.Kind == EvComplete
}
