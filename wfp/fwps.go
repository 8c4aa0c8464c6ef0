package wfp

import (
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// classifyState is a classify handle (FwpsAcquireClassifyHandle0).
type classifyState struct {
	id           uint64
	num          int // display number ("ch3"); 0 for the built-in policy callouts
	run          *classifyRun
	filter       *Filter
	writable     *FWPS_CONNECT_REQUEST0 // acquired, not yet applied
	writableBind *FWPS_BIND_REQUEST0    // acquired at a bind layer, not yet applied
	noRight      bool                   // acquired without FWPS_RIGHT_ACTION_WRITE: apply is ignored
	pended       bool
	rights       uint32 // rights when the pended classifyFn was called
	completeOut  *ClassifyOut
	invokeRights uint32 // rights of the classify when the handle was acquired
}

func (e *Engine) lookupCH(h uint64) *classifyState {
	for _, cs := range e.classifies {
		if cs.id == h {
			return cs
		}
	}
	e.w.Violate(RuleBadClassifyHandle, fmt.Sprintf("classify handle %d was never acquired or was already released", h))
	return nil
}

// ClassifyHandleLayer returns the layer of the classify an acquired classify
// handle belongs to (false when h is not an acquired handle). It checks
// nothing and records nothing: a harness, the trace replay for one, uses it
// to choose the typed entry point (FwpsAcquireWritableLayerDataPointer0 or
// its Bind twin) for a handle.
func (e *Engine) ClassifyHandleLayer(h uint64) (Layer, bool) {
	for _, cs := range e.classifies {
		if cs.id == h {
			return cs.run.layer, true
		}
	}
	return 0, false
}

func (e *Engine) pairing() bool { return e.w.Policy(PolicyPairing) == pairViolation }

// unapplied reports writable layer data that was never applied, and drops it.
func (e *Engine) unapplied(cs *classifyState, when string) {
	if e.pairing() {
		e.w.Violate(RuleAcquireWithoutApply, fmt.Sprintf("writable layer data acquired with %s (filter %d) was not applied before %s; the modification is lost", cs.name(), cs.filter.FilterId, when), cs.name())
	}
	cs.writable, cs.writableBind = nil, nil
}

// holding reports writable layer data acquired with cs and not yet applied.
func (cs *classifyState) holding() bool { return cs.writable != nil || cs.writableBind != nil }

// ---- redirect handles ----

// FwpsRedirectHandleCreate0 creates a redirect handle (PASSIVE_LEVEL,
// Windows 8+). flags must be 0.
func (e *Engine) FwpsRedirectHandleCreate0(providerGuid *GUID, flags uint32, redirectHandle **RedirectHandle) nt.Status {
	f := e.w.Begin("FwpsRedirectHandleCreate0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("providerGuid", sim.Ptr(providerGuid != nil)), sim.F("flags", sim.Int(uint64(flags))),
			sim.F("redirectHandle", sim.Ptr(redirectHandle != nil)))
	}
	e.w.CheckIRQL(nt.PASSIVE_LEVEL)
	if providerGuid == nil || redirectHandle == nil || flags != 0 {
		e.w.Return(f, nt.STATUS_INVALID_PARAMETER)
		return nt.STATUS_INVALID_PARAMETER
	}
	name := ""
	for {
		name = sim.Name("H", e.w.NextName("H"))
		if _, taken := e.handleIDs[name]; !taken {
			break
		}
	}
	h := &RedirectHandle{name: name, id: e.handleID(name)}
	e.handles = append(e.handles, h)
	*redirectHandle = h
	e.w.Return(f, nt.STATUS_SUCCESS, sim.F("redirectHandle", sim.Bind(name)))
	return nt.STATUS_SUCCESS
}

// FwpsRedirectHandleDestroy0 destroys a redirect handle (PASSIVE_LEVEL).
func (e *Engine) FwpsRedirectHandleDestroy0(redirectHandle *RedirectHandle) {
	f := e.w.Begin("FwpsRedirectHandleDestroy0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("redirectHandle", sim.Obj(redirectHandle.Name())))
	}
	e.w.CheckIRQL(nt.PASSIVE_LEVEL)
	switch {
	case redirectHandle == nil:
		e.w.Violate(RuleBadRedirectHandle, "FwpsRedirectHandleDestroy0 called with a NULL handle")
	case redirectHandle.destroyed:
		e.w.Violate(RuleBadRedirectHandle, fmt.Sprintf("redirect handle %s destroyed twice", redirectHandle.name), redirectHandle.name)
	case redirectHandle.builtin:
		e.w.Violate(RuleBadRedirectHandle, fmt.Sprintf("redirect handle %s belongs to the environment, not to the driver", redirectHandle.name), redirectHandle.name)
	default:
		for _, cs := range e.classifies {
			if cs.pended && cs.writable != nil && cs.writable.LocalRedirectHandle == redirectHandle {
				e.w.Violate(RuleRedirectHandleInUse, fmt.Sprintf("redirect handle %s destroyed while pended classify %s still uses it", redirectHandle.name, cs.name()), redirectHandle.name, cs.name())
			}
		}
		redirectHandle.destroyed = true
	}
	e.w.ReturnVoid(f)
}

