package wsk

import (
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// Rule IDs enforced by this package. docs/rules.md lists them with sources.
const (
	RuleNullArgument       = "WSK-NULL-ARGUMENT"
	RuleNullClient         = "WSK-NULL-CLIENT"
	RuleNullIRP            = "WSK-NULL-IRP"
	RuleRegisterTwice      = "WSK-REGISTER-TWICE"
	RuleNotRegistered      = "WSK-NOT-REGISTERED"
	RuleReleaseUnbalanced  = "WSK-RELEASE-UNBALANCED"
	RuleNPIReleased        = "WSK-NPI-RELEASED"
	RuleCaptureHang        = "WSK-CAPTURE-HANG"
	RuleDeregisterHang     = "WSK-DEREGISTER-HANG"
	RuleRegistrationLeak   = "WSK-REGISTRATION-LEAK"
	RuleNPILeak            = "WSK-NPI-LEAK"
	RuleSocketLeak         = "WSK-SOCKET-LEAK"
	RuleCategory           = "WSK-CATEGORY-DISPATCH"
	RuleBasicContext       = "WSK-BASIC-CONTEXT"
	RuleAfterClose         = "WSK-AFTER-CLOSE"
	RuleCloseDuringCall    = "WSK-CLOSE-DURING-CALL"
	RuleCallFromCompletion = "WSK-CALL-FROM-COMPLETION"
	RuleNotBound           = "WSK-NOT-BOUND"
	RuleReservedFlags      = "WSK-RESERVED-FLAGS"
	RuleSetAfterConnect    = "WSK-SET-AFTER-CONNECT"
	RuleIRPRequired        = "WSK-IRP-REQUIRED"
	RuleIRPMustBeNull      = "WSK-IRP-MUST-BE-NULL"
	RuleOptionAfterBind    = "WSK-OPTION-AFTER-BIND"
)

// Policy IDs registered by this package (semantics reference §11). P-OVF,
// P-ACC and P-NF belong to package wfp; this package reads them.
const (
	PolicyZeroProbe  = "P-SZ0"
	PolicyOSR        = "P-OSR"
	PolicyInfo       = "P-INFO"
	PolicySetTwice   = "P-SET2"
	PolicySetLate    = "P-SETLATE"
	PolicySetBound   = "P-SETBOUND"
	PolicyCategory   = "P-CAT"
	PolicyZero       = "P-ZERO"
	PolicyMismatch   = "P-MISMATCH"
	PolicyNoIRP      = "P-NOIRP"
	PolicyOutBuf     = "P-OUTBUF"
	PolicyLevel      = "P-LEVEL"
	PolicyIRQL       = "P-IRQL"
	PolicyUnknown    = "P-UNKNOWN"
	PolicySync       = "P-SYNC"
	PolicyClose      = "P-CLOSE"
	PolicyCancel     = "P-CANCEL"
	PolicyAfterClose = "P-AFTERCLOSE"
	PolicyForced     = "P-FORCED"
	PolicyBadIRP     = "P-BADIRP"
	PolicyBindBlock  = "P-BINDBLOCK"
	PolicyUDPBlock   = "P-UDPBLOCK"
	PolicyDgTrunc    = "P-DGTRUNC"
)

// Choice points of this package. Each function family has its own
// inline-or-pending choice (0 inline, 1 pending), so a client is tested
// against both completions of every call.
const (
	ChoiceSocketComplete     = "wsk.socket.complete"
	ChoiceBindComplete       = "wsk.bind.complete"
	ChoiceListenComplete     = "wsk.listen.complete"
	ChoiceConnectComplete    = "wsk.connect.complete"
	ChoiceAcceptComplete     = "wsk.accept.complete"
	ChoiceSendComplete       = "wsk.send.complete"
	ChoiceReceiveComplete    = "wsk.receive.complete"
	ChoiceDisconnectComplete = "wsk.disconnect.complete"
	ChoiceCloseComplete      = "wsk.close.complete"
	ChoiceAddressComplete    = "wsk.address.complete"
	ChoiceControlComplete    = "wsk.control.complete"
	// ChoiceSendToComplete and ChoiceReceiveFromComplete are the datagram
	// calls' (datagram.go).
	ChoiceSendToComplete      = "wsk.sendto.complete"
	ChoiceReceiveFromComplete = "wsk.receivefrom.complete"
	ChoiceSendPartial         = "wsk.send.partial"
	ChoiceSendPartialBytes    = "wsk.send.partial-bytes"
	ChoiceReceivePartial      = "wsk.receive.partial"
	ChoiceRecvPartialBytes    = "wsk.receive.partial-bytes"
	ChoiceCancel              = "wsk.cancel"
	FaultForcedClose          = "wsk.forced-close"
)

const (
	docCtrl      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_control_socket"
	docSet       = "https://learn.microsoft.com/windows-hardware/drivers/network/sio-set-wfp-connection-redirect-records"
	docQRec      = "https://learn.microsoft.com/windows-hardware/drivers/network/sio-query-wfp-connection-redirect-records"
	docQCtx      = "https://learn.microsoft.com/windows-hardware/drivers/network/sio-query-wfp-connection-redirect-context"
	docW32Set    = "https://learn.microsoft.com/windows/win32/winsock/sio-set-wfp-connection-redirect-records"
	docReg       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskregister"
	docCapt      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskcaptureprovidernpi"
	docRel       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskreleaseprovidernpi"
	docDereg     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister"
	docCat       = "https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-socket-categories"
	docDisp      = "https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-dispatch-tables"
	docSocket    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_socket"
	docSockConn  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_socket_connect"
	docBind      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_bind"
	docConnect   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_connect"
	docListen    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_listen"
	docAccept    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept"
	docSend      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send"
	docReceive   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive"
	docDisc      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect"
	docCloseS    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_close_socket"
	docClosing   = "https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket"
	docLocal     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_get_local_address"
	docRemote    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_get_remote_address"
	docIRPs      = "https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions"
	docSharing   = "https://learn.microsoft.com/windows-hardware/drivers/network/sharing-transport-addresses"
	docReuse     = "https://learn.microsoft.com/windows-hardware/drivers/network/so-reuseaddr"
	docExcl      = "https://learn.microsoft.com/windows-hardware/drivers/network/so-exclusiveaddruse"
	docDual      = "https://learn.microsoft.com/windows/win32/winsock/dual-stack-sockets"
	docAddrList  = "https://learn.microsoft.com/windows-hardware/drivers/network/sio-address-list-query"
	docEventCB   = "https://learn.microsoft.com/windows-hardware/drivers/network/so-wsk-event-callback"
	docRedirect  = "https://learn.microsoft.com/windows-hardware/drivers/network/using-bind-or-connect-redirection"
	docCancelIrp = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iocancelirp"
	docIOSB      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/ns-wdm-_io_status_block"
	docSendTo    = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send_to"
	docRecvFrom  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from"
	docBindAddr  = "https://learn.microsoft.com/windows-hardware/drivers/network/binding-a-socket-to-a-transport-address"
	docW32QRec   = "https://learn.microsoft.com/windows/win32/winsock/sio-query-wfp-connection-redirect-records"
	docIPOpts    = "https://learn.microsoft.com/windows/win32/winsock/ipproto-ip-socket-options"
	srcWineTest  = "observed on Windows: wine-mirror/wine dlls/ntoskrnl.exe/tests/driver_netio.c, test_wsk_listen_socket (a test driver that runs on Windows; its ok() assertions are Windows' answers)"
)

func t(name string) string { return "wsk." + name }

func init() {
	sim.RegisterRules(
		sim.Rule{ID: RuleNullArgument, Statement: "A WSK function is given NULL (nil) for a pointer it requires: WskClientNpi, WskRegistration, WskProviderNpi, Socket, Client, a WSK_BUF, an address.", Source: docReg + "; " + docSocket, BugCheck: "0x3B (access violation)", Test: t("TestRules/" + RuleNullArgument)},
		sim.Rule{ID: RuleNullClient, Statement: "WskSocket or WskSocketConnect is given a NULL Client (with an IRP). Windows returns STATUS_INVALID_HANDLE without completing the IRP and without a bug check.", Source: docSocket + "; " + srcWineTest, Test: t("TestRules/" + RuleNullClient)},
		sim.Rule{ID: RuleNullIRP, Statement: "A WSK function that takes an IRP is given a NULL Irp. Windows' WskSocket returns STATUS_INVALID_PARAMETER without a bug check, checked before the Client; the model answers every IRP-taking WSK call the same way (policy P-BADIRP, default STATUS_INVALID_PARAMETER).", Source: docIRPs + "; " + srcWineTest, Test: t("TestRules/" + RuleNullIRP)},
		sim.Rule{ID: RuleRegisterTwice, Statement: "WskRegister is called with a WSK_REGISTRATION that is already registered; each call needs its own registration, deregistered exactly once.", Source: docReg, Test: t("TestRules/" + RuleRegisterTwice)},
		sim.Rule{ID: RuleNotRegistered, Statement: "WskCaptureProviderNPI, WskReleaseProviderNPI or WskDeregister is called on a WSK_REGISTRATION that is not registered (never, or already deregistered).", Source: docDereg + "; " + docCapt, Test: t("TestRules/" + RuleNotRegistered)},
		sim.Rule{ID: RuleReleaseUnbalanced, Statement: "WskReleaseProviderNPI is called more often than WskCaptureProviderNPI succeeded: each successful capture needs exactly one release.", Source: docRel, Test: t("TestRules/" + RuleReleaseUnbalanced)},
		sim.Rule{ID: RuleNPIReleased, Statement: "A WSK_PROVIDER_DISPATCH function (WskSocket, WskSocketConnect) is called with a client whose provider NPI is no longer captured (released, or deregistered).", Source: docRel, Test: t("TestRules/" + RuleNPIReleased)},
		sim.Rule{ID: RuleCaptureHang, Statement: "WskCaptureProviderNPI with WSK_INFINITE_WAIT would wait forever: the provider never becomes ready (it should not block indefinitely, e.g. in DriverEntry).", Source: docCapt, Test: t("TestRules/" + RuleCaptureHang)},
		sim.Rule{ID: RuleDeregisterHang, Statement: "WskDeregister would wait forever: a captured NPI is never released, a socket never closed, or an IRP never completed.", Source: docDereg, BugCheck: "0x9F (DRIVER_POWER_STATE_FAILURE) / hang at unload", Test: t("TestRules/" + RuleDeregisterHang)},
		sim.Rule{ID: RuleRegistrationLeak, Statement: "A successful WskRegister is never matched by WskDeregister before the world closes (the driver would unload with it).", Source: docReg, Test: t("TestRules/" + RuleRegistrationLeak)},
		sim.Rule{ID: RuleNPILeak, Statement: "A successful WskCaptureProviderNPI is never matched by WskReleaseProviderNPI before the world closes.", Source: docCapt, Test: t("TestRules/" + RuleNPILeak)},
		sim.Rule{ID: RuleSocketLeak, Statement: "A socket is never closed with WskCloseSocket before the world closes.", Source: docCloseS, Test: t("TestRules/" + RuleSocketLeak)},
		sim.Rule{ID: RuleCategory, Statement: "A function is called on a socket whose category's provider dispatch table does not contain it (for example WskSend on a listening socket, WskBind on a basic socket).", Source: docDisp + "; " + docCat, BugCheck: "0x3B (call through a missing dispatch member)", Test: t("TestRules/" + RuleCategory)},
		sim.Rule{ID: RuleBasicContext, Statement: "WskSocket creates a basic socket with a non-NULL SocketContext or Dispatch; both must be NULL for a basic socket.", Source: docSocket, Test: t("TestRules/" + RuleBasicContext)},
		sim.Rule{ID: RuleAfterClose, Statement: "A socket is used after WskCloseSocket was called on it (including a second close); the provider has freed the WSK_SOCKET (policy P-AFTERCLOSE).", Source: docCloseS + "; " + docClosing, BugCheck: "0xD5 / 0x50 (use after free)", Test: t("TestRules/" + RuleAfterClose)},
		sim.Rule{ID: RuleCloseDuringCall, Statement: "WskCloseSocket is called while another call on the same socket is still in progress (pending IRPs from earlier calls are allowed; calls in progress are not).", Source: docClosing + "; " + docCloseS, Test: t("TestRules/" + RuleCloseDuringCall)},
		sim.Rule{ID: RuleCallFromCompletion, Statement: "A WSK function is called from inside an IRP completion routine; the documentation says not to (recursion, stack exhaustion, starvation at DISPATCH_LEVEL).", Source: docIRPs, Test: t("TestRules/" + RuleCallFromCompletion)},
		sim.Rule{ID: RuleNotBound, Statement: "WskConnect, WskListen or WskAccept is called on a socket that has not been bound with WskBind first, or WskSendTo or WskReceiveFrom on an unbound datagram socket (\"a datagram socket must be bound to a local transport address before it can send or receive datagrams\"); the call fails with STATUS_INVALID_DEVICE_STATE.", Source: docBind + "; " + docConnect + "; " + docListen + "; " + docBindAddr, Test: t("TestRules/" + RuleNotBound)},
		sim.Rule{ID: RuleReservedFlags, Statement: "A Flags parameter documented as reserved (WskBind, WskConnect, WskAccept, WskListen, WskSendTo, WskReceiveFrom: must be zero) is not zero.", Source: docBind + "; " + docConnect + "; " + docSendTo + "; " + docRecvFrom, Test: t("TestRules/" + RuleReservedFlags)},
		sim.Rule{ID: RuleSetAfterConnect, Statement: "SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS is issued on a socket after WskConnect (or WskSocketConnect) was called on it: the records can no longer reach classification, and the redirect loops (status per P-SETLATE).", Source: docSet + "; " + docRedirect + "; " + docSockConn, Test: t("TestRules/" + RuleSetAfterConnect)},
		sim.Rule{ID: RuleIRPRequired, Statement: "WskControlSocket is called with Irp == NULL for a request whose page says the IRP is required (the three WFP redirect IOCTLs, SO_REUSEADDR, SO_EXCLUSIVEADDRUSE, SIO_WSK_* IOCTLs); policy P-NOIRP.", Source: docCtrl + "; " + docSet + "; " + docReuse, Test: t("TestRules/" + RuleIRPRequired)},
		sim.Rule{ID: RuleIRPMustBeNull, Statement: "WskControlSocket is given an IRP for a request whose page says Irp must be NULL (SIO_ADDRESS_LIST_QUERY, SIO_WSK_REGISTER_EXTENSION).", Source: docCtrl + "; " + docAddrList, Test: t("TestRules/" + RuleIRPMustBeNull)},
		sim.Rule{ID: RuleOptionAfterBind, Statement: "SO_REUSEADDR, SO_EXCLUSIVEADDRUSE or IPV6_V6ONLY is set after the socket was bound; the pages require it before bind.", Source: docReuse + "; " + docExcl + "; " + docDual, Test: t("TestRules/" + RuleOptionAfterBind)},
	)

	pol := func(id, q string, opts []string, def int, reason, src string) {
		sim.RegisterPolicy(sim.Policy{ID: id, Question: q, Options: opts, Default: def, Reason: reason, Source: src})
	}
	pol(PolicyZeroProbe, "QUERY with OutputSize == 0 and OutputBuffer == NULL (the size probe).", []string{"buffer-too-small", "success"}, 0,
		"the same path as a too-small buffer; the pages only promise the size in *OutputSizeReturned, and a success status for a zero-byte read would be odd", docQRec)
	pol(PolicyOSR, "QUERY with an IRP and OutputSizeReturned NULL.", []string{"accept", "reject"}, 0,
		"accept both (write it when non-NULL; Information is set either way): resolves the contradiction between the generic page (NULL unless Irp is NULL) and the QUERY pages (both required); reject fails a NULL one with STATUS_INVALID_PARAMETER", docCtrl+"; "+docQRec)
	pol(PolicyInfo, "IoStatus.Information when a QUERY completes with STATUS_BUFFER_TOO_SMALL.", []string{"zero", "required-size"}, 0,
		"zero, by the generic IO_STATUS_BLOCK rule for failed transfers; the required size goes only to *OutputSizeReturned", docIOSB+"; "+docQRec)
	pol(PolicySetTwice, "SET on the same socket twice before connect.", []string{"replace", "reject"}, 0,
		"replace (last writer wins, like setsockopt); reject fails the second with STATUS_INVALID_DEVICE_STATE", docSet+"; microsoft/ebpf-for-windows netebpfext/net_ebpf_ext_sock_addr.c (a second redirect context replaces the first)")
	pol(PolicySetLate, "SET after WskConnect was issued.", []string{"reject", "ignore"}, 0,
		"reject with STATUS_INVALID_DEVICE_STATE (records can no longer influence classification); ignore returns STATUS_SUCCESS and drops them (silent loss, so the connect loops). WSK-SET-AFTER-CONNECT fires either way", docSet+"; "+docRedirect)
	pol(PolicySetBound, "SET after WskBind, before connect.", []string{"allow", "reject"}, 0,
		"allow (the documentation only requires SET before connect); reject (STATUS_INVALID_DEVICE_STATE) catches clients that rely on a post-bind SET, as WFPSampler and Envoy set before bind", docSet+"; microsoft/Windows-driver-samples network/trans/WFPSampler/sys/ClassifyFunctions_ProxyCallouts.cpp; envoyproxy/envoy source/common/network/win32_redirect_records_option_impl.cc (the option is applied before bind)")
	pol(PolicyCategory, "SET/QUERY on a listening, datagram or basic socket (or a stream socket committed to listening).", []string{"STATUS_NOT_SUPPORTED", "STATUS_INVALID_DEVICE_REQUEST", "STATUS_INVALID_PARAMETER"}, 0,
		"the SDK maps IOCTLs a socket does not support to WSAEOPNOTSUPP; UDP carries records as control data instead", docW32Set)
	pol(PolicyZero, "SET with InputSize == 0 or InputBuffer == NULL.", []string{"STATUS_INVALID_PARAMETER", "clear"}, 0,
		"STATUS_INVALID_PARAMETER; clear instead forgets records set earlier and succeeds", docSet)
	pol(PolicyMismatch, "SET with a blob whose length fields disagree with InputSize (truncated or padded).", []string{"STATUS_INVALID_PARAMETER", "STATUS_ACCESS_DENIED"}, 0,
		"STATUS_INVALID_PARAMETER for truncation; STATUS_ACCESS_DENIED stays reserved for integrity failures", docSet)
	pol(PolicyNoIRP, "A request whose IRP is required is called with Irp == NULL.", []string{"violation", "status-only"}, 0,
		"STATUS_INVALID_PARAMETER and the WSK-IRP-REQUIRED violation (the pages say the IRP is required); status-only returns the status without the violation", docCtrl+"; "+docSet)
	pol(PolicyOutBuf, "SET with OutputSize, OutputBuffer or OutputSizeReturned non-zero.", []string{"ignore", "reject"}, 0,
		"ignore them (lenient, a trace note records it); reject fails with STATUS_INVALID_PARAMETER", docSet)
	pol(PolicyLevel, "Level other than 0 with RequestType WskIoctl.", []string{"ignore", "reject"}, 0,
		"ignore: the WskControlSocket page says Level is ignored for WskIoctl; reject fails with STATUS_INVALID_PARAMETER", docCtrl)
	pol(PolicyIRQL, "The WFP redirect IOCTLs above PASSIVE_LEVEL (their pages) but at or below DISPATCH_LEVEL (the generic page).", []string{"enforce-passive", "allow-dispatch"}, 0,
		"enforce PASSIVE_LEVEL: report IRQL-ABOVE-MAX and carry on (no status); allow-dispatch applies only the generic limit", docSet+"; "+docQRec+"; "+docCtrl)
	pol(PolicyUnknown, "An IOCTL code or option the model does not know.", []string{"STATUS_NOT_SUPPORTED", "STATUS_INVALID_DEVICE_REQUEST"}, 0,
		"STATUS_NOT_SUPPORTED (user-mode image WSAEOPNOTSUPP)", docCtrl)
	pol(PolicySync, "Completion timing of a successful or failed call that takes an IRP.", []string{"choice", "inline", "pending"}, 0,
		"both are legal (the return is STATUS_PENDING or the final status); by default each function family's choice point decides, from the seed", docCtrl+"; "+docIRPs)
	pol(PolicyClose, "Status of pending IRPs that WskCloseSocket cancels.", []string{"STATUS_CANCELLED", "STATUS_FILE_FORCED_CLOSED", "STATUS_CONNECTION_ABORTED"}, 0,
		"STATUS_CANCELLED (user mode reports WSA_OPERATION_ABORTED, its Win32 image); close itself always succeeds (echo sample)", docCloseS+"; "+docClosing+"; microsoft/Windows-driver-samples network/wsk/echosrv/wsksmple.c (WskSampleOpClose, WskSampleCloseIrpCompletionRoutine)")
	pol(PolicyCancel, "IoCancelIrp on a pending WSK IRP.", []string{"choice", "cancel", "ignore"}, 0,
		"every pending WSK IRP has a cancel routine (IoCancelIrp returns TRUE), but cancelling does not guarantee STATUS_CANCELLED; by default choice point wsk.cancel decides between completing with STATUS_CANCELLED now (the call's effect taken back: SET records, a bind, a connection; a cancelled send resets the connection) and completing normally later. Calls that cannot be taken back (WskListen, WskReceive with data, WskDisconnect, WskCloseSocket) complete normally. Pending accepts, receives and connects waiting for a pended classify are always cancelled", docCancelIrp)
	pol(PolicyAfterClose, "A call on a socket after WskCloseSocket.", []string{"refuse", "complete"}, 0,
		"a WSK-AFTER-CLOSE violation; refuse returns STATUS_INVALID_HANDLE without touching the IRP, complete also takes the IRP and completes it with STATUS_INVALID_HANDLE", docCloseS)
	pol(PolicyForced, "A socket that becomes no longer functional (STATUS_FILE_FORCED_CLOSED).", []string{"off", "inject"}, 0,
		"off; inject consults fault site wsk.forced-close on each socket call, and a hit makes that socket fail every call but WskCloseSocket with STATUS_FILE_FORCED_CLOSED", docBind+"; "+docCtrl)
	pol(PolicyBadIRP, "A call given an IRP the I/O manager cannot use (NULL, freed, in flight, no stack location).", []string{"STATUS_INVALID_PARAMETER", "STATUS_INVALID_HANDLE"}, 0,
		"the call returns the status without completing the IRP; the irp package reports the misuse", docIRPs)
	pol(PolicyBindBlock, "Status of WskBind (or WskSocketConnect) when a callout at ALE_BIND_REDIRECT blocks the bind.", []string{"STATUS_ACCESS_DENIED", "STATUS_INVALID_ADDRESS"}, 0,
		"the WskBind page lists no status for a bind WFP blocks; user-mode bind reports a filtered bind as WSAEACCES, the Win32 image of STATUS_ACCESS_DENIED, which the model also returns for a connect WFP blocks. STATUS_INVALID_ADDRESS treats the blocked address as unusable. Either way the socket stays unbound", docBind+"; "+docRedirect)
	pol(PolicyUDPBlock, "WskSendTo whose new flow WFP blocks at ALE_CONNECT_REDIRECT / ALE_AUTH_CONNECT.", []string{"STATUS_ACCESS_DENIED", "drop"}, 0,
		"the WskSendTo page names no status for it (\"other status codes\"); user-mode sendto reports a filtered datagram as WSAEACCES, the image of STATUS_ACCESS_DENIED, which the model also returns for a blocked connect. drop completes with STATUS_SUCCESS and loses the datagram. Either way no flow is created, so the next datagram is classified again", docSendTo+"; "+docRedirect)
	pol(PolicyDgTrunc, "Status of WskReceiveFrom when the datagram is larger than the buffer (MSG_TRUNC).", []string{"STATUS_SUCCESS", "STATUS_BUFFER_OVERFLOW"}, 0,
		"the WskReceiveFrom page only says the datagram is truncated and MSG_TRUNC set; STATUS_SUCCESS with Information = the bytes copied. STATUS_BUFFER_OVERFLOW is the NT warning for a partial copy (user mode's WSAEMSGSIZE). The rest of the datagram is discarded either way", docRecvFrom)

	ch := func(label, doc string, opts ...string) {
		sim.RegisterChoice(sim.ChoicePoint{Label: label, Options: opts, Doc: doc})
	}
	for _, c := range [...]struct{ label, fn string }{
		{ChoiceSocketComplete, "WskSocket and WskSocketConnect"},
		{ChoiceBindComplete, "WskBind"},
		{ChoiceListenComplete, "WskListen"},
		{ChoiceConnectComplete, "WskConnect"},
		{ChoiceAcceptComplete, "WskAccept (with a connection already waiting)"},
		{ChoiceSendComplete, "WskSend"},
		{ChoiceReceiveComplete, "WskReceive (with data already waiting)"},
		{ChoiceDisconnectComplete, "WskDisconnect"},
		{ChoiceCloseComplete, "WskCloseSocket"},
		{ChoiceAddressComplete, "WskGetLocalAddress and WskGetRemoteAddress"},
		{ChoiceControlComplete, "WskControlSocket with an IRP"},
		{ChoiceSendToComplete, "WskSendTo"},
		{ChoiceReceiveFromComplete, "WskReceiveFrom (with a datagram already waiting)"},
	} {
		ch(c.label, "whether "+c.fn+" completes its IRP before returning (inline) or returns STATUS_PENDING and completes it later; both are documented", "inline", "pending")
	}
	ch(ChoiceSendPartial, "whether a WskSend on a stream transfers fewer bytes than asked (Information < Length)", "full", "partial")
	ch(ChoiceSendPartialBytes, "how many bytes a partial WskSend transfers: option k means k+1 bytes (clamped below the length)", "1", "2", "3", "4")
	ch(ChoiceReceivePartial, "whether a WskReceive returns fewer bytes than are available and fit", "full", "partial")
	ch(ChoiceRecvPartialBytes, "how many bytes a partial WskReceive returns: option k means k+1 bytes (clamped below what fits)", "1", "2", "3", "4")
	ch(ChoiceCancel, "whether IoCancelIrp on a pending WSK IRP wins (STATUS_CANCELLED now) or loses to the normal completion (policy P-CANCEL=choice)", "cancel", "ignore")
	sim.RegisterFaultSite(sim.FaultSite{Name: FaultForcedClose, Doc: "the socket a call is made on becomes no longer functional (STATUS_FILE_FORCED_CLOSED); consulted only under P-FORCED=inject"})
}

// ---- documented statuses ----

// StatusDoc is one status a call may return or complete its IRP with, and
// the document or policy that allows it.
type StatusDoc struct {
	Status nt.Status
	Source string
}

type callKey uint8

const (
	ckRegister callKey = iota
	ckCapture
	ckSocket
	ckSocketConnect
	ckBind
	ckListen
	ckConnect
	ckAccept
	ckSend
	ckReceive
	ckDisconnect
	ckClose
	ckGetLocal
	ckGetRemote
	ckCtlSet
	ckCtlQueryRec
	ckCtlQueryCtx
	ckCtlOption
	ckCtlIoctl
	ckSendTo
	ckReceiveFrom
	numCallKeys
)

var callNames = [numCallKeys]string{
	"WskRegister", "WskCaptureProviderNPI", "WskSocket", "WskSocketConnect", "WskBind", "WskListen",
	"WskConnect", "WskAccept", "WskSend", "WskReceive", "WskDisconnect", "WskCloseSocket",
	"WskGetLocalAddress", "WskGetRemoteAddress",
	"WskControlSocket(SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS)",
	"WskControlSocket(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)",
	"WskControlSocket(SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)",
	"WskControlSocket(option)",
	"WskControlSocket(WskIoctl)",
	"WskSendTo", "WskReceiveFrom",
}

const (
	srcOther   = "documented as \"other status codes: an error occurred; the IRP is completed with failure status\""
	srcBadIRP  = "policy P-BADIRP (unusable IRP: not completed)"
	srcClosed  = "policy P-AFTERCLOSE / WSK-AFTER-CLOSE, WSK-NULL-ARGUMENT (call refused)"
	srcCat     = "WSK-CATEGORY-DISPATCH (function not in the category's dispatch table; call refused)"
	srcCloseP  = "policy P-CLOSE (IRP cancelled by WskCloseSocket)"
	srcForced  = "documented: the socket is no longer functional"
	srcPending = "documented: completes later through the IRP"
	srcSuccess = "documented"
)

// common statuses every IRP-based socket call can produce.
func sockCommon(doc string, extra ...StatusDoc) []StatusDoc {
	base := []StatusDoc{
		{nt.STATUS_SUCCESS, doc},
		{nt.STATUS_PENDING, doc},
		{nt.STATUS_FILE_FORCED_CLOSED, doc},
		{nt.STATUS_INVALID_PARAMETER, srcBadIRP + "; " + srcOther},
		{nt.STATUS_INVALID_HANDLE, srcClosed + "; " + srcBadIRP},
		{nt.STATUS_INVALID_DEVICE_REQUEST, srcCat},
		{nt.STATUS_CANCELLED, srcCloseP + "; " + docCancelIrp},
		{nt.STATUS_CONNECTION_ABORTED, srcCloseP},
		{nt.STATUS_INVALID_DEVICE_STATE, srcOther + " (socket in the wrong state)"},
	}
	return append(base, extra...)
}

func ctlCommon(doc string, extra ...StatusDoc) []StatusDoc {
	base := sockCommon(docCtrl,
		StatusDoc{nt.STATUS_NOT_SUPPORTED, "policy P-CAT / P-UNKNOWN"},
	)
	return append(base, append([]StatusDoc{{nt.STATUS_SUCCESS, doc}}, extra...)...)
}

var statusTable = [numCallKeys][]StatusDoc{
	ckRegister: {{nt.STATUS_SUCCESS, docReg}, {nt.STATUS_INVALID_PARAMETER, docReg + " (other failure)"}},
	ckCapture: {{nt.STATUS_SUCCESS, docCapt}, {nt.STATUS_DEVICE_NOT_READY, docCapt}, {nt.STATUS_NOINTERFACE, docCapt},
		{nt.STATUS_INVALID_PARAMETER, docCapt + " (other failure: not registered)"}},
	ckSocket: sockCommon(docSocket,
		StatusDoc{nt.STATUS_INVALID_PARAMETER, docSocket + " (other: invalid AddressFamily, SocketType, Protocol or Flags)"},
		StatusDoc{nt.STATUS_NOT_SUPPORTED, docSocket + " (other: unsupported family/type/protocol combination)"}),
	ckSocketConnect: sockCommon(docSockConn,
		StatusDoc{nt.STATUS_NOT_SUPPORTED, docSockConn + " (other)"},
		StatusDoc{nt.STATUS_INVALID_ADDRESS, docSockConn + " (other: address not local)"},
		StatusDoc{nt.STATUS_ADDRESS_ALREADY_EXISTS, docSharing},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docSharing + "; blocked by WFP"},
		StatusDoc{nt.STATUS_CONNECTION_REFUSED, docSockConn + " (other)"},
		StatusDoc{nt.STATUS_HOST_UNREACHABLE, docSockConn + " (other)"},
		StatusDoc{nt.STATUS_NETWORK_UNREACHABLE, docSockConn + " (other)"},
		StatusDoc{nt.STATUS_TOO_MANY_ADDRESSES, docSockConn + " (other: no ephemeral port left)"}),
	ckBind: sockCommon(docBind,
		StatusDoc{nt.STATUS_ADDRESS_ALREADY_ASSOCIATED, docBind + " (other: the socket is already bound)"},
		StatusDoc{nt.STATUS_ADDRESS_ALREADY_EXISTS, docSharing + " (INUSE)"},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docSharing + " (DENIED, CHECK); blocked by WFP at ALE_BIND_REDIRECT (policy P-BINDBLOCK)"},
		StatusDoc{nt.STATUS_INVALID_ADDRESS, docBind + " (other: not a local address)"},
		StatusDoc{nt.STATUS_TOO_MANY_ADDRESSES, docBind + " (other: no ephemeral port left)"},
		StatusDoc{nt.STATUS_NOT_IMPLEMENTED, srcWineTest + " (a SOCK_DGRAM socket created with WSK_FLAG_LISTEN_SOCKET)"}),
	ckListen: sockCommon(docListen),
	ckConnect: sockCommon(docConnect,
		StatusDoc{nt.STATUS_CONNECTION_REFUSED, docConnect + " (other)"},
		StatusDoc{nt.STATUS_HOST_UNREACHABLE, docConnect + " (other)"},
		StatusDoc{nt.STATUS_NETWORK_UNREACHABLE, docConnect + " (other)"},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docConnect + " (other: blocked by WFP)"},
		StatusDoc{nt.STATUS_CONNECTION_ACTIVE, docConnect + " (other: already connected)"}),
	ckAccept:     sockCommon(docAccept),
	ckSend:       sockCommon(docSend, StatusDoc{nt.STATUS_CONNECTION_RESET, docSend + " (other)"}, StatusDoc{nt.STATUS_CONNECTION_DISCONNECTED, docSend + " (other)"}, StatusDoc{nt.STATUS_INVALID_CONNECTION, docSend + " (other: not connected)"}),
	ckReceive:    sockCommon(docReceive, StatusDoc{nt.STATUS_CONNECTION_RESET, docReceive + " (other)"}, StatusDoc{nt.STATUS_INVALID_CONNECTION, docReceive + " (other: not connected)"}),
	ckDisconnect: sockCommon(docDisc, StatusDoc{nt.STATUS_CONNECTION_RESET, docDisc + " (other)"}, StatusDoc{nt.STATUS_INVALID_CONNECTION, docDisc + " (other: not connected)"}),
	ckClose:      {{nt.STATUS_SUCCESS, docCloseS}, {nt.STATUS_PENDING, docCloseS}, {nt.STATUS_INVALID_PARAMETER, srcBadIRP}, {nt.STATUS_INVALID_HANDLE, srcClosed}},
	ckGetLocal:   sockCommon(docLocal),
	ckGetRemote:  sockCommon(docRemote, StatusDoc{nt.STATUS_INVALID_CONNECTION, docRemote + " (other: not connected)"}),
	ckCtlSet: ctlCommon(docSet,
		StatusDoc{nt.STATUS_INTEGER_OVERFLOW, docSet},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docSet + "; policy P-ACC / P-MISMATCH"},
		StatusDoc{nt.STATUS_INVALID_DEVICE_REQUEST, "policy P-CAT"},
		StatusDoc{nt.STATUS_INVALID_PARAMETER, "policies P-ZERO, P-MISMATCH, P-NOIRP, P-OUTBUF, P-LEVEL"}),
	ckCtlQueryRec: ctlCommon(docQRec,
		StatusDoc{nt.STATUS_INTEGER_OVERFLOW, docQRec},
		StatusDoc{nt.STATUS_NOT_FOUND, docQRec + "; policy P-NF"},
		StatusDoc{nt.STATUS_FWP_NOT_FOUND, "policy P-NF"},
		StatusDoc{nt.STATUS_BUFFER_TOO_SMALL, docQRec},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docQRec + "; policy P-ACC"},
		StatusDoc{nt.STATUS_INVALID_PARAMETER, "policies P-OSR, P-NOIRP, P-LEVEL"}),
	ckSendTo: sockCommon(docSendTo,
		StatusDoc{nt.STATUS_ACCESS_DENIED, docSendTo + " (other: the flow is blocked by WFP, policy P-UDPBLOCK)"},
		StatusDoc{nt.STATUS_INVALID_BUFFER_SIZE, docSendTo + " (other: more than a datagram holds, WSAEMSGSIZE)"},
		StatusDoc{nt.STATUS_NETWORK_UNREACHABLE, docSendTo + " (other: no route to the destination)"}),
	ckReceiveFrom: sockCommon(docRecvFrom,
		StatusDoc{nt.STATUS_BUFFER_OVERFLOW, docRecvFrom + " (MSG_TRUNC; policy P-DGTRUNC)"}),
	ckCtlQueryCtx: ctlCommon(docQCtx,
		StatusDoc{nt.STATUS_INTEGER_OVERFLOW, docQCtx},
		StatusDoc{nt.STATUS_NOT_FOUND, docQCtx + "; policy P-NF"},
		StatusDoc{nt.STATUS_FWP_NOT_FOUND, "policy P-NF"},
		StatusDoc{nt.STATUS_BUFFER_TOO_SMALL, docQCtx},
		StatusDoc{nt.STATUS_ACCESS_DENIED, docQCtx + "; policy P-ACC"},
		StatusDoc{nt.STATUS_INVALID_PARAMETER, "policies P-OSR, P-NOIRP, P-LEVEL"}),
	ckCtlOption: ctlCommon(docCtrl,
		StatusDoc{nt.STATUS_EVENT_PENDING, docEventCB + " (disabling, without an IRP, a callback still in progress)"},
		StatusDoc{nt.STATUS_INVALID_PARAMETER, docCtrl + " (other: bad request type, short input, wrong family)"},
		StatusDoc{nt.STATUS_BUFFER_TOO_SMALL, docCtrl + " (other: output shorter than the option)"},
		StatusDoc{nt.STATUS_INVALID_DEVICE_REQUEST, "policy P-UNKNOWN"}),
	ckCtlIoctl: ctlCommon(docCtrl,
		StatusDoc{nt.STATUS_INVALID_PARAMETER, docCtrl + " (other); policies P-NOIRP, P-LEVEL"},
		StatusDoc{nt.STATUS_INVALID_DEVICE_REQUEST, "policy P-UNKNOWN"}),
}

