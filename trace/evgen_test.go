package trace

import (
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Model-written traces of event-driven sockets (wsk/events.go).

func init() {
	conformingPrograms["wsk-echo-sample"] = echoSample
	conformingPrograms["wsk-event-receive"] = eventReceiveProgram
	conformingPrograms["wsk-event-accept-refuse-abort"] = eventRefuseProgram
	conformingPrograms["wsk-event-receivefrom"] = eventReceiveFromProgram
	conformingPrograms["wsk-control-client"] = controlClientProgram
}

// evIRP allocates an IRP with the harness's completion routine.
func (d *drv) evIRP() *irp.IRP {
	i := d.m.IoAllocateIrp(1, false)
	d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
	return i
}

func (d *drv) rearm(i *irp.IRP) *irp.IRP {
	if i.InFlight() {
		for i.InFlight() && d.w.Step() {
		}
	}
	d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
	d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
	return i
}

func (d *drv) settle(i *irp.IRP) {
	for i.InFlight() && d.w.Step() {
	}
}

func (d *drv) eventControl(mask uint32) *irp.Block {
	b := d.pool(wsk.EventCallbackControlSize)
	copy(b.Bytes(), wsk.EventCallbackControl(mask))
	return b
}

// echoSample is the life of the WSK echo sample (microsoft/
// Windows-driver-samples network/wsk/echosrv/wsksmple.c) as its source shows
// it: DriverEntry registers; WskSampleOpStartListen captures the NPI (WSK_
// INFINITE_WAIT) and WskSampleSetupListeningSocket sets WSK_EVENT_ACCEPT with
// WSK_SET_STATIC_EVENT_CALLBACKS before creating the AF_INET6 listening
// socket, clears IPV6_V6ONLY and binds [::]:40007; WskSampleAcceptEvent
// takes the connection with a NULL context and dispatch and queues two
// WskSampleOpReceive (two IRPs, 2048-byte buffers); each receive is echoed
// by WskSampleOpSend and re-issued; a 0-byte receive starts
// WskSampleOpDisconnect and then WskSampleOpClose; WskSampleUnload closes the
// listening socket and deregisters.
func echoSample() []byte {
	d := newDrv("microsoft/Windows-driver-samples network/wsk/echosrv/wsksmple.c: DriverEntry (WskRegister), WskSampleOpStartListen, WskSampleSetupListeningSocket (WSK_SET_STATIC_EVENT_CALLBACKS WSK_EVENT_ACCEPT, WskSocket AF_INET6 listen, IPV6_V6ONLY 0, WskBind [::]:40007), WskSampleAcceptEvent, WskSampleOpReceive/OpSend/OpDisconnect/OpClose and their completion routines, WskSampleUnload (OpStopListen, WskDeregister)", 14, nil)
	var work []func() // the sample's work queue, drained by its one worker thread
	enqueue := func(f func()) { work = append(work, f) }
	// worker runs queued operations; between them the system runs
	// (completions, callbacks).
	worker := func() {
		for {
			if len(work) > 0 {
				f := work[0]
				work = work[1:]
				f()
				continue
			}
			if !d.w.Step() {
				return
			}
		}
	}
	d.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &d.reg)
	sync := func(i *irp.IRP) {
		d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
	}
	wait := func(i *irp.IRP) {
		for i.InFlight() && d.w.Step() {
		}
	}
	type sockCtx struct {
		s                      *wsk.Socket
		irps                   [2]*irp.IRP
		bufs                   [2]*irp.Block
		n                      [2]uint64
		closing, disconnecting bool
	}
	newCtx := func(bufLen uint64) *sockCtx {
		c := &sockCtx{}
		for k := range c.irps {
			c.irps[k] = d.m.IoAllocateIrp(1, false)
			if bufLen > 0 {
				c.bufs[k] = d.pool(bufLen)
			}
		}
		return c
	}
	freeCtx := func(c *sockCtx) {
		for k := range c.irps {
			d.m.IoFreeIrp(c.irps[k])
			if c.bufs[k] != nil {
				d.m.ExFreePoolWithTag(c.bufs[k], tagW)
			}
		}
	}
	var opReceive, opSend, opDisconnect, opClose func(c *sockCtx, k int)
	opClose = func(c *sockCtx, k int) {
		if c.closing {
			return
		}
		c.closing = true
		i := c.irps[k]
		d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i, func(*irp.IRP, any) nt.Status {
			enqueue(func() { freeCtx(c) })
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		d.p.WskCloseSocket(c.s, i)
	}
	opDisconnect = func(c *sockCtx, k int) {
		if c.closing || c.disconnecting {
			return
		}
		c.disconnecting = true
		i := c.irps[k]
		d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i, func(*irp.IRP, any) nt.Status {
			enqueue(func() { opClose(c, k) })
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		d.p.WskDisconnect(c.s, nil, 0, i)
	}
	opSend = func(c *sockCtx, k int) {
		if c.closing || c.disconnecting {
			return
		}
		i := c.irps[k]
		d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			if !i.IoStatus.Status.IsSuccess() {
				enqueue(func() { opClose(c, k) })
			} else {
				enqueue(func() { opReceive(c, k) })
			}
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		d.p.WskSend(c.s, &wsk.Buf{Block: c.bufs[k], Length: c.n[k]}, 0, i)
	}
	opReceive = func(c *sockCtx, k int) {
		if c.closing || c.disconnecting {
			return
		}
		i := c.irps[k]
		d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		d.m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			switch {
			case !i.IoStatus.Status.IsSuccess():
				enqueue(func() { opClose(c, k) })
			case i.IoStatus.Information == 0:
				enqueue(func() { opDisconnect(c, k) })
			default:
				c.n[k] = i.IoStatus.Information
				enqueue(func() { opSend(c, k) })
			}
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		d.p.WskReceive(c.s, &wsk.Buf{Block: c.bufs[k], Length: 2048}, 0, i)
	}
	listenCtx := newCtx(0)
	listen := &wsk.Events{WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status {
		if e.AcceptSocket == nil {
			return nt.STATUS_REQUEST_NOT_ACCEPTED
		}
		c := newCtx(2048)
		c.s = e.AcceptSocket
		for k := range c.irps {
			k := k
			enqueue(func() { opReceive(c, k) })
		}
		e.AcceptSocketContext, e.AcceptSocketDispatch = nil, nil
		return nt.STATUS_SUCCESS
	}}
	// WskSampleOpStartListen → WskSampleSetupListeningSocket.
	enqueue(func() {
		d.p.WskCaptureProviderNPI(&d.reg, nt.WSK_INFINITE_WAIT, &d.npi)
		ctl := d.eventControl(nt.WSK_EVENT_ACCEPT)
		d.p.WskControlClient(d.npi.Client, wsk.WSK_SET_STATIC_EVENT_CALLBACKS, wsk.EventCallbackControlSize, ctl, 0, nil, nil, nil)
		d.m.ExFreePoolWithTag(ctl, tagW)
		i := listenCtx.irps[0]
		sync(i)
		d.p.WskSocket(d.npi.Client, nt.AF_INET6, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, listenCtx, listen, nil, nil, nil, i)
		wait(i)
		ls := d.p.SocketFromInformation(i.IoStatus.Information)
		opt := d.pool(4) // optionValue = 0
		sync(i)
		d.p.WskControlSocket(ls, nt.WskSetOption, nt.IPV6_V6ONLY, nt.IPPROTO_IPV6, 4, opt, 0, nil, nil, i)
		wait(i)
		d.m.ExFreePoolWithTag(opt, tagW)
		sync(i)
		d.p.WskBind(ls, ap("[::]:40007"), 0, i)
		wait(i)
		listenCtx.s = ls
		d.p.WskReleaseProviderNPI(&d.reg)
	})
	worker()
	// A client connects, sends two messages and closes.
	pc, _, _ := d.p.PeerConnect(d.peer, netip.AddrPort{}, ap("127.0.0.1:40007"))
	worker()
	_ = pc.Send([]byte("hello, echo"))
	worker()
	_ = pc.Send([]byte("second line"))
	worker()
	pc.Close()
	worker()
	// WskSampleUnload: OpStopListen → OpClose of the listening socket, then
	// WskDeregister (which waits for every socket to close).
	enqueue(func() { opClose(listenCtx, 1) })
	worker()
	d.p.WskDeregister(&d.reg)
	worker()
	return d.end()
}
