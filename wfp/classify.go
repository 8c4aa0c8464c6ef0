package wfp

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// AddSublayer adds a sublayer. Sublayers are evaluated by descending weight,
// then in the order they were added.
func (e *Engine) AddSublayer(name string, weight uint16) *Sublayer {
	s := &Sublayer{Name: name, Weight: weight, order: len(e.sublayers)}
	e.sublayers = append(e.sublayers, s)
	return s
}

// RegisterCallout registers a callout's classifyFn for a layer
// (FwpsCalloutRegister). It is not a traced call: registration happens before
// the scenario starts.
func (e *Engine) RegisterCallout(name string, layer Layer, fn ClassifyFn) (*Callout, error) {
	if fn == nil {
		return nil, fmt.Errorf("wfp.RegisterCallout: %q has no classifyFn", name)
	}
	if layer == 0 || int(layer) >= len(layerNames) {
		return nil, fmt.Errorf("wfp.RegisterCallout: %q: unknown layer %v", name, layer)
	}
	c := &Callout{Name: name, Layer: layer, Fn: fn}
	e.callouts = append(e.callouts, c)
	return c, nil
}

// AddFilter adds a filter (FwpmFilterAdd) and assigns its FilterId. A callout
// filter takes the callout's layer; its Action must be a callout action
// (FWP_ACTION_CALLOUT_TERMINATING by default). A nil Sublayer means a default
// sublayer of weight 0x8000.
func (e *Engine) AddFilter(f Filter) (*Filter, error) {
	nf := f
	if nf.Callout != nil {
		nf.Layer = nf.Callout.Layer
		switch nf.Action {
		case 0:
			nf.Action = FWP_ACTION_CALLOUT_TERMINATING
		case FWP_ACTION_CALLOUT_TERMINATING, FWP_ACTION_CALLOUT_INSPECTION, FWP_ACTION_CALLOUT_UNKNOWN:
		default:
			return nil, fmt.Errorf("wfp.AddFilter: %q: a callout filter needs a callout action, got %v", f.Name, f.Action)
		}
	} else if nf.Action != FWP_ACTION_PERMIT && nf.Action != FWP_ACTION_BLOCK {
		return nil, fmt.Errorf("wfp.AddFilter: %q: action %v needs a callout", f.Name, f.Action)
	}
	if nf.Layer == 0 || int(nf.Layer) >= len(layerNames) {
		return nil, fmt.Errorf("wfp.AddFilter: %q: unknown layer %v", f.Name, f.Layer)
	}
	if nf.Sublayer == nil {
		nf.Sublayer = e.defaultSublayer()
	}
	e.nextFilt++
	nf.FilterId = 0x10000 + e.nextFilt
	p := &nf
	// Equal sublayer and weight: WFP leaves the order open.
	for _, o := range e.filters {
		if o.Layer == p.Layer && o.Sublayer == p.Sublayer && o.Weight == p.Weight {
			if e.w.Choose(ChoiceFilterTie, 2) == 1 {
				p.tie = o.tie - 1
			} else {
				p.tie = o.tie + 1
			}
		}
	}
	e.filters = append(e.filters, p)
	sort.SliceStable(e.filters, func(i, j int) bool {
		a, b := e.filters[i], e.filters[j]
		if a.Sublayer.Weight != b.Sublayer.Weight {
			return a.Sublayer.Weight > b.Sublayer.Weight
		}
		if a.Sublayer.order != b.Sublayer.order {
			return a.Sublayer.order < b.Sublayer.order
		}
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		if a.tie != b.tie {
			return a.tie < b.tie
		}
		return a.FilterId < b.FilterId
	})
	return p, nil
}

func (e *Engine) defaultSublayer() *Sublayer {
	for _, s := range e.sublayers {
		if s.Name == "default" {
			return s
		}
	}
	return e.AddSublayer("default", 0x8000)
}

