package trace

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

var gen = flag.Bool("gen", false, "regenerate the model-written traces under testdata/ (then run with -update)")

// program is a driver written against the model; it returns the trace the
// model wrote of it.
type genProgram func() []byte

// inlineWorld pins every WSK call of a program to complete inline or pending.
func syncPolicy(opt string) func(*sim.World) {
	return func(w *sim.World) { _ = w.SetPolicy(wsk.PolicySync, opt) }
}

// conformingPrograms write traces that must replay with exit 0.
var conformingPrograms = map[string]genProgram{
	"wsk-registration": func() []byte {
		d := newDrv("registration: register, capture, release, deregister", 1, nil).start()
		return d.stop()
	},
	"wsk-listen-stream": func() []byte {
		d := newDrv("a stream socket bound and put in listening mode, then closed", 2, syncPolicy("pending")).start()
		s := d.socket(nt.WSK_FLAG_STREAM_SOCKET)
		d.bind(s, "127.0.0.1:7000")
		d.p.WskListen(s, d.arm())
		d.wait()
		d.close(s)
		return d.stop()
	},
	"wsk-accept-transfer": func() []byte {
		d := newDrv("accept a peer's connection, read the addresses, receive, send, disconnect, close", 3, nil).start()
		ls := d.listener("127.0.0.1:7001")
		pc, _, _ := d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7001"))
		in := d.accept(ls)
		la, ra := new(netip.AddrPort), new(netip.AddrPort)
		d.p.WskGetLocalAddress(in, la, d.arm())
		d.wait()
		d.p.WskGetRemoteAddress(in, ra, d.arm())
		d.wait()
		_ = pc.Send([]byte("hello"))
		b := d.pool(16)
		d.p.WskReceive(in, &wsk.Buf{Block: b, Length: 16}, 0, d.arm())
		d.wait()
		b2 := d.pool(8)
		copy(b2.Bytes(), "world")
		d.p.WskSend(in, &wsk.Buf{Block: b2, Length: 5}, 0, d.arm())
		d.wait()
		d.p.WskDisconnect(in, nil, 0, d.arm())
		d.wait()
		pc.Close()
		d.close(in)
		d.close(ls)
		d.m.ExFreePoolWithTag(b, tagW)
		d.m.ExFreePool(b2)
		return d.stop()
	},
	"wsk-receive-pending": func() []byte {
		d := newDrv("a receive pends until the peer sends; a second one sees the peer's FIN", 4, syncPolicy("inline")).start()
		ls := d.listener("127.0.0.1:7002")
		pc, _, _ := d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7002"))
		in := d.accept(ls)
		b := d.pool(32)
		d.p.WskReceive(in, &wsk.Buf{Block: b, Length: 32}, 0, d.arm())
		_ = pc.Send([]byte("GET / HTTP/1.0"))
		d.wait()
		pc.Close()
		d.p.WskReceive(in, &wsk.Buf{Block: b, Length: 32}, 0, d.arm())
		d.wait()
		d.close(in)
		d.close(ls)
		d.m.ExFreePool(b)
		return d.stop()
	},
	"wsk-connect-peer": func() []byte {
		d := newDrv("connect to a listening peer, send, abortive disconnect", 5, syncPolicy("pending")).start()
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.bind(s, "0.0.0.0:0")
		d.connect(s, "198.51.100.7:443")
		b := d.pool(4)
		copy(b.Bytes(), "ping")
		d.p.WskSend(s, &wsk.Buf{Block: b, Length: 4}, 0, d.arm())
		d.wait()
		d.p.WskDisconnect(s, nil, wsk.WSK_FLAG_ABORTIVE, d.arm())
		d.wait()
		d.close(s)
		d.m.ExFreePool(b)
		return d.stop()
	},
	"wsk-socket-connect": func() []byte {
		d := newDrv("WskSocketConnect to a listening peer", 6, nil).start()
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.8:80"))
		d.p.WskSocketConnect(d.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, ap("0.0.0.0:0"), ap("198.51.100.8:80"), 0, nil, nil, nil, nil, nil, d.arm())
		d.wait()
		s := d.p.SocketFromInformation(d.i.IoStatus.Information)
		d.close(s)
		return d.stop()
	},
	"wsk-control-options": func() []byte {
		d := newDrv("socket options and IOCTLs: SO_REUSEADDR set and get, the ALE endpoint handle, an IOCTL the model does not know", 7, nil).start()
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		in := d.pool(4)
		in.Bytes()[0] = 1
		d.control(s, nt.WskSetOption, nt.SO_REUSEADDR, nt.SOL_SOCKET, 4, in, 0, nil, nil)
		out := d.pool(8)
		var osr uint64
		d.control(s, nt.WskGetOption, nt.SO_REUSEADDR, nt.SOL_SOCKET, 0, nil, 4, out, &osr)
		d.control(s, nt.WskIoctl, nt.SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE, 0, 0, nil, 8, out, &osr)
		d.control(s, nt.WskIoctl, nt.SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, nil, 8, out, &osr)
		d.control(s, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 8, out, &osr)
		d.close(s)
		d.m.ExFreePool(in)
		d.m.ExFreePool(out)
		return d.stop()
	},
	"wsk-proxy-records": func() []byte {
		d := newDrv("a proxy: redirected connection, size probe, records and context copied, SET on the outbound socket, connect to the original destination", 8, nil).start()
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
		ls := d.listener("127.0.0.1:9000")
		_, _ = d.p.RedirectedConnect("app1", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte{0xc0, 0xff, 0xee}, wsk.SystemPID)
		in := d.accept(ls)
		var osr uint64
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 0, nil, &osr)
		recs := d.pool(osr)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, osr, recs, &osr)
		n := osr
		ctx := d.pool(64)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 0, 0, nil, 64, ctx, &osr)
		out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, n, recs, 0, nil, nil)
		d.bind(out, "0.0.0.0:0")
		d.connect(out, "198.51.100.7:443")
		d.close(out)
		d.close(in)
		d.close(ls)
		d.m.ExFreePool(recs)
		d.m.ExFreePool(ctx)
		return d.stop()
	},
	"wsk-redirect-policy-proxy": func() []byte {
		d := newDrv("redirect_policy: an application's connect is redirected to the proxy, which sets the records before connecting, so it is not redirected again", 9, nil).start()
		_ = d.e.AddRedirectPolicy("P1", ap("198.51.100.7:443"), ap("127.0.0.1:9000"), []byte{1, 2, 3}, wsk.SystemPID)
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
		ls := d.listener("127.0.0.1:9000")
		_, _, _ = d.p.PeerConnect(d.peer, netip0, ap("198.51.100.7:443"))
		in := d.accept(ls)
		var osr uint64
		recs := d.pool(4096)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 4096, recs, &osr)
		out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
		d.bind(out, "0.0.0.0:0")
		d.connect(out, "198.51.100.7:443")
		d.close(out)
		d.close(in)
		d.close(ls)
		d.m.ExFreePool(recs)
		return d.stop()
	},
	"wsk-cancel-receive": func() []byte {
		d := newDrv("a pending receive is cancelled with IoCancelIrp", 10, nil).start()
		ls := d.listener("127.0.0.1:7003")
		_, _, _ = d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7003"))
		in := d.accept(ls)
		b := d.pool(8)
		d.p.WskReceive(in, &wsk.Buf{Block: b, Length: 8}, 0, d.arm())
		d.m.IoCancelIrp(d.i)
		d.m.IoCancelIrp(d.i)
		d.close(in)
		d.close(ls)
		d.m.ExFreePool(b)
		return d.stop()
	},
	"wsk-cancel-control": func() []byte {
		d := newDrv("IoCancelIrp races a pending WskControlSocket (choice point wsk.cancel)", 11, func(w *sim.World) {
			_ = w.SetPolicy(wsk.PolicySync, "pending")
			_ = w.Pin(wsk.ChoiceCancel, 1)
		}).start()
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		out := d.pool(4)
		var osr uint64
		d.p.WskControlSocket(s, nt.WskGetOption, nt.SO_REUSEADDR, nt.SOL_SOCKET, 0, nil, 4, out, &osr, d.arm())
		d.m.IoCancelIrp(d.i)
		d.wait()
		d.w.Unpin(wsk.ChoiceCancel)
		_ = d.w.Pin(wsk.ChoiceCancel, 0)
		d.p.WskControlSocket(s, nt.WskGetOption, nt.SO_REUSEADDR, nt.SOL_SOCKET, 0, nil, 4, out, &osr, d.arm())
		d.m.IoCancelIrp(d.i)
		d.wait()
		d.close(s)
		d.m.ExFreePool(out)
		return d.stop()
	},
	"wsk-cancel-bind-close": func() []byte {
		d := newDrv("IoCancelIrp on pending WskBinds: a cancel that wins releases the address at once; one that loses leaves the socket bound (a second WskBind sees it) until WskCloseSocket cancels the bind", 14, func(w *sim.World) {
			_ = w.Pin("wsk.bind.complete", 1)
			_ = w.Pin(wsk.ChoiceCancel, 0)
		}).start()
		s := d.socket(nt.WSK_FLAG_LISTEN_SOCKET)
		d.p.WskBind(s, ap("127.0.0.1:7104"), 0, d.arm())
		d.m.IoCancelIrp(d.i) // wins: STATUS_CANCELLED inside IoCancelIrp, the address released
		d.wait()
		_ = d.w.Pin(wsk.ChoiceCancel, 1)
		d.p.WskBind(s, ap("127.0.0.1:7104"), 0, d.arm())
		d.m.IoCancelIrp(d.i) // loses: the bind stays, its completion waits
		_ = d.w.Pin("wsk.bind.complete", 0)
		i2 := d.m.IoAllocateIrp(1, false)
		d.m.IoSetCompletionRoutine(i2, d.rtn, nil, true, true, true)
		d.p.WskBind(s, ap("127.0.0.1:7104"), 0, i2) // STATUS_ADDRESS_ALREADY_ASSOCIATED
		d.m.IoReuseIrp(i2, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i2, d.rtn, nil, true, true, true)
		d.p.WskCloseSocket(s, i2) // completes the first IRP with STATUS_CANCELLED (P-CLOSE)
		d.w.RunUntilIdle()
		d.m.IoFreeIrp(i2)
		return d.stop()
	},
	"fwps-callout":        func() []byte { return calloutProgram(false) },
	"fwps-bind-callout":   bindCalloutProgram,
	"fwps-source-rewrite": sourceRewriteProgram,
	"fwps-peer-pended":    peerPendedProgram,
	"fwps-udp-proxy":      udpProxyProgram,
	"wsk-udp-redirected": func() []byte {
		d := newDrv("a WSK DNS proxy serving a flow another vendor's callout redirected (env redirected_datagram): the first datagram brings the records and the context, the proxy forwards it with the records and relays the answer; the application's second datagram of the flow comes without control information", 36, syncPolicy("inline")).start()
		pr, _ := d.p.AddProcess(500, "dnsproxy", true)
		d.w.TraceEnv("process", sim.F("name", sim.Str("dnsproxy")), sim.F("pid", sim.Int(500)), sim.F("elevated", sim.Bool(true)))
		server, _ := d.p.PeerUDPBind(d.peer, ap("198.51.100.7:53"))
		dgSock := func(at string) *wsk.Socket {
			d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, pr, nil, nil, d.arm())
			d.wait()
			s := d.p.SocketFromInformation(d.i.IoStatus.Information)
			d.bind(s, at)
			return s
		}
		in, out := dgSock("127.0.0.1:5300"), dgSock("10.0.0.1:0")
		app, _ := d.p.RedirectedDatagram("app1", ap("10.0.0.1:40000"), ap("198.51.100.7:53"), ap("127.0.0.1:5300"), "Other", []byte("orig=198.51.100.7:53"), 500, []byte("query"))
		data, ctl := d.pool(64), d.pool(512)
		var from netip.AddrPort
		var fl uint32
		ctlLen := uint32(512)
		d.p.WskReceiveFrom(in, &wsk.Buf{Block: data, Length: 64}, 0, &from, &ctlLen, ctl, &fl, d.arm())
		d.wait()
		n := d.i.IoStatus.Information
		cms, _ := wsk.ParseCMSG(ctl.Bytes()[:ctlLen])
		fwd := wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_RECORDS, cms[0].Data)
		copy(ctl.Bytes(), fwd)
		dst := server.Local()
		d.p.WskSendTo(out, &wsk.Buf{Block: data, Length: n}, 0, &dst, uint32(len(fwd)), ctl, d.arm())
		d.wait()
		dg, _ := server.Receive()
		_, _ = server.SendTo(dg.From, []byte("answer"))
		d.p.WskReceiveFrom(out, &wsk.Buf{Block: data, Length: 64}, 0, &from, nil, nil, &fl, d.arm())
		d.wait()
		back := app.Local()
		d.p.WskSendTo(in, &wsk.Buf{Block: data, Length: 6}, 0, &back, 0, nil, d.arm())
		d.wait()
		app.Receive()
		_, _ = app.SendTo(ap("198.51.100.7:53"), []byte("again"))
		ctlLen = 512
		d.p.WskReceiveFrom(in, &wsk.Buf{Block: data, Length: 64}, 0, &from, &ctlLen, ctl, &fl, d.arm())
		d.wait()
		d.close(out)
		d.close(in)
		server.Close()
		app.Close()
		d.m.ExFreePool(data)
		d.m.ExFreePool(ctl)
		return d.stop()
	},
	"wsk-udp-echo": func() []byte {
		d := newDrv("datagrams: a bound datagram socket sends to a remote echo service, a receive pends until the answer, a truncated datagram (MSG_TRUNC)", 35, nil).start()
		echo, _ := d.p.PeerUDPBind(d.peer, ap("198.51.100.7:7"))
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, nil, nil, nil, d.arm())
		d.wait()
		s := d.p.SocketFromInformation(d.i.IoStatus.Information)
		b := d.pool(32)
		copy(b.Bytes(), "ping")
		to := echo.Local()
		d.bind(s, "10.0.0.1:5000")
		d.p.WskSendTo(s, &wsk.Buf{Block: b, Length: 4}, 0, &to, 0, nil, d.arm())
		d.wait()
		dg, _ := echo.Receive()
		var from netip.AddrPort
		var fl uint32
		d.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 32}, 0, &from, nil, nil, &fl, d.arm())
		_, _ = echo.SendTo(dg.From, dg.Data)
		d.wait()
		_, _ = echo.SendTo(dg.From, []byte("a longer answer"))
		d.p.WskReceiveFrom(s, &wsk.Buf{Block: b, Length: 4}, 0, &from, nil, nil, &fl, d.arm())
		d.wait()
		d.close(s)
		echo.Close()
		d.m.ExFreePool(b)
		return d.stop()
	},
	"irp-passed-down": func() []byte {
		d := newDrv("a dispatch routine gets an IRP from the I/O manager (env irp_dispatch), gives it to WskSocket with its own completion routine, reclaims it (STATUS_MORE_PROCESSING_REQUIRED) and completes it back with IoCompleteRequest", 32, syncPolicy("pending")).start()
		p, _ := d.m.NewPassedDownIrp(2)
		d.m.IoSetCompletionRoutine(p, d.rtn, nil, true, true, true)
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, p)
		for p.InFlight() && d.w.Step() {
		}
		s := d.p.SocketFromInformation(p.IoStatus.Information)
		d.m.IoCompleteRequest(p, p.IoStatus.Status, 0)
		d.close(s)
		return d.stop()
	},
	"wsk-owner-process-reset": func() []byte {
		d := newDrv("sockets owned by an elevated process (env process), a redirected connection for it, the SET it may make; a peer resets its connection while a receive waits", 13, nil).start()
		pr, _ := d.p.AddProcess(500, "proxy", true)
		d.w.TraceEnv("process", sim.F("name", sim.Str("proxy")), sim.F("pid", sim.Int(500)), sim.F("elevated", sim.Bool(true)))
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, pr, nil, nil, d.arm())
		d.wait()
		ls := d.p.SocketFromInformation(d.i.IoStatus.Information)
		d.bind(ls, "127.0.0.1:9000")
		_, _ = d.p.RedirectedConnect("app1", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", nil, 500)
		in := d.accept(ls)
		var osr uint64
		recs := d.pool(4096)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 4096, recs, &osr)
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, pr, nil, nil, d.arm())
		d.wait()
		out := d.p.SocketFromInformation(d.i.IoStatus.Information)
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
		pc, _, _ := d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:9000"))
		in2 := d.accept(ls)
		b := d.pool(8)
		d.p.WskReceive(in2, &wsk.Buf{Block: b, Length: 8}, 0, d.arm())
		pc.Reset()
		d.wait()
		for _, s := range []*wsk.Socket{in2, out, in, ls} {
			d.close(s)
		}
		d.m.ExFreePool(recs)
		d.m.ExFreePool(b)
		return d.stop()
	},
	"policy-open-options": func() []byte {
		d := newDrv("open policies: a size probe that succeeds (P-SZ0), a second SET that is rejected (P-SET2), failed IRPs cancelled by close with STATUS_CONNECTION_ABORTED (P-CLOSE)", 12, func(w *sim.World) {
			_ = w.SetPolicy(wsk.PolicyZeroProbe, "success")
			_ = w.SetPolicy(wsk.PolicySetTwice, "reject")
			_ = w.SetPolicy(wsk.PolicyClose, "STATUS_CONNECTION_ABORTED")
		}).start()
		ls := d.listener("127.0.0.1:9000")
		_, _ = d.p.RedirectedConnect("app1", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", nil, wsk.SystemPID)
		in := d.accept(ls)
		var osr uint64
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 0, nil, &osr)
		recs := d.pool(osr)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, osr, recs, &osr)
		out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
		b := d.pool(8)
		d.p.WskReceive(in, &wsk.Buf{Block: b, Length: 8}, 0, d.arm())
		i2 := d.m.IoAllocateIrp(1, false)
		d.m.IoSetCompletionRoutine(i2, d.rtn, nil, true, true, true)
		d.p.WskCloseSocket(in, i2)
		d.w.RunUntilIdle()
		d.m.IoFreeIrp(i2)
		d.close(out)
		d.close(ls)
		d.m.ExFreePool(recs)
		d.m.ExFreePool(b)
		return d.stop()
	},
}