// ---- redirect state ----

// FwpsQueryConnectionRedirectState0 returns the redirect state of a
// connection for redirectHandle (IRQL <= DISPATCH_LEVEL). redirectRecords is
// the metadata handle (NULL: policy P-NULLREC). When redirectContext is
// non-nil and the state is REDIRECTED_BY_SELF or
// PREVIOUSLY_REDIRECTED_BY_SELF it receives the context the caller supplied
// with that redirect (WFP-owned: the callout may read it, nothing more);
// otherwise nil.
func (e *Engine) FwpsQueryConnectionRedirectState0(redirectRecords *RedirectRecords, redirectHandle *RedirectHandle, redirectContext **RedirectContext) RedirectState {
	f := e.w.Begin("FwpsQueryConnectionRedirectState0")
	if e.w.Tracing() {
		rec := "records"
		if redirectRecords == nil {
			rec = ""
		}
		e.w.TraceCall(f, sim.F("redirectRecords", sim.Obj(rec)), sim.F("redirectHandle", sim.Obj(redirectHandle.Name())),
			sim.F("redirectContext", sim.Ptr(redirectContext != nil)))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if redirectRecords == nil && e.w.Policy(PolicyNullRecords) == nullrecViolation {
		e.w.Violate(RuleNullRecords, "FwpsQueryConnectionRedirectState0 called with a NULL redirectRecords handle (check FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE first)")
	}
	if redirectHandle == nil {
		e.w.Violate(RuleBadRedirectHandle, "FwpsQueryConnectionRedirectState0 called with a NULL redirectHandle")
	} else if redirectHandle.destroyed {
		e.w.Violate(RuleBadRedirectHandle, fmt.Sprintf("FwpsQueryConnectionRedirectState0 called with destroyed redirect handle %s", redirectHandle.name), redirectHandle.name)
	}
	st, ctx := e.queryState(redirectRecords, redirectHandle)
	if redirectContext != nil {
		*redirectContext = ctx
	}
	if e.w.Tracing() {
		var out []sim.Field
		if redirectContext != nil {
			out = append(out, sim.F("redirectContext", sim.Obj(ctx.Name())))
		}
		e.w.ReturnValue(f, sim.Str(st.String()), out...)
	} else {
		e.w.ReturnValue(f, sim.Value{})
	}
	return st
}

// queryState is the redirect-state decision from a history (§9.2): NULL or
// empty → NOT_REDIRECTED; last hop by h → BY_SELF; an earlier hop by h →
// PREVIOUSLY_BY_SELF; else BY_OTHER. The context is that of h's most recent
// hop, when its flow is still alive.
func (e *Engine) queryState(rec *RedirectRecords, h *RedirectHandle) (RedirectState, *RedirectContext) {
	if rec == nil || len(rec.hops) == 0 {
		return FWPS_CONNECTION_NOT_REDIRECTED, nil
	}
	var id uint32
	if h != nil {
		id = h.id
	}
	n := len(rec.hops)
	for i := n - 1; i >= 0; i-- {
		hop := rec.hops[i]
		if id != 0 && hop.HandleID == id {
			var ctx *RedirectContext
			if fl, ok := e.flows[hop.Flow]; ok && fl.ctx != nil && !fl.ctx.freedByWFP {
				ctx = fl.ctx
			}
			if i == n-1 {
				return FWPS_CONNECTION_REDIRECTED_BY_SELF, ctx
			}
			return FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF, ctx
		}
	}
	return FWPS_CONNECTION_REDIRECTED_BY_OTHER, nil
}

// ---- classify handles ----

// FwpsAcquireClassifyHandle0 acquires a classify handle for the classify in
// progress (IRQL <= DISPATCH_LEVEL). flags must be 0. Every success must be
// paired with FwpsReleaseClassifyHandle0.
func (e *Engine) FwpsAcquireClassifyHandle0(classifyContext *ClassifyContext, flags uint32, classifyHandle *uint64) nt.Status {
	f := e.w.Begin("FwpsAcquireClassifyHandle0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("classifyContext", sim.Ptr(classifyContext != nil)), sim.F("flags", sim.Int(uint64(flags))),
			sim.F("classifyHandle", sim.Ptr(classifyHandle != nil)))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if classifyContext == nil || classifyHandle == nil {
		e.w.Return(f, nt.STATUS_FWP_NULL_POINTER)
		return nt.STATUS_FWP_NULL_POINTER
	}
	if flags != 0 || classifyContext.run == nil || classifyContext.run.finished || classifyContext.run.e != e {
		e.w.Return(f, nt.STATUS_INVALID_PARAMETER)
		return nt.STATUS_INVALID_PARAMETER
	}
	cs := e.acquireCH(classifyContext)
	*classifyHandle = cs.id
	if e.w.Tracing() {
		e.w.Return(f, nt.STATUS_SUCCESS, sim.F("classifyHandle", sim.Bind(cs.name())))
	} else {
		e.w.Return(f, nt.STATUS_SUCCESS)
	}
	return nt.STATUS_SUCCESS
}

func (e *Engine) acquireCH(cc *ClassifyContext) *classifyState {
	e.nextCH++
	var cs *classifyState
	if n := len(e.freeCS); n > 0 {
		cs = e.freeCS[n-1]
		e.freeCS = e.freeCS[:n-1]
		*cs = classifyState{}
	} else {
		cs = new(classifyState)
	}
	cs.id, cs.run, cs.filter, cs.invokeRights = e.nextCH, cc.run, cc.filter, cc.run.rights
	if cc.filter.Callout != nil && !cc.filter.Callout.builtin {
		cs.num = e.w.NextName("ch")
	}
	e.classifies = append(e.classifies, cs)
	return cs
}

// FwpsReleaseClassifyHandle0 releases a classify handle (IRQL <= DISPATCH_LEVEL).
func (e *Engine) FwpsReleaseClassifyHandle0(classifyHandle uint64) {
	f := e.w.Begin("FwpsReleaseClassifyHandle0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if cs := e.lookupCH(classifyHandle); cs != nil {
		e.releaseCH(cs)
	}
	e.w.ReturnVoid(f)
}

func (e *Engine) chName(h uint64) string {
	for _, cs := range e.classifies {
		if cs.id == h {
			return cs.name()
		}
	}
	return fmt.Sprintf("0x%x", h)
}

func (e *Engine) releaseCH(cs *classifyState) {
	if cs.pended {
		e.w.Violate(RuleReleaseWhilePended, fmt.Sprintf("classify handle %s released while its classify is pended; the connect never completes", cs.name()), cs.name())
	}
	if cs.holding() {
		e.unapplied(cs, "FwpsReleaseClassifyHandle0")
	}
	for i, o := range e.classifies {
		if o == cs {
			e.classifies = append(e.classifies[:i], e.classifies[i+1:]...)
			break
		}
	}
	// Handles are looked up by id, never by pointer, so the state can be
	// reused; a pended run still pointing at it was reported above.
	if !cs.pended {
		e.freeCS = append(e.freeCS, cs)
	}
}

// name is the classify handle's display name ("ch3", "builtin").
func (cs *classifyState) name() string {
	if cs.num == 0 {
		return "builtin"
	}
	return sim.Name("ch", cs.num)
}

// FwpsAcquireWritableLayerDataPointer0 returns a writable copy of the layer
// data (an *FWPS_CONNECT_REQUEST0 at ALE_CONNECT_REDIRECT) in
// *writableLayerData, sets classifyOut.ActionType to FWP_ACTION_BLOCK and
// clears FWPS_RIGHT_ACTION_WRITE. flags must be 0. Every success must be
// paired with exactly one FwpsApplyModifiedLayerData0 with the same pointer.
//
// The DDI's writableLayerData is a PVOID whose type depends on the layer; in
// Go this function is typed for the connect layers. At ALE_BIND_REDIRECT use
// FwpsAcquireWritableLayerDataPointer0Bind, which hands out an
// *FWPS_BIND_REQUEST0 (this one returns STATUS_FWP_INCOMPATIBLE_LAYER there,
// as at every layer without connect data).
func (e *Engine) FwpsAcquireWritableLayerDataPointer0(classifyHandle uint64, filterId uint64, flags uint32, writableLayerData **FWPS_CONNECT_REQUEST0, classifyOut *ClassifyOut) nt.Status {
	f := e.beginAcquire(classifyHandle, filterId, flags, writableLayerData != nil, classifyOut)
	st := e.acquireWritable(classifyHandle, filterId, flags, writableLayerData, classifyOut)
	e.w.Return(f, st)
	return st
}

func (e *Engine) acquireWritable(classifyHandle uint64, filterId uint64, flags uint32, writableLayerData **FWPS_CONNECT_REQUEST0, classifyOut *ClassifyOut) nt.Status {
	if writableLayerData == nil || classifyOut == nil {
		return nt.STATUS_FWP_NULL_POINTER
	}
	cs, st := e.acquireCheck(classifyHandle, filterId, flags, false)
	if st != nt.STATUS_SUCCESS {
		return st
	}
	r := cs.run
	v := *r.cur
	v.PreviousVersion = nil
	if r.cur != r.orig {
		v.PreviousVersion = r.cur
	}
	v.ModifierFilterId = 0
	cs.writable = &v
	*writableLayerData = &v
	return markAcquired(classifyOut)
}

// beginAcquire opens and traces a call of FwpsAcquireWritableLayerDataPointer0,
// whichever layer's data it hands out, and checks its IRQL.
func (e *Engine) beginAcquire(classifyHandle, filterId uint64, flags uint32, hasOut bool, classifyOut *ClassifyOut) sim.Frame {
	f := e.w.Begin("FwpsAcquireWritableLayerDataPointer0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))), sim.F("filterId", sim.Int(filterId)),
			sim.F("flags", sim.Int(uint64(flags))), sim.F("writableLayerData", sim.Ptr(hasOut)),
			sim.F("classifyOut", sim.Ptr(classifyOut != nil)))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	return f
}

// markAcquired is the documented side effect of a successful acquire: the
// action becomes FWP_ACTION_BLOCK and FWPS_RIGHT_ACTION_WRITE is cleared.
func markAcquired(classifyOut *ClassifyOut) nt.Status {
	classifyOut.ActionType = FWP_ACTION_BLOCK
	classifyOut.Rights &^= FWPS_RIGHT_ACTION_WRITE
	return nt.STATUS_SUCCESS
}

// acquireCheck validates an acquire of writable layer data of the kind bind
// selects (FWPS_BIND_REQUEST0 or FWPS_CONNECT_REQUEST0), drops data still
// held by the handle (a pairing violation) and records the write right.
func (e *Engine) acquireCheck(classifyHandle uint64, filterId uint64, flags uint32, bind bool) (*classifyState, nt.Status) {
	cs := e.lookupCH(classifyHandle)
	if cs == nil {
		return nil, nt.STATUS_INVALID_HANDLE
	}
	if flags != 0 || filterId != cs.filter.FilterId {
		return nil, nt.STATUS_INVALID_PARAMETER
	}
	r := cs.run
	if r.finished || (bind && !r.layer.IsBindRedirect()) || (!bind && !r.layer.IsConnectRedirect()) {
		return nil, nt.STATUS_FWP_INCOMPATIBLE_LAYER
	}
	if cs.holding() {
		e.unapplied(cs, "a second FwpsAcquireWritableLayerDataPointer0")
	}
	// The right that counts is the one the callout was called with: after
	// FwpsPendClassify0 the classifyOut no longer carries it, and the
	// documented asynchronous flow still acquires the data.
	cs.noRight = cs.invokeRights&FWPS_RIGHT_ACTION_WRITE == 0
	if cs.noRight {
		e.w.Violate(RuleWriteWithoutRight, fmt.Sprintf("FwpsAcquireWritableLayerDataPointer0 on %s (filter %d): the classifyFn was called without FWPS_RIGHT_ACTION_WRITE; the modification will be ignored", cs.name(), cs.filter.FilterId), cs.name())
	}
	return cs, nt.STATUS_SUCCESS
}

// FwpsApplyModifiedLayerData0 applies the data acquired with
// FwpsAcquireWritableLayerDataPointer0. modifiedLayerData must be that very
// pointer; flags is 0 or FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS.
// A localRedirectContext set here passes to WFP (P-CTXOWN).
func (e *Engine) FwpsApplyModifiedLayerData0(classifyHandle uint64, modifiedLayerData *FWPS_CONNECT_REQUEST0, flags uint32) {
	f := e.w.Begin("FwpsApplyModifiedLayerData0")
	if e.w.Tracing() {
		args := []sim.Field{sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))),
			sim.F("modifiedLayerData", sim.Ptr(modifiedLayerData != nil)), sim.F("flags", sim.Int(uint64(flags)))}
		if v := modifiedLayerData; v != nil {
			// wsksim's extension (docs/wsktrace.md): what the callout wrote,
			// so a replay can redirect as the driver did.
			h, ctx := sim.Null(), sim.Null()
			if v.LocalRedirectHandle != nil {
				h = sim.Str(v.LocalRedirectHandle.Name())
			}
			if v.LocalRedirectContext != nil && !v.LocalRedirectContext.freed {
				ctx = sim.Hex(v.LocalRedirectContext.data, "")
			}
			cr := []sim.Field{sim.F("remoteAddressAndPort", sim.Str(v.RemoteAddressAndPort.String())),
				sim.F("localRedirectTargetPID", sim.Int(uint64(v.LocalRedirectTargetPID))),
				sim.F("localRedirectHandle", h), sim.F("localRedirectContext", ctx)}
			for _, cs := range e.classifies {
				if cs.id == classifyHandle && cs.run != nil && cs.run.cur != nil && v.LocalAddressAndPort != cs.run.cur.LocalAddressAndPort {
					// A source rewrite, written only when there is one.
					cr = append(cr, sim.F("localAddressAndPort", sim.Str(v.LocalAddressAndPort.String())))
				}
			}
			args = append(args, sim.F("connectRequest", sim.Object(cr...)))
		}
		e.w.TraceCall(f, args...)
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	e.apply(classifyHandle, modifiedLayerData, flags)
	e.w.ReturnVoid(f)
}

