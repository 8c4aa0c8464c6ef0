package scenarios

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

func init() {
	for _, c := range []*command{
		{name: "redirect-handle-create", args: []string{"name", "guid", "flags", "out"}, open: true, run: cmdRedirectHandleCreate, help: "FwpsRedirectHandleCreate0(providerGuid, flags, redirectHandle); guid=NULL and out=NULL pass NULL pointers", ex: "redirect-handle-create name=H"},
		{name: "redirect-handle-destroy", args: []string{"handle"}, open: true, run: cmdRedirectHandleDestroy, help: "FwpsRedirectHandleDestroy0(redirectHandle)", ex: "redirect-handle-destroy handle=H"},
		{name: "sublayer", args: []string{"name", "weight"}, open: true, run: cmdSublayer, help: "add a sublayer (FwpmSubLayerAdd); higher weight is evaluated first", ex: "sublayer name=vendor1 weight=0x9000"},
		{name: "callout", args: []string{"name", "layer", "behaviour", "handle", "to", "target-pid", "context", "avoid-loop", "set-handle", "set-pid", "apply", "check-right", "local", "pend", "release", "reauth", "sio-out", "sio-len", "sio-bt"}, open: true, run: cmdCallout, help: "register a callout (FwpsCalloutRegister) whose classifyFn does what the scenario declares: redirect, permit, block, continue or query", ex: "callout name=C1 layer=ALE_CONNECT_REDIRECT_V4 handle=H behaviour=redirect to=127.0.0.1:9000 target-pid=500 context=c0ffee"},
		{name: "filter", args: []string{"name", "callout", "action", "layer", "weight", "sublayer", "remote"}, open: true, run: cmdFilter, help: "add a filter (FwpmFilterAdd): a callout filter or a static PERMIT/BLOCK, with weight, sublayer and a remote address:port condition", ex: "filter name=F1 callout=C1 weight=10"},
		{name: "remove-filter", args: []string{"filter"}, open: true, run: cmdRemoveFilter, help: "delete a filter (FwpmFilterDeleteById)", ex: "remove-filter filter=F1"},
		{name: "redirect-policy", args: []string{"handle", "match", "to", "context", "target-pid"}, open: true, run: cmdRedirectPolicy, help: "a built-in connect-redirect callout that follows the loop-avoidance rules (the trace's redirect_policy)", ex: "redirect-policy handle=P1 match=198.51.100.7:443 to=127.0.0.1:9000 context=c0ffee target-pid=500"},
		{name: "classify", args: []string{"name", "pid", "local", "remote", "records", "records-len"}, open: true, run: cmdClassify, help: "classify a TCP connect directly through ALE_CONNECT_REDIRECT and ALE_AUTH_CONNECT (a WFP-only scenario); records= a pool block holding a records blob", ex: "classify name=f1 pid=600 local=10.0.0.1:50000 remote=198.51.100.7:443"},
		{name: "callout-complete", args: []string{"callout", "action", "release"}, open: true, run: cmdCalloutComplete, help: "a callout completes its oldest pended classify: apply, FwpsCompleteClassify0, release", ex: "callout-complete callout=C1 action=FWP_ACTION_PERMIT"},
		{name: "callout-release", args: []string{"callout"}, open: true, run: cmdCalloutRelease, help: "a callout releases the classify handle of its oldest unreleased classify (FwpsReleaseClassifyHandle0)", ex: "callout-release callout=C1"},
		{name: "callout-context", args: []string{"callout", "op", "hex"}, open: true, run: cmdCalloutContext, help: "a callout reads, writes or frees the redirect context it allocated last", ex: "callout-context callout=C1 op=free"},
		{name: "end-flow", args: []string{"flow"}, open: true, run: cmdEndFlow, help: "the flow of a classify ends (both sockets closed): WFP frees its redirect context", ex: "end-flow flow=f1"},
		{name: "records-copy", args: []string{"flow", "pool"}, open: true, run: cmdRecordsCopy, help: "copy the records a classify issued into a pool block (what the proxy would QUERY)", ex: "records-copy flow=f1 pool=buf"},
		{name: "records-decode", args: []string{"pool", "len", "pid"}, open: true, run: cmdRecordsDecode, help: "decode and check a records blob in a pool block: its hops, and CheckRecords for a process", ex: "records-decode pool=recs len=96 pid=500"},
		{name: "records-forge", args: []string{"pool", "hops", "pad-length", "total"}, open: true, run: cmdRecordsForge, help: "write a forged records blob (well-formed header, wrong MAC) into a pool block; pad-length= and total= set its length fields", ex: "records-forge pool=buf hops=1"},
		{name: "records-corrupt", args: []string{"pool", "off"}, open: true, run: cmdRecordsCorrupt, help: "flip the bits of one byte of a records blob in a pool block", ex: "records-corrupt pool=recs off=40"},
	} {
		register(c)
	}
}

// calloutSpec is a callout whose classifyFn the scenario declares.
type calloutSpec struct {
	name       string
	layer      wfp.Layer
	behaviour  string // redirect, permit, block, continue, query
	handle     *wfp.RedirectHandle
	to         netip.AddrPort
	targetPID  uint32
	ctx        []byte
	avoid      string // checked, unchecked, off
	setHandle  bool
	setPID     bool
	apply      string // same, none, other
	checkRight bool
	local      netip.AddrPort
	pend       bool
	release    string // yes, no, twice
	reauth     bool
	sioOut     *irp.Block
	sioLen     uint64
	sioBT      bool

	c       *wfp.Callout
	lastCtx *wfp.RedirectContext
	pended  []*pendedClassify
}

type pendedClassify struct {
	ch       uint64
	v        *wfp.FWPS_CONNECT_REQUEST0
	filterID uint64
	done     bool // completed
	released bool
}

// flowRec is the result of a classify command.
type flowRec struct {
	name string
	res  *wfp.ConnectResult
}

