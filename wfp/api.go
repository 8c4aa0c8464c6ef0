package wfp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// FlowID names a connection the engine classified. It is never 0.
type FlowID uint64

// ConnectRequest is a TCP connect the stack hands to WFP (WskConnect,
// WskSocketConnect, or a peer_connect from a user-mode process).
type ConnectRequest struct {
	Socket    string         // display name of the connecting endpoint ("sock3", "peer1"), for reports
	ProcessID uint32         // owning process id (4 = System: kernel sockets with no OwningProcess)
	Local     netip.AddrPort // local address (may be unspecified/0 before the stack picks one)
	Remote    netip.AddrPort // destination
	Records   []byte         // blob set with SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (or, for UDP, sent as IP_WFP_REDIRECT_RECORDS control data); nil if none. Not retained after the call unless copied.
	Protocol  uint8          // IPPROTO_TCP or IPPROTO_UDP (a datagram flow's first datagram); 0 means IPPROTO_TCP
}

// ConnectResult is the engine's verdict on a ConnectRequest. The slices are
// owned by the engine and stay valid (and unchanged) until EndFlow(Flow); the
// caller must not modify them.
type ConnectResult struct {
	Blocked    bool
	Remote     netip.AddrPort // where the connection goes: req.Remote unless redirected
	Redirected bool
	TargetPID  uint32 // localRedirectTargetPID when redirected to a local process
	Records    []byte // what SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS answers on the accepted socket; nil when not redirected with a redirect handle (P-NOHANDLE)
	Context    []byte // what SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT answers; nil when none
	Flow       FlowID
	// Local is the source a callout rewrote localAddressAndPort to at
	// ALE_CONNECT_REDIRECT (the zero AddrPort when unchanged): the
	// connection leaves from its address. Its port is the one the stack
	// chose unless P-SRCPORT says otherwise.
	Local netip.AddrPort
}

// Engine is the WFP filter engine of one simulated machine: layers,
// sublayers, filters, callouts, redirect handles, classify handles and the
// redirect-record store. It is not safe for concurrent use (nothing in a
// sim.World is).
type Engine struct {
	w     *sim.World
	codec *codec

	handleIDs   map[string]uint32 // redirect handle name -> id (ids are 1-based)
	handleNames []string          // id-1 -> name
	handles     []*RedirectHandle // created by FwpsRedirectHandleCreate0, in creation order

	sublayers []*Sublayer
	filters   []*Filter // sorted: see sortFilters
	callouts  []*Callout
	nextFilt  uint64

	classifies []*classifyState // classify handles acquired and not released, in order
	freeCS     []*classifyState // released, for reuse
	nextCH     uint64

	flows    map[FlowID]*flow
	nextFlow FlowID
	chains   []*flow // live redirected flows, oldest first, for loop detection
	// unresolved are the roots of proxy chains whose latest onward connect
	// was redirected again and that have not ended yet (checkFinished).
	unresolved []*flow

	contexts []*RedirectContext // contexts WFP owns, for use-after-transfer checks
}

// NewEngine returns an engine with no filters: every connect is permitted
// unchanged. Its leak checks (classify handles, redirect handles) run at
// w.Close.
func NewEngine(w *sim.World) *Engine {
	if w == nil {
		panic("wfp.NewEngine: nil world")
	}
	e := &Engine{w: w, codec: newCodec(w.Seed()), handleIDs: map[string]uint32{}, flows: map[FlowID]*flow{}}
	w.OnClose(e.checkLeaks)
	return e
}

// World returns the world the engine lives in.
func (e *Engine) World() *sim.World { return e.w }

// CheckRecords validates a blob the way SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS
// does for a socket owned by ownerPID:
//
//   - STATUS_INVALID_PARAMETER: shorter than the header, or the length fields
//     disagree with each other or with len(blob) (P-MISMATCH);
//   - STATUS_INTEGER_OVERFLOW: the internal length fields overflow a ULONG
//     (P-OVF (c));
//   - STATUS_ACCESS_DENIED: not issued by this engine, or altered (P-ACC (c)),
//     or issued for a localRedirectTargetPID other than ownerPID (P-ACC (d));
//     under P-ACC "never" these come back as STATUS_INVALID_PARAMETER;
//   - STATUS_SUCCESS otherwise.
//
// It reads at most len(blob) bytes and does not allocate.
func (e *Engine) CheckRecords(blob []byte, ownerPID uint32) nt.Status {
	st, n := e.codec.verify(blob)
	if st == nt.STATUS_SUCCESS {
		if acc := e.w.Policy(PolicyAccess); (acc == accElevIntegrityPID || acc == accIntegrityPID) && lastTarget(blob, n) != ownerPID {
			st = nt.STATUS_ACCESS_DENIED
		}
	}
	if st == nt.STATUS_ACCESS_DENIED && e.w.Policy(PolicyAccess) == accNever {
		st = nt.STATUS_INVALID_PARAMETER
	}
	return st
}

