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

// The end-to-end proxy flow of the semantics reference (§7.8) through the
// real WSK calls: WFP connect-redirect callouts written as Go code, WSK
// proxies that accept, query, SET, bind and connect with IRPs, scripted
// applications and servers.

const labTag = 0x6278704c // 'Lpxb'

var (
	labDest   = netip.MustParseAddrPort("198.51.100.7:443")
	labServer = netip.MustParseAddrPort("198.51.100.7:443")
)

// lab is one simulated machine: the I/O manager, the WSK provider and its
// WFP engine, a registered WSK client (the proxy driver), and a log.
type lab struct {
	t   tb
	w   *sim.World
	m   *irp.Manager
	p   *wsk.Provider
	e   *wfp.Engine
	reg wsk.Registration
	npi wsk.ProviderNPI
	out *strings.Builder // nil: no log
}

func newLab(t tb, cfg sim.Config, log bool) *lab {
	w := sim.NewWorld(cfg)
	m := irp.NewManager(w)
	p, err := wsk.NewProvider(m, wsk.Config{})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, w: w, m: m, p: p, e: p.Engine()}
	if log {
		l.out = new(strings.Builder)
	}
	if st := p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &l.reg); st != nt.STATUS_SUCCESS {
		t.Fatalf("WskRegister: %v", st)
	}
	if st := p.WskCaptureProviderNPI(&l.reg, nt.WSK_NO_WAIT, &l.npi); st != nt.STATUS_SUCCESS {
		t.Fatalf("WskCaptureProviderNPI: %v", st)
	}
	return l
}

func (l *lab) logf(format string, args ...any) {
	if l.out != nil {
		fmt.Fprintf(l.out, format+"\n", args...)
	}
}

func labRoutine(i *irp.IRP, ctx any) nt.Status {
	*ctx.(*irp.IoStatusBlock) = i.IoStatus
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

// do runs one WSK call with a fresh IRP and waits for its completion in
// virtual time (the world runs until the routine has run or nothing is
// left to do).
func (l *lab) do(fn func(i *irp.IRP) nt.Status) irp.IoStatusBlock {
	iosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
	i := l.m.IoAllocateIrp(1, false)
	l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
	ret := fn(i)
	for iosb.Status == nt.STATUS_PENDING && l.w.Step() {
	}
	if iosb.Status == nt.STATUS_PENDING {
		l.t.Fatalf("IRP %s (returned %v) never completed", i.Name(), ret)
	}
	l.m.IoFreeIrp(i)
	return iosb
}

func (l *lab) pool(data []byte, size uint64) *irp.Block {
	b := l.m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, size, labTag)
	copy(b.Bytes(), data)
	return b
}

func (l *lab) free(b *irp.Block) { l.m.ExFreePoolWithTag(b, labTag) }

func (l *lab) socket(flags uint32, owner *wsk.Process) *wsk.Socket {
	iosb := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSocket(l.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, flags, nil, nil, owner, nil, nil, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskSocket: %v", iosb.Status)
	}
	return l.p.SocketFromInformation(iosb.Information)
}

func (l *lab) close(s *wsk.Socket) {
	if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskCloseSocket(s, i) }).Status; st != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskCloseSocket: %v", st)
	}
}

