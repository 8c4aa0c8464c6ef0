package trace

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// This file replays the callout side: env classify / classify_return (the
// engine invoked a callout's classifyFn, and what it returned) and the FWPS
// functions a classifyFn calls. A callout the trace names is registered in
// the model's engine, with a filter at the layer the trace shows, the first
// time the trace shows it; its classifyFn replays the trace's events between
// the classify and its classify_return.

const docClassify = "https://learn.microsoft.com/windows-hardware/drivers/network/using-bind-or-connect-redirection"

type tcallout struct {
	// declared: an env filter named this callout, so its filters and their
	// conditions are the model's; no condition is inferred from classifies.
	declared    bool
	c           *wfp.Callout
	name        string
	layer       wfp.Layer
	filter      *wfp.Filter
	traceFilter uint64
	// remotes are the destinations the trace shows the callout classifying
	// (its filter's conditions are not in the trace); skipped notes the
	// destinations the replay left to the callout's filter conditions.
	remotes map[netip.AddrPort]bool
	skipped map[netip.AddrPort]bool
}

type clsFrame struct {
	tc           *tcallout
	c            *wfp.Classify
	writable     map[uint64]*wfp.FWPS_CONNECT_REQUEST0
	writableBind map[uint64]*wfp.FWPS_BIND_REQUEST0
}

type fwpsState struct {
	callouts map[string]*tcallout
	stack    []*clsFrame
	top      *qev // a top-level classify event the synthesized classify consumes
	// sublayers and filters the trace declared (env sublayer, env filter), by
	// name and by the trace's FilterId; ties are the wfp.filter-tie answers of
	// the env filter being added.
	sublayers map[string]*wfp.Sublayer
	filters   map[uint64]*wfp.Filter
	ties      []int
}

// chandle is a classify handle the trace bound.
type chandle struct{ id uint64 }

func parseLayer(s string) (wfp.Layer, bool) {
	for l := wfp.Layer(1); l < 64; l++ {
		if l.String() == s || l.String() == "FWPS_LAYER_"+s {
			return l, true
		}
	}
	return 0, false
}

// registerCallouts registers every callout a classify event in the lookahead
// names, up to the return of ev (the connect that will be classified), so
// that the model's classification invokes them.
func (r *replayer) registerCallouts(ev *Event) {
	r.scan(func(q *qev) bool {
		e := q.ev
		if e.Kind == EvEnv && e.What == "classify" {
			if tc := r.calloutFor(e); tc != nil {
				if v, ok := e.Arg("remote"); ok && v.Kind == Addr {
					tc.remotes[unmapAP(v.AP)] = true
				}
			}
		}
		return (e.Kind == EvReturn && e.Call == ev.Seq) || (e.Kind == EvCall && e.spec.group == "wsk" && e.Seq != ev.Seq) || (e.Kind == EvEnv && e.What != "classify" && e.What != "classify_return" && e.Seq != ev.Seq)
	})
}

func (r *replayer) calloutFor(e *Event) *tcallout {
	name := ""
	if v, ok := e.Arg("callout"); ok {
		name = v.Name
	}
	if r.fw.callouts == nil {
		r.fw.callouts = map[string]*tcallout{}
	}
	if tc := r.fw.callouts[name]; tc != nil {
		return tc
	}
	lv, _ := e.Arg("layer")
	layer, ok := parseLayer(lv.Name)
	if !ok {
		return nil
	}
	tc := &tcallout{name: name, layer: layer, remotes: map[netip.AddrPort]bool{}, skipped: map[netip.AddrPort]bool{}}
	if v, ok := e.Arg("filter"); ok {
		tc.traceFilter = v.U
	}
	c, err := r.e.RegisterCallout(name, layer, func(c *wfp.Classify) { r.calloutFn(tc, c) })
	if err != nil {
		return nil
	}
	tc.c = c
	// Each callout the trace shows gets a sublayer of its own, below the ones
	// seen before (one sublayer per vendor, as the Filter Weight Assignment
	// page recommends): every callout the trace shows classifying is invoked
	// whatever the earlier ones returned.
	sub := r.e.AddSublayer("trace callout "+name, uint16(0x9000-min(len(r.fw.callouts), 0x8000)))
	f, err := r.e.AddFilter(wfp.Filter{Name: "trace callout " + name, Callout: c, Weight: uint64(1000 - len(r.fw.callouts)), Sublayer: sub})
	if err != nil {
		return nil
	}
	tc.filter = f
	r.fw.callouts[name] = tc
	r.note(fmt.Sprintf("callout %s was registered at %v with filter %d (the trace's filter %d), the first time the trace showed it classify", name, layer, f.FilterId, tc.traceFilter))
	return tc
}