// DecodeRecords returns the history a blob carries, or the CheckRecords
// status (without the process check) when it is not valid.
func (e *Engine) DecodeRecords(blob []byte) ([]Hop, nt.Status) {
	var h history
	if st := e.codec.decode(blob, &h); st != nt.STATUS_SUCCESS {
		return nil, st
	}
	return append([]Hop(nil), h.slice()...), nt.STATUS_SUCCESS
}

// HandleName returns the name of redirect handle id (as in a Hop), or "".
func (e *Engine) HandleName(id uint32) string {
	if id == 0 || int(id) > len(e.handleNames) {
		return ""
	}
	return e.handleNames[id-1]
}

// handleID returns the id of the redirect handle called name, assigning one.
func (e *Engine) handleID(name string) uint32 {
	if id, ok := e.handleIDs[name]; ok {
		return id
	}
	e.handleNames = append(e.handleNames, name)
	id := uint32(len(e.handleNames))
	e.handleIDs[name] = id
	return id
}

// padTarget returns the P-SIZE padding target.
func (e *Engine) padTarget() int {
	switch e.w.Policy(PolicySize) {
	case sizeOver1K:
		return padTarget1K
	case sizeOver2K:
		return padTarget2K
	}
	return 0
}

// IssueRedirect records the redirect of a connection from `from` to
// `original` by a callout holding redirect handle `handle`, to `to`, for
// process targetPID, with redirect context `context`, as the engine does
// after FwpsApplyModifiedLayerData0 (the trace's redirected_connect env
// event). prior is the blob the connecting socket carried (nil if none). It
// returns the records the accepted socket answers to
// SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS. The context is not retained.
//
// An error means the harness fed bad input: an empty handle name, invalid
// addresses, a prior blob this engine would not accept, or a history that
// already holds MaxHops hops.
func (e *Engine) IssueRedirect(handle string, from, original, to netip.AddrPort, context []byte, targetPID uint32, prior []byte) (records []byte, err error) {
	if handle == "" {
		return nil, errors.New("wfp.IssueRedirect: empty redirect handle name")
	}
	if !original.IsValid() || !to.IsValid() {
		return nil, fmt.Errorf("wfp.IssueRedirect: invalid address (original %v, to %v)", original, to)
	}
	var h history
	if prior != nil {
		if st := e.codec.decode(prior, &h); st != nt.STATUS_SUCCESS {
			return nil, fmt.Errorf("wfp.IssueRedirect: prior records rejected with %v", st)
		}
	}
	if h.n >= MaxHops {
		return nil, fmt.Errorf("wfp.IssueRedirect: the history already holds %d hops (MaxHops)", MaxHops)
	}
	id := e.handleID(handle)
	e.nextFlow++
	f := &flow{id: e.nextFlow, socket: "redirected_connect:" + handle, pid: targetPID, original: original, remote: to,
		redirected: true, env: true, target: targetPID, depth: 1,
		hopKey: hopKey{handle: id, target: targetPID, original: original}}
	if len(context) > 0 {
		f.ctx = &RedirectContext{e: e, label: "env:" + handle, data: append([]byte(nil), context...), wfpOwned: true}
	}
	if h.n > 0 {
		if p, ok := e.flows[h.hops[h.n-1].Flow]; ok && !p.ended {
			f.parent, f.depth = p, p.depth+1
		}
	}
	h.hops[h.n] = Hop{HandleID: id, TargetPID: targetPID, FilterID: envFilterID(id), Original: original, Flow: f.id}
	h.n++
	f.hops = append([]Hop(nil), h.slice()...)
	f.records = e.codec.encode(nil, f.hops, e.padTarget())
	e.flows[f.id] = f
	e.chains = append(e.chains, f)
	_ = from // the trace names the client side; the store does not need it
	return append([]byte(nil), f.records...), nil
}

// envFilterID is the filter id recorded for redirects made outside the
// model's own filters (the trace's redirected_connect): high bit set so it
// never collides with an engine-assigned filter id.
func envFilterID(handle uint32) uint64 { return 1<<63 | uint64(handle) }

// EndFlow tells the engine that the flow is gone (both sockets closed): WFP
// frees the redirect context (P-CTXOWN) and forgets the flow. Unknown or
// already-ended ids are ignored.
func (e *Engine) EndFlow(id FlowID) {
	f, ok := e.flows[id]
	if !ok {
		return
	}
	delete(e.flows, id)
	f.ended = true
	if f.ctx != nil {
		f.ctx.freedByWFP = true
	}
	for i, c := range e.chains {
		if c == f {
			e.chains = append(e.chains[:i], e.chains[i+1:]...)
			break
		}
	}
}
