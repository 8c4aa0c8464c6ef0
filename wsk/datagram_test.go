package wsk_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// Datagram sockets and the UDP redirect path (datagram.go).

var dnsServer = netip.MustParseAddrPort("198.51.100.7:53")

func (l *lab) dgSocket(owner *wsk.Process, bindTo string) *wsk.Socket {
	l.t.Helper()
	iosb := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSocket(l.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, owner, nil, nil, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskSocket(datagram): %v", iosb.Status)
	}
	s := l.p.SocketFromInformation(iosb.Information)
	if bindTo != "" {
		if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, ap(bindTo), 0, i) }).Status; st != nt.STATUS_SUCCESS {
			l.t.Fatalf("WskBind(%s): %v", bindTo, st)
		}
	}
	return s
}

// sendTo sends data to `to` with optional control information and returns
// the completion.
func (l *lab) sendTo(s *wsk.Socket, to netip.AddrPort, data, control []byte) irp.IoStatusBlock {
	b := l.pool(data, uint64(len(data))+1)
	defer l.free(b)
	var cb *irp.Block
	if control != nil {
		cb = l.pool(control, uint64(len(control)))
		defer l.free(cb)
	}
	return l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: b, Length: uint64(len(data))}, 0, &to, uint32(len(control)), cb, i)
	})
}

type received struct {
	iosb    irp.IoStatusBlock
	data    []byte
	from    netip.AddrPort
	control []byte
	flags   uint32
}

// receiveFrom receives one datagram into a size-byte buffer with ctlSize
// bytes for control information.
func (l *lab) receiveFrom(s *wsk.Socket, size, ctlSize uint32) received {
	b := l.pool(nil, uint64(size)+1)
	defer l.free(b)
	cb := l.pool(nil, uint64(ctlSize)+1)
	defer l.free(cb)
	var r received
	cl := ctlSize
	r.iosb = l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: uint64(size)}, 0, &r.from, &cl, cb, &r.flags, i)
	})
	r.data = append([]byte(nil), b.Bytes()[:r.iosb.Information]...)
	r.control = append([]byte(nil), cb.Bytes()[:cl]...)
	return r
}

func TestDatagramEcho(t *testing.T) {
	l := newLab(t, simConfig(1), false)
	server, err := l.p.PeerUDPBind(l.p.System(), dnsServer)
	if err != nil {
		t.Fatal(err)
	}
	s := l.dgSocket(nil, "10.0.0.1:5353")
	if iosb := l.sendTo(s, dnsServer, []byte("query"), nil); iosb.Status != nt.STATUS_SUCCESS || iosb.Information != 5 {
		t.Fatalf("WskSendTo: %v/%d, want STATUS_SUCCESS/5", iosb.Status, iosb.Information)
	}
	dg, ok := server.Receive()
	if !ok || string(dg.Data) != "query" || dg.From != ap("10.0.0.1:5353") {
		t.Fatalf("server received %+v (%v), want query from 10.0.0.1:5353", dg, ok)
	}
	if _, err := server.SendTo(dg.From, []byte("answer, long")); err != nil {
		t.Fatal(err)
	}
	r := l.receiveFrom(s, 64, 64)
	if r.iosb.Status != nt.STATUS_SUCCESS || string(r.data) != "answer, long" || r.from != dnsServer || len(r.control) != 0 || r.flags != 0 {
		t.Fatalf("WskReceiveFrom: %+v", r)
	}
	// A datagram larger than the buffer: truncated, MSG_TRUNC, the rest gone.
	server.SendTo(dg.From, []byte("0123456789"))
	r = l.receiveFrom(s, 4, 0)
	if r.iosb.Status != nt.STATUS_SUCCESS || string(r.data) != "0123" || r.flags != wsk.MSG_TRUNC {
		t.Fatalf("truncated WskReceiveFrom: %+v", r)
	}
	l.w.SetPolicy(wsk.PolicyDgTrunc, "STATUS_BUFFER_OVERFLOW")
	server.SendTo(dg.From, []byte("0123456789"))
	if r = l.receiveFrom(s, 4, 0); r.iosb.Status != nt.STATUS_BUFFER_OVERFLOW || string(r.data) != "0123" || r.flags != wsk.MSG_TRUNC {
		t.Fatalf("truncated WskReceiveFrom under P-DGTRUNC=STATUS_BUFFER_OVERFLOW: %+v", r)
	}
	l.close(s)
	server.Close()
	if v := l.finish(); v != "" {
		t.Fatalf("violations:\n%s", v)
	}
}

