package trace

import (
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"

	"github.com/wsksim/wsksim/wsk"
)

// peerPID is the user-mode process peers run in unless the trace says
// otherwise (wsktrace v1: a peer_connect is made by a user-mode process of
// the machine under test).
const peerPID = 1000

func (r *replayer) peerProc() *wsk.Process {
	r.wsInit()
	if r.ws.peer == nil {
		if pr := r.p.Process(peerPID); pr != nil {
			r.ws.peer = pr
		} else {
			pr, err := r.p.AddProcess(peerPID, "peer", false)
			if err != nil {
				r.ws.peer = r.p.System()
			} else {
				r.ws.peer = pr
			}
		}
	}
	return r.ws.peer
}

// env replays an env event: the world outside the driver acts.
func (r *replayer) env(q *qev) {
	r.wsInit()
	ev := q.ev
	f := func(n string) Value { v, _ := ev.Arg(n); return v }
	fail := func(err error) {
		r.diverge(ev, "env "+ev.What, "env "+ev.What, "nothing: the model cannot do this here ("+err.Error()+")", docEnv, "")
	}
	switch ev.What {
	case "peer_listen":
		pl, err := r.p.PeerListen(r.peerProc(), f("addr").AP)
		if err != nil {
			fail(err)
			return
		}
		if r.ws.listeners == nil {
			r.ws.listeners = map[netip.AddrPort]*wsk.PeerListener{}
		}
		r.ws.listeners[unmapAP(f("addr").AP)] = pl
	case "peer_accept":
		pl := r.ws.listeners[unmapAP(f("addr").AP)]
		if pl == nil {
			fail(fmt.Errorf("no peer listens at %v (env peer_listen)", f("addr").AP))
			return
		}
		pc := pl.Accept()
		if pc == nil {
			fail(fmt.Errorf("the peer listening at %v has accepted no connection here", f("addr").AP))
			return
		}
		r.bindObj(f("name").Name, pc, pc.Name())
	case "peer_connect":
		r.registerCallouts(ev)
		from := f("from").AP
		if from.IsValid() && !from.Addr().IsUnspecified() {
			local := false
			for _, a := range r.p.LocalAddresses() {
				local = local || a == from.Addr().Unmap()
			}
			if !local && !from.Addr().IsLoopback() {
				if r.p.AddLocalAddress(from.Addr()) == nil {
					r.localAddrs = append(r.localAddrs, from.Addr().Unmap())
					r.learn(from.Addr().String() + " is an address of the machine under test (a peer_connect came from it)")
				}
			}
		}
		pc, st, err := r.p.PeerConnect(r.peerProc(), from, f("to").AP)
		if err != nil {
			fail(err)
			return
		}
		name := f("name").Name
		if pc == nil {
			r.note(fmt.Sprintf("peer_connect %s (seq %d) to %v: the model's network answered %v", name, ev.Seq, f("to").AP, st))
			r.bindObj(name, standin{kind: ObjPeer}, "")
			return
		}
		r.bindObj(name, pc, pc.Name())
	case "peer_send":
		pc, ok := r.objs[f("conn").Name].(*wsk.PeerConn)
		if !ok {
			fail(fmt.Errorf("%s is not a connection the model has", f("conn").Name))
			return
		}
		data := []byte(nil)
		if b := f("data"); b.Kind == Buf {
			data = r.bufferData(b.Buf)
			if data == nil && b.Buf.Form == BufLen {
				n := b.Buf.Len
				if n > scratchCap {
					n = scratchCap
				}
				data = make([]byte, n)
			}
		}
		if !r.spend(uint64(len(data))) {
			return
		}
		if err := pc.Send(data); err != nil {
			fail(err)
		}
	case "peer_shutdown":
		pc, ok := r.objs[f("conn").Name].(*wsk.PeerConn)
		if !ok {
			fail(fmt.Errorf("%s is not a connection the model has", f("conn").Name))
			return
		}
		pc.Shutdown()
	case "peer_listen_close":
		pl := r.ws.listeners[unmapAP(f("addr").AP)]
		if pl == nil {
			fail(fmt.Errorf("no peer listens at %v (env peer_listen)", f("addr").AP))
			return
		}
		pl.Close()
		delete(r.ws.listeners, unmapAP(f("addr").AP))
	case "peer_close", "peer_reset":
		pc, ok := r.objs[f("conn").Name].(*wsk.PeerConn)
		if !ok {
			fail(fmt.Errorf("%s is not a connection the model has", f("conn").Name))
			return
		}
		if ev.What == "peer_close" {
			pc.Close()
		} else {
			pc.Reset()
		}
		r.forget(f("conn").Name)
	case "redirected_connect":
		var ctx []byte
		if c := f("context"); c.Kind == Buf {
			ctx = r.bufferData(c.Buf)
		}
		pid := uint32(wsk.SystemPID)
		if v, ok := ev.Arg("target_pid"); ok && v.Kind == Int {
			pid = uint32(v.U)
		}
		pc, err := r.p.RedirectedConnect(f("name").Name, f("from").AP, f("original").AP, f("to").AP, f("handle").Name, ctx, pid)
		if err != nil {
			fail(err)
			return
		}
		r.bindObj(f("name").Name, pc, pc.Name())
	case "redirect_policy":
		var ctx []byte
		if c := f("context"); c.Kind == Buf {
			ctx = r.bufferData(c.Buf)
		}
		pid := uint32(wsk.SystemPID)
		if v, ok := ev.Arg("target_pid"); ok && v.Kind == Int {
			pid = uint32(v.U)
		}
		if err := r.e.AddRedirectPolicy(f("handle").Name, f("match").AP, f("to").AP, ctx, pid); err != nil {
			fail(err)
		}
	case "process":
		pr := r.p.Process(uint32(f("pid").U))
		if pr == nil {
			var err error
			pr, err = r.p.AddProcess(uint32(f("pid").U), f("name").Name, f("elevated").B)
			if err != nil {
				fail(err)
				return
			}
		}
		r.bindObj(f("name").Name, pr, "")
	case "peer_udp_bind", "peer_sendto", "peer_udp_close", "redirected_datagram":
		r.udpEnv(ev, fail)
	case "irp_completed":
		r.irpCompletedEnv(ev, f("irp"), f("status").St, f("information").U)
	case "irp_dispatch":
		n := f("stack_locations").U
		if _, ok := ev.Arg("stack_locations"); !ok {
			n = 1
		}
		if n > 127 {
			fail(fmt.Errorf("stack_locations %d: an IRP has at most 127 stack locations", n))
			return
		}
		i, err := r.m.NewPassedDownIrp(int(n))
		if err != nil {
			fail(err)
			return
		}
		r.bindObj(f("irp").Name, i, i.Name())
	case "sublayer", "filter", "filter_delete":
		r.filterEnv(ev, fail)
	case "pin":
		v, err := sim.ParseChoiceValue(f("choice").Name, f("value").Name)
		if err == nil {
			err = r.w.Pin(f("choice").Name, v)
		}
		if err != nil {
			fail(err)
		}
	case "unpin":
		r.w.Unpin(f("choice").Name)
	case "policy":
		if err := r.w.SetPolicy(f("id").Name, f("option").Name); err != nil {
			fail(err)
		}
	case "rule_action":
		ac, err := sim.ParseAction(f("action").Name)
		if err == nil {
			err = r.w.SetAction(f("rule").Name, ac)
		}
		if err != nil {
			fail(err)
		}
	case "classify":
		r.classifyEnv(q)
	case "classify_return":
		r.diverge(ev, "env classify_return", "classify_return of "+f("callout").Name,
			"no classifyFn of "+f("callout").Name+" is running here", docSpec, "a classify_return ends the classify event of the same callout")
	}
}

