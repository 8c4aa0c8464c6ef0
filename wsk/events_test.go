package wsk_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// evSocket creates a socket with a socket context and dispatch table.
func (e *env) evSocket(af uint16, flags uint32, ctx any, disp *wsk.Events) *wsk.Socket {
	e.t.Helper()
	st := nt.SOCK_STREAM
	if flags == nt.WSK_FLAG_DATAGRAM_SOCKET {
		st = nt.SOCK_DGRAM
	}
	var d any
	if disp != nil {
		d = disp
	}
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskSocket(e.npi.Client, af, st, 0, flags, ctx, d, nil, nil, nil, i)
	})
	e.mustStatus("WskSocket", c.status, nt.STATUS_SUCCESS)
	return e.p.SocketFromInformation(c.info)
}

// setEvents issues SO_WSK_EVENT_CALLBACK with mask, without an IRP.
func (e *env) setEvents(s *wsk.Socket, mask uint32) nt.Status {
	b := e.pool(wsk.EventCallbackControl(mask), wsk.EventCallbackControlSize)
	defer e.free(b)
	return e.p.WskControlSocket(s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, b, 0, nil, nil, nil)
}

func (e *env) staticEvents(mask uint32) nt.Status {
	b := e.pool(wsk.EventCallbackControl(mask), wsk.EventCallbackControlSize)
	defer e.free(b)
	return e.p.WskControlClient(e.npi.Client, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, b, 0, nil, nil, nil)
}

func (e *env) run() {
	e.t.Helper()
	if err := e.w.RunUntilIdle(); err != nil {
		e.t.Fatal(err)
	}
}

// evListener is a listening socket on 127.0.0.1:port whose WskAcceptEvent
// answers with ans and records the accepted sockets.
type evListener struct {
	s        *wsk.Socket
	accepted []*wsk.Socket
	flags    []uint32
}

func (e *env) evListen(port string, ans nt.Status, child *wsk.Events, static bool) *evListener {
	e.t.Helper()
	l := &evListener{}
	d := &wsk.Events{WskAcceptEvent: func(ev *wsk.AcceptEvent) nt.Status {
		l.flags = append(l.flags, ev.Flags)
		if ans == nt.STATUS_SUCCESS {
			l.accepted = append(l.accepted, ev.AcceptSocket)
			ev.AcceptSocketContext = "conn"
			if child != nil {
				ev.AcceptSocketDispatch = child
			}
		}
		return ans
	}}
	if static {
		e.mustStatus("WSK_SET_STATIC_EVENT_CALLBACKS", e.staticEvents(nt.WSK_EVENT_ACCEPT), nt.STATUS_SUCCESS)
	}
	l.s = e.evSocket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, "listener", d)
	e.mustStatus("WskBind", e.bind(l.s, "127.0.0.1:"+port), nt.STATUS_SUCCESS)
	if !static {
		e.mustStatus("SO_WSK_EVENT_CALLBACK", e.setEvents(l.s, nt.WSK_EVENT_ACCEPT), nt.STATUS_SUCCESS)
	}
	return l
}

func (e *env) peer(to string) *wsk.PeerConn {
	e.t.Helper()
	pc, st, err := e.p.PeerConnect(e.p.System(), netip.AddrPort{}, ap(to))
	if err != nil || st != nt.STATUS_SUCCESS {
		e.t.Fatalf("PeerConnect: %v %v", st, err)
	}
	return pc
}

func TestAcceptEvent(t *testing.T) {
	for _, ans := range []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_REQUEST_NOT_ACCEPTED} {
		t.Run(ans.String(), func(t *testing.T) {
			e := newEnv(t)
			l := e.evListen("7001", ans, nil, false)
			pc := e.peer("127.0.0.1:7001")
			e.run()
			if len(l.flags) != 1 {
				t.Fatalf("WskAcceptEvent called %d times, want 1", len(l.flags))
			}
			if ans == nt.STATUS_SUCCESS {
				a := l.accepted[0]
				if a.Context() != "conn" || a.Closed() || a.RemoteAddr() != pc.Local() {
					t.Fatalf("accepted socket: ctx %v closed %v remote %v (peer %v)", a.Context(), a.Closed(), a.RemoteAddr(), pc.Local())
				}
				if err := pc.Send([]byte("hi")); err != nil {
					t.Fatal(err)
				}
				e.close(a)
			} else if !pc.GotReset() {
				t.Fatal("a refused connection is not reset")
			}
			e.close(l.s)
			e.teardown()
		})
	}
}

