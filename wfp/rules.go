package wfp

import "github.com/wsksim/wsksim/sim"

// Rule IDs enforced by this package.
const (
	RuleAcquireWithoutApply   = "WFP-ACQUIRE-WITHOUT-APPLY"
	RuleApplyOtherPointer     = "WFP-APPLY-OTHER-POINTER"
	RuleClassifyHandleLeak    = "WFP-CLASSIFY-HANDLE-LEAK"
	RuleRedirectHandleLeak    = "WFP-REDIRECT-HANDLE-LEAK"
	RuleWriteWithoutRight     = "WFP-WRITE-WITHOUT-RIGHT"
	RuleLocalAddressChanged   = "WFP-LOCAL-ADDRESS-CHANGED"
	RuleContextAfterTransfer  = "WFP-CONTEXT-AFTER-TRANSFER"
	RuleProxyLoop             = "WFP-PROXY-LOOP"
	RuleRedirectAgain         = "WFP-REDIRECT-AGAIN"
	RuleBadClassifyHandle     = "WFP-BAD-CLASSIFY-HANDLE"
	RuleBadRedirectHandle     = "WFP-BAD-REDIRECT-HANDLE"
	RuleNullRecords           = "WFP-NULL-RECORDS"
	RuleCompleteWithoutPend   = "WFP-COMPLETE-WITHOUT-PEND"
	RuleReleaseWhilePended    = "WFP-RELEASE-WHILE-PENDED"
	RuleRedirectHandleInUse   = "WFP-REDIRECT-HANDLE-DESTROY-IN-USE"
	RuleContextOwnerFreeTwice = "WFP-CONTEXT-DOUBLE-FREE"
	RuleFlowUnfinished        = "WFP-FLOW-UNFINISHED"
)

const (
	docAcquireWritable = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsacquirewritablelayerdatapointer0"
	docApply           = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsapplymodifiedlayerdata0"
	docAcquireCH       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsacquireclassifyhandle0"
	docReleaseCH       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsreleaseclassifyhandle0"
	docRHCreate        = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsredirecthandlecreate0"
	docRHDestroy       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsredirecthandledestroy0"
	docQueryState      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsqueryconnectionredirectstate0"
	docConnectRequest  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/ns-fwpsk-_fwps_connect_request0"
	docRedirection     = "https://learn.microsoft.com/windows-hardware/drivers/network/using-bind-or-connect-redirection"
	docPend            = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpspendclassify0"
	docComplete        = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpscompleteclassify0"
	docSioFormat       = "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-fwpsqueryconnectionsioformatredirectrecords0"
	docSetRecords      = "https://learn.microsoft.com/windows/win32/winsock/sio-set-wfp-connection-redirect-records"
	docQueryRecords    = "https://learn.microsoft.com/windows-hardware/drivers/network/sio-query-wfp-connection-redirect-records"
	docProxyTracking   = "https://learn.microsoft.com/windows-hardware/drivers/network/using-proxied-connections-tracking"
	docArbitration     = "https://learn.microsoft.com/windows/win32/fwp/filter-arbitration"
	docMetadata        = "https://learn.microsoft.com/windows-hardware/drivers/network/metadata-field-identifiers"
)

