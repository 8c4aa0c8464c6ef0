package wfp_test

import (
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// A connect-redirect callout sends connections for 198.51.100.7:443 to a
// local proxy; the proxy copies the records of its accepted socket to its
// outbound socket, so the callout sees its own redirect (REDIRECTED_BY_SELF)
// and lets the proxy's connection through.
func ExampleEngine_ClassifyConnect() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	e := wfp.NewEngine(w)
	dest := netip.MustParseAddrPort("198.51.100.7:443")
	proxy := netip.MustParseAddrPort("127.0.0.1:9000")
	const proxyPID = 2000

	var h *wfp.RedirectHandle
	e.FwpsRedirectHandleCreate0(&wfp.GUID{1}, 0, &h)
	callout, _ := e.RegisterCallout("proxy", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
		if c.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE == 0 {
			return
		}
		var records *wfp.RedirectRecords
		if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
			records = c.Meta.RedirectRecords
		}
		state := e.FwpsQueryConnectionRedirectState0(records, h, nil)
		fmt.Printf("classify %v: %v\n", c.RemoteAddress, state)
		if state == wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF || state == wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			return
		}
		var ch uint64
		e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch)
		var req *wfp.FWPS_CONNECT_REQUEST0
		if e.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &req, c.Out) == nt.STATUS_SUCCESS {
			req.RemoteAddressAndPort = proxy
			req.LocalRedirectTargetPID = proxyPID
			req.LocalRedirectHandle = h
			ctx := e.AllocateRedirectContext([]byte("orig=" + dest.String()))
			req.LocalRedirectContext, req.LocalRedirectContextSize = ctx, ctx.Size()
			e.FwpsApplyModifiedLayerData0(ch, req, 0)
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
		}
		e.FwpsReleaseClassifyHandle0(ch)
	})
	e.AddFilter(wfp.Filter{Name: "proxy", Callout: callout})

	// The application connects: redirected to the proxy.
	var in wfp.ConnectResult
	e.ClassifyConnect(&wfp.ConnectRequest{Socket: "app", ProcessID: 1000, Remote: dest}, &in)
	fmt.Printf("app -> %v (pid %d), records %d bytes, context %q\n", in.Remote, in.TargetPID, len(in.Records), in.Context)

	// The proxy: SIO_SET of the accepted socket's records, then connect.
	fmt.Println("SIO_SET:", e.CheckRecords(in.Records, proxyPID))
	var out wfp.ConnectResult
	e.ClassifyConnect(&wfp.ConnectRequest{Socket: "proxyout", ProcessID: proxyPID, Remote: dest, Records: in.Records}, &out)
	fmt.Printf("proxy -> %v, redirected %v\n", out.Remote, out.Redirected)

	e.EndFlow(out.Flow)
	e.EndFlow(in.Flow)
	e.FwpsRedirectHandleDestroy0(h)
	w.Close()
	fmt.Println("violations:", w.ViolationCount())
	// Output:
	// classify 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// app -> 127.0.0.1:9000 (pid 2000), records 96 bytes, context "orig=198.51.100.7:443"
	// SIO_SET: STATUS_SUCCESS
	// classify 198.51.100.7:443: FWPS_CONNECTION_REDIRECTED_BY_SELF
	// proxy -> 198.51.100.7:443, redirected false
	// violations: 0
}