// RemoveFilter deletes a filter (FwpmFilterDeleteById).
func (e *Engine) RemoveFilter(f *Filter) {
	for i, o := range e.filters {
		if o == f {
			e.filters = append(e.filters[:i], e.filters[i+1:]...)
			return
		}
	}
}

// classifyRun is one connect going through the ALE connect layers.
type classifyRun struct {
	e       *Engine
	req     ConnectRequest
	v6      bool
	records *RedirectRecords
	parent  *flow
	layer   Layer
	filters []*Filter
	idx     int
	cur     *FWPS_CONNECT_REQUEST0 // latest version of the layer data
	orig    *FWPS_CONNECT_REQUEST0
	action  Action
	rights  uint32
	flags   uint32 // condition flags for callouts still to run
	meta    Metadata
	inFn    *Filter // filter whose classifyFn is running
	// Filter arbitration (learn.microsoft.com/windows/win32/fwp/filter-arbitration):
	// sub is the sublayer being evaluated, subDone that one of its filters
	// returned PERMIT or BLOCK (its remaining filters are skipped).
	sub      *Sublayer
	subDone  bool
	pended   *classifyState
	reauth   []*Filter // applied with REAUTHORIZE_IF_MODIFIED_BY_OTHERS
	reauthed bool
	applied  []*RedirectContext // contexts handed over in this classify
	done     func(*ConnectResult)
	res      *ConnectResult
	finished bool
	// results of the redirect layer
	redirected bool
	hop        Hop
	hopHandle  *RedirectHandle
	target     uint32
	remote     netip.AddrPort
	ctx        *RedirectContext
	modifier   *Filter
	local      netip.AddrPort // a rewritten source (zero: unchanged)
	keyDepth   int
	key        hopKey

	completedInFn bool

	// The bind classify (ClassifyBind): req carries Socket, ProcessID and
	// Local; bcur is the latest FWPS_BIND_REQUEST0.
	bind     bool
	proto    uint8
	bcur     *FWPS_BIND_REQUEST0
	borig    *FWPS_BIND_REQUEST0
	bres     BindResult
	origBind FWPS_BIND_REQUEST0

	// Storage the run's pointers refer to, allocated with the run.
	origReq FWPS_CONNECT_REQUEST0
	resBuf  ConnectResult
	filtBuf [4]*Filter
	applBuf [2]*RedirectContext
}

// invocation is one call of a classifyFn: its classifyOut, classifyContext
// and incoming values in one allocation.
type invocation struct {
	out ClassifyOut
	cc  ClassifyContext
	c   Classify
}

// ClassifyConnect classifies a TCP connect: ALE_CONNECT_REDIRECT, then
// ALE_AUTH_CONNECT. A callout that pends the classify (FwpsPendClassify0)
// and does not complete it before its classifyFn returns leaves the connect
// undecided; ClassifyConnect then reports it Blocked. Use
// ClassifyConnectAsync to wait for FwpsCompleteClassify0.
func (e *Engine) ClassifyConnect(req *ConnectRequest, res *ConnectResult) {
	r := e.classify(req, nil)
	if !r.finished {
		*res = ConnectResult{Blocked: true, Remote: req.Remote}
		return
	}
	*res = *r.res
}

// ClassifyConnectAsync classifies a TCP connect and calls done with the
// result, inline (it returns true) or, when a callout pended the classify,
// from FwpsCompleteClassify0 (it returns false).
func (e *Engine) ClassifyConnectAsync(req *ConnectRequest, done func(*ConnectResult)) bool {
	return e.classify(req, done).finished
}