// finish deregisters the client, closes the world and returns the
// violations as text, one per line.
func (l *lab) finish() string {
	l.p.WskReleaseProviderNPI(&l.reg)
	l.p.WskDeregister(&l.reg)
	l.w.RunUntilIdle()
	l.w.Close()
	var b strings.Builder
	for _, v := range l.w.Violations() {
		b.WriteString(v.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ---- a vendor's connect-redirect callout ----

// onOther is what a vendor's callout does with a connection another
// vendor redirected (FWPS_CONNECTION_REDIRECTED_BY_OTHER).
type onOther uint8

const (
	otherLeave   onOther = iota // trust the other inspector: leave it alone
	otherReproxy                // proxy it again (allowed for BY_OTHER)
	otherBlock                  // block it
)

// vendor is one vendor's WFP callout driver: a redirect handle, a
// connect-redirect callout that sends connections for match to its proxy's
// listener, and what it saw.
type vendor struct {
	l       *lab
	name    string
	h       *wfp.RedirectHandle
	match   netip.AddrPort
	to      netip.AddrPort
	pid     uint32
	other   onOther
	pend    bool // pend every classify and complete it later (permit, or redirect)
	filter  *wfp.Filter
	seen    []wfp.RedirectState
	pending []*pended
}

type pended struct {
	ch       uint64
	redirect bool
}

func (l *lab) addVendor(name string, weight uint64, match, to netip.AddrPort, pid uint32, other onOther) *vendor {
	v := &vendor{l: l, name: name, match: match, to: to, pid: pid, other: other}
	guid := wfp.GUID{byte(weight)}
	if st := l.e.FwpsRedirectHandleCreate0(&guid, 0, &v.h); st != nt.STATUS_SUCCESS {
		l.t.Fatalf("FwpsRedirectHandleCreate0: %v", st)
	}
	c, err := l.e.RegisterCallout(name, wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, v.classify)
	if err != nil {
		l.t.Fatal(err)
	}
	if v.filter, err = l.e.AddFilter(wfp.Filter{Name: name, Callout: c, Weight: weight, RemoteMatch: match}); err != nil {
		l.t.Fatal(err)
	}
	return v
}

// classify is the classifyFn, in the documented inline steps (WDD-REDIR):
// query the redirect state first, then acquire a classify handle and the
// writable FWPS_CONNECT_REQUEST0, rewrite it, apply, release.
func (v *vendor) classify(c *wfp.Classify) {
	e := v.l.e
	if c.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE == 0 {
		return // someone with more weight decided already
	}
	var records *wfp.RedirectRecords
	if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
		records = c.Meta.RedirectRecords
	}
	state := e.FwpsQueryConnectionRedirectState0(records, v.h, nil)
	v.seen = append(v.seen, state)
	v.l.logf("%s: connect from pid %d to %v: %v", v.name, c.Meta.ProcessId, c.RemoteAddress, state)
	redirect := false
	switch state {
	case wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF, wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF:
		// Our proxy's own connection (or one we proxied before): let it go.
	case wfp.FWPS_CONNECTION_NOT_REDIRECTED:
		redirect = true
	case wfp.FWPS_CONNECTION_REDIRECTED_BY_OTHER:
		switch v.other {
		case otherReproxy:
			redirect = true
		case otherBlock:
			c.Out.ActionType = wfp.FWP_ACTION_BLOCK
			c.Out.Rights &^= wfp.FWPS_RIGHT_ACTION_WRITE
			return
		}
	}
	var ch uint64
	if v.pend {
		if st := e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch); st != nt.STATUS_SUCCESS {
			v.l.t.Fatalf("FwpsAcquireClassifyHandle0: %v", st)
		}
		if st := e.FwpsPendClassify0(ch, c.Filter.FilterId, 0, c.Out); st != nt.STATUS_SUCCESS {
			v.l.t.Fatalf("FwpsPendClassify0: %v", st)
		}
		v.pending = append(v.pending, &pended{ch: ch, redirect: redirect})
		return
	}
	if !redirect {
		c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		return
	}
	if st := e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch); st != nt.STATUS_SUCCESS {
		v.l.t.Fatalf("FwpsAcquireClassifyHandle0: %v", st)
	}
	if v.rewrite(ch, c.Out) {
		c.Out.ActionType = wfp.FWP_ACTION_PERMIT
	}
	e.FwpsReleaseClassifyHandle0(ch)
}

