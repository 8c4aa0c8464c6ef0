package trace

import (
	"sort"

	"github.com/wsksim/wsksim/wfp"
)

// Object kinds: what a bound name denotes. A name is bound with a kind where
// it first appears and must be used with that kind afterwards.
const (
	ObjIRP          = "IRP"
	ObjPool         = "pool block"
	ObjRegistration = "registration"
	ObjClient       = "client"
	ObjSocket       = "socket"
	ObjBytes        = "bytes"
	ObjRedirect     = "redirect handle"
	ObjClassify     = "classify handle"
	ObjLayerData    = "layer data"
	ObjRecords      = "redirect records"
	ObjContext      = "classify context"
	ObjPeer         = "peer connection"
	ObjPeerUDP      = "peer UDP endpoint"
	ObjApp          = "application connection"
	ObjProcess      = "process"
)

// pkind is the form a parameter takes.
type pkind uint8

const (
	pInt     pkind = iota // integer, "0x…" or a constant name
	pBool                 // true/false
	pStatus               // NTSTATUS
	pObj                  // a bound name of kind obj, or null
	pPtr                  // driver memory the model does not track: null, true, or any bound name
	pOutPtr               // pointer to an out-parameter: true or null
	pBindArg              // {"bind":name}: caller memory the call initialises (kind obj)
	pNewObj               // {"bind":name} of kind obj, or null (a returned object)
	pAddr                 // "ip:port" or null
	pBuf                  // buffer or null
	pOutBuf               // output bytes: a buffer, or {"bind":name} binding opaque bytes
	pStruct               // nested object with the fields in sub
	pText                 // a string (free text) or a number
	pEnum                 // one of enum (SDK spelling) or its number
	pInfo                 // IoStatus.Information: integer, {"bind"} of kind obj, or a bound name
	pIRQL                 // an IRQL name
	pLabel                // a plain string naming an env-level object (binds on first use)
	pProc                 // OwningProcess: null, true, a bound process name, or a PID
	pLoose                // a handle the trace may only label: null, true, any string, {"bind"} (bytes) or a buffer
)

type param struct {
	name  string
	kind  pkind
	obj   string
	sub   []param
	enum  []string
	def   *Value // value when absent (nil: NULL / 0 / false)
	frees bool   // the call ends the life of the named object
	null  bool   // pInt: null (a NULL in/out pointer) is allowed too
	req   bool
}

// fnSpec describes one function the trace may call.
type fnSpec struct {
	name   string
	group  string // "io", "pool", "wsk", "fwps"
	args   []param
	ret    retKind
	value  param   // for retValue
	out    []param // return.out
	cout   []param // complete.out
	info   param   // complete.information
	maxIRQ string  // documented maximum IRQL, for docs
}

type retKind uint8

const (
	retVoid retKind = iota
	retStatus
	retValue
)

func (f *fnSpec) arg(name string) *param {
	for k := range f.args {
		if f.args[k].name == name {
			return &f.args[k]
		}
	}
	return nil
}

func (f *fnSpec) takesIRP() bool { return f.arg("Irp") != nil }

var trueValue = &Value{Kind: Bool, B: true}

func a(name string, k pkind) param         { return param{name: name, kind: k} }
func o(name, obj string) param             { return param{name: name, kind: pObj, obj: obj} }
func nb(name, obj string) param            { return param{name: name, kind: pNewObj, obj: obj} }
func st(name string, sub ...param) param   { return param{name: name, kind: pStruct, sub: sub} }
func en(name string, vals ...string) param { return param{name: name, kind: pEnum, enum: vals} }
func info(obj string) param                { return param{name: "information", kind: pInfo, obj: obj} }
func freeing(p param) param                { p.frees = true; return p }
func nullable(p param) param               { p.null = true; return p }
func withDef(p param, v *Value) param      { p.def = v; return p }
func outBuf(name string) param             { return param{name: name, kind: pOutBuf, obj: ObjBytes} }
func bindArg(name, obj string) param       { return param{name: name, kind: pBindArg, obj: obj} }
func loose(name, obj string) param         { return param{name: name, kind: pLoose, obj: obj} }
func irpArg() param                        { return o("Irp", ObjIRP) }
func sock(name string) param               { return o(name, ObjSocket) }
func ctrlOut() []param                     { return []param{a("OutputSizeReturned", pInt), outBuf("OutputBuffer")} }
func addrOut(names ...string) (ps []param) {
	for _, n := range names {
		ps = append(ps, a(n, pAddr))
	}
	return ps
}

