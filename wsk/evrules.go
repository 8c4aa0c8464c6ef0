package wsk

import "github.com/wsksim/wsksim/sim"

// Rule IDs of event-driven sockets (events.go).
const (
	RuleEventMask         = "WSK-EVENT-MASK"
	RuleEventState        = "WSK-EVENT-STATE"
	RuleEventEnableIRP    = "WSK-EVENT-ENABLE-IRP"
	RuleEventNoHandler    = "WSK-EVENT-NO-HANDLER"
	RuleStaticLate        = "WSK-STATIC-AFTER-SOCKET"
	RuleStaticChange      = "WSK-STATIC-CHANGE"
	RuleEventReturn       = "WSK-EVENT-RETURN"
	RuleReleaseIndication = "WSK-RELEASE-INDICATION"
	RuleRetainedAtClose   = "WSK-RETAINED-AT-CLOSE"
	RuleEventWait         = "WSK-EVENT-WAIT"
	RuleReleaseSD         = "WSK-RELEASE-SD"
)

const (
	docStatic     = "https://learn.microsoft.com/windows-hardware/drivers/network/wsk-set-static-event-callbacks"
	docEnable     = "https://learn.microsoft.com/windows-hardware/drivers/network/enabling-and-disabling-event-callback-functions"
	docCtlClient  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_control_client"
	docAcceptEv   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept_event"
	docRecvEv     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_event"
	docRecvFromEv = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from_event"
	docDiscEv     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect_event"
	docBacklogEv  = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send_backlog_event"
	docReleaseInd = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_release_data_indication_list"
	docCacheSD    = "https://learn.microsoft.com/windows-hardware/drivers/network/wsk-cache-sd"
	docReleaseSD  = "https://learn.microsoft.com/windows-hardware/drivers/network/wsk-release-sd"
	srcEchoClose  = "microsoft/Windows-driver-samples network/wsk/echosrv/wsksmple.c, WskSampleCloseIrpCompletionRoutine (\"the completion of WskCloseSocket guarantees that there are no outstanding requests or callbacks on the socket\")"
)

func te(name string) string { return t("TestRules/" + name) }