// rewrite redirects the classify of ch to the vendor's proxy with the
// original destination as the redirect context.
func (v *vendor) rewrite(ch uint64, out *wfp.ClassifyOut) bool {
	e := v.l.e
	var req *wfp.FWPS_CONNECT_REQUEST0
	if st := e.FwpsAcquireWritableLayerDataPointer0(ch, v.filter.FilterId, 0, &req, out); st != nt.STATUS_SUCCESS {
		v.l.t.Fatalf("FwpsAcquireWritableLayerDataPointer0: %v", st)
		return false
	}
	ctx := e.AllocateRedirectContext([]byte(req.RemoteAddressAndPort.String()))
	req.RemoteAddressAndPort = v.to
	req.LocalRedirectTargetPID = v.pid
	req.LocalRedirectHandle = v.h
	req.LocalRedirectContext, req.LocalRedirectContextSize = ctx, ctx.Size()
	e.FwpsApplyModifiedLayerData0(ch, req, 0)
	return true
}

// completePending completes the classifies the vendor pended (the
// asynchronous variant of WDD-REDIR): modify if it decided to redirect,
// then FwpsCompleteClassify0 with PERMIT and the write right, then release.
func (v *vendor) completePending() int {
	e := v.l.e
	n := len(v.pending)
	for _, pd := range v.pending {
		out := wfp.ClassifyOut{ActionType: wfp.FWP_ACTION_PERMIT, Rights: wfp.FWPS_RIGHT_ACTION_WRITE}
		if pd.redirect {
			v.rewrite(pd.ch, &out)
			out.ActionType, out.Rights = wfp.FWP_ACTION_PERMIT, 0
		}
		e.FwpsCompleteClassify0(pd.ch, 0, &out)
		e.FwpsReleaseClassifyHandle0(pd.ch)
	}
	v.pending = nil
	return n
}

func (v *vendor) destroy() { v.l.e.FwpsRedirectHandleDestroy0(v.h) }

// ---- a WSK proxy ----

// proxyMode breaks the documented order at one point.
type proxyMode uint8

const (
	setBeforeConnect proxyMode = iota // QUERY, SET, bind, connect (correct)
	forgetSet                         // never SET: loops
	setAfterConnect                   // SET after WskConnect: too late
)

// proxy is a WSK transparent proxy owned by a user process: a listening
// socket the callout redirects to, and the pairs of sockets it relays.
type proxy struct {
	l     *lab
	proc  *wsk.Process
	addr  netip.AddrPort
	ls    *wsk.Socket
	mode  proxyMode
	pairs []*pair
	queue []*wsk.Socket // taken by WskAcceptEvent (proxyAcceptEvents), not yet served
}

type pair struct {
	in, out   *wsk.Socket
	original  netip.AddrPort
	records   []byte
	context   []byte
	connected nt.Status
}

func (l *lab) addProxy(pid uint32, addr netip.AddrPort) *proxy {
	proc := l.p.Process(pid)
	if proc == nil {
		var err error
		if proc, err = l.p.AddProcess(pid, fmt.Sprintf("proxy%d.exe", pid), true); err != nil {
			l.t.Fatal(err)
		}
	}
	px := &proxy{l: l, proc: proc, addr: addr}
	if proxyAcceptEvents {
		px.listenEvents() // events_test.go
	} else {
		px.ls = l.socket(nt.WSK_FLAG_LISTEN_SOCKET, proc)
	}
	if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(px.ls, addr, 0, i) }).Status; st != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskBind(%v): %v", addr, st)
	}
	if proxyAcceptEvents {
		px.enableAccept()
	}
	return px
}

// query reads a redirect QUERY with the size-0 probe, then a buffer of the
// reported size.
func (px *proxy) query(s *wsk.Socket, code uint32) ([]byte, nt.Status) {
	l := px.l
	var need uint64
	iosb := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskControlSocket(s, nt.WskIoctl, code, 0, 0, nil, 0, nil, &need, i)
	})
	if iosb.Status != nt.STATUS_BUFFER_TOO_SMALL {
		return nil, iosb.Status
	}
	buf := l.pool(nil, need)
	defer l.free(buf)
	var got uint64
	iosb = l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskControlSocket(s, nt.WskIoctl, code, 0, 0, nil, need, buf, &got, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		return nil, iosb.Status
	}
	return append([]byte(nil), buf.Bytes()[:iosb.Information]...), nt.STATUS_SUCCESS
}

