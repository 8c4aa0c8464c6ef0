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
		WskDisconnectEvent:  func(*wsk.DisconnectEvent) nt.Status { return nt.STATUS_SUCCESS },
		WskSendBacklogEvent: func(*wsk.SendBacklogEvent) nt.Status { return nt.STATUS_SUCCESS },
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
		WskDisconnectEvent: func(*wsk.DisconnectEvent) nt.Status { return nt.STATUS_SUCCESS },
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

func init() {
	conformingPrograms["ovpn-dco-win-udp-receive"] = ovpnUDPProgram
	conformingPrograms["wireguard-nt-wsk-init"] = wireguardInitProgram
}

// syncOp is ovpn-dco-win's OvpnSocketSyncOp: a fresh IRP with a completion
// routine, the operation, a wait when it pends, IoFreeIrp.
func (d *drv) syncOp(op func(i *irp.IRP) nt.Status) *irp.IRP {
	i := d.m.IoAllocateIrp(1, false)
	d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
	if op(i) == nt.STATUS_PENDING {
		for i.InFlight() && d.w.Step() {
		}
	}
	return i
}

// ovpnUDPProgram is ovpn-dco-win's UDP transport as its socket.cpp shows it
// (OpenVPN/ovpn-dco-win socket.cpp): OvpnSocketInit in multi-peer mode (no
// remote address) captures the NPI, creates an AF_INET6 datagram socket with
// OvpnSocketUdpDispatch through OvpnSocketSyncOp, clears IPV6_V6ONLY, binds,
// reads the local address and enables WSK_EVENT_RECEIVE_FROM without an IRP;
// OvpnSocketUdpReceiveFromEvent walks the WSK_DATAGRAM_INDICATION list and
// returns STATUS_SUCCESS; OvpnSocketClose closes the socket.
func ovpnUDPProgram() []byte {
	d := newDrv("OpenVPN/ovpn-dco-win socket.cpp: OvpnSocketInit (UDP, multi-peer: no SIO_WSK_SET_REMOTE_ADDRESS; OvpnSocketSyncOp for WskSocket, IPV6_V6ONLY 0, WskBind, WskGetLocalAddress; SO_WSK_EVENT_CALLBACK WSK_EVENT_RECEIVE_FROM without an IRP), OvpnSocketUdpReceiveFromEvent (every datagram taken, STATUS_SUCCESS), OvpnSocketClose", 31, nil)
	d.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &d.reg)
	d.p.WskCaptureProviderNPI(&d.reg, nt.WSK_INFINITE_WAIT, &d.npi)
	var got [][]byte
	udp := &wsk.Events{WskReceiveFromEvent: func(e *wsk.ReceiveFromEvent) nt.Status {
		if e.DataIndication == nil {
			return nt.STATUS_SUCCESS
		}
		for _, g := range e.DataIndication.Datagrams {
			got = append(got, g.Buffer) // OvpnSocketProcessIncomingPacket
		}
		return nt.STATUS_SUCCESS
	}}
	i := d.syncOp(func(i *irp.IRP) nt.Status {
		return d.p.WskSocket(d.npi.Client, nt.AF_INET6, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, "device", udp, nil, nil, nil, i)
	})
	s := d.p.SocketFromInformation(i.IoStatus.Information)
	d.m.IoFreeIrp(i)
	v6only := d.pool(4)
	d.m.IoFreeIrp(d.syncOp(func(i *irp.IRP) nt.Status {
		return d.p.WskControlSocket(s, nt.WskSetOption, nt.IPV6_V6ONLY, nt.IPPROTO_IPV6, 4, v6only, 0, nil, nil, i)
	}))
	d.m.IoFreeIrp(d.syncOp(func(i *irp.IRP) nt.Status { return d.p.WskBind(s, ap("[::]:1194"), 0, i) }))
	la := new(netip.AddrPort)
	d.m.IoFreeIrp(d.syncOp(func(i *irp.IRP) nt.Status { return d.p.WskGetLocalAddress(s, la, i) }))
	d.setEvents(s, nt.WSK_EVENT_RECEIVE_FROM)
	// Two OpenVPN clients send (a control packet, then data).
	c1, _ := d.p.PeerUDPBind(d.peer, ap("127.0.0.1:50001"))
	c2, _ := d.p.PeerUDPBind(d.peer, ap("127.0.0.1:50002"))
	_, _ = c1.SendTo(ap("127.0.0.1:1194"), []byte{0x38, 0, 0, 0, 0, 0, 0, 0, 1})
	_, _ = c2.SendTo(ap("127.0.0.1:1194"), []byte{0x48, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef})
	d.w.RunUntilIdle()
	_, _ = c1.SendTo(ap("127.0.0.1:1194"), []byte{0x48, 0, 0, 0, 0xca, 0xfe})
	d.w.RunUntilIdle()
	c1.Close()
	c2.Close()
	d.m.IoFreeIrp(d.syncOp(func(i *irp.IRP) nt.Status { return d.p.WskCloseSocket(s, i) }))
	d.m.ExFreePoolWithTag(v6only, tagW)
	d.p.WskReleaseProviderNPI(&d.reg)
	d.p.WskDeregister(&d.reg)
	if len(got) != 3 {
		panic("ovpnUDPProgram: the callback did not get every datagram")
	}
	return d.end()
}

