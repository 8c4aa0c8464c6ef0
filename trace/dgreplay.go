package trace

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Datagram calls (WskSendTo, WskReceiveFrom) and UDP peers (env
// peer_udp_bind, peer_sendto, peer_udp_close).
//
// Control information is a sequence of WSACMSGHDR objects. Redirect records
// (IP_WFP_REDIRECT_RECORDS) inside it are opaque, like the records of
// SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS: the bytes a WskReceiveFrom
// completion shows for them stand for the model's bytes, so a WskSendTo that
// forwards them sends the model's records instead; their size is the
// trace's own, so ControlLength is not compared when records are present.

// ctlRoom is the room the replay gives the model for control information
// when a WskReceiveFrom's ControlInfo names no pool block: enough for the
// model's records and context whatever size the trace's Windows records
// have.
const ctlRoom = 4096

// dgCall is what a WskReceiveFrom's completion is checked against.
type dgCall struct {
	from    *netip.AddrPort
	ctlLen  *uint32
	ctl     *irp.Block
	ctlCap  uint32
	ctlFlag *uint32
}

// controlFor turns the trace's ControlInfo of a WskSendTo into the model's
// bytes: records objects the trace received earlier become the model's
// records.
func (r *replayer) controlFor(v Value, length uint64) []byte {
	if v.Kind != Buf {
		return nil
	}
	data := r.bufferData(v.Buf)
	if data == nil {
		n := min(length, scratchCap)
		return make([]byte, n)
	}
	if uint64(len(data)) > length {
		data = data[:length]
	}
	cms, err := wsk.ParseCMSG(data)
	if err != nil {
		return data // malformed: the model says so
	}
	var out []byte
	changed := false
	for _, c := range cms {
		d := c.Data
		if c.Type == nt.IP_WFP_REDIRECT_RECORDS {
			r.wsInit()
			if bl := r.ws.byHex[string(d)]; bl != nil {
				d, changed = bl.model, true
			}
		}
		out = wsk.AppendCMSG(out, c.Level, c.Type, d)
	}
	if !changed {
		return data
	}
	return out
}

func (r *replayer) sendToCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	iv := arg("Irp")
	bv := arg("Buffer")
	buf := r.wskBuf(bv, r.bufValueLen(bv))
	if buf != nil && buf.Block != nil && !r.spend(min(buf.Length, buf.Block.Size())) {
		return
	}
	var ra *netip.AddrPort
	if v := arg("RemoteAddress"); v.Kind == Addr {
		a := v.AP
		r.learnRemote(ev, a)
		ra = &a
	}
	r.registerCallouts(ev) // the first datagram of a flow is classified
	traceLen := arg("ControlInfoLength").U
	ctlLen := traceLen
	var ctl *irp.Block
	if cv := arg("ControlInfo"); cv.Kind == Buf {
		data := r.controlFor(cv, ctlLen)
		if ctlLen <= uint64(nt.MAXULONG) && ctlLen > 0 {
			ctlLen = uint64(len(data))
		}
		if cr := r.convRecord(ev.Seq); cr != nil {
			cr.inSize, cr.inData = ctlLen, data
		}
		if !r.spend(uint64(len(data))) {
			return
		}
		drv := r.blockOf(Value{Kind: Name, Name: cv.Buf.Pool})
		switch {
		case cv.Buf.Pool == "":
			ctl = r.scratchBlock(data, uint64(len(data)))
		case drv != nil && !drv.Freed() && drv.Size() >= uint64(len(data)):
			fill(drv, data)
			ctl = drv
		case drv != nil && !drv.Freed() && drv.Size() >= traceLen:
			// The driver's buffer holds its own control information but
			// not the model's (the model's records are larger than the
			// ones the trace shows): the model sends from a copy.
			ctl = r.scratchBlock(data, uint64(len(data)))
			r.note(fmt.Sprintf("WskSendTo (seq %d): the model's control information (%d bytes) does not fit %s (%d bytes); it was sent from a copy, without lifetime checks on %s", ev.Seq, len(data), cv.Buf.Pool, drv.Size(), cv.Buf.Pool))
		default:
			ctl = drv // freed, or too small for the trace's own length: the model reports the misuse
		}
	}
	r.hold(iv, &wcall{ev: ev, fn: "WskSendTo"})
	st := r.p.WskSendTo(r.sockOf(arg("Socket")), buf, uint32(arg("Flags").U), ra, uint32(min(ctlLen, uint64(nt.MAXULONG))), ctl, r.irpOf(iv))
	r.release(iv)
	r.checkWskReturn(ev, "WskSendTo", st)
}