// A WskReceiveFrom with nothing queued pends until a datagram arrives; one
// that WskCloseSocket finds waiting is cancelled.
func TestDatagramReceivePends(t *testing.T) {
	l := newLab(t, simConfig(2), false)
	s := l.dgSocket(nil, "10.0.0.1:5353")
	b := l.pool(nil, 16)
	var from netip.AddrPort
	iosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
	i := l.m.IoAllocateIrp(1, false)
	l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
	if st := l.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 16}, 0, &from, nil, nil, nil, i); st != nt.STATUS_PENDING {
		t.Fatalf("WskReceiveFrom with nothing queued returned %v, want STATUS_PENDING", st)
	}
	l.w.RunUntilIdle()
	if iosb.Status != nt.STATUS_PENDING {
		t.Fatalf("completed with %v before any datagram", iosb.Status)
	}
	peer, _ := l.p.PeerUDPBind(l.p.System(), ap("198.51.100.9:7"))
	peer.SendTo(ap("10.0.0.1:5353"), []byte("hi"))
	l.w.RunUntilIdle()
	if iosb.Status != nt.STATUS_SUCCESS || iosb.Information != 2 || from != ap("198.51.100.9:7") || string(b.Bytes()[:2]) != "hi" {
		t.Fatalf("pending WskReceiveFrom completed %v/%d from %v", iosb.Status, iosb.Information, from)
	}
	l.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
	iosb.Status = nt.STATUS_PENDING
	l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
	l.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 16}, 0, nil, nil, nil, nil, i)
	l.close(s)
	if iosb.Status != nt.STATUS_CANCELLED {
		t.Fatalf("a receive waiting at close completed with %v, want STATUS_CANCELLED (P-CLOSE)", iosb.Status)
	}
	l.m.IoFreeIrp(i)
	l.free(b)
	if v := l.finish(); v != "" {
		t.Fatalf("violations:\n%s", v)
	}
}