// wireguardInitProgram is wireguard-nt's WskInit and WskUnload
// (WireGuard/wireguard-nt driver/socket.c): WSK_TRANSPORT_LIST_QUERY into a
// 16-entry buffer (retried on STATUS_BUFFER_OVERFLOW), WSK_SET_STATIC_EVENT_
// CALLBACKS with WSK_EVENT_RECEIVE_FROM, WSK_TDI_BEHAVIOR with
// WSK_TDI_BEHAVIOR_BYPASS_TDI; unload releases and deregisters. (Its
// sockets set IP_PKTINFO / IPV6_PKTINFO, which the model does not have yet.)
func wireguardInitProgram() []byte {
	d := newDrv("WireGuard/wireguard-nt driver/socket.c: WskInit (WskRegister, WskCaptureProviderNPI WSK_INFINITE_WAIT, WSK_TRANSPORT_LIST_QUERY into 0x10 WSK_TRANSPORTs, WSK_SET_STATIC_EVENT_CALLBACKS WSK_EVENT_RECEIVE_FROM, WSK_TDI_BEHAVIOR WSK_TDI_BEHAVIOR_BYPASS_TDI), WskUnload", 32, nil)
	d.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &d.reg)
	d.p.WskCaptureProviderNPI(&d.reg, nt.WSK_INFINITE_WAIT, &d.npi)
	size := uint64(0x10 * 28)
	for {
		ts := d.pool(size)
		st := d.p.WskControlClient(d.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, size, ts, &size, nil)
		d.m.ExFreePoolWithTag(ts, tagW)
		if st != nt.STATUS_BUFFER_OVERFLOW {
			break
		}
	}
	ctl := d.eventControl(nt.WSK_EVENT_RECEIVE_FROM)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, ctl, 0, nil, nil, nil)
	noTdi := d.pool(4)
	noTdi.Bytes()[0] = byte(wsk.WSK_TDI_BEHAVIOR_BYPASS_TDI)
	d.p.WskControlClient(d.npi.Client, wsk.WSK_TDI_BEHAVIOR, 4, noTdi, 0, nil, nil, nil)
	d.m.ExFreePoolWithTag(ctl, tagW)
	d.m.ExFreePoolWithTag(noTdi, tagW)
	d.p.WskReleaseProviderNPI(&d.reg)
	d.p.WskDeregister(&d.reg)
	return d.end()
}

