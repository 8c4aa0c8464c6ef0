package wsk

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// Event-driven sockets: the client dispatch tables (WSK_CLIENT_LISTEN_DISPATCH,
// WSK_CLIENT_CONNECTION_DISPATCH, WSK_CLIENT_DATAGRAM_DISPATCH), enabling
// and disabling their callbacks (SO_WSK_EVENT_CALLBACK, WskControlClient
// with WSK_SET_STATIC_EVENT_CALLBACKS), the callbacks themselves and
// WskRelease of retained indications.

// WSK flags of event callbacks (wsk.h).
const (
	WSK_FLAG_RELEASE_ASAP      uint32 = 0x00000002
	WSK_FLAG_ENTIRE_MESSAGE    uint32 = 0x00000004
	WSK_FLAG_AT_DISPATCH_LEVEL uint32 = 0x00000008
)

// WskControlClient control codes (wsk.h).
const (
	WSK_TRANSPORT_LIST_QUERY       uint32 = 2
	WSK_TRANSPORT_LIST_CHANGE      uint32 = 3
	WSK_CACHE_SD                   uint32 = 4
	WSK_RELEASE_SD                 uint32 = 5
	WSK_TDI_DEVICENAME_MAPPING     uint32 = 6
	WSK_SET_STATIC_EVENT_CALLBACKS uint32 = 7
	WSK_TDI_BEHAVIOR               uint32 = 8
	WSK_TDI_BEHAVIOR_BYPASS_TDI    uint32 = 0x00000001
)

// EventCallbackControlSize is sizeof(WSK_EVENT_CALLBACK_CONTROL) on x64:
// PNPIID NpiId (8 bytes), ULONG EventMask, 4 bytes of padding.
const EventCallbackControlSize = 16

// EventCallbackControl returns the bytes of a WSK_EVENT_CALLBACK_CONTROL
// whose NpiId points at NPI_WSK_INTERFACE_ID and whose EventMask is mask.
// A zero NpiId (NULL) is written by EventCallbackControlNoNPI.
func EventCallbackControl(mask uint32) []byte {
	b := make([]byte, EventCallbackControlSize)
	binary.LittleEndian.PutUint64(b, npiWskPointer)
	binary.LittleEndian.PutUint32(b[8:], mask)
	return b
}

// npiWskPointer stands for &NPI_WSK_INTERFACE_ID in a
// WSK_EVENT_CALLBACK_CONTROL the model reads (the model has no address
// space: any non-NULL pointer is taken as the WSK NPI's identifier).
const npiWskPointer = 0xFFFFF80000001000

// Events is a client dispatch table with event callbacks, written in Go: the
// Dispatch of WskSocket (WSK_CLIENT_LISTEN_DISPATCH,
// WSK_CLIENT_CONNECTION_DISPATCH or WSK_CLIENT_DATAGRAM_DISPATCH, by the
// socket's category), AcceptSocketDispatch of WskAccept, and what a
// WskAcceptEvent hands back. A nil field is a NULL function pointer. Each
// callback runs synchronously inside the provider; the driver may call WSK
// functions from it but must not wait for their completion (WSK-EVENT-WAIT).
type Events struct {
	WskAcceptEvent      func(e *AcceptEvent) nt.Status
	WskInspectEvent     func(e *InspectEvent) nt.Status
	WskAbortEvent       func(socketContext any, inspectID uint64) nt.Status
	WskReceiveEvent     func(e *ReceiveEvent) nt.Status
	WskDisconnectEvent  func(e *DisconnectEvent) nt.Status
	WskSendBacklogEvent func(e *SendBacklogEvent) nt.Status
	WskReceiveFromEvent func(e *ReceiveFromEvent) nt.Status
}

// AcceptEvent is what WskAcceptEvent receives and answers.
type AcceptEvent struct {
	SocketContext               any // the listening socket's
	Flags                       uint32
	LocalAddress, RemoteAddress netip.AddrPort
	AcceptSocket                *Socket // nil: the listening socket is no longer functional
	// Out: set by the callback when it returns STATUS_SUCCESS.
	AcceptSocketContext  any
	AcceptSocketDispatch any // *Events, or nil
	ListenSocket         *Socket
}

// InspectEvent is what WskInspectEvent receives (conditional accept).
type InspectEvent struct {
	SocketContext               any
	LocalAddress, RemoteAddress netip.AddrPort
	InspectID                   uint64
	ListenSocket                *Socket
}

// Indication is a WSK_DATA_INDICATION list (connection sockets) or a
// WSK_DATAGRAM_INDICATION list (datagram sockets) the provider hands to
// WskReceiveEvent or WskReceiveFromEvent. Retained (the callback returned
// STATUS_PENDING) it stays lent to the driver until WskRelease.
type Indication struct {
	num       int32
	Buffers   [][]byte             // connection: the bytes of each WSK_DATA_INDICATION
	Datagrams []DatagramIndication // datagram: one per WSK_DATAGRAM_INDICATION
	s         *Socket
	retained  bool
	released  bool
}

// DatagramIndication is one WSK_DATAGRAM_INDICATION.
type DatagramIndication struct {
	RemoteAddress netip.AddrPort
	ControlInfo   []byte // cmsgs (redirect records and context of a redirected flow), nil if none
	Buffer        []byte
}

// Name returns the display name ("di1"), or "NULL".
func (d *Indication) Name() string {
	if d == nil {
		return "NULL"
	}
	return sim.Name("di", int(d.num))
}

// Bytes returns the number of bytes the indication carries.
func (d *Indication) Bytes() uint64 {
	if d == nil {
		return 0
	}
	var n uint64
	for _, b := range d.Buffers {
		n += uint64(len(b))
	}
	for _, g := range d.Datagrams {
		n += uint64(len(g.Buffer))
	}
	return n
}

// ReceiveEvent is what WskReceiveEvent receives and answers.
type ReceiveEvent struct {
	SocketContext  any
	Flags          uint32
	DataIndication *Indication // nil: graceful disconnect (no more data) or the socket is no longer functional
	BytesIndicated uint64
	// BytesAccepted is set by the callback when it returns STATUS_SUCCESS
	// (at most BytesIndicated; fewer leaves the rest for WskReceive).
	BytesAccepted uint64
	Socket        *Socket
}

// DisconnectEvent is what WskDisconnectEvent receives (Flags has
// WSK_FLAG_ABORTIVE for an abortive disconnect). Socket is the socket the
// context belongs to (not a DDI parameter: for the Go harness).
type DisconnectEvent struct {
	SocketContext any
	Flags         uint32
	Socket        *Socket
}