func (e *Engine) classify(req *ConnectRequest, done func(*ConnectResult)) *classifyRun {
	r := &classifyRun{e: e, req: *req, proto: req.Protocol, v6: req.Remote.Addr().Is6() && !req.Remote.Addr().Is4In6(), done: done}
	r.resBuf.Remote = req.Remote
	r.res = &r.resBuf
	r.filters = r.filtBuf[:0]
	r.applied = r.applBuf[:0]
	r.req.Records = nil
	if req.Records != nil && !(e.w.Policy(PolicyLoss) == lossOn && e.w.Fault(FaultRecordLoss)) {
		var h history
		if e.codec.decode(req.Records, &h) == nt.STATUS_SUCCESS {
			r.records = &RedirectRecords{hops: append([]Hop(nil), h.slice()...)}
			if last := h.hops[h.n-1]; last.Flow != 0 {
				if f, ok := e.flows[last.Flow]; ok && !f.ended {
					r.parent = f
				}
			}
		}
	}
	if r.parent == nil && r.records == nil {
		r.parent = e.findParent(req)
	}
	r.startLayer(e.connectRedirectLayer(r.v6))
	r.advance()
	return r
}

func (e *Engine) connectRedirectLayer(v6 bool) Layer {
	if v6 {
		return FWPS_LAYER_ALE_CONNECT_REDIRECT_V6
	}
	return FWPS_LAYER_ALE_CONNECT_REDIRECT_V4
}

func (e *Engine) authConnectLayer(v6 bool) Layer {
	if v6 {
		return FWPS_LAYER_ALE_AUTH_CONNECT_V6
	}
	return FWPS_LAYER_ALE_AUTH_CONNECT_V4
}

// findParent finds the redirected flow whose proxy is making this connect
// without records: the proxy (the flow's target process) connecting to the
// flow's original destination while the flow is alive.
func (e *Engine) findParent(req *ConnectRequest) *flow {
	for i := len(e.chains) - 1; i >= 0; i-- {
		c := e.chains[i]
		if !c.ended && c.target == req.ProcessID && c.original == req.Remote {
			return c
		}
	}
	return nil
}

func (r *classifyRun) startLayer(l Layer) {
	r.layer = l
	r.idx = 0
	r.sub, r.subDone = nil, false
	r.action = FWP_ACTION_PERMIT
	r.rights = FWPS_RIGHT_ACTION_WRITE
	r.filters = r.filters[:0]
	for _, f := range r.e.filters {
		if f.Layer == l && f.matches(r.req.Remote) {
			r.filters = append(r.filters, f)
		}
	}
	r.flags = 0
	r.meta = Metadata{CurrentMetadataValues: FWPS_METADATA_FIELD_PROCESS_ID, ProcessId: uint64(r.req.ProcessID)}
	if r.records != nil {
		r.flags |= nt.FWP_CONDITION_FLAG_IS_PROXY_CONNECTION
	}
	if l.IsBindRedirect() {
		r.origBind = FWPS_BIND_REQUEST0{LocalAddressAndPort: r.req.Local}
		r.bcur = &r.origBind
		r.borig = r.bcur
	} else if l.IsConnectRedirect() {
		r.origReq = FWPS_CONNECT_REQUEST0{LocalAddressAndPort: r.req.Local, RemoteAddressAndPort: r.req.Remote}
		r.cur = &r.origReq
		r.orig = r.cur
		if r.records != nil {
			r.meta.CurrentMetadataValues |= nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE
			r.meta.RedirectRecords = r.records
		}
	} else {
		if r.redirected {
			r.flags |= nt.FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED
			r.meta.CurrentMetadataValues |= nt.FWPS_METADATA_FIELD_ORIGINAL_DESTINATION | nt.FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID
			r.meta.OriginalDestination = r.req.Remote
			r.meta.LocalRedirectTargetPID = r.target
		}
	}
}