// evConn is an accepted connection whose connection callbacks record what
// they get and answer with the functions set on it.
type evConn struct {
	got      []byte
	inds     []*wsk.Indication
	nulls    int
	discs    []uint32
	backlogs []uint64
	onRecv   func(ev *wsk.ReceiveEvent) nt.Status
}

func (c *evConn) events() *wsk.Events {
	return &wsk.Events{
		WskReceiveEvent: func(ev *wsk.ReceiveEvent) nt.Status {
			if ev.DataIndication == nil {
				c.nulls++
				return nt.STATUS_SUCCESS
			}
			c.inds = append(c.inds, ev.DataIndication)
			if c.onRecv != nil {
				return c.onRecv(ev)
			}
			for _, b := range ev.DataIndication.Buffers {
				c.got = append(c.got, b...)
			}
			ev.BytesAccepted = ev.BytesIndicated
			return nt.STATUS_SUCCESS
		},
		WskDisconnectEvent: func(e *wsk.DisconnectEvent) nt.Status { c.discs = append(c.discs, e.Flags); return nt.STATUS_SUCCESS },
		WskSendBacklogEvent: func(e *wsk.SendBacklogEvent) nt.Status {
			c.backlogs = append(c.backlogs, e.IdealBacklogSize)
			return nt.STATUS_SUCCESS
		},
	}
}

// evPair accepts one connection through WskAcceptEvent and enables mask on
// the accepted socket.
func (e *env) evPair(port string, c *evConn, mask uint32) (*evListener, *wsk.Socket, *wsk.PeerConn) {
	e.t.Helper()
	l := e.evListen(port, nt.STATUS_SUCCESS, c.events(), false)
	pc := e.peer("127.0.0.1:" + port)
	e.run()
	if len(l.accepted) != 1 {
		e.t.Fatalf("accepted %d, want 1", len(l.accepted))
	}
	a := l.accepted[0]
	if mask != 0 {
		e.mustStatus("SO_WSK_EVENT_CALLBACK", e.setEvents(a, mask), nt.STATUS_SUCCESS)
	}
	e.run()
	return l, a, pc
}

func (e *env) recv(s *wsk.Socket, n int) []byte {
	e.t.Helper()
	b := e.pool(nil, n)
	defer e.free(b)
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskReceive(s, &wsk.Buf{Block: b, Length: uint64(n)}, 0, i) })
	e.mustStatus("WskReceive", c.status, nt.STATUS_SUCCESS)
	return append([]byte(nil), b.Bytes()[:c.info]...)
}