func init() {
	sim.RegisterRules(
		sim.Rule{ID: RuleEventMask, Statement: "SO_WSK_EVENT_CALLBACK or WSK_SET_STATIC_EVENT_CALLBACKS is given a malformed WSK_EVENT_CALLBACK_CONTROL: InputSize not sizeof(WSK_EVENT_CALLBACK_CONTROL), a NULL NpiId, an EventMask with no event, with events the socket's category does not have, or disabling more than one event at once (each must be disabled individually); STATUS_INVALID_PARAMETER.", Source: docEventCB + "; " + docEnable + "; " + docStatic, Test: te(RuleEventMask)},
		sim.Rule{ID: RuleEventState, Statement: "SO_WSK_EVENT_CALLBACK on a listening or datagram socket before it is bound, or on a connection-oriented socket before it is connected; STATUS_INVALID_DEVICE_STATE.", Source: docEventCB, Test: te(RuleEventState)},
		sim.Rule{ID: RuleEventEnableIRP, Statement: "WskControlSocket(SO_WSK_EVENT_CALLBACK) enabling event callbacks is given an IRP; an application does not specify an IRP to enable them (only to disable). The model completes the IRP with the result.", Source: docEventCB, Test: te(RuleEventEnableIRP)},
		sim.Rule{ID: RuleEventNoHandler, Statement: "An event callback is enabled (SO_WSK_EVENT_CALLBACK, or statically for a socket given a client dispatch table) whose function pointer in the socket's client dispatch table is NULL; the provider would call through it.", Source: docEnable + "; " + docEventCB, BugCheck: "0x1E / 0xD1 (call through a NULL pointer)", Test: te(RuleEventNoHandler)},
		sim.Rule{ID: RuleStaticLate, Statement: "WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS) after the client created a socket; it must be done before any socket is created (STATUS_INVALID_DEVICE_STATE).", Source: docStatic, Test: te(RuleStaticLate)},
		sim.Rule{ID: RuleStaticChange, Statement: "SO_WSK_EVENT_CALLBACK enables or disables an event callback that WSK_SET_STATIC_EVENT_CALLBACKS enabled; static event callbacks are always enabled and cannot be disabled or re-enabled (STATUS_INVALID_DEVICE_STATE).", Source: docStatic, Test: te(RuleStaticChange)},
		sim.Rule{ID: RuleEventReturn, Statement: "An event callback returns a status its page does not allow (WskAcceptEvent: STATUS_SUCCESS or STATUS_REQUEST_NOT_ACCEPTED; WskReceiveEvent and WskReceiveFromEvent: STATUS_SUCCESS, STATUS_DATA_NOT_ACCEPTED or STATUS_PENDING; WskDisconnectEvent and WskSendBacklogEvent: STATUS_SUCCESS), or WskReceiveEvent sets *BytesAccepted above BytesIndicated.", Source: docAcceptEv + "; " + docRecvEv + "; " + docRecvFromEv + "; " + docDiscEv + "; " + docBacklogEv, Test: te(RuleEventReturn)},
		sim.Rule{ID: RuleReleaseIndication, Statement: "WskRelease is given a data indication the driver does not own: one its callback did not retain (did not return STATUS_PENDING), one already released, or one of another socket; each retained indication is released exactly once.", Source: docReleaseInd + "; " + docRecvEv, Test: te(RuleReleaseIndication)},
		sim.Rule{ID: RuleRetainedAtClose, Statement: "A socket is closed while an indication its WskReceiveEvent or WskReceiveFromEvent retained (STATUS_PENDING) has not been released with WskRelease; retained indications are released before the socket is closed.", Source: docReleaseInd + "; " + docCloseS, Test: te(RuleRetainedAtClose)},
		sim.Rule{ID: RuleEventWait, Statement: "The driver waits inside an event callback (the world runs queued work, such as the completion of a WSK request it made, before the callback returns). Callbacks run at IRQL <= DISPATCH_LEVEL (WSK_FLAG_AT_DISPATCH_LEVEL when at DISPATCH_LEVEL) and may start WSK requests but not wait for them.", Source: docRecvEv + "; " + docAcceptEv + "; " + docIRPs, Test: te(RuleEventWait)},
		sim.Rule{ID: RuleReleaseSD, Statement: "WskControlClient(WSK_RELEASE_SD) is given a security descriptor that WSK_CACHE_SD did not cache for the client, or one already released.", Source: docCacheSD + "; " + docReleaseSD + "; " + docCtlClient, Test: te(RuleReleaseSD)},
	)
	ch := func(label, doc string, opts ...string) {
		sim.RegisterChoice(sim.ChoicePoint{Label: label, Options: opts, Doc: doc})
	}
	ch(ChoiceEventIRQL, "the IRQL an event callback runs at: PASSIVE_LEVEL, or DISPATCH_LEVEL with WSK_FLAG_AT_DISPATCH_LEVEL in Flags (every callback page: IRQL <= DISPATCH_LEVEL)", "passive", "dispatch")
	ch(ChoiceEventReceiveTarget, "when data (or a datagram) arrives on a socket with WskReceiveEvent (WskReceiveFromEvent) enabled and a WskReceive (WskReceiveFrom) pending, which gets it: the pending IRP or the callback", "irp", "callback")
	ch(ChoiceEventAcceptTarget, "when a connection arrives on a listening socket with WskAcceptEvent enabled and a WskAccept pending, which takes it: the pending IRP or the callback", "irp", "callback")
	ch(ChoiceEventSplit, "how data is split across an indication: one WSK_DATA_INDICATION with every byte that arrived, or two buffers (connection sockets); every queued datagram in one WSK_DATAGRAM_INDICATION list, or one per indication (datagram sockets)", "whole", "split")
}