func (e *Engine) apply(classifyHandle uint64, v *FWPS_CONNECT_REQUEST0, flags uint32) {
	cs := e.lookupCH(classifyHandle)
	if cs == nil {
		return
	}
	if cs.writable == nil || v != cs.writable {
		if e.pairing() {
			what := "no writable layer data was acquired with it"
			if cs.holding() {
				what = "the pointer is not the one FwpsAcquireWritableLayerDataPointer0 returned"
			}
			e.w.Violate(RuleApplyOtherPointer, fmt.Sprintf("FwpsApplyModifiedLayerData0 on %s: %s; nothing applied", cs.name(), what), cs.name())
		}
		return
	}
	cs.writable = nil
	r := cs.run
	if cs.noRight || r.finished {
		return
	}
	prev := r.cur
	if v.LocalAddressAndPort != prev.LocalAddressAndPort {
		// The source rewrite split-tunnel drivers ship: the connection
		// leaves from the new address (endConnectRedirect). One it cannot
		// leave from is discarded.
		na, pa := v.LocalAddressAndPort.Addr(), prev.LocalAddressAndPort.Addr()
		if !na.IsValid() || na.IsUnspecified() || na.Unmap().Is4() != pa.Unmap().Is4() {
			e.w.Violate(RuleLocalAddressChanged, fmt.Sprintf("filter %d changed localAddressAndPort from %v to %v at %v, an address the connection cannot leave from; the change is discarded", cs.filter.FilterId, prev.LocalAddressAndPort, v.LocalAddressAndPort, r.layer), cs.name())
			v.LocalAddressAndPort = prev.LocalAddressAndPort
		}
	}
	if flags&FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS != 0 {
		found := false
		for _, o := range r.reauth {
			found = found || o == cs.filter
		}
		if !found {
			r.reauth = append(r.reauth, cs.filter)
		}
	}
	if c := v.LocalRedirectContext; c != nil && c != prev.LocalRedirectContext {
		switch {
		case c.freed:
			e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("localRedirectContext %s was already freed by the callout", c.Name()), c.Name())
			v.LocalRedirectContext, v.LocalRedirectContextSize = nil, 0
		case c.wfpOwned || c.pending:
			e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("localRedirectContext %s already belongs to WFP (handed over by an earlier apply)", c.Name()), c.Name())
			v.LocalRedirectContext, v.LocalRedirectContextSize = nil, 0
		default:
			if e.w.Policy(PolicyContextOwner) == ctxownAtApply {
				c.wfpOwned = true
			} else {
				c.pending = true
			}
			r.applied = append(r.applied, c)
		}
	}
	if v.sameAs(prev) {
		return
	}
	if v.RemoteAddressAndPort != prev.RemoteAddressAndPort && v.LocalRedirectHandle != nil && r.records != nil {
		if st, _ := e.queryState(r.records, v.LocalRedirectHandle); st == FWPS_CONNECTION_REDIRECTED_BY_SELF || st == FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
			e.w.Violate(RuleRedirectAgain, fmt.Sprintf("filter %d redirects %s to %v although its state for %s is %v", cs.filter.FilterId, r.req.Socket, v.RemoteAddressAndPort, v.LocalRedirectHandle.name, st), cs.name(), v.LocalRedirectHandle.name)
		}
	}
	v.ModifierFilterId = cs.filter.FilterId
	r.cur = v
}

