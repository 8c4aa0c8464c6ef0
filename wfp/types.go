package wfp

import (
	"net/netip"
	"strconv"

	"github.com/wsksim/wsksim/sim"
)

// Layer is a run-time filtering layer (FWPS_BUILTIN_LAYERS).
type Layer uint8

// The layers the model implements.
const (
	FWPS_LAYER_ALE_CONNECT_REDIRECT_V4 Layer = iota + 1
	FWPS_LAYER_ALE_CONNECT_REDIRECT_V6
	FWPS_LAYER_ALE_AUTH_CONNECT_V4
	FWPS_LAYER_ALE_AUTH_CONNECT_V6
	FWPS_LAYER_ALE_BIND_REDIRECT_V4
	FWPS_LAYER_ALE_BIND_REDIRECT_V6
)

var layerNames = [...]string{"", "FWPS_LAYER_ALE_CONNECT_REDIRECT_V4", "FWPS_LAYER_ALE_CONNECT_REDIRECT_V6",
	"FWPS_LAYER_ALE_AUTH_CONNECT_V4", "FWPS_LAYER_ALE_AUTH_CONNECT_V6",
	"FWPS_LAYER_ALE_BIND_REDIRECT_V4", "FWPS_LAYER_ALE_BIND_REDIRECT_V6"}

func (l Layer) String() string {
	if int(l) < len(layerNames) && l != 0 {
		return layerNames[l]
	}
	return "Layer(" + strconv.Itoa(int(l)) + ")"
}

// IsConnectRedirect reports whether l is ALE_CONNECT_REDIRECT_V4 or _V6.
func (l Layer) IsConnectRedirect() bool {
	return l == FWPS_LAYER_ALE_CONNECT_REDIRECT_V4 || l == FWPS_LAYER_ALE_CONNECT_REDIRECT_V6
}

// IsBindRedirect reports whether l is ALE_BIND_REDIRECT_V4 or _V6, where the
// writable layer data is an FWPS_BIND_REQUEST0.
func (l Layer) IsBindRedirect() bool {
	return l == FWPS_LAYER_ALE_BIND_REDIRECT_V4 || l == FWPS_LAYER_ALE_BIND_REDIRECT_V6
}

// Action is FWP_ACTION_TYPE.
type Action uint32

// FWP_ACTION_* values (fwptypes.h: FWP_ACTION_FLAG_TERMINATING 0x1000,
// FWP_ACTION_FLAG_NON_TERMINATING 0x2000, FWP_ACTION_FLAG_CALLOUT 0x4000).
const (
	FWP_ACTION_BLOCK                                     Action = 0x1 | 0x1000
	FWP_ACTION_PERMIT                                    Action = 0x2 | 0x1000
	FWP_ACTION_CALLOUT_TERMINATING                       Action = 0x3 | 0x4000 | 0x1000
	FWP_ACTION_CALLOUT_INSPECTION                        Action = 0x4 | 0x4000 | 0x2000
	FWP_ACTION_CALLOUT_UNKNOWN                           Action = 0x5 | 0x4000
	FWP_ACTION_CONTINUE                                  Action = 0x6 | 0x2000
	FWP_ACTION_NONE                                      Action = 0x7
	FWP_ACTION_NONE_NO_MATCH                             Action = 0x8
	FWPS_RIGHT_ACTION_WRITE                              uint32 = 0x00000001
	FWPS_CLASSIFY_OUT_FLAG_ABSORB                        uint32 = 0x00000001
	FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS uint32 = 0x00000001
)

// FWPS_METADATA_FIELD_PROCESS_ID flags FWPS_INCOMING_METADATA_VALUES0.processId
// (32 in the windows-sys metadata bindings).
const FWPS_METADATA_FIELD_PROCESS_ID uint32 = 0x00000020

func (a Action) String() string {
	switch a {
	case FWP_ACTION_BLOCK:
		return "FWP_ACTION_BLOCK"
	case FWP_ACTION_PERMIT:
		return "FWP_ACTION_PERMIT"
	case FWP_ACTION_CALLOUT_TERMINATING:
		return "FWP_ACTION_CALLOUT_TERMINATING"
	case FWP_ACTION_CALLOUT_INSPECTION:
		return "FWP_ACTION_CALLOUT_INSPECTION"
	case FWP_ACTION_CALLOUT_UNKNOWN:
		return "FWP_ACTION_CALLOUT_UNKNOWN"
	case FWP_ACTION_CONTINUE:
		return "FWP_ACTION_CONTINUE"
	case FWP_ACTION_NONE:
		return "FWP_ACTION_NONE"
	case FWP_ACTION_NONE_NO_MATCH:
		return "FWP_ACTION_NONE_NO_MATCH"
	}
	return "Action(0x" + strconv.FormatUint(uint64(a), 16) + ")"
}