// Misuse: unbound, NULL RemoteAddress, a length without a buffer, reserved
// Flags, a malformed ControlInfo, a datagram call on a connection socket.
func TestDatagramMisuse(t *testing.T) {
	l := newLab(t, simConfig(3), false)
	s := l.dgSocket(nil, "")
	if st := l.sendTo(s, dnsServer, []byte("x"), nil).Status; st != nt.STATUS_INVALID_DEVICE_STATE {
		t.Errorf("WskSendTo unbound: %v, want STATUS_INVALID_DEVICE_STATE", st)
	}
	if st := l.receiveFrom(s, 4, 0).iosb.Status; st != nt.STATUS_INVALID_DEVICE_STATE {
		t.Errorf("WskReceiveFrom unbound: %v, want STATUS_INVALID_DEVICE_STATE", st)
	}
	l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, ap("10.0.0.1:0"), 0, i) })
	b := l.pool([]byte("x"), 8)
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: b, Length: 1}, 0, nil, 0, nil, i)
	}).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Errorf("WskSendTo with a NULL RemoteAddress: %v", st)
	}
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: b, Length: 1}, 0, &dnsServer, 16, nil, i)
	}).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Errorf("WskSendTo with ControlInfoLength 16 and no ControlInfo: %v", st)
	}
	bad := wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_RECORDS, []byte{1, 2, 3})
	bad[0] = 200 // cmsg_len past the buffer
	if st := l.sendTo(s, dnsServer, []byte("x"), bad).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Errorf("WskSendTo with a malformed ControlInfo: %v", st)
	}
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: b, Length: 1}, 1, &dnsServer, 0, nil, i)
	}).Status; st != nt.STATUS_SUCCESS {
		t.Errorf("WskSendTo with Flags 1: %v (reported, then sent)", st)
	}
	huge := uint64(wsk.MaxDatagram + 1)
	hb := l.pool(nil, huge)
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: hb, Length: huge}, 0, &dnsServer, 0, nil, i)
	}).Status; st != nt.STATUS_INVALID_BUFFER_SIZE {
		t.Errorf("WskSendTo of %d bytes: %v, want STATUS_INVALID_BUFFER_SIZE", huge, st)
	}
	l.free(hb)
	conn := l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	ci := l.m.IoAllocateIrp(1, false)
	if st := l.p.WskSendTo(conn, &wsk.Buf{Block: b, Length: 1}, 0, &dnsServer, 0, nil, ci); st != nt.STATUS_INVALID_DEVICE_REQUEST {
		t.Errorf("WskSendTo on a connection socket: %v, want STATUS_INVALID_DEVICE_REQUEST (refused, IRP untouched)", st)
	}
	l.m.IoFreeIrp(ci)
	l.free(b)
	l.close(conn)
	l.close(s)
	got := l.finish()
	for _, want := range []string{
		"WSK-NOT-BOUND", "WskSendTo on sock1, a datagram socket that is not bound",
		"WskReceiveFrom on sock1, a datagram socket that is not bound",
		"WSK-NULL-ARGUMENT", "WskSendTo with a NULL RemoteAddress",
		"WskSendTo with ControlInfoLength 16 and a NULL ControlInfo",
		"WSK-RESERVED-FLAGS", "WskSendTo with Flags != 0",
		"WSK-CATEGORY-DISPATCH",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}

// udpVendor redirects UDP flows to 198.51.100.7:53 to a local DNS proxy at
// 127.0.0.1:5300 owned by pid 500, with the original destination as the
// redirect context (the vendor of proxy_test.go, at the same layer).
func udpVendor(l *lab) *vendor {
	return l.addVendor("V", 10, dnsServer, ap("127.0.0.1:5300"), 500, otherLeave)
}