// SendBacklogEvent is what WskSendBacklogEvent receives.
type SendBacklogEvent struct {
	SocketContext    any
	IdealBacklogSize uint64
	Socket           *Socket
}

// ReceiveFromEvent is what WskReceiveFromEvent receives.
type ReceiveFromEvent struct {
	SocketContext  any
	Flags          uint32
	DataIndication *Indication // nil: the socket is no longer functional
	Socket         *Socket
}

// evState is a socket's event callback state.
type evState struct {
	mask        uint32 // enabled events
	static      uint32 // enabled by WSK_SET_STATIC_EVENT_CALLBACKS (cannot change)
	inherit     uint32 // listening socket: events enabled for accepted sockets
	kicked      bool
	notAccepted bool   // an indication was refused (in part): WskReceive(From) drains first
	held        uint64 // bytes (connection) or datagrams (datagram) refused and not yet received
	discDone    bool   // the disconnect was indicated
	backlogDue  bool   // WskSendBacklogEvent owes its first call
	inCB        int    // callbacks of this socket in progress
	retained    []*Indication
	disable     []*op // WskControlSocket(disable) IRPs waiting for callbacks to return
}

// evProvider is the provider's event state.
type evProvider struct {
	static   map[*Client]uint32
	created  map[*Client]bool // the client created a socket (static callbacks are too late)
	tdi      map[*Client]uint32
	sds      map[*Client]map[uint64]bool
	sdNext   uint64
	depth    int // callbacks in progress (any socket)
	idle     int // tasks run while a callback is in progress (the harness waited)
	indNames int
}

func (p *Provider) events() *evProvider {
	if p.evs == nil {
		p.evs = &evProvider{static: map[*Client]uint32{}, created: map[*Client]bool{}, tdi: map[*Client]uint32{}, sds: map[*Client]map[uint64]bool{}}
	}
	return p.evs
}

// Choice points of event delivery.
const (
	ChoiceEventIRQL          = "wsk.event.irql"
	ChoiceEventReceiveTarget = "wsk.event.receive-target"
	ChoiceEventAcceptTarget  = "wsk.event.accept-target"
	ChoiceEventSplit         = "wsk.event.split"
)

// evMaskFor is the events a socket category may enable (wsk.h: "Datagram
// sockets", "Listen sockets", "Connection and Listen sockets"; on a
// listening socket the connection events apply to the sockets it accepts).
func evMaskFor(c Category) uint32 {
	switch c {
	case CategoryListen:
		return nt.WSK_EVENT_ACCEPT | nt.WSK_EVENT_RECEIVE | nt.WSK_EVENT_DISCONNECT | nt.WSK_EVENT_SEND_BACKLOG
	case CategoryConnection:
		return nt.WSK_EVENT_RECEIVE | nt.WSK_EVENT_DISCONNECT | nt.WSK_EVENT_SEND_BACKLOG
	case CategoryDatagram:
		return nt.WSK_EVENT_RECEIVE_FROM
	}
	return 0
}

const evAll = nt.WSK_EVENT_ACCEPT | nt.WSK_EVENT_RECEIVE | nt.WSK_EVENT_DISCONNECT | nt.WSK_EVENT_SEND_BACKLOG | nt.WSK_EVENT_RECEIVE_FROM

// EventMaskString spells an event mask as its WSK_EVENT_* names joined by |.
func EventMaskString(m uint32) string {
	names := [...]struct {
		n string
		v uint32
	}{{"WSK_EVENT_ACCEPT", nt.WSK_EVENT_ACCEPT}, {"WSK_EVENT_RECEIVE", nt.WSK_EVENT_RECEIVE}, {"WSK_EVENT_DISCONNECT", nt.WSK_EVENT_DISCONNECT},
		{"WSK_EVENT_SEND_BACKLOG", nt.WSK_EVENT_SEND_BACKLOG}, {"WSK_EVENT_RECEIVE_FROM", nt.WSK_EVENT_RECEIVE_FROM}, {"WSK_EVENT_DISABLE", nt.WSK_EVENT_DISABLE}}
	s := ""
	for _, x := range names {
		if m&x.v != 0 {
			if s != "" {
				s += "|"
			}
			s += x.n
			m &^= x.v
		}
	}
	if m != 0 || s == "" {
		if s != "" {
			s += "|"
		}
		s += fmt.Sprintf("%#x", m)
	}
	return s
}

func eventMaskValue(m uint32) sim.Value { return sim.Str(EventMaskString(m)) }

// evHandler reports whether the dispatch table has the callback for event ev.
func evHandler(disp any, ev uint32) bool {
	d, _ := disp.(*Events)
	if d == nil {
		return false
	}
	switch ev {
	case nt.WSK_EVENT_ACCEPT:
		return d.WskAcceptEvent != nil
	case nt.WSK_EVENT_RECEIVE:
		return d.WskReceiveEvent != nil
	case nt.WSK_EVENT_DISCONNECT:
		return d.WskDisconnectEvent != nil
	case nt.WSK_EVENT_SEND_BACKLOG:
		return d.WskSendBacklogEvent != nil
	case nt.WSK_EVENT_RECEIVE_FROM:
		return d.WskReceiveFromEvent != nil
	}
	return false
}

func evName(ev uint32) string {
	switch ev {
	case nt.WSK_EVENT_ACCEPT:
		return "WskAcceptEvent"
	case nt.WSK_EVENT_RECEIVE:
		return "WskReceiveEvent"
	case nt.WSK_EVENT_DISCONNECT:
		return "WskDisconnectEvent"
	case nt.WSK_EVENT_SEND_BACKLOG:
		return "WskSendBacklogEvent"
	case nt.WSK_EVENT_RECEIVE_FROM:
		return "WskReceiveFromEvent"
	}
	return "?"
}

