package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Event-driven sockets: sockets created with the scenario's client dispatch
// table, whose callbacks answer as on-event declares and print what they
// get; SO_WSK_EVENT_CALLBACK, WSK_SET_STATIC_EVENT_CALLBACKS, WskRelease.

func init() {
	for _, c := range []*command{
		{name: "wsk-static-events", args: []string{"client", "mask"}, open: true, run: cmdStaticEvents, help: "WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS) with WSK_EVENT_CALLBACK_CONTROL{NPI_WSK_INTERFACE_ID, mask}, Irp NULL", ex: "wsk-static-events client=client mask=WSK_EVENT_ACCEPT"},
		{name: "wsk-event-socket", args: []string{"client", "family", "type", "protocol", "flags", "owner", "irp", "name"}, open: true, run: cmdEventSocket, help: "WskSocket with a SocketContext and the scenario's client dispatch table (every event callback; each answers as on-event says)", ex: "wsk-event-socket client=client flags=WSK_FLAG_LISTEN_SOCKET irp=op name=ls"},
		{name: "wsk-events", args: []string{"socket", "mask", "irp"}, open: true, run: cmdEvents, help: "WskControlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK) with WSK_EVENT_CALLBACK_CONTROL{NPI_WSK_INTERFACE_ID, mask}; irp= is optional (only disabling takes one); with one, the world runs until it completes", ex: "wsk-events socket=ls mask=WSK_EVENT_ACCEPT"},
		{name: "on-event", args: []string{"socket", "callback", "answer", "name"}, open: true, run: cmdOnEvent, help: "how the socket's callback answers from now on: WskAcceptEvent accept (name= binds the next accepted socket) or refuse; WskReceiveEvent all, a byte count, not-accepted or pending; WskReceiveFromEvent take, not-accepted or pending", ex: "on-event socket=ls callback=WskAcceptEvent answer=accept name=conn"},
		{name: "wsk-control-client", args: []string{"client", "code", "in", "in-len", "out", "out-len", "osr"}, open: true, run: cmdControlClient, help: "WskControlClient(Client, ControlCode, InputSize, InputBuffer, OutputSize, OutputBuffer, OutputSizeReturned, Irp=NULL) with pool blocks; osr=true passes OutputSizeReturned", ex: "wsk-control-client client=client code=WSK_TRANSPORT_LIST_QUERY out=list osr=true"},
		{name: "wsk-release-indication", args: []string{"socket", "indication"}, open: true, run: cmdWskReleaseInd, help: "WskRelease(Socket, DataIndication) of an indication a callback retained (its display name, di1...)", ex: "wsk-release-indication socket=conn indication=di1"},
	} {
		register(c)
	}
}

type scnEvents struct {
	answers map[*wsk.Socket]map[string]string
	names   map[*wsk.Socket]string // next accepted socket's name
}

func (in *Interp) events() *scnEvents {
	if in.ev == nil {
		in.ev = &scnEvents{answers: map[*wsk.Socket]map[string]string{}, names: map[*wsk.Socket]string{}}
	}
	return in.ev
}

func (in *Interp) answer(s *wsk.Socket, cb, def string) string {
	if m := in.events().answers[s]; m != nil && m[cb] != "" {
		return m[cb]
	}
	return def
}

func flagText(fl uint32) string {
	if fl&wsk.WSK_FLAG_ABORTIVE != 0 && fl&wsk.WSK_FLAG_AT_DISPATCH_LEVEL != 0 {
		return "WSK_FLAG_ABORTIVE|WSK_FLAG_AT_DISPATCH_LEVEL"
	}
	switch {
	case fl&wsk.WSK_FLAG_AT_DISPATCH_LEVEL != 0:
		return "WSK_FLAG_AT_DISPATCH_LEVEL"
	case fl&wsk.WSK_FLAG_ABORTIVE != 0:
		return "WSK_FLAG_ABORTIVE"
	}
	return "0"
}