// TestUDPProxyFlow is the UDP variant of the proxy flow (semantics §7.8):
// the application's first datagram is redirected to the proxy, which gets
// the records and the context as control information with it, and sends to
// the original destination with the records as control information of its
// own first datagram, so the vendor's callout leaves it alone.
func TestUDPProxyFlow(t *testing.T) {
	for _, forward := range []bool{true, false} {
		name := "records-forwarded"
		if !forward {
			name = "records-dropped"
		}
		t.Run(name, func(t *testing.T) {
			l := newLab(t, simConfig(4), true)
			v := udpVendor(l)
			proxyProc, _ := l.p.AddProcess(500, "dnsproxy", true)
			appProc, _ := l.p.AddProcess(600, "app", false)
			server, _ := l.p.PeerUDPBind(l.p.System(), dnsServer)
			app, err := l.p.PeerUDPBind(appProc, ap("10.0.0.1:40000"))
			if err != nil {
				t.Fatal(err)
			}
			in := l.dgSocket(proxyProc, "127.0.0.1:5300")
			out := l.dgSocket(proxyProc, "10.0.0.1:0")
			if st, _ := app.SendTo(dnsServer, []byte("q1")); st != nt.STATUS_SUCCESS {
				t.Fatalf("app SendTo: %v", st)
			}
			if server.Pending() != 0 {
				t.Fatal("the server got the application's datagram: it was not redirected")
			}
			r := l.receiveFrom(in, 64, 1024)
			if r.iosb.Status != nt.STATUS_SUCCESS || string(r.data) != "q1" || r.from != ap("10.0.0.1:40000") {
				t.Fatalf("proxy WskReceiveFrom: %+v", r)
			}
			cms, err := wsk.ParseCMSG(r.control)
			if err != nil || len(cms) != 2 || cms[0].Type != nt.IP_WFP_REDIRECT_RECORDS || cms[1].Type != nt.IP_WFP_REDIRECT_CONTEXT ||
				cms[0].Level != nt.IPPROTO_IP || string(cms[1].Data) != dnsServer.String() {
				t.Fatalf("control information %x: %+v, %v; want records then context %q", r.control, cms, err, dnsServer.String())
			}
			// A second datagram of the same flow: no new classify, no control.
			app.SendTo(dnsServer, []byte("q2"))
			if r2 := l.receiveFrom(in, 64, 1024); string(r2.data) != "q2" || len(r2.control) != 0 {
				t.Fatalf("second datagram: %+v, want q2 without control information", r2)
			}
			if len(v.seen) != 1 {
				t.Fatalf("the vendor classified %d times, want once for the flow", len(v.seen))
			}
			var ctl []byte
			if forward {
				ctl = wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_RECORDS, cms[0].Data)
			}
			st := l.sendTo(out, dnsServer, []byte("q1"), ctl).Status
			dg, ok := server.Receive()
			l.close(in)
			l.close(out)
			app.Close()
			server.Close()
			v.destroy()
			got := l.finish()
			if forward {
				if st != nt.STATUS_SUCCESS || !ok || string(dg.Data) != "q1" {
					t.Fatalf("the proxy's datagram did not reach the server: %v, %+v", st, dg)
				}
				if v.seen[1] != wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF || got != "" {
					t.Fatalf("vendor saw %v; violations:\n%s", v.seen, got)
				}
				return
			}
			if ok || !strings.Contains(got, "WFP-PROXY-LOOP") {
				t.Fatalf("without the records the proxy's datagram must loop back (WFP-PROXY-LOOP); server got %+v, violations:\n%s", dg, got)
			}
		})
	}
}

// TestUDPControlTruncated: a ControlInfo too small for the records drops
// them (MSG_CTRUNC, ControlLength 0), and a WFP-blocked flow fails with
// P-UDPBLOCK's status.
func TestUDPControlTruncatedAndBlocked(t *testing.T) {
	l := newLab(t, simConfig(5), false)
	v := udpVendor(l)
	proxyProc, _ := l.p.AddProcess(500, "dnsproxy", true)
	appProc, _ := l.p.AddProcess(600, "app", false)
	app, _ := l.p.PeerUDPBind(appProc, ap("10.0.0.1:40000"))
	in := l.dgSocket(proxyProc, "127.0.0.1:5300")
	app.SendTo(dnsServer, []byte("q"))
	r := l.receiveFrom(in, 8, 16)
	if r.iosb.Status != nt.STATUS_SUCCESS || r.flags != wsk.MSG_CTRUNC || len(r.control) != 0 {
		t.Fatalf("WskReceiveFrom with 16 bytes for control: %+v, want MSG_CTRUNC and ControlLength 0", r)
	}
	c, _ := l.e.RegisterCallout("Deny", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		c.Out.ActionType = wfp.FWP_ACTION_BLOCK
	})
	l.e.AddFilter(wfp.Filter{Name: "Deny", Callout: c, Weight: 100, RemoteMatch: ap("198.51.100.8:123")})
	s := l.dgSocket(nil, "10.0.0.1:0")
	if st := l.sendTo(s, ap("198.51.100.8:123"), []byte("t"), nil).Status; st != nt.STATUS_ACCESS_DENIED {
		t.Fatalf("blocked WskSendTo: %v, want STATUS_ACCESS_DENIED", st)
	}
	l.w.SetPolicy(wsk.PolicyUDPBlock, "drop")
	if st := l.sendTo(s, ap("198.51.100.8:123"), []byte("t"), nil).Status; st != nt.STATUS_SUCCESS {
		t.Fatalf("blocked WskSendTo under P-UDPBLOCK=drop: %v, want STATUS_SUCCESS", st)
	}
	l.close(s)
	l.close(in)
	v.destroy()
	if v := l.finish(); v != "" {
		t.Fatalf("violations:\n%s", v)
	}
}