// set issues SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS on s.
func (px *proxy) set(s *wsk.Socket, records []byte) nt.Status {
	l := px.l
	blob := l.pool(records, uint64(len(records)))
	defer l.free(blob)
	return l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, uint64(len(records)), blob, 0, nil, nil, i)
	}).Status
}

// serve accepts one redirected connection and carries it on to its
// original destination (WDD-REDIR steps 7-8).
func (px *proxy) serve() *pair {
	l := px.l
	var pr *pair
	if proxyAcceptEvents {
		pr = &pair{in: px.nextAccepted()}
	} else {
		iosb := l.do(func(i *irp.IRP) nt.Status { return l.p.WskAccept(px.ls, 0, nil, nil, nil, nil, i) })
		if iosb.Status != nt.STATUS_SUCCESS {
			l.t.Fatalf("WskAccept: %v", iosb.Status)
		}
		pr = &pair{in: l.p.SocketFromInformation(iosb.Information)}
	}
	px.pairs = append(px.pairs, pr)
	var st nt.Status
	if pr.records, st = px.query(pr.in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS); st != nt.STATUS_SUCCESS {
		l.t.Fatalf("QUERY_RECORDS: %v", st)
	}
	if pr.context, st = px.query(pr.in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT); st != nt.STATUS_SUCCESS {
		l.t.Fatalf("QUERY_CONTEXT: %v", st)
	}
	var err error
	if pr.original, err = netip.ParseAddrPort(string(pr.context)); err != nil {
		l.t.Fatalf("context %q: %v", pr.context, err)
	}
	l.logf("proxy %d: accepted %v, records %d bytes, original destination %v", px.proc.PID, pr.in.RemoteAddr(), len(pr.records), pr.original)
	pr.out = l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, px.proc)
	if px.mode == setBeforeConnect {
		if st := px.set(pr.out, pr.records); st != nt.STATUS_SUCCESS {
			l.t.Fatalf("SET: %v", st)
		}
	}
	if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(pr.out, netip.MustParseAddrPort("0.0.0.0:0"), 0, i) }).Status; st != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskBind: %v", st)
	}
	pr.connected = l.do(func(i *irp.IRP) nt.Status { return l.p.WskConnect(pr.out, pr.original, 0, i) }).Status
	l.logf("proxy %d: WskConnect(%v) -> %v", px.proc.PID, pr.original, pr.connected)
	if px.mode == setAfterConnect {
		st := px.set(pr.out, pr.records)
		l.logf("proxy %d: SET after connect -> %v", px.proc.PID, st)
	}
	return pr
}

// relay moves everything that arrived on from to to (WskReceive, then
// WskSend until every byte went out), and returns how many bytes.
func (l *lab) relay(from, to *wsk.Socket) int {
	buf := l.pool(nil, 256)
	defer l.free(buf)
	iosb := l.do(func(i *irp.IRP) nt.Status { return l.p.WskReceive(from, &wsk.Buf{Block: buf, Length: 256}, 0, i) })
	if iosb.Status != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskReceive: %v", iosb.Status)
	}
	n := iosb.Information
	for off := uint64(0); off < n; {
		iosb := l.do(func(i *irp.IRP) nt.Status {
			return l.p.WskSend(to, &wsk.Buf{Block: buf, Offset: off, Length: n - off}, 0, i)
		})
		if iosb.Status != nt.STATUS_SUCCESS {
			l.t.Fatalf("WskSend: %v", iosb.Status)
		}
		off += iosb.Information
	}
	return int(n)
}

// relayAll relays until want bytes went from -> to.
func (l *lab) relayAll(from, to *wsk.Socket, want int) {
	for got := 0; got < want; {
		got += l.relay(from, to)
	}
}

func (px *proxy) closeAll() {
	for _, pr := range px.pairs {
		px.l.close(pr.in)
		px.l.close(pr.out)
	}
	px.pairs = nil
	px.l.close(px.ls)
}

// ---- tests ----