func parseLayer(s string) (wfp.Layer, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "FWPS_LAYER_"), "FWPM_LAYER_")
	for l := wfp.Layer(1); l < 16; l++ {
		if strings.TrimPrefix(l.String(), "FWPS_LAYER_") == s {
			return l, true
		}
	}
	return 0, false
}

func parseAction(s string) (wfp.Action, bool) {
	for _, a := range []wfp.Action{wfp.FWP_ACTION_BLOCK, wfp.FWP_ACTION_PERMIT, wfp.FWP_ACTION_CALLOUT_TERMINATING, wfp.FWP_ACTION_CALLOUT_INSPECTION,
		wfp.FWP_ACTION_CALLOUT_UNKNOWN, wfp.FWP_ACTION_CONTINUE, wfp.FWP_ACTION_NONE} {
		if a.String() == s || strings.TrimPrefix(a.String(), "FWP_ACTION_") == s {
			return a, true
		}
	}
	return 0, false
}

func (in *Interp) handleArg(a *args, key string, required bool) (*wfp.RedirectHandle, bool) {
	o, ok := in.objArg(a, key, "redirect handle", required)
	if !ok || o == nil {
		return nil, ok
	}
	h, isH := o.(*wfp.RedirectHandle)
	if !isH {
		a.fail("%s: not a redirect handle", key)
		return nil, false
	}
	return h, true
}

func (in *Interp) calloutArg(a *args) *calloutSpec {
	o, ok := in.objArg(a, "callout", "callout", true)
	if !ok || o == nil {
		if ok {
			a.fail("callout=NULL: a callout is required")
		}
		return nil
	}
	cs, isC := o.(*calloutSpec)
	if !isC {
		a.fail("callout: not a callout")
	}
	return cs
}

func (in *Interp) flowArg(a *args) *flowRec {
	o, ok := in.objArg(a, "flow", "flow", true)
	if !ok || o == nil {
		if ok {
			a.fail("flow=NULL: a flow is required")
		}
		return nil
	}
	f, isF := o.(*flowRec)
	if !isF {
		a.fail("flow: not a flow (name one with classify name=)")
	}
	return f
}

// choiceArg reads key as one of opts.
func choiceArg(a *args, key, def string, opts ...string) string {
	v := a.str(key, def)
	for _, o := range opts {
		if v == o {
			return v
		}
	}
	a.fail("%s=%s: expected one of %s", key, v, strings.Join(opts, ", "))
	return def
}

// ---- redirect handles ----

// cmdRedirectHandleCreate calls FwpsRedirectHandleCreate0 and binds the
// handle to name=.
//
// Example: redirect-handle-create name=H
func cmdRedirectHandleCreate(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	guidNull := a.str("guid", "") == "NULL"
	outNull := a.str("out", "") == "NULL"
	flags := a.uint("flags", 0)
	if a.err != nil {
		return nil
	}
	var guid *wfp.GUID
	if !guidNull {
		guid = &wfp.GUID{1}
	}
	var h *wfp.RedirectHandle
	var hp **wfp.RedirectHandle
	if !outNull {
		hp = &h
	}
	var st nt.Status
	in.call(fmt.Sprintf("FwpsRedirectHandleCreate0(providerGuid=%s, flags=%d, redirectHandle=%s)", ptrString(guid != nil, "guid"), flags, ptrString(hp != nil, "handle")), func() string {
		st = in.eng.FwpsRedirectHandleCreate0(guid, uint32(flags), hp)
		if st == nt.STATUS_SUCCESS && h != nil {
			if name != "" {
				return st.String() + ", " + h.Name() + " (" + name + ")"
			}
			return st.String() + ", " + h.Name()
		}
		return st.String()
	})
	if h != nil {
		return in.bind(h.Name(), h, name)
	}
	return nil
}

// cmdRedirectHandleDestroy calls FwpsRedirectHandleDestroy0.
//
// Example: redirect-handle-destroy handle=H
func cmdRedirectHandleDestroy(in *Interp, c *Command, a *args) error {
	h, _ := in.handleArg(a, "handle", true)
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("FwpsRedirectHandleDestroy0(redirectHandle=%s)", handleName(h)), func() string {
		in.eng.FwpsRedirectHandleDestroy0(h)
		return ""
	})
	return nil
}

func handleName(h *wfp.RedirectHandle) string {
	if h == nil {
		return "NULL"
	}
	return h.Name()
}

// ---- engine configuration ----

// cmdSublayer adds a sublayer of the given weight.
//
// Example: sublayer name=vendor1 weight=0x9000
func cmdSublayer(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	w := a.uint("weight", 0x8000)
	if name == "" && a.err == nil {
		a.fail("missing argument name=<sublayer name>")
	}
	if a.err != nil {
		return nil
	}
	if w > 0xFFFF {
		return fmt.Errorf("weight=%d: a sublayer weight is 16 bits", w)
	}
	s := in.eng.AddSublayer(name, uint16(w))
	in.w.TraceEnv("sublayer", sim.F("name", sim.Str(name)), sim.F("weight", sim.Int(w)))
	if err := in.bind(name, s, ""); err != nil {
		return err
	}
	in.printf("sublayer %s, weight 0x%X\n", name, w)
	return nil
}