const docEnv = "wsktrace v1, \"env\" (the model must be able to do what the environment did at this point)"

// irpCompletedEnv replays env irp_completed: the provider completed the IRP
// here with no routine to see it. The model must be able to complete it now
// (it runs its queued work until it does), with that status.
func (r *replayer) irpCompletedEnv(ev *Event, iv Value, st nt.Status, info uint64) {
	i := r.irpOf(iv)
	if i == nil {
		r.diverge(ev, "env irp_completed", "completion of "+iv.Name, "no such IRP", docEnv, "")
		return
	}
	for i.InFlight() && !r.stopped && r.w.Step() {
	}
	if r.stopped {
		return
	}
	if i.InFlight() && r.isStandin(iv.Name) && st != nt.STATUS_PENDING {
		r.m.Complete(i, st, info)
	}
	if i.InFlight() {
		r.diverge(ev, "env irp_completed", fmt.Sprintf("completion of %s with %s", iv.Name, st),
			"no completion of "+iv.Name+" here: the model has none for it yet", docEnv, "")
		return
	}
	if i.IoStatus.Status != st {
		r.diverge(ev, "env irp_completed", "status "+st.String(), "status "+i.IoStatus.Status.String(), docIOSB, "")
	}
}

// completionEnvLater reports whether the trace shows an env irp_completed of
// IRP name before a call uses it again.
func (r *replayer) completionEnvLater(name string) bool {
	return r.completionEnv(name) != nil
}

// completionEnv is the env irp_completed of IRP name the trace shows before a
// call uses the IRP again, or nil.
func (r *replayer) completionEnv(name string) *qev {
	q := r.scan(func(q *qev) bool {
		if q.ev.Kind == EvEnv && q.ev.What == "irp_completed" {
			if v, _ := q.ev.Arg("irp"); v.Name == name {
				return true
			}
		}
		return q.ev.Kind == EvCall && q.ev.spec != nil && q.ev.spec.group != "io" && q.ev.spec.group != "pool" && usesIRP(q.ev, name)
	})
	if q != nil && q.ev.Kind == EvEnv {
		return q
	}
	return nil
}