var redirectStates = []string{"FWPS_CONNECTION_NOT_REDIRECTED", "FWPS_CONNECTION_REDIRECTED_BY_SELF",
	"FWPS_CONNECTION_REDIRECTED_BY_OTHER", "FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF"}

// FWP_ACTION_TYPE values (fwptypes.h), as package wfp defines them.
func init() {
	for _, a := range []wfp.Action{wfp.FWP_ACTION_BLOCK, wfp.FWP_ACTION_PERMIT, wfp.FWP_ACTION_CALLOUT_TERMINATING,
		wfp.FWP_ACTION_CALLOUT_INSPECTION, wfp.FWP_ACTION_CALLOUT_UNKNOWN, wfp.FWP_ACTION_CONTINUE, wfp.FWP_ACTION_NONE, wfp.FWP_ACTION_NONE_NO_MATCH} {
		extraConstants[a.String()] = uint64(a)
	}
	extraConstants["FWPS_RIGHT_ACTION_WRITE"] = uint64(wfp.FWPS_RIGHT_ACTION_WRITE)
	extraConstants["FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS"] = uint64(wfp.FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS)
}

// functions is the v1 function list with the DDIs' documented parameter names.
var functions = map[string]*fnSpec{}

func init() {
	sockCreate := func(name string, extra ...param) *fnSpec {
		args := append([]param{o("Client", ObjClient)}, extra...)
		args = append(args, a("SocketContext", pPtr), a("Dispatch", pPtr), a("OwningProcess", pProc),
			a("OwningThread", pPtr), a("SecurityDescriptor", pPtr), irpArg())
		return &fnSpec{name: name, group: "wsk", args: args, ret: retStatus, info: info(ObjSocket), maxIRQ: "DISPATCH_LEVEL"}
	}
	fs := []*fnSpec{
		// I/O manager and pool.
		{name: "IoAllocateIrp", group: "io", args: []param{a("StackSize", pInt), a("ChargeQuota", pBool)}, ret: retValue, value: nb("value", ObjIRP), maxIRQ: "DISPATCH_LEVEL"},
		{name: "IoReuseIrp", group: "io", args: []param{irpArg(), a("Iostatus", pStatus)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "IoFreeIrp", group: "io", args: []param{freeing(irpArg())}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "IoSetCompletionRoutine", group: "io", args: []param{irpArg(), withDef(a("CompletionRoutine", pPtr), trueValue), a("Context", pPtr),
			a("InvokeOnSuccess", pBool), a("InvokeOnError", pBool), a("InvokeOnCancel", pBool)}, maxIRQ: "DISPATCH_LEVEL"},
		// Extension (docs/wsktrace.md): completing a passed-down IRP (env irp_dispatch).
		{name: "IoCompleteRequest", group: "io", args: []param{irpArg(), a("Status", pStatus), a("Information", pInt)}, maxIRQ: "DISPATCH_LEVEL"},
		// Extension (docs/wsktrace.md): an IRP handed to a driver below that
		// the trace shows as a black box (the scenario language's stand-in
		// provider): "Function" names what it stands in for, Buffer… are pool
		// ranges lent to the IRP. Replayed by the IRP-level stand-in.
		{name: "IoCallDriver", group: "stand-in", args: []param{withDef(a("DeviceObject", pPtr), trueValue), irpArg(), a("Function", pText),
			a("Buffer", pBuf), a("Buffer2", pBuf), a("Buffer3", pBuf), a("Buffer4", pBuf)}, ret: retStatus, maxIRQ: "DISPATCH_LEVEL"},
		// Extension: a driver holding a passed-down IRP pending sets (or
		// clears) its cancel routine; value is the previous routine (true or
		// null; replay does not check it).
		{name: "IoSetCancelRoutine", group: "io", args: []param{irpArg(), a("CancelRoutine", pPtr)}, ret: retValue, value: a("value", pPtr), maxIRQ: "DISPATCH_LEVEL"},
		{name: "IoCancelIrp", group: "io", args: []param{irpArg()}, ret: retValue, value: a("value", pBool), maxIRQ: "DISPATCH_LEVEL"},
		{name: "ExAllocatePool2", group: "pool", args: []param{a("Flags", pInt), a("NumberOfBytes", pInt), a("Tag", pInt)}, ret: retValue, value: nb("value", ObjPool), maxIRQ: "DISPATCH_LEVEL"},
		{name: "ExFreePoolWithTag", group: "pool", args: []param{freeing(o("P", ObjPool)), a("Tag", pInt)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "ExFreePool", group: "pool", args: []param{freeing(o("P", ObjPool))}, maxIRQ: "DISPATCH_LEVEL"},

		// WSK registration.
		{name: "WskRegister", group: "wsk", args: []param{st("WskClientNpi", a("Version", pText), a("ClientContext", pPtr), a("Dispatch", pPtr)), bindArg("WskRegistration", ObjRegistration)}, ret: retStatus, maxIRQ: "PASSIVE_LEVEL"},
		{name: "WskCaptureProviderNPI", group: "wsk", args: []param{o("WskRegistration", ObjRegistration), a("WaitTimeout", pInt), a("WskProviderNpi", pOutPtr)}, ret: retStatus,
			out: []param{st("WskProviderNpi", param{name: "Client", kind: pInfo, obj: ObjClient}, a("Dispatch", pPtr))}, maxIRQ: "PASSIVE_LEVEL"},
		{name: "WskReleaseProviderNPI", group: "wsk", args: []param{o("WskRegistration", ObjRegistration)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskDeregister", group: "wsk", args: []param{freeing(o("WskRegistration", ObjRegistration))}, maxIRQ: "PASSIVE_LEVEL"},

		// WSK sockets.
		sockCreate("WskSocket", a("AddressFamily", pInt), a("SocketType", pInt), a("Protocol", pInt), a("Flags", pInt)),
		sockCreate("WskSocketConnect", a("SocketType", pInt), a("Protocol", pInt), a("LocalAddress", pAddr), a("RemoteAddress", pAddr), a("Flags", pInt)),
		{name: "WskBind", group: "wsk", args: []param{sock("Socket"), a("LocalAddress", pAddr), a("Flags", pInt), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskListen", group: "wsk", args: []param{sock("Socket"), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskConnect", group: "wsk", args: []param{sock("Socket"), a("RemoteAddress", pAddr), a("Flags", pInt), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskAccept", group: "wsk", args: []param{sock("ListenSocket"), a("Flags", pInt), a("AcceptSocketContext", pPtr), a("AcceptSocketDispatch", pPtr),
			a("LocalAddress", pOutPtr), a("RemoteAddress", pOutPtr), irpArg()}, ret: retStatus, info: info(ObjSocket), cout: addrOut("LocalAddress", "RemoteAddress"), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskSend", group: "wsk", args: []param{sock("Socket"), a("Buffer", pBuf), a("Flags", pInt), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskReceive", group: "wsk", args: []param{sock("Socket"), a("Buffer", pBuf), a("Flags", pInt), irpArg()}, ret: retStatus, info: info(""), cout: []param{outBuf("Buffer")}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskDisconnect", group: "wsk", args: []param{sock("Socket"), a("Buffer", pBuf), a("Flags", pInt), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskSendTo", group: "wsk", args: []param{sock("Socket"), a("Buffer", pBuf), a("Flags", pInt), a("RemoteAddress", pAddr), a("ControlInfoLength", pInt), a("ControlInfo", pBuf), irpArg()},
			ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskReceiveFrom", group: "wsk", args: []param{sock("Socket"), a("Buffer", pBuf), a("Flags", pInt), a("RemoteAddress", pOutPtr), nullable(a("ControlLength", pInt)),
			a("ControlInfo", pBuf), a("ControlFlags", pOutPtr), irpArg()}, ret: retStatus, info: info(""),
			cout: []param{outBuf("Buffer"), a("RemoteAddress", pAddr), a("ControlLength", pInt), outBuf("ControlInfo"), a("ControlFlags", pInt)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskCloseSocket", group: "wsk", args: []param{freeing(sock("Socket")), irpArg()}, ret: retStatus, info: info(""), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskControlSocket", group: "wsk", args: []param{sock("Socket"), a("RequestType", pInt), a("ControlCode", pInt), a("Level", pInt),
			a("InputSize", pInt), a("InputBuffer", pBuf), a("OutputSize", pInt), a("OutputBuffer", pBuf), a("OutputSizeReturned", pOutPtr), irpArg()},
			ret: retStatus, info: info(""), out: ctrlOut(), cout: ctrlOut(), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskGetLocalAddress", group: "wsk", args: []param{sock("Socket"), a("LocalAddress", pOutPtr), irpArg()}, ret: retStatus, info: info(""), cout: addrOut("LocalAddress"), maxIRQ: "DISPATCH_LEVEL"},
		{name: "WskGetRemoteAddress", group: "wsk", args: []param{sock("Socket"), a("RemoteAddress", pOutPtr), irpArg()}, ret: retStatus, info: info(""), cout: addrOut("RemoteAddress"), maxIRQ: "DISPATCH_LEVEL"},

		// WFP callout side.
		{name: "FwpsRedirectHandleCreate0", group: "fwps", args: []param{a("providerGuid", pPtr), a("flags", pInt), a("redirectHandle", pOutPtr)}, ret: retStatus,
			out: []param{nb("redirectHandle", ObjRedirect)}, maxIRQ: "PASSIVE_LEVEL"},
		{name: "FwpsRedirectHandleDestroy0", group: "fwps", args: []param{freeing(o("redirectHandle", ObjRedirect))}, maxIRQ: "PASSIVE_LEVEL"},
		{name: "FwpsQueryConnectionRedirectState0", group: "fwps", args: []param{loose("redirectRecords", ""), o("redirectHandle", ObjRedirect), a("redirectContext", pOutPtr)},
			ret: retValue, value: en("value", redirectStates...), out: []param{loose("redirectContext", ObjBytes)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsAcquireClassifyHandle0", group: "fwps", args: []param{a("classifyContext", pPtr), a("flags", pInt), a("classifyHandle", pOutPtr)}, ret: retStatus,
			out: []param{nb("classifyHandle", ObjClassify)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsAcquireWritableLayerDataPointer0", group: "fwps", args: []param{o("classifyHandle", ObjClassify), a("filterId", pInt), a("flags", pInt), a("writableLayerData", pOutPtr), a("classifyOut", pPtr)},
			ret: retStatus, out: []param{nb("writableLayerData", ObjLayerData)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsApplyModifiedLayerData0", group: "fwps", args: []param{o("classifyHandle", ObjClassify), freeing(a("modifiedLayerData", pPtr)), a("flags", pInt),
			st("connectRequest", a("remoteAddressAndPort", pAddr), a("localRedirectTargetPID", pInt), o("localRedirectHandle", ObjRedirect), a("localRedirectContext", pBuf), a("localAddressAndPort", pAddr)),
			st("bindRequest", a("localAddressAndPort", pAddr), a("portReservationToken", pInt))}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsReleaseClassifyHandle0", group: "fwps", args: []param{freeing(o("classifyHandle", ObjClassify))}, maxIRQ: "DISPATCH_LEVEL"},
		// Extensions (docs/wsktrace.md): the asynchronous classify.
		{name: "FwpsPendClassify0", group: "fwps", args: []param{o("classifyHandle", ObjClassify), a("filterId", pInt), a("flags", pInt), a("classifyOut", pPtr)}, ret: retStatus, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsCompleteClassify0", group: "fwps", args: []param{o("classifyHandle", ObjClassify), a("flags", pInt), a("classifyOut", pPtr), a("actionType", pInt), a("rights", pInt)}, maxIRQ: "DISPATCH_LEVEL"},
		{name: "FwpsQueryConnectionSioFormatRedirectRecords0", group: "fwps", args: []param{loose("RedirectRecords", ""), a("OutputBuffer", pBuf), a("OutputBufferLength", pInt), a("BytesTransferred", pOutPtr)},
			ret: retStatus, out: []param{outBuf("OutputBuffer"), a("BytesTransferred", pInt)}, maxIRQ: "DISPATCH_LEVEL"},
	}
	for _, f := range fs {
		functions[f.name] = f
	}
}

// Functions returns the names of every function a v1 trace may call, sorted.
func Functions() []string {
	out := make([]string, 0, len(functions))
	for n := range functions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// envSpec describes the fields of one env kind.
type envSpec struct {
	what   string
	fields []param
}

var envKinds = map[string]*envSpec{}

func init() {
	label := func(name, obj string) param { return param{name: name, kind: pLabel, obj: obj} }
	req := func(p param) param { p.req = true; return p }
	for _, e := range []*envSpec{
		{what: "peer_listen", fields: []param{req(a("addr", pAddr))}},
		{what: "peer_connect", fields: []param{req(a("to", pAddr)), req(label("name", ObjPeer)), a("from", pAddr)}},
		{what: "peer_send", fields: []param{req(o("conn", ObjPeer)), req(a("data", pBuf))}},
		{what: "peer_close", fields: []param{req(freeing(o("conn", ObjPeer)))}},
		// The peer listening at addr took the connection it accepted first and
		// the trace has not named yet (or, when there is none, the next one).
		{what: "peer_accept", fields: []param{req(a("addr", pAddr)), req(label("name", ObjPeer))}},
		// A peer half-closes its connection (FIN, shutdown(SD_SEND)) and keeps
		// receiving; a peer stops listening (connections not yet accepted are
		// reset).
		{what: "peer_shutdown", fields: []param{req(o("conn", ObjPeer))}},
		{what: "peer_listen_close", fields: []param{req(a("addr", pAddr))}},
		{what: "redirected_connect", fields: []param{req(label("name", ObjPeer)), req(a("from", pAddr)), req(a("original", pAddr)), req(a("to", pAddr)),
			req(param{name: "handle", kind: pText}), a("context", pBuf), a("target_pid", pInt)}},
		{what: "redirect_policy", fields: []param{req(param{name: "handle", kind: pText}), req(a("match", pAddr)), req(a("to", pAddr)), a("context", pBuf), a("target_pid", pInt)}},
		// Extensions (docs/oracle.md): a process the driver may name as an OwningProcess.
		{what: "process", fields: []param{req(label("name", ObjProcess)), req(a("pid", pInt)), a("elevated", pBool)}},
		// UDP endpoints of peers (wsk.PeerUDPBind, PeerUDP.SendTo, PeerUDP.Close).
		{what: "peer_udp_bind", fields: []param{req(a("addr", pAddr)), req(label("name", ObjPeerUDP))}},
		{what: "peer_sendto", fields: []param{req(o("conn", ObjPeerUDP)), req(a("to", pAddr)), req(a("data", pBuf))}},
		{what: "peer_udp_close", fields: []param{req(freeing(o("conn", ObjPeerUDP)))}},
		// The first datagram of a flow another vendor's callout redirected
		// (wsk.Provider.RedirectedDatagram): the UDP twin of redirected_connect.
		{what: "redirected_datagram", fields: []param{req(label("name", ObjPeerUDP)), req(a("from", pAddr)), req(a("original", pAddr)), req(a("to", pAddr)),
			req(param{name: "handle", kind: pText}), a("context", pBuf), a("target_pid", pInt), a("data", pBuf)}},
		// A peer resets its connection (RST), as package wsk traces PeerConn.Reset.
		{what: "peer_reset", fields: []param{req(freeing(o("conn", ObjPeer)))}},
		// The I/O manager handed the driver an IRP in a dispatch routine (a
		// passed-down IRP, irp.Manager.NewPassedDownIrp): the driver owns it
		// until IoCompleteRequest and may give it to a WSK call.
		// The provider completed a driver-allocated IRP and no completion
		// routine ran (none set, or not invoked for this status): when it
		// happened, which no complete event can show.
		{what: "irp_completed", fields: []param{req(o("irp", ObjIRP)), req(a("status", pStatus)), a("information", pInt)}},
		{what: "irp_dispatch", fields: []param{req(label("irp", ObjIRP)), a("stack_locations", pInt)}},
		// The engine invoked a callout's classifyFn (what package wfp traces).
		{what: "classify", fields: []param{req(param{name: "layer", kind: pText}), req(param{name: "callout", kind: pText}), a("filter", pInt),
			a("local", pAddr), a("remote", pAddr), a("protocol", pInt), a("flags", pInt), a("currentMetadataValues", pInt), a("processId", pInt),
			a("rights", pInt), a("redirectRecords", pInt), a("originalDestination", pAddr), a("localRedirectTargetPID", pInt)}},
		// World facts a scenario pins (docs/wsktrace.md): filter arbitration
		// (sublayer, filter, filter_delete), choice-point pins, policy
		// options and rule actions.
		{what: "sublayer", fields: []param{req(param{name: "name", kind: pText}), req(a("weight", pInt))}},
		{what: "filter", fields: []param{req(a("filter", pInt)), req(param{name: "layer", kind: pText}), param{name: "callout", kind: pText},
			a("action", pInt), a("weight", pInt), param{name: "sublayer", kind: pText}, a("remote", pAddr), param{name: "tie", kind: pText}}},
		{what: "filter_delete", fields: []param{req(a("filter", pInt))}},
		{what: "pin", fields: []param{req(param{name: "choice", kind: pText}), req(param{name: "value", kind: pText})}},
		{what: "unpin", fields: []param{req(param{name: "choice", kind: pText})}},
		{what: "policy", fields: []param{req(param{name: "id", kind: pText}), req(param{name: "option", kind: pText})}},
		{what: "rule_action", fields: []param{req(param{name: "rule", kind: pText}), req(param{name: "action", kind: pText})}},
		// The callout's classifyFn returned with this classifyOut.
		{what: "classify_return", fields: []param{req(param{name: "callout", kind: pText}), a("filter", pInt), req(a("actionType", pInt)),
			a("rights", pInt), a("flags", pInt)}},
	} {
		envKinds[e.what] = e
	}
}