func init() {
	divergingMutations["wsk-event-bytes-indicated"] = mutation{"wsk-event-receive", `"fn":"WskReceiveEvent"`, `"BytesIndicated":9`, `"BytesIndicated":10`, "WskReceiveEvent indicates more bytes than arrived"}
	divergingMutations["wsk-event-indicated-data"] = mutation{"wsk-event-receive", `"fn":"WskReceiveEvent"`, `{"hex":"616c6c206f66206974"}`, `{"hex":"616c6c206f66206975"}`, "WskReceiveEvent indicates other bytes than the peer sent"}
	divergingMutations["wsk-event-disconnect-graceful"] = mutation{"wsk-event-accept-refuse-abort", `"fn":"WskDisconnectEvent"`, `"Flags":1}`, `"Flags":0}`, "WskDisconnectEvent says graceful where the peer reset the connection"}
	divergingMutations["wsk-event-wrong-socket"] = mutation{"wsk-event-receive", `"fn":"WskDisconnectEvent"`, `"SocketContext":"sock2"`, `"SocketContext":"sock1"`, "WskDisconnectEvent shown on the listening socket"}
	violatingPrograms["wsk-event-retained-at-close"] = func() []byte {
		d := newDrv("WskReceiveEvent retains an indication (STATUS_PENDING); the socket is closed before WskRelease", 41, nil).start()
		v := d.evServer("127.0.0.1:7301", false, &wsk.Events{WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING }})
		pc, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7301"))
		d.w.RunUntilIdle()
		d.setEvents(v.accepted[0], nt.WSK_EVENT_RECEIVE)
		_ = pc.Send([]byte("kept"))
		d.w.RunUntilIdle()
		d.close(v.accepted[0])
		d.close(v.ls)
		return d.stop()
	}
	violatingPrograms["wsk-event-release-indication"] = func() []byte {
		d := newDrv("WskRelease of an indication the callback did not retain (STATUS_SUCCESS), and a retained one released twice", 42, nil).start()
		var inds []*wsk.Indication
		ans := []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING}
		v := d.evServer("127.0.0.1:7302", false, &wsk.Events{WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			inds = append(inds, e.DataIndication)
			st := ans[0]
			ans = ans[1:]
			e.BytesAccepted = e.BytesIndicated
			return st
		}})
		pc, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7302"))
		d.w.RunUntilIdle()
		a := v.accepted[0]
		d.setEvents(a, nt.WSK_EVENT_RECEIVE)
		_ = pc.Send([]byte("one"))
		d.w.RunUntilIdle()
		_ = pc.Send([]byte("two"))
		d.w.RunUntilIdle()
		d.p.WskRelease(a, inds[0])
		d.p.WskRelease(a, inds[1])
		d.p.WskRelease(a, inds[1])
		d.close(a)
		d.close(v.ls)
		return d.stop()
	}
	violatingPrograms["wsk-event-enable-misuse"] = func() []byte {
		d := newDrv("SO_WSK_EVENT_CALLBACK misuse: before bind, with an IRP to enable, an event the category lacks; WSK_SET_STATIC_EVENT_CALLBACKS after a socket exists", 43, nil).start()
		lst := &wsk.Events{WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status { return nt.STATUS_REQUEST_NOT_ACCEPTED }}
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, "l", lst, nil, nil, nil, d.arm())
		d.wait()
		s := d.p.SocketFromInformation(d.i.IoStatus.Information)
		d.setEvents(s, nt.WSK_EVENT_ACCEPT) // not bound yet
		d.bind(s, "127.0.0.1:7303")
		d.setEvents(s, nt.WSK_EVENT_RECEIVE_FROM) // not a listening socket's event
		ctl := d.eventControl(nt.WSK_EVENT_ACCEPT)
		d.p.WskControlSocket(s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, ctl, 0, nil, nil, d.arm())
		d.wait()
		d.p.WskControlClient(d.npi.Client, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, ctl, 0, nil, nil, nil)
		d.m.ExFreePoolWithTag(ctl, tagW)
		d.close(s)
		return d.stop()
	}
	violatingPrograms["wsk-event-wait-and-return"] = func() []byte {
		d := newDrv("inside WskReceiveEvent the driver sends and waits for the send to complete (WSK-EVENT-WAIT); a later indication is answered with BytesAccepted above BytesIndicated (WSK-EVENT-RETURN)", 44, syncPolicy("pending")).start()
		var a *wsk.Socket
		n := 0
		send := d.m.IoAllocateIrp(1, false)
		buf := d.pool(16)
		v := d.evServer("127.0.0.1:7304", false, &wsk.Events{WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			n++
			if n == 1 {
				d.m.IoSetCompletionRoutine(send, d.rtn, nil, true, true, true)
				d.p.WskSend(a, &wsk.Buf{Block: buf, Length: 4}, 0, send)
				for send.InFlight() && d.w.Step() { // waits inside the callback
				}
				e.BytesAccepted = e.BytesIndicated
				return nt.STATUS_SUCCESS
			}
			e.BytesAccepted = e.BytesIndicated + 1
			return nt.STATUS_SUCCESS
		}})
		pc, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:7304"))
		d.w.RunUntilIdle()
		a = v.accepted[0]
		d.setEvents(a, nt.WSK_EVENT_RECEIVE)
		_ = pc.Send([]byte("ping"))
		d.w.RunUntilIdle()
		_ = pc.Send([]byte("more"))
		d.w.RunUntilIdle()
		d.m.IoFreeIrp(send)
		d.m.ExFreePoolWithTag(buf, tagW)
		d.close(a)
		d.close(v.ls)
		return d.stop()
	}
}