// cmdCallout registers a callout whose classifyFn the scenario declares:
//
//   - behaviour=source rewrites only the source, localAddressAndPort, to
//     local= (a split-tunnel driver, as mullvad/win-split-tunnel's
//     RewriteConnection does) and permits, without the write right;
//   - behaviour=redirect (default) redirects to to= for target-pid= with
//     redirect handle handle= and context= (hex), the documented way:
//     query the redirect state, acquire a classify handle, acquire the
//     writable FWPS_CONNECT_REQUEST0, modify, apply, permit, release;
//   - behaviour=permit, block, continue, or query (only queries the state);
//   - avoid-loop=checked (default: query the state when the records metadata
//     is present; leave BY_SELF and PREVIOUSLY_BY_SELF alone), unchecked
//     (query even with a NULL records handle) or off (never query);
//   - set-handle=false forgets localRedirectHandle, set-pid=false
//     localRedirectTargetPID; local= changes localAddressAndPort;
//   - apply=same (default), none (acquire without apply) or other (apply
//     another pointer); reauth applies with
//     FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS;
//   - check-right=false modifies even without FWPS_RIGHT_ACTION_WRITE;
//   - pend pends the classify (FwpsPendClassify0) after acquiring and
//     modifying the data; callout-complete finishes it;
//   - release=no never releases the classify handle, twice releases it twice;
//   - sio-out=pool (sio-len=, sio-bt=NULL) calls
//     FwpsQueryConnectionSioFormatRedirectRecords0 with the metadata's
//     records;
//   - at ALE_BIND_REDIRECT, behaviour=redirect rewrites the writable
//     FWPS_BIND_REQUEST0's localAddressAndPort to local= (to= unused).
//
// Example: callout name=C1 layer=ALE_CONNECT_REDIRECT_V4 handle=H behaviour=redirect to=127.0.0.1:9000 target-pid=500 context=c0ffee
func cmdCallout(in *Interp, c *Command, a *args) error {
	name := a.name()
	if name == "" && a.err == nil {
		a.fail("missing argument name=<callout name>")
	}
	if _, taken := in.names[name]; taken && a.err == nil {
		a.fail("name=%s: already bound", name)
	}
	cs := &calloutSpec{name: name}
	ls := a.str("layer", "ALE_CONNECT_REDIRECT_V4")
	l, ok := parseLayer(ls)
	if !ok {
		a.fail("layer=%s: expected ALE_CONNECT_REDIRECT_V4, ALE_CONNECT_REDIRECT_V6, ALE_AUTH_CONNECT_V4, ALE_AUTH_CONNECT_V6, ALE_BIND_REDIRECT_V4 or ALE_BIND_REDIRECT_V6", ls)
	}
	cs.layer = l
	cs.behaviour = choiceArg(a, "behaviour", "redirect", "redirect", "permit", "block", "continue", "query", "source")
	cs.handle, _ = in.handleArg(a, "handle", false)
	bind := l == wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V4 || l == wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V6
	if cs.behaviour == "source" && !l.IsConnectRedirect() && a.err == nil {
		a.fail("behaviour=source rewrites the source at ALE_CONNECT_REDIRECT, not at %v (at ALE_BIND_REDIRECT use behaviour=redirect local=)", l)
	}
	cs.to, _ = in.addrArg(a, "to", cs.behaviour == "redirect" && !bind)
	cs.targetPID = uint32(a.uint("target-pid", 0))
	if v, ok := a.hexBytes("context"); ok {
		cs.ctx = v
	}
	cs.avoid = choiceArg(a, "avoid-loop", "checked", "checked", "unchecked", "off")
	cs.setHandle = a.flag("set-handle", true)
	cs.setPID = a.flag("set-pid", true)
	cs.apply = choiceArg(a, "apply", "same", "same", "none", "other")
	if bind && cs.apply == "other" && a.err == nil {
		a.fail("apply=other is not modelled at %v (a bind-layer callout applies the data it acquired, or none)", l)
	}
	cs.checkRight = a.flag("check-right", true)
	cs.local, _ = in.addrArg(a, "local", (cs.behaviour == "redirect" && bind) || cs.behaviour == "source")
	cs.pend = a.flag("pend", false)
	cs.release = choiceArg(a, "release", "yes", "yes", "no", "twice")
	cs.reauth = a.flag("reauth", false)
	cs.sioOut, _ = in.poolArg(a, "sio-out", false)
	if cs.sioOut != nil {
		cs.sioLen = a.uint("sio-len", cs.sioOut.Size())
	} else {
		cs.sioLen = a.uint("sio-len", 0)
	}
	cs.sioBT = a.str("sio-bt", "") != "NULL"
	if a.err != nil {
		return nil
	}
	if cs.sioLen > 0 && cs.sioOut != nil && cs.sioLen > cs.sioOut.Size() {
		return fmt.Errorf("sio-len=%d: larger than %s (%d bytes)", cs.sioLen, cs.sioOut.Name(), cs.sioOut.Size())
	}
	co, err := in.eng.RegisterCallout(name, l, func(cl *wfp.Classify) { in.classifyFn(cs, cl) })
	if err != nil {
		return err
	}
	cs.c = co
	in.callouts = append(in.callouts, cs)
	if err := in.bind(name, cs, ""); err != nil {
		return err
	}
	desc := cs.behaviour
	if (cs.behaviour == "redirect" && bind) || cs.behaviour == "source" {
		desc = "rewrites localAddressAndPort to " + cs.local.String()
	} else if cs.behaviour == "redirect" {
		desc += fmt.Sprintf(" to %v", cs.to)
		if cs.setPID {
			desc += fmt.Sprintf(" for pid %d", cs.targetPID)
		}
		if cs.setHandle {
			desc += " with handle " + handleName(cs.handle)
		}
		if cs.ctx != nil {
			desc += ", context " + hex.EncodeToString(cs.ctx)
		}
	}
	var quirks []string
	if cs.avoid != "checked" {
		quirks = append(quirks, "avoid-loop="+cs.avoid)
	}
	if !cs.setHandle && !bind {
		quirks = append(quirks, "no localRedirectHandle")
	}
	if !cs.setPID && cs.behaviour == "redirect" {
		quirks = append(quirks, "no localRedirectTargetPID")
	}
	if cs.apply != "same" {
		quirks = append(quirks, "apply="+cs.apply)
	}
	if !cs.checkRight {
		quirks = append(quirks, "ignores the write right")
	}
	if cs.local.IsValid() && !bind && cs.behaviour != "source" {
		quirks = append(quirks, "local="+cs.local.String())
	}
	if cs.pend {
		quirks = append(quirks, "pends")
	}
	if cs.release != "yes" {
		quirks = append(quirks, "release="+cs.release)
	}
	if cs.reauth {
		quirks = append(quirks, "reauth")
	}
	if cs.sioOut != nil || a.has("sio-len") {
		quirks = append(quirks, "SioFormat records")
	}
	if len(quirks) > 0 {
		desc += " (" + strings.Join(quirks, ", ") + ")"
	}
	in.printf("callout %s at %v: %s\n", name, l, desc)
	return nil
}

