// Package wsk is the Winsock Kernel provider of wsksim: registration, the
// processes of the simulated machine, its network (loopback, local
// addresses, remote hosts, ports, listeners, TCP connections, scripted
// user-mode peers), sockets of all five categories, WskControlSocket and the
// three WFP connection-redirect IOCTLs. A driver under test calls the Wsk*
// methods of a Provider with the DDI's parameters, in the DDI's order, and
// learns results the way a real driver does: through the returned NTSTATUS
// and through IRP completion.
//
// # From WskRegister to a completed SET and a connect
//
// This walkthrough runs as Example_walkthrough (example_walkthrough_test.go);
// every name in it is defined in the blocks before it.
//
// A Provider lives in a sim.World next to the I/O manager it completes IRPs
// through (package irp) and the WFP engine every TCP connect is classified
// by (package wfp). The client registers with memory it owns and captures
// the provider NPI (WSK_NO_WAIT, WSK_INFINITE_WAIT or a timeout in
// milliseconds of virtual time: waiting runs the world's tasks until the
// subsystem is ready):
//
//	w := sim.NewWorld(sim.Config{Seed: 1})
//	m := irp.NewManager(w)
//	p, err := wsk.NewProvider(m, wsk.Config{}) // makes a wfp.Engine too
//	var reg wsk.Registration
//	var npi wsk.ProviderNPI
//	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &reg)
//	p.WskCaptureProviderNPI(&reg, nt.WSK_INFINITE_WAIT, &npi)
//
// In a Go test, package wsktest does all of this in one call and closes the
// world when the test ends, failing it on violations it did not Expect:
//
//	e := wsktest.New(t) // e.World, e.M, e.P, e.Reg, e.NPI
//
// Every socket call takes an IRP. The driver allocates it, sets a completion
// routine with all three InvokeOn flags, and reads IoStatus when the routine
// runs. Each call completes inline (returning the final status) or pends
// (returning STATUS_PENDING and completing later in virtual time): one choice
// point per function family, so a driver is exercised against both.
// wsktest.Env.Call does the IRP's part (allocate, set the routine, call, run
// the world until idle, free) and returns the IoStatus the routine saw:
//
//	iosb := e.Call(func(i *irp.IRP) nt.Status {
//		return e.NPI.Dispatch.WskSocket(e.NPI.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP,
//			nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
//	})
//	s := e.P.SocketFromInformation(iosb.Information)
//
// A proxy hands the redirect records it queried on its accepted socket to
// its outbound socket before connecting. The input is a pool block lent to
// the IRP until it completes (writing or freeing it meanwhile is reported);
// InputSize is a SIZE_T checked against MAXULONG (P-OVF) before anything is
// lent or copied, then against the block, then by the WFP engine:
//
//	records := e.Records(wsk.SystemPID) // genuine records, as a redirect issued them
//	blob := e.M.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, uint64(len(records)), wsktest.Tag("Wsks"))
//	copy(blob.Bytes(), records)
//	iosb = e.Call(func(i *irp.IRP) nt.Status {
//		return e.P.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0,
//			uint64(len(records)), blob, 0, nil, nil, i)
//	})                                                  // iosb.Status == STATUS_SUCCESS
//	e.M.ExFreePoolWithTag(blob, wsktest.Tag("Wsks"))    // only after the IRP completed
//
// Then WskBind and WskConnect. The connect carries the records into
// wfp.Engine.ClassifyConnect; a callout that sees its own redirect in them
// leaves the connection alone, so it reaches the real destination instead
// of looping back into the proxy:
//
//	e.Call(func(i *irp.IRP) nt.Status { return e.P.WskBind(s, netip.MustParseAddrPort("0.0.0.0:0"), 0, i) })
//	e.Call(func(i *irp.IRP) nt.Status { return e.P.WskConnect(s, netip.MustParseAddrPort("198.51.100.7:443"), 0, i) })
//
// On the accepting side, a connection that WFP redirected to a listener
// arrives with the records and context the engine issued; the two QUERY
// IOCTLs answer them on the accepted socket (and STATUS_NOT_FOUND, P-NF,
// anywhere else), with both documented sizing patterns: a large buffer, or
// OutputSize 0 with a NULL buffer; a short one completes with
// STATUS_BUFFER_TOO_SMALL and the size in *OutputSizeReturned.
// RedirectedConnect delivers such a connection directly (the trace's
// redirected_connect); wfp.Engine.AddRedirectPolicy makes the engine do it
// for every matching connect.
//
// The whole flow, with callouts written in Go, is in proxy_test.go and the
// Example_proxy* examples: a proxy that forgets the SET or sets the records
// after connecting makes the engine report WFP-PROXY-LOOP, naming the flow
// and its hops, and WFP-FLOW-UNFINISHED at world close.
//
// A callout that pends the classify (FwpsPendClassify0) pends the
// WskConnect IRP until FwpsCompleteClassify0. Every pending WSK IRP has a
// cancel routine: IoCancelIrp returns TRUE, and policy P-CANCEL says whether
// the cancel wins (STATUS_CANCELLED, the call's effect taken back) or the
// call completes normally.
//
// Finally WskCloseSocket (pending IRPs of the socket are completed first,
// P-CLOSE), WskReleaseProviderNPI and WskDeregister, which waits in virtual
// time for every NPI, socket and IRP; a wait that could never end is reported
// as WSK-DEREGISTER-HANG instead of hanging.
//
// # The other end
//
// Peers are user-mode programs of the simulated machine or of remote hosts:
// PeerListen, PeerConnect, PeerConn.Send/Receive/Shutdown/Close/Reset. Their
// connects from the machine are classified by WFP like the driver's (with the
// peer's process id). Processes are added with AddProcess; PID 4 is the
// elevated System process that owns sockets created with OwningProcess NULL.
//
// # Contract checking
//
// Misuse is reported to the world's verifier with a stable rule ID (WSK-*,
// and irp's IRP-*/POOL-*/BUF-* for IRPs and buffers), never by panicking:
// calling a function a socket's category lacks, using a socket after
// WskCloseSocket, closing while a call is in progress, calling WSK from a
// completion routine, SET after connect, a NULL IRP where one is required.
// Points the documentation leaves open are policies (P-*, switchable with
// World.SetPolicy); freedoms it allows are choice points (wsk.*). Every status
// a call returns or completes with is in the per-call table DocumentedStatuses
// exposes; returning anything else would be a bug in wsksim and panics with
// "wsk: internal".
//
// # Datagrams and the UDP redirect path
//
// Datagram sockets send with WskSendTo and receive with WskReceiveFrom once
// bound (datagram.go). The first datagram from a socket to each remote
// address is a flow that WFP classifies at ALE_CONNECT_REDIRECT with
// protocol IPPROTO_UDP; a redirected flow's first datagram reaches the
// proxy with the redirect records and context as control information
// (IP_WFP_REDIRECT_RECORDS, IP_WFP_REDIRECT_CONTEXT; AppendCMSG and
// ParseCMSG handle the WSACMSGHDR layout), and the proxy passes the records
// on as control information of its own first datagram. Peers have UDP
// endpoints too (PeerUDPBind).
//
// Not modelled yet: event callbacks (SO_WSK_EVENT_CALLBACK), WskSendMessages,
// fixed remote addresses (SIO_WSK_SET_REMOTE_ADDRESS), SIO_ADDRESS_LIST_*,
// WskControlClient and name resolution.
package wsk