// dispatch is the scenario's client dispatch table.
func (in *Interp) dispatch() *wsk.Events {
	return &wsk.Events{
		WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status {
			ls := e.ListenSocket
			st := nt.STATUS_SUCCESS
			if in.answer(ls, "WskAcceptEvent", "accept") == "refuse" || e.AcceptSocket == nil {
				st = nt.STATUS_REQUEST_NOT_ACCEPTED
			}
			as, taken := "NULL", ""
			if e.AcceptSocket != nil {
				as = e.AcceptSocket.Name()
				if st == nt.STATUS_SUCCESS {
					taken = ", socket=" + as
				}
			}
			in.printf("callback WskAcceptEvent(SocketContext=%s, Flags=%s, LocalAddress=%v, RemoteAddress=%v, AcceptSocket=%s) -> %s%s\n", ls.Name(), flagText(e.Flags), e.LocalAddress, e.RemoteAddress, as, st, taken)
			if st == nt.STATUS_SUCCESS {
				e.AcceptSocketContext, e.AcceptSocketDispatch = "ctx", in.dispatch()
				name := in.events().names[ls]
				delete(in.events().names, ls)
				if err := in.bind(e.AcceptSocket.Name(), e.AcceptSocket, name); err != nil {
					in.printf("  (%v)\n", err)
				}
			}
			return st
		},
		WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			s := e.Socket
			if e.DataIndication == nil {
				in.printf("callback WskReceiveEvent(SocketContext=%s, Flags=%s, DataIndication=NULL, BytesIndicated=0) -> STATUS_SUCCESS\n", s.Name(), flagText(e.Flags))
				return nt.STATUS_SUCCESS
			}
			var data []byte
			for _, b := range e.DataIndication.Buffers {
				data = append(data, b...)
			}
			ans := in.answer(s, "WskReceiveEvent", "all")
			_ = in.bind(e.DataIndication.Name(), e.DataIndication, "")
			st, out := nt.STATUS_SUCCESS, ""
			switch ans {
			case "wait":
				// A driver that waits inside the callback: the world runs.
				for in.w.Step() {
				}
				e.BytesAccepted = e.BytesIndicated
				out = fmt.Sprintf(", BytesAccepted=%d (after waiting)", e.BytesAccepted)
			case "not-accepted":
				st = nt.STATUS_DATA_NOT_ACCEPTED
			case "pending":
				st = nt.STATUS_PENDING
			case "all":
				e.BytesAccepted = e.BytesIndicated
				out = fmt.Sprintf(", BytesAccepted=%d", e.BytesAccepted)
			default:
				n, _ := strconv.ParseUint(ans, 10, 64)
				e.BytesAccepted = n
				out = fmt.Sprintf(", BytesAccepted=%d", n)
			}
			in.printf("callback WskReceiveEvent(SocketContext=%s, Flags=%s, DataIndication=%s (%d buffers) %q, BytesIndicated=%d) -> %s%s\n",
				s.Name(), flagText(e.Flags), e.DataIndication.Name(), len(e.DataIndication.Buffers), data, e.BytesIndicated, st, out)
			return st
		},
		WskDisconnectEvent: func(e *wsk.DisconnectEvent) nt.Status {
			in.printf("callback WskDisconnectEvent(SocketContext=%s, Flags=%s) -> STATUS_SUCCESS\n", e.Socket.Name(), flagText(e.Flags))
			return nt.STATUS_SUCCESS
		},
		WskSendBacklogEvent: func(e *wsk.SendBacklogEvent) nt.Status {
			in.printf("callback WskSendBacklogEvent(SocketContext=%s, IdealBacklogSize=%d) -> STATUS_SUCCESS\n", e.Socket.Name(), e.IdealBacklogSize)
			return nt.STATUS_SUCCESS
		},
		WskReceiveFromEvent: func(e *wsk.ReceiveFromEvent) nt.Status {
			s := e.Socket
			if e.DataIndication == nil {
				in.printf("callback WskReceiveFromEvent(SocketContext=%s, DataIndication=NULL) -> STATUS_SUCCESS\n", s.Name())
				return nt.STATUS_SUCCESS
			}
			st := nt.STATUS_SUCCESS
			switch in.answer(s, "WskReceiveFromEvent", "take") {
			case "not-accepted":
				st = nt.STATUS_DATA_NOT_ACCEPTED
			case "pending":
				st = nt.STATUS_PENDING
			}
			_ = in.bind(e.DataIndication.Name(), e.DataIndication, "")
			var dgs []string
			for _, g := range e.DataIndication.Datagrams {
				ci := ""
				if len(g.ControlInfo) > 0 {
					ci = fmt.Sprintf(" ControlInfo=%d bytes", len(g.ControlInfo))
				}
				dgs = append(dgs, fmt.Sprintf("{RemoteAddress=%v%s Buffer=%q}", g.RemoteAddress, ci, g.Buffer))
			}
			in.printf("callback WskReceiveFromEvent(SocketContext=%s, Flags=%s, DataIndication=%s [%s]) -> %s\n", s.Name(), flagText(e.Flags), e.DataIndication.Name(), strings.Join(dgs, " "), st)
			return st
		},
	}
}