func init() {
	t := func(name string) string { return "wfp.TestRules/" + name }
	sim.RegisterRules(
		sim.Rule{ID: RuleAcquireWithoutApply, Statement: "FwpsAcquireWritableLayerDataPointer0 succeeded but FwpsApplyModifiedLayerData0 was not called before classifyFn returned (inline), before FwpsCompleteClassify0 (pended) or before the classify handle was released.", Source: docAcquireWritable, Test: t(RuleAcquireWithoutApply)},
		sim.Rule{ID: RuleApplyOtherPointer, Statement: "FwpsApplyModifiedLayerData0 is called with a pointer other than the one FwpsAcquireWritableLayerDataPointer0 returned for that classify handle (or with none acquired).", Source: docApply, Test: t(RuleApplyOtherPointer)},
		sim.Rule{ID: RuleClassifyHandleLeak, Statement: "A classify handle from FwpsAcquireClassifyHandle0 is never released with FwpsReleaseClassifyHandle0.", Source: docAcquireCH, Test: t(RuleClassifyHandleLeak)},
		sim.Rule{ID: RuleRedirectHandleLeak, Statement: "A redirect handle from FwpsRedirectHandleCreate0 is never destroyed with FwpsRedirectHandleDestroy0.", Source: docRHDestroy, Test: t(RuleRedirectHandleLeak)},
		sim.Rule{ID: RuleWriteWithoutRight, Statement: "A callout modifies the classification (acquires writable layer data, or sets an action other than FWP_ACTION_BLOCK / FWP_ACTION_CONTINUE) although FWPS_RIGHT_ACTION_WRITE was clear when it was called.", Source: docRedirection, Test: t(RuleWriteWithoutRight)},
		sim.Rule{ID: RuleLocalAddressChanged, Statement: "A callout changes localAddressAndPort of FWPS_CONNECT_REQUEST0 at ALE_CONNECT_REDIRECT; only the bind-redirect layer may change the local address (the change is discarded).", Source: docConnectRequest, Test: t(RuleLocalAddressChanged)},
		sim.Rule{ID: RuleContextAfterTransfer, Statement: "A callout reads, writes or frees a localRedirectContext after FwpsApplyModifiedLayerData0 gave it to WFP (WFP frees it when the flow is removed).", Source: docConnectRequest, BugCheck: "0xC2", Test: t(RuleContextAfterTransfer)},
		sim.Rule{ID: RuleProxyLoop, Statement: "A proxied connection was redirected again by the same redirect handle to the same local process for the same original destination: the proxy did not set the redirect records (SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) before connecting, so the connection loops through the proxy.", Source: docSetRecords, Test: t(RuleProxyLoop)},
		sim.Rule{ID: RuleRedirectAgain, Statement: "A connect-redirect callout redirects a connection whose redirect state for its own handle is FWPS_CONNECTION_REDIRECTED_BY_SELF or FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF.", Source: docQueryState, Test: t(RuleRedirectAgain)},
		sim.Rule{ID: RuleBadClassifyHandle, Statement: "An FWPS function is called with a classify handle that was never acquired or was already released.", Source: docReleaseCH, Test: t(RuleBadClassifyHandle)},
		sim.Rule{ID: RuleBadRedirectHandle, Statement: "A redirect handle is used (query, localRedirectHandle) or destroyed after FwpsRedirectHandleDestroy0, or is NULL where one is required.", Source: docRHDestroy, Test: t(RuleBadRedirectHandle)},
		sim.Rule{ID: RuleNullRecords, Statement: "FwpsQueryConnectionRedirectState0 is called with a NULL redirectRecords handle (only reported under policy P-NULLREC=violation; the metadata field FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE says when it is present).", Source: docMetadata, Test: t(RuleNullRecords)},
		sim.Rule{ID: RuleCompleteWithoutPend, Statement: "FwpsCompleteClassify0 is called for a classify handle that is not pended (never pended, or already completed).", Source: docComplete, Test: t(RuleCompleteWithoutPend)},
		sim.Rule{ID: RuleReleaseWhilePended, Statement: "FwpsReleaseClassifyHandle0 is called while the classify is still pended: FwpsCompleteClassify0 must come first.", Source: docPend, Test: t(RuleReleaseWhilePended)},
		sim.Rule{ID: RuleRedirectHandleInUse, Statement: "FwpsRedirectHandleDestroy0 is called while a redirect-policy filter or a pended classify still uses the handle.", Source: docRHDestroy, Test: t(RuleRedirectHandleInUse)},
		sim.Rule{ID: RuleFlowUnfinished, Statement: "At the end of the run (world close), a connection that a local proxy carried onward never reached a final destination and was never blocked: the last connect made on its behalf was redirected to a proxy again (a loop, or a proxy that did not connect onward). Every redirected connection a proxy carries on must end at a final destination or be blocked.", Source: docProxyTracking, Test: t(RuleFlowUnfinished)},
		sim.Rule{ID: RuleContextOwnerFreeTwice, Statement: "A callout frees its own (not yet transferred) redirect context twice.", Source: docConnectRequest, BugCheck: "0xC2", Test: t(RuleContextOwnerFreeTwice)},
	)
}