// advance runs filters until the layer ends, a callout pends, or the connect
// is decided. Filters come sorted by sublayer (weight, high first), then by
// filter weight: within a sublayer evaluation stops at the first PERMIT or
// BLOCK (a CONTINUE goes on), and every sublayer is evaluated, even after a
// block (filter-arbitration: "Evaluate all sub-layers even if a higher
// priority sub-layer has decided to block the traffic"); arbitrate combines
// the sublayers' results.
func (r *classifyRun) advance() {
	for {
		for r.idx < len(r.filters) {
			f := r.filters[r.idx]
			r.idx++
			if f.Sublayer != r.sub {
				r.sub, r.subDone = f.Sublayer, false
			}
			if r.subDone {
				continue // a higher-weight filter of this sublayer decided
			}
			if !r.invoke(f, r.flags) {
				return // pended
			}
		}
		if r.layer.IsBindRedirect() {
			r.finishBind(r.action == FWP_ACTION_BLOCK)
			return
		}
		if r.layer.IsConnectRedirect() {
			if !r.reauthed && r.action != FWP_ACTION_BLOCK {
				r.reauthed = true
				var again []*Filter
				for _, f := range r.reauth {
					if r.cur.ModifierFilterId != f.FilterId && r.cur != r.orig {
						again = append(again, f)
					}
				}
				if len(again) > 0 {
					r.filters = append(r.filters[:0], again...)
					r.idx = 0
					r.sub, r.subDone = nil, false
					r.flags |= nt.FWP_CONDITION_FLAG_IS_REAUTHORIZE
					r.rights |= FWPS_RIGHT_ACTION_WRITE
					continue
				}
			}
			if !r.endConnectRedirect() {
				r.finish(true)
				return
			}
			r.startLayer(r.e.authConnectLayer(r.v6))
			continue
		}
		r.finish(r.action == FWP_ACTION_BLOCK)
		return
	}
}

// invoke calls one filter; false when the classify is left pended.
func (r *classifyRun) invoke(f *Filter, flags uint32) bool {
	e := r.e
	if f.Callout == nil {
		r.arbitrate(f, r.rights, &ClassifyOut{ActionType: f.Action, Rights: r.rights})
		return true
	}
	inv := &invocation{out: ClassifyOut{ActionType: FWP_ACTION_CONTINUE, Rights: r.rights, FilterId: f.FilterId},
		cc: ClassifyContext{run: r, filter: f}}
	out, cc, c := &inv.out, &inv.cc, &inv.c
	proto := uint8(nt.IPPROTO_TCP)
	if r.proto != 0 {
		proto = r.proto
	}
	*c = Classify{Layer: r.layer, LocalAddress: r.req.Local, RemoteAddress: r.req.Remote,
		Protocol: proto, Flags: flags, Meta: r.meta, Filter: f, ClassifyContext: cc, Out: out, Engine: e}
	if !r.layer.IsConnectRedirect() {
		c.RemoteAddress = r.remote // the zero AddrPort at the bind layers
	}
	traced := e.w.Tracing() && !f.Callout.builtin
	if traced {
		e.traceClassify(c)
	} else if !f.Callout.builtin {
		e.w.NextSeq() // the classify env event's seq, taken traced or not
	}
	r.inFn = f
	r.completedInFn = false
	rights := r.rights
	f.Callout.Fn(c)
	r.inFn = nil
	if traced {
		e.w.TraceEnv("classify_return", sim.F("callout", sim.Str(f.Callout.Name)), sim.F("filter", sim.Int(f.FilterId)),
			sim.F("actionType", sim.Str(out.ActionType.String())), sim.F("rights", sim.Int(uint64(out.Rights))),
			sim.F("flags", sim.Int(uint64(out.Flags))))
	} else if !f.Callout.builtin {
		e.w.NextSeq() // the classify_return env event's seq
	}
	// Handles of this invocation: writable data not applied by now is a
	// pairing violation unless the classify is pended.
	for _, cs := range e.classifies {
		if cs.run == r && cs.filter == f && cs.holding() && !cs.pended {
			e.unapplied(cs, "classifyFn returned")
		}
	}
	if r.pended != nil && r.pended.filter == f && r.pended.pended {
		r.pended.rights = rights
		return false
	}
	if r.completedInFn {
		// Pended and completed inside classifyFn (Windows 8+): the
		// completion's classifyOut was arbitrated already.
		r.completedInFn = false
		return true
	}
	r.arbitrate(f, rights, out)
	return true
}

