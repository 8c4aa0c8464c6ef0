package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Event callbacks (wsktrace v1, "Additions for real drivers"): "callback"
// and "callback_return" events, the WskRelease and WskControlClient calls,
// and SO_WSK_EVENT_CALLBACK's WSK_EVENT_CALLBACK_CONTROL input.

// ObjIndication is a WSK_DATA_INDICATION or WSK_DATAGRAM_INDICATION list a
// receive callback was given.
const ObjIndication = "data indication"

// pIndication is a data indication: null, or {"bind":name,"buffers":[…]}
// or {"bind":name,"datagrams":[{RemoteAddress, ControlInfo, Buffer}…]}.
const pIndication pkind = 200

// maxIndicationItems bounds the buffers or datagrams of one indication.
const maxIndicationItems = 4096

// callbacks are the event callbacks a trace may show, with their DDI
// parameter names.
var callbacks = map[string]*fnSpec{}

func init() {
	sc := o("SocketContext", ObjSocket)
	ind := param{name: "DataIndication", kind: pIndication, obj: ObjIndication}
	for _, f := range []*fnSpec{
		{name: "WskAcceptEvent", args: []param{sc, a("Flags", pInt), a("LocalAddress", pAddr), a("RemoteAddress", pAddr), nb("AcceptSocket", ObjSocket),
			a("AcceptSocketContext", pOutPtr), a("AcceptSocketDispatch", pOutPtr)}, out: []param{a("AcceptSocketContext", pPtr), a("AcceptSocketDispatch", pPtr)}},
		{name: "WskReceiveEvent", args: []param{sc, a("Flags", pInt), ind, a("BytesIndicated", pInt), a("BytesAccepted", pOutPtr)}, out: []param{a("BytesAccepted", pInt)}},
		{name: "WskDisconnectEvent", args: []param{sc, a("Flags", pInt)}},
		{name: "WskSendBacklogEvent", args: []param{sc, a("IdealBacklogSize", pInt)}},
		{name: "WskReceiveFromEvent", args: []param{sc, a("Flags", pInt), ind}},
	} {
		f.group, f.ret, f.maxIRQ = "callback", retStatus, "DISPATCH_LEVEL"
		callbacks[f.name] = f
	}
	functions["WskRelease"] = &fnSpec{name: "WskRelease", group: "wsk", args: []param{sock("Socket"), o("DataIndication", ObjIndication)}, ret: retStatus, maxIRQ: "DISPATCH_LEVEL"}
	functions["WskControlClient"] = &fnSpec{name: "WskControlClient", group: "wsk", args: []param{o("Client", ObjClient), a("ControlCode", pInt),
		a("InputSize", pInt), a("InputBuffer", pBuf), a("OutputSize", pInt), a("OutputBuffer", pBuf), a("OutputSizeReturned", pOutPtr), irpArg()},
		ret: retStatus, out: ctrlOut(), maxIRQ: "DISPATCH_LEVEL"}
	for n, v := range map[string]uint32{"WSK_TRANSPORT_LIST_QUERY": wsk.WSK_TRANSPORT_LIST_QUERY, "WSK_TRANSPORT_LIST_CHANGE": wsk.WSK_TRANSPORT_LIST_CHANGE,
		"WSK_CACHE_SD": wsk.WSK_CACHE_SD, "WSK_RELEASE_SD": wsk.WSK_RELEASE_SD, "WSK_TDI_DEVICENAME_MAPPING": wsk.WSK_TDI_DEVICENAME_MAPPING,
		"WSK_SET_STATIC_EVENT_CALLBACKS": wsk.WSK_SET_STATIC_EVENT_CALLBACKS, "WSK_TDI_BEHAVIOR": wsk.WSK_TDI_BEHAVIOR,
		"WSK_TDI_BEHAVIOR_BYPASS_TDI": wsk.WSK_TDI_BEHAVIOR_BYPASS_TDI, "WSK_FLAG_AT_DISPATCH_LEVEL": wsk.WSK_FLAG_AT_DISPATCH_LEVEL,
		"WSK_FLAG_RELEASE_ASAP": wsk.WSK_FLAG_RELEASE_ASAP, "WSK_FLAG_ENTIRE_MESSAGE": wsk.WSK_FLAG_ENTIRE_MESSAGE} {
		extraConstants[n] = uint64(v)
	}
}