// ---- pending ----

// FwpsPendClassify0 pends the classify in progress (called from classifyFn):
// it sets classifyOut.ActionType to FWP_ACTION_BLOCK, clears
// FWPS_RIGHT_ACTION_WRITE and sets FWPS_CLASSIFY_OUT_FLAG_ABSORB. The connect
// waits for FwpsCompleteClassify0.
func (e *Engine) FwpsPendClassify0(classifyHandle uint64, filterId uint64, flags uint32, classifyOut *ClassifyOut) nt.Status {
	f := e.w.Begin("FwpsPendClassify0")
	if e.w.Tracing() {
		e.w.TraceCall(f, sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))), sim.F("filterId", sim.Int(filterId)),
			sim.F("flags", sim.Int(uint64(flags))), sim.F("classifyOut", sim.Ptr(classifyOut != nil)))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	st := nt.STATUS_SUCCESS
	cs := e.lookupCH(classifyHandle)
	switch {
	case classifyOut == nil:
		st = nt.STATUS_FWP_NULL_POINTER
	case cs == nil:
		st = nt.STATUS_INVALID_HANDLE
	case flags != 0 || filterId != cs.filter.FilterId:
		st = nt.STATUS_INVALID_PARAMETER
	case cs.pended || cs.run.inFn != cs.filter || cs.run.pended != nil:
		st = nt.STATUS_FWP_CANNOT_PEND
	default:
		cs.pended = true
		cs.run.pended = cs
		classifyOut.ActionType = FWP_ACTION_BLOCK
		classifyOut.Rights &^= FWPS_RIGHT_ACTION_WRITE
		classifyOut.Flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB
	}
	e.w.Return(f, st)
	return st
}