// allowed reports whether st is documented for call k.
func allowed(k callKey, st nt.Status) bool {
	for _, d := range statusTable[k] {
		if d.Status == st {
			return true
		}
	}
	return false
}

// DocumentedStatuses returns the statuses call may return or complete its
// IRP with, each with its source. call is a WSK function name ("WskBind") or,
// for WskControlSocket, the name ControlCall returns. The slice is a copy.
func DocumentedStatuses(call string) []StatusDoc {
	for k, n := range callNames {
		if n == call {
			return append([]StatusDoc(nil), statusTable[k]...)
		}
	}
	return nil
}

// DocumentedCalls lists the call names DocumentedStatuses knows, in a fixed order.
func DocumentedCalls() []string { return append([]string(nil), callNames[:]...) }

// ControlCall names the WskControlSocket call a request type and control code
// select, for DocumentedStatuses.
func ControlCall(requestType nt.ControlSocketType, controlCode uint32) string {
	return callNames[controlKey(requestType, controlCode)]
}

func controlKey(rt nt.ControlSocketType, code uint32) callKey {
	if rt == nt.WskIoctl {
		switch code {
		case nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS:
			return ckCtlSet
		case nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS:
			return ckCtlQueryRec
		case nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT:
			return ckCtlQueryCtx
		}
		return ckCtlIoctl
	}
	if rt == nt.WskSetOption || rt == nt.WskGetOption {
		return ckCtlOption
	}
	return ckCtlIoctl
}

// StatusAllowed reports whether st is documented for call (see DocumentedStatuses).
func StatusAllowed(call string, st nt.Status) bool {
	for k, n := range callNames {
		if n == call {
			return allowed(callKey(k), st)
		}
	}
	return false
}