// violatingPrograms break contract rules; their traces must replay with
// exit 3 and exactly the model's violations.
var violatingPrograms = map[string]genProgram{
	"irp-passed-down-misuse": func() []byte {
		d := newDrv("passed-down IRPs misused: freed, completed with STATUS_PENDING, completed while a WSK call holds it, completed twice; a driver-allocated IRP completed", 33, syncPolicy("pending")).start()
		p, _ := d.m.NewPassedDownIrp(1)
		d.m.IoFreeIrp(p)
		d.m.IoCompleteRequest(p, nt.STATUS_PENDING, 0)
		d.m.IoSetCompletionRoutine(p, d.rtn, nil, true, true, true)
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, p)
		d.m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0) // still in flight
		for p.InFlight() && d.w.Step() {
		}
		s := d.p.SocketFromInformation(p.IoStatus.Information)
		d.m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		d.m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		d.close(s)
		d.m.IoCompleteRequest(d.i, nt.STATUS_SUCCESS, 0)
		return d.stop()
	},
	"wsk-after-close": func() []byte {
		d := newDrv("WskBind on a socket after WskCloseSocket", 20, nil).start()
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.close(s)
		d.bind(s, "0.0.0.0:0")
		return d.stop()
	},
	"wsk-category": func() []byte {
		d := newDrv("WskSend on a listening socket, WskBind with reserved flags", 21, nil).start()
		ls := d.listener("127.0.0.1:7004")
		b := d.pool(4)
		d.p.WskSend(ls, &wsk.Buf{Block: b, Length: 4}, 0, d.arm())
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.p.WskBind(s, ap("0.0.0.0:0"), 1, d.arm())
		d.wait()
		d.close(s)
		d.close(ls)
		d.m.ExFreePool(b)
		return d.stop()
	},
	"wsk-not-bound": func() []byte {
		d := newDrv("WskConnect and WskAccept on sockets that were never bound", 22, nil).start()
		s := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.connect(s, "198.51.100.7:443")
		d.close(s)
		return d.stop()
	},
	"wsk-set-after-connect": func() []byte {
		d := newDrv("SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS after WskConnect; a SET without its IRP", 23, nil).start()
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
		ls := d.listener("127.0.0.1:9000")
		_, _ = d.p.RedirectedConnect("app1", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", nil, wsk.SystemPID)
		in := d.accept(ls)
		var osr uint64
		recs := d.pool(4096)
		d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 4096, recs, &osr)
		out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.bind(out, "0.0.0.0:0")
		d.connect(out, "198.51.100.7:443")
		d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
		d.p.WskControlSocket(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil, nil)
		d.close(out)
		d.close(in)
		d.close(ls)
		d.m.ExFreePool(recs)
		return d.stop()
	},
	"wsk-proxy-loop": func() []byte {
		d := newDrv("redirect_policy: the proxy connects to the original destination without SET and is redirected to itself", 24, nil).start()
		_ = d.e.AddRedirectPolicy("P1", ap("198.51.100.7:443"), ap("127.0.0.1:9000"), nil, wsk.SystemPID)
		_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
		ls := d.listener("127.0.0.1:9000")
		_, _, _ = d.p.PeerConnect(d.peer, netip0, ap("198.51.100.7:443"))
		in := d.accept(ls)
		out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
		d.bind(out, "0.0.0.0:0")
		d.connect(out, "198.51.100.7:443")
		in2 := d.accept(ls)
		d.close(in2)
		d.close(out)
		d.close(in)
		d.close(ls)
		return d.stop()
	},
	"wsk-leaks": func() []byte {
		d := newDrv("a socket never closed, the NPI released twice, no deregister", 25, nil).start()
		_ = d.socket(nt.WSK_FLAG_LISTEN_SOCKET)
		d.m.IoFreeIrp(d.i)
		d.p.WskReleaseProviderNPI(&d.reg)
		d.p.WskReleaseProviderNPI(&d.reg)
		return d.end()
	},
	"wsk-released-client": func() []byte {
		d := newDrv("WskSocket with a client whose NPI was released; capture after deregister", 26, nil).start()
		d.p.WskReleaseProviderNPI(&d.reg)
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, d.arm())
		d.m.IoFreeIrp(d.i)
		d.p.WskDeregister(&d.reg)
		var npi wsk.ProviderNPI
		d.p.WskCaptureProviderNPI(&d.reg, nt.WSK_NO_WAIT, &npi)
		return d.end()
	},
	"fwps-callout-misuse": func() []byte { return calloutProgram(true) },
	"wsk-misc-misuse": func() []byte {
		d := newDrv("NULL arguments and calls on closed or unbound sockets, with peers sending and closing; an IRP cancelled after it was freed", 27, func(w *sim.World) { _ = w.SetPolicy(wsk.PolicySync, "inline") }).start()
		pr, _ := d.p.AddProcess(600, "app", false)
		d.w.TraceEnv("process", sim.F("name", sim.Str("app")), sim.F("pid", sim.Int(600)), sim.F("elevated", sim.Bool(false)))
		_ = pr
		d.p.WskSocketConnect(d.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, netip.AddrPort{}, ap("198.51.100.7:443"), 0, nil, nil, nil, nil, nil, d.arm())
		st := d.socket(nt.WSK_FLAG_STREAM_SOCKET)
		d.p.WskListen(st, d.arm())
		ls := d.listener("127.0.0.1:7005")
		pc, _, _ := d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7005"))
		in := d.accept(ls)
		_ = pc.Send([]byte("xy"))
		d.p.WskReceive(in, nil, 0, d.arm())
		d.p.WskGetRemoteAddress(in, nil, d.arm())
		pc.Close()
		if pc2, _, _ := d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7005")); pc2 != nil {
			pc2.Reset()
		}
		d.close(in)
		d.p.WskDisconnect(in, nil, 0, d.arm())
		d.close(st)
		d.close(ls)
		d.m.IoFreeIrp(d.i)
		d.m.IoCancelIrp(d.i)
		d.i = nil
		d.p.WskReleaseProviderNPI(&d.reg)
		d.p.WskDeregister(&d.reg)
		return d.end()
	},
}