// TestProxyFlowEndToEnd is example (a) under every seed: both completions
// of every call, partial transfers.
func TestProxyFlowEndToEnd(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		l := newLab(t, sim.Config{Seed: seed}, false)
		app, _ := l.p.AddProcess(600, "app.exe", false)
		server, err := l.p.PeerListen(l.p.System(), labServer)
		if err != nil {
			t.Fatal(err)
		}
		v := l.addVendor("vendorA", 10, labDest, netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
		px := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
		conn, st, err := l.p.PeerConnect(app, netip.AddrPort{}, labDest)
		if err != nil || st != nt.STATUS_SUCCESS {
			t.Fatalf("seed %d: app connect: %v %v", seed, st, err)
		}
		pr := px.serve()
		if pr.connected != nt.STATUS_SUCCESS || pr.original != labDest {
			t.Fatalf("seed %d: proxy connect %v to %v", seed, pr.connected, pr.original)
		}
		want := []wfp.RedirectState{wfp.FWPS_CONNECTION_NOT_REDIRECTED, wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF}
		if fmt.Sprint(v.seen) != fmt.Sprint(want) {
			t.Fatalf("seed %d: callout saw %v, want %v", seed, v.seen, want)
		}
		srv := server.Accept()
		if srv == nil {
			t.Fatalf("seed %d: the proxy's connection did not reach the server", seed)
		}
		conn.Send([]byte("GET / HTTP/1.1\r\n\r\n"))
		l.relayAll(pr.in, pr.out, 18)
		if got := srv.Receive(0); string(got) != "GET / HTTP/1.1\r\n\r\n" {
			t.Fatalf("seed %d: server got %q", seed, got)
		}
		srv.Send([]byte("HTTP/1.1 200 OK\r\n\r\n"))
		l.relayAll(pr.out, pr.in, 19)
		if got := conn.Receive(0); string(got) != "HTTP/1.1 200 OK\r\n\r\n" {
			t.Fatalf("seed %d: app got %q", seed, got)
		}
		conn.Close()
		srv.Close()
		px.closeAll()
		v.destroy()
		if vs := l.finish(); vs != "" {
			t.Fatalf("seed %d: violations:\n%s", seed, vs)
		}
	}
}