var condFlags = []struct {
	v uint32
	n string
}{{nt.FWP_CONDITION_FLAG_IS_REAUTHORIZE, "IS_REAUTHORIZE"}, {nt.FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED, "IS_CONNECTION_REDIRECTED"},
	{nt.FWP_CONDITION_FLAG_IS_PROXY_CONNECTION, "IS_PROXY_CONNECTION"}}

func flagNames(f uint32) string {
	var out []string
	for _, x := range condFlags {
		if f&x.v != 0 {
			out = append(out, x.n)
			f &^= x.v
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("0x%X", f))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "|")
}

func rightsName(r uint32) string {
	if r&wfp.FWPS_RIGHT_ACTION_WRITE != 0 {
		return "FWPS_RIGHT_ACTION_WRITE"
	}
	return "none"
}

// classifyFn runs a declared callout.
func (in *Interp) classifyFn(cs *calloutSpec, cl *wfp.Classify) {
	addrs := fmt.Sprintf("%v -> %v", cl.LocalAddress, cl.RemoteAddress)
	if !cl.RemoteAddress.IsValid() { // ALE_BIND_REDIRECT: a bind has no remote address
		addrs = fmt.Sprintf("bind %v", cl.LocalAddress)
	}
	head := fmt.Sprintf("%s classifyFn at %v (filter %d): pid %d, %s, flags %s, rights %s", cs.name, cl.Layer, cl.Filter.FilterId,
		cl.Meta.ProcessId, addrs, flagNames(cl.Flags), rightsName(cl.Out.Rights))
	var rec *wfp.RedirectRecords
	if cl.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
		rec = cl.Meta.RedirectRecords
		head += fmt.Sprintf(", redirectRecords %d hop(s)", len(rec.Hops()))
	}
	if cl.Meta.Present(nt.FWPS_METADATA_FIELD_ORIGINAL_DESTINATION) {
		head += fmt.Sprintf(", originalDestination %v", cl.Meta.OriginalDestination)
	}
	if cl.Meta.Present(nt.FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID) {
		head += fmt.Sprintf(", localRedirectTargetPID %d", cl.Meta.LocalRedirectTargetPID)
	}
	in.call(head, func() string {
		in.runCallout(cs, cl, rec)
		return cl.Out.ActionType.String()
	})
}