// The control-information codec: parse(append(objects)) gives the objects
// back, and every input either parses or fails with an error (no panic).
func TestCMSGRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 4).Draw(rt, "n")
		var b []byte
		var want []wsk.CMSG
		for k := 0; k < n; k++ {
			c := wsk.CMSG{Level: rapid.Uint32().Draw(rt, "level"), Type: rapid.Uint32().Draw(rt, "type"), Data: rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(rt, "data")}
			want = append(want, c)
			b = wsk.AppendCMSG(b, c.Level, c.Type, c.Data)
		}
		got, err := wsk.ParseCMSG(b)
		if err != nil || len(got) != len(want) {
			rt.Fatalf("ParseCMSG(%x) = %v, %v; want %d objects", b, got, err, len(want))
		}
		for k := range want {
			if got[k].Level != want[k].Level || got[k].Type != want[k].Type || !bytes.Equal(got[k].Data, want[k].Data) {
				rt.Fatalf("object %d: got %+v, want %+v", k, got[k], want[k])
			}
		}
		if len(b)%8 != 0 {
			rt.Fatalf("%d bytes: objects are not 8-byte aligned", len(b))
		}
		junk := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "junk")
		_, _ = wsk.ParseCMSG(junk)
	})
}

func simConfig(seed uint64) sim.Config { return sim.Config{Seed: seed} }

func (l *lab) dgSocket6(bindTo string, v6only bool) *wsk.Socket {
	l.t.Helper()
	iosb := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSocket(l.npi.Client, nt.AF_INET6, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, nil, nil, nil, i)
	})
	s := l.p.SocketFromInformation(iosb.Information)
	if !v6only {
		in := l.pool([]byte{0, 0, 0, 0}, 4)
		if st := l.do(func(i *irp.IRP) nt.Status {
			return l.p.WskControlSocket(s, nt.WskSetOption, nt.IPV6_V6ONLY, nt.IPPROTO_IPV6, 4, in, 0, nil, nil, i)
		}).Status; st != nt.STATUS_SUCCESS {
			l.t.Fatalf("IPV6_V6ONLY=0: %v", st)
		}
		l.free(in)
	}
	if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, ap(bindTo), 0, i) }).Status; st != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskBind(%s): %v", bindTo, st)
	}
	return s
}

// Review findings: which wildcard takes which family (dual-stack-sockets),
// and a dual-stack socket answering an IPv4 sender.
func TestDatagramFamilies(t *testing.T) {
	l := newLab(t, simConfig(6), false)
	v4 := l.dgSocket(nil, "0.0.0.0:5353")
	p6, _ := l.p.PeerUDPBind(l.p.System(), ap("[::1]:4000"))
	p6.SendTo(ap("[::1]:5353"), []byte("v6"))
	if s := l.p.OpenSockets(); s != 1 {
		t.Fatalf("%d sockets", s)
	}
	// 0.0.0.0 takes IPv4 only: nothing is queued for v4 (a receive would pend).
	peek := l.m.IoAllocateIrp(1, false)
	b := l.pool(nil, 8)
	iosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
	l.m.IoSetCompletionRoutine(peek, labRoutine, &iosb, true, true, true)
	l.p.WskReceiveFrom(v4, &wsk.Buf{Block: b, Length: 8}, 0, nil, nil, nil, nil, peek)
	l.w.RunUntilIdle()
	if iosb.Status != nt.STATUS_PENDING {
		t.Fatalf("an AF_INET socket bound to 0.0.0.0 received an IPv6 datagram: %v", iosb.Status)
	}
	l.close(v4) // cancels the receive
	l.m.IoFreeIrp(peek)

	dual := l.dgSocket6("[::]:5354", false)
	p4, _ := l.p.PeerUDPBind(l.p.System(), ap("127.0.0.1:4001"))
	p4.SendTo(ap("127.0.0.1:5354"), []byte("v4"))
	r := l.receiveFrom(dual, 8, 0)
	mapped := ap("[::ffff:127.0.0.1]:4001")
	if r.iosb.Status != nt.STATUS_SUCCESS || r.from != mapped {
		t.Fatalf("dual-stack receive: %+v, want from %v", r, mapped)
	}
	if st := l.sendTo(dual, mapped, []byte("ok"), nil).Status; st != nt.STATUS_SUCCESS {
		t.Fatalf("dual-stack reply to %v: %v", mapped, st)
	}
	if dg, ok := p4.Receive(); !ok || string(dg.Data) != "ok" || dg.From != ap("127.0.0.1:5354") {
		t.Fatalf("the IPv4 peer got %+v, %v", dg, ok)
	}
	v6only := l.dgSocket6("[::1]:5355", true)
	if st := l.sendTo(v6only, mapped, []byte("no"), nil).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Fatalf("IPV6_V6ONLY socket sending to %v: %v, want STATUS_INVALID_PARAMETER", mapped, st)
	}
	l.free(b)
	l.close(dual)
	l.close(v6only)
	p4.Close()
	p6.Close()
	if v := l.finish(); v != "" {
		t.Fatalf("violations:\n%s", v)
	}
}