// evNewSocket applies the client's static event callbacks to a socket it
// creates (WskSocket, WskSocketConnect, an accepted socket). A socket given
// no client dispatch table gets none (it asked for no callbacks); one whose
// table lacks a statically enabled callback is WSK-EVENT-NO-HANDLER.
func (p *Provider) evNewSocket(s *Socket) {
	ev := p.events()
	ev.created[s.cl] = true
	m := ev.static[s.cl] & evMaskFor(s.cat)
	if s.cat == CategoryListen {
		m &= nt.WSK_EVENT_ACCEPT
	}
	if m == 0 || s.disp == nil {
		return
	}
	if s.ev == nil {
		s.ev = &evState{}
	}
	for _, e := range [...]uint32{nt.WSK_EVENT_ACCEPT, nt.WSK_EVENT_RECEIVE, nt.WSK_EVENT_DISCONNECT, nt.WSK_EVENT_SEND_BACKLOG, nt.WSK_EVENT_RECEIVE_FROM} {
		if m&e == 0 || s.ev.static&e != 0 {
			continue
		}
		if !evHandler(s.disp, e) {
			p.w.Violate(RuleEventNoHandler, fmt.Sprintf("%s is enabled on %s by WSK_SET_STATIC_EVENT_CALLBACKS, but its client dispatch table has no %s", EventMaskString(e), s.Name(), evName(e)), s.Name())
			continue
		}
		s.ev.static |= e
		s.ev.mask |= e
		if e == nt.WSK_EVENT_SEND_BACKLOG {
			s.ev.backlogDue = true
		}
	}
}

// evAccepted sets up the event state of a socket accepted through the
// listening socket ls: the client's static events and the connection events
// enabled on ls. It runs when the socket is made and again once a
// WskAcceptEvent has given its dispatch table.
func (p *Provider) evAccepted(ls, s *Socket) {
	p.evNewSocket(s)
	if ls.ev == nil || ls.ev.inherit == 0 || s.disp == nil {
		return
	}
	m := ls.ev.inherit
	for _, e := range [...]uint32{nt.WSK_EVENT_RECEIVE, nt.WSK_EVENT_DISCONNECT, nt.WSK_EVENT_SEND_BACKLOG} {
		if m&e != 0 && !evHandler(s.disp, e) {
			m &^= e
		}
	}
	if m == 0 {
		return
	}
	if s.ev == nil {
		s.ev = &evState{}
	}
	if m&nt.WSK_EVENT_SEND_BACKLOG != 0 && s.ev.mask&nt.WSK_EVENT_SEND_BACKLOG == 0 {
		s.ev.backlogDue = true
	}
	s.ev.mask |= m
	p.evKick(s)
}

// evDestroy runs when a socket is closed: retained indications not released
// are a violation; no callback comes after this.
func (p *Provider) evDestroy(s *Socket) {
	if s.ev == nil {
		return
	}
	for _, d := range s.ev.retained {
		if !d.released {
			p.w.Violate(RuleRetainedAtClose, fmt.Sprintf("%s is closed while %s, retained from its %s, was never released with WskRelease", s.Name(), d.Name(), indFn(s)), s.Name(), d.Name())
			d.released = true
		}
	}
	s.ev.retained = nil
	for _, o := range s.ev.disable {
		if !o.done {
			p.completeOp(o, nt.STATUS_SUCCESS, 0)
		}
	}
	s.ev.disable = nil
	s.ev.mask = 0
}

func indFn(s *Socket) string {
	if s.cat == CategoryDatagram {
		return "WskReceiveFromEvent"
	}
	return "WskReceiveEvent"
}

// ---- SO_WSK_EVENT_CALLBACK ----

// setEventCallback is WskControlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK).
// evOption reports whether a WskControlSocket request is
// WskSetOption(SOL_SOCKET, SO_WSK_EVENT_CALLBACK).
func evOption(rt nt.ControlSocketType, code, level uint32) bool {
	return rt == nt.WskSetOption && code == nt.SO_WSK_EVENT_CALLBACK && level == nt.SOL_SOCKET
}

func (p *Provider) setEventCallback(s *Socket, i *irp.IRP, inSize uint64, in *irp.Block) nt.Status {
	if in == nil || inSize < EventCallbackControlSize {
		p.w.Violate(RuleEventMask, fmt.Sprintf("SO_WSK_EVENT_CALLBACK on %s with InputSize %d; it is sizeof(WSK_EVENT_CALLBACK_CONTROL), %d", s.Name(), inSize, EventCallbackControlSize), s.Name())
		return nt.STATUS_INVALID_PARAMETER
	}
	if i != nil {
		if !p.m.Lend(i, in, 0, inSize) {
			return nt.STATUS_INVALID_PARAMETER
		}
	} else if in.Freed() || inSize > in.Size() {
		p.w.Violate(irp.RuleBufOverrun, fmt.Sprintf("WskControlSocket given %d bytes of %s, which holds %d", inSize, in.Name(), in.Size()), in.Name(), s.Name())
		return nt.STATUS_INVALID_PARAMETER
	}
	b := in.Bytes()
	npi := binary.LittleEndian.Uint64(b)
	mask := binary.LittleEndian.Uint32(b[8:])
	disable := mask&nt.WSK_EVENT_DISABLE != 0
	ev := mask &^ nt.WSK_EVENT_DISABLE
	if npi == 0 {
		p.w.Violate(RuleEventMask, "SO_WSK_EVENT_CALLBACK on "+s.Name()+" with a NULL NpiId (it points at NPI_WSK_INTERFACE_ID)", s.Name())
		return nt.STATUS_INVALID_PARAMETER
	}
	if i != nil && !disable {
		p.w.Violate(RuleEventEnableIRP, "SO_WSK_EVENT_CALLBACK enabling "+EventMaskString(ev)+" on "+s.Name()+" given "+i.Name()+"; an application does not give an IRP to enable event callbacks", s.Name(), i.Name())
	}
	valid := evMaskFor(s.cat)
	switch {
	case valid == 0:
		return p.unknownStatus() // a basic socket without an extension interface
	case ev == 0 || ev&^evAll != 0 || ev&^valid != 0:
		p.w.Violate(RuleEventMask, fmt.Sprintf("SO_WSK_EVENT_CALLBACK on %s, a %s socket, with EventMask %s (valid: %s)", s.Name(), s.cat, EventMaskString(mask), EventMaskString(valid)), s.Name())
		return nt.STATUS_INVALID_PARAMETER
	case disable && ev&(ev-1) != 0:
		p.w.Violate(RuleEventMask, fmt.Sprintf("SO_WSK_EVENT_CALLBACK disabling %s on %s at once; each event callback must be disabled individually", EventMaskString(ev), s.Name()), s.Name())
		return nt.STATUS_INVALID_PARAMETER
	case (s.cat == CategoryListen || s.cat == CategoryDatagram) && s.flags&sfBound == 0:
		p.w.Violate(RuleEventState, "SO_WSK_EVENT_CALLBACK on "+s.Name()+", a "+s.cat.String()+" socket not yet bound; it must be bound first", s.Name())
		return nt.STATUS_INVALID_DEVICE_STATE
	case s.cat == CategoryConnection && s.end == nil:
		p.w.Violate(RuleEventState, "SO_WSK_EVENT_CALLBACK on "+s.Name()+", a connection-oriented socket not yet connected; it must be connected first", s.Name())
		return nt.STATUS_INVALID_DEVICE_STATE
	}
	if s.ev == nil {
		s.ev = &evState{}
	}
	e := s.ev
	if ev&e.static != 0 {
		p.w.Violate(RuleStaticChange, fmt.Sprintf("SO_WSK_EVENT_CALLBACK on %s changes %s, which WSK_SET_STATIC_EVENT_CALLBACKS enabled; static event callbacks cannot be disabled or re-enabled", s.Name(), EventMaskString(ev&e.static)), s.Name())
		return nt.STATUS_INVALID_DEVICE_STATE
	}
	if disable {
		if s.cat == CategoryListen && ev != nt.WSK_EVENT_ACCEPT {
			e.inherit &^= ev
		} else {
			e.mask &^= ev
		}
		if e.inCB > 0 {
			if i == nil {
				return nt.STATUS_EVENT_PENDING
			}
			return nt.STATUS_PENDING // the caller hangs the IRP on e.disable
		}
		return nt.STATUS_SUCCESS
	}
	own := ev
	if s.cat == CategoryListen {
		own = ev & nt.WSK_EVENT_ACCEPT
		e.inherit |= ev &^ nt.WSK_EVENT_ACCEPT
	}
	for _, x := range [...]uint32{nt.WSK_EVENT_ACCEPT, nt.WSK_EVENT_RECEIVE, nt.WSK_EVENT_DISCONNECT, nt.WSK_EVENT_SEND_BACKLOG, nt.WSK_EVENT_RECEIVE_FROM} {
		if own&x != 0 && !evHandler(s.disp, x) {
			p.w.Violate(RuleEventNoHandler, fmt.Sprintf("SO_WSK_EVENT_CALLBACK enables %s on %s, but its client dispatch table has no %s", EventMaskString(x), s.Name(), evName(x)), s.Name())
			return nt.STATUS_INVALID_PARAMETER
		}
	}
	if own&nt.WSK_EVENT_SEND_BACKLOG != 0 && e.mask&nt.WSK_EVENT_SEND_BACKLOG == 0 {
		e.backlogDue = true
	}
	e.mask |= own
	p.evKick(s)
	return nt.STATUS_SUCCESS
}