func (in *Interp) runCallout(cs *calloutSpec, cl *wfp.Classify, rec *wfp.RedirectRecords) {
	e := in.eng
	hasRight := cl.Out.Rights&wfp.FWPS_RIGHT_ACTION_WRITE != 0
	if cs.sioOut != nil || cs.sioLen > 0 {
		var buf []byte
		if cs.sioOut != nil {
			buf = cs.sioOut.Bytes()
		}
		var bt uint64
		var btp *uint64
		if cs.sioBT {
			btp = &bt
		}
		in.call(fmt.Sprintf("FwpsQueryConnectionSioFormatRedirectRecords0(RedirectRecords=%s, OutputBuffer=%s, OutputBufferLength=%d, BytesTransferred=%s)",
			recName(rec), in.poolName(cs.sioOut), cs.sioLen, ptrString(btp != nil, "bt")), func() string {
			st := e.FwpsQueryConnectionSioFormatRedirectRecords0(rec, buf, cs.sioLen, btp)
			if btp != nil && (st == nt.STATUS_SUCCESS || st == nt.STATUS_BUFFER_TOO_SMALL) {
				return fmt.Sprintf("%s, BytesTransferred=%d", st, bt)
			}
			return st.String()
		})
	}
	switch cs.behaviour {
	case "continue":
		return
	case "permit", "block":
		if !hasRight && cs.checkRight && cs.behaviour == "permit" {
			in.printf("no write right: leaves the decision alone\n")
			return
		}
		cl.Out.ActionType = wfp.FWP_ACTION_PERMIT
		if cs.behaviour == "block" {
			cl.Out.ActionType = wfp.FWP_ACTION_BLOCK
			cl.Out.Rights &^= wfp.FWPS_RIGHT_ACTION_WRITE
		}
		return
	}
	if !hasRight && cs.checkRight && (cs.behaviour == "redirect" || cs.behaviour == "source") {
		in.printf("no write right: leaves the connection alone\n")
		return
	}
	// Loop avoidance: the redirect state for the callout's own handle.
	if cs.avoid != "off" || cs.behaviour == "query" {
		if rec != nil || cs.avoid == "unchecked" {
			var ctx *wfp.RedirectContext
			var state wfp.RedirectState
			in.call(fmt.Sprintf("FwpsQueryConnectionRedirectState0(redirectRecords=%s, redirectHandle=%s, redirectContext=&ctx)", recName(rec), handleName(cs.handle)), func() string {
				state = e.FwpsQueryConnectionRedirectState0(rec, cs.handle, &ctx)
				if ctx != nil {
					return fmt.Sprintf("%v, redirectContext=%s (%s)", state, ctx.Name(), hex.EncodeToString(ctx.Bytes()))
				}
				return state.String()
			})
			if cs.behaviour == "query" {
				return
			}
			if cs.avoid != "off" && (state == wfp.FWPS_CONNECTION_REDIRECTED_BY_SELF || state == wfp.FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF) {
				cl.Out.ActionType = wfp.FWP_ACTION_PERMIT
				in.printf("redirected by this callout already: permits, does not redirect\n")
				return
			}
		} else if cs.behaviour == "query" {
			in.printf("no redirectRecords metadata: not redirected\n")
			return
		}
	}
	var ch uint64
	var st nt.Status
	in.call("FwpsAcquireClassifyHandle0(classifyContext, flags=0, classifyHandle=&ch)", func() string {
		st = e.FwpsAcquireClassifyHandle0(cl.ClassifyContext, 0, &ch)
		return st.String()
	})
	if st != nt.STATUS_SUCCESS {
		return
	}
	if cs.pend {
		in.call(fmt.Sprintf("FwpsPendClassify0(classifyHandle, filterId=%d, flags=0, classifyOut)", cl.Filter.FilterId), func() string {
			st = e.FwpsPendClassify0(ch, cl.Filter.FilterId, 0, cl.Out)
			return st.String()
		})
		if st != nt.STATUS_SUCCESS {
			in.releaseCH(cs, ch)
			return
		}
	}
	if cl.Layer == wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V4 || cl.Layer == wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V6 {
		in.bindRedirect(cs, cl, ch)
		return
	}
	var v *wfp.FWPS_CONNECT_REQUEST0
	in.call(fmt.Sprintf("FwpsAcquireWritableLayerDataPointer0(classifyHandle, filterId=%d, flags=0, writableLayerData=&data, classifyOut)", cl.Filter.FilterId), func() string {
		st = e.FwpsAcquireWritableLayerDataPointer0(ch, cl.Filter.FilterId, 0, &v, cl.Out)
		return st.String()
	})
	if st != nt.STATUS_SUCCESS {
		in.releaseCH(cs, ch)
		return
	}
	var w []string
	if cs.behaviour == "source" {
		// A split-tunnel driver (mullvad/win-split-tunnel
		// RewriteConnection): only the source changes.
		v.LocalAddressAndPort = cs.local
		in.printf("writes localAddressAndPort=%v\n", cs.local)
		if cs.pend {
			cs.pended = append(cs.pended, &pendedClassify{ch: ch, v: v, filterID: cl.Filter.FilterId})
			in.printf("pended; completes later (callout-complete)\n")
			return
		}
		in.applyData(cs, ch, v)
		cl.Out.ActionType = wfp.FWP_ACTION_PERMIT // a hard permit: the write right stays cleared
		if cs.release == "yes" {
			in.releaseCH(cs, ch)
		}
		return
	}
	v.RemoteAddressAndPort = cs.to
	w = append(w, "remoteAddressAndPort="+cs.to.String())
	if cs.setPID {
		v.LocalRedirectTargetPID = cs.targetPID
		w = append(w, fmt.Sprintf("localRedirectTargetPID=%d", cs.targetPID))
	}
	if cs.setHandle {
		v.LocalRedirectHandle = cs.handle
		w = append(w, "localRedirectHandle="+handleName(cs.handle))
	}
	if cs.ctx != nil {
		cs.lastCtx = e.AllocateRedirectContext(cs.ctx)
		v.LocalRedirectContext = cs.lastCtx
		v.LocalRedirectContextSize = uint64(len(cs.ctx))
		w = append(w, fmt.Sprintf("localRedirectContext=%s (%d bytes)", cs.lastCtx.Name(), len(cs.ctx)))
	}
	if cs.local.IsValid() {
		v.LocalAddressAndPort = cs.local
		w = append(w, "localAddressAndPort="+cs.local.String())
	}
	in.printf("writes %s\n", strings.Join(w, ", "))
	if cs.pend {
		cs.pended = append(cs.pended, &pendedClassify{ch: ch, v: v, filterID: cl.Filter.FilterId})
		in.printf("pended; completes later (callout-complete)\n")
		return
	}
	in.applyData(cs, ch, v)
	cl.Out.ActionType = wfp.FWP_ACTION_PERMIT
	switch cs.release {
	case "yes":
		in.releaseCH(cs, ch)
	case "twice":
		in.releaseCH(cs, ch)
		in.releaseCH(cs, ch)
	}
}

// bindRedirect is behaviour=redirect at ALE_BIND_REDIRECT: the writable
// FWPS_BIND_REQUEST0 gets localAddressAndPort=local=.
func (in *Interp) bindRedirect(cs *calloutSpec, cl *wfp.Classify, ch uint64) {
	var v *wfp.FWPS_BIND_REQUEST0
	var st nt.Status
	in.call(fmt.Sprintf("FwpsAcquireWritableLayerDataPointer0(classifyHandle, filterId=%d, flags=0, writableLayerData=&data, classifyOut)", cl.Filter.FilterId), func() string {
		st = in.eng.FwpsAcquireWritableLayerDataPointer0Bind(ch, cl.Filter.FilterId, 0, &v, cl.Out)
		return st.String()
	})
	if st == nt.STATUS_SUCCESS {
		v.LocalAddressAndPort = cs.local
		in.printf("writes localAddressAndPort=%v\n", cs.local)
		if cs.apply == "none" {
			in.printf("does not apply the modified data\n")
		} else {
			in.call("FwpsApplyModifiedLayerData0(classifyHandle, modifiedLayerData=data, flags=0)", func() string { in.eng.FwpsApplyModifiedLayerData0Bind(ch, v, 0); return "" })
		}
		cl.Out.ActionType = wfp.FWP_ACTION_PERMIT
	}
	in.releaseCH(cs, ch)
}

func recName(r *wfp.RedirectRecords) string {
	if r == nil {
		return "NULL"
	}
	return "records"
}

func (in *Interp) applyData(cs *calloutSpec, ch uint64, v *wfp.FWPS_CONNECT_REQUEST0) {
	var flags uint32
	if cs.reauth {
		flags = wfp.FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS
	}
	switch cs.apply {
	case "none":
		in.printf("does not apply the modified data\n")
	case "other":
		cp := *v
		in.call(fmt.Sprintf("FwpsApplyModifiedLayerData0(classifyHandle, modifiedLayerData=&copy, flags=%d)", flags), func() string {
			in.eng.FwpsApplyModifiedLayerData0(ch, &cp, flags)
			return ""
		})
	default:
		in.call(fmt.Sprintf("FwpsApplyModifiedLayerData0(classifyHandle, modifiedLayerData=data, flags=%d)", flags), func() string {
			in.eng.FwpsApplyModifiedLayerData0(ch, v, flags)
			return ""
		})
	}
}