// parseCallback parses a "callback" event.
func (p *Parser) parseCallback(ev *Event, get func(string) *field) *Error {
	ln := ev.Line
	ff := get("fn")
	if ff == nil {
		return errAt(ln, 1, `callback has no "fn"`)
	}
	fn, ok := rawString(ff.val)
	if !ok {
		return errAt(ln, ff.vcol, `"fn" must be a string`)
	}
	spec := callbacks[fn]
	if spec == nil {
		return errAt(ln, ff.vcol, "unknown callback "+strconv.Quote(fn)+" (want WskAcceptEvent, WskReceiveEvent, WskDisconnectEvent, WskSendBacklogEvent or WskReceiveFromEvent)")
	}
	ev.Fn, ev.spec = fn, spec
	if f := get("irql"); f != nil {
		s, ok := rawString(f.val)
		l, err := nt.ParseIRQL(s)
		if !ok || err != nil {
			return errAt(ln, f.vcol, `"irql" must be an IRQL name such as "DISPATCH_LEVEL"`)
		}
		ev.IRQL, ev.HasIRQL = l, true
	}
	var binds []pendingBind
	if af := get("args"); af != nil {
		fs, err := p.scan(ln, af.val, af.vcol)
		if err != nil {
			return err
		}
		for _, f := range fs {
			pp, ok := findParam(spec.args, f.key)
			if !ok {
				return errAt(ln, f.kcol, fn+" has no parameter "+strconv.Quote(f.key)+" (parameters: "+paramNames(spec.args)+")")
			}
			v, err := p.value(ln, f, pp, &binds, 0)
			if err != nil {
				return err
			}
			ev.Args = append(ev.Args, Arg{Name: f.key, Val: v})
		}
	}
	if err := p.commit(ln, binds); err != nil {
		return err
	}
	if p.cbOpen == nil {
		p.cbOpen = map[uint64]*fnSpec{}
	}
	if len(p.cbOpen) >= maxOpenCalls {
		return errAt(ln, 1, "more than "+strconv.Itoa(maxOpenCalls)+" callbacks without a callback_return")
	}
	p.cbOpen[ev.Seq] = spec
	return nil
}

// parseCallbackReturn parses a "callback_return" event.
func (p *Parser) parseCallbackReturn(ev *Event, get func(string) *field) *Error {
	ln := ev.Line
	cf := get("call")
	if cf == nil {
		return errAt(ln, 1, `callback_return has no "call"`)
	}
	cs, err := intOnly(ln, *cf)
	if err != nil {
		return err
	}
	spec, ok := p.cbOpen[cs]
	if !ok {
		return errAt(ln, cf.vcol, "callback_return for seq "+strconv.FormatUint(cs, 10)+", which is not a callback still running")
	}
	ev.Call, ev.spec, ev.Fn = cs, spec, spec.name
	sf := get("status")
	if sf == nil {
		return errAt(ln, 1, `callback_return has no "status"`)
	}
	st, e := p.status(ln, *sf)
	if e != nil {
		return e
	}
	ev.Status, ev.HasStatus = st, true
	var binds []pendingBind
	if of := get("out"); of != nil {
		out, e := p.outs(ln, *of, spec.out, spec.name, &binds)
		if e != nil {
			return e
		}
		ev.Out = out
	}
	if err := p.commit(ln, binds); err != nil {
		return err
	}
	delete(p.cbOpen, cs)
	return nil
}