// classifyEnv is a classify event the model did not consume: the trace shows
// the engine invoking a callout with no connect of the trace's behind it, so
// the replay classifies that connect itself.
func (r *replayer) classifyEnv(q *qev) {
	ev := q.ev
	tc := r.calloutFor(ev)
	if tc == nil {
		lv, _ := ev.Arg("layer")
		r.diverge(ev, "env classify", "classify at "+lv.Name, "a layer the model has ("+wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4.String()+", …)", docClassify, "")
		return
	}
	f := func(n string) Value { v, _ := ev.Arg(n); return v }
	if tc.layer.IsBindRedirect() {
		r.classifyBindEnv(q, tc)
		return
	}
	req := wfp.ConnectRequest{Socket: "classify@" + fmt.Sprint(ev.Seq), ProcessID: uint32(f("processId").U), Local: f("local").AP, Remote: f("remote").AP}
	if !req.Remote.IsValid() {
		req.Remote = netip.MustParseAddrPort("0.0.0.0:1")
	}
	r.fw.top = q
	var res wfp.ConnectResult
	r.e.ClassifyConnect(&req, &res)
	if r.fw.top == q && !r.stopped {
		r.fw.top = nil
		r.diverge(ev, "env classify", "classify of "+tc.name, "no invocation of "+tc.name+"'s classifyFn for this connect (its filter does not match, or an earlier filter decided)", docClassify, "")
	}
	r.fw.top = nil
	if res.Flow != 0 {
		r.e.EndFlow(res.Flow)
	}
}

