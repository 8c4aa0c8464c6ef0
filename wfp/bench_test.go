package wfp

import (
	"testing"

	"github.com/wsksim/wsksim/nt"
)

// BenchmarkClassify: one connect through ALE_CONNECT_REDIRECT with two
// callouts (a proxy callout that redirects with a context, and a second
// vendor that queries the state and finds no write right), then ALE_AUTH_CONNECT,
// and the end of the flow.
func BenchmarkClassify(b *testing.B) {
	w, e := newWorld(b)
	newProxyCallout(b, e, "c1", origDest, proxyAddr, proxyPID)
	newProxyCallout(b, e, "c2", origDest, proxy2, proxy2PID)
	req := ConnectRequest{Socket: "app", ProcessID: appPID, Local: appAddr, Remote: origDest}
	var res ConnectResult
	b.ReportAllocs()
	for b.Loop() {
		e.ClassifyConnect(&req, &res)
		if !res.Redirected {
			b.Fatal("not redirected")
		}
		e.EndFlow(res.Flow)
	}
	_ = w
}

// BenchmarkCheckRecords: SIO_SET validation of a two-hop blob.
func BenchmarkCheckRecords(b *testing.B) {
	_, e := newWorld(b)
	r1, _ := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
	r2, _ := e.IssueRedirect("H2", appAddr, origDest, proxy2, nil, 4, r1)
	b.ReportAllocs()
	for b.Loop() {
		if e.CheckRecords(r2, 4) != nt.STATUS_SUCCESS {
			b.Fatal("rejected")
		}
	}
}
