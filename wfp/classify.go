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
	e        *Engine
	req      ConnectRequest
	v6       bool
	records  *RedirectRecords
	parent   *flow
	layer    Layer
	filters  []*Filter
	idx      int
	cur      *FWPS_CONNECT_REQUEST0 // latest version of the layer data
	orig     *FWPS_CONNECT_REQUEST0
	action   Action
	rights   uint32
	flags    uint32 // condition flags for callouts still to run
	meta     Metadata
	inFn     *Filter // filter whose classifyFn is running
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
	keyDepth   int
	key        hopKey

	completedInFn bool
}

// ClassifyConnect classifies a TCP connect: ALE_CONNECT_REDIRECT, then
// ALE_AUTH_CONNECT. A callout that pends the classify (FwpsPendClassify0)
// and does not complete it before its classifyFn returns leaves the connect
// undecided; ClassifyConnect then reports it Blocked. Use
// ClassifyConnectAsync to wait for FwpsCompleteClassify0.
func (e *Engine) ClassifyConnect(req *ConnectRequest, res *ConnectResult) {
	var out *ConnectResult
	if !e.ClassifyConnectAsync(req, func(r *ConnectResult) { out = r }) || out == nil {
		*res = ConnectResult{Blocked: true, Remote: req.Remote}
		return
	}
	*res = *out
}

// ClassifyConnectAsync classifies a TCP connect and calls done with the
// result, inline (it returns true) or, when a callout pended the classify,
// from FwpsCompleteClassify0 (it returns false).
func (e *Engine) ClassifyConnectAsync(req *ConnectRequest, done func(*ConnectResult)) bool {
	r := &classifyRun{e: e, req: *req, v6: req.Remote.Addr().Is6() && !req.Remote.Addr().Is4In6(), done: done,
		res: &ConnectResult{Remote: req.Remote}}
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
	return r.finished
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
	if l.isConnectRedirect() {
		r.cur = &FWPS_CONNECT_REQUEST0{LocalAddressAndPort: r.req.Local, RemoteAddressAndPort: r.req.Remote}
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
// is decided.
func (r *classifyRun) advance() {
	for {
		for r.idx < len(r.filters) {
			f := r.filters[r.idx]
			r.idx++
			if !r.invoke(f, r.flags) {
				return // pended
			}
			if r.action == FWP_ACTION_BLOCK && r.rights&FWPS_RIGHT_ACTION_WRITE == 0 {
				break
			}
		}
		if r.layer.isConnectRedirect() {
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
	out := &ClassifyOut{ActionType: FWP_ACTION_CONTINUE, Rights: r.rights, FilterId: f.FilterId}
	cc := &ClassifyContext{run: r, filter: f}
	c := &Classify{Layer: r.layer, LocalAddress: r.req.Local, RemoteAddress: r.req.Remote,
		Protocol: uint8(nt.IPPROTO_TCP), Flags: flags, Meta: r.meta, Filter: f, ClassifyContext: cc, Out: out, Engine: e}
	if !r.layer.isConnectRedirect() {
		c.RemoteAddress = r.remote
	}
	traced := e.w.Tracing() && !f.Callout.builtin
	if traced {
		e.traceClassify(c)
	} else if !f.Callout.builtin {
		e.w.NextSeq()
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
		e.w.NextSeq()
	}
	// Handles of this invocation: writable data not applied by now is a
	// pairing violation unless the classify is pended.
	for _, cs := range e.classifies {
		if cs.run == r && cs.filter == f && cs.writable != nil && !cs.pended {
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

// arbitrate folds one filter's classifyOut into the layer's decision.
func (r *classifyRun) arbitrate(f *Filter, rights uint32, out *ClassifyOut) {
	hadWrite := rights&FWPS_RIGHT_ACTION_WRITE != 0
	switch out.ActionType {
	case FWP_ACTION_BLOCK:
		// A BLOCK always vetoes; it is final when it also took the write right.
		r.action = FWP_ACTION_BLOCK
		if !hadWrite || out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
			r.rights &^= FWPS_RIGHT_ACTION_WRITE
		}
	case FWP_ACTION_PERMIT:
		if !hadWrite {
			r.e.w.Violate(RuleWriteWithoutRight, fmt.Sprintf("callout %s (filter %d) returned FWP_ACTION_PERMIT at %v without FWPS_RIGHT_ACTION_WRITE; the permit is ignored", f.Callout.Name, f.FilterId, r.layer), f.Name)
			return
		}
		r.action = FWP_ACTION_PERMIT
		if out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
			r.rights &^= FWPS_RIGHT_ACTION_WRITE
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
		var chain []string
		loop := false
		for p := r.parent; p != nil; p = p.parent {
			chain = append(chain, p.name())
			if p.hopKey == key {
				loop = true
			}
		}
		if loop {
			root := r.parent
			for root.parent != nil {
				root = root.parent
			}
			if !root.loopSeen {
				root.loopSeen = true
				hn := "(no redirect handle)"
				if h != nil {
					hn = h.name
				}
				e.w.Violate(RuleProxyLoop, fmt.Sprintf("%s from process %d to %v is redirected again by %s to %v (pid %d) without redirect records: hops %s <- new connection", r.req.Socket, r.req.ProcessID, r.req.Remote, hn, r.remote, r.target, strings.Join(chain, " <- ")), append([]string{r.req.Socket}, chain...)...)
			}
		}
		if depth > MaxHops {
			e.w.TraceNote(fmt.Sprintf("wfp: %s blocked: the proxy chain is %d hops long (MaxHops %d)", r.req.Socket, depth, MaxHops))
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
	*res = ConnectResult{Remote: r.req.Remote}
	own := e.w.Policy(PolicyContextOwner)
	if blocked {
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
		sim.F("local", sim.Str(c.LocalAddress.String())), sim.F("remote", sim.Str(c.RemoteAddress.String())),
		sim.F("protocol", sim.Str("IPPROTO_TCP")), sim.F("flags", sim.Int(uint64(c.Flags))),
		sim.F("currentMetadataValues", sim.Int(uint64(c.Meta.CurrentMetadataValues))),
		sim.F("processId", sim.Int(c.Meta.ProcessId)), sim.F("rights", sim.Int(uint64(c.Out.Rights)))}
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
		fs = append(fs, sim.F("redirectRecords", sim.Int(uint64(len(c.Meta.RedirectRecords.hops)))))
	}
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_ORIGINAL_DESTINATION) {
		fs = append(fs, sim.F("originalDestination", sim.Str(c.Meta.OriginalDestination.String())),
			sim.F("localRedirectTargetPID", sim.Int(uint64(c.Meta.LocalRedirectTargetPID))))
	}
	e.w.TraceEnv("classify", fs...)
}

// checkLeaks runs at world close.
func (e *Engine) checkLeaks() {
	if e.w.Policy(PolicyPairing) == pairViolation {
		for _, cs := range e.classifies {
			e.w.Violate(RuleClassifyHandleLeak, fmt.Sprintf("classify handle %s (filter %d) was never released with FwpsReleaseClassifyHandle0", cs.name, cs.filter.FilterId), cs.name)
		}
	}
	for _, h := range e.handles {
		if !h.destroyed {
			e.w.Violate(RuleRedirectHandleLeak, fmt.Sprintf("redirect handle %s was never destroyed with FwpsRedirectHandleDestroy0", h.name), h.name)
		}
	}
}