// indication parses a pIndication value into a Struct whose Name is the
// bound name and whose Fields are "buffer" (Buf) or "datagram" (Struct with
// RemoteAddress, ControlInfo, Buffer) entries in order.
func (p *Parser) indication(ln int, f field, pp *param, binds *[]pendingBind, depth int) (Value, *Error) {
	raw, col := f.val, f.vcol
	v := Value{Col: col}
	if string(raw) == "null" {
		return v, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return v, errAt(ln, col, strconv.Quote(f.key)+` must be null or {"bind":name,"buffers":[…]} / {"bind":name,"datagrams":[…]}`)
	}
	fs, err := p.scan(ln, raw, col)
	if err != nil {
		return v, err
	}
	v.Kind = Struct
	var items []field
	item := ""
	for _, g := range fs {
		switch g.key {
		case "bind":
			s, ok := rawString(g.val)
			if !ok || !validName(s) {
				return v, errAt(ln, g.vcol, `"bind" must be a name (no spaces, quotes or backslashes)`)
			}
			*binds = append(*binds, pendingBind{name: s, kind: pp.obj, col: g.vcol})
			v.Name = s
		case "buffers", "datagrams":
			if item != "" {
				return v, errAt(ln, g.kcol, "an indication has either buffers or datagrams")
			}
			item = g.key
			var elems []json.RawMessage
			dec := json.NewDecoder(bytes.NewReader(g.val))
			if e := dec.Decode(&elems); e != nil {
				return v, errAt(ln, g.vcol, strconv.Quote(g.key)+" must be an array of objects")
			}
			if len(elems) > maxIndicationItems {
				return v, errAt(ln, g.vcol, strconv.Quote(g.key)+" has more than "+strconv.Itoa(maxIndicationItems)+" entries")
			}
			for _, el := range elems {
				items = append(items, field{key: g.key, val: []byte(el), vcol: g.vcol, kcol: g.kcol})
			}
		default:
			return v, errAt(ln, g.kcol, "unknown indication key "+strconv.Quote(g.key)+" (want bind, buffers or datagrams)")
		}
	}
	if v.Name == "" {
		return v, errAt(ln, col, strconv.Quote(f.key)+` needs "bind"`)
	}
	dgSpec := param{name: "datagram", kind: pStruct, sub: []param{a("RemoteAddress", pAddr), a("ControlInfo", pBuf), a("Buffer", pBuf)}}
	bufSpec := a("buffer", pBuf)
	for _, it := range items {
		if item == "buffers" {
			bv, e := p.value(ln, field{key: "buffer", val: it.val, vcol: it.vcol, kcol: it.kcol}, &bufSpec, binds, depth+1)
			if e != nil {
				return v, e
			}
			v.Fields = append(v.Fields, Arg{Name: "buffer", Val: bv})
			continue
		}
		dv, e := p.value(ln, field{key: "datagram", val: it.val, vcol: it.vcol, kcol: it.kcol}, &dgSpec, binds, depth+1)
		if e != nil {
			return v, e
		}
		v.Fields = append(v.Fields, Arg{Name: "datagram", Val: dv})
	}
	return v, nil
}

// eventControlBuffer turns a WSK_EVENT_CALLBACK_CONTROL written as an object
// ({"NpiId":"NPI_WSK_INTERFACE_ID","EventMask":"WSK_EVENT_RECEIVE|…"}) into
// the buffer the model reads; ok is false when fs is not that object.
func (p *Parser) eventControlBuffer(ln int, fs []field, v Value) (Value, bool, *Error) {
	if len(fs) == 0 || (fs[0].key != "NpiId" && fs[0].key != "EventMask") {
		return v, false, nil
	}
	var mask uint32
	npi := false
	for _, g := range fs {
		switch g.key {
		case "NpiId":
			s, ok := rawString(g.val)
			switch {
			case ok && s == "NPI_WSK_INTERFACE_ID", string(g.val) == "true":
				npi = true
			case string(g.val) == "null":
			default:
				return v, true, errAt(ln, g.vcol, `"NpiId" must be "NPI_WSK_INTERFACE_ID", true or null`)
			}
		case "EventMask":
			m, e := p.value(ln, g, &param{name: "EventMask", kind: pInt}, nil, 1)
			if e != nil {
				return v, true, e
			}
			if m.U > 0xFFFFFFFF {
				return v, true, errAt(ln, g.vcol, `"EventMask" is a ULONG`)
			}
			mask = uint32(m.U)
		default:
			return v, true, errAt(ln, g.kcol, "WSK_EVENT_CALLBACK_CONTROL has no field "+strconv.Quote(g.key)+" (fields: NpiId, EventMask)")
		}
	}
	data := wsk.EventCallbackControl(mask)
	if !npi {
		clear(data[:8])
	}
	v.Kind, v.Buf = Buf, &Buffer{Form: BufHex, Data: data, Len: uint64(len(data))}
	return v, true, nil
}

// ErrCallbacksNotConvertible is returned by Convert for a trace that shows
// event callbacks: the scenario language has no commands yet for what a
// driver does inside a callback.
var ErrCallbacksNotConvertible = errors.New("trace: event callbacks cannot be converted to a scenario yet")

func convertibleEvents(evs []*Event) error {
	for _, e := range evs {
		if e.Kind == EvCallback {
			return fmt.Errorf("%w (%s at seq %d, line %d)", ErrCallbacksNotConvertible, e.Fn, e.Seq, e.Line)
		}
	}
	return nil
}