func (in *Interp) releaseCH(cs *calloutSpec, ch uint64) {
	in.call("FwpsReleaseClassifyHandle0(classifyHandle)", func() string {
		in.eng.FwpsReleaseClassifyHandle0(ch)
		return ""
	})
}

// cmdFilter adds a filter: callout= (at the callout's layer, action
// FWP_ACTION_CALLOUT_TERMINATING unless action= says otherwise) or a static
// action=FWP_ACTION_PERMIT/FWP_ACTION_BLOCK at layer=, with weight=,
// sublayer= and a remote= address:port condition.
//
// Example: filter name=F1 callout=C1 weight=10 sublayer=vendor1
func cmdFilter(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	var cs *calloutSpec
	if a.has("callout") {
		cs = in.calloutArg(a)
	}
	f := wfp.Filter{Name: name, Weight: a.uint("weight", 0)}
	if v, ok := a.one("action", "an FWP_ACTION"); ok {
		act, good := parseAction(v)
		if !good {
			a.fail("action=%s: expected FWP_ACTION_PERMIT, FWP_ACTION_BLOCK or FWP_ACTION_CALLOUT_*", v)
		}
		f.Action = act
	}
	if v, ok := a.one("layer", "a layer"); ok {
		l, good := parseLayer(v)
		if !good {
			a.fail("layer=%s: unknown layer", v)
		}
		f.Layer = l
	}
	if o, ok := in.objArg(a, "sublayer", "sublayer", false); ok && o != nil {
		s, isS := o.(*wfp.Sublayer)
		if !isS {
			a.fail("sublayer: not a sublayer")
		}
		f.Sublayer = s
	}
	f.RemoteMatch, _ = in.addrArg(a, "remote", false)
	if a.err != nil {
		return nil
	}
	if cs != nil {
		f.Callout = cs.c
	}
	in.ties.ties = in.ties.ties[:0]
	nf, err := in.eng.AddFilter(f)
	if err != nil {
		return err
	}
	traceFilter(in.w, nf, in.ties.ties)
	disp := name
	if disp == "" {
		disp = in.nextName("filter")
	}
	if err := in.bind(disp, nf, ""); err != nil {
		return err
	}
	what := nf.Action.String()
	if cs != nil {
		what = "callout " + cs.name
	}
	cond := ""
	if nf.RemoteMatch.IsValid() {
		cond = ", remote " + nf.RemoteMatch.String()
	}
	in.printf("filter %s: id %d at %v, sublayer %s, weight %d, %s%s\n", disp, nf.FilterId, nf.Layer, nf.Sublayer.Name, nf.Weight, what, cond)
	return nil
}

// cmdRemoveFilter deletes a filter.
//
// Example: remove-filter filter=F1
func cmdRemoveFilter(in *Interp, c *Command, a *args) error {
	o, _ := in.objArg(a, "filter", "filter", true)
	if a.err != nil {
		return nil
	}
	f, ok := o.(*wfp.Filter)
	if !ok {
		return fmt.Errorf("filter=: not a filter")
	}
	in.eng.RemoveFilter(f)
	in.w.TraceEnv("filter_delete", sim.F("filter", sim.Int(f.FilterId)))
	in.printf("filter %d removed\n", f.FilterId)
	return nil
}

// cmdRedirectPolicy installs the environment's built-in redirect callout
// (it follows the loop-avoidance rules and does not trace its classifyFn).
//
// Example: redirect-policy handle=P1 match=198.51.100.7:443 to=127.0.0.1:9000 context=c0ffee target-pid=500
func cmdRedirectPolicy(in *Interp, c *Command, a *args) error {
	h := a.need("handle", "a redirect handle name")
	match, _ := in.addrArg(a, "match", true)
	to, _ := in.addrArg(a, "to", true)
	ctx, _ := a.hexBytes("context")
	pid := a.uint("target-pid", 0)
	if a.err != nil {
		return nil
	}
	if err := in.eng.AddRedirectPolicy(h, match, to, ctx, uint32(pid)); err != nil {
		return err
	}
	in.printf("redirect policy %s: %v -> %v for pid %d, context %s\n", h, match, to, pid, hex.EncodeToString(ctx))
	return nil
}

// ---- classify ----

func (in *Interp) describeResult(r *wfp.ConnectResult) string {
	if r.Blocked {
		return "blocked"
	}
	s := fmt.Sprintf("permitted to %v", r.Remote)
	if r.Redirected {
		s = fmt.Sprintf("redirected to %v (target pid %d)", r.Remote, r.TargetPID)
	}
	if r.Local.IsValid() {
		s += fmt.Sprintf(", from %v", r.Local)
	}
	if r.Records != nil {
		s += fmt.Sprintf(", records %d bytes", len(r.Records))
	}
	if r.Context != nil {
		s += ", context " + hex.EncodeToString(r.Context)
	}
	if r.Flow != 0 {
		s += fmt.Sprintf(", flow %d", r.Flow)
	}
	return s
}