func (r *replayer) receiveFromCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	iv := arg("Irp")
	bv := arg("Buffer")
	buf := r.wskBuf(bv, bufLen(bv))
	w := &wcall{ev: ev, fn: "WskReceiveFrom", dg: &dgCall{}}
	if buf != nil {
		w.recv, w.recvOff = buf.Block, buf.Offset
	}
	if arg("RemoteAddress").Kind != Null {
		w.dg.from = new(netip.AddrPort)
	}
	if arg("ControlFlags").Kind != Null {
		w.dg.ctlFlag = new(uint32)
	}
	if v := arg("ControlLength"); v.Kind == Int {
		c := uint32(min(v.U, uint64(nt.MAXULONG)))
		w.dg.ctlLen = &c
		w.dg.ctlCap = c
	}
	if cv := arg("ControlInfo"); cv.Kind == Buf && w.dg.ctlLen != nil {
		// The model's records need not be the size of the ones the trace
		// shows: the model may use the whole of the driver's block (or,
		// without one, ctlRoom bytes).
		if cv.Buf.Pool == "" {
			// The replay's own block: its size, whatever the trace claims.
			w.dg.ctl = r.scratchBlock(nil, max(uint64(w.dg.ctlCap), ctlRoom))
			if b := w.dg.ctl; b != nil {
				*w.dg.ctlLen = uint32(min(b.Size(), uint64(nt.MAXULONG)))
			}
		} else {
			// The driver's block: all of it when it holds the trace's own
			// ControlLength; otherwise (too small, freed) as the trace
			// says, and the model reports the misuse.
			w.dg.ctl = r.blockOf(Value{Kind: Name, Name: cv.Buf.Pool})
			if b := w.dg.ctl; b != nil && !b.Freed() && b.Size() >= uint64(w.dg.ctlCap) {
				*w.dg.ctlLen = uint32(min(b.Size(), uint64(nt.MAXULONG)))
			}
		}
	} else if cv.Kind == Buf {
		w.dg.ctl = r.blockOf(Value{Kind: Name, Name: cv.Buf.Pool})
	}
	r.hold(iv, w)
	st := r.p.WskReceiveFrom(r.sockOf(arg("Socket")), buf, uint32(arg("Flags").U), w.dg.from, w.dg.ctlLen, w.dg.ctl, w.dg.ctlFlag, r.irpOf(iv))
	r.release(iv)
	r.checkWskReturn(ev, "WskReceiveFrom", st)
}