// RedirectState is FWPS_CONNECTION_REDIRECT_STATE.
type RedirectState uint32

// FWPS_CONNECTION_REDIRECT_STATE values (implicit C enum numbering).
const (
	FWPS_CONNECTION_NOT_REDIRECTED                RedirectState = 0
	FWPS_CONNECTION_REDIRECTED_BY_SELF            RedirectState = 1
	FWPS_CONNECTION_REDIRECTED_BY_OTHER           RedirectState = 2
	FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF RedirectState = 3
	FWPS_CONNECTION_REDIRECT_STATE_MAX            RedirectState = 4
)

var stateNames = [...]string{"FWPS_CONNECTION_NOT_REDIRECTED", "FWPS_CONNECTION_REDIRECTED_BY_SELF",
	"FWPS_CONNECTION_REDIRECTED_BY_OTHER", "FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF", "FWPS_CONNECTION_REDIRECT_STATE_MAX"}

func (s RedirectState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "RedirectState(" + strconv.Itoa(int(s)) + ")"
}

// GUID is a provider key (FwpsRedirectHandleCreate0's providerGuid).
type GUID [16]byte

// RedirectHandle is a HANDLE from FwpsRedirectHandleCreate0 (or a handle named
// by a trace's redirected_connect / redirect_policy event). nil is NULL.
type RedirectHandle struct {
	name      string
	id        uint32
	destroyed bool
	builtin   bool // made by AddRedirectPolicy or an env event, not by the driver
}

// Name returns the handle's display name ("H1").
func (h *RedirectHandle) Name() string {
	if h == nil {
		return ""
	}
	return h.name
}

// RedirectRecords is the redirectRecords HANDLE of
// FWPS_INCOMING_METADATA_VALUES0: the history the connecting socket carried.
// nil is NULL.
type RedirectRecords struct {
	hops []Hop
}

// Hops returns the redirect history, oldest first.
func (r *RedirectRecords) Hops() []Hop {
	if r == nil {
		return nil
	}
	return r.hops
}

// RedirectContext is callout-allocated memory for localRedirectContext
// (ExAllocatePoolWithTag in a real driver). Allocate with
// Engine.AllocateRedirectContext. Once FwpsApplyModifiedLayerData0 hands it
// to WFP, the callout must not touch it again (WFP-CONTEXT-AFTER-TRANSFER).
type RedirectContext struct {
	e          *Engine
	num        int    // display number ("ctx4"), when label is empty
	label      string // display name of contexts the environment made
	data       []byte
	wfpOwned   bool // ownership passed to WFP
	freed      bool // freed by the callout (before transfer)
	freedByWFP bool // freed by WFP (flow removed)
	pending    bool // applied; transfer happens at permit (P-CTXOWN=at-permit)
}

// Name returns the display name ("ctx1").
func (c *RedirectContext) Name() string {
	if c == nil {
		return ""
	}
	if c.label != "" {
		return c.label
	}
	return sim.Name("ctx", c.num)
}

// Size is localRedirectContextSize.
func (c *RedirectContext) Size() uint64 {
	if c == nil {
		return 0
	}
	return uint64(len(c.data))
}

// FWPS_CONNECT_REQUEST0 is the writable layer data at ALE_CONNECT_REDIRECT
// (fwpsk.h, Windows 8 layout). Only RemoteAddressAndPort,
// PortReservationToken, LocalRedirectTargetPID, LocalRedirectHandle,
// LocalRedirectContext and LocalRedirectContextSize may be written;
// PreviousVersion and ModifierFilterId are set by the engine.
type FWPS_CONNECT_REQUEST0 struct {
	LocalAddressAndPort      netip.AddrPort
	RemoteAddressAndPort     netip.AddrPort
	PortReservationToken     uint64
	LocalRedirectTargetPID   uint32
	PreviousVersion          *FWPS_CONNECT_REQUEST0
	ModifierFilterId         uint64
	LocalRedirectHandle      *RedirectHandle
	LocalRedirectContext     *RedirectContext
	LocalRedirectContextSize uint64
}

