package wsk_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// proxyEnv is a local proxy (PID 500, elevated) listening on 127.0.0.1:9000,
// a redirect policy sending connects to 198.51.100.7:443 there, a remote
// server listening on 198.51.100.7:443 and an application (PID 600).
type proxyEnv struct {
	*env
	proxy, app *wsk.Process
	ls         *wsk.Socket
	server     *wsk.PeerListener
	ctx        []byte
}

func newProxyEnv(t testing.TB, opts ...envOpt) *proxyEnv {
	e := newEnv(t, opts...)
	pe := &proxyEnv{env: e, ctx: []byte{0xc0, 0xff, 0xee}}
	var err error
	if pe.proxy, err = e.p.AddProcess(500, "proxy.exe", true); err != nil {
		t.Fatal(err)
	}
	if pe.app, err = e.p.AddProcess(600, "app.exe", false); err != nil {
		t.Fatal(err)
	}
	pe.ls = e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, pe.proxy)
	e.mustStatus("WskBind", e.bind(pe.ls, "127.0.0.1:9000"), nt.STATUS_SUCCESS)
	if err := e.p.Engine().AddRedirectPolicy("H1", ap("198.51.100.7:443"), ap("127.0.0.1:9000"), pe.ctx, 500); err != nil {
		t.Fatal(err)
	}
	if pe.server, err = e.p.PeerListen(e.p.System(), ap("198.51.100.7:443")); err != nil {
		t.Fatal(err)
	}
	return pe
}

// query issues a redirect QUERY and returns the completion and *OutputSizeReturned.
func (e *env) query(s *wsk.Socket, code uint32, out *irp.Block, outSize uint64) (completion, uint64) {
	e.t.Helper()
	var osr uint64 = 0xdead
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskControlSocket(s, nt.WskIoctl, code, 0, 0, nil, outSize, out, &osr, i)
	})
	return c, osr
}

func (e *env) set(s *wsk.Socket, blob *irp.Block, size uint64) completion {
	e.t.Helper()
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, size, blob, 0, nil, nil, i)
	})
	return c
}

// queryAll reads records or context with the probe-then-copy pattern.
func (e *env) queryAll(s *wsk.Socket, code uint32) []byte {
	e.t.Helper()
	c, need := e.query(s, code, nil, 0)
	e.mustStatus("QUERY probe", c.status, nt.STATUS_BUFFER_TOO_SMALL)
	b := e.pool(nil, int(need))
	c, got := e.query(s, code, b, need)
	e.mustStatus("QUERY", c.status, nt.STATUS_SUCCESS)
	if c.info != need || got != need {
		e.t.Fatalf("QUERY: Information %d, OutputSizeReturned %d, want %d", c.info, got, need)
	}
	out := append([]byte(nil), b.Bytes()[:need]...)
	e.free(b)
	return out
}