// dgComplete checks the outputs of a completed WskReceiveFrom.
func (r *replayer) dgComplete(w *wcall, i *irp.IRP, ev *Event) {
	st := i.IoStatus.Status
	if !st.IsSuccess() && st != nt.STATUS_BUFFER_OVERFLOW {
		return
	}
	d := w.dg
	where := "completion of " + ev.IRP
	doc := statusDoc(w.fn, st)
	var model []byte
	if d.ctlLen != nil && d.ctl != nil && !d.ctl.Freed() && uint64(*d.ctlLen) <= d.ctl.Size() {
		model = d.ctl.Bytes()[:*d.ctlLen]
	}
	mcms, _ := wsk.ParseCMSG(model)
	hasRecords := false
	for _, c := range mcms {
		hasRecords = hasRecords || c.Type == nt.IP_WFP_REDIRECT_RECORDS
	}
	for _, a := range ev.Out {
		switch a.Name {
		case "RemoteAddress":
			if d.from != nil && a.Val.Kind == Addr && !addrMatch(*d.from, a.Val.AP) {
				r.diverge(ev, where, "RemoteAddress "+a.Val.AP.String(), "RemoteAddress "+d.from.String(), doc, "")
				return
			}
		case "ControlFlags":
			if d.ctlFlag != nil && a.Val.Kind == Int && uint32(a.Val.U)&^wsk.MSG_CTRUNC != *d.ctlFlag&^wsk.MSG_CTRUNC {
				r.diverge(ev, where, fmt.Sprintf("ControlFlags 0x%x", a.Val.U), fmt.Sprintf("ControlFlags 0x%x", *d.ctlFlag), doc, "MSG_TRUNC when the datagram was larger than the buffer")
				return
			}
			// MSG_CTRUNC depends on the records' size, which is Windows'
			// in the trace: compared only when no records are involved.
			if d.ctlFlag != nil && a.Val.Kind == Int && !hasRecords && !traceHasRecords(ev) && uint32(a.Val.U) != *d.ctlFlag {
				r.diverge(ev, where, fmt.Sprintf("ControlFlags 0x%x", a.Val.U), fmt.Sprintf("ControlFlags 0x%x", *d.ctlFlag), doc, "MSG_TRUNC when the datagram was larger than the buffer, MSG_CTRUNC when a control object did not fit")
				return
			}
		case "ControlLength":
			if d.ctlLen != nil && a.Val.Kind == Int && !hasRecords && a.Val.U != uint64(*d.ctlLen) {
				r.diverge(ev, where, fmt.Sprintf("ControlLength %d", a.Val.U), fmt.Sprintf("ControlLength %d", *d.ctlLen), doc, "the control information of a datagram that is not the first of a redirected flow is empty")
				return
			}
		case "ControlInfo":
			if !r.matchControl(ev, where, doc, a.Val, model, mcms) {
				return
			}
		}
	}
}

// matchControl compares the control information the trace shows with the
// model's object by object (records opaque) and binds the trace's records
// bytes (or name) to the model's.
func (r *replayer) matchControl(ev *Event, where, doc string, v Value, model []byte, mcms []wsk.CMSG) bool {
	r.wsInit()
	switch {
	case v.Kind == Bind:
		bl := &blob{model: append([]byte(nil), model...)}
		r.ws.blobs[v.Name] = bl
		r.bindObj(v.Name, bl, "")
		return true
	case v.Kind != Buf || (v.Buf.Form != BufHex && v.Buf.Form != BufB64):
		return true
	}
	tcms, err := wsk.ParseCMSG(v.Buf.Data)
	if err != nil {
		r.diverge(ev, where, "ControlInfo "+v.String()+" ("+err.Error()+")", "control information of whole WSACMSGHDR objects", doc, "")
		return false
	}
	desc := func(cs []wsk.CMSG) string {
		s := ""
		for k, c := range cs {
			if k > 0 {
				s += ", "
			}
			s += fmt.Sprintf("level %d type %d", c.Level, c.Type)
		}
		if s == "" {
			s = "none"
		}
		return s
	}
	if f, ok := ev.OutArg("ControlFlags"); ok && f.Kind == Int && uint32(f.U)&wsk.MSG_CTRUNC != 0 && len(tcms) < len(mcms) {
		// Windows truncated what the model, given room for its own records,
		// did not: the objects that reached the driver are the model's minus
		// those that did not fit (whole objects are dropped, later smaller
		// ones still delivered: wsk.Provider.WskReceiveFrom), in order.
		var kept []wsk.CMSG
		k := 0
		for _, m := range mcms {
			if k < len(tcms) && m.Level == tcms[k].Level && m.Type == tcms[k].Type {
				kept = append(kept, m)
				k++
			}
		}
		if k == len(tcms) {
			mcms = kept
		} else {
			mcms = mcms[:len(tcms)]
		}
	}
	if len(tcms) != len(mcms) {
		r.diverge(ev, where, "control objects: "+desc(tcms), "control objects: "+desc(mcms), doc, "the first datagram of a redirected flow carries IP_WFP_REDIRECT_RECORDS and, when the callout set one, IP_WFP_REDIRECT_CONTEXT")
		return false
	}
	for k := range tcms {
		t, m := tcms[k], mcms[k]
		if t.Level != m.Level || t.Type != m.Type {
			r.diverge(ev, where, "control objects: "+desc(tcms), "control objects: "+desc(mcms), doc, "")
			return false
		}
		if t.Type == nt.IP_WFP_REDIRECT_RECORDS {
			r.ws.byHex[string(t.Data)] = &blob{model: append([]byte(nil), m.Data...), size: uint64(len(t.Data))}
			continue
		}
		if !bytes.Equal(t.Data, m.Data) {
			r.diverge(ev, where, fmt.Sprintf("control object %d data %x", k, t.Data), fmt.Sprintf("control object %d data %x", k, m.Data), doc, "")
			return false
		}
	}
	return true
}