// Policy IDs registered by this package (semantics reference §11).
const (
	PolicyOverflow     = "P-OVF"
	PolicyAccess       = "P-ACC"
	PolicyNotFound     = "P-NF"
	PolicyContextSel   = "P-CTXSEL"
	PolicyNoPID        = "P-NOPID"
	PolicyNoHandle     = "P-NOHANDLE"
	PolicyContextOwner = "P-CTXOWN"
	PolicyPairing      = "P-PAIR"
	PolicyLoss         = "P-LOSS"
	PolicySize         = "P-SIZE"
	PolicyNullRecords  = "P-NULLREC"
	PolicySioFmtNull   = "P-SIOFMT-NULL"
)

// Option indexes (the order of Options below).
const (
	ovfSizeTAndLengths = 0 // (a)+(c)
	ovfAlsoMax         = 1 // (a)+(b)+(c), (b) = size > MaxRecordsSize
	ovfLengthsOnly     = 2 // (c)

	accElevIntegrityPID = 0 // (b)+(c)+(d)
	accIntegrityPID     = 1 // (c)+(d)
	accIntegrity        = 2 // (c)
	accNever            = 3

	nfNotFound    = 0
	nfFwpNotFound = 1

	ctxselLast  = 0
	ctxselFirst = 1

	nopidIgnore = 0
	nopidBlock  = 1
	nopidAccept = 2

	nohandleNoRecords  = 0
	nohandleNoRedirect = 1

	ctxownAtApply  = 0
	ctxownAtPermit = 1

	pairViolation = 0
	pairTolerate  = 1

	lossOff = 0
	lossOn  = 1

	sizeCompact = 0
	sizeOver1K  = 1
	sizeOver2K  = 2

	nullrecNotRedirected = 0
	nullrecViolation     = 1

	siofmtInvalidParameter = 0
	siofmtNullPointer      = 1
)

// Choice points and fault sites of this package.
const (
	ChoiceFilterTie = "wfp.filter-tie"
	FaultRecordLoss = "wfp.record-loss"
)