func TestProxyEndToEnd(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		pe := newProxyEnv(t, withSeed(seed))
		e := pe.env
		appConn, st, err := e.p.PeerConnect(pe.app, netip.AddrPort{}, ap("198.51.100.7:443"))
		if err != nil || st != nt.STATUS_SUCCESS {
			t.Fatalf("app connect: %v %v", st, err)
		}
		in := e.accept(pe.ls)
		if !in.Redirected() {
			t.Fatal("accepted socket is not redirected")
		}
		recs := e.queryAll(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)
		ctx := e.queryAll(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)
		if !bytes.Equal(ctx, pe.ctx) {
			t.Fatalf("context %x, want %x", ctx, pe.ctx)
		}
		if hops, st := e.p.Engine().DecodeRecords(recs); st != nt.STATUS_SUCCESS || len(hops) != 1 {
			t.Fatalf("records decode: %v %v", hops, st)
		}
		// Large-buffer pattern: a 1 KiB buffer gets everything in one go.
		big := e.pool(nil, 1024)
		c, got := e.query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, big, 1024)
		if c.status != nt.STATUS_SUCCESS || got != uint64(len(recs)) || !bytes.Equal(big.Bytes()[:got], recs) {
			t.Fatalf("large-buffer QUERY: %v %d", c.status, got)
		}
		e.free(big)

		out := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, pe.proxy)
		blob := e.pool(recs, len(recs))
		c = e.set(out, blob, uint64(len(recs)))
		e.mustStatus("SET", c.status, nt.STATUS_SUCCESS)
		e.free(blob)
		if !bytes.Equal(out.Records(), recs) {
			t.Fatal("socket does not hold the records it was SET")
		}
		e.mustStatus("WskBind", e.bind(out, "0.0.0.0:0"), nt.STATUS_SUCCESS)
		e.mustStatus("WskConnect", e.connect(out, "198.51.100.7:443"), nt.STATUS_SUCCESS)
		srv := pe.server.Accept()
		if srv == nil {
			t.Fatal("the proxy's outbound connect did not reach the server (redirected again?)")
		}
		if pe.ls != nil && e.p.OpenSockets() != 3 {
			t.Fatalf("open sockets %d", e.p.OpenSockets())
		}
		// Data flows app -> proxy -> server.
		if err := appConn.Send([]byte("GET")); err != nil {
			t.Fatal(err)
		}
		rb := e.pool(nil, 8)
		_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskReceive(in, &wsk.Buf{Block: rb, Length: 3}, 0, i) })
		e.mustStatus("WskReceive", c.status, nt.STATUS_SUCCESS)
		_, c = e.do(func(i *irp.IRP) nt.Status { return e.p.WskSend(out, &wsk.Buf{Block: rb, Length: c.info}, 0, i) })
		e.mustStatus("WskSend", c.status, nt.STATUS_SUCCESS)
		if srv.Pending() == 0 {
			t.Fatal("server got nothing")
		}
		e.free(rb)
		e.close(in)
		e.close(out)
		e.close(pe.ls)
		appConn.Close()
		srv.Close()
		e.teardown()
	}
}

func TestProxyWithoutSetLoops(t *testing.T) {
	pe := newProxyEnv(t)
	e := pe.env
	if _, st, _ := e.p.PeerConnect(pe.app, netip.AddrPort{}, ap("198.51.100.7:443")); st != nt.STATUS_SUCCESS {
		t.Fatal(st)
	}
	in := e.accept(pe.ls)
	out := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, pe.proxy)
	e.mustStatus("WskBind", e.bind(out, "0.0.0.0:0"), nt.STATUS_SUCCESS)
	e.mustStatus("WskConnect", e.connect(out, "198.51.100.7:443"), nt.STATUS_SUCCESS)
	if pe.server.Accept() != nil {
		t.Fatal("without SET the outbound connect must be redirected back to the proxy")
	}
	again := e.accept(pe.ls)
	if !again.Redirected() {
		t.Fatal("the looped connection should arrive redirected")
	}
	for _, s := range []*wsk.Socket{in, out, again, pe.ls} {
		e.close(s)
	}
	e.teardown("WFP-PROXY-LOOP", "WFP-FLOW-UNFINISHED")
}

func TestRedirectedConnectHelper(t *testing.T) {
	e := newEnv(t)
	ls := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
	e.mustStatus("WskBind", e.bind(ls, "127.0.0.1:9000"), nt.STATUS_SUCCESS)
	app, err := e.p.RedirectedConnect("app1", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte{0xc0, 0xff, 0xee}, 4)
	if err != nil {
		t.Fatal(err)
	}
	in := e.accept(ls)
	recs := e.queryAll(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)
	if st := e.p.Engine().CheckRecords(recs, wsk.SystemPID); st != nt.STATUS_SUCCESS {
		t.Fatalf("records issued by IssueRedirect do not check: %v", st)
	}
	if ctx := e.queryAll(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT); !bytes.Equal(ctx, []byte{0xc0, 0xff, 0xee}) {
		t.Fatalf("context %x", ctx)
	}
	if in.RemoteAddr() != ap("192.0.2.10:50000") || app.Remote() != ap("198.51.100.7:443") {
		t.Fatalf("addresses: accepted remote %v, app remote %v", in.RemoteAddr(), app.Remote())
	}
	// The listener itself answers NOT_FOUND (ebpf-for-windows PR #2851 pitfall) -> P-CAT.
	c, _ := e.query(ls, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, nil, 0)
	e.mustStatus("QUERY on the listener", c.status, nt.STATUS_NOT_SUPPORTED)
	e.close(in)
	e.close(ls)
	app.Close()
	e.teardown()
}