// arbitrate folds one filter's classifyOut into the layer's decision, by the
// override rules of the filter-arbitration page. rights is what the filter
// was invoked with: FWPS_RIGHT_ACTION_WRITE set means the decision so far
// (none, a soft permit or a soft block) may be overridden, and the filter's
// PERMIT or BLOCK replaces it; the filter keeps the write right in its
// classifyOut for a soft decision (a lower sublayer may override it) or
// clears it for a hard one. Without the write right the decision is hard: a
// PERMIT is ignored (WFP-WRITE-WITHOUT-RIGHT for a callout), and a BLOCK
// from a callout is a veto, which overrides a hard permit ("Traffic can be
// blocked by a callout filter via a Veto even if a higher priority filter
// has permitted it"; FWPS_CLASSIFY_OUT0: "setting actionType to
// FWP_ACTION_BLOCK when the rights member is not set to
// FWPS_RIGHT_ACTION_WRITE results in a veto"). A static filter cannot veto.
// A PERMIT or BLOCK, taken or not, ends its sublayer's evaluation.
func (r *classifyRun) arbitrate(f *Filter, rights uint32, out *ClassifyOut) {
	hadWrite := rights&FWPS_RIGHT_ACTION_WRITE != 0
	switch out.ActionType {
	case FWP_ACTION_BLOCK:
		r.subDone = true
		switch {
		case hadWrite:
			r.action = FWP_ACTION_BLOCK
			if out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
				r.rights &^= FWPS_RIGHT_ACTION_WRITE // hard block
			}
		case f.Callout != nil:
			r.action = FWP_ACTION_BLOCK // veto: overrides a hard permit
		}
	case FWP_ACTION_PERMIT:
		r.subDone = true
		if !hadWrite {
			if f.Callout != nil {
				r.e.w.Violate(RuleWriteWithoutRight, fmt.Sprintf("callout %s (filter %d) returned FWP_ACTION_PERMIT at %v without FWPS_RIGHT_ACTION_WRITE; the permit is ignored", f.Callout.Name, f.FilterId, r.layer), f.Name)
			}
			return
		}
		r.action = FWP_ACTION_PERMIT
		if out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
			r.rights &^= FWPS_RIGHT_ACTION_WRITE // hard permit
		}
	}
}