// eventControl is a pool block holding WSK_EVENT_CALLBACK_CONTROL{mask}.
func (in *Interp) eventControl(mask uint32) *irp.Block {
	b := in.io.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, wsk.EventCallbackControlSize, 0x76457357)
	if b != nil {
		copy(b.Bytes(), wsk.EventCallbackControl(mask))
	}
	return b
}

func (in *Interp) freeControl(b *irp.Block) {
	if b != nil {
		in.io.ExFreePoolWithTag(b, 0x76457357)
	}
}

// cmdStaticEvents calls WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS).
//
// Example: wsk-static-events client=client mask=WSK_EVENT_ACCEPT
func cmdStaticEvents(in *Interp, c *Command, a *args) error {
	cl := in.clientArg(a, "client")
	mask := a.uint("mask", uint64(nt.WSK_EVENT_ACCEPT))
	if a.err != nil {
		return nil
	}
	b := in.eventControl(uint32(mask))
	defer in.freeControl(b)
	in.call(fmt.Sprintf("WskControlClient(Client=%s, ControlCode=WSK_SET_STATIC_EVENT_CALLBACKS, EventMask=%s, Irp=NULL)", cl.Name(), wsk.EventMaskString(uint32(mask))), func() string {
		return in.prov.WskControlClient(cl, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, b, 0, nil, nil, nil).String()
	})
	return nil
}

