package trace

import (
	"bytes"
	"fmt"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Replay of event callbacks. The replay gives every socket a client
// dispatch table of stand-in callbacks: when the model calls one, the
// stand-in finds the trace's "callback" event, checks it against what the
// model indicates, replays what the driver did inside it (the events up to
// its "callback_return"), and answers the model with what the trace says the
// callback returned. A callback the trace shows is awaited like a
// completion: the model runs its queued work until it makes it.

const docEventSpec = "wsktrace v1, \"Additions for real drivers\" (callbacks the provider makes into the driver)"

// evDispatch is the model's client dispatch table for a Dispatch argument.
func (r *replayer) evDispatch(v Value) any {
	if v.Kind == Null {
		return nil
	}
	return r.standinEvents()
}

func (r *replayer) standinEvents() *wsk.Events {
	return &wsk.Events{
		WskAcceptEvent: func(e *wsk.AcceptEvent) nt.Status {
			cb, ret := r.runCallback("WskAcceptEvent", e.ListenSocket, func(cb *Event) {
				if v, ok := cb.Arg("AcceptSocket"); ok && v.Kind == Bind && e.AcceptSocket != nil {
					r.bindObj(v.Name, e.AcceptSocket, e.AcceptSocket.Name())
				}
				if v, ok := cb.Arg("RemoteAddress"); ok && v.Kind == Addr && !addrMatch(e.RemoteAddress, v.AP) {
					r.diverge(cb, callName(cb), "RemoteAddress "+v.AP.String(), "RemoteAddress "+e.RemoteAddress.String(), docEventSpec, "")
				}
			})
			if ret == nil {
				return r.cbDefault(cb, nt.STATUS_REQUEST_NOT_ACCEPTED)
			}
			// Left out (not captured), they are taken as non-NULL: the trace
			// then shows whether callbacks come.
			if v, ok := ret.OutArg("AcceptSocketContext"); !ok || v.Kind != Null {
				e.AcceptSocketContext = ptrMarker{}
			}
			if v, ok := ret.OutArg("AcceptSocketDispatch"); !ok || v.Kind != Null {
				e.AcceptSocketDispatch = r.standinEvents()
			}
			return ret.Status
		},
		WskReceiveEvent: func(e *wsk.ReceiveEvent) nt.Status {
			cb, ret := r.runCallback("WskReceiveEvent", e.Socket, func(cb *Event) { r.checkIndication(cb, e.Socket, e.DataIndication) })
			if ret == nil {
				return r.cbDefault(cb, nt.STATUS_DATA_NOT_ACCEPTED)
			}
			if v, ok := ret.OutArg("BytesAccepted"); ok && v.Kind == Int {
				e.BytesAccepted = v.U
			} else if ret.Status == nt.STATUS_SUCCESS {
				e.BytesAccepted = e.BytesIndicated
			}
			return ret.Status
		},
		WskDisconnectEvent: func(e *wsk.DisconnectEvent) nt.Status {
			flags := e.Flags
			cb, ret := r.runCallback("WskDisconnectEvent", e.Socket, func(cb *Event) {
				if v, ok := cb.Arg("Flags"); ok && uint32(v.U)&wsk.WSK_FLAG_ABORTIVE != flags&wsk.WSK_FLAG_ABORTIVE {
					r.diverge(cb, callName(cb), fmt.Sprintf("Flags %#x", v.U), fmt.Sprintf("Flags %#x (the model's disconnect is %s)", flags, map[bool]string{true: "abortive", false: "graceful"}[flags&wsk.WSK_FLAG_ABORTIVE != 0]), docEventSpec, "")
				}
			})
			if ret == nil {
				return r.cbDefault(cb, nt.STATUS_SUCCESS)
			}
			return ret.Status
		},
		WskSendBacklogEvent: func(e *wsk.SendBacklogEvent) nt.Status {
			cb, ret := r.runCallback("WskSendBacklogEvent", e.Socket, nil)
			if ret == nil {
				return r.cbDefault(cb, nt.STATUS_SUCCESS)
			}
			return ret.Status
		},
		WskReceiveFromEvent: func(e *wsk.ReceiveFromEvent) nt.Status {
			cb, ret := r.runCallback("WskReceiveFromEvent", e.Socket, func(cb *Event) { r.checkIndication(cb, e.Socket, e.DataIndication) })
			if ret == nil {
				return r.cbDefault(cb, nt.STATUS_DATA_NOT_ACCEPTED)
			}
			return ret.Status
		},
	}
}

// cbDefault answers a callback the trace does not finish (it diverged, or
// ended inside the callback).
func (r *replayer) cbDefault(cb *Event, st nt.Status) nt.Status {
	if cb != nil && !r.stopped {
		r.note(fmt.Sprintf("the trace ends inside %s; the replay answered it with %s", callName(cb), st))
	}
	return st
}

// cbFind returns the trace's callback event the model's callback must
// match: the event being replayed when it is an unmatched callback, else the
// first unmatched callback in the lookahead.
func (r *replayer) cbFind() *qev {
	if c := r.cur; c != nil && c.ev.Kind == EvCallback && !c.matched {
		return c
	}
	return r.scan(func(q *qev) bool { return q.ev.Kind == EvCallback && !q.matched })
}

// runCallback matches the model's callback fn on socket s (nil: not
// checked) with the trace, runs pre, then replays the events the driver
// made inside it. It returns the callback event and its callback_return
// (nil when the replay stopped or the trace ended first).
func (r *replayer) runCallback(fn string, s *wsk.Socket, pre func(cb *Event)) (*Event, *Event) {
	if r.stopped {
		return nil, nil
	}
	q := r.cbFind()
	var at *Event
	if r.cur != nil {
		at = r.cur.ev
	}
	if q == nil {
		r.diverge(at, fn+" on "+s.Name(), "no "+fn+" (the trace shows no callback here)", fn+" on "+s.Name()+": the model indicates it now", docEventSpec, "")
		return nil, nil
	}
	ev := q.ev
	sc, _ := ev.Arg("SocketContext")
	if ev.Fn != fn || (s != nil && sc.Kind == Name && r.sockOf(sc) != s) {
		r.diverge(ev, callName(ev), ev.Fn+" on "+sc.String(), fn+" on "+s.Name(), docEventSpec, "")
		return nil, nil
	}
	q.matched = true
	if pre != nil {
		pre(ev)
		if r.stopped {
			return ev, nil
		}
	}
	// The events inside the callback are taken out of the lookahead where
	// they stand and replayed as the top level replays the next event.
	start := 0
	if q != r.cur {
		for k, x := range r.q {
			if x == q {
				start = k
				r.take(k)
				r.rep.Events++
				break
			}
		}
	}
	saved := r.cur
	defer func() { r.cur = saved }()
	for j, n := start, 0; !r.stopped && n < r.opts.Lookahead; n++ {
		if !r.fill(j + 1) {
			break
		}
		e := r.q[j]
		if e.matched {
			j++
			continue
		}
		r.take(j)
		r.rep.Events++
		if e.ev.Kind == EvCallbackReturn && e.ev.Call == ev.Seq {
			e.matched = true
			return ev, e.ev
		}
		r.cur = e
		r.step(e)
		r.collect(e.ev)
	}
	return ev, nil
}

// take removes the k-th event of the lookahead.
func (r *replayer) take(k int) {
	copy(r.q[k:], r.q[k+1:])
	r.q[len(r.q)-1] = nil
	r.q = r.q[:len(r.q)-1]
}

// checkIndication binds the trace's indication name to the model's and
// checks that it carries the same bytes (and, for datagrams, senders).
func (r *replayer) checkIndication(cb *Event, s *wsk.Socket, di *wsk.Indication) {
	v, _ := cb.Arg("DataIndication")
	if v.Kind == Null || di == nil {
		if (v.Kind == Null) != (di == nil) {
			r.diverge(cb, callName(cb), "DataIndication "+v.String(), "DataIndication "+di.Name(), docEventSpec, "")
		}
		return
	}
	r.bindObj(v.Name, di, di.Name())
	var got, want []byte
	dgs := 0
	for _, f := range v.Fields {
		switch f.Name {
		case "buffer":
			if f.Val.Buf != nil {
				got = append(got, r.bufferData(f.Val.Buf)...)
			}
		case "datagram":
			if b, ok := f.Val.Field("Buffer"); ok && b.Buf != nil {
				got = append(got, r.bufferData(b.Buf)...)
			}
			if ra, ok := f.Val.Field("RemoteAddress"); ok && ra.Kind == Addr && dgs < len(di.Datagrams) && !addrMatch(di.Datagrams[dgs].RemoteAddress, ra.AP) {
				r.diverge(cb, callName(cb), "RemoteAddress "+ra.AP.String(), "RemoteAddress "+di.Datagrams[dgs].RemoteAddress.String(), docEventSpec, "")
				return
			}
			dgs++
		}
	}
	for _, b := range di.Buffers {
		want = append(want, b...)
	}
	for _, d := range di.Datagrams {
		want = append(want, d.Buffer...)
	}
	if dgs != len(di.Datagrams) {
		r.diverge(cb, callName(cb), fmt.Sprintf("%d datagrams", dgs), fmt.Sprintf("%d datagrams", len(di.Datagrams)), docEventSpec, "")
		return
	}
	if n, ok := cb.Arg("BytesIndicated"); ok && n.Kind == Int && n.U != uint64(len(want)) {
		r.diverge(cb, callName(cb), fmt.Sprintf("BytesIndicated %d", n.U), fmt.Sprintf("BytesIndicated %d (what waits on %s)", len(want), s.Name()), docEventSpec, "")
		return
	}
	if len(got) > 0 && !bytes.Equal(got, want) {
		r.diverge(cb, callName(cb), fmt.Sprintf("%d bytes %x", len(got), head(got)), fmt.Sprintf("%d bytes %x", len(want), head(want)), docEventSpec, "the indication carries other bytes than arrived")
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// callbackShown handles a callback the model has not made yet: it runs its
// queued work until it does.
func (r *replayer) callbackShown(q *qev) {
	for !q.matched && !r.stopped && r.w.Step() {
	}
	if q.matched || r.stopped {
		return
	}
	sc, _ := q.ev.Arg("SocketContext")
	r.diverge(q.ev, callName(q.ev), "callback "+q.ev.Fn+" on "+sc.String(), "no "+q.ev.Fn+" here: the model has nothing to indicate on "+sc.String()+" (not enabled, nothing arrived, or the socket is closed)", docEventSpec, "")
}

// eventChoice answers the model's event choice points from the trace.
func (r *replayer) eventChoice(label string) int {
	switch label {
	case wsk.ChoiceEventIRQL:
		if c := r.cbFind(); c != nil && c.ev.HasIRQL && c.ev.IRQL >= nt.DISPATCH_LEVEL {
			return 1
		}
		if c := r.cbFind(); c != nil {
			if v, ok := c.ev.Arg("Flags"); ok && uint32(v.U)&wsk.WSK_FLAG_AT_DISPATCH_LEVEL != 0 {
				return 1
			}
		}
		return 0
	case wsk.ChoiceEventReceiveTarget, wsk.ChoiceEventAcceptTarget:
		if r.cur != nil && r.cur.ev.Kind == EvCallback && !r.cur.matched {
			return 1
		}
		return 0
	case wsk.ChoiceEventSplit:
		c := r.cbFind()
		if c == nil {
			return 0
		}
		v, _ := c.ev.Arg("DataIndication")
		n, dg := 0, false
		for _, f := range v.Fields {
			n++
			dg = f.Name == "datagram"
		}
		if (dg && n == 1) || (!dg && n > 1) {
			return 1
		}
	}
	return 0
}

// evCall replays WskRelease and WskControlClient.
func (r *replayer) evCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	switch ev.Fn {
	case "WskRelease":
		var di *wsk.Indication
		if v := arg("DataIndication"); v.Kind == Name {
			di, _ = r.objs[v.Name].(*wsk.Indication)
		}
		st := r.p.WskRelease(r.sockOf(arg("Socket")), di)
		r.checkWskReturn(ev, "WskRelease", st)
	case "WskControlClient":
		inSize, outSize := arg("InputSize").U, arg("OutputSize").U
		in := r.evBlock(arg("InputBuffer"), inSize)
		out := r.evBlock(arg("OutputBuffer"), outSize)
		var osr *uint64
		if arg("OutputSizeReturned").Kind != Null {
			osr = new(uint64)
		}
		st := r.p.WskControlClient(r.clientOf(arg("Client")), uint32(arg("ControlCode").U), inSize, in, outSize, out, osr, r.irpOf(arg("Irp")))
		r.checkWskReturn(ev, "WskControlClient", st)
	}
}

// evBlock is the pool block for a buffer argument: the driver's block it
// names (filled with the bytes shown), else a scratch block of n bytes.
func (r *replayer) evBlock(v Value, n uint64) *irp.Block {
	if v.Kind != Buf {
		return nil
	}
	data := r.bufferData(v.Buf)
	if v.Buf.Pool != "" {
		if b := r.blockOf(Value{Kind: Name, Name: v.Buf.Pool}); b != nil {
			if !b.Freed() && uint64(len(data)) <= b.Size() {
				fill(b, data)
			}
			return b
		}
	}
	if n < uint64(len(data)) {
		n = uint64(len(data))
	}
	return r.scratchBlock(data, n)
}