// FwpsCompleteClassify0 completes a pended classify with the final
// classifyOut (PERMIT, write right given back, typically). Evaluation then
// resumes with the next filters, which see FWP_CONDITION_FLAG_IS_REAUTHORIZE.
func (e *Engine) FwpsCompleteClassify0(classifyHandle uint64, flags uint32, classifyOut *ClassifyOut) {
	f := e.w.Begin("FwpsCompleteClassify0")
	if e.w.Tracing() {
		args := []sim.Field{sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))), sim.F("flags", sim.Int(uint64(flags))),
			sim.F("classifyOut", sim.Ptr(classifyOut != nil))}
		if classifyOut != nil { // wsksim's extension: the decision the callout completed with
			args = append(args, sim.F("actionType", sim.Int(uint64(classifyOut.ActionType))), sim.F("rights", sim.Int(uint64(classifyOut.Rights))))
		}
		e.w.TraceCall(f, args...)
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	cs := e.lookupCH(classifyHandle)
	if cs != nil && !cs.pended {
		e.w.Violate(RuleCompleteWithoutPend, fmt.Sprintf("FwpsCompleteClassify0 on %s, which is not pended", cs.name()), cs.name())
		cs = nil
	}
	if cs != nil {
		cs.pended = false
		if cs.holding() {
			e.unapplied(cs, "FwpsCompleteClassify0")
		}
		out := ClassifyOut{ActionType: FWP_ACTION_CONTINUE, Rights: cs.rights}
		if classifyOut != nil {
			out = *classifyOut
		}
		cs.completeOut = &out
		r := cs.run
		if r.inFn == cs.filter {
			// Completed inside classifyFn: invoke arbitrates it on return.
			r.pended = nil
			r.completedInFn = true
			r.arbitrate(cs.filter, r.rights, &out)
		} else {
			r.pended = nil
			r.arbitrate(cs.filter, cs.rights, &out)
			r.flags |= nt.FWP_CONDITION_FLAG_IS_REAUTHORIZE
			r.advance()
		}
	}
	e.w.ReturnVoid(f)
}