// calloutProgram is a connect-redirect callout driver: a redirect handle,
// a classifyFn that queries the redirect state, acquires, redirects a
// connect to its proxy and releases; bad also leaks a classify handle and
// the redirect handle.
func calloutProgram(bad bool) []byte {
	src := "a connect-redirect callout redirects a connect to its local proxy"
	if bad {
		src = "a callout that releases its classify handle twice and destroys its redirect handle twice"
	}
	d := newDrv(src, 30, syncPolicy("inline")).start()
	var h *wfp.RedirectHandle
	d.e.FwpsRedirectHandleCreate0(&wfp.GUID{1}, 0, &h)
	co, _ := d.e.RegisterCallout("C1", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		var rec *wfp.RedirectRecords
		if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
			rec = c.Meta.RedirectRecords
		}
		var ctx *wfp.RedirectContext
		st := c.Engine.FwpsQueryConnectionRedirectState0(rec, h, &ctx)
		if rec != nil {
			buf := make([]byte, 4096)
			var n uint64
			c.Engine.FwpsQueryConnectionSioFormatRedirectRecords0(rec, buf, 4096, &n)
		}
		if st == wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF || st == wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			return
		}
		var ch uint64
		if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
			return
		}
		var v *wfp.FWPS_CONNECT_REQUEST0
		if c.Engine.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
			v.RemoteAddressAndPort = ap("127.0.0.1:9000")
			v.LocalRedirectTargetPID = wsk.SystemPID
			v.LocalRedirectHandle = h
			c.Engine.FwpsApplyModifiedLayerData0(ch, v, 0)
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		}
		c.Engine.FwpsReleaseClassifyHandle0(ch)
		if bad {
			c.Engine.FwpsReleaseClassifyHandle0(ch)
		}
	})
	_, _ = d.e.AddFilter(wfp.Filter{Name: "C1", Callout: co, Weight: 10})
	_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
	ls := d.listener("127.0.0.1:9000")
	_, _, _ = d.p.PeerConnect(d.peer, netip0, ap("198.51.100.7:443"))
	in := d.accept(ls)
	recs := d.pool(4096)
	var osr uint64
	d.control(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 4096, recs, &osr)
	out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	d.control(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, osr, recs, 0, nil, nil)
	d.bind(out, "0.0.0.0:0")
	d.connect(out, "198.51.100.7:443")
	d.close(out)
	d.close(in)
	d.close(ls)
	d.m.ExFreePool(recs)
	d.e.FwpsRedirectHandleDestroy0(h)
	if bad {
		d.e.FwpsRedirectHandleDestroy0(h)
	}
	return d.stop()
}

