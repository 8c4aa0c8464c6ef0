package wsk_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// bindCallout registers a callout at ALE_BIND_REDIRECT_V4 that rewrites a
// bind to `from` into `to` (acquire FWPS_BIND_REQUEST0, modify, apply,
// permit, release), or blocks it when to is the zero AddrPort.
func bindCallout(t *testing.T, e *env, from, to netip.AddrPort) {
	t.Helper()
	eng := e.p.Engine()
	c, err := eng.RegisterCallout("bindredir", wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V4, func(cl *wfp.Classify) {
		if cl.LocalAddress != from || cl.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE == 0 {
			return
		}
		if !to.IsValid() {
			cl.Out.ActionType = wfp.FWP_ACTION_BLOCK
			cl.Out.Rights &^= wfp.FWPS_RIGHT_ACTION_WRITE
			return
		}
		var ch uint64
		if st := eng.FwpsAcquireClassifyHandle0(cl.ClassifyContext, 0, &ch); st != nt.STATUS_SUCCESS {
			t.Fatalf("FwpsAcquireClassifyHandle0: %v", st)
		}
		var req *wfp.FWPS_BIND_REQUEST0
		if st := eng.FwpsAcquireWritableLayerDataPointer0Bind(ch, cl.Filter.FilterId, 0, &req, cl.Out); st != nt.STATUS_SUCCESS {
			t.Fatalf("FwpsAcquireWritableLayerDataPointer0Bind: %v", st)
		}
		req.LocalAddressAndPort = to
		eng.FwpsApplyModifiedLayerData0Bind(ch, req, 0)
		cl.Out.ActionType = wfp.FWP_ACTION_PERMIT
		eng.FwpsReleaseClassifyHandle0(ch)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.AddFilter(wfp.Filter{Name: "bindredir", Callout: c, Weight: 10}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) localAddr(s *wsk.Socket) netip.AddrPort {
	e.t.Helper()
	var la netip.AddrPort
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskGetLocalAddress(s, &la, i) })
	e.mustStatus("WskGetLocalAddress", c.status, nt.STATUS_SUCCESS)
	return la
}

func TestBindRedirectRewritesLocalPort(t *testing.T) {
	e := newEnv(t, withTrace())
	bindCallout(t, e, ap("127.0.0.1:5000"), ap("127.0.0.1:6000"))
	s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	e.mustStatus("WskBind", e.bind(s, "127.0.0.1:5000"), nt.STATUS_SUCCESS)
	if got := e.localAddr(s); got != ap("127.0.0.1:6000") {
		t.Fatalf("WskGetLocalAddress = %v, want the rewritten 127.0.0.1:6000", got)
	}
	// Another bind to the rewritten address conflicts: the socket holds it.
	s2 := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	e.mustStatus("WskBind to the taken port", e.bind(s2, "127.0.0.1:6000"), nt.STATUS_ADDRESS_ALREADY_EXISTS)
	// A bind the callout leaves alone is unchanged.
	s3 := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	e.mustStatus("WskBind", e.bind(s3, "127.0.0.1:5001"), nt.STATUS_SUCCESS)
	if got := e.localAddr(s3); got != ap("127.0.0.1:5001") {
		t.Fatalf("WskGetLocalAddress = %v, want 127.0.0.1:5001", got)
	}
	tr := e.trace.String()
	for _, want := range []string{`"what":"classify","layer":"FWPS_LAYER_ALE_BIND_REDIRECT_V4"`, `"what":"classify_return"`, `"fn":"FwpsAcquireWritableLayerDataPointer0"`, `"fn":"FwpsApplyModifiedLayerData0"`} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace lacks %s", want)
		}
	}
	e.close(s)
	e.close(s2)
	e.close(s3)
	e.teardown()
}

func TestBindRedirectSocketConnect(t *testing.T) {
	e := newEnv(t)
	ls := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
	e.mustStatus("WskBind", e.bind(ls, "127.0.0.1:9000"), nt.STATUS_SUCCESS)
	bindCallout(t, e, ap("127.0.0.1:0"), ap("127.0.0.1:7000"))
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskSocketConnect(e.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, ap("127.0.0.1:0"), ap("127.0.0.1:9000"), 0, nil, nil, nil, nil, nil, i)
	})
	e.mustStatus("WskSocketConnect", c.status, nt.STATUS_SUCCESS)
	s := e.p.SocketFromInformation(c.info)
	if got := e.localAddr(s); got != ap("127.0.0.1:7000") {
		t.Fatalf("WskGetLocalAddress = %v, want the rewritten 127.0.0.1:7000", got)
	}
	as := e.accept(ls)
	var ra netip.AddrPort
	_, rc := e.do(func(i *irp.IRP) nt.Status { return e.p.WskGetRemoteAddress(as, &ra, i) })
	e.mustStatus("WskGetRemoteAddress", rc.status, nt.STATUS_SUCCESS)
	if ra != ap("127.0.0.1:7000") {
		t.Fatalf("accepted socket's peer = %v, want 127.0.0.1:7000 (the connection carries the bind-layer change)", ra)
	}
	e.close(s)
	e.close(as)
	e.close(ls)
	e.teardown()
}

func TestBindRedirectBlock(t *testing.T) {
	for _, tc := range []struct {
		opt  string
		want nt.Status
	}{{"", nt.STATUS_ACCESS_DENIED}, {"STATUS_INVALID_ADDRESS", nt.STATUS_INVALID_ADDRESS}} {
		e := newEnv(t)
		if tc.opt != "" {
			e.policy(wsk.PolicyBindBlock, tc.opt)
		}
		bindCallout(t, e, ap("127.0.0.1:5000"), netip.AddrPort{})
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		e.mustStatus("blocked WskBind", e.bind(s, "127.0.0.1:5000"), tc.want)
		// The socket stays unbound: a bind the callout permits succeeds.
		e.mustStatus("WskBind after the block", e.bind(s, "127.0.0.1:5002"), nt.STATUS_SUCCESS)
		_, c := e.do(func(i *irp.IRP) nt.Status {
			return e.p.WskSocketConnect(e.npi.Client, nt.SOCK_STREAM, nt.IPPROTO_TCP, ap("127.0.0.1:5000"), ap("127.0.0.1:9000"), 0, nil, nil, nil, nil, nil, i)
		})
		e.mustStatus("blocked WskSocketConnect", c.status, tc.want)
		e.close(s)
		e.teardown()
	}
}
