package trace

import (
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// evServer is a driver whose listening socket takes connections with
// WskAcceptEvent; ans answers each (STATUS_SUCCESS hands back conn).
type evServer struct {
	d        *drv
	ls       *wsk.Socket
	accepted []*wsk.Socket
	ans      []nt.Status
	conn     *wsk.Events
}

func (d *drv) evServer(addr string, static bool, conn *wsk.Events, ans ...nt.Status) *evServer {
	v := &evServer{d: d, ans: ans, conn: conn}
	lst := &wsk.Events{WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status {
		st := nt.STATUS_SUCCESS
		if len(v.ans) > 0 {
			st, v.ans = v.ans[0], v.ans[1:]
		}
		if st == nt.STATUS_SUCCESS {
			v.accepted = append(v.accepted, e.AcceptSocket)
			e.AcceptSocketContext, e.AcceptSocketDispatch = "conn", v.conn
		}
		return st
	}}
	if static {
		ctl := d.eventControl(nt.WSK_EVENT_ACCEPT)
		d.p.WskControlClient(d.npi.Client, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, ctl, 0, nil, nil, nil)
		d.m.ExFreePoolWithTag(ctl, tagW)
	}
	d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, "listener", lst, nil, nil, nil, d.arm())
	d.wait()
	v.ls = d.p.SocketFromInformation(d.i.IoStatus.Information)
	d.bind(v.ls, addr)
	if !static {
		d.setEvents(v.ls, nt.WSK_EVENT_ACCEPT)
	}
	return v
}

// setEvents enables (or, with WSK_EVENT_DISABLE, disables) events on s
// without an IRP.
func (d *drv) setEvents(s *wsk.Socket, mask uint32) nt.Status {
	b := d.eventControl(mask)
	defer d.m.ExFreePoolWithTag(b, tagW)
	return d.p.WskControlSocket(s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, b, 0, nil, nil, nil)
}

func (d *drv) receive(s *wsk.Socket, n uint64) {
	b := d.pool(n)
	d.p.WskReceive(s, &wsk.Buf{Block: b, Length: n}, 0, d.arm())
	d.wait()
	d.m.ExFreePoolWithTag(b, tagW)
}

// eventReceiveProgram shows every answer to WskReceiveEvent, and
// WskDisconnectEvent and WskSendBacklogEvent, on a connection taken by
// WskAcceptEvent (static WSK_EVENT_ACCEPT).
func eventReceiveProgram() []byte {
	d := newDrv("receive events: WskReceiveEvent taking everything, taking part (the rest by WskReceive), STATUS_DATA_NOT_ACCEPTED (then WskReceive), STATUS_PENDING (then WskRelease); WskSendBacklogEvent on enabling; graceful WskDisconnectEvent", 21, nil).start()
	answer := []func(e *wsk.ReceiveEvent) nt.Status{
		func(e *wsk.ReceiveEvent) nt.Status { e.BytesAccepted = e.BytesIndicated; return nt.STATUS_SUCCESS },
		func(e *wsk.ReceiveEvent) nt.Status { e.BytesAccepted = 2; return nt.STATUS_SUCCESS },
		func(e *wsk.ReceiveEvent) nt.Status { return nt.STATUS_DATA_NOT_ACCEPTED },
		func(e *wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING },
	}
	var retained []*wsk.Indication
	conn := &wsk.Events{
		WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			if e.DataIndication == nil {
				return nt.STATUS_SUCCESS
			}
			f := answer[0]
			if len(answer) > 1 {
				answer = answer[1:]
			}
			st := f(e)
			if st == nt.STATUS_PENDING {
				retained = append(retained, e.DataIndication)
			}
			return st
		},
		WskDisconnectEvent:  func(any, uint32) nt.Status { return nt.STATUS_SUCCESS },
		WskSendBacklogEvent: func(any, uint64) nt.Status { return nt.STATUS_SUCCESS },
	}
	_ = d.w.Pin(wsk.ChoiceReceivePartial, 0)
	v := d.evServer("127.0.0.1:7201", true, conn)
	pc, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7201"))
	d.w.RunUntilIdle()
	a := v.accepted[0]
	d.setEvents(a, nt.WSK_EVENT_RECEIVE|nt.WSK_EVENT_DISCONNECT|nt.WSK_EVENT_SEND_BACKLOG)
	d.w.RunUntilIdle()
	for k, m := range []string{"all of it", "partly", "not now", "keep me"} {
		_ = pc.Send([]byte(m))
		d.w.RunUntilIdle()
		if k == 1 || k == 2 {
			d.receive(a, 64)
		}
	}
	for _, r := range retained {
		d.p.WskRelease(a, r)
	}
	pc.Close()
	d.w.RunUntilIdle()
	d.close(a)
	d.close(v.ls)
	return d.stop()
}