// ---- SIO-format records ----

// FwpsQueryConnectionSioFormatRedirectRecords0 copies the redirect records
// of a connection (the metadata handle) into OutputBuffer in the format the
// SIO IOCTLs use (IRQL <= DISPATCH_LEVEL). OutputBufferLength may not exceed
// len(OutputBuffer). Statuses: STATUS_INVALID_PARAMETER for a NULL
// BytesTransferred or an OutputBuffer that is not pointer-aligned
// (P-SIOFMT-NULL), STATUS_NOT_FOUND for NULL records (P-NF),
// STATUS_BUFFER_TOO_SMALL with the required size in *BytesTransferred.
func (e *Engine) FwpsQueryConnectionSioFormatRedirectRecords0(RedirectRecords *RedirectRecords, OutputBuffer []byte, OutputBufferLength uint64, BytesTransferred *uint64) nt.Status {
	f := e.w.Begin("FwpsQueryConnectionSioFormatRedirectRecords0")
	if e.w.Tracing() {
		rec := "records"
		if RedirectRecords == nil {
			rec = ""
		}
		ob := sim.Null()
		if OutputBuffer != nil {
			ob = sim.Len(uint64(len(OutputBuffer)), "")
		}
		e.w.TraceCall(f, sim.F("RedirectRecords", sim.Obj(rec)), sim.F("OutputBuffer", ob),
			sim.F("OutputBufferLength", sim.Int(OutputBufferLength)), sim.F("BytesTransferred", sim.Ptr(BytesTransferred != nil)))
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	st, n := e.sioFormat(RedirectRecords, OutputBuffer, OutputBufferLength, BytesTransferred)
	if BytesTransferred != nil && (st == nt.STATUS_SUCCESS || st == nt.STATUS_BUFFER_TOO_SMALL) {
		*BytesTransferred = n
		if st == nt.STATUS_SUCCESS && e.w.Tracing() {
			e.w.Return(f, st, sim.F("BytesTransferred", sim.Int(n)), sim.F("OutputBuffer", sim.Hex(OutputBuffer[:n], "")))
			return st
		}
		e.w.Return(f, st, sim.F("BytesTransferred", sim.Int(n)))
		return st
	}
	e.w.Return(f, st)
	return st
}

func (e *Engine) sioFormat(rec *RedirectRecords, buf []byte, length uint64, bt *uint64) (nt.Status, uint64) {
	bad := nt.STATUS_INVALID_PARAMETER
	if e.w.Policy(PolicySioFmtNull) == siofmtNullPointer {
		bad = nt.STATUS_FWP_NULL_POINTER
	}
	if bt == nil {
		return bad, 0
	}
	if rec == nil || len(rec.hops) == 0 {
		return e.NotFoundStatus(), 0
	}
	if length > uint64(len(buf)) {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	need := uint64(encodedSize(len(rec.hops), e.padTarget()))
	if length < need {
		return nt.STATUS_BUFFER_TOO_SMALL, need
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%unsafe.Sizeof(uintptr(0)) != 0 {
		return bad, 0
	}
	blob := e.codec.encode(buf[:0:len(buf)], rec.hops, e.padTarget())
	_ = blob // encoded in place: cap(buf) >= need
	return nt.STATUS_SUCCESS, need
}

// NotFoundStatus is the status for "no records / no context" (P-NF).
func (e *Engine) NotFoundStatus() nt.Status {
	if e.w.Policy(PolicyNotFound) == nfFwpNotFound {
		return nt.STATUS_FWP_NOT_FOUND
	}
	return nt.STATUS_NOT_FOUND
}

// ---- redirect contexts ----

// AllocateRedirectContext allocates callout memory for localRedirectContext
// holding a copy of data (ExAllocatePoolWithTag in a real driver). It belongs
// to the callout until FwpsApplyModifiedLayerData0 hands it to WFP.
func (e *Engine) AllocateRedirectContext(data []byte) *RedirectContext {
	return &RedirectContext{e: e, num: e.w.NextName("ctx"), data: append([]byte(nil), data...)}
}

// Bytes reads the context. Reading is allowed while the callout owns it and,
// through FwpsQueryConnectionRedirectState0, while WFP owns it; after it was
// freed it is WFP-CONTEXT-AFTER-TRANSFER (freed by WFP) or a use after free.
func (c *RedirectContext) Bytes() []byte {
	if c == nil {
		return nil
	}
	if c.freed || c.freedByWFP {
		c.e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("redirect context %s read after it was freed (by %s)", c.Name(), c.freer()), c.Name())
		return nil
	}
	return c.data
}

func (c *RedirectContext) freer() string {
	if c.freedByWFP {
		return "WFP, when the flow was removed"
	}
	return "the callout"
}

// Write overwrites the start of the context (the callout filling its own
// memory). After the hand-over to WFP it is WFP-CONTEXT-AFTER-TRANSFER.
func (c *RedirectContext) Write(p []byte) {
	if c == nil {
		return
	}
	if c.wfpOwned || c.pending || c.freedByWFP {
		c.e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("redirect context %s written after FwpsApplyModifiedLayerData0 gave it to WFP", c.Name()), c.Name())
		return
	}
	if c.freed {
		c.e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("redirect context %s written after the callout freed it", c.Name()), c.Name())
		return
	}
	copy(c.data, p)
}

