package wsk_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

func TestListenAcceptEcho(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		e := newEnv(t, withSeed(seed))
		ls := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
		e.mustStatus("WskBind", e.bind(ls, "127.0.0.1:9000"), nt.STATUS_SUCCESS)

		pc, st, err := e.p.PeerConnect(e.p.System(), netip.AddrPort{}, ap("127.0.0.1:9000"))
		if err != nil || st != nt.STATUS_SUCCESS {
			t.Fatalf("PeerConnect: %v %v", st, err)
		}
		var la, ra netip.AddrPort
		_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskAccept(ls, 0, nil, nil, &la, &ra, i) })
		e.mustStatus("WskAccept", c.status, nt.STATUS_SUCCESS)
		as := e.p.SocketFromInformation(c.info)
		if as == nil || la != ap("127.0.0.1:9000") || ra != pc.Local() {
			t.Fatalf("accepted %v la=%v ra=%v peer=%v", as, la, ra, pc.Local())
		}
		if err := pc.Send([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		rb := e.pool(nil, 16)
		var got []byte
		for len(got) < 5 {
			_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskReceive(as, &wsk.Buf{Block: rb, Length: 16}, 0, i) })
			e.mustStatus("WskReceive", c.status, nt.STATUS_SUCCESS)
			got = append(got, rb.Bytes()[:c.info]...)
		}
		if string(got) != "hello" {
			t.Fatalf("received %q", got)
		}
		sb := e.pool([]byte("world"), 5)
		sent := 0
		for sent < 5 {
			_, c = e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskSend(as, &wsk.Buf{Block: sb, Offset: uint64(sent), Length: uint64(5 - sent)}, 0, i)
			})
			e.mustStatus("WskSend", c.status, nt.STATUS_SUCCESS)
			sent += int(c.info)
		}
		if got := pc.Receive(0); !bytes.Equal(got, []byte("world")) {
			t.Fatalf("peer received %q", got)
		}
		pc.Close()
		_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskReceive(as, &wsk.Buf{Block: rb, Length: 16}, 0, i) })
		if c.status != nt.STATUS_SUCCESS || c.info != 0 {
			t.Fatalf("receive after peer FIN: %v %d", c.status, c.info)
		}
		e.close(as)
		e.close(ls)
		e.free(rb)
		e.free(sb)
		e.teardown()
	}
}

func TestCaptureStatuses(t *testing.T) {
	cfg := func(ready time.Duration, ver uint16) envOpt {
		return func(_ *sim.Config, c *wsk.Config) { c.ReadyAfter = ready; c.Version = ver }
	}
	reg := func(e *env, ver uint16) *wsk.Registration {
		r := new(wsk.Registration)
		e.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: ver}}, r)
		return r
	}
	t.Run("no-wait-not-ready", func(t *testing.T) {
		e := newEnvNoCapture(t, cfg(50*time.Millisecond, 0))
		var npi wsk.ProviderNPI
		r := reg(e, nt.MAKE_WSK_VERSION(1, 0))
		e.mustStatus("WSK_NO_WAIT", e.p.WskCaptureProviderNPI(r, nt.WSK_NO_WAIT, &npi), nt.STATUS_DEVICE_NOT_READY)
		e.mustStatus("10 ms", e.p.WskCaptureProviderNPI(r, 10, &npi), nt.STATUS_DEVICE_NOT_READY)
		if e.w.Now() != 10*time.Millisecond {
			t.Fatalf("waited until %v, want 10ms", e.w.Now())
		}
		e.mustStatus("100 ms", e.p.WskCaptureProviderNPI(r, 100, &npi), nt.STATUS_SUCCESS)
		if e.w.Now() != 50*time.Millisecond {
			t.Fatalf("ready at %v, want 50ms", e.w.Now())
		}
		e.p.WskReleaseProviderNPI(r)
		e.p.WskDeregister(r)
		e.w.Close()
		e.noViolations()
	})
	t.Run("nointerface", func(t *testing.T) {
		e := newEnvNoCapture(t)
		var npi wsk.ProviderNPI
		r := reg(e, nt.MAKE_WSK_VERSION(2, 0))
		e.mustStatus("version 2.0", e.p.WskCaptureProviderNPI(r, nt.WSK_NO_WAIT, &npi), nt.STATUS_NOINTERFACE)
		e.p.WskDeregister(r)
		e.w.Close()
		e.noViolations()
	})
}