func TestReceiveEvent(t *testing.T) {
	t.Run("accept-all", func(t *testing.T) {
		e := newEnv(t)
		c := &evConn{}
		l, a, pc := e.evPair("7002", c, nt.WSK_EVENT_RECEIVE|nt.WSK_EVENT_DISCONNECT)
		pc.Send([]byte("hello"))
		e.run()
		pc.Send([]byte(" world"))
		e.run()
		if string(c.got) != "hello world" || len(c.inds) != 2 {
			t.Fatalf("got %q in %d indications", c.got, len(c.inds))
		}
		pc.Close()
		e.run()
		if len(c.discs) != 1 || c.discs[0]&wsk.WSK_FLAG_ABORTIVE != 0 {
			t.Fatalf("WskDisconnectEvent flags %v, want one graceful", c.discs)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("split", func(t *testing.T) {
		e := newEnv(t)
		e.pin(wsk.ChoiceEventSplit, 1)
		c := &evConn{}
		l, a, pc := e.evPair("7003", c, nt.WSK_EVENT_RECEIVE)
		pc.Send([]byte("abcdef"))
		e.run()
		if len(c.inds) != 1 || len(c.inds[0].Buffers) != 2 || string(c.got) != "abcdef" {
			t.Fatalf("indications %d, buffers %d, got %q", len(c.inds), len(c.inds[0].Buffers), c.got)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("partial-then-WskReceive", func(t *testing.T) {
		e := newEnv(t)
		c := &evConn{}
		e.pin(wsk.ChoiceReceivePartial, 0)
		c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status { ev.BytesAccepted = 2; return nt.STATUS_SUCCESS }
		l, a, pc := e.evPair("7004", c, nt.WSK_EVENT_RECEIVE)
		pc.Send([]byte("abcdef"))
		e.run()
		pc.Send([]byte("gh"))
		e.run()
		if len(c.inds) != 1 {
			t.Fatalf("%d indications while the rest was not taken, want 1", len(c.inds))
		}
		if got := e.recv(a, 64); string(got) != "cdefgh" {
			t.Fatalf("WskReceive after a partial accept got %q", got)
		}
		c.onRecv = nil
		pc.Send([]byte("ij"))
		e.run()
		if len(c.inds) != 2 || string(c.got) != "ij" {
			t.Fatalf("indications did not resume: %d, got %q", len(c.inds), c.got)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("STATUS_DATA_NOT_ACCEPTED", func(t *testing.T) {
		e := newEnv(t)
		c := &evConn{}
		e.pin(wsk.ChoiceReceivePartial, 0)
		c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status { return nt.STATUS_DATA_NOT_ACCEPTED }
		l, a, pc := e.evPair("7005", c, nt.WSK_EVENT_RECEIVE)
		pc.Send([]byte("xyz"))
		e.run()
		if got := e.recv(a, 64); string(got) != "xyz" {
			t.Fatalf("WskReceive got %q", got)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("STATUS_PENDING-WskRelease", func(t *testing.T) {
		e := newEnv(t)
		c := &evConn{}
		c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING }
		l, a, pc := e.evPair("7006", c, nt.WSK_EVENT_RECEIVE)
		pc.Send([]byte("keep"))
		e.run()
		if r := a.Retained(); len(r) != 1 || string(r[0].Buffers[0]) != "keep" {
			t.Fatalf("retained %v", r)
		}
		e.mustStatus("WskRelease", e.p.WskRelease(a, c.inds[0]), nt.STATUS_SUCCESS)
		if len(a.Retained()) != 0 {
			t.Fatal("released indication still retained")
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("NULL-indication-on-graceful-disconnect", func(t *testing.T) {
		e := newEnv(t)
		c := &evConn{}
		l, a, pc := e.evPair("7007", c, nt.WSK_EVENT_RECEIVE)
		pc.Close()
		e.run()
		if c.nulls != 1 {
			t.Fatalf("NULL indications %d, want 1", c.nulls)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	})
	t.Run("pending-WskReceive-vs-callback", func(t *testing.T) {
		for _, target := range []int{0, 1} {
			e := newEnv(t)
			e.pin(wsk.ChoiceEventReceiveTarget, target)
			c := &evConn{}
			l, a, pc := e.evPair("7008", c, nt.WSK_EVENT_RECEIVE)
			b := e.pool(nil, 16)
			i := e.newIRP()
			e.mustStatus("WskReceive", e.p.WskReceive(a, &wsk.Buf{Block: b, Length: 16}, 0, i), nt.STATUS_PENDING)
			pc.Send([]byte("race"))
			e.run()
			if target == 0 && (len(e.completionsOf(i)) != 1 || len(c.inds) != 0) {
				t.Fatalf("irp: completions %d, indications %d", len(e.completionsOf(i)), len(c.inds))
			}
			if target == 1 && (len(e.completionsOf(i)) != 0 || string(c.got) != "race") {
				t.Fatalf("callback: completions %d, got %q", len(e.completionsOf(i)), c.got)
			}
			e.close(a)
			e.run()
			e.m.IoFreeIrp(i)
			e.free(b)
			e.close(l.s)
			e.teardown()
		}
	})
}

func TestDisconnectEvent(t *testing.T) {
	for _, abortive := range []bool{false, true} {
		e := newEnv(t)
		c := &evConn{}
		l, a, pc := e.evPair("7010", c, nt.WSK_EVENT_DISCONNECT)
		if abortive {
			pc.Reset()
		} else {
			pc.Close()
		}
		e.run()
		want := uint32(0)
		if abortive {
			want = wsk.WSK_FLAG_ABORTIVE
		}
		if len(c.discs) != 1 || c.discs[0]&wsk.WSK_FLAG_ABORTIVE != want {
			t.Fatalf("abortive %v: WskDisconnectEvent flags %v", abortive, c.discs)
		}
		e.close(a)
		e.close(l.s)
		e.teardown()
	}
}

func TestSendBacklogEvent(t *testing.T) {
	e := newEnv(t)
	c := &evConn{}
	l, a, _ := e.evPair("7011", c, nt.WSK_EVENT_SEND_BACKLOG)
	if len(c.backlogs) != 1 || c.backlogs[0] != wsk.IdealSendBacklog {
		t.Fatalf("WskSendBacklogEvent calls %v", c.backlogs)
	}
	e.close(a)
	e.close(l.s)
	e.teardown()
}

func TestEventIRQL(t *testing.T) {
	for lvl, flag := range []uint32{0, wsk.WSK_FLAG_AT_DISPATCH_LEVEL} {
		e := newEnv(t)
		e.pin(wsk.ChoiceEventIRQL, lvl)
		l := e.evListen("7012", nt.STATUS_REQUEST_NOT_ACCEPTED, nil, false)
		e.peer("127.0.0.1:7012")
		e.run()
		if len(l.flags) != 1 || l.flags[0] != flag {
			t.Fatalf("level %d: flags %v", lvl, l.flags)
		}
		e.close(l.s)
		e.teardown()
	}
}

func TestReceiveFromEvent(t *testing.T) {
	e := newEnv(t)
	var got []wsk.DatagramIndication
	var ans nt.Status = nt.STATUS_SUCCESS
	var retained *wsk.Indication
	d := &wsk.Events{WskReceiveFromEvent: func(ev *wsk.ReceiveFromEvent) nt.Status {
		got = append(got, ev.DataIndication.Datagrams...)
		if ans == nt.STATUS_PENDING {
			retained = ev.DataIndication
		}
		return ans
	}}
	s := e.evSocket(nt.AF_INET, nt.WSK_FLAG_DATAGRAM_SOCKET, "udp", d)
	e.mustStatus("WskBind", e.bind(s, "127.0.0.1:5353"), nt.STATUS_SUCCESS)
	e.mustStatus("SO_WSK_EVENT_CALLBACK", e.setEvents(s, nt.WSK_EVENT_RECEIVE_FROM), nt.STATUS_SUCCESS)
	pu, err := e.p.PeerUDPBind(e.p.System(), ap("127.0.0.1:6000"))
	if err != nil {
		t.Fatal(err)
	}
	pu.SendTo(ap("127.0.0.1:5353"), []byte("one"))
	e.run()
	if len(got) != 1 || string(got[0].Buffer) != "one" || got[0].RemoteAddress != ap("127.0.0.1:6000") {
		t.Fatalf("datagrams %+v", got)
	}
	ans = nt.STATUS_PENDING
	pu.SendTo(ap("127.0.0.1:5353"), []byte("two"))
	e.run()
	if retained == nil || len(s.Retained()) != 1 {
		t.Fatal("STATUS_PENDING did not retain the indication")
	}
	e.mustStatus("WskRelease", e.p.WskRelease(s, retained), nt.STATUS_SUCCESS)
	ans = nt.STATUS_DATA_NOT_ACCEPTED
	pu.SendTo(ap("127.0.0.1:5353"), []byte("three"))
	e.run()
	n := len(got)
	b := e.pool(nil, 16)
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 16}, 0, nil, nil, nil, nil, i)
	})
	if c.status != nt.STATUS_SUCCESS || string(b.Bytes()[:c.info]) != "three" {
		t.Fatalf("WskReceiveFrom after STATUS_DATA_NOT_ACCEPTED: %v %q", c.status, b.Bytes()[:c.info])
	}
	e.free(b)
	ans = nt.STATUS_SUCCESS
	pu.SendTo(ap("127.0.0.1:5353"), []byte("four"))
	e.run()
	if len(got) != n+1 || string(got[n].Buffer) != "four" {
		t.Fatalf("indications did not resume: %d", len(got))
	}
	pu.Close()
	e.close(s)
	e.teardown()
}

// TestReceiveFromEventRedirected: a redirected datagram's records and
// context arrive as the indication's control information (item 5).
func TestReceiveFromEventRedirected(t *testing.T) {
	e := newEnv(t)
	var got []wsk.DatagramIndication
	d := &wsk.Events{WskReceiveFromEvent: func(ev *wsk.ReceiveFromEvent) nt.Status {
		got = append(got, ev.DataIndication.Datagrams...)
		return nt.STATUS_SUCCESS
	}}
	s := e.evSocket(nt.AF_INET, nt.WSK_FLAG_DATAGRAM_SOCKET, "udp", d)
	e.mustStatus("WskBind", e.bind(s, "127.0.0.1:9053"), nt.STATUS_SUCCESS)
	e.mustStatus("SO_WSK_EVENT_CALLBACK", e.setEvents(s, nt.WSK_EVENT_RECEIVE_FROM), nt.STATUS_SUCCESS)
	if _, err := e.p.RedirectedDatagram("app", ap("10.0.0.1:40000"), ap("198.51.100.7:53"), ap("127.0.0.1:9053"), "HU", []byte("orig"), wsk.SystemPID, []byte("query")); err != nil {
		t.Fatal(err)
	}
	e.run()
	if len(got) != 1 || string(got[0].Buffer) != "query" {
		t.Fatalf("datagrams %+v", got)
	}
	cms, err := wsk.ParseCMSG(got[0].ControlInfo)
	if err != nil || len(cms) == 0 {
		t.Fatalf("control info %x: %v", got[0].ControlInfo, err)
	}
	hasCtx := false
	for _, c := range cms {
		if bytes.Contains(c.Data, []byte("orig")) {
			hasCtx = true
		}
	}
	if !hasCtx {
		t.Fatalf("the redirect context is not in the control information: %+v", cms)
	}
	e.close(s)
	e.teardown()
}

// TestAcceptEventRedirected: a redirected connection taken by
// WskAcceptEvent answers the QUERY IOCTLs like one taken by WskAccept.
func TestAcceptEventRedirected(t *testing.T) {
	e := newEnv(t)
	l := e.evListen("9000", nt.STATUS_SUCCESS, nil, false)
	if _, err := e.p.RedirectedConnect("app1", ap("10.0.0.1:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte("original-destination"), 4); err != nil {
		t.Fatal(err)
	}
	e.run()
	if len(l.accepted) != 1 {
		t.Fatalf("accepted %d", len(l.accepted))
	}
	a := l.accepted[0]
	if !a.Redirected() {
		t.Fatal("the accepted socket is not redirected")
	}
	out := e.pool(nil, 256)
	var osr uint64
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskControlSocket(a, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 0, 0, nil, 256, out, &osr, i)
	})
	if c.status != nt.STATUS_SUCCESS || string(out.Bytes()[:osr]) != "original-destination" {
		t.Fatalf("QUERY_CONTEXT: %v %q", c.status, out.Bytes()[:osr])
	}
	_, c = e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskControlSocket(a, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 256, out, &osr, i)
	})
	if c.status != nt.STATUS_SUCCESS || osr == 0 {
		t.Fatalf("QUERY_RECORDS: %v %d", c.status, osr)
	}
	e.free(out)
	e.close(a)
	e.close(l.s)
	e.teardown()
}

func TestStaticEventCallbacks(t *testing.T) {
	e := newEnv(t)
	l := e.evListen("40007", nt.STATUS_SUCCESS, nil, true)
	if l.s.EventMask() != nt.WSK_EVENT_ACCEPT {
		t.Fatalf("static mask %#x", l.s.EventMask())
	}
	e.peer("127.0.0.1:40007")
	e.run()
	if len(l.accepted) != 1 {
		t.Fatalf("accepted %d", len(l.accepted))
	}
	e.close(l.accepted[0])
	e.close(l.s)
	e.teardown()
}

func TestDisableWhileInCallback(t *testing.T) {
	for _, withIRP := range []bool{false, true} {
		e := newEnv(t)
		c := &evConn{}
		var st nt.Status
		var dis *irp.IRP
		l, a, pc := e.evPair("7013", c, nt.WSK_EVENT_RECEIVE)
		b := e.pool(wsk.EventCallbackControl(nt.WSK_EVENT_RECEIVE|nt.WSK_EVENT_DISABLE), wsk.EventCallbackControlSize)
		c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status {
			if withIRP {
				dis = e.newIRP()
			}
			st = e.p.WskControlSocket(a, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, b, 0, nil, nil, dis)
			ev.BytesAccepted = ev.BytesIndicated
			return nt.STATUS_SUCCESS
		}
		pc.Send([]byte("x"))
		e.run()
		want := nt.STATUS_EVENT_PENDING
		if withIRP {
			want = nt.STATUS_PENDING
			if cs := e.completionsOf(dis); len(cs) != 1 || cs[0].status != nt.STATUS_SUCCESS {
				t.Fatalf("the disable IRP completed %v", cs)
			}
			e.m.IoFreeIrp(dis)
		}
		if st != want {
			t.Fatalf("disable inside the callback: %v, want %v", st, want)
		}
		pc.Send([]byte("y"))
		e.run()
		if len(c.inds) != 1 {
			t.Fatalf("a disabled WskReceiveEvent was called again (%d)", len(c.inds))
		}
		e.free(b)
		e.close(a)
		e.close(l.s)
		e.teardown()
	}
}

func TestNoCallbackAfterClose(t *testing.T) {
	e := newEnv(t)
	c := &evConn{}
	l, a, pc := e.evPair("7014", c, nt.WSK_EVENT_RECEIVE|nt.WSK_EVENT_DISCONNECT)
	pc.Send([]byte("late")) // queued: the indication is due
	e.close(a)              // closes before the world delivers it
	pc.Close()
	e.run()
	if len(c.inds) != 0 || len(c.discs) != 0 {
		t.Fatalf("callbacks after WskCloseSocket completed: %d indications, %d disconnects", len(c.inds), len(c.discs))
	}
	e.close(l.s)
	e.teardown()
}

func TestTransportListQuery(t *testing.T) {
	e := newEnv(t)
	var n uint64
	st := e.p.WskControlClient(e.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, 0, nil, &n, nil)
	if st != nt.STATUS_BUFFER_OVERFLOW || n == 0 {
		t.Fatalf("probe: %v %d", st, n)
	}
	b := e.pool(nil, int(n))
	e.mustStatus("WSK_TRANSPORT_LIST_QUERY", e.p.WskControlClient(e.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, n, b, &n, nil), nt.STATUS_SUCCESS)
	ts := wsk.ParseTransports(b.Bytes()[:n])
	if len(ts) != 4 || ts[0].Protocol != nt.IPPROTO_TCP || ts[3].AddressFamily != nt.AF_INET6 {
		t.Fatalf("transports %+v", ts)
	}
	e.free(b)
	in := e.pool([]byte{1, 0, 0, 0}, 4)
	e.mustStatus("WSK_TDI_BEHAVIOR", e.p.WskControlClient(e.npi.Client, wsk.WSK_TDI_BEHAVIOR, 4, in, 0, nil, nil, nil), nt.STATUS_SUCCESS)
	e.free(in)
	e.teardown()
}

func (e *env) cacheSD() uint64 {
	e.t.Helper()
	in := e.pool([]byte{0x10, 0x20, 0, 0, 0, 0x80, 0xff, 0xff}, 8)
	out := e.pool(nil, 8)
	defer e.free(in)
	defer e.free(out)
	e.mustStatus("WSK_CACHE_SD", e.p.WskControlClient(e.npi.Client, wsk.WSK_CACHE_SD, 8, in, 8, out, nil, nil), nt.STATUS_SUCCESS)
	return binary.LittleEndian.Uint64(out.Bytes())
}

func (e *env) releaseSD(sd uint64) nt.Status {
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], sd)
	in := e.pool(v[:], 8)
	defer e.free(in)
	return e.p.WskControlClient(e.npi.Client, wsk.WSK_RELEASE_SD, 8, in, 0, nil, nil, nil)
}

func TestCacheSD(t *testing.T) {
	e := newEnv(t)
	sd := e.cacheSD()
	if e.p.CachedSDs(e.npi.Client) != 1 {
		t.Fatal("not cached")
	}
	e.mustStatus("WSK_RELEASE_SD", e.releaseSD(sd), nt.STATUS_SUCCESS)
	if e.p.CachedSDs(e.npi.Client) != 0 {
		t.Fatal("not released")
	}
	e.teardown()
}

func eventRuleCases() []ruleCase {
	return []ruleCase{
		{wsk.RuleEventMask, func(e *env) {
			l := e.evListen("7100", nt.STATUS_SUCCESS, nil, false)
			e.mustStatus("mask", e.setEvents(l.s, nt.WSK_EVENT_RECEIVE_FROM), nt.STATUS_INVALID_PARAMETER)
		}, func(e *env) {
			l := e.evListen("7100", nt.STATUS_SUCCESS, nil, false)
			e.mustStatus("mask", e.setEvents(l.s, nt.WSK_EVENT_ACCEPT|nt.WSK_EVENT_DISABLE), nt.STATUS_SUCCESS)
		}},
		{wsk.RuleEventState, func(e *env) {
			s := e.evSocket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil, &wsk.Events{WskAcceptEvent: func(*wsk.AcceptEvent) nt.Status { return nt.STATUS_SUCCESS }})
			e.mustStatus("unbound", e.setEvents(s, nt.WSK_EVENT_ACCEPT), nt.STATUS_INVALID_DEVICE_STATE)
		}, func(e *env) {
			e.evListen("7101", nt.STATUS_SUCCESS, nil, false)
		}},
		{wsk.RuleEventEnableIRP, func(e *env) {
			l := e.evListen("7102", nt.STATUS_SUCCESS, nil, false)
			b := e.pool(wsk.EventCallbackControl(nt.WSK_EVENT_ACCEPT|nt.WSK_EVENT_DISABLE), wsk.EventCallbackControlSize)
			e.mustStatus("disable", e.p.WskControlSocket(l.s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, 16, b, 0, nil, nil, nil), nt.STATUS_SUCCESS)
			copy(b.Bytes(), wsk.EventCallbackControl(nt.WSK_EVENT_ACCEPT))
			e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskControlSocket(l.s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, 16, b, 0, nil, nil, i)
			})
		}, func(e *env) {
			l := e.evListen("7102", nt.STATUS_SUCCESS, nil, false)
			b := e.pool(wsk.EventCallbackControl(nt.WSK_EVENT_ACCEPT|nt.WSK_EVENT_DISABLE), wsk.EventCallbackControlSize)
			e.do(func(i *irp.IRP) nt.Status { // disabling may take an IRP
				return e.p.WskControlSocket(l.s, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, 16, b, 0, nil, nil, i)
			})
		}},
		{wsk.RuleEventNoHandler, func(e *env) {
			s := e.evSocket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil, &wsk.Events{})
			e.bind(s, "127.0.0.1:7103")
			e.mustStatus("no handler", e.setEvents(s, nt.WSK_EVENT_ACCEPT), nt.STATUS_INVALID_PARAMETER)
		}, func(e *env) {
			e.evListen("7103", nt.STATUS_SUCCESS, nil, false)
		}},
		{wsk.RuleStaticLate, func(e *env) {
			e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
			e.mustStatus("late", e.staticEvents(nt.WSK_EVENT_ACCEPT), nt.STATUS_INVALID_DEVICE_STATE)
		}, func(e *env) {
			e.mustStatus("early", e.staticEvents(nt.WSK_EVENT_ACCEPT), nt.STATUS_SUCCESS)
			e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
		}},
		{wsk.RuleStaticChange, func(e *env) {
			l := e.evListen("7104", nt.STATUS_SUCCESS, nil, true)
			e.mustStatus("disable static", e.setEvents(l.s, nt.WSK_EVENT_ACCEPT|nt.WSK_EVENT_DISABLE), nt.STATUS_INVALID_DEVICE_STATE)
		}, func(e *env) {
			e.evListen("7104", nt.STATUS_SUCCESS, nil, true)
		}},
		{wsk.RuleEventReturn, func(e *env) {
			c := &evConn{onRecv: func(ev *wsk.ReceiveEvent) nt.Status {
				ev.BytesAccepted = ev.BytesIndicated + 1
				return nt.STATUS_SUCCESS
			}}
			_, _, pc := e.evPair("7105", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
		}, func(e *env) {
			c := &evConn{}
			_, _, pc := e.evPair("7105", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
		}},
		{wsk.RuleReleaseIndication, func(e *env) {
			c := &evConn{}
			_, a, pc := e.evPair("7106", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
			e.mustStatus("WskRelease", e.p.WskRelease(a, c.inds[0]), nt.STATUS_INVALID_PARAMETER) // accepted, not retained
		}, func(e *env) {
			c := &evConn{onRecv: func(*wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING }}
			_, a, pc := e.evPair("7106", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
			e.mustStatus("WskRelease", e.p.WskRelease(a, c.inds[0]), nt.STATUS_SUCCESS)
		}},
		{wsk.RuleRetainedAtClose, func(e *env) {
			c := &evConn{onRecv: func(*wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING }}
			_, a, pc := e.evPair("7107", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
			e.close(a)
		}, func(e *env) {
			c := &evConn{onRecv: func(*wsk.ReceiveEvent) nt.Status { return nt.STATUS_PENDING }}
			_, a, pc := e.evPair("7107", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("a"))
			e.run()
			e.p.WskRelease(a, c.inds[0])
			e.close(a)
		}},
		{wsk.RuleEventWait, func(e *env) {
			c := &evConn{}
			var a *wsk.Socket
			c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status {
				b := e.pool(ev.DataIndication.Buffers[0], len(ev.DataIndication.Buffers[0]))
				e.do(func(i *irp.IRP) nt.Status { // waits for the send inside the callback
					return e.p.WskSend(a, &wsk.Buf{Block: b, Length: ev.BytesIndicated}, 0, i)
				})
				ev.BytesAccepted = ev.BytesIndicated
				return nt.STATUS_SUCCESS
			}
			e.pin(wsk.ChoiceSendComplete, 1)
			_, a, pc := e.evPair("7108", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("echo"))
			e.run()
		}, func(e *env) {
			c := &evConn{}
			var a *wsk.Socket
			c.onRecv = func(ev *wsk.ReceiveEvent) nt.Status {
				b := e.pool(ev.DataIndication.Buffers[0], len(ev.DataIndication.Buffers[0]))
				e.p.WskSend(a, &wsk.Buf{Block: b, Length: ev.BytesIndicated}, 0, e.newIRP()) // starts the send, returns
				ev.BytesAccepted = ev.BytesIndicated
				return nt.STATUS_SUCCESS
			}
			e.pin(wsk.ChoiceSendComplete, 1)
			_, a, pc := e.evPair("7108", c, nt.WSK_EVENT_RECEIVE)
			pc.Send([]byte("echo"))
			e.run()
		}},
		{wsk.RuleReleaseSD, func(e *env) {
			sd := e.cacheSD()
			e.releaseSD(sd)
			e.mustStatus("second WSK_RELEASE_SD", e.releaseSD(sd), nt.STATUS_INVALID_PARAMETER)
		}, func(e *env) {
			e.releaseSD(e.cacheSD())
		}},
	}
}

// TestCallbackIRQL: a callback at DISPATCH_LEVEL (WSK_FLAG_AT_DISPATCH_LEVEL)
// may not make a PASSIVE_LEVEL call: WSK_TRANSPORT_LIST_QUERY from inside it
// is IRQL-ABOVE-MAX; at PASSIVE_LEVEL it is not.
func TestCallbackIRQL(t *testing.T) {
	for lvl, want := range []bool{false, true} {
		e := newEnv(t)
		e.pin(wsk.ChoiceEventIRQL, lvl)
		var n uint64
		c := &evConn{onRecv: func(ev *wsk.ReceiveEvent) nt.Status {
			e.p.WskControlClient(e.npi.Client, wsk.WSK_TRANSPORT_LIST_QUERY, 0, nil, 0, nil, &n, nil)
			ev.BytesAccepted = ev.BytesIndicated
			return nt.STATUS_SUCCESS
		}}
		l, a, pc := e.evPair("7015", c, nt.WSK_EVENT_RECEIVE)
		pc.Send([]byte("x"))
		e.run()
		if got := e.violated("IRQL-ABOVE-MAX"); got != want {
			t.Fatalf("callback IRQL option %d: IRQL-ABOVE-MAX %v, want %v\n%s", lvl, got, want, e.violations())
		}
		if e.w.IRQL() != nt.PASSIVE_LEVEL {
			t.Fatalf("the IRQL was not restored after the callback: %v", e.w.IRQL())
		}
		e.close(a)
		e.close(l.s)
	}
}