// Review finding: a cancelled WskBind cannot be taken back once a datagram
// flow uses the address; and a force-closed datagram socket's waiting
// receive completes with STATUS_FILE_FORCED_CLOSED and receives no more.
func TestDatagramBindCancelAndForcedClose(t *testing.T) {
	l := newLab(t, simConfig(7), false)
	l.w.SetPolicy(wsk.PolicyCancel, "cancel")
	server, _ := l.p.PeerUDPBind(l.p.System(), dnsServer)
	s := l.dgSocket(nil, "")
	l.w.Pin(wsk.ChoiceBindComplete, 1) // pending
	bi := l.m.IoAllocateIrp(1, false)
	biosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
	l.m.IoSetCompletionRoutine(bi, labRoutine, &biosb, true, true, true)
	if st := l.p.WskBind(s, ap("10.0.0.1:5353"), 0, bi); st != nt.STATUS_PENDING {
		t.Fatalf("WskBind: %v, want STATUS_PENDING", st)
	}
	l.w.Unpin(wsk.ChoiceBindComplete)
	l.sendTo(s, dnsServer, []byte("a"), nil)
	l.m.IoCancelIrp(bi)
	l.w.RunUntilIdle()
	if biosb.Status != nt.STATUS_SUCCESS {
		t.Fatalf("the bind a datagram flow depends on was taken back: %v", biosb.Status)
	}
	l.m.IoFreeIrp(bi)
	if dg, _ := server.Receive(); dg.From != ap("10.0.0.1:5353") {
		t.Fatalf("datagram from %v", dg.From)
	}
	// Forced close.
	b := l.pool(nil, 8)
	ri := l.m.IoAllocateIrp(1, false)
	riosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
	l.m.IoSetCompletionRoutine(ri, labRoutine, &riosb, true, true, true)
	l.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 8}, 0, nil, nil, nil, nil, ri)
	l.p.ForceClose(s)
	l.w.RunUntilIdle()
	if riosb.Status != nt.STATUS_FILE_FORCED_CLOSED {
		t.Fatalf("waiting receive on a force-closed socket: %v, want STATUS_FILE_FORCED_CLOSED", riosb.Status)
	}
	server.SendTo(ap("10.0.0.1:5353"), []byte("late"))
	l.m.IoFreeIrp(ri)
	l.free(b)
	l.close(s)
	server.Close()
	if v := l.finish(); v != "" {
		t.Fatalf("violations:\n%s", v)
	}
}