// newEnvNoCapture is a world and a provider without a registration.
func newEnvNoCapture(t testing.TB, opts ...envOpt) *env {
	sc := sim.Config{Seed: 1}
	var wc wsk.Config
	for _, o := range opts {
		o(&sc, &wc)
	}
	w := sim.NewWorld(sc)
	m := irp.NewManager(w)
	p, err := wsk.NewProvider(m, wc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, w: w, m: m, p: p, reg: new(wsk.Registration)}
}

func TestConnectStatuses(t *testing.T) {
	e := newEnv(t, func(_ *sim.Config, c *wsk.Config) { c.LocalAddrs = []netip.Addr{netip.MustParseAddr("10.0.0.1")} })
	e.p.AddRemoteHost(netip.MustParseAddr("203.0.113.5"))
	try := func(to string) nt.Status {
		var s *wsk.Socket
		if to[0] == '[' {
			s = e.socket(nt.AF_INET6, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			e.bind(s, "[::]:0")
		} else {
			s = e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			e.bind(s, "0.0.0.0:0")
		}
		defer e.close(s)
		return e.connect(s, to)
	}
	e.mustStatus("nothing listening locally", try("127.0.0.1:1"), nt.STATUS_CONNECTION_REFUSED)
	e.mustStatus("known remote host", try("203.0.113.5:80"), nt.STATUS_CONNECTION_REFUSED)
	e.mustStatus("unknown remote host", try("192.0.2.77:80"), nt.STATUS_HOST_UNREACHABLE)
	e.mustStatus("no IPv6 address", try("[2001:db8::1]:80"), nt.STATUS_NETWORK_UNREACHABLE)
	s := e.connected()
	e.mustStatus("second connect", e.connect(s, "127.0.0.1:7777"), nt.STATUS_CONNECTION_ACTIVE)
	e.close(s)
	e.teardown()
}

func TestPendingAcceptReceiveCancelReset(t *testing.T) {
	e := newEnv(t)
	ls := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
	e.bind(ls, "127.0.0.1:9000")
	// A pending accept is cancelled by IoCancelIrp.
	i := e.newIRP()
	e.mustStatus("WskAccept", e.p.WskAccept(ls, 0, nil, nil, nil, nil, i), nt.STATUS_PENDING)
	if !e.m.IoCancelIrp(i) {
		t.Fatal("pending accept has no cancel routine")
	}
	if cs := e.completionsOf(i); len(cs) != 1 || cs[0].status != nt.STATUS_CANCELLED {
		t.Fatalf("cancelled accept: %+v", cs)
	}
	// A pending accept completes when a connection arrives.
	e.rearm(i)
	var ra netip.AddrPort
	e.mustStatus("WskAccept", e.p.WskAccept(ls, 0, "ctx", nil, nil, &ra, i), nt.STATUS_PENDING)
	pc, _, _ := e.p.PeerConnect(e.p.System(), netip.AddrPort{}, ap("127.0.0.1:9000"))
	e.w.RunUntilIdle()
	cs := e.completionsOf(i)
	if len(cs) != 2 || cs[1].status != nt.STATUS_SUCCESS || ra != pc.Local() {
		t.Fatalf("accept after arrival: %+v ra=%v", cs, ra)
	}
	as := e.p.SocketFromInformation(cs[1].info)
	if as.Context() != "ctx" {
		t.Fatal("AcceptSocketContext not kept")
	}
	// A pending receive completes with CONNECTION_RESET when the peer resets.
	rb := e.pool(nil, 8)
	e.rearm(i)
	e.mustStatus("WskReceive", e.p.WskReceive(as, &wsk.Buf{Block: rb, Length: 8}, 0, i), nt.STATUS_PENDING)
	pc.Reset()
	e.w.RunUntilIdle()
	if cs := e.completionsOf(i); cs[len(cs)-1].status != nt.STATUS_CONNECTION_RESET {
		t.Fatalf("receive after reset: %v", cs[len(cs)-1].status)
	}
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskSend(as, &wsk.Buf{Block: rb, Length: 8}, 0, i) })
	e.mustStatus("send after reset", c.status, nt.STATUS_CONNECTION_RESET)
	// A pending accept is completed by WskCloseSocket (P-CLOSE).
	e.rearm(i)
	e.p.WskAccept(ls, 0, nil, nil, nil, nil, i)
	e.close(ls)
	if cs := e.completionsOf(i); cs[len(cs)-1].status != nt.STATUS_CANCELLED {
		t.Fatalf("accept at close: %v", cs[len(cs)-1].status)
	}
	e.m.IoFreeIrp(i)
	e.close(as)
	e.free(rb)
	e.teardown()
}