// ---- WskControlClient ----

// WskTransport is one WSK_TRANSPORT of WSK_TRANSPORT_LIST_QUERY.
type WskTransport struct {
	Version       uint16
	SocketType    uint16
	Protocol      uint32
	AddressFamily uint16
}

// wskTransportSize is sizeof(WSK_TRANSPORT) on x64: USHORT Version, USHORT
// SocketType, ULONG Protocol, ADDRESS_FAMILY (USHORT), 2 bytes padding, GUID
// ProviderId.
const wskTransportSize = 28

// transports are the transports the model offers.
var transports = [...]WskTransport{
	{0x0100, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.AF_INET},
	{0x0100, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.AF_INET6},
	{0x0100, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.AF_INET},
	{0x0100, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.AF_INET6},
}

// ParseTransports decodes a WSK_TRANSPORT_LIST_QUERY output buffer.
func ParseTransports(b []byte) []WskTransport {
	var out []WskTransport
	for len(b) >= wskTransportSize {
		out = append(out, WskTransport{Version: binary.LittleEndian.Uint16(b), SocketType: binary.LittleEndian.Uint16(b[2:]),
			Protocol: binary.LittleEndian.Uint32(b[4:]), AddressFamily: binary.LittleEndian.Uint16(b[8:])})
		b = b[wskTransportSize:]
	}
	return out
}

func controlClientCode(c uint32) sim.Value {
	n := ctlClientName(c)
	if n == fmt.Sprint(c) {
		return sim.Int(uint64(c))
	}
	return sim.Str(n)
}

// eventControlValue is a WSK_EVENT_CALLBACK_CONTROL input buffer as the
// trace writes it: {"NpiId":"NPI_WSK_INTERFACE_ID","EventMask":"…"}.
func eventControlValue(b *irp.Block, size uint64) sim.Value {
	if b == nil {
		return sim.Null()
	}
	if b.Freed() || size < EventCallbackControlSize || size > b.Size() {
		return blockValue(b, size, true)
	}
	bs := b.Bytes()
	npi := sim.Str("NPI_WSK_INTERFACE_ID")
	if binary.LittleEndian.Uint64(bs) == 0 {
		npi = sim.Null()
	}
	return sim.Object(sim.F("NpiId", npi), sim.F("EventMask", eventMaskValue(binary.LittleEndian.Uint32(bs[8:]))))
}