// ---- UDP peers ----

func (r *replayer) udpEnv(ev *Event, fail func(error)) {
	f := func(n string) Value { v, _ := ev.Arg(n); return v }
	switch ev.What {
	case "peer_udp_bind":
		pu, err := r.p.PeerUDPBind(r.peerProc(), f("addr").AP)
		if err != nil {
			fail(err)
			return
		}
		r.bindObj(f("name").Name, pu, pu.Name())
	case "peer_sendto":
		pu, ok := r.objs[f("conn").Name].(*wsk.PeerUDP)
		if !ok {
			fail(fmt.Errorf("%s is not a UDP endpoint the model has", f("conn").Name))
			return
		}
		var data []byte
		if b := f("data"); b.Kind == Buf {
			data = r.bufferData(b.Buf)
			if data == nil && b.Buf.Form == BufLen {
				data = make([]byte, min(b.Buf.Len, uint64(wsk.MaxDatagram)))
			}
		}
		if !r.spend(uint64(len(data))) {
			return
		}
		r.registerCallouts(ev)
		st, err := pu.SendTo(f("to").AP, data)
		if err != nil {
			fail(err)
			return
		}
		if st != nt.STATUS_SUCCESS {
			r.note(fmt.Sprintf("peer_sendto %s (seq %d) to %v: the model's network answered %v", f("conn").Name, ev.Seq, f("to").AP, st))
		}
	case "redirected_datagram":
		var ctx, data []byte
		if c := f("context"); c.Kind == Buf {
			ctx = r.bufferData(c.Buf)
		}
		if d := f("data"); d.Kind == Buf {
			data = r.bufferData(d.Buf)
			if data == nil && d.Buf.Form == BufLen {
				data = make([]byte, min(d.Buf.Len, uint64(wsk.MaxDatagram)))
			}
		}
		if !r.spend(uint64(len(data))) {
			return
		}
		pid := uint32(wsk.SystemPID)
		if v, ok := ev.Arg("target_pid"); ok && v.Kind == Int {
			pid = uint32(v.U)
		}
		pu, err := r.p.RedirectedDatagram(f("name").Name, f("from").AP, f("original").AP, f("to").AP, f("handle").Name, ctx, pid, data)
		if err != nil {
			fail(err)
			return
		}
		r.bindObj(f("name").Name, pu, pu.Name())
	case "peer_udp_close":
		pu, ok := r.objs[f("conn").Name].(*wsk.PeerUDP)
		if !ok {
			fail(fmt.Errorf("%s is not a UDP endpoint the model has", f("conn").Name))
			return
		}
		pu.Close()
		r.forget(f("conn").Name)
	}
}

// traceHasRecords reports whether a WskReceiveFrom completion's ControlInfo
// shows redirect records (or is opaque).
func traceHasRecords(ev *Event) bool {
	v, ok := ev.OutArg("ControlInfo")
	if !ok {
		return false
	}
	if v.Kind == Bind {
		return true
	}
	if v.Kind != Buf {
		return false
	}
	cms, _ := wsk.ParseCMSG(v.Buf.Data)
	for _, c := range cms {
		if c.Type == nt.IP_WFP_REDIRECT_RECORDS {
			return true
		}
	}
	return false
}