// classifyBindEnv is classifyEnv at ALE_BIND_REDIRECT: a bind of local for
// processId that no WskBind of the trace causes.
func (r *replayer) classifyBindEnv(q *qev, tc *tcallout) {
	ev := q.ev
	f := func(n string) Value { v, _ := ev.Arg(n); return v }
	req := wfp.BindRequest{Socket: "classify@" + fmt.Sprint(ev.Seq), ProcessID: uint32(f("processId").U), Local: f("local").AP}
	if f("protocol").Name == "IPPROTO_UDP" {
		req.Protocol = uint8(nt.IPPROTO_UDP)
	}
	if !req.Local.IsValid() {
		req.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if tc.layer == wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V6 {
			req.Local = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	r.fw.top = q
	var res wfp.BindResult
	r.e.ClassifyBind(&req, &res)
	if r.fw.top == q && !r.stopped {
		r.diverge(ev, "env classify", "classify of "+tc.name, "no invocation of "+tc.name+"'s classifyFn for this bind (its filter does not match, or an earlier filter decided)", docClassify, "")
	}
	r.fw.top = nil
}

// calloutFn is the classifyFn of a callout the trace names: it consumes the
// trace's classify event, replays what the callout did until its
// classify_return, and returns the classifyOut the trace shows.
func (r *replayer) calloutFn(tc *tcallout, c *wfp.Classify) {
	if r.stopped {
		return
	}
	var q *qev
	if r.fw.top != nil {
		q, r.fw.top = r.fw.top, nil
	} else {
		// Notes are not the driver's doing: a classify may follow one (the
		// engine notes a policy it applied just before).
		q = r.scan(func(q *qev) bool { return !q.matched && q.ev.Kind != EvNote })
		if (q == nil || q.ev.Kind != EvEnv || q.ev.What != "classify") && !tc.declared && c.Layer.IsConnectRedirect() && len(tc.remotes) > 0 && !tc.remotes[unmapAP(c.RemoteAddress)] {
			// The trace never shows this callout classifying this
			// destination: its filter's conditions (not in the trace)
			// exclude it. The classifyFn leaves the classify alone.
			if !tc.skipped[c.RemoteAddress] {
				tc.skipped[c.RemoteAddress] = true
				r.note(fmt.Sprintf("callout %s was not replayed for %v: the trace shows it classifying only %s, so its filter's conditions are taken to exclude %v", tc.name, c.RemoteAddress, addrSet(tc.remotes), c.RemoteAddress))
			}
			return
		}
		if q == nil || q.ev.Kind != EvEnv || q.ev.What != "classify" {
			var at *Event
			obs := "no classify of " + tc.name + " by the end of the trace"
			if q != nil {
				at = q.ev
				obs = "the next event is " + describeEvent(q.ev)
			}
			r.diverge(at, "classify", obs, fmt.Sprintf("the engine invokes %s's classifyFn at %v for %v here", tc.name, c.Layer, c.RemoteAddress), docClassify, "")
			return
		}
		q.matched = true
		r.rep.Events++
	}
	ev := q.ev
	f := func(n string) (Value, bool) { return ev.Arg(n) }
	mis := func(what, obs, model string) {
		r.diverge(ev, "classify of "+tc.name, what+" "+obs, what+" "+model, docClassify, "the model's classify of this connect differs from the trace's")
	}
	if v, _ := f("callout"); v.Name != tc.name {
		mis("callout", v.Name, tc.name)
		return
	}
	if v, ok := f("layer"); ok && v.Name != c.Layer.String() {
		mis("layer", v.Name, c.Layer.String())
		return
	}
	if v, ok := f("remote"); ok && v.Kind == Addr && !addrMatch(c.RemoteAddress, v.AP) && v.AP != c.RemoteAddress {
		mis("remote", v.AP.String(), c.RemoteAddress.String())
		return
	}
	if v, ok := f("flags"); ok && v.Kind == Int && uint32(v.U) != c.Flags {
		mis("flags", fmt.Sprintf("0x%x", v.U), fmt.Sprintf("0x%x", c.Flags))
		return
	}
	if v, ok := f("rights"); ok && v.Kind == Int && uint32(v.U) != c.Out.Rights {
		mis("rights", fmt.Sprint(v.U), fmt.Sprint(c.Out.Rights))
		return
	}
	if v, ok := f("redirectRecords"); ok && v.Kind == Int {
		n := 0
		if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
			n = len(c.Meta.RedirectRecords.Hops())
		}
		if uint64(n) != v.U {
			mis("redirectRecords (hops)", fmt.Sprint(v.U), fmt.Sprint(n))
			return
		}
	}
	fr := &clsFrame{tc: tc, c: c, writable: map[uint64]*wfp.FWPS_CONNECT_REQUEST0{}, writableBind: map[uint64]*wfp.FWPS_BIND_REQUEST0{}}
	r.fw.stack = append(r.fw.stack, fr)
	defer func() { r.fw.stack = r.fw.stack[:len(r.fw.stack)-1] }()
	outer := r.cur
	defer func() { r.cur = outer }()
	for !r.stopped {
		e := r.next()
		if e == nil {
			if r.stopped || r.perr != nil {
				return
			}
			r.diverge(nil, "classify of "+tc.name, "no classify_return of "+tc.name, "the classifyFn returns", docClassify, "")
			return
		}
		r.cur = e
		r.rep.Events++
		if e.ev.Kind == EvEnv && e.ev.What == "classify_return" {
			if v, _ := e.ev.Arg("callout"); v.Name != tc.name {
				r.diverge(e.ev, "classify of "+tc.name, "classify_return of "+v.Name, "classify_return of "+tc.name, docClassify, "")
				return
			}
			if v, ok := e.ev.Arg("actionType"); ok {
				c.Out.ActionType = wfp.Action(v.U)
			}
			if v, ok := e.ev.Arg("rights"); ok {
				c.Out.Rights = uint32(v.U)
			}
			if v, ok := e.ev.Arg("flags"); ok {
				c.Out.Flags = uint32(v.U)
			}
			return
		}
		r.step(e)
		r.collect(e.ev)
	}
}

// nextUnmatched returns the first event of the lookahead not consumed yet.
func (r *replayer) nextUnmatched() *qev {
	return r.scan(func(q *qev) bool { return !q.matched })
}

func describeEvent(e *Event) string {
	switch e.Kind {
	case EvCall:
		return fmt.Sprintf("call %s (seq %d)", e.Fn, e.Seq)
	case EvReturn:
		return fmt.Sprintf("return of seq %d", e.Call)
	case EvComplete:
		return fmt.Sprintf("complete %s (seq %d)", e.IRP, e.Seq)
	case EvEnv:
		return fmt.Sprintf("env %s (seq %d)", e.What, e.Seq)
	}
	return fmt.Sprintf("note (seq %d)", e.Seq)
}

func (r *replayer) frame() *clsFrame {
	if n := len(r.fw.stack); n > 0 {
		return r.fw.stack[n-1]
	}
	return nil
}

func (r *replayer) chOf(v Value) uint64 {
	if v.Kind == Int {
		return v.U
	}
	if v.Kind != Name {
		return 0
	}
	h, _ := r.objs[v.Name].(chandle)
	return h.id
}

func (r *replayer) rhOf(v Value) *wfp.RedirectHandle {
	if v.Kind != Name {
		return nil
	}
	h, _ := r.objs[v.Name].(*wfp.RedirectHandle)
	return h
}

// records is the redirect-records handle a call names: the metadata of the
// classify in progress.
func (r *replayer) records(v Value) *wfp.RedirectRecords {
	if v.Kind == Null {
		return nil
	}
	if fr := r.frame(); fr != nil {
		return fr.c.Meta.RedirectRecords
	}
	return nil
}

func (r *replayer) checkFwpsStatus(ev *Event, got nt.Status) *qev {
	ret := r.findReturn(ev.Seq)
	if ret == nil || r.stopped {
		return ret
	}
	ret.matched = true
	if ret.ev.HasStatus && ret.ev.Status != got {
		r.diverge(ret.ev, callName(ev), "return "+ret.ev.Status.String(), got.String(), fwpsDoc(ev.Fn), "")
	}
	return ret
}

func fwpsDoc(fn string) string {
	return "https://learn.microsoft.com/windows-hardware/drivers/ddi/fwpsk/nf-fwpsk-" + lower(fn)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (r *replayer) fwpsCall(q *qev) {
	ev := q.ev
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	e := r.e
	fr := r.frame()
	switch ev.Fn {
	case "FwpsRedirectHandleCreate0":
		var g *wfp.GUID
		if arg("providerGuid").Kind != Null {
			g = &wfp.GUID{}
		}
		var h *wfp.RedirectHandle
		hp := &h
		if arg("redirectHandle").Kind == Null {
			hp = nil
		}
		st := e.FwpsRedirectHandleCreate0(g, uint32(arg("flags").U), hp)
		if ret := r.checkFwpsStatus(ev, st); ret != nil && h != nil {
			if v, ok := ret.ev.OutArg("redirectHandle"); ok && v.Kind == Bind {
				r.bindObj(v.Name, h, h.Name())
			}
		}
	case "FwpsRedirectHandleDestroy0":
		e.FwpsRedirectHandleDestroy0(r.rhOf(arg("redirectHandle")))
		r.forget(arg("redirectHandle").Name)
	case "FwpsQueryConnectionRedirectState0":
		var ctx *wfp.RedirectContext
		cp := &ctx
		if arg("redirectContext").Kind == Null {
			cp = nil
		}
		got := e.FwpsQueryConnectionRedirectState0(r.records(arg("redirectRecords")), r.rhOf(arg("redirectHandle")), cp)
		if ret := r.findReturn(ev.Seq); ret != nil {
			ret.matched = true
			if ret.ev.HasValue && ret.ev.Value.Name != got.String() {
				r.diverge(ret.ev, callName(ev), "value "+ret.ev.Value.Name, got.String(), fwpsDoc(ev.Fn), "the redirect state follows from the connection's redirect records and the handle")
				return
			}
			if v, ok := ret.ev.OutArg("redirectContext"); ok {
				switch {
				case v.Kind == Null && ctx != nil:
					r.diverge(ret.ev, callName(ev), "redirectContext NULL", "the context of the redirect ("+ctx.Name()+")", fwpsDoc(ev.Fn), "")
				case v.Kind != Null && ctx == nil && cp != nil:
					r.diverge(ret.ev, callName(ev), "redirectContext "+v.String(), "NULL (no context for this handle's redirect)", fwpsDoc(ev.Fn), "")
				case v.Kind == Bind && ctx != nil:
					r.bindObj(v.Name, ctx, "")
				}
			}
		}
	case "FwpsAcquireClassifyHandle0":
		if fr == nil && arg("classifyContext").Kind != Null {
			r.diverge(ev, callName(ev), "a classifyContext with no classify in progress",
				"FwpsAcquireClassifyHandle0 inside a classifyFn, between an env classify and its classify_return", fwpsDoc(ev.Fn),
				"the trace shows no classify before this call: the classifyContext is valid only while the engine runs the callout")
			return
		}
		var cc *wfp.ClassifyContext
		if arg("classifyContext").Kind != Null && fr != nil {
			cc = fr.c.ClassifyContext
		}
		var h uint64
		hp := &h
		if arg("classifyHandle").Kind == Null {
			hp = nil
		}
		st := e.FwpsAcquireClassifyHandle0(cc, uint32(arg("flags").U), hp)
		if ret := r.checkFwpsStatus(ev, st); ret != nil && st == nt.STATUS_SUCCESS {
			if v, ok := ret.ev.OutArg("classifyHandle"); ok && v.Kind == Bind {
				r.bindObj(v.Name, chandle{h}, "")
			}
		}
	case "FwpsAcquireWritableLayerDataPointer0":
		ch := r.chOf(arg("classifyHandle"))
		fid := arg("filterId").U
		if mf := r.fw.filters[fid]; mf != nil {
			fid = mf.FilterId
		} else if fr != nil && fr.tc.filter != nil && (fid == fr.tc.traceFilter || fid == 0 && fr.tc.traceFilter == 0) {
			fid = fr.tc.filter.FilterId
		}
		var out *wfp.ClassifyOut
		if arg("classifyOut").Kind != Null && fr != nil {
			out = fr.c.Out
		}
		if r.bindLayer(fr, ch) {
			r.acquireBind(ev, fr, ch, fid, out)
			return
		}
		var v *wfp.FWPS_CONNECT_REQUEST0
		vp := &v
		if arg("writableLayerData").Kind == Null {
			vp = nil
		}
		st := e.FwpsAcquireWritableLayerDataPointer0(ch, fid, uint32(arg("flags").U), vp, out)
		if st == nt.STATUS_SUCCESS && v != nil && fr != nil {
			fr.writable[ch] = v
		}
		if ret := r.checkFwpsStatus(ev, st); ret != nil && v != nil {
			if o, ok := ret.ev.OutArg("writableLayerData"); ok && o.Kind == Bind {
				r.bindObj(o.Name, v, "")
			}
		}
	case "FwpsApplyModifiedLayerData0":
		ch := r.chOf(arg("classifyHandle"))
		if _, named := r.objs[arg("modifiedLayerData").Name].(*wfp.FWPS_BIND_REQUEST0); named || r.bindLayer(fr, ch) {
			r.applyBind(ev, fr, ch)
			return
		}
		var held map[uint64]*wfp.FWPS_CONNECT_REQUEST0
		if fr != nil {
			held = fr.writable
		}
		v := appliedPointer(r, arg("modifiedLayerData"), held, ch)
		if cr := arg("connectRequest"); cr.Kind == Struct && v != nil {
			if a, ok := cr.Field("remoteAddressAndPort"); ok && a.Kind == Addr {
				v.RemoteAddressAndPort = a.AP
			}
			if a, ok := cr.Field("localAddressAndPort"); ok && a.Kind == Addr {
				v.LocalAddressAndPort = a.AP // a source rewrite (split tunnelling)
			}
			if a, ok := cr.Field("localRedirectTargetPID"); ok {
				v.LocalRedirectTargetPID = uint32(a.U)
			}
			if a, ok := cr.Field("localAddressAndPort"); ok && a.Kind == Addr {
				v.LocalAddressAndPort = a.AP
			}
			if a, ok := cr.Field("localRedirectHandle"); ok {
				v.LocalRedirectHandle = r.rhOf(a)
			}
			if a, ok := cr.Field("localRedirectContext"); ok && a.Kind == Buf {
				data := r.bufferData(a.Buf)
				if data == nil {
					n := a.Buf.Len
					if n > scratchCap {
						n = scratchCap
					}
					data = make([]byte, n)
				}
				v.LocalRedirectContext = e.AllocateRedirectContext(data)
				v.LocalRedirectContextSize = uint64(len(data))
			}
		} else if v != nil && cr.Kind != Struct {
			r.note("FwpsApplyModifiedLayerData0 without connectRequest: the replay applies the layer data unchanged (log connectRequest to replay the redirect)")
		}
		e.FwpsApplyModifiedLayerData0(ch, v, uint32(arg("flags").U))
		if fr != nil {
			delete(fr.writable, ch)
		}
	case "FwpsPendClassify0":
		ch := r.chOf(arg("classifyHandle"))
		fid := arg("filterId").U
		if mf := r.fw.filters[fid]; mf != nil {
			fid = mf.FilterId
		} else if fr != nil && fr.tc.filter != nil && fid == fr.tc.traceFilter {
			fid = fr.tc.filter.FilterId
		}
		var out *wfp.ClassifyOut
		if arg("classifyOut").Kind != Null && fr != nil {
			out = fr.c.Out
		}
		r.checkFwpsStatus(ev, e.FwpsPendClassify0(ch, fid, uint32(arg("flags").U), out))
	case "FwpsCompleteClassify0":
		// The classifyOut the callout completes with: the trace's actionType
		// and rights (extension arguments), else PERMIT with the write right.
		var out *wfp.ClassifyOut
		if arg("classifyOut").Kind != Null {
			out = &wfp.ClassifyOut{ActionType: wfp.FWP_ACTION_PERMIT, Rights: wfp.FWPS_RIGHT_ACTION_WRITE}
			if v, ok := ev.Arg("actionType"); ok {
				out.ActionType = wfp.Action(v.U)
			} else {
				r.note("FwpsCompleteClassify0 without actionType: the replay completes the classify with FWP_ACTION_PERMIT")
			}
			if v, ok := ev.Arg("rights"); ok {
				out.Rights = uint32(v.U)
			}
		}
		e.FwpsCompleteClassify0(r.chOf(arg("classifyHandle")), uint32(arg("flags").U), out)
	case "FwpsReleaseClassifyHandle0":
		e.FwpsReleaseClassifyHandle0(r.chOf(arg("classifyHandle")))
		r.forget(arg("classifyHandle").Name)
	case "FwpsQueryConnectionSioFormatRedirectRecords0":
		var n uint64
		np := &n
		if arg("BytesTransferred").Kind == Null {
			np = nil
		}
		length := arg("OutputBufferLength").U
		var buf []byte
		ob := arg("OutputBuffer")
		st0, _, _ := r.traceOutcome(ev)
		opaque := ob.Kind == Buf && length > 0
		switch {
		case opaque && st0 == nt.STATUS_BUFFER_TOO_SMALL:
			buf, length = make([]byte, 1), 1
		case opaque:
			buf, length = make([]byte, wfp.MaxRecordsSize), wfp.MaxRecordsSize
		case ob.Kind == Buf:
			buf = make([]byte, 0)
		}
		st := e.FwpsQueryConnectionSioFormatRedirectRecords0(r.records(arg("RedirectRecords")), buf, length, np)
		ret := r.checkFwpsStatus(ev, st)
		if ret == nil || r.stopped {
			return
		}
		var tsize uint64
		if v, ok := ret.ev.OutArg("BytesTransferred"); ok && v.Kind == Int {
			tsize = v.U
		}
		tlen := arg("OutputBufferLength").U
		switch {
		case st == nt.STATUS_BUFFER_TOO_SMALL && tsize != 0 && tsize <= tlen:
			r.diverge(ret.ev, callName(ev), fmt.Sprintf("STATUS_BUFFER_TOO_SMALL with BytesTransferred %d", tsize),
				fmt.Sprintf("STATUS_SUCCESS: OutputBufferLength %d holds %d bytes", tlen, tsize), fwpsDoc(ev.Fn), "opaque sizes are the trace's own, but must agree within the trace")
			return
		case st == nt.STATUS_SUCCESS && tsize > tlen:
			r.diverge(ret.ev, callName(ev), fmt.Sprintf("BytesTransferred %d", tsize), fmt.Sprintf("at most OutputBufferLength (%d)", tlen), fwpsDoc(ev.Fn), "")
			return
		}
		if st != nt.STATUS_SUCCESS {
			return
		}
		if v, ok := ret.ev.OutArg("OutputBuffer"); ok && n <= uint64(len(buf)) {
			bl := &blob{model: append([]byte(nil), buf[:n]...), size: tsize}
			r.wsInit()
			switch v.Kind {
			case Bind:
				r.ws.blobs[v.Name] = bl
				r.bindObj(v.Name, bl, "")
			case Buf:
				if d := r.bufferData(v.Buf); d != nil {
					if bl.size == 0 {
						bl.size = uint64(len(d))
					}
					r.ws.byHex[string(d)] = bl
				}
			}
		}
	default:
		panic("trace: internal: no FWPS replay for " + ev.Fn)
	}
}

// bindLayer reports whether classify handle ch belongs to a classify at
// ALE_BIND_REDIRECT, where the writable layer data is an FWPS_BIND_REQUEST0:
// the layer of the handle's classify in the model, else of the classifyFn in
// progress.
func (r *replayer) bindLayer(fr *clsFrame, ch uint64) bool {
	if l, ok := r.e.ClassifyHandleLayer(ch); ok {
		return l.IsBindRedirect()
	}
	return fr != nil && fr.c.Layer.IsBindRedirect()
}

// acquireBind replays FwpsAcquireWritableLayerDataPointer0 at
// ALE_BIND_REDIRECT.
func (r *replayer) acquireBind(ev *Event, fr *clsFrame, ch, fid uint64, out *wfp.ClassifyOut) {
	var v *wfp.FWPS_BIND_REQUEST0
	vp := &v
	if a, _ := ev.Arg("writableLayerData"); a.Kind == Null {
		vp = nil
	}
	fl, _ := ev.Arg("flags")
	st := r.e.FwpsAcquireWritableLayerDataPointer0Bind(ch, fid, uint32(fl.U), vp, out)
	if st == nt.STATUS_SUCCESS && v != nil && fr != nil {
		fr.writableBind[ch] = v
	}
	if ret := r.checkFwpsStatus(ev, st); ret != nil && v != nil {
		if o, ok := ret.ev.OutArg("writableLayerData"); ok && o.Kind == Bind {
			r.bindObj(o.Name, v, "")
		}
	}
}

// applyBind replays FwpsApplyModifiedLayerData0 at ALE_BIND_REDIRECT: the
// extension argument bindRequest carries what the callout wrote.
func (r *replayer) applyBind(ev *Event, fr *clsFrame, ch uint64) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	var held map[uint64]*wfp.FWPS_BIND_REQUEST0
	if fr != nil {
		held = fr.writableBind
	}
	v := appliedPointer(r, arg("modifiedLayerData"), held, ch)
	if br := arg("bindRequest"); br.Kind == Struct && v != nil {
		if a, ok := br.Field("localAddressAndPort"); ok && a.Kind == Addr {
			v.LocalAddressAndPort = a.AP
		}
		if a, ok := br.Field("portReservationToken"); ok && a.Kind == Int {
			v.PortReservationToken = a.U
		}
	} else if v != nil && br.Kind != Struct {
		r.note("FwpsApplyModifiedLayerData0 at ALE_BIND_REDIRECT without bindRequest: the replay applies the layer data unchanged (log bindRequest to replay the rewrite)")
	}
	r.e.FwpsApplyModifiedLayerData0Bind(ch, v, uint32(arg("flags").U))
	if fr != nil {
		delete(fr.writableBind, ch)
	}
}

func addrSet(m map[netip.AddrPort]bool) string {
	var out []string
	for a := range m {
		out = append(out, a.String())
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func unmapAP(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// appliedPointer resolves FwpsApplyModifiedLayerData0's modifiedLayerData
// (an *FWPS_CONNECT_REQUEST0 or *FWPS_BIND_REQUEST0): true is the pointer
// acquired with classify handle ch in this classifyFn (held), or else one
// the engine never handed out; a name is an object the trace bound.
func appliedPointer[T any](r *replayer, mv Value, held map[uint64]*T, ch uint64) *T {
	switch mv.Kind {
	case Bool:
		if v := held[ch]; v != nil {
			return v
		}
		return new(T)
	case Name:
		v, _ := r.objs[mv.Name].(*T)
		return v
	}
	return nil
}

// filterEnv replays env sublayer, filter and filter_delete: the filters a
// scenario (or a harness that logs them) added, so the model arbitrates with
// the same sublayers, weights, conditions and tie order.
func (r *replayer) filterEnv(ev *Event, fail func(error)) {
	f := func(n string) Value { v, _ := ev.Arg(n); return v }
	if r.fw.sublayers == nil {
		r.fw.sublayers = map[string]*wfp.Sublayer{}
		r.fw.filters = map[uint64]*wfp.Filter{}
	}
	if r.fw.callouts == nil {
		r.fw.callouts = map[string]*tcallout{}
	}
	switch ev.What {
	case "sublayer":
		w := f("weight").U
		if w > 0xFFFF {
			fail(fmt.Errorf("sublayer weight %d: a sublayer weight is 16 bits", w))
			return
		}
		r.fw.sublayers[f("name").Name] = r.e.AddSublayer(f("name").Name, uint16(w))
	case "filter_delete":
		mf := r.fw.filters[f("filter").U]
		if mf == nil {
			fail(fmt.Errorf("filter %d is not a filter the trace added (env filter)", f("filter").U))
			return
		}
		r.e.RemoveFilter(mf)
		delete(r.fw.filters, f("filter").U)
	case "filter":
		layer, ok := parseLayer(f("layer").Name)
		if !ok {
			fail(fmt.Errorf("unknown layer %q", f("layer").Name))
			return
		}
		nf := wfp.Filter{Name: fmt.Sprintf("trace filter %d", f("filter").U), Layer: layer, Weight: f("weight").U, RemoteMatch: f("remote").AP}
		if v, ok := ev.Arg("action"); ok {
			nf.Action = wfp.Action(v.U)
		}
		if v, ok := ev.Arg("sublayer"); ok {
			s := r.fw.sublayers[v.Name]
			if s == nil {
				fail(fmt.Errorf("sublayer %q was not declared (env sublayer)", v.Name))
				return
			}
			nf.Sublayer = s
		}
		if v, ok := ev.Arg("callout"); ok {
			tc := r.fw.callouts[v.Name]
			if tc == nil {
				tc = &tcallout{declared: true, name: v.Name, layer: layer, remotes: map[netip.AddrPort]bool{}, skipped: map[netip.AddrPort]bool{}, traceFilter: f("filter").U}
				c, err := r.e.RegisterCallout(v.Name, layer, func(c *wfp.Classify) { r.calloutFn(tc, c) })
				if err != nil {
					fail(err)
					return
				}
				tc.c = c
				r.fw.callouts[v.Name] = tc
			}
			if tc.c == nil {
				fail(fmt.Errorf("callout %s was registered before the trace declared its filters", v.Name))
				return
			}
			nf.Callout = tc.c
		}
		r.fw.ties = r.fw.ties[:0]
		if v, ok := ev.Arg("tie"); ok && v.Name != "" {
			for _, o := range strings.Split(v.Name, ",") {
				t, err := sim.ParseChoiceValue(wfp.ChoiceFilterTie, o)
				if err != nil {
					fail(err)
					return
				}
				r.fw.ties = append(r.fw.ties, t)
			}
		}
		mf, err := r.e.AddFilter(nf)
		r.fw.ties = r.fw.ties[:0]
		if err != nil {
			fail(err)
			return
		}
		r.fw.filters[f("filter").U] = mf
		if nf.Callout != nil {
			tc := r.fw.callouts[f("callout").Name]
			if tc.filter == nil {
				tc.filter, tc.traceFilter = mf, f("filter").U
			}
		}
	}
}