// TestProxyLoopReport: the proxy that forgets the SET. The loop report and
// the end-of-run report name the flow, the application, the destination
// and every hop.
func TestProxyLoopReport(t *testing.T) {
	l := newLab(t, sim.Config{Seed: 1}, false)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	l.p.PeerListen(l.p.System(), labServer)
	v := l.addVendor("vendorA", 10, labDest, netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	px := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
	px.mode = forgetSet
	conn, _, _ := l.p.PeerConnect(app, netip.AddrPort{}, labDest)
	px.serve() // its connect comes back to itself
	px.serve() // and again
	conn.Close()
	px.closeAll()
	v.destroy()
	vs := l.finish()
	for _, want := range []string{
		"WFP-PROXY-LOOP",
		"proxy loop on flow1 (peer1, pid 600, to 198.51.100.7:443): hop 1 peer1 (pid 600) -> 127.0.0.1:9000 (pid 500) by H1 [flow1]; hop 2 sock3 (pid 500) -> 127.0.0.1:9000 (pid 500) by H1 again",
		"sock3 connected to 198.51.100.7:443 without the redirect records of flow1",
		"WFP-FLOW-UNFINISHED",
		"flow1 (peer1, pid 600, to 198.51.100.7:443) never reached 198.51.100.7:443 and was never blocked",
		"hop 3 sock5 (pid 500) -> 127.0.0.1:9000 (pid 500) by H1 [flow3]",
	} {
		if !strings.Contains(vs, want) {
			t.Errorf("report lacks %q:\n%s", want, vs)
		}
	}
	if n := strings.Count(vs, "WFP-PROXY-LOOP"); n != 1 {
		t.Errorf("WFP-PROXY-LOOP reported %d times, want once per chain:\n%s", n, vs)
	}
}

// TestConnectPendsOnPendedClassify: a callout that pends the classify
// pends the WskConnect IRP (it does not fail it); the IRP completes after
// FwpsCompleteClassify0, and the connection is made.
func TestConnectPendsOnPendedClassify(t *testing.T) {
	for _, redirect := range []bool{false, true} {
		l := newLab(t, sim.Config{Seed: 3}, false)
		server, _ := l.p.PeerListen(l.p.System(), labServer)
		to := netip.MustParseAddrPort("127.0.0.1:9000")
		v := l.addVendor("pender", 10, labDest, to, 500, otherLeave)
		v.pend = true
		px := l.addProxy(500, to)
		s := l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, netip.MustParseAddrPort("0.0.0.0:0"), 0, i) })
		iosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
		i := l.m.IoAllocateIrp(1, false)
		l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
		if ret := l.p.WskConnect(s, labDest, 0, i); ret != nt.STATUS_PENDING {
			t.Fatalf("WskConnect with a pended classify returned %v, want STATUS_PENDING", ret)
		}
		l.w.RunUntilIdle()
		if iosb.Status != nt.STATUS_PENDING {
			t.Fatalf("the connect completed (%v) before the classify was completed", iosb.Status)
		}
		if len(v.pending) != 1 {
			t.Fatal("nothing pended")
		}
		// The System socket's connect is NOT_REDIRECTED: the callout pended
		// it and now redirects it to its proxy, or permits it unchanged.
		v.pending[0].redirect = redirect
		if v.completePending() != 1 {
			t.Fatal("nothing pended")
		}
		l.w.RunUntilIdle()
		if iosb.Status != nt.STATUS_SUCCESS {
			t.Fatalf("connect completed with %v", iosb.Status)
		}
		l.m.IoFreeIrp(i)
		if redirect {
			if server.Accept() != nil {
				t.Fatal("redirected connect reached the server")
			}
			v.pend = false // the proxy's own connect: BY_SELF, permitted inline
			if pr := px.serve(); pr.connected != nt.STATUS_SUCCESS || server.Accept() == nil {
				t.Fatalf("the proxy's connect (%v) did not reach the server", pr.connected)
			}
		} else if server.Accept() == nil {
			t.Fatal("permitted connect did not reach the server")
		}
		l.close(s)
		px.closeAll()
		v.destroy()
		if vs := l.finish(); vs != "" {
			t.Fatalf("violations:\n%s", vs)
		}
	}
}