// bindCalloutProgram is a bind-redirect callout driver: at
// ALE_BIND_REDIRECT_V4 it pins every wildcard-port bind to 10.0.0.1:40000+n
// (FWPS_BIND_REQUEST0.localAddressAndPort), and leaves a bind with a port
// alone. The driver binds and connects, reads its local address, and makes a
// WskSocketConnect, whose bind step is classified too.
func bindCalloutProgram() []byte {
	d := newDrv("a bind-redirect callout pins wildcard binds to 10.0.0.1:40000 and up; WskBind, WskGetLocalAddress, WskConnect and WskSocketConnect see the rewrite", 31, syncPolicy("inline")).start()
	n := uint16(0)
	co, _ := d.e.RegisterCallout("B1", wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V4, func(c *wfp.Classify) {
		if c.LocalAddress.Port() != 0 {
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			return
		}
		var ch uint64
		if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
			return
		}
		var v *wfp.FWPS_BIND_REQUEST0
		if c.Engine.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
			v.LocalAddressAndPort = netip.AddrPortFrom(ap("10.0.0.1:0").Addr(), 40000+n)
			n++
			c.Engine.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		}
		c.Engine.FwpsReleaseClassifyHandle0(ch)
	})
	_, _ = d.e.AddFilter(wfp.Filter{Name: "B1", Callout: co, Weight: 10})
	_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
	out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	d.bind(out, "0.0.0.0:0")
	la := new(netip.AddrPort)
	d.p.WskGetLocalAddress(out, la, d.arm())
	d.wait()
	d.connect(out, "198.51.100.7:443")
	fixed := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	d.bind(fixed, "10.0.0.1:5000")
	d.p.WskGetLocalAddress(fixed, la, d.arm())
	d.wait()
	d.p.WskSocketConnect(d.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, ap("0.0.0.0:0"), ap("198.51.100.7:443"), 0, nil, nil, nil, nil, nil, d.arm())
	d.wait()
	sc := d.p.SocketFromInformation(d.i.IoStatus.Information)
	d.p.WskGetLocalAddress(sc, la, d.arm())
	d.wait()
	d.close(sc)
	d.close(fixed)
	d.close(out)
	return d.stop()
}

