package wfp

import (
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// BindRequest is a socket bind the stack hands to WFP (WskBind, the bind
// step of WskSocketConnect).
type BindRequest struct {
	Socket    string         // display name of the binding socket ("sock3"), for reports
	ProcessID uint32         // owning process id (4 = System)
	Local     netip.AddrPort // the address and port asked for (port 0: the stack picks one)
	Protocol  uint8          // IPPROTO_TCP or IPPROTO_UDP; 0 means IPPROTO_TCP
}

// BindResult is the engine's verdict on a BindRequest.
type BindResult struct {
	Blocked bool
	// Local is the address and port the socket binds: req.Local unless a
	// callout at ALE_BIND_REDIRECT rewrote localAddressAndPort.
	Local netip.AddrPort
}

// FWPS_BIND_REQUEST0 is the writable layer data at ALE_BIND_REDIRECT
// (fwpsk.h, Windows 7+). LocalAddressAndPort and PortReservationToken may be
// written; PreviousVersion and ModifierFilterId are set by the engine. A
// change of LocalAddressAndPort applies to the socket and so to every
// connection made on it (Using Bind or Connect Redirection,
// https://learn.microsoft.com/windows-hardware/drivers/network/using-bind-or-connect-redirection). PortReservationToken is
// carried but not interpreted: the model has no port reservations.
type FWPS_BIND_REQUEST0 struct {
	LocalAddressAndPort  netip.AddrPort
	PortReservationToken uint64
	PreviousVersion      *FWPS_BIND_REQUEST0
	ModifierFilterId     uint64
}

func (r *FWPS_BIND_REQUEST0) sameAs(o *FWPS_BIND_REQUEST0) bool {
	return r.LocalAddressAndPort == o.LocalAddressAndPort && r.PortReservationToken == o.PortReservationToken
}

// ClassifyBind classifies a bind at ALE_BIND_REDIRECT_V4 or _V6 (by the
// family of req.Local) with the same machinery as ClassifyConnect: filters by
// sublayer and weight, rights, classify handles, the acquire/apply pairing.
// A callout that pends the classify and does not complete it before its
// classifyFn returns leaves the bind undecided; ClassifyBind then reports it
// Blocked.
func (e *Engine) ClassifyBind(req *BindRequest, res *BindResult) {
	a := req.Local.Addr()
	v6 := a.Is6() && !a.Is4In6()
	l := FWPS_LAYER_ALE_BIND_REDIRECT_V4
	if v6 {
		l = FWPS_LAYER_ALE_BIND_REDIRECT_V6
	}
	if !e.hasFilters(l) {
		*res = BindResult{Local: req.Local} // nothing to classify: no run, no allocation
		return
	}
	r := &classifyRun{e: e, bind: true, proto: req.Protocol, v6: v6,
		req: ConnectRequest{Socket: req.Socket, ProcessID: req.ProcessID, Local: req.Local}}
	r.filters = r.filtBuf[:0]
	r.applied = r.applBuf[:0]
	r.startLayer(l)
	r.advance()
	if !r.finished {
		*res = BindResult{Blocked: true, Local: req.Local}
		return
	}
	*res = r.bres
}

func (e *Engine) hasFilters(l Layer) bool {
	for _, f := range e.filters {
		if f.Layer == l {
			return true
		}
	}
	return false
}

// finishBind decides the bind.
func (r *classifyRun) finishBind(blocked bool) {
	if r.finished {
		return
	}
	r.finished = true
	r.bres = BindResult{Blocked: blocked, Local: r.req.Local}
	if !blocked {
		r.bres.Local = r.bcur.LocalAddressAndPort
	}
}

// FwpsAcquireWritableLayerDataPointer0Bind is FwpsAcquireWritableLayerDataPointer0
// at ALE_BIND_REDIRECT: the DDI's PVOID writableLayerData is an
// *FWPS_BIND_REQUEST0 there, and Go needs a separately typed entry point
// (the connect-typed FwpsAcquireWritableLayerDataPointer0 stays as it was).
// It is traced as FwpsAcquireWritableLayerDataPointer0 and behaves the same:
// it sets classifyOut.ActionType to FWP_ACTION_BLOCK and clears
// FWPS_RIGHT_ACTION_WRITE; every success must be paired with exactly one
// FwpsApplyModifiedLayerData0Bind with the same pointer. At any other layer
// it returns STATUS_FWP_INCOMPATIBLE_LAYER.
func (e *Engine) FwpsAcquireWritableLayerDataPointer0Bind(classifyHandle uint64, filterId uint64, flags uint32, writableLayerData **FWPS_BIND_REQUEST0, classifyOut *ClassifyOut) nt.Status {
	f := e.beginAcquire(classifyHandle, filterId, flags, writableLayerData != nil, classifyOut)
	st := e.acquireWritableBind(classifyHandle, filterId, flags, writableLayerData, classifyOut)
	e.w.Return(f, st)
	return st
}

func (e *Engine) acquireWritableBind(classifyHandle uint64, filterId uint64, flags uint32, writableLayerData **FWPS_BIND_REQUEST0, classifyOut *ClassifyOut) nt.Status {
	if writableLayerData == nil || classifyOut == nil {
		return nt.STATUS_FWP_NULL_POINTER
	}
	cs, st := e.acquireCheck(classifyHandle, filterId, flags, true)
	if st != nt.STATUS_SUCCESS {
		return st
	}
	r := cs.run
	v := *r.bcur
	v.PreviousVersion = nil
	if r.bcur != r.borig {
		v.PreviousVersion = r.bcur
	}
	v.ModifierFilterId = 0
	cs.writableBind = &v
	*writableLayerData = &v
	return markAcquired(classifyOut)
}

// FwpsApplyModifiedLayerData0Bind is FwpsApplyModifiedLayerData0 at
// ALE_BIND_REDIRECT (traced under that name): modifiedLayerData must be the
// pointer FwpsAcquireWritableLayerDataPointer0Bind returned; flags is 0 or
// FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS (accepted, without
// effect at the bind layer). A rewritten LocalAddressAndPort is where the
// socket binds when the bind is permitted.
func (e *Engine) FwpsApplyModifiedLayerData0Bind(classifyHandle uint64, modifiedLayerData *FWPS_BIND_REQUEST0, flags uint32) {
	f := e.w.Begin("FwpsApplyModifiedLayerData0")
	if e.w.Tracing() {
		args := []sim.Field{sim.F("classifyHandle", sim.Obj(e.chName(classifyHandle))),
			sim.F("modifiedLayerData", sim.Ptr(modifiedLayerData != nil)), sim.F("flags", sim.Int(uint64(flags)))}
		if v := modifiedLayerData; v != nil {
			// wsksim's extension (docs/wsktrace.md), the bind twin of
			// connectRequest: what the callout wrote, so a replay can
			// rewrite the bind as the driver did.
			args = append(args, sim.F("bindRequest", sim.Object(
				sim.F("localAddressAndPort", sim.Str(v.LocalAddressAndPort.String())),
				sim.F("portReservationToken", sim.Int(v.PortReservationToken)))))
		}
		e.w.TraceCall(f, args...)
	}
	e.w.CheckIRQL(nt.DISPATCH_LEVEL)
	e.applyBind(classifyHandle, modifiedLayerData)
	e.w.ReturnVoid(f)
}

func (e *Engine) applyBind(classifyHandle uint64, v *FWPS_BIND_REQUEST0) {
	cs := e.lookupCH(classifyHandle)
	if cs == nil {
		return
	}
	if cs.writableBind == nil || v != cs.writableBind {
		if e.pairing() {
			what := "no writable layer data was acquired with it"
			if cs.holding() {
				what = "the pointer is not the one FwpsAcquireWritableLayerDataPointer0 returned"
			}
			e.w.Violate(RuleApplyOtherPointer, fmt.Sprintf("FwpsApplyModifiedLayerData0 on %s: %s; nothing applied", cs.name(), what), cs.name())
		}
		return
	}
	cs.writableBind = nil
	r := cs.run
	if cs.noRight || r.finished || v.sameAs(r.bcur) {
		return
	}
	v.ModifierFilterId = cs.filter.FilterId
	r.bcur = v
}