// ParseCMSG walks like WSA_CMSG_NXTHDR: a tail shorter than a header ends
// the walk; a cmsg_len past the end or shorter than a header is an error.
func TestParseCMSGTail(t *testing.T) {
	b := wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_CONTEXT, []byte("ctx"))
	if cms, err := wsk.ParseCMSG(append(b, make([]byte, 15)...)); err != nil || len(cms) != 1 {
		t.Fatalf("a 15-byte tail: %v, %v", cms, err)
	}
	bad := append([]byte(nil), b...)
	bad[0] = 8
	if _, err := wsk.ParseCMSG(bad); err == nil || !strings.Contains(err.Error(), "cmsg_len 8 at offset 0") {
		t.Fatalf("cmsg_len 8: err %v, want one naming cmsg_len and offset", err)
	}
}

// Bad input to the datagram API: errors or refusals, never a panic.
func TestDatagramBadInput(t *testing.T) {
	l := newLab(t, simConfig(8), false)
	var nilPeer *wsk.PeerUDP
	if _, err := nilPeer.SendTo(dnsServer, nil); err == nil || !strings.Contains(err.Error(), "wsk.PeerUDP.SendTo: nil endpoint") {
		t.Errorf("SendTo on a nil endpoint: %v", err)
	}
	if _, ok := nilPeer.Receive(); ok || nilPeer.Pending() != 0 || nilPeer.Name() != "NULL" {
		t.Error("a nil endpoint reports something")
	}
	nilPeer.Close()
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"0.0.0.0:53", "invalid address"},
		{"198.51.100.7:0", "needs a port"},
	} {
		if _, err := l.p.PeerUDPBind(l.p.System(), ap(tc.addr)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PeerUDPBind(%s): %v, want an error saying %q", tc.addr, err, tc.want)
		}
	}
	if _, err := l.p.PeerUDPBind(nil, dnsServer); err == nil || !strings.Contains(err.Error(), "wsk.PeerUDPBind") {
		t.Errorf("PeerUDPBind(nil process): %v", err)
	}
	pu, _ := l.p.PeerUDPBind(l.p.System(), dnsServer)
	if _, err := l.p.PeerUDPBind(l.p.System(), dnsServer); err == nil || !strings.Contains(err.Error(), "already bound") {
		t.Errorf("second PeerUDPBind of %v: %v", dnsServer, err)
	}
	if _, err := pu.SendTo(ap("10.0.0.1:5000"), make([]byte, wsk.MaxDatagram+1)); err == nil || !strings.Contains(err.Error(), "more than a datagram holds") {
		t.Errorf("an oversized peer datagram: %v", err)
	}
	// WskSendTo with a ControlInfoLength past its block and WskReceiveFrom
	// with a ControlLength past its block: BUF-OVERRUN, nothing copied.
	s := l.dgSocket(nil, "10.0.0.1:5000")
	b := l.pool([]byte("x"), 8)
	c := l.pool(nil, 16)
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSendTo(s, &wsk.Buf{Block: b, Length: 1}, 0, &dnsServer, 0xFFFFFFFF, c, i)
	}).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Errorf("ControlInfoLength 0xFFFFFFFF: %v", st)
	}
	big := uint32(0xFFFFFFFF)
	if st := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 8}, 0, nil, &big, c, nil, i)
	}).Status; st != nt.STATUS_INVALID_PARAMETER {
		t.Errorf("ControlLength 0xFFFFFFFF: %v", st)
	}
	l.free(b)
	l.free(c)
	l.close(s)
	pu.Close()
	if got := l.finish(); strings.Count(got, "BUF-OVERRUN") != 2 {
		t.Errorf("want two BUF-OVERRUN violations:\n%s", got)
	}
}