// endConnectRedirect applies the final layer data of ALE_CONNECT_REDIRECT;
// false when the connect is blocked.
func (r *classifyRun) endConnectRedirect() bool {
	e := r.e
	if r.action == FWP_ACTION_BLOCK {
		return false
	}
	v := r.cur
	r.remote = r.req.Remote
	if v != r.orig && v.LocalAddressAndPort != r.req.Local {
		// The source rewrite (the address; the port by P-SRCPORT).
		l := v.LocalAddressAndPort
		if l.Port() != r.req.Local.Port() {
			if e.w.Policy(PolicySourcePort) == srcportBlocked {
				e.w.TraceNote(fmt.Sprintf("wfp: %s blocked: its source port was rewritten from %d to %d at %v (P-SRCPORT)", r.req.Socket, r.req.Local.Port(), l.Port(), r.layer))
				return false
			}
			e.w.TraceNote(fmt.Sprintf("wfp: %s: the source port rewrite from %d to %d at %v is not applied (P-SRCPORT)", r.req.Socket, r.req.Local.Port(), l.Port(), r.layer))
			l = netip.AddrPortFrom(l.Addr(), r.req.Local.Port())
		}
		if l != r.req.Local {
			r.local = l
			r.req.Local = l // the auth layer sees the new source
		}
	}
	if v == r.orig || v.RemoteAddressAndPort == r.req.Remote {
		return true
	}
	modifier := e.filterByID(v.ModifierFilterId)
	local := v.RemoteAddressAndPort.Addr().IsLoopback() || v.LocalRedirectHandle != nil || v.LocalRedirectTargetPID != 0
	if v.RemoteAddressAndPort.Addr().IsLoopback() && v.LocalRedirectTargetPID == 0 {
		switch e.w.Policy(PolicyNoPID) {
		case nopidIgnore:
			e.w.TraceNote(fmt.Sprintf("wfp: loopback redirect of %s to %v without localRedirectTargetPID ignored (P-NOPID)", r.req.Socket, v.RemoteAddressAndPort))
			return true
		case nopidBlock:
			return false
		}
	}
	h := v.LocalRedirectHandle
	if h != nil && h.destroyed {
		e.w.Violate(RuleBadRedirectHandle, fmt.Sprintf("localRedirectHandle %s was destroyed; the redirect records no hop", h.name), h.name)
		h = nil
	}
	if local && h == nil && e.w.Policy(PolicyNoHandle) == nohandleNoRedirect {
		e.w.TraceNote(fmt.Sprintf("wfp: local redirect of %s without localRedirectHandle dropped (P-NOHANDLE)", r.req.Socket))
		return true
	}
	r.redirected = true
	r.remote = v.RemoteAddressAndPort
	r.target = v.LocalRedirectTargetPID
	r.ctx = v.LocalRedirectContext
	r.modifier = modifier
	r.hopHandle = h
	key := hopKey{target: r.target, original: r.req.Remote}
	if h != nil {
		key.handle = h.id
	} else {
		key.filter = v.ModifierFilterId
	}
	// Loop detection over the chain of proxied connections.
	depth := 1
	if r.parent != nil {
		depth = r.parent.depth + 1
		loop := false
		for p := r.parent; p != nil; p = p.parent {
			if p.hopKey == key {
				loop = true
			}
		}
		if loop {
			if root := r.parent.root(); !root.loopSeen {
				root.loopSeen = true
				e.reportLoop(r, h, v.ModifierFilterId)
			}
		}
		if depth > MaxHops {
			e.w.TraceNote(fmt.Sprintf("wfp: %s blocked: the proxy chain of %s is %d hops long (MaxHops %d)", r.req.Socket, r.parent.root().name(), depth, MaxHops))
			return false
		}
	}
	r.hop = Hop{TargetPID: r.target, FilterID: v.ModifierFilterId, Original: r.req.Remote}
	if h != nil {
		r.hop.HandleID = h.id
	}
	r.keyDepth, r.key = depth, key
	return true
}

// finish decides the connect and calls done.
func (r *classifyRun) finish(blocked bool) {
	if r.finished {
		return
	}
	r.finished = true
	e := r.e
	res := r.res
	*res = ConnectResult{Remote: r.req.Remote, Local: r.local}
	own := e.w.Policy(PolicyContextOwner)
	if blocked {
		if r.parent != nil {
			e.resolve(r.parent)
		}
		res.Blocked = true
		for _, c := range r.applied {
			if own == ctxownAtApply {
				c.freedByWFP = true // WFP owns it and frees it with the dead classify
			} else {
				c.pending = false // stays with the callout
			}
		}
		if r.done != nil {
			r.done(res)
		}
		return
	}
	e.nextFlow++
	f := &flow{id: e.nextFlow, socket: r.req.Socket, pid: r.req.ProcessID, original: r.req.Remote, remote: r.req.Remote}
	res.Flow = f.id
	for _, c := range r.applied {
		c.pending = false
		c.wfpOwned = true
		if c != r.ctx || !r.redirected {
			c.freedByWFP = true // superseded by a later modification
		}
	}
	if r.redirected {
		f.redirected = true
		f.remote = r.remote
		f.target = r.target
		f.parent = r.parent
		f.depth = r.keyDepth
		f.hopKey = r.key
		res.Remote = r.remote
		res.Redirected = true
		res.TargetPID = r.target
		if r.ctx != nil && !r.ctx.freedByWFP {
			f.ctx = r.ctx
		}
		if r.hopHandle != nil {
			r.hop.Flow = f.id
			var hops []Hop
			if r.records != nil {
				hops = append(hops, r.records.hops...)
			}
			if len(hops) >= MaxHops {
				hops = hops[len(hops)-MaxHops+1:]
			}
			f.hops = append(hops, r.hop)
			f.records = e.codec.encode(nil, f.hops, e.padTarget())
			res.Records = f.records
		}
		res.Context = e.contextFor(f)
		e.chains = append(e.chains, f)
		if r.parent != nil {
			e.onwardRedirected(f)
		}
	} else if r.parent != nil {
		e.resolve(r.parent) // the proxy's connect reached the final destination
	}
	e.flows[f.id] = f
	if r.done != nil {
		r.done(res)
	}
}