// cmdEventSocket calls WskSocket with the scenario's client dispatch table.
//
// Example: wsk-event-socket client=client flags=WSK_FLAG_LISTEN_SOCKET irp=op name=ls
func cmdEventSocket(in *Interp, c *Command, a *args) error {
	cl := in.clientArg(a, "client")
	flags := a.uint("flags", uint64(nt.WSK_FLAG_CONNECTION_SOCKET))
	df, dt, dp := in.categoryDefaults(flags)
	fam, typ, proto := a.uint("family", df), a.uint("type", dt), a.uint("protocol", dp)
	owner, _ := in.procArg(a, "owner")
	i, _ := in.irpArg(a, "irp", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if fam > 0xFFFF || typ > 0xFFFF || proto > 0xFFFFFFFF || flags > 0xFFFFFFFF {
		return fmt.Errorf("family/type must fit 16 bits, protocol/flags 32 bits")
	}
	head := fmt.Sprintf("WskSocket(Client=%s, AddressFamily=%s, SocketType=%s, Protocol=%s, Flags=%s, SocketContext=ctx, Dispatch=events, OwningProcess=%s, Irp=%s)",
		cl.Name(), familyName(fam), typeName(typ), protoName(proto), flagsName(flags), procString(owner), in.irpName(i))
	in.wskIRPCall(head, i, &wskCall{sockResult: true, sockName: name}, func() nt.Status {
		return in.prov.WskSocket(cl, uint16(fam), uint16(typ), uint32(proto), uint32(flags), "ctx", in.dispatch(), owner, nil, nil, i)
	})
	return nil
}

// cmdEvents calls WskControlSocket(SO_WSK_EVENT_CALLBACK).
//
// Example: wsk-events socket=ls mask=WSK_EVENT_ACCEPT
func cmdEvents(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	mask := a.uint("mask", 0)
	i, _ := in.irpArg(a, "irp", false)
	if a.err != nil {
		return nil
	}
	b := in.eventControl(uint32(mask))
	defer in.freeControl(b)
	head := fmt.Sprintf("WskControlSocket(Socket=%s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, EventMask=%s, Irp=%s)", s.Name(), wsk.EventMaskString(uint32(mask)), in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status {
		st := in.prov.WskControlSocket(s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, b, 0, nil, nil, i)
		// The control block is lent to the IRP: it is freed only once the
		// IRP has completed (the world runs until it has).
		for i != nil && i.InFlight() && in.w.Step() {
		}
		return st
	})
	return nil
}

// cmdOnEvent sets how a socket's callback answers.
//
// Example: on-event socket=ls callback=WskAcceptEvent answer=accept name=conn
func cmdOnEvent(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	cb := a.need("callback", "WskAcceptEvent, WskReceiveEvent or WskReceiveFromEvent")
	ans := a.need("answer", "an answer")
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if s == nil {
		return fmt.Errorf("socket=NULL: on-event needs a socket")
	}
	ok := false
	switch cb {
	case "WskAcceptEvent":
		ok = ans == "accept" || ans == "refuse"
	case "WskReceiveEvent":
		_, err := strconv.ParseUint(ans, 10, 32)
		ok = ans == "all" || ans == "not-accepted" || ans == "pending" || ans == "wait" || err == nil
	case "WskReceiveFromEvent":
		ok = ans == "take" || ans == "not-accepted" || ans == "pending"
	default:
		return fmt.Errorf("callback=%s: expected WskAcceptEvent, WskReceiveEvent or WskReceiveFromEvent", cb)
	}
	if !ok {
		return fmt.Errorf("answer=%s: not an answer of %s (see the help of on-event)", ans, cb)
	}
	ev := in.events()
	if ev.answers[s] == nil {
		ev.answers[s] = map[string]string{}
	}
	ev.answers[s][cb] = ans
	if name != "" {
		ev.names[s] = name
	}
	in.printf("%s on %s answers %s\n", cb, s.Name(), ans)
	return nil
}

// cmdWskReleaseInd calls WskRelease.
//
// Example: wsk-release-indication socket=conn indication=di1
func cmdWskReleaseInd(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	v := a.need("indication", "an indication's display name")
	if a.err != nil {
		return nil
	}
	d, _ := in.names[v].(*wsk.Indication)
	if d == nil {
		return fmt.Errorf("indication=%s: no indication is called %s", v, v)
	}
	in.call(fmt.Sprintf("WskRelease(Socket=%s, DataIndication=%s)", s.Name(), d.Name()), func() string {
		return in.prov.WskRelease(s, d).String()
	})
	return nil
}

// cmdControlClient calls WskControlClient with pool blocks.
//
// Example: wsk-control-client client=client code=WSK_TRANSPORT_LIST_QUERY out=list osr=true
func cmdControlClient(in *Interp, c *Command, a *args) error {
	cl := in.clientArg(a, "client")
	code := a.uint("code", uint64(wsk.WSK_TRANSPORT_LIST_QUERY))
	inb, _ := in.poolArg(a, "in", false)
	outb, _ := in.poolArg(a, "out", false)
	var inLen, outLen uint64
	if inb != nil {
		inLen = a.uint("in-len", inb.Size())
	}
	if outb != nil {
		outLen = a.uint("out-len", outb.Size())
	}
	withOSR := a.flag("osr", false)
	if a.err != nil {
		return nil
	}
	var osr uint64
	var osrp *uint64
	if withOSR {
		osrp = &osr
	}
	in.call(fmt.Sprintf("WskControlClient(Client=%s, ControlCode=%d, InputSize=%d, OutputSize=%d, Irp=NULL)", cl.Name(), code, inLen, outLen), func() string {
		st := in.prov.WskControlClient(cl, uint32(code), inLen, inb, outLen, outb, osrp, nil)
		if withOSR {
			return fmt.Sprintf("%s, OutputSizeReturned=%d", st, osr)
		}
		return st.String()
	})
	return nil
}