// RedirectedDatagram refuses what cannot happen, before anything happens.
func TestRedirectedDatagramErrors(t *testing.T) {
	l := newLab(t, simConfig(9), false)
	seq := l.w.Seq()
	for _, tc := range []struct {
		from, orig, to, handle, want string
	}{
		{"10.0.0.1:40000", "198.51.100.7:53", "127.0.0.1:5300", "H", "nothing is bound at 127.0.0.1:5300"},
		{"0.0.0.0:0", "198.51.100.7:53", "127.0.0.1:5300", "H", "invalid address"},
		{"10.0.0.1:40000", "198.51.100.7:53", "127.0.0.1:5300", "", "empty redirect handle name"},
	} {
		_, err := l.p.RedirectedDatagram("app", ap(tc.from), ap(tc.orig), ap(tc.to), tc.handle, nil, 500, []byte("q"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "wsk.RedirectedDatagram: ") {
			t.Errorf("RedirectedDatagram(%s -> %s at %s, handle %q): %v, want an error saying %q", tc.from, tc.orig, tc.to, tc.handle, err, tc.want)
		}
	}
	if l.w.Seq() != seq {
		t.Errorf("refused calls took %d sequence numbers; a refused call leaves no trace", l.w.Seq()-seq)
	}
}

// TestUDPProxyChainsProperty is TestProxyChainsProperty for datagrams:
// random chains of vendors whose UDP proxies receive the flow's first
// datagram with the records as control information and forward it with
// them. Properties: never a loop; the datagram ends at the server with its
// bytes, or the flow is blocked; the state each callout sees is what the
// plain history model predicts; nothing else is reported.
func TestUDPProxyChainsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		l := newLab(rt, sim.Config{Chooser: rapidChooser{rt}}, false)
		appProc, _ := l.p.AddProcess(600, "app.exe", false)
		server, _ := l.p.PeerUDPBind(l.p.System(), dnsServer)
		app, _ := l.p.PeerUDPBind(appProc, ap("10.0.0.1:40000"))
		k := rapid.IntRange(1, 4).Draw(rt, "vendors")
		var vs []*vendor
		var ins, outs []*wsk.Socket
		for i := 0; i < k; i++ {
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(5300+i))
			other := onOther(rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("other%d", i)))
			vs = append(vs, l.addVendor(fmt.Sprintf("vendor%d", i), uint64(100-i), dnsServer, to, uint32(500+i), other))
			pr, _ := l.p.AddProcess(uint32(500+i), fmt.Sprintf("proxy%d.exe", i), true)
			ins = append(ins, l.dgSocket(pr, to.String()))
			outs = append(outs, l.dgSocket(pr, "10.0.0.1:0"))
		}
		cm := &chainModel{vs: vs}
		msg := []byte("query through the chain")
		want, red, blocked := cm.predict()
		st, err := app.SendTo(dnsServer, msg)
		if err != nil {
			rt.Fatal(err)
		}
		cm.check(rt, 0, want)
		for step := 1; st == nt.STATUS_SUCCESS && red >= 0; step++ {
			if step > k {
				rt.Fatalf("more than %d hops with the records forwarded: a loop", k)
			}
			cm.hist = append(cm.hist, red)
			want, red, blocked = cm.predict()
			px := cm.last()
			r := l.receiveFrom(ins[px], 64, 1024)
			cms, err := wsk.ParseCMSG(r.control)
			if r.iosb.Status != nt.STATUS_SUCCESS || !bytes.Equal(r.data, msg) || err != nil || len(cms) == 0 || cms[0].Type != nt.IP_WFP_REDIRECT_RECORDS {
				rt.Fatalf("step %d: proxy%d received %+v (%v)", step, px, r, err)
			}
			fwd := wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_RECORDS, cms[0].Data)
			st = l.sendTo(outs[px], dnsServer, r.data, fwd).Status
			cm.check(rt, step, want)
		}
		switch {
		case blocked:
			if st != nt.STATUS_ACCESS_DENIED {
				rt.Fatalf("model: blocked; the send completed with %v", st)
			}
		case st != nt.STATUS_SUCCESS:
			rt.Fatalf("send failed with %v", st)
		default:
			if dg, ok := server.Receive(); !ok || !bytes.Equal(dg.Data, msg) {
				rt.Fatalf("the server got %+v, %v", dg, ok)
			}
		}
		for i := range vs {
			l.close(ins[i])
			l.close(outs[i])
			vs[i].destroy()
		}
		app.Close()
		server.Close()
		if got := l.finish(); got != "" {
			rt.Fatalf("violations:\n%s", got)
		}
	})
}