// Free frees the context (ExFreePoolWithTag). Only allowed while the callout
// still owns it.
func (c *RedirectContext) Free() {
	if c == nil {
		return
	}
	switch {
	case c.wfpOwned || c.pending || c.freedByWFP:
		c.e.w.Violate(RuleContextAfterTransfer, fmt.Sprintf("redirect context %s freed by the callout although WFP owns it (WFP frees it when the flow is removed: double free)", c.Name()), c.Name())
	case c.freed:
		c.e.w.Violate(RuleContextOwnerFreeTwice, fmt.Sprintf("redirect context %s freed twice", c.Name()), c.Name())
	default:
		c.freed = true
	}
}

// Owned reports whether WFP owns the context.
func (c *RedirectContext) Owned() bool { return c != nil && c.wfpOwned }

// ---- built-in redirect policy (the trace's redirect_policy) ----

type redirectPolicy struct {
	handle    *RedirectHandle
	ctxLabel  string // display name of its contexts: "policy:H1"
	match, to netip.AddrPort
	context   []byte
	targetPID uint32
}

// AddRedirectPolicy installs a built-in connect-redirect callout holding
// redirect handle `handle` that redirects every TCP connect to match towards
// the local listener `to` for process targetPID with the given context (the
// trace's redirect_policy env event). It follows the documented
// loop-avoidance rules: it leaves a connection alone when the state for its
// handle is REDIRECTED_BY_SELF or PREVIOUSLY_REDIRECTED_BY_SELF, when it
// lacks the write right, or when another filter already redirected the
// connection to a local proxy (previousVersion).
func (e *Engine) AddRedirectPolicy(handle string, match, to netip.AddrPort, context []byte, targetPID uint32) error {
	if handle == "" {
		return fmt.Errorf("wfp.AddRedirectPolicy: empty redirect handle name")
	}
	if !match.IsValid() || !to.IsValid() {
		return fmt.Errorf("wfp.AddRedirectPolicy: invalid address (match %v, to %v)", match, to)
	}
	h := &RedirectHandle{name: handle, id: e.handleID(handle), builtin: true}
	p := &redirectPolicy{handle: h, ctxLabel: "policy:" + handle, match: match, to: to, context: append([]byte(nil), context...), targetPID: targetPID}
	var sub *Sublayer
	for _, s := range e.sublayers {
		if s.Name == "wsksim-redirect-policy" {
			sub = s
		}
	}
	if sub == nil {
		sub = e.AddSublayer("wsksim-redirect-policy", 0x7FFF)
	}
	layer := e.connectRedirectLayer(match.Addr().Is6() && !match.Addr().Is4In6())
	c := &Callout{Name: "redirect_policy:" + handle, Layer: layer, builtin: true}
	c.Fn = func(cl *Classify) { e.policyClassify(p, cl) }
	e.callouts = append(e.callouts, c)
	nPol := 0
	for _, f := range e.filters {
		if f.policy != nil {
			nPol++
		}
	}
	flt, err := e.AddFilter(Filter{Name: "redirect_policy " + handle + " " + match.String(), Sublayer: sub,
		Weight: uint64(1<<32 - nPol), Callout: c, RemoteMatch: match})
	if err != nil {
		return err
	}
	flt.policy = p
	e.w.TraceEnv("redirect_policy", sim.F("handle", sim.Str(handle)), sim.F("match", sim.Str(match.String())),
		sim.F("to", sim.Str(to.String())), sim.F("context", sim.Hex(context, "")), sim.F("target_pid", sim.Int(uint64(targetPID))))
	return nil
}