func TestStreamAndSocketConnect(t *testing.T) {
	e := newEnv(t)
	st := e.socket(nt.AF_INET, nt.WSK_FLAG_STREAM_SOCKET, nil)
	e.bind(st, "127.0.0.1:9100")
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskListen(st, i) })
	e.mustStatus("WskListen", c.status, nt.STATUS_SUCCESS)
	// WskSocketConnect to the stream listener.
	_, c = e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskSocketConnect(e.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, ap("0.0.0.0:0"), ap("127.0.0.1:9100"), 0, nil, nil, nil, nil, nil, i)
	})
	e.mustStatus("WskSocketConnect", c.status, nt.STATUS_SUCCESS)
	cs := e.p.SocketFromInformation(c.info)
	if !cs.Connected() || cs.RemoteAddr() != ap("127.0.0.1:9100") {
		t.Fatalf("WskSocketConnect socket: connected=%v remote=%v", cs.Connected(), cs.RemoteAddr())
	}
	in := e.accept(st)
	var la netip.AddrPort
	_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskGetRemoteAddress(in, &la, i) })
	if c.status != nt.STATUS_SUCCESS || la != cs.LocalAddr() {
		t.Fatalf("WskGetRemoteAddress: %v %v want %v", c.status, la, cs.LocalAddr())
	}
	// SET on the listening stream socket: P-CAT; on the WskSocketConnect socket: too late.
	r := e.issue(wsk.SystemPID)
	b := e.pool(r, len(r))
	e.mustStatus("SET on listening stream", e.set(st, b, uint64(len(r))).status, nt.STATUS_NOT_SUPPORTED)
	e.mustStatus("SET after WskSocketConnect", e.set(cs, b, uint64(len(r))).status, nt.STATUS_INVALID_DEVICE_STATE)
	// Graceful disconnect: the other side reads 0 bytes.
	_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskDisconnect(cs, nil, 0, i) })
	e.mustStatus("WskDisconnect", c.status, nt.STATUS_SUCCESS)
	_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskReceive(in, &wsk.Buf{Block: b, Length: 4}, 0, i) })
	if c.status != nt.STATUS_SUCCESS || c.info != 0 {
		t.Fatalf("receive after FIN: %v %d", c.status, c.info)
	}
	e.free(b)
	for _, s := range []*wsk.Socket{in, cs, st} {
		e.close(s)
	}
	e.teardown(wsk.RuleSetAfterConnect)
}

func TestDocumentedStatusTable(t *testing.T) {
	for _, call := range wsk.DocumentedCalls() {
		ds := wsk.DocumentedStatuses(call)
		if len(ds) == 0 {
			t.Errorf("%s: no statuses", call)
		}
		for _, d := range ds {
			if !d.Status.Known() || d.Source == "" {
				t.Errorf("%s: %v without a name or a source", call, d.Status)
			}
		}
	}
	set := wsk.ControlCall(nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS)
	for _, st := range []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING, nt.STATUS_INTEGER_OVERFLOW, nt.STATUS_ACCESS_DENIED} {
		if !wsk.StatusAllowed(set, st) {
			t.Errorf("SET must allow %v (sio-set-wfp-connection-redirect-records)", st)
		}
	}
	if wsk.StatusAllowed(set, nt.STATUS_BUFFER_TOO_SMALL) || wsk.StatusAllowed(set, nt.STATUS_NOT_FOUND) {
		t.Error("SET has no output: BUFFER_TOO_SMALL / NOT_FOUND are not its statuses")
	}
	for _, code := range []uint32{nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT} {
		q := wsk.ControlCall(nt.WskIoctl, code)
		for _, st := range []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_INTEGER_OVERFLOW, nt.STATUS_NOT_FOUND, nt.STATUS_BUFFER_TOO_SMALL, nt.STATUS_ACCESS_DENIED} {
			if !wsk.StatusAllowed(q, st) {
				t.Errorf("%s must allow %v", q, st)
			}
		}
	}
}