// TestCancelPendingWskIrps: IoCancelIrp returns TRUE for every pending WSK
// IRP; under P-CANCEL=cancel it completes with STATUS_CANCELLED and the
// call's effect is taken back where that is possible.
func TestCancelPendingWskIrps(t *testing.T) {
	newPending := func(seed uint64) (*lab, *wsk.Socket) {
		l := newLab(t, sim.Config{Seed: seed}, false)
		l.w.SetPolicy(wsk.PolicySync, "pending")
		l.w.SetPolicy(wsk.PolicyCancel, "cancel")
		l.p.PeerListen(l.p.System(), labServer)
		return l, l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	}
	cancel := func(l *lab, call func(i *irp.IRP) nt.Status) nt.Status {
		iosb := irp.IoStatusBlock{Status: nt.STATUS_PENDING}
		i := l.m.IoAllocateIrp(1, false)
		l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
		if ret := call(i); ret != nt.STATUS_PENDING {
			t.Fatalf("call returned %v, want STATUS_PENDING", ret)
		}
		if !l.m.IoCancelIrp(i) {
			t.Fatal("IoCancelIrp returned FALSE for a pending WSK IRP")
		}
		l.w.RunUntilIdle()
		l.m.IoFreeIrp(i)
		return iosb.Status
	}
	any := netip.MustParseAddrPort("0.0.0.0:0")

	// WskBind: cancelled, the socket is not bound (a connect says so).
	l, s := newPending(1)
	if st := cancel(l, func(i *irp.IRP) nt.Status { return l.p.WskBind(s, any, 0, i) }); st != nt.STATUS_CANCELLED {
		t.Fatalf("bind: %v", st)
	}
	if s.LocalAddr().IsValid() {
		t.Fatalf("a cancelled bind left %v bound", s.LocalAddr())
	}
	l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, any, 0, i) })
	// WskConnect: cancelled, no connection (the server sees a reset one).
	if st := cancel(l, func(i *irp.IRP) nt.Status { return l.p.WskConnect(s, labDest, 0, i) }); st != nt.STATUS_CANCELLED {
		t.Fatalf("connect: %v", st)
	}
	if s.Connected() {
		t.Fatal("a cancelled connect left the socket connected")
	}
	l.close(s)
	l.finish()

	// WskSend: cancelled after the bytes went out: the connection is reset.
	l, s = newPending(2)
	l.w.SetPolicy(wsk.PolicySync, "inline")
	l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, any, 0, i) })
	if st := l.do(func(i *irp.IRP) nt.Status { return l.p.WskConnect(s, labDest, 0, i) }).Status; st != nt.STATUS_SUCCESS {
		t.Fatalf("connect: %v", st)
	}
	l.w.SetPolicy(wsk.PolicySync, "pending")
	buf := l.pool([]byte("abc"), 3)
	if st := cancel(l, func(i *irp.IRP) nt.Status { return l.p.WskSend(s, &wsk.Buf{Block: buf, Length: 3}, 0, i) }); st != nt.STATUS_CANCELLED {
		t.Fatalf("send: %v", st)
	}
	l.free(buf)
	l.close(s)
	l.finish()

	// WskConnect waiting for a pended classify: always cancellable; the
	// classify completing later makes no connection.
	l, s = newPending(3)
	server, _ := l.p.PeerListen(l.p.System(), netip.MustParseAddrPort("198.51.100.8:443"))
	v := l.addVendor("pender", 10, netip.MustParseAddrPort("198.51.100.8:443"), netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	v.pend = true
	l.w.SetPolicy(wsk.PolicySync, "inline")
	l.do(func(i *irp.IRP) nt.Status { return l.p.WskBind(s, any, 0, i) })
	if st := cancel(l, func(i *irp.IRP) nt.Status {
		return l.p.WskConnect(s, netip.MustParseAddrPort("198.51.100.8:443"), 0, i)
	}); st != nt.STATUS_CANCELLED {
		t.Fatalf("connect in classify: %v", st)
	}
	v.pending[0].redirect = false
	v.completePending()
	l.w.RunUntilIdle()
	if s.Connected() || server.Accept() != nil {
		t.Fatal("a cancelled connect was made when the classify completed")
	}
	l.close(s)
	v.destroy()
	if vs := l.finish(); vs != "" {
		t.Fatalf("violations:\n%s", vs)
	}
}