func (e *Engine) policyClassify(p *redirectPolicy, c *Classify) {
	if c.Out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
		return
	}
	r := c.ClassifyContext.run
	if c.Flags&nt.FWP_CONDITION_FLAG_IS_REAUTHORIZE != 0 {
		return
	}
	var rec *RedirectRecords
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
		rec = c.Meta.RedirectRecords
	}
	if st, _ := e.queryState(rec, p.handle); st == FWPS_CONNECTION_REDIRECTED_BY_SELF || st == FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
		return
	}
	for v := r.cur; v != nil && v != r.orig; v = v.PreviousVersion {
		if v.LocalRedirectHandle != nil && v.ModifierFilterId != c.Filter.FilterId {
			return // someone else already proxies it locally
		}
	}
	cs := e.acquireCH(c.ClassifyContext)
	var v *FWPS_CONNECT_REQUEST0
	if e.acquireWritable(cs.id, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
		v.RemoteAddressAndPort = p.to
		v.LocalRedirectTargetPID = p.targetPID
		v.LocalRedirectHandle = p.handle
		if len(p.context) > 0 {
			v.LocalRedirectContext = &RedirectContext{e: e, label: p.ctxLabel, data: append([]byte(nil), p.context...)}
			v.LocalRedirectContextSize = uint64(len(p.context))
		}
		e.apply(cs.id, v, 0)
		c.Out.ActionType = FWP_ACTION_PERMIT
	}
	e.releaseCH(cs)
}

// acquiredLocal is the local address of the classify classifyHandle belongs
// to, as the callout received it (the zero AddrPort when unknown): what the
// trace compares a written localAddressAndPort with.
func (e *Engine) acquiredLocal(classifyHandle uint64) netip.AddrPort {
	cs := e.lookupCH(classifyHandle)
	if cs == nil || cs.run == nil || cs.run.cur == nil {
		return netip.AddrPort{}
	}
	return cs.run.cur.LocalAddressAndPort
}