// sourceRewriteProgram is a split-tunnel callout driver in the way of
// mullvad/win-split-tunnel's RewriteConnection: at ALE_CONNECT_REDIRECT_V4 it
// rewrites only the source address (connectRequest localAddressAndPort) of
// connects to 198.51.100.7:443 to the machine's other address 192.168.1.20,
// keeping the port, and hard-permits. The driver first binds a socket to
// 192.168.1.20 (so a replay knows the machine has it), then connects from a
// wildcard bind: WskGetLocalAddress shows the rewritten source.
func sourceRewriteProgram() []byte {
	d := newDrv("a split-tunnel callout rewrites the source address of connects to 198.51.100.7:443 to 192.168.1.20 (FWPS_CONNECT_REQUEST0.localAddressAndPort at ALE_CONNECT_REDIRECT); WskGetLocalAddress after the connect shows it", 37, syncPolicy("inline")).start()
	_ = d.p.AddLocalAddress(netip.MustParseAddr("192.168.1.20"))
	co, _ := d.e.RegisterCallout("S1", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		if c.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE == 0 {
			return
		}
		var ch uint64
		if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
			return
		}
		var v *wfp.FWPS_CONNECT_REQUEST0
		if c.Engine.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
			v.LocalAddressAndPort = netip.AddrPortFrom(netip.MustParseAddr("192.168.1.20"), v.LocalAddressAndPort.Port())
			c.Engine.FwpsApplyModifiedLayerData0(ch, v, 0)
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		}
		c.Engine.FwpsReleaseClassifyHandle0(ch)
	})
	sub := d.e.AddSublayer("split", 0x9000)
	_, _ = d.e.AddFilter(wfp.Filter{Name: "S1", Callout: co, Weight: 10, Sublayer: sub, RemoteMatch: ap("198.51.100.7:443")})
	_, _ = d.p.PeerListen(d.peer, ap("198.51.100.7:443"))
	lan := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	d.bind(lan, "192.168.1.20:0")
	out := d.socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	d.bind(out, "0.0.0.0:0")
	d.connect(out, "198.51.100.7:443")
	la := new(netip.AddrPort)
	d.p.WskGetLocalAddress(out, la, d.arm())
	d.wait()
	d.close(out)
	d.close(lan)
	return d.stop()
}

// peerPendedProgram: a callout pends the classify of a peer's connect to
// the driver's listener (FwpsPendClassify0) and the driver completes it later
// (FwpsCompleteClassify0, PERMIT): the peer's connect waits for it, as a
// driver socket's WskConnect would, so the driver's WskAccept, pending
// meanwhile, completes only after the completion.
func peerPendedProgram() []byte {
	d := newDrv("a callout pends the classify of a peer's connect; the peer's connect waits, and the driver's pending WskAccept completes once the driver completes the classify with FWP_ACTION_PERMIT", 38, syncPolicy("inline")).start()
	var pended uint64
	co, _ := d.e.RegisterCallout("P1", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		if c.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE == 0 {
			return
		}
		var ch uint64
		if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
			return
		}
		if c.Engine.FwpsPendClassify0(ch, c.Filter.FilterId, 0, c.Out) == nt.STATUS_SUCCESS {
			pended = ch
			return
		}
		c.Engine.FwpsReleaseClassifyHandle0(ch)
	})
	sub := d.e.AddSublayer("pender", 0x9000)
	_, _ = d.e.AddFilter(wfp.Filter{Name: "P1", Callout: co, Weight: 10, Sublayer: sub, RemoteMatch: ap("127.0.0.1:7010")})
	ls := d.listener("127.0.0.1:7010")
	_, _, _ = d.p.PeerConnect(d.peer, netip0, ap("127.0.0.1:7010"))
	var la, ra netip.AddrPort
	d.p.WskAccept(ls, 0, nil, nil, &la, &ra, d.arm())
	d.w.RunUntilIdle() // nothing to accept yet: the peer's connect waits for the classify
	if pended != 0 {
		d.e.FwpsCompleteClassify0(pended, 0, &wfp.ClassifyOut{ActionType: wfp.FWP_ACTION_PERMIT, Rights: wfp.FWPS_RIGHT_ACTION_WRITE})
		d.e.FwpsReleaseClassifyHandle0(pended)
	}
	d.wait()
	in := d.p.SocketFromInformation(d.i.IoStatus.Information)
	d.close(in)
	d.close(ls)
	return d.stop()
}