// cmdClassify classifies a TCP connect from process pid= directly (no
// socket): ALE_CONNECT_REDIRECT, then ALE_AUTH_CONNECT. records= is a pool
// block holding a records blob (records-len= of it, default all), as a
// socket that was SET would carry. A pended classify prints its verdict
// when a callout completes it. The result is bound to name=.
//
// Example: classify name=f1 pid=600 local=10.0.0.1:50000 remote=198.51.100.7:443
func cmdClassify(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	pid := a.uint("pid", uint64(4))
	local, _ := in.addrArg(a, "local", false)
	remote, _ := in.addrArg(a, "remote", true)
	rb, _ := in.poolArg(a, "records", false)
	var rl uint64
	if rb != nil {
		rl = a.uint("records-len", rb.Size())
	}
	if a.err != nil {
		return nil
	}
	if pid > 0xFFFFFFFF {
		return fmt.Errorf("pid=%d: expected a 32-bit process id", pid)
	}
	if !local.IsValid() {
		local = netip.MustParseAddrPort("10.0.0.1:50000")
	}
	var recs []byte
	if rb != nil {
		if rl > rb.Size() {
			return fmt.Errorf("records-len=%d: larger than %s (%d bytes)", rl, rb.Name(), rb.Size())
		}
		recs = rb.Bytes()[:rl]
	}
	disp := in.nextName("connect")
	fr := &flowRec{name: disp}
	if err := in.bind(disp, fr, name); err != nil {
		return err
	}
	shown := in.shown(disp, fr)
	req := wfp.ConnectRequest{Socket: disp, ProcessID: uint32(pid), Local: local, Remote: remote, Records: recs}
	in.call(fmt.Sprintf("classify %s: pid %d, %v -> %v", shown, pid, local, remote), func() string {
		done := in.eng.ClassifyConnectAsync(&req, func(r *wfp.ConnectResult) {
			cp := *r
			fr.res = &cp
			in.printf("%s: %s\n", shown, in.describeResult(&cp))
		})
		if !done {
			return "pended"
		}
		return ""
	})
	return nil
}

func (cs *calloutSpec) nextPended(notDone bool) *pendedClassify {
	for _, p := range cs.pended {
		if !p.released && (!notDone || !p.done) {
			return p
		}
	}
	for _, p := range cs.pended {
		if !p.released {
			return p
		}
	}
	return nil
}

// cmdCalloutComplete finishes a callout's oldest pended classify the
// documented way: apply the data modified at pend time,
// FwpsCompleteClassify0 with action= (default FWP_ACTION_PERMIT, write right
// given back), then release the classify handle (release=false keeps it).
//
// Example: callout-complete callout=C1 action=FWP_ACTION_PERMIT
func cmdCalloutComplete(in *Interp, c *Command, a *args) error {
	cs := in.calloutArg(a)
	act := wfp.FWP_ACTION_PERMIT
	if v, ok := a.one("action", "an FWP_ACTION"); ok {
		x, good := parseAction(v)
		if !good {
			a.fail("action=%s: expected FWP_ACTION_PERMIT or FWP_ACTION_BLOCK", v)
		}
		act = x
	}
	rel := a.flag("release", true)
	if a.err != nil {
		return nil
	}
	p := cs.nextPended(true)
	if p == nil {
		return fmt.Errorf("callout %s has no pended classify with an unreleased handle", cs.name)
	}
	if !p.done && p.v != nil {
		in.applyData(cs, p.ch, p.v)
		p.v = nil
	}
	out := &wfp.ClassifyOut{ActionType: act, Rights: wfp.FWPS_RIGHT_ACTION_WRITE, FilterId: p.filterID}
	in.call(fmt.Sprintf("FwpsCompleteClassify0(classifyHandle, flags=0, classifyOut={%v, FWPS_RIGHT_ACTION_WRITE})", act), func() string {
		in.eng.FwpsCompleteClassify0(p.ch, 0, out)
		return ""
	})
	p.done = true
	if rel {
		in.releaseCH(cs, p.ch)
		p.released = true
	}
	return nil
}

// cmdCalloutRelease releases the classify handle of a callout's oldest
// unreleased classify, pended or not.
//
// Example: callout-release callout=C1
func cmdCalloutRelease(in *Interp, c *Command, a *args) error {
	cs := in.calloutArg(a)
	if a.err != nil {
		return nil
	}
	p := cs.nextPended(false)
	if p == nil {
		return fmt.Errorf("callout %s holds no classify handle", cs.name)
	}
	in.releaseCH(cs, p.ch)
	p.released = true
	return nil
}

// cmdCalloutContext makes a callout read, write (hex=) or free the redirect
// context it allocated last: legal while the callout owns it, a violation
// once FwpsApplyModifiedLayerData0 gave it to WFP.
//
// Example: callout-context callout=C1 op=free
func cmdCalloutContext(in *Interp, c *Command, a *args) error {
	cs := in.calloutArg(a)
	op := choiceArg(a, "op", "read", "read", "write", "free")
	data, _ := a.hexBytes("hex")
	if a.err != nil {
		return nil
	}
	ctx := cs.lastCtx
	if ctx == nil {
		return fmt.Errorf("callout %s has not allocated a redirect context", cs.name)
	}
	switch op {
	case "read":
		b := ctx.Bytes()
		if b == nil {
			in.printf("%s reads %s: nothing (freed)\n", cs.name, ctx.Name())
			break
		}
		in.printf("%s reads %s: %s\n", cs.name, ctx.Name(), hex.EncodeToString(b))
	case "write":
		ctx.Write(data)
		in.printf("%s writes %s\n", cs.name, ctx.Name())
	case "free":
		ctx.Free()
		in.printf("%s frees %s\n", cs.name, ctx.Name())
	}
	return nil
}

// cmdEndFlow ends the flow of a classify (both ends closed).
//
// Example: end-flow flow=f1
func cmdEndFlow(in *Interp, c *Command, a *args) error {
	f := in.flowArg(a)
	if a.err != nil {
		return nil
	}
	if f.res == nil || f.res.Flow == 0 {
		in.printf("%s has no flow\n", f.name)
		return nil
	}
	in.eng.EndFlow(f.res.Flow)
	in.printf("flow %d ended\n", f.res.Flow)
	return nil
}

// ---- records blobs ----