func TestTraceUsesDDINames(t *testing.T) {
	e := newEnv(t, withTrace())
	s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	r := e.issue(wsk.SystemPID)
	b := e.pool(r, len(r))
	e.set(s, b, uint64(len(r)))
	e.free(b)
	e.close(s)
	e.teardown()
	want := map[string][]string{
		"WskRegister":           {"WskClientNpi", "WskRegistration"},
		"WskCaptureProviderNPI": {"WskRegistration", "WaitTimeout", "WskProviderNpi"},
		"WskSocket":             {"Client", "AddressFamily", "SocketType", "Protocol", "Flags", "SocketContext", "Dispatch", "OwningProcess", "OwningThread", "SecurityDescriptor", "Irp"},
		"WskControlSocket":      {"Socket", "RequestType", "ControlCode", "Level", "InputSize", "InputBuffer", "OutputSize", "OutputBuffer", "OutputSizeReturned", "Irp"},
		"WskCloseSocket":        {"Socket", "Irp"},
		"WskDeregister":         {"WskRegistration"},
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(e.trace.String()), "\n")[1:] {
		var ev struct {
			Ev   string                     `json:"ev"`
			Fn   string                     `json:"fn"`
			Args map[string]json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad trace line %q: %v", line, err)
		}
		if ev.Ev != "call" {
			continue
		}
		keys, ok := want[ev.Fn]
		if !ok {
			continue
		}
		seen[ev.Fn] = true
		if len(ev.Args) != len(keys) {
			t.Errorf("%s: args %v, want %v", ev.Fn, ev.Args, keys)
		}
		for _, k := range keys {
			if _, ok := ev.Args[k]; !ok {
				t.Errorf("%s: missing DDI parameter %s in %s", ev.Fn, k, line)
			}
		}
		if ev.Fn == "WskControlSocket" && string(ev.Args["ControlCode"]) != `"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS"` {
			t.Errorf("ControlCode spelled %s", ev.Args["ControlCode"])
		}
	}
	for fn := range want {
		if !seen[fn] {
			t.Errorf("no %s call in the trace", fn)
		}
	}
}

// TestDatagramListenFlag ports driver_netio.c test_wsk_listen_socket: on
// Windows a SOCK_DGRAM/IPPROTO_UDP socket created with WSK_FLAG_LISTEN_SOCKET
// is created, and its WskBind completes with STATUS_NOT_IMPLEMENTED,
// Information 0; closing it succeeds.
func TestDatagramListenFlag(t *testing.T) {
	for _, sync := range []string{"pending", "inline"} {
		t.Run(sync, func(t *testing.T) {
			e := newEnv(t)
			e.policy(wsk.PolicySync, sync)
			_, c := e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskSocket(e.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, nil, nil, nil, i)
			})
			if c.status != nt.STATUS_SUCCESS || c.info == 0 {
				t.Fatalf("WskSocket(SOCK_DGRAM, WSK_FLAG_LISTEN_SOCKET) completed %v, Information %d; want STATUS_SUCCESS and a socket", c.status, c.info)
			}
			s := e.p.SocketFromInformation(c.info)
			ret, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskBind(s, ap("127.0.0.1:7100"), 0, i) })
			if c.status != nt.STATUS_NOT_IMPLEMENTED || c.info != 0 {
				t.Fatalf("WskBind on the UDP listen socket completed %v, Information %d (returned %v); want STATUS_NOT_IMPLEMENTED, 0", c.status, c.info, ret)
			}
			e.close(s)
			e.teardown()
		})
	}
}