// WskControlClient models WskControlClient (IRQL <= DISPATCH_LEVEL;
// PASSIVE_LEVEL for WSK_TRANSPORT_LIST_QUERY). The buffers are pool
// blocks. Supported: WSK_SET_STATIC_EVENT_CALLBACKS (before the client
// creates any socket; Irp NULL), WSK_TRANSPORT_LIST_QUERY (an array of
// WSK_TRANSPORT; *outputSizeReturned is its size, STATUS_BUFFER_OVERFLOW
// when it does not fit, the status wireguard-nt's WskInit retries on), WSK_TDI_BEHAVIOR (a ULONG of
// WSK_TDI_BEHAVIOR_* flags), WSK_CACHE_SD (InputBuffer holds a
// PSECURITY_DESCRIPTOR; OutputBuffer receives the cached descriptor's
// pointer, 8 bytes) and WSK_RELEASE_SD (InputBuffer holds a cached
// descriptor's pointer). Every one takes Irp == NULL.
func (p *Provider) WskControlClient(client *Client, controlCode uint32, inputSize uint64, inputBuffer *irp.Block,
	outputSize uint64, outputBuffer *irp.Block, outputSizeReturned *uint64, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskControlClient")
	if p.w.Tracing() {
		in := blockValue(inputBuffer, inputSize, true)
		if controlCode == WSK_SET_STATIC_EVENT_CALLBACKS {
			in = eventControlValue(inputBuffer, inputSize)
		}
		p.w.TraceCall(f, sim.F("Client", sim.Obj(clientName(client))), sim.F("ControlCode", controlClientCode(controlCode)),
			sim.F("InputSize", sim.Int(inputSize)), sim.F("InputBuffer", in), sim.F("OutputSize", sim.Int(outputSize)),
			sim.F("OutputBuffer", blockValue(outputBuffer, outputSize, false)), sim.F("OutputSizeReturned", ptrArg(outputSizeReturned != nil)),
			sim.F("Irp", sim.Obj(irpName(i))))
	}
	if controlCode == WSK_TRANSPORT_LIST_QUERY {
		p.w.CheckIRQL(nt.PASSIVE_LEVEL)
	} else {
		p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	}
	p.fromCompletion()
	ret := func(st nt.Status, out ...sim.Field) nt.Status {
		p.w.Return(f, st, out...)
		return st
	}
	if !p.clientUsable(client, "WskControlClient") {
		return ret(nt.STATUS_INVALID_HANDLE)
	}
	if i != nil {
		p.w.Violate(RuleIRPMustBeNull, "WskControlClient("+ctlClientName(controlCode)+") given "+i.Name()+"; Irp must be NULL for this control code", client.Name(), i.Name())
		return ret(nt.STATUS_INVALID_PARAMETER)
	}
	ev := p.events()
	readPtr := func() (uint64, bool) {
		if inputBuffer == nil || inputSize < 8 || inputBuffer.Freed() || inputSize > inputBuffer.Size() {
			return 0, false
		}
		return binary.LittleEndian.Uint64(inputBuffer.Bytes()), true
	}
	switch controlCode {
	case WSK_SET_STATIC_EVENT_CALLBACKS:
		if inputBuffer == nil || inputSize < EventCallbackControlSize || inputBuffer.Freed() || inputSize > inputBuffer.Size() {
			p.w.Violate(RuleEventMask, fmt.Sprintf("WSK_SET_STATIC_EVENT_CALLBACKS with InputSize %d; it is sizeof(WSK_EVENT_CALLBACK_CONTROL), %d", inputSize, EventCallbackControlSize), client.Name())
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		b := inputBuffer.Bytes()
		mask := binary.LittleEndian.Uint32(b[8:])
		switch {
		case binary.LittleEndian.Uint64(b) == 0:
			p.w.Violate(RuleEventMask, "WSK_SET_STATIC_EVENT_CALLBACKS with a NULL NpiId", client.Name())
			return ret(nt.STATUS_INVALID_PARAMETER)
		case mask == 0 || mask&^evAll != 0:
			p.w.Violate(RuleEventMask, "WSK_SET_STATIC_EVENT_CALLBACKS with EventMask "+EventMaskString(mask), client.Name())
			return ret(nt.STATUS_INVALID_PARAMETER)
		case ev.created[client]:
			p.w.Violate(RuleStaticLate, "WSK_SET_STATIC_EVENT_CALLBACKS on "+client.Name()+" after it created a socket; it must come before any socket is created", client.Name())
			return ret(nt.STATUS_INVALID_DEVICE_STATE)
		}
		ev.static[client] |= mask
		return ret(nt.STATUS_SUCCESS)
	case WSK_TRANSPORT_LIST_QUERY:
		need := uint64(len(transports) * wskTransportSize)
		if outputSizeReturned != nil {
			*outputSizeReturned = need
		}
		if outputBuffer == nil || outputSize < need {
			return ret(nt.STATUS_BUFFER_OVERFLOW, sim.F("OutputSizeReturned", sim.Int(need)))
		}
		if outputBuffer.Freed() || outputSize > outputBuffer.Size() {
			p.w.Violate(irp.RuleBufOverrun, fmt.Sprintf("WskControlClient given %d bytes of %s, which holds %d", outputSize, outputBuffer.Name(), outputBuffer.Size()), outputBuffer.Name())
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		out := make([]byte, need)
		for k, t := range transports {
			b := out[k*wskTransportSize:]
			binary.LittleEndian.PutUint16(b, t.Version)
			binary.LittleEndian.PutUint16(b[2:], t.SocketType)
			binary.LittleEndian.PutUint32(b[4:], t.Protocol)
			binary.LittleEndian.PutUint16(b[8:], t.AddressFamily)
		}
		copy(outputBuffer.Bytes(), out)
		return ret(nt.STATUS_SUCCESS, sim.F("OutputSizeReturned", sim.Int(need)), sim.F("OutputBuffer", sim.Hex(out, "")))
	case WSK_TDI_BEHAVIOR:
		if inputBuffer == nil || inputSize < 4 || inputBuffer.Freed() || inputSize > inputBuffer.Size() {
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		v := binary.LittleEndian.Uint32(inputBuffer.Bytes())
		if v&^WSK_TDI_BEHAVIOR_BYPASS_TDI != 0 {
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		ev.tdi[client] = v
		return ret(nt.STATUS_SUCCESS)
	case WSK_CACHE_SD:
		sd, ok := readPtr()
		if !ok || sd == 0 || outputBuffer == nil || outputSize < 8 || outputBuffer.Freed() || outputSize > outputBuffer.Size() {
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		ev.sdNext++
		h := 0xFFFFC00000000000 | ev.sdNext<<4
		if ev.sds[client] == nil {
			ev.sds[client] = map[uint64]bool{}
		}
		ev.sds[client][h] = true
		var v [8]byte
		binary.LittleEndian.PutUint64(v[:], h)
		copy(outputBuffer.Bytes(), v[:])
		if outputSizeReturned != nil {
			*outputSizeReturned = 8
		}
		return ret(nt.STATUS_SUCCESS, sim.F("OutputBuffer", sim.Hex(v[:], "")))
	case WSK_RELEASE_SD:
		sd, ok := readPtr()
		if !ok {
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		if !ev.sds[client][sd] {
			p.w.Violate(RuleReleaseSD, fmt.Sprintf("WSK_RELEASE_SD on %s with %#x, which is not a security descriptor WSK_CACHE_SD cached for it (never cached, or already released)", client.Name(), sd), client.Name())
			return ret(nt.STATUS_INVALID_PARAMETER)
		}
		delete(ev.sds[client], sd)
		return ret(nt.STATUS_SUCCESS)
	}
	return ret(p.unknownStatus())
}

// CachedSDs returns how many security descriptors client has cached with
// WSK_CACHE_SD and not released.
func (p *Provider) CachedSDs(client *Client) int { return len(p.events().sds[client]) }

// ---- WskRelease ----

// WskRelease models WskRelease (IRQL <= DISPATCH_LEVEL) on a connection or
// datagram socket: it gives back an indication the driver retained by
// returning STATUS_PENDING from WskReceiveEvent or WskReceiveFromEvent.
// Releasing one never retained, or twice, is WSK-RELEASE-INDICATION
// (STATUS_INVALID_PARAMETER).
func (p *Provider) WskRelease(s *Socket, dataIndication *Indication) nt.Status {
	f := p.w.Begin("WskRelease")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("DataIndication", sim.Obj(nameOf(dataIndication))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dRelease, "WskRelease")
	if g == gateRefuse {
		p.w.Return(f, st)
		return st
	}
	if s.busy > 0 {
		s.busy--
	}
	if g == gateComplete && s.flags&sfDead == 0 {
		p.w.Return(f, st)
		return st
	}
	st = nt.STATUS_SUCCESS
	switch d := dataIndication; {
	case d == nil:
		p.w.Violate(RuleNullArgument, "WskRelease with a NULL DataIndication", s.Name())
		st = nt.STATUS_INVALID_PARAMETER
	case d.s != s:
		p.w.Violate(RuleReleaseIndication, fmt.Sprintf("WskRelease of %s on %s; it was indicated on %s", d.Name(), s.Name(), d.s.Name()), s.Name(), d.Name())
		st = nt.STATUS_INVALID_PARAMETER
	case !d.retained:
		p.w.Violate(RuleReleaseIndication, fmt.Sprintf("WskRelease of %s, which the driver did not retain (its callback did not return STATUS_PENDING); the provider owns it", d.Name()), s.Name(), d.Name())
		st = nt.STATUS_INVALID_PARAMETER
	case d.released:
		p.w.Violate(RuleReleaseIndication, fmt.Sprintf("WskRelease of %s, which was already released", d.Name()), s.Name(), d.Name())
		st = nt.STATUS_INVALID_PARAMETER
	default:
		d.released = true
		if s.ev != nil {
			for k, x := range s.ev.retained {
				if x == d {
					s.ev.retained = append(s.ev.retained[:k], s.ev.retained[k+1:]...)
					break
				}
			}
		}
	}
	p.w.Return(f, st)
	return st
}

func nameOf(d *Indication) string {
	if d == nil {
		return ""
	}
	return d.Name()
}

// Retained returns the indications the driver retained on s and has not
// released yet.
func (s *Socket) Retained() []*Indication {
	if s == nil || s.ev == nil {
		return nil
	}
	return append([]*Indication(nil), s.ev.retained...)
}

// EventMask returns the event callbacks enabled on s (WSK_EVENT_*).
func (s *Socket) EventMask() uint32 {
	if s == nil || s.ev == nil {
		return 0
	}
	return s.ev.mask
}

// ---- delivery ----

type evTask Socket

func (t *evTask) Run() {
	s := (*Socket)(t)
	p := s.p
	p.evWaitCheck()
	if s.ev == nil {
		return
	}
	s.ev.kicked = false
	p.evServe(s)
}

// evWaitCheck reports WSK-EVENT-WAIT when the world runs queued work while a
// callback is in progress: the harness waited inside the callback.
func (p *Provider) evWaitCheck() {
	if p.evs != nil && p.evs.depth > 0 {
		p.evs.idle++
		if p.evs.idle == 1 {
			p.w.Violate(RuleEventWait, "the driver waited inside an event callback (the world ran queued work before the callback returned)")
		}
	}
}

// evKick schedules event delivery on s.
func (p *Provider) evKick(s *Socket) {
	e := s.ev
	if e == nil || e.kicked || s.flags&sfClosed != 0 || e.mask == 0 {
		return
	}
	e.kicked = true
	p.w.Schedule(0, (*evTask)(s))
}

func (p *Provider) waiting(s *Socket, kind opKind) bool {
	for _, o := range s.ops {
		if o.kind == kind {
			return true
		}
	}
	return false
}

// cbEnter sets the IRQL a callback runs at (a choice point) and returns the
// Flags bit and the IRQL to restore.
func (p *Provider) cbEnter(s *Socket) (uint32, nt.IRQL) {
	p.events().depth++
	s.ev.inCB++
	var fl uint32
	lvl := nt.PASSIVE_LEVEL
	if p.w.Choose(ChoiceEventIRQL, 2) == 1 {
		lvl = nt.DISPATCH_LEVEL
		fl = WSK_FLAG_AT_DISPATCH_LEVEL
	}
	return fl, p.w.SetIRQL(lvl)
}

func (p *Provider) cbLeave(s *Socket, old nt.IRQL) {
	p.w.SetIRQL(old)
	ev := p.events()
	ev.depth--
	if ev.depth == 0 {
		ev.idle = 0
	}
	if s.ev == nil {
		return
	}
	s.ev.inCB--
	if s.ev.inCB == 0 {
		for _, o := range s.ev.disable {
			if !o.done {
				p.completeOp(o, nt.STATUS_SUCCESS, 0)
			}
		}
		s.ev.disable = nil
	}
}

func (p *Provider) cbReturnCheck(fn string, s *Socket, st nt.Status, ok ...nt.Status) bool {
	for _, x := range ok {
		if st == x {
			return true
		}
	}
	names := ""
	for k, x := range ok {
		if k > 0 {
			names += ", "
		}
		names += x.String()
	}
	p.w.Violate(RuleEventReturn, fmt.Sprintf("%s on %s returned %s; it may return %s", fn, s.Name(), st, names), s.Name())
	return false
}

// live reports whether s may still get callbacks.
func live(s *Socket) bool { return s.flags&(sfClosed|sfDead) == 0 && s.ev != nil }

// evServe delivers what is due on s through its enabled callbacks.
func (p *Provider) evServe(s *Socket) {
	for live(s) {
		e := s.ev
		if e.backlogDue && e.mask&nt.WSK_EVENT_SEND_BACKLOG != 0 {
			e.backlogDue = false
			p.sendBacklogEvent(s)
			continue
		}
		switch s.cat {
		case CategoryListen:
			if !p.acceptEvents(s) {
				return
			}
		case CategoryConnection:
			if !p.receiveEvents(s) {
				return
			}
		case CategoryDatagram:
			if !p.receiveFromEvents(s) {
				return
			}
		default:
			return
		}
	}
}

// IdealSendBacklog is the IdealBacklogSize the model reports to
// WskSendBacklogEvent (and SIO_WSK_QUERY_IDEAL_SEND_BACKLOG would): 64 KiB.
const IdealSendBacklog = 64 << 10

func (p *Provider) sendBacklogEvent(s *Socket) {
	d := s.disp.(*Events)
	f := p.w.Begin("WskSendBacklogEvent")
	fl, old := p.cbEnter(s)
	_ = fl
	if p.w.Tracing() {
		p.w.TraceCallback(f, sim.F("SocketContext", sim.Str(s.Name())), sim.F("IdealBacklogSize", sim.Int(IdealSendBacklog)))
	}
	st := d.WskSendBacklogEvent(&SendBacklogEvent{SocketContext: s.ctx, IdealBacklogSize: IdealSendBacklog, Socket: s})
	p.cbReturnCheck("WskSendBacklogEvent", s, st, nt.STATUS_SUCCESS)
	p.cbLeave(s, old)
	p.w.TraceCallbackReturn(f, st)
}

// acceptEvents hands one waiting connection of listening socket s to its
// WskAcceptEvent; false when there is nothing (more) to do.
func (p *Provider) acceptEvents(s *Socket) bool {
	e := s.ev
	if e.mask&nt.WSK_EVENT_ACCEPT == 0 || s.lst == nil || len(s.lst.backlog) == 0 {
		return false
	}
	if p.waiting(s, opAccept) && p.w.Choose(ChoiceEventAcceptTarget, 2) == 0 {
		return false // the pending WskAccept takes it (serve)
	}
	conn := s.lst.backlog[0]
	s.lst.backlog = s.lst.backlog[1:]
	ns := p.acceptSocket(s, conn, nil, nil)
	ev := &AcceptEvent{SocketContext: s.ctx, LocalAddress: conn.local, RemoteAddress: conn.remote, AcceptSocket: ns, ListenSocket: s}
	d := s.disp.(*Events)
	f := p.w.Begin("WskAcceptEvent")
	fl, old := p.cbEnter(s)
	ev.Flags = fl
	if p.w.Tracing() {
		p.w.TraceCallback(f, sim.F("SocketContext", sim.Str(s.Name())), sim.F("Flags", sim.Int(uint64(fl))),
			sim.F("LocalAddress", addrValue(conn.local)), sim.F("RemoteAddress", addrValue(conn.remote)),
			sim.F("AcceptSocket", sim.Bind(ns.Name())), sim.F("AcceptSocketContext", sim.Bool(true)), sim.F("AcceptSocketDispatch", sim.Bool(true)))
	}
	st := d.WskAcceptEvent(ev)
	okRet := p.cbReturnCheck("WskAcceptEvent", s, st, nt.STATUS_SUCCESS, nt.STATUS_REQUEST_NOT_ACCEPTED)
	p.cbLeave(s, old)
	if okRet && st == nt.STATUS_SUCCESS {
		ns.ctx, ns.disp = ev.AcceptSocketContext, ev.AcceptSocketDispatch
		p.evAccepted(s, ns)
		p.w.TraceCallbackReturn(f, st, sim.F("AcceptSocketContext", anyValue(ns.ctx)), sim.F("AcceptSocketDispatch", anyValue(ns.disp)))
		if ns.ev != nil && (len(conn.rx) > 0 || conn.rxFin || conn.rst) {
			p.evKick(ns)
		}
		return true
	}
	// Refused: the stack resets the connection and frees the socket, which
	// never was the driver's.
	p.w.TraceCallbackReturn(f, st)
	if ns.flags&sfClosed == 0 {
		p.destroy(ns)
	}
	return true
}

// receiveEvents indicates what arrived on connection socket s; false when
// there is nothing (more) to indicate.
func (p *Provider) receiveEvents(s *Socket) bool {
	e, c := s.ev, s.end
	if c == nil {
		return false
	}
	if e.notAccepted {
		return false // refused data waits for WskReceive
	}
	if len(c.rx) > 0 && e.mask&nt.WSK_EVENT_RECEIVE != 0 {
		if p.waiting(s, opReceive) && p.w.Choose(ChoiceEventReceiveTarget, 2) == 0 {
			return false // the pending WskReceive gets the data (serve)
		}
		return p.receiveEvent(s, false)
	}
	if len(c.rx) > 0 || e.discDone || p.waiting(s, opReceive) {
		return false
	}
	switch {
	case c.rst:
		e.discDone = true
		if e.mask&nt.WSK_EVENT_DISCONNECT != 0 {
			p.disconnectEvent(s, WSK_FLAG_ABORTIVE)
		} else if e.mask&nt.WSK_EVENT_RECEIVE != 0 {
			p.receiveEvent(s, true)
		}
		return true
	case c.rxFin:
		e.discDone = true
		if e.mask&nt.WSK_EVENT_DISCONNECT != 0 {
			p.disconnectEvent(s, 0)
		} else if e.mask&nt.WSK_EVENT_RECEIVE != 0 {
			p.receiveEvent(s, true)
		}
		return true
	}
	return false
}

func (p *Provider) newIndication(s *Socket) *Indication {
	return &Indication{num: int32(p.w.NextName("di")), s: s}
}

func (p *Provider) receiveEvent(s *Socket, null bool) bool {
	c := s.end
	var di *Indication
	var n uint64
	if !null {
		n = uint64(len(c.rx))
		di = p.newIndication(s)
		data := append([]byte(nil), c.rx...)
		if n > 1 && p.w.Choose(ChoiceEventSplit, 2) == 1 {
			h := n / 2
			di.Buffers = [][]byte{data[:h], data[h:]}
		} else {
			di.Buffers = [][]byte{data}
		}
	}
	ev := &ReceiveEvent{SocketContext: s.ctx, DataIndication: di, BytesIndicated: n, Socket: s}
	d := s.disp.(*Events)
	f := p.w.Begin("WskReceiveEvent")
	fl, old := p.cbEnter(s)
	ev.Flags = fl
	if p.w.Tracing() {
		dv := sim.Null()
		if di != nil {
			bufs := make([]sim.Value, len(di.Buffers))
			for k, b := range di.Buffers {
				bufs[k] = sim.Hex(b, "")
			}
			dv = sim.Object(sim.F("bind", sim.Str(di.Name())), sim.F("buffers", sim.List(bufs...)))
		}
		p.w.TraceCallback(f, sim.F("SocketContext", sim.Str(s.Name())), sim.F("Flags", sim.Int(uint64(fl))),
			sim.F("DataIndication", dv), sim.F("BytesIndicated", sim.Int(n)), sim.F("BytesAccepted", sim.Bool(true)))
	}
	st := d.WskReceiveEvent(ev)
	p.cbLeave(s, old)
	ok := p.cbReturnCheck("WskReceiveEvent", s, st, nt.STATUS_SUCCESS, nt.STATUS_DATA_NOT_ACCEPTED, nt.STATUS_PENDING)
	var taken uint64
	switch {
	case !ok || di == nil:
		// A NULL indication carries nothing to take or retain.
	case st == nt.STATUS_SUCCESS:
		taken = ev.BytesAccepted
		if taken > n {
			p.w.Violate(RuleEventReturn, fmt.Sprintf("WskReceiveEvent on %s accepted %d bytes of the %d indicated", s.Name(), taken, n), s.Name())
			taken = n
		}
	case st == nt.STATUS_PENDING:
		taken = n
		di.retained = true
		if s.ev != nil {
			s.ev.retained = append(s.ev.retained, di)
		}
	}
	if p.w.Tracing() {
		if st == nt.STATUS_SUCCESS {
			p.w.TraceCallbackReturn(f, st, sim.F("BytesAccepted", sim.Int(ev.BytesAccepted)))
		} else {
			p.w.TraceCallbackReturn(f, st)
		}
	} else {
		p.w.TraceCallbackReturn(f, st)
	}
	if di != nil && !c.released && taken <= uint64(len(c.rx)) {
		c.rx = c.rx[:copy(c.rx, c.rx[taken:])]
		if taken < n && s.ev != nil {
			s.ev.notAccepted, s.ev.held = true, n-taken
		}
	}
	return di != nil
}

func (p *Provider) disconnectEvent(s *Socket, flags uint32) {
	d := s.disp.(*Events)
	f := p.w.Begin("WskDisconnectEvent")
	fl, old := p.cbEnter(s)
	flags |= fl
	if p.w.Tracing() {
		p.w.TraceCallback(f, sim.F("SocketContext", sim.Str(s.Name())), sim.F("Flags", sim.Int(uint64(flags))))
	}
	st := d.WskDisconnectEvent(&DisconnectEvent{SocketContext: s.ctx, Flags: flags, Socket: s})
	p.cbLeave(s, old)
	p.cbReturnCheck("WskDisconnectEvent", s, st, nt.STATUS_SUCCESS)
	p.w.TraceCallbackReturn(f, st)
}

// receiveFromEvents indicates the datagrams queued on s.
func (p *Provider) receiveFromEvents(s *Socket) bool {
	e, q := s.ev, s.dg
	if q == nil || e.mask&nt.WSK_EVENT_RECEIVE_FROM == 0 {
		return false
	}
	if e.notAccepted {
		return false // refused datagrams wait for WskReceiveFrom
	}
	if len(q.rx) == 0 {
		return false
	}
	if p.waiting(s, opReceiveFrom) && p.w.Choose(ChoiceEventReceiveTarget, 2) == 0 {
		return false
	}
	k := len(q.rx)
	if k > 1 && p.w.Choose(ChoiceEventSplit, 2) == 1 {
		k = 1 // one datagram per indication
	}
	di := p.newIndication(s)
	for _, dg := range q.rx[:k] {
		from := dg.from
		if s.family == nt.AF_INET6 && from.Addr().Is4() {
			from = netip.AddrPortFrom(netip.AddrFrom16(from.Addr().As16()), from.Port())
		}
		di.Datagrams = append(di.Datagrams, DatagramIndication{RemoteAddress: from, ControlInfo: append([]byte(nil), dg.control...), Buffer: append([]byte(nil), dg.data...)})
	}
	ev := &ReceiveFromEvent{SocketContext: s.ctx, DataIndication: di, Socket: s}
	d := s.disp.(*Events)
	f := p.w.Begin("WskReceiveFromEvent")
	fl, old := p.cbEnter(s)
	ev.Flags = fl
	if p.w.Tracing() {
		dgs := make([]sim.Value, len(di.Datagrams))
		for j, g := range di.Datagrams {
			ci := sim.Null()
			if len(g.ControlInfo) > 0 {
				ci = sim.Hex(g.ControlInfo, "")
			}
			dgs[j] = sim.Object(sim.F("RemoteAddress", addrValue(g.RemoteAddress)), sim.F("ControlInfo", ci), sim.F("Buffer", sim.Hex(g.Buffer, "")))
		}
		p.w.TraceCallback(f, sim.F("SocketContext", sim.Str(s.Name())), sim.F("Flags", sim.Int(uint64(fl))),
			sim.F("DataIndication", sim.Object(sim.F("bind", sim.Str(di.Name())), sim.F("datagrams", sim.List(dgs...)))))
	}
	st := d.WskReceiveFromEvent(ev)
	p.cbLeave(s, old)
	ok := p.cbReturnCheck("WskReceiveFromEvent", s, st, nt.STATUS_SUCCESS, nt.STATUS_DATA_NOT_ACCEPTED, nt.STATUS_PENDING)
	p.w.TraceCallbackReturn(f, st)
	if s.dg == nil || s.flags&sfClosed != 0 {
		return false
	}
	switch {
	case ok && st == nt.STATUS_DATA_NOT_ACCEPTED:
		if s.ev != nil {
			s.ev.notAccepted, s.ev.held = true, uint64(k)
		}
		return false
	case ok && st == nt.STATUS_PENDING:
		di.retained = true
		if s.ev != nil {
			s.ev.retained = append(s.ev.retained, di)
		}
	}
	for j := 0; j < k && len(s.dg.rx) > 0; j++ {
		popDatagram(&s.dg.rx)
	}
	return true
}

func ctlClientName(c uint32) string {
	names := map[uint32]string{WSK_TRANSPORT_LIST_QUERY: "WSK_TRANSPORT_LIST_QUERY", WSK_TRANSPORT_LIST_CHANGE: "WSK_TRANSPORT_LIST_CHANGE",
		WSK_CACHE_SD: "WSK_CACHE_SD", WSK_RELEASE_SD: "WSK_RELEASE_SD", WSK_TDI_DEVICENAME_MAPPING: "WSK_TDI_DEVICENAME_MAPPING",
		WSK_SET_STATIC_EVENT_CALLBACKS: "WSK_SET_STATIC_EVENT_CALLBACKS", WSK_TDI_BEHAVIOR: "WSK_TDI_BEHAVIOR"}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprint(c)
}

// evConsumed runs when WskReceive or WskReceiveFrom takes n bytes (n
// datagrams) from s's queue: once the driver has taken what its callback
// refused, indications resume.
func (p *Provider) evConsumed(s *Socket, n uint64) {
	if s == nil || s.ev == nil || !s.ev.notAccepted {
		return
	}
	if n < s.ev.held {
		s.ev.held -= n
		return
	}
	s.ev.notAccepted, s.ev.held = false, 0
	p.evKick(s)
}
