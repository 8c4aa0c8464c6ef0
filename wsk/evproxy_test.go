package wsk_test

import (
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// proxyAcceptEvents makes the lab's proxies take connections through
// WskAcceptEvent (enabled with SO_WSK_EVENT_CALLBACK after bind) instead of
// WskAccept: the callback accepts every connection and queues it; serve
// takes the next one.
var proxyAcceptEvents bool

func (px *proxy) listenEvents() {
	l := px.l
	d := &wsk.Events{WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status {
		if e.AcceptSocket == nil {
			return nt.STATUS_REQUEST_NOT_ACCEPTED
		}
		px.queue = append(px.queue, e.AcceptSocket)
		return nt.STATUS_SUCCESS
	}}
	iosb := l.do(func(i *irp.IRP) nt.Status {
		return l.p.WskSocket(l.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, px, d, px.proc, nil, nil, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		l.t.Fatalf("WskSocket: %v", iosb.Status)
	}
	px.ls = l.p.SocketFromInformation(iosb.Information)
}

func (px *proxy) enableAccept() {
	l := px.l
	b := l.pool(wsk.EventCallbackControl(nt.WSK_EVENT_ACCEPT), wsk.EventCallbackControlSize)
	defer l.free(b)
	if st := l.p.WskControlSocket(px.ls, nt.WskSetOption, nt.SO_WSK_EVENT_CALLBACK, nt.SOL_SOCKET, wsk.EventCallbackControlSize, b, 0, nil, nil, nil); st != nt.STATUS_SUCCESS {
		l.t.Fatalf("SO_WSK_EVENT_CALLBACK: %v", st)
	}
}

// nextAccepted runs the world until WskAcceptEvent has queued a connection.
func (px *proxy) nextAccepted() *wsk.Socket {
	for len(px.queue) == 0 && px.l.w.Step() {
	}
	if len(px.queue) == 0 {
		px.l.t.Fatalf("no connection reached the proxy's WskAcceptEvent")
	}
	s := px.queue[0]
	px.queue = px.queue[1:]
	return s
}

// TestProxyAcceptEvent runs the IRP-based proxy's end-to-end flow, loop
// report and chain properties with proxies that take their connections
// through WskAcceptEvent: a redirected connection delivered by the callback
// answers the QUERY IOCTLs like an accepted one, and the properties hold.
func TestProxyAcceptEvent(t *testing.T) {
	proxyAcceptEvents = true
	defer func() { proxyAcceptEvents = false }()
	t.Run("FlowEndToEnd", TestProxyFlowEndToEnd)
	t.Run("LoopReport", TestProxyLoopReport)
	t.Run("ChainsProperty", TestProxyChainsProperty)
}