// eventRefuseProgram: WskAcceptEvent refusing a connection
// (STATUS_REQUEST_NOT_ACCEPTED) and taking the next, enabled with
// SO_WSK_EVENT_CALLBACK after bind; the NULL indication of a graceful
// disconnect (WskDisconnectEvent not enabled); an abortive
// WskDisconnectEvent; disabling an event with an IRP.
func eventRefuseProgram() []byte {
	d := newDrv("accept events: refuse then accept; NULL WskReceiveEvent on a graceful disconnect; abortive WskDisconnectEvent; SO_WSK_EVENT_CALLBACK WSK_EVENT_DISABLE with an IRP", 22, nil).start()
	conn := &wsk.Events{
		WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			e.BytesAccepted = e.BytesIndicated
			return nt.STATUS_SUCCESS
		},
		WskDisconnectEvent: func(any, uint32) nt.Status { return nt.STATUS_SUCCESS },
	}
	v := d.evServer("127.0.0.1:7202", false, conn, nt.STATUS_REQUEST_NOT_ACCEPTED, nt.STATUS_SUCCESS, nt.STATUS_SUCCESS)
	_, _, _ = d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7202"))
	d.w.RunUntilIdle()
	pc2, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7202"))
	d.w.RunUntilIdle()
	a := v.accepted[0]
	d.setEvents(a, nt.WSK_EVENT_RECEIVE)
	_ = pc2.Send([]byte("bye"))
	d.w.RunUntilIdle()
	pc2.Close()
	d.w.RunUntilIdle()
	d.close(a)
	pc3, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7202"))
	d.w.RunUntilIdle()
	b := v.accepted[1]
	d.setEvents(b, nt.WSK_EVENT_DISCONNECT)
	pc3.Reset()
	d.w.RunUntilIdle()
	d.close(b)
	ctl := d.eventControl(nt.WSK_EVENT_ACCEPT | nt.WSK_EVENT_DISABLE)
	d.p.WskControlSocket(v.ls, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, ctl, 0, nil, nil, d.arm())
	d.wait()
	d.m.ExFreePoolWithTag(ctl, tagW)
	d.close(v.ls)
	return d.stop()
}

// eventReceiveFromProgram shows the answers to WskReceiveFromEvent and a
// redirected datagram's records and context as control information.
func eventReceiveFromProgram() []byte {
	d := newDrv("datagram events: WskReceiveFromEvent taking a datagram, retaining one (WskRelease), refusing one (then WskReceiveFrom), and a redirected datagram whose records and context arrive as ControlInfo", 23, nil).start()
	answers := []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING, nt.STATUS_DATA_NOT_ACCEPTED, nt.STATUS_SUCCESS}
	var retained []*wsk.Indication
	dg := &wsk.Events{WskReceiveFromEvent: func(e *wsk.ReceiveFromEvent) nt.Status {
		if e.DataIndication == nil {
			return nt.STATUS_SUCCESS
		}
		st := answers[0]
		if len(answers) > 1 {
			answers = answers[1:]
		}
		if st == nt.STATUS_PENDING {
			retained = append(retained, e.DataIndication)
		}
		return st
	}}
	d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, "udp", dg, nil, nil, nil, d.arm())
	d.wait()
	s := d.p.SocketFromInformation(d.i.IoStatus.Information)
	d.bind(s, "127.0.0.1:5353")
	d.setEvents(s, nt.WSK_EVENT_RECEIVE_FROM)
	pu, _ := d.p.PeerUDPBind(d.peer, ap("127.0.0.1:6000"))
	for _, m := range []string{"one", "two", "three"} {
		_, _ = pu.SendTo(ap("127.0.0.1:5353"), []byte(m))
		d.w.RunUntilIdle()
	}
	for _, r := range retained {
		d.p.WskRelease(s, r)
	}
	b := d.pool(64)
	d.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 64}, 0, new(netip.AddrPort), nil, nil, nil, d.arm())
	d.wait()
	d.m.ExFreePoolWithTag(b, tagW)
	_, _ = d.p.RedirectedDatagram("app1", ap("10.0.0.1:40000"), ap("198.51.100.7:53"), ap("127.0.0.1:5353"), "HU", []byte("original"), wsk.SystemPID, []byte("query"))
	d.w.RunUntilIdle()
	pu.Close()
	d.close(s)
	return d.stop()
}

// controlClientProgram: WskControlClient's other codes.
func controlClientProgram() []byte {
	d := newDrv("WskControlClient: WSK_TRANSPORT_LIST_QUERY too small (STATUS_BUFFER_OVERFLOW) then enough, WSK_TDI_BEHAVIOR, WSK_CACHE_SD and WSK_RELEASE_SD", 24, nil).start()
	var n uint64
	small := d.pool(28)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, 28, small, &n, nil)
	big := d.pool(n)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, n, big, &n, nil)
	tdi := d.pool(4)
	tdi.Bytes()[0] = byte(wsk.WSK_TDI_BEHAVIOR_BYPASS_TDI)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_TDI_BEHAVIOR, 4, tdi, 0, nil, nil, nil)
	sd, out := d.pool(8), d.pool(8)
	copy(sd.Bytes(), []byte{0x10, 0x20, 0, 0, 0, 0x80, 0xff, 0xff})
	d.p.WskControlClient(d.npi.Client, wsk.WSK_CACHE_SD, 8, sd, 8, out, nil, nil)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_RELEASE_SD, 8, out, 0, nil, nil, nil)
	for _, b := range []*irp.Block{small, big, tdi, sd, out} {
		d.m.ExFreePoolWithTag(b, tagW)
	}
	return d.stop()
}