// udpProxyProgram is a WSK DNS proxy behind a connect-redirect callout: an
// application's first datagram to 198.51.100.7:53 is redirected to the
// proxy's datagram socket, which receives it with the redirect records and
// context as control information, forwards it to the server with the
// records as control information (the callout sees REDIRECTED_BY_SELF),
// relays the answer back, and closes. A truncated datagram shows MSG_TRUNC.
func udpProxyProgram() []byte {
	d := newDrv("a WSK DNS proxy: an application's datagram redirected to it arrives with IP_WFP_REDIRECT_RECORDS and IP_WFP_REDIRECT_CONTEXT; the proxy forwards it with the records, relays the answer, and reads a truncated datagram", 34, syncPolicy("inline")).start()
	var h *wfp.RedirectHandle
	d.e.FwpsRedirectHandleCreate0(&wfp.GUID{3}, 0, &h)
	co, _ := d.e.RegisterCallout("U1", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		var rec *wfp.RedirectRecords
		if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
			rec = c.Meta.RedirectRecords
		}
		if st := c.Engine.FwpsQueryConnectionRedirectState0(rec, h, nil); st == wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF || st == wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			return
		}
		var ch uint64
		if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
			return
		}
		var v *wfp.FWPS_CONNECT_REQUEST0
		if c.Engine.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
			ctx := c.Engine.AllocateRedirectContext([]byte(v.RemoteAddressAndPort.String()))
			v.RemoteAddressAndPort = ap("127.0.0.1:5300")
			v.LocalRedirectTargetPID = 500
			v.LocalRedirectHandle = h
			v.LocalRedirectContext, v.LocalRedirectContextSize = ctx, ctx.Size()
			c.Engine.FwpsApplyModifiedLayerData0(ch, v, 0)
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		}
		c.Engine.FwpsReleaseClassifyHandle0(ch)
	})
	_, _ = d.e.AddFilter(wfp.Filter{Name: "U1", Callout: co, Weight: 10, RemoteMatch: ap("198.51.100.7:53")})
	pr, _ := d.p.AddProcess(500, "dnsproxy", true)
	d.w.TraceEnv("process", sim.F("name", sim.Str("dnsproxy")), sim.F("pid", sim.Int(500)), sim.F("elevated", sim.Bool(true)))
	server, _ := d.p.PeerUDPBind(d.peer, ap("198.51.100.7:53"))
	app, _ := d.p.PeerUDPBind(d.peer, ap("10.0.0.1:40000"))
	dgSock := func(at string) *wsk.Socket {
		d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, pr, nil, nil, d.arm())
		d.wait()
		s := d.p.SocketFromInformation(d.i.IoStatus.Information)
		d.bind(s, at)
		return s
	}
	in, out := dgSock("127.0.0.1:5300"), dgSock("10.0.0.1:0")
	data, ctl := d.pool(64), d.pool(256)
	var from netip.AddrPort
	var ctlFlags uint32
	ctlLen := uint32(256)
	d.p.WskReceiveFrom(in, &wsk.Buf{Block: data, Length: 64}, 0, &from, &ctlLen, ctl, &ctlFlags, d.arm())
	_, _ = app.SendTo(ap("198.51.100.7:53"), []byte("query"))
	d.wait()
	n := d.i.IoStatus.Information
	dst, back := server.Local(), app.Local()
	d.p.WskSendTo(out, &wsk.Buf{Block: data, Length: n}, 0, &dst, ctlLen, ctl, d.arm())
	d.wait()
	dg, _ := server.Receive()
	_, _ = server.SendTo(dg.From, []byte("answer, and more"))
	d.p.WskReceiveFrom(out, &wsk.Buf{Block: data, Length: 6}, 0, &from, nil, nil, &ctlFlags, d.arm())
	d.wait()
	d.p.WskSendTo(in, &wsk.Buf{Block: data, Length: 6}, 0, &back, 0, nil, d.arm())
	d.wait()
	d.close(out)
	d.close(in)
	server.Close()
	app.Close()
	d.m.ExFreePool(data)
	d.m.ExFreePool(ctl)
	d.e.FwpsRedirectHandleDestroy0(h)
	return d.stop()
}

// mutation derives a diverging trace from a model-written one: on the first
// line after the first line containing after that contains old, old is
// replaced by new (new "" deletes the line).
type mutation struct {
	base, after, old, new, source string
}

const cpl = `"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS"`