// contextFor is what SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT answers for
// the accepted socket of flow f (P-CTXSEL).
func (e *Engine) contextFor(f *flow) []byte {
	if e.w.Policy(PolicyContextSel) == ctxselFirst && len(f.hops) > 1 {
		if of, ok := e.flows[f.hops[0].Flow]; ok {
			if of.ctx != nil {
				return of.ctx.data
			}
		}
	}
	if f.ctx != nil {
		return f.ctx.data
	}
	return nil
}

func (e *Engine) filterByID(id uint64) *Filter {
	for _, f := range e.filters {
		if f.FilterId == id {
			return f
		}
	}
	return nil
}

func (e *Engine) traceClassify(c *Classify) {
	fs := []sim.Field{sim.F("layer", sim.Str(c.Layer.String())), sim.F("callout", sim.Str(c.Filter.Callout.Name)),
		sim.F("filter", sim.Int(c.Filter.FilterId)),
		sim.F("local", sim.Str(c.LocalAddress.String()))}
	if !c.Layer.IsBindRedirect() { // a bind has no remote address
		fs = append(fs, sim.F("remote", sim.Str(c.RemoteAddress.String())))
	}
	proto := "IPPROTO_TCP"
	if c.Protocol == uint8(nt.IPPROTO_UDP) {
		proto = "IPPROTO_UDP"
	}
	fs = append(fs, sim.F("protocol", sim.Str(proto)), sim.F("flags", sim.Int(uint64(c.Flags))),
		sim.F("currentMetadataValues", sim.Int(uint64(c.Meta.CurrentMetadataValues))),
		sim.F("processId", sim.Int(c.Meta.ProcessId)), sim.F("rights", sim.Int(uint64(c.Out.Rights))))
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
		fs = append(fs, sim.F("redirectRecords", sim.Int(uint64(len(c.Meta.RedirectRecords.hops)))))
	}
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_ORIGINAL_DESTINATION) {
		fs = append(fs, sim.F("originalDestination", sim.Str(c.Meta.OriginalDestination.String())),
			sim.F("localRedirectTargetPID", sim.Int(uint64(c.Meta.LocalRedirectTargetPID))))
	}
	e.w.TraceEnv("classify", fs...)
}

// ---- the proxy chains: loop report and the end-of-run property ----

// root returns the first flow of f's proxy chain (the application's
// connection).
func (f *flow) root() *flow {
	for f.parent != nil {
		f = f.parent
	}
	return f
}

// handleText names the redirect of flow f: its redirect handle, or the
// filter when it had none.
func (e *Engine) handleText(handle uint32, filter uint64) string {
	if handle != 0 {
		return e.HandleName(handle)
	}
	return fmt.Sprintf("filter %d (no redirect handle)", filter)
}

// hopsText lists the hops of the chain ending at tip, oldest first:
// "hop 1 peer1 (pid 600) -> 127.0.0.1:9000 (pid 500) by H1 [flow1]; hop 2 ...".
func (e *Engine) hopsText(tip *flow) (string, []string) {
	var fs []*flow
	for f := tip; f != nil; f = f.parent {
		fs = append(fs, f)
	}
	var b strings.Builder
	names := make([]string, 0, len(fs))
	for i := len(fs) - 1; i >= 0; i-- {
		f := fs[i]
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "hop %d %s (pid %d) -> %v (pid %d) by %s [%s]", len(fs)-i, f.socket, f.pid, f.remote, f.target,
			e.handleText(f.hopKey.handle, f.hopKey.filter), f.name())
		names = append(names, f.name())
	}
	return b.String(), names
}