func init() {
	sim.RegisterPolicy(sim.Policy{ID: PolicyOverflow, Question: "When is STATUS_INTEGER_OVERFLOW returned by SET/QUERY of redirect records?",
		Options: []string{"a+c", "a+b+c", "c"}, Default: ovfSizeTAndLengths,
		Reason: "(a) a SIZE_T size above MAXULONG (the SDK interface is DWORD-sized) and (c) a blob whose internal lengths overflow a ULONG; (b) adds sizes above wfp.MaxRecordsSize. wfp applies (c) in CheckRecords under every option; package wsk applies (a) and (b).",
		Source: docSetRecords + "; " + docQueryRecords})
	sim.RegisterPolicy(sim.Policy{ID: PolicyAccess, Question: "When is STATUS_ACCESS_DENIED returned by SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS?",
		Options: []string{"b+c+d", "c+d", "c", "never"}, Default: accElevIntegrityPID,
		Reason: "(b) non-elevated owning process (package wsk), (c) blob forged or corrupted (MAC), (d) blob issued for another localRedirectTargetPID than the socket's owner; under never, integrity failures return STATUS_INVALID_PARAMETER.",
		Source: docSetRecords})
	sim.RegisterPolicy(sim.Policy{ID: PolicyNotFound, Question: "Status of a QUERY (or FwpsQueryConnectionSioFormatRedirectRecords0) with nothing to return.",
		Options: []string{"STATUS_NOT_FOUND", "STATUS_FWP_NOT_FOUND"}, Default: nfNotFound,
		Reason: "the kernel pages list STATUS_NOT_FOUND, and the SioFormat page uses it for NULL records",
		Source: docQueryRecords + "; " + docSioFormat})
	sim.RegisterPolicy(sim.Policy{ID: PolicyContextSel, Question: "Which redirect context SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT returns after several hops.",
		Options: []string{"last", "first"}, Default: ctxselLast,
		Reason: "the last redirect is the one that delivered this connection to the querying proxy",
		Source: docQueryRecords})
	sim.RegisterPolicy(sim.Policy{ID: PolicyNoPID, Question: "A loopback redirect without localRedirectTargetPID.",
		Options: []string{"ignore", "block", "accept"}, Default: nopidIgnore,
		Reason: "FWPS_CONNECT_REQUEST0: the PID must be set for the loopback change to be accepted by the engine; ignoring the modification is the literal reading",
		Source: docConnectRequest})
	sim.RegisterPolicy(sim.Policy{ID: PolicyNoHandle, Question: "A local redirect without localRedirectHandle (Windows 8+).",
		Options: []string{"redirect-no-records", "no-redirect"}, Default: nohandleNoRecords,
		Reason: "the redirect happens but no record entry is appended, so the proxy has nothing to hand on and a later connect loops; strict mode drops the redirect",
		Source: docRedirection + "; https://github.com/microsoft/Windows-driver-samples/issues/979"})
	sim.RegisterPolicy(sim.Policy{ID: PolicyContextOwner, Question: "When WFP takes ownership of localRedirectContext.",
		Options: []string{"at-apply", "at-permit"}, Default: ctxownAtApply,
		Reason: "at FwpsApplyModifiedLayerData0; if the classify is later blocked the store still frees it, and the callout freeing it afterwards is a double free. at-permit leaves a blocked classify's context with the callout.",
		Source: docConnectRequest})
	sim.RegisterPolicy(sim.Policy{ID: PolicyPairing, Question: "Acquire without apply, classify handle without release, apply with another pointer.",
		Options: []string{"violation", "tolerate"}, Default: pairViolation,
		Reason: "the pages mandate exact pairing and the same pointer; tolerate suppresses WFP-ACQUIRE-WITHOUT-APPLY, WFP-APPLY-OTHER-POINTER and WFP-CLASSIFY-HANDLE-LEAK",
		Source: docAcquireWritable + "; " + docApply + "; " + docAcquireCH})
	sim.RegisterPolicy(sim.Policy{ID: PolicyLoss, Question: "Record/context association lost by other callouts (npcap loopback cloning).",
		Options: []string{"off", "on"}, Default: lossOff,
		Reason: "a fault of third-party software, not the contract; when on, fault site wfp.record-loss decides per connect whether the records the socket carried are lost",
		Source: "https://github.com/nmap/npcap/issues/363"})
	sim.RegisterPolicy(sim.Policy{ID: PolicySize, Question: "Size of the redirect-records blob.",
		Options: []string{"32+64/hop", "over-1KiB", "over-2KiB"}, Default: sizeCompact,
		Reason: "32-byte header + 64 bytes per hop; the padded modes produce blobs above 1 KiB and 2 KiB to exercise the documented retry path and Envoy-style fixed 2 KiB buffers",
		Source: docQueryRecords + "; https://github.com/envoyproxy/envoy/pull/14753"})
	sim.RegisterPolicy(sim.Policy{ID: PolicyNullRecords, Question: "FwpsQueryConnectionRedirectState0 with a NULL redirectRecords handle.",
		Options: []string{"not-redirected", "violation"}, Default: nullrecNotRedirected,
		Reason: "ebpf-for-windows passes the metadata handle unchecked and usersim answers NOT_REDIRECTED",
		Source: docQueryState + "; microsoft/ebpf-for-windows netebpfext/net_ebpf_ext_sock_addr.c (passes inMetaValues->redirectRecords unchecked); microsoft/usersim src/fwp_um.cpp (FwpsQueryConnectionRedirectState0)"})
	sim.RegisterPolicy(sim.Policy{ID: PolicySioFmtNull, Question: "FwpsQueryConnectionSioFormatRedirectRecords0 with NULL BytesTransferred or an unaligned OutputBuffer.",
		Options: []string{"STATUS_INVALID_PARAMETER", "STATUS_FWP_NULL_POINTER"}, Default: siofmtInvalidParameter,
		Reason: "the newer page (MicrosoftDocs/windows-driver-docs-ddi PR #1678) documents STATUS_INVALID_PARAMETER",
		Source: docSioFormat + "; https://github.com/MicrosoftDocs/windows-driver-docs-ddi/pull/1678"})

	sim.RegisterChoice(sim.ChoicePoint{Label: ChoiceFilterTie, Options: []string{"after", "before"},
		Doc: "two filters with the same sublayer and weight: WFP does not define which is evaluated first (drawn once, when the second is added)"})
	sim.RegisterFaultSite(sim.FaultSite{Name: FaultRecordLoss, Doc: "the redirect records a connecting socket carries are lost before classification (policy P-LOSS=on)"})
}