var divergingMutations = map[string]mutation{
	"wsk-register-status":               {"wsk-registration", `"fn":"WskRegister"`, `"STATUS_SUCCESS"`, `"STATUS_INVALID_PARAMETER"`, "WskRegister failed in the trace, the model registers"},
	"wsk-capture-status":                {"wsk-registration", `"fn":"WskCaptureProviderNPI"`, `"status":"STATUS_SUCCESS"`, `"status":"STATUS_NOINTERFACE"`, "WskCaptureProviderNPI says STATUS_NOINTERFACE for version 1.0"},
	"wsk-release-then-socket":           {"wsk-released-client", `"fn":"WskSocket"`, `"status":"STATUS_INVALID_HANDLE"`, `"status":"STATUS_SUCCESS"`, "WskSocket succeeds with a client whose NPI was released"},
	"wsk-deregister-then-capture":       {"wsk-released-client", `"WaitTimeout":"WSK_NO_WAIT"`, `"status":"STATUS_INVALID_PARAMETER"`, `"status":"STATUS_SUCCESS"`, "WskCaptureProviderNPI succeeds after WskDeregister"},
	"wsk-socket-status":                 {"wsk-listen-stream", `"fn":"WskSocket"`, `"status":"STATUS_SUCCESS","information":{"bind":"sock1"}`, `"status":"STATUS_INSUFFICIENT_RESOURCES","information":0`, "WskSocket completes with a status the model does not produce here"},
	"wsk-bind-in-use":                   {"wsk-listen-stream", `"fn":"WskBind"`, cpl, strings.Replace(cpl, "SUCCESS", "ADDRESS_ALREADY_EXISTS", 1), "WskBind of a free address fails in the trace"},
	"wsk-listen-state":                  {"wsk-listen-stream", `"fn":"WskListen"`, cpl, strings.Replace(cpl, "SUCCESS", "INVALID_DEVICE_STATE", 1), "WskListen on a bound stream socket fails in the trace"},
	"wsk-close-status":                  {"wsk-listen-stream", `"fn":"WskCloseSocket"`, cpl, strings.Replace(cpl, "SUCCESS", "INVALID_HANDLE", 1), "WskCloseSocket never fails on an open socket"},
	"wsk-accept-remote":                 {"wsk-accept-transfer", `"fn":"WskAccept"`, `"RemoteAddress":"127.0.0.1:49152"`, `"RemoteAddress":"127.0.0.9:49152"`, "the accepted connection's remote address differs"},
	"wsk-getlocal-address":              {"wsk-accept-transfer", `"fn":"WskGetLocalAddress"`, `{"LocalAddress":"127.0.0.1:7001"}`, `{"LocalAddress":"127.0.0.1:7999"}`, "WskGetLocalAddress shows another port"},
	"wsk-getremote-address":             {"wsk-accept-transfer", `"fn":"WskGetRemoteAddress"`, `{"RemoteAddress":"127.0.0.1:49152"}`, `{"RemoteAddress":"127.0.0.9:49152"}`, "WskGetRemoteAddress shows another address"},
	"wsk-receive-more":                  {"wsk-accept-transfer", `"fn":"WskReceive"`, `"information":5`, `"information":6`, "WskReceive gets more bytes than the peer sent"},
	"wsk-send-more":                     {"wsk-accept-transfer", `"fn":"WskSend"`, `"information":1`, `"information":50`, "WskSend reports more bytes than it was given"},
	"wsk-disconnect-reset":              {"wsk-connect-peer", `"fn":"WskDisconnect"`, cpl, strings.Replace(cpl, "SUCCESS", "CONNECTION_RESET", 1), "WskDisconnect fails with STATUS_CONNECTION_RESET in the trace"},
	"wsk-connect-unreachable":           {"wsk-connect-peer", `"fn":"WskConnect"`, cpl, strings.Replace(cpl, "SUCCESS", "HOST_UNREACHABLE", 1), "WskConnect to a listening peer is unreachable in the trace"},
	"wsk-socket-connect-status":         {"wsk-socket-connect", `"fn":"WskSocketConnect"`, `"status":"STATUS_SUCCESS","information":{"bind":"sock1"}`, `"status":"STATUS_CONNECTION_REFUSED","information":0`, "WskSocketConnect to a listening peer is refused in the trace"},
	"wsk-control-osr":                   {"wsk-control-options", `"RequestType":"WskGetOption"`, `"OutputSizeReturned":4`, `"OutputSizeReturned":8`, "SO_REUSEADDR's size is 4, the trace says 8"},
	"wsk-query-size":                    {"wsk-proxy-records", "", `QUERY_SIZE`, ``, "the records' size changes between the size probe and the copy"},
	"env-peer-listen-missing":           {"wsk-connect-peer", "", `"what":"peer_listen"`, ``, "without the peer_listen nothing listens: the connect cannot succeed"},
	"env-peer-connect-elsewhere":        {"wsk-accept-transfer", "", `"what":"peer_connect","to":"127.0.0.1:7001"`, `"what":"peer_connect","to":"127.0.0.1:7999"`, "the peer connects elsewhere, so the accept cannot complete"},
	"env-peer-send-missing":             {"wsk-receive-pending", "", `"what":"peer_send"`, ``, "without the peer's data the receive cannot complete with it"},
	"env-peer-close-missing":            {"wsk-receive-pending", "", `"what":"peer_close"`, ``, "without the peer's FIN the second receive cannot complete"},
	"env-redirected-connect-elsewhere":  {"wsk-proxy-records", "", `"to":"127.0.0.1:9000","handle":"H1"`, `"to":"127.0.0.1:9999","handle":"H1"`, "a redirected connection to a port nothing listens on"},
	"env-redirect-policy-missing":       {"wsk-redirect-policy-proxy", "", `"what":"redirect_policy"`, ``, "without the redirect policy the application's connect is not redirected to the proxy"},
	"env-classify-missing":              {"fwps-callout", "", `"what":"classify","layer"`, ``, "the model invokes the callout, the trace shows no classify"},
	"fwps-redirect-state":               {"fwps-callout", `"fn":"FwpsQueryConnectionRedirectState0"`, `"value":"FWPS_CONNECTION_NOT_REDIRECTED"`, `"value":"FWPS_CONNECTION_REDIRECTED_BY_OTHER"`, "a fresh connection is NOT_REDIRECTED, the trace says REDIRECTED_BY_OTHER"},
	"fwps-handle-create-status":         {"fwps-callout", `"fn":"FwpsRedirectHandleCreate0"`, `"status":"STATUS_SUCCESS"`, `"status":"STATUS_INVALID_PARAMETER"`, "FwpsRedirectHandleCreate0 with valid arguments fails in the trace"},
	"fwps-acquire-status":               {"fwps-callout", `"fn":"FwpsAcquireClassifyHandle0"`, `"status":"STATUS_SUCCESS"`, `"status":"STATUS_FWP_NULL_POINTER"`, "FwpsAcquireClassifyHandle0 fails in the trace"},
	"fwps-writable-status":              {"fwps-callout", `"fn":"FwpsAcquireWritableLayerDataPointer0"`, `"status":"STATUS_SUCCESS"`, `"status":"STATUS_FWP_INCOMPATIBLE_LAYER"`, "FwpsAcquireWritableLayerDataPointer0 at ALE_CONNECT_REDIRECT fails in the trace"},
	"fwps-apply-elsewhere":              {"fwps-callout", `"fn":"FwpsApplyModifiedLayerData0"`, `"remoteAddressAndPort":"127.0.0.1:9000"`, `"remoteAddressAndPort":"127.0.0.1:9999"`, "the callout redirects to a port nothing listens on, yet the proxy accepts"},
	"fwps-sioformat-status":             {"fwps-callout", `"fn":"FwpsQueryConnectionSioFormatRedirectRecords0"`, `"status":"STATUS_SUCCESS"`, `"status":"STATUS_BUFFER_TOO_SMALL"`, "FwpsQueryConnectionSioFormatRedirectRecords0 with a 4096-byte buffer says too small"},
	"env-redirect-policy-elsewhere":     {"wsk-redirect-policy-proxy", "", `"what":"redirect_policy","handle":"P1","match":"198.51.100.7:443","to":"127.0.0.1:9000"`, `"what":"redirect_policy","handle":"P1","match":"198.51.100.7:443","to":"127.0.0.1:9999"`, "the policy redirects to a port nothing listens on, yet the proxy accepts the application's connection"},
	"env-peer-reset-missing":            {"wsk-owner-process-reset", "", `"what":"peer_reset"`, ``, "without the peer's RST the waiting receive cannot complete"},
	"policy-pinned-by-profile":          {"policy-open-options", "", `HEADER_PROFILE`, ``, "profile model-defaults pins P-SZ0 to buffer-too-small, so the successful size probe diverges"},
	"fwps-source-rewrite-dropped":       {"fwps-source-rewrite", `"fn":"FwpsApplyModifiedLayerData0"`, `"localRedirectContext":null,"localAddressAndPort":"192.168.1.20:49153"`, `"localRedirectContext":null`, "the callout's source rewrite is not in the trace, yet WskGetLocalAddress reports 192.168.1.20"},
	"fwps-bind-rewrite-elsewhere":       {"fwps-bind-callout", `"fn":"FwpsApplyModifiedLayerData0"`, `"localAddressAndPort":"10.0.0.1:40000"`, `"localAddressAndPort":"10.0.0.1:41000"`, "the bind callout writes port 41000, yet WskGetLocalAddress reports 40000"},
	"env-bind-classify-block":           {"fwps-bind-callout", `"what":"classify_return","callout":"B1"`, `"actionType":"FWP_ACTION_PERMIT"`, `"actionType":"FWP_ACTION_BLOCK"`, "the bind callout blocks the bind, yet WskBind succeeds"},
	"env-bind-classify-missing":         {"fwps-bind-callout", "", `"what":"classify","layer":"FWPS_LAYER_ALE_BIND_REDIRECT_V4"`, ``, "the model invokes the bind callout, the trace shows no classify"},
	"env-irp-dispatch-no-stack":         {"irp-passed-down", "", `"what":"irp_dispatch","irp":"irp2","stack_locations":2`, `"what":"irp_dispatch","irp":"irp2","stack_locations":0`, "the passed-down IRP has no stack location left, yet WskSocket completes it"},
	"wsk-udp-sender-elsewhere":          {"fwps-udp-proxy", `"fn":"WskReceiveFrom"`, `"RemoteAddress":"10.0.0.1:40000","ControlLength":144`, `"RemoteAddress":"10.0.0.1:40001","ControlLength":144`, "the redirected datagram comes from another port than the application sent it from"},
	"wsk-udp-no-truncation":             {"fwps-udp-proxy", `"ControlFlags":true`, `"ControlFlags":256`, `"ControlFlags":0`, "a 16-byte datagram read into 6 bytes is not flagged MSG_TRUNC in the trace"},
	"wsk-udp-records-not-forwarded":     {"fwps-udp-proxy", `"fn":"WskSendTo"`, `"ControlInfoLength":144`, `"ControlInfoLength":0`, "the proxy's first datagram carries no records, yet the callout finds it REDIRECTED_BY_SELF"},
	"env-udp-sendto-elsewhere":          {"fwps-udp-proxy", "", `"what":"peer_sendto","conn":"peer2","to":"198.51.100.7:53"`, `"what":"peer_sendto","conn":"peer2","to":"198.51.100.7:54"`, "the application sends to a destination the callout does not redirect, yet the proxy receives the datagram"},
	"env-redirected-datagram-context":   {"wsk-udp-redirected", "", `"context":{"hex":"6f7269673d3139382e35312e3130302e373a3533"}`, `"context":{"hex":"6f7269673d3139382e35312e3130302e373a3534"}`, "the redirect context the proxy receives is not the one the redirect set"},
	"env-redirected-datagram-elsewhere": {"wsk-udp-redirected", "", `"to":"127.0.0.1:5300","handle":"Other"`, `"to":"127.0.0.1:5399","handle":"Other"`, "the datagram is redirected to a port nothing is bound at, yet the proxy receives it"},
	"env-classify-return-block":         {"fwps-callout", `"what":"classify_return"`, `"actionType":"FWP_ACTION_PERMIT"`, `"actionType":"FWP_ACTION_BLOCK"`, "the callout blocks the connect, yet the proxy accepts it"},
}