func (r *FWPS_CONNECT_REQUEST0) sameAs(o *FWPS_CONNECT_REQUEST0) bool {
	return r.LocalAddressAndPort == o.LocalAddressAndPort && r.RemoteAddressAndPort == o.RemoteAddressAndPort &&
		r.PortReservationToken == o.PortReservationToken && r.LocalRedirectTargetPID == o.LocalRedirectTargetPID &&
		r.LocalRedirectHandle == o.LocalRedirectHandle && r.LocalRedirectContext == o.LocalRedirectContext &&
		r.LocalRedirectContextSize == o.LocalRedirectContextSize
}

// ClassifyOut is FWPS_CLASSIFY_OUT0.
type ClassifyOut struct {
	ActionType Action
	OutContext uint64
	FilterId   uint64
	Rights     uint32
	Flags      uint32
}

// Metadata is the part of FWPS_INCOMING_METADATA_VALUES0 the redirect layers
// use. A field is valid only when its FWPS_METADATA_FIELD_* bit is set in
// CurrentMetadataValues.
type Metadata struct {
	CurrentMetadataValues  uint32
	ProcessId              uint64
	RedirectRecords        *RedirectRecords
	OriginalDestination    netip.AddrPort
	LocalRedirectTargetPID uint32
}

// Present reports FWPS_IS_METADATA_FIELD_PRESENT.
func (m *Metadata) Present(field uint32) bool { return m.CurrentMetadataValues&field == field }

// ClassifyContext is the opaque classifyContext handed to classifyFn, for
// FwpsAcquireClassifyHandle0.
type ClassifyContext struct {
	run    *classifyRun
	filter *Filter
}

// Classify is one invocation of a callout's classifyFn.
type Classify struct {
	Layer Layer
	// Incoming values.
	LocalAddress  netip.AddrPort
	RemoteAddress netip.AddrPort
	Protocol      uint8  // IPPROTO_TCP
	Flags         uint32 // the FWPS_FIELD_*_FLAGS condition: FWP_CONDITION_FLAG_*
	// Metadata (FWPS_INCOMING_METADATA_VALUES0).
	Meta Metadata
	// Filter whose action invoked the callout.
	Filter *Filter
	// ClassifyContext for FwpsAcquireClassifyHandle0.
	ClassifyContext *ClassifyContext
	// Out is classifyOut: the callout sets ActionType (and may clear Rights).
	Out *ClassifyOut
	// Engine gives access to the FWPS functions.
	Engine *Engine
}

// ClassifyFn is a callout's classifyFn (classifyFn2 in a real driver).
type ClassifyFn func(c *Classify)

// Callout is a registered callout (FwpsCalloutRegister).
type Callout struct {
	Name     string
	Layer    Layer
	Fn       ClassifyFn
	builtin  bool
	traceArg string
}

// Sublayer groups filters; higher Weight is evaluated first.
type Sublayer struct {
	Name   string
	Weight uint16
	order  int
}

// Filter is a filter at a layer: a static PERMIT/BLOCK, or a callout.
type Filter struct {
	FilterId uint64
	Name     string
	Layer    Layer
	Sublayer *Sublayer
	Weight   uint64
	Action   Action   // FWP_ACTION_PERMIT, FWP_ACTION_BLOCK or FWP_ACTION_CALLOUT_*
	Callout  *Callout // for FWP_ACTION_CALLOUT_*
	// RemoteMatch, when valid, restricts the filter to connections to that
	// address and port (the FWPM_CONDITION_IP_REMOTE_ADDRESS/PORT conditions).
	RemoteMatch netip.AddrPort
	tie         int // tie-break among equal weights (choice point wfp.filter-tie)
	policy      *redirectPolicy
}

func (f *Filter) matches(remote netip.AddrPort) bool {
	return !f.RemoteMatch.IsValid() || f.RemoteMatch == remote
}

// flow is the record store's entry for a classified connection.
type flow struct {
	id         FlowID
	socket     string
	pid        uint32
	original   netip.AddrPort // destination the connect asked for
	remote     netip.AddrPort // where it went
	hops       []Hop          // history after this connection's redirect (nil: not recorded)
	records    []byte
	ctx        *RedirectContext
	redirected bool
	env        bool
	ended      bool
	hopKey     hopKey
	target     uint32
	parent     *flow
	depth      int
	loopSeen   bool // root: WFP-PROXY-LOOP reported for this chain
	resolved   bool // root: a connect on the chain's behalf reached a final destination or was blocked
	listed     bool // root: in Engine.unresolved
	tip        *flow
}

// hopKey identifies one redirect for loop detection.
type hopKey struct {
	handle   uint32
	filter   uint64
	target   uint32
	original netip.AddrPort
}

func (f *flow) name() string { return sim.Name("flow", int(f.id)) }