// chainTitle is "flow1 (peer1, pid 600, to 198.51.100.7:443)".
func chainTitle(root *flow) string {
	return fmt.Sprintf("%s (%s, pid %d, to %v)", root.name(), root.socket, root.pid, root.original)
}

// reportLoop reports WFP-PROXY-LOOP for classify r, which redirects its
// connect back along the chain it belongs to.
func (e *Engine) reportLoop(r *classifyRun, h *RedirectHandle, filter uint64) {
	var hid uint32
	if h != nil {
		hid = h.id
	}
	hops, names := e.hopsText(r.parent)
	root := r.parent.root()
	why := fmt.Sprintf("%s connected to %v without the redirect records of %s: set SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (the records SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS returned on the accepted socket) on the outbound socket before WskConnect",
		r.req.Socket, r.req.Remote, r.parent.name())
	if r.proto == uint8(nt.IPPROTO_UDP) {
		why = fmt.Sprintf("%s sent to %v without the redirect records of %s: pass the IP_WFP_REDIRECT_RECORDS control data the flow's first datagram brought (WskReceiveFrom's ControlInfo) as ControlInfo of the first WskSendTo to the original destination",
			r.req.Socket, r.req.Remote, r.parent.name())
	}
	if r.records != nil {
		why = fmt.Sprintf("%s carried the redirect records of %s, but the callout redirected it regardless of its redirect state", r.req.Socket, r.parent.name())
	}
	msg := fmt.Sprintf("proxy loop on %s: %s; hop %d %s (pid %d) -> %v (pid %d) by %s again. %s",
		chainTitle(root), hops, len(names)+1, r.req.Socket, r.req.ProcessID, r.remote, r.target, e.handleText(hid, filter), why)
	e.w.Violate(RuleProxyLoop, msg, append([]string{r.req.Socket}, names...)...)
}

// resolve records that the chain of parent ended: a connect made on its
// behalf reached its final destination or was blocked.
func (e *Engine) resolve(parent *flow) {
	root := parent.root()
	root.resolved = true
	if root.listed {
		root.listed = false
		for i, f := range e.unresolved {
			if f == root {
				e.unresolved = append(e.unresolved[:i], e.unresolved[i+1:]...)
				break
			}
		}
	}
}

// onwardRedirected records that f, a connect a proxy made on behalf of its
// chain, was redirected to a proxy again: the chain has not ended yet.
func (e *Engine) onwardRedirected(f *flow) {
	root := f.root()
	if root.resolved {
		return
	}
	root.tip = f
	if !root.listed {
		root.listed = true
		e.unresolved = append(e.unresolved, root)
	}
}

// checkFinished is the end-of-run property (world close): every connection
// a proxy carried onward ended at a final destination (a connect that was
// not redirected again) or was blocked.
func (e *Engine) checkFinished() {
	for _, root := range e.unresolved {
		hops, names := e.hopsText(root.tip)
		e.w.Violate(RuleFlowUnfinished, fmt.Sprintf("%s never reached %v and was never blocked: %s; nothing was connected onward for %s after that (process %d)",
			chainTitle(root), root.original, hops, root.tip.name(), root.tip.target), names...)
	}
}

// checkLeaks runs at world close.
func (e *Engine) checkLeaks() {
	e.checkFinished()
	if e.w.Policy(PolicyPairing) == pairViolation {
		for _, cs := range e.classifies {
			e.w.Violate(RuleClassifyHandleLeak, fmt.Sprintf("classify handle %s (filter %d) was never released with FwpsReleaseClassifyHandle0", cs.name(), cs.filter.FilterId), cs.name())
		}
	}
	for _, h := range e.handles {
		if !h.destroyed {
			e.w.Violate(RuleRedirectHandleLeak, fmt.Sprintf("redirect handle %s was never destroyed with FwpsRedirectHandleDestroy0", h.name), h.name)
		}
	}
}