var netip0 = ap("0.0.0.0:0")

func mutate(base []byte, m mutation, name string) ([]byte, error) {
	lines := strings.Split(strings.TrimSuffix(string(base), "\n"), "\n")
	if m.old == "HEADER_PROFILE" {
		lines[0] = strings.Replace(lines[0], `{"wsktrace":1,"source":"`, `{"wsktrace":1,"profile":"model-defaults","source":"`+m.source+` (from: `, 1)
		lines[0] = strings.Replace(lines[0], `","completions":"all"}`, `)","completions":"all"}`, 1)
		return []byte(strings.Join(lines, "\n") + "\n"), nil
	}
	if m.old == "QUERY_SIZE" {
		re := regexp.MustCompile(`"information":(\d+),"out":\{"OutputBuffer":\{"hex":"([0-9a-f]+)"\},"OutputSizeReturned":(\d+)\}`)
		for k, l := range lines {
			if re.MatchString(l) {
				lines[k] = re.ReplaceAllString(l, `"information":999,"out":{"OutputBuffer":{"bind":"rec1"},"OutputSizeReturned":999}`)
				lines[0] = strings.Replace(lines[0], `"source":"`, `"source":"`+m.source+` (from: `, 1)
				lines[0] = strings.Replace(lines[0], `","completions":"all"}`, `)","completions":"all"}`, 1)
				return []byte(strings.Join(lines, "\n") + "\n"), nil
			}
		}
		return nil, fmt.Errorf("%s: no QUERY copy in %s", name, m.base)
	}
	seen := m.after == ""
	for k, l := range lines {
		if k == 0 {
			continue
		}
		if !seen {
			seen = strings.Contains(l, m.after)
			if !seen || !strings.Contains(l, m.old) {
				continue
			}
		}
		if !strings.Contains(l, m.old) {
			continue
		}
		if m.new == "" {
			lines = append(lines[:k], lines[k+1:]...)
		} else {
			lines[k] = strings.Replace(l, m.old, m.new, 1)
		}
		lines[0] = strings.Replace(lines[0], `"source":"`, `"source":"`+m.source+` (from: `, 1)
		lines[0] = strings.Replace(lines[0], `","completions":"all"}`, `)","completions":"all"}`, 1)
		return []byte(strings.Join(lines, "\n") + "\n"), nil
	}
	return nil, fmt.Errorf("%s: %q not found in %s", name, m.old, m.base)
}

func writeGenerated(t *testing.T) {
	write := func(dir, name string, b []byte) {
		p := filepath.Join("testdata", dir, name+".jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := map[string][]byte{}
	for _, n := range sortedKeys(conformingPrograms) {
		base[n] = conformingPrograms[n]()
		write("conforming", n, base[n])
	}
	for _, n := range sortedKeys(violatingPrograms) {
		base[n] = violatingPrograms[n]()
		write("violating", n, base[n])
	}
	for _, n := range sortedKeys(divergingMutations) {
		m := divergingMutations[n]
		b, err := mutate(base[m.base], m, n)
		if err != nil {
			t.Fatal(err)
		}
		write("diverging", n, b)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestGenerate rewrites the model-written traces with -gen; without it, it
// checks that the committed ones are what the programs write today.
func TestGenerate(t *testing.T) {
	if *gen {
		writeGenerated(t)
		return
	}
	for _, n := range sortedKeys(conformingPrograms) {
		want, err := os.ReadFile(filepath.Join("testdata", "conforming", n+".jsonl"))
		if err != nil {
			t.Fatalf("%v (run go test ./trace -run TestGenerate -gen)", err)
		}
		if got := conformingPrograms[n](); !bytes.Equal(got, want) {
			t.Errorf("testdata/conforming/%s.jsonl is stale (run go test ./trace -run TestGenerate -gen)", n)
		}
	}
}

var _ = irp.POOL_FLAG_NON_PAGED