// cmdRecordsCopy copies the records a classify issued into a pool block.
//
// Example: records-copy flow=f1 pool=buf
func cmdRecordsCopy(in *Interp, c *Command, a *args) error {
	f := in.flowArg(a)
	b, _ := in.poolArg(a, "pool", true)
	if a.err != nil {
		return nil
	}
	if b == nil || b.Freed() {
		return fmt.Errorf("pool: a live pool block is required")
	}
	if f.res == nil || f.res.Records == nil {
		in.printf("%s issued no records\n", f.name)
		return nil
	}
	if uint64(len(f.res.Records)) > b.Size() {
		return fmt.Errorf("%d bytes of records do not fit in %s (%d bytes)", len(f.res.Records), b.Name(), b.Size())
	}
	copy(b.Bytes(), f.res.Records)
	in.printf("%s[0:%d] = records of %s\n", b.Name(), len(f.res.Records), f.name)
	return nil
}

// cmdRecordsDecode decodes a records blob (len= bytes of a pool block,
// default all) and prints its hops; pid= also runs CheckRecords for a socket
// owned by that process.
//
// Example: records-decode pool=recs len=96 pid=500
func cmdRecordsDecode(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	var n uint64
	if b != nil {
		n = a.uint("len", b.Size())
	}
	pid := a.uint("pid", 0)
	if a.err != nil {
		return nil
	}
	if b == nil || b.Freed() {
		return fmt.Errorf("pool: a live pool block is required")
	}
	if n > b.Size() {
		return fmt.Errorf("len=%d: larger than %s (%d bytes)", n, b.Name(), b.Size())
	}
	blob := b.Bytes()[:n]
	hops, st := in.eng.DecodeRecords(blob)
	if st != nt.STATUS_SUCCESS {
		in.printf("%d bytes: not valid records: %v\n", n, st)
	} else {
		in.printf("%d bytes: %d hop(s)\n", n, len(hops))
		for k, h := range hops {
			hn := in.eng.HandleName(h.HandleID)
			if hn == "" {
				hn = fmt.Sprintf("handle %d", h.HandleID)
			}
			in.printf("  hop %d: %s, target pid %d, filter %d, original %v, flow %d\n", k+1, hn, h.TargetPID, h.FilterID, h.Original, h.Flow)
		}
	}
	if a.has("pid") {
		in.printf("CheckRecords for pid %d: %v\n", pid, in.eng.CheckRecords(blob, uint32(pid)))
	}
	return nil
}

// cmdRecordsForge writes a forged blob into a pool block: the model's header
// (magic, version, hop count, total length, padding length) with a zero MAC
// and zero hops. total= and pad-length= override the length fields (a
// pad-length near 0xFFFFFFFF overflows a ULONG).
//
// Example: records-forge pool=buf hops=1
func cmdRecordsForge(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	hops := a.uint("hops", 1)
	pad := a.uint("pad-length", 0)
	if a.err != nil {
		return nil
	}
	if b == nil || b.Freed() {
		return fmt.Errorf("pool: a live pool block is required")
	}
	if hops > 0xFFFF || pad > 0xFFFFFFFF {
		return fmt.Errorf("hops is 16 bits, pad-length 32 bits")
	}
	size := 32 + 64*hops
	total := a.uint("total", (size+pad)&0xFFFFFFFF)
	if size > b.Size() {
		return fmt.Errorf("a forged blob of %d hop(s) needs %d bytes; %s has %d", hops, size, b.Name(), b.Size())
	}
	if total > 0xFFFFFFFF {
		return fmt.Errorf("total is 32 bits")
	}
	blob := b.Bytes()[:size]
	for k := range blob {
		blob[k] = 0
	}
	copy(blob, "WFPR")
	blob[4] = wfp.RecordsVersion
	if pad > 0 {
		blob[5] = 1
	}
	binary.LittleEndian.PutUint16(blob[6:], uint16(hops))
	binary.LittleEndian.PutUint32(blob[8:], uint32(total))
	binary.LittleEndian.PutUint32(blob[12:], uint32(pad))
	for k := uint64(0); k < hops; k++ {
		blob[32+64*k+16] = 4
	}
	in.printf("%s[0:%d] = forged records: %d hop(s), total %d, padding %d, MAC zero\n", b.Name(), size, hops, total, pad)
	return nil
}

// cmdRecordsCorrupt flips every bit of one byte of a pool block.
//
// Example: records-corrupt pool=recs off=40
func cmdRecordsCorrupt(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	off := a.uint("off", 0)
	if a.err != nil {
		return nil
	}
	if b == nil || b.Freed() {
		return fmt.Errorf("pool: a live pool block is required")
	}
	if off >= b.Size() {
		return fmt.Errorf("off=%d: past the end of %s (%d bytes)", off, b.Name(), b.Size())
	}
	mem := b.Bytes()
	mem[off] ^= 0xFF
	in.printf("%s[%d] = %02x\n", b.Name(), off, mem[off])
	return nil
}

// traceFilter writes the trace's env filter for a filter the scenario added:
// what a replay needs to arbitrate as the model did (docs/wsktrace.md). ties
// are the answers the world gave to wfp.filter-tie while adding it.
func traceFilter(w *sim.World, f *wfp.Filter, ties []int) {
	fs := []sim.Field{sim.F("filter", sim.Int(f.FilterId)), sim.F("layer", sim.Str(f.Layer.String()))}
	if f.Callout != nil {
		fs = append(fs, sim.F("callout", sim.Str(f.Callout.Name)))
	}
	fs = append(fs, sim.F("action", sim.Str(f.Action.String())), sim.F("weight", sim.Int(f.Weight)))
	if f.Sublayer != nil && f.Sublayer.Name != "default" {
		fs = append(fs, sim.F("sublayer", sim.Str(f.Sublayer.Name)))
	}
	if f.RemoteMatch.IsValid() {
		fs = append(fs, sim.F("remote", sim.Str(f.RemoteMatch.String())))
	}
	if len(ties) > 0 {
		cp, _ := sim.LookupChoice(wfp.ChoiceFilterTie)
		t := make([]string, len(ties))
		for k, v := range ties {
			t[k] = cp.Options[v]
		}
		fs = append(fs, sim.F("tie", sim.Str(strings.Join(t, ","))))
	}
	w.TraceEnv("filter", fs...)
}