// TestProxyChainsProperty runs random chains of vendors (callouts with
// their WSK proxies) through WSK. Every proxy SETs the records before it
// connects. Properties: never a loop; the application's connection ends at
// its destination or is blocked; the state each callout sees is what a
// plain history model predicts; nothing else is reported.
func TestProxyChainsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		l := newLab(rt, sim.Config{Chooser: rapidChooser{rt}}, false)
		app, _ := l.p.AddProcess(600, "app.exe", false)
		server, _ := l.p.PeerListen(l.p.System(), labServer)
		k := rapid.IntRange(1, 4).Draw(rt, "vendors")
		var vs []*vendor
		var pxs []*proxy
		for i := 0; i < k; i++ {
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(9000+i))
			other := onOther(rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("other%d", i)))
			vs = append(vs, l.addVendor(fmt.Sprintf("vendor%d", i), uint64(100-i), labDest, to, uint32(500+i), other))
			pxs = append(pxs, l.addProxy(uint32(500+i), to))
		}
		cm := &chainModel{vs: vs}
		want, red, blocked := cm.predict()
		conn, st, err := l.p.PeerConnect(app, netip.AddrPort{}, labDest)
		if err != nil {
			rt.Fatal(err)
		}
		cm.check(rt, 0, want)
		var lastOut *wsk.Socket
		var path []*pair
		for step := 1; st == nt.STATUS_SUCCESS && red >= 0; step++ {
			if step > k {
				rt.Fatalf("more than %d hops with records set: a loop", k)
			}
			cm.hist = append(cm.hist, red)
			want, red, blocked = cm.predict()
			pr := pxs[cm.last()].serve()
			cm.check(rt, step, want)
			st = pr.connected
			lastOut = pr.out
			path = append(path, pr)
		}
		switch {
		case blocked:
			if st != nt.STATUS_ACCESS_DENIED {
				rt.Fatalf("model: blocked; the connect completed with %v", st)
			}
		case st != nt.STATUS_SUCCESS:
			rt.Fatalf("connect failed with %v", st)
		default:
			srv := server.Accept()
			if srv == nil {
				rt.Fatal("the connection did not end at the destination")
			}
			// Bytes flow along the chain and back.
			msg := []byte("hello through the chain")
			conn.Send(msg)
			for _, pr := range path {
				l.relayAll(pr.in, pr.out, len(msg))
			}
			if got := srv.Receive(0); !bytes.Equal(got, msg) {
				rt.Fatalf("server got %q", got)
			}
			srv.Send(msg)
			for j := len(path) - 1; j >= 0; j-- {
				l.relayAll(path[j].out, path[j].in, len(msg))
			}
			if got := conn.Receive(0); !bytes.Equal(got, msg) {
				rt.Fatalf("app got %q", got)
			}
			srv.Close()
		}
		_ = lastOut
		if conn != nil {
			conn.Close()
		}
		for i, px := range pxs {
			px.closeAll()
			vs[i].destroy()
		}
		if got := l.finish(); got != "" {
			rt.Fatalf("violations:\n%s", got)
		}
	})
}

// chainModel is the plain history model of the chains properties: the
// vendors that redirected the flow, oldest first, and what each callout
// must therefore see.
type chainModel struct {
	vs   []*vendor
	hist []int
}

// state is the redirect state vendor v must see next.
func (cm *chainModel) state(v int) wfp.RedirectState {
	switch {
	case len(cm.hist) == 0:
		return wfp.FWPS_CONNECTION_NOT_REDIRECTED
	case cm.hist[len(cm.hist)-1] == v:
		return wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF
	}
	for _, x := range cm.hist {
		if x == v {
			return wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF
		}
	}
	return wfp.FWPS_CONNECTION_REDIRECTED_BY_OTHER
}

// predict runs the callouts in filter order until one redirects or
// blocks, and returns the states every vendor must have seen by then, the
// redirector (-1 for none) and whether the flow is blocked.
func (cm *chainModel) predict() ([][]wfp.RedirectState, int, bool) {
	want := make([][]wfp.RedirectState, len(cm.vs))
	for i, v := range cm.vs {
		want[i] = append([]wfp.RedirectState(nil), v.seen...)
	}
	for i, v := range cm.vs {
		st := cm.state(i)
		want[i] = append(want[i], st)
		switch {
		case st == wfp.FWPS_CONNECTION_NOT_REDIRECTED, st == wfp.FWPS_CONNECTION_REDIRECTED_BY_OTHER && v.other == otherReproxy:
			return want, i, false
		case st == wfp.FWPS_CONNECTION_REDIRECTED_BY_OTHER && v.other == otherBlock:
			return want, -1, true
		}
	}
	return want, -1, false
}

// check compares what the vendors saw with want.
func (cm *chainModel) check(rt *rapid.T, step int, want [][]wfp.RedirectState) {
	for i, v := range cm.vs {
		if fmt.Sprint(v.seen) != fmt.Sprint(want[i]) {
			rt.Fatalf("step %d: vendor%d saw %v, model %v", step, i, v.seen, want[i])
		}
	}
}

// last is the vendor that redirected last.
func (cm *chainModel) last() int { return cm.hist[len(cm.hist)-1] }
