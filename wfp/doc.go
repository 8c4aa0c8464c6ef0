// Package wfp models the Windows Filtering Platform (WFP) as a connect-redirect
// callout driver and a WSK transparent proxy see it: the ALE connect layers,
// sublayers and weighted filters, callouts written in Go, the FWPS functions
// they call, redirect handles, and the redirect-record store behind
// SIO_QUERY/SET_WFP_CONNECTION_REDIRECT_RECORDS.
//
// It imports only nt and sim. Package wsk calls it: ClassifyBind for every
// bind (ALE_BIND_REDIRECT: a callout may block it or rewrite the local
// address in FWPS_BIND_REQUEST0, see FwpsAcquireWritableLayerDataPointer0Bind),
// ClassifyConnect for every TCP connect, CheckRecords for
// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, the ConnectResult's Records and Context for the two QUERY IOCTLs on the accepted
// socket, EndFlow when both ends are closed, IssueRedirect for the trace's
// redirected_connect event and AddRedirectPolicy for redirect_policy.
//
// # Walkthrough: a proxy that avoids the loop
//
// This walkthrough runs as ExampleEngine_ClassifyConnect, which also
// defines the classifyFn; with a WSK proxy on top, as wsk's Example_proxy
// and wsktest's Example_proxy. A callout driver creates a redirect handle
// and registers a classifyFn at FWPS_LAYER_ALE_CONNECT_REDIRECT_V4:
//
//	w := sim.NewWorld(sim.Config{Seed: 1})
//	e := wfp.NewEngine(w)
//	var h *wfp.RedirectHandle
//	e.FwpsRedirectHandleCreate0(&wfp.GUID{1}, 0, &h)    // PASSIVE_LEVEL
//	classify := func(c *wfp.Classify) { /* below */ }
//	callout, _ := e.RegisterCallout("proxy", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, classify)
//	e.AddFilter(wfp.Filter{Name: "proxy", Callout: callout, Weight: 10})
//
// An application connects to D. The engine calls classify with the incoming
// values, the metadata (process id; the redirectRecords handle only when the
// socket carried records: FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE), the
// condition flags and classifyOut with FWPS_RIGHT_ACTION_WRITE. The callout
// asks FwpsQueryConnectionRedirectState0: NOT_REDIRECTED. It acquires a
// classify handle and the writable FWPS_CONNECT_REQUEST0 (which sets
// classifyOut to BLOCK and clears the write right), points
// RemoteAddressAndPort at its proxy's listener, sets LocalRedirectTargetPID,
// LocalRedirectHandle and a LocalRedirectContext allocated with
// AllocateRedirectContext, applies the same pointer, sets PERMIT and
// releases the handle. From the apply on, WFP owns the context (P-CTXOWN).
//
// The engine records a hop {handle, filter, target PID, original
// destination, flow} and encodes the history into the records blob that the
// accepted socket answers to SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS;
// the context answers SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT. ALE_AUTH_CONNECT
// callouts see FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED with the original
// destination and the target PID in the metadata.
//
// The proxy accepts, queries both, sets the records on its outbound socket
// (CheckRecords: integrity, lengths, and that the records were issued for the
// socket's owning process) and connects to D. That connect carries the
// records: FWP_CONDITION_FLAG_IS_PROXY_CONNECTION is set, the callout's state
// is REDIRECTED_BY_SELF, and it lets the connection through. A second vendor
// would see REDIRECTED_BY_OTHER and may proxy again; the first then sees
// PREVIOUSLY_REDIRECTED_BY_SELF and must not redirect (WFP-REDIRECT-AGAIN).
//
// A proxy that forgets the records (or sets them too late) connects as a new
// connection: NOT_REDIRECTED, redirected to itself again. The engine links
// the proxy's connect to the flow it serves (same process, same original
// destination, flow alive), reports WFP-PROXY-LOOP once per chain naming the
// application's flow, its destination and every hop (who connected, where
// to, for which process, by which redirect handle), and blocks the connect
// once the chain is MaxHops long.
//
// # The end-of-run property
//
// Every connection a proxy carries onward must end at a final destination
// (a connect that is not redirected again) or be blocked. The engine tracks
// each chain from the application's connect; at world close a chain whose
// last onward connect was redirected to a proxy again is reported as
// WFP-FLOW-UNFINISHED with its hops. A chain the proxy never carries on (a
// proxy that answers the connection itself) is not reported.
//
// # The records blob
//
// 32-byte header (magic, version 2, flags, hop count, total length, padding
// length, 16-byte SipHash-2-4-128 tag) + 64 bytes per hop + optional padding
// (P-SIZE), keyed per engine from the world seed. Decoding checks every length
// field against the real buffer in 64-bit arithmetic before touching the
// hops, and the MAC runs on a stack state: CheckRecords does not allocate.
// MaxRecordsSize bounds every blob.
//
// # Rules, policies, choice points
//
// The WFP- rules (rules.go) cover pairing (acquire/apply, classify handles,
// pend/complete), the write right, the connect-redirect layer's read-only
// local address, redirect-handle and redirect-context lifetimes, redirecting
// against the redirect state, and the proxy loop. Policies P-OVF, P-ACC, P-NF,
// P-CTXSEL, P-NOPID, P-NOHANDLE, P-CTXOWN, P-PAIR, P-LOSS, P-SIZE, P-NULLREC
// and P-SIOFMT-NULL are registered here. Filters of equal sublayer and
// weight are ordered by choice point wfp.filter-tie; fault site
// wfp.record-loss (with P-LOSS=on) drops the records a socket carried.
//
// # Tracing
//
// FWPS functions are traced per wsktrace v1 with their DDI parameter names.
// Each invocation of a driver's classifyFn is written as env events
// "classify" (layer, callout, filter, incoming values, flags, metadata,
// rights) and "classify_return" (actionType, rights, flags). The built-in
// redirect_policy callout is the environment's, so it writes nothing.
package wfp
