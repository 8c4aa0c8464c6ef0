package trace

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// Convert writes the trace read from r as a scenario file for package
// scenarios (datadriven commands, each followed by "----" and an empty
// expected output: run the scenario with `wsksim run --rewrite` to fill it
// in). I/O manager, pool and WSK calls map to their commands (alloc-irp,
// set-routine, wsk-socket, wsk-control, ...), env events to peer-listen,
// peer-connect, peer-send, peer-close, redirected-connect, redirect-policy and
// process. The choice points the trace decided are pinned before each call
// (inline or pending, the cancel race), and pending completions are run where
// the trace shows them. Opaque sizes are the model's: the trace is replayed
// first to learn them. The callout side (classify, FWPS calls inside a
// classifyFn) has no scenario command that replays a recorded callout: a
// callout that does one fixed thing (redirects to one proxy, rewrites binds
// to one address, permits, blocks) is declared as a scenario callout doing
// it (convcallout.go), and the trace's FWPS calls are kept as comments.
// Conversion reads the whole trace.
func Convert(r io.Reader, w io.Writer) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	h, evs, err := ParseAll(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if err := convertibleEvents(evs); err != nil {
		return err
	}
	// The model's sizes of opaque blobs, from a replay.
	// The scenario runs under the same seed, so the WFP engine signs records
	// with the same key.
	rp := replayOnce(bytes.NewReader(data), Options{MaxViolations: 1000, Lookahead: 1 << 16, record: true, seed: convertSeed})
	c := &converter{bw: bufio.NewWriter(w), evs: evs, rec: rp.conv, returns: map[uint64]*Event{}, done: map[int]bool{},
		alias: map[string]string{}, used: map[string]bool{}, callouts: inferCallouts(evs)}
	for _, e := range evs {
		if e.Kind == EvReturn {
			c.returns[e.Call] = e
		}
	}
	c.comment("converted from a wsktrace v1 trace: %s (profile %s)", h.Source, h.Profile)
	c.bw.WriteString("\n")
	c.cmd("seed value=%d", convertSeed)
	if h.Profile == "model-defaults" {
		c.comment("profile model-defaults: every policy at its default (the scenario's default)")
	}
	for _, p := range rp.rep.Policies {
		c.cmd("policy id=%s option=%s", p.Policy, p.Option)
	}
	c.cmd("pin choice=irp.completion-irql value=PASSIVE_LEVEL")
	c.cmd("process name=peer pid=%d", peerPID)
	for _, a := range rp.localAddrs {
		c.cmd("machine-address addr=%s", a)
	}
	for k, e := range evs {
		c.at = k
		c.declareCallouts(k)
		switch e.Kind {
		case EvNote:
			if strings.HasPrefix(e.Text, UnsupportedPrefix) {
				// The action behind it is not in the trace, so the
				// scenario does not do it either.
				c.comment("%s", strconv.Quote(e.Text))
				continue
			}
			c.note(e.Text)
		case EvEnv:
			c.env(e)
		case EvReturn:
		case EvComplete:
			if c.done[k] {
				continue
			}
			if c.held[e.IRP] {
				delete(c.held, e.IRP)
				info := uint64(0)
				if e.Information.Kind == Int {
					info = e.Information.U
				}
				c.cmd("provider-complete irp=%s status=%s info=%d", c.ref(e.IRP), e.Status, info)
				continue
			}
			c.cmd("run")
		case EvCall:
			if e.HasIRQL && e.IRQL != nt.PASSIVE_LEVEL {
				c.cmd("irql level=%s", e.IRQL)
			}
			c.call(e)
			if e.HasIRQL && e.IRQL != nt.PASSIVE_LEVEL {
				c.cmd("irql level=PASSIVE_LEVEL")
			}
		}
	}
	for _, b := range c.temps {
		c.cmd("free-pool pool=%s", b)
	}
	c.cmd("close")
	return c.bw.Flush()
}

const convertSeed = 1

// convSizes is what a replay learned about one call for conversion.
type convSizes struct {
	inSize    uint64 // the model's InputSize of an opaque SET
	inData    []byte // the model's bytes of that blob
	modelSize uint64 // the model's size of a QUERY's blob
}

func (r *replayer) convRecord(seq uint64) *convSizes {
	if !r.opts.record {
		return nil
	}
	if r.conv == nil {
		r.conv = map[uint64]*convSizes{}
	}
	if r.conv[seq] == nil {
		r.conv[seq] = &convSizes{}
	}
	return r.conv[seq]
}

type converter struct {
	bw      *bufio.Writer
	evs     []*Event
	at      int
	rec     map[uint64]*convSizes
	returns map[uint64]*Event
	done    map[int]bool
	temps   []string
	ntemp   int
	alias   map[string]string // trace name → scenario name (a name bound again gets a fresh one)
	used    map[string]bool
	// callouts are the callouts to declare before the event at an index
	// (convcallout.go).
	callouts map[int][]*inferredCallout
	// held are the IRPs an IoCallDriver left with the stand-in provider:
	// their completion becomes provider-complete where the trace shows it.
	held map[string]bool
	// static are the trace's FilterIds of the static filters convert added.
	static map[uint64]bool
}

// bind returns the scenario name for a trace name bound here.
func (c *converter) bind(n string) string {
	if n == "" || n == "NULL" {
		return n
	}
	s := n
	for k := 2; c.used[s]; k++ {
		s = fmt.Sprintf("%s_%d", n, k)
	}
	c.used[s] = true
	c.alias[n] = s
	return s
}

// ref returns the scenario name of a name the trace refers to.
func (c *converter) ref(n string) string {
	if a, ok := c.alias[n]; ok {
		return a
	}
	return n
}

// n is the scenario name of a value naming an object.
func (c *converter) n(v Value) string { return c.ref(name(v)) }

func (c *converter) cmd(format string, a ...any) {
	fmt.Fprintf(c.bw, format+"\n----\n\n", a...)
}

// note writes a trace note as a scenario note. Text that the scenario syntax
// would read differently (a line that is ----, which would end the command and
// let the rest of the note run as commands; control characters; blank or
// padded lines, which the input trims) is written as one Go-quoted string that
// `note quoted` turns back into the same text.
func (c *converter) note(text string) {
	if noteIsPlain(text) {
		c.cmd("note\n%s", text)
		return
	}
	c.cmd("note quoted\n%s", strconv.Quote(text))
}

func noteIsPlain(text string) bool {
	if text == "" || text != strings.TrimSpace(text) {
		return false
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" || strings.TrimSpace(l) == "----" {
			return false
		}
		for _, r := range l {
			if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7F || (r >= 0x80 && r < 0xA0) || r == 0x2028 || r == 0x2029 {
				return false
			}
		}
	}
	return true
}

func (c *converter) comment(format string, a ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, a...), "\n") {
		fmt.Fprintf(c.bw, "# %s\n", l)
	}
}

func argsText(as []Arg) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Name + "=" + a.Val.String())
	}
	return b.String()
}

func retText(e *Event) string {
	switch {
	case e.HasStatus:
		return e.Status.String()
	case e.HasValue:
		return e.Value.String()
	}
	return "(void)"
}

// completeOf returns the index of the complete of call e's IRP (before the
// IRP is used again) and whether it came before the call's return.
func (c *converter) completeOf(e *Event, irpName string) (int, bool) {
	beforeReturn := true
	for k := c.at + 1; k < len(c.evs); k++ {
		x := c.evs[k]
		if x.Kind == EvReturn && x.Call == e.Seq {
			beforeReturn = false
		}
		if x.Kind == EvComplete && x.IRP == irpName && !c.done[k] {
			return k, beforeReturn
		}
		if x.Kind == EvCall && usesIRP(x, irpName) {
			break
		}
	}
	return -1, false
}

// closedFirst reports whether WskCloseSocket of the socket of the WSK call
// IRP irpName was last given to comes between the current event and event k
// (the IRP's STATUS_CANCELLED complete): then the close cancelled the call,
// not the IoCancelIrp being converted (see replayer.cancelWins).
func (c *converter) closedFirst(irpName string, k int) bool {
	sock := ""
	for j := c.at - 1; j >= 0; j-- {
		x := c.evs[j]
		if x.Kind != EvCall || !usesIRP(x, irpName) || x.spec == nil || x.spec.group != "wsk" {
			continue
		}
		if v, ok := x.Arg("Socket"); ok && v.Kind == Name {
			sock = v.Name
		}
		break
	}
	if sock == "" {
		return false
	}
	for j := c.at + 1; j < k; j++ {
		x := c.evs[j]
		if x.Kind == EvCall && x.Fn == "WskCloseSocket" {
			if v, ok := x.Arg("Socket"); ok && v.Kind == Name && v.Name == sock {
				return true
			}
		}
	}
	return false
}

var familyChoice = map[string]string{
	"WskSocket": "wsk.socket.complete", "WskSocketConnect": "wsk.socket.complete", "WskBind": "wsk.bind.complete",
	"WskListen": "wsk.listen.complete", "WskConnect": "wsk.connect.complete", "WskAccept": "wsk.accept.complete",
	"WskSend": "wsk.send.complete", "WskReceive": "wsk.receive.complete", "WskDisconnect": "wsk.disconnect.complete",
	"WskCloseSocket": "wsk.close.complete", "WskGetLocalAddress": "wsk.address.complete", "WskGetRemoteAddress": "wsk.address.complete",
	"WskControlSocket": "wsk.control.complete", "WskSendTo": "wsk.sendto.complete", "WskReceiveFrom": "wsk.receivefrom.complete",
}

// pinCompletion pins the call's inline/pending choice to what the trace
// shows, and marks an inline complete as converted with the call. It
// returns the complete event, if any.
func (c *converter) pinCompletion(e *Event) *Event {
	iv, _ := e.Arg("Irp")
	label := familyChoice[e.Fn]
	if iv.Kind != Name || label == "" {
		return nil
	}
	k, before := c.completeOf(e, iv.Name)
	ret := c.returns[e.Seq]
	inline := k >= 0 && before && (ret == nil || ret.Status != nt.STATUS_PENDING)
	if inline {
		c.done[k] = true
		c.cmd("pin choice=%s value=inline", label)
	} else {
		c.cmd("pin choice=%s value=pending", label)
	}
	if k >= 0 {
		return c.evs[k]
	}
	return nil
}

func name(v Value) string {
	switch v.Kind {
	case Name, Bind, Text:
		return v.Name
	}
	return "NULL"
}

func onFlag(on bool, word string) string {
	if on {
		return " " + word
	}
	return ""
}

// temp makes a scratch pool block for a buffer the trace gives without one.
func (c *converter) temp(size uint64, data []byte) string {
	c.ntemp++
	n := fmt.Sprintf("conv%d", c.ntemp)
	if size > scratchCap {
		size = scratchCap
	}
	if uint64(len(data)) > size {
		size = uint64(len(data))
	}
	if size == 0 {
		size = 1
	}
	c.cmd("alloc-pool name=%s size=%d tag=Conv", n, size)
	if len(data) > 0 {
		c.cmd("write-pool pool=%s off=0 hex=%s", n, hex.EncodeToString(data))
	}
	c.temps = append(c.temps, n)
	return n
}

// buf turns a buffer value into a pool block name (writing the bytes the
// trace shows into it) and its length.
func (c *converter) buf(v Value, data []byte) (string, uint64) {
	if v.Kind != Buf {
		return "NULL", 0
	}
	b := v.Buf
	if data == nil && (b.Form == BufHex || b.Form == BufB64) {
		data = b.Data
	}
	n := b.Len
	if data != nil {
		n = uint64(len(data))
	}
	if b.Pool == "" {
		return c.temp(n, data), n
	}
	pool := c.ref(b.Pool)
	if len(data) > 0 {
		c.cmd("write-pool pool=%s off=0 hex=%s", pool, hex.EncodeToString(data))
	}
	return pool, n
}

func (c *converter) call(e *Event) {
	arg := func(n string) Value { v, _ := e.Arg(n); return v }
	ret := c.returns[e.Seq]
	irpA := " irp=" + c.n(arg("Irp"))
	switch e.Fn {
	case "IoAllocateIrp":
		if ret != nil && ret.HasValue && ret.Value.Kind == Bind {
			c.cmd("alloc-irp name=%s stack=%d quota=%t", c.bind(ret.Value.Name), int64(arg("StackSize").U), arg("ChargeQuota").B)
		} else {
			c.cmd("fault site=irp.alloc fail-next=1")
			c.cmd("alloc-irp stack=%d", int64(arg("StackSize").U))
		}
	case "IoFreeIrp":
		c.cmd("free-irp irp=%s", c.n(arg("Irp")))
	case "IoCompleteRequest":
		c.cmd("complete-request irp=%s status=%s info=%d", c.n(arg("Irp")), arg("Status").St, arg("Information").U)
	case "IoReuseIrp":
		c.cmd("reuse-irp irp=%s status=%s", c.n(arg("Irp")), arg("Iostatus").St)
	case "IoSetCompletionRoutine":
		var on []string
		for _, f := range []struct{ arg, word string }{{"InvokeOnSuccess", "success"}, {"InvokeOnError", "error"}, {"InvokeOnCancel", "cancel"}} {
			if arg(f.arg).B {
				on = append(on, f.word)
			}
		}
		rr := "STATUS_MORE_PROCESSING_REQUIRED"
		for _, x := range c.evs[c.at+1:] {
			if x.Kind == EvComplete && x.IRP == name(arg("Irp")) {
				rr = x.RoutineReturned.String()
				break
			}
		}
		c.cmd("set-routine irp=%s return=%s on=(%s)", c.n(arg("Irp")), rr, strings.Join(on, ","))
	case "IoCallDriver":
		c.ioCallDriver(e, ret)
	case "IoSetCancelRoutine":
		r := "declared"
		if arg("CancelRoutine").Kind == Null {
			r = "none"
		}
		c.cmd("set-cancel-routine irp=%s routine=%s", c.n(arg("Irp")), r)
	case "IoCancelIrp":
		if k, before := c.completeOf(e, name(arg("Irp"))); k >= 0 {
			v := "ignore"
			if c.evs[k].Status == nt.STATUS_CANCELLED && (before || !c.closedFirst(name(arg("Irp")), k)) {
				v = "cancel" // the replay's rule (cancelWins)
			}
			c.cmd("pin choice=wsk.cancel value=%s", v)
		}
		c.cmd("cancel-irp irp=%s", c.n(arg("Irp")))
	case "ExAllocatePool2":
		if ret != nil && ret.HasValue && ret.Value.Kind == Bind {
			c.cmd("alloc-pool name=%s size=%d tag=0x%x flags=0x%x", c.bind(ret.Value.Name), arg("NumberOfBytes").U, arg("Tag").U, arg("Flags").U)
		} else {
			c.cmd("fault site=pool.alloc fail-next=1")
			c.cmd("alloc-pool size=%d tag=0x%x", arg("NumberOfBytes").U, arg("Tag").U)
		}
	case "ExFreePoolWithTag":
		c.cmd("free-pool pool=%s tag=0x%x", c.n(arg("P")), arg("Tag").U)
	case "ExFreePool":
		c.cmd("free-pool pool=%s", c.n(arg("P")))
	case "WskRegister":
		npi := ""
		ver := "1.0"
		if nv := arg("WskClientNpi"); nv.Kind == Null {
			npi = " npi=NULL"
		} else if v, ok := nv.Field("Version"); ok {
			ver = v.Name
		}
		if rv := arg("WskRegistration"); rv.Kind == Name {
			// Registering a live registration again.
			c.cmd("wsk-register reg=%s version=%s%s", c.ref(rv.Name), ver, npi)
			break
		}
		c.cmd("wsk-register name=%s version=%s%s", c.bind(name(arg("WskRegistration"))), ver, npi)
	case "WskCaptureProviderNPI":
		nm := ""
		if ret != nil {
			if nv, ok := ret.OutArg("WskProviderNpi"); ok {
				if cv, ok := nv.Field("Client"); ok && cv.Kind == Bind {
					nm = " name=" + c.bind(cv.Name)
				}
			}
		}
		npi := ""
		if arg("WskProviderNpi").Kind == Null {
			npi = " npi=NULL"
		}
		if ret != nil && ret.HasStatus && ret.Status == nt.STATUS_DEVICE_NOT_READY {
			c.cmd("wsk-ready ready=false")
			c.cmd("wsk-capture reg=%s wait=%s%s%s", c.n(arg("WskRegistration")), cst(arg("WaitTimeout")), npi, nm)
			c.cmd("wsk-ready ready=true")
			return
		}
		c.cmd("wsk-capture reg=%s wait=%s%s%s", c.n(arg("WskRegistration")), cst(arg("WaitTimeout")), npi, nm)
	case "WskReleaseProviderNPI":
		c.cmd("wsk-release reg=%s", c.n(arg("WskRegistration")))
	case "WskDeregister":
		c.cmd("wsk-deregister reg=%s", c.n(arg("WskRegistration")))
	case "WskSocket", "WskSocketConnect", "WskAccept":
		comp := c.pinCompletion(e)
		nm := ""
		if comp != nil && comp.Information.Kind == Bind {
			nm = " name=" + c.bind(comp.Information.Name)
		}
		opt := func(arg string, word string) string { return onFlag(e.argNonNull(arg), word) }
		owner := ""
		if v := arg("OwningProcess"); v.Kind == Name {
			owner = " owner=" + c.ref(v.Name)
		} else if v.Kind == Int {
			owner = fmt.Sprintf(" owner=%d", v.U)
		}
		switch e.Fn {
		case "WskSocket":
			c.cmd("wsk-socket client=%s family=%s type=%s protocol=%s flags=%s%s%s%s%s%s%s", c.n(arg("Client")), cst(arg("AddressFamily")), cst(arg("SocketType")),
				cst(arg("Protocol")), cst(arg("Flags")), opt("SocketContext", "context"), opt("Dispatch", "dispatch"), opt("SecurityDescriptor", "sd"), owner, irpA, nm)
		case "WskSocketConnect":
			c.cmd("wsk-socket-connect client=%s type=%s protocol=%s local=%s remote=%s flags=%d%s%s%s%s%s%s", c.n(arg("Client")), cst(arg("SocketType")), cst(arg("Protocol")),
				addrText(arg("LocalAddress")), addrText(arg("RemoteAddress")), arg("Flags").U, opt("SocketContext", "context"), opt("Dispatch", "dispatch"), opt("SecurityDescriptor", "sd"), owner, irpA, nm)
		default:
			la, ra := "", ""
			if arg("LocalAddress").Kind == Null {
				la = " local=NULL"
			}
			if arg("RemoteAddress").Kind == Null {
				ra = " remote=NULL"
			}
			c.cmd("wsk-accept socket=%s flags=%d%s%s%s%s%s%s", c.n(arg("ListenSocket")), arg("Flags").U, opt("AcceptSocketContext", "context"), opt("AcceptSocketDispatch", "dispatch"), la, ra, irpA, nm)
		}
	case "WskBind":
		c.pinCompletion(e)
		c.cmd("wsk-bind socket=%s addr=%s flags=%d%s", c.n(arg("Socket")), addrText(arg("LocalAddress")), arg("Flags").U, irpA)
	case "WskListen":
		c.pinCompletion(e)
		c.cmd("wsk-listen socket=%s%s", c.n(arg("Socket")), irpA)
	case "WskConnect":
		c.pinCompletion(e)
		c.cmd("wsk-connect socket=%s remote=%s flags=%d%s", c.n(arg("Socket")), addrText(arg("RemoteAddress")), arg("Flags").U, irpA)
	case "WskSend", "WskReceive", "WskDisconnect":
		comp := c.pinCompletion(e)
		bv := arg("Buffer")
		b, n := c.buf(bv, nil)
		if comp != nil && comp.Status.IsSuccess() && comp.Information.Kind == Int && comp.Information.U > 0 && comp.Information.U < n && e.Fn != "WskDisconnect" {
			n = comp.Information.U // the partial transfer the trace shows
		}
		cmd := map[string]string{"WskSend": "wsk-send", "WskReceive": "wsk-receive", "WskDisconnect": "wsk-disconnect"}[e.Fn]
		bufA := fmt.Sprintf(" buf=%s len=%d", b, n)
		if bv.Kind == Null {
			bufA = ""
		}
		c.cmd("%s socket=%s%s flags=%d%s", cmd, c.n(arg("Socket")), bufA, arg("Flags").U, irpA)
	case "WskSendTo":
		c.pinCompletion(e)
		b, n := c.buf(arg("Buffer"), nil)
		ctlA := ""
		if cv := arg("ControlInfo"); cv.Kind == Buf {
			// The model's control information (its records, not the
			// trace's), as the replay learned it.
			var data []byte
			ln := arg("ControlInfoLength").U
			if rec := c.rec[e.Seq]; rec != nil && rec.inData != nil {
				data, ln = rec.inData, rec.inSize
			}
			name, _ := c.buf(cv, data)
			ctlA = fmt.Sprintf(" ctl=%s ctl-len=%d", name, ln)
		}
		c.cmd("wsk-sendto socket=%s buf=%s len=%d flags=%d to=%s%s%s", c.n(arg("Socket")), b, n, arg("Flags").U, addrText(arg("RemoteAddress")), ctlA, irpA)
	case "WskReceiveFrom":
		c.pinCompletion(e)
		b, n := c.buf(arg("Buffer"), nil)
		var parts []string
		if arg("RemoteAddress").Kind == Null {
			parts = append(parts, "from=NULL")
		}
		ctlCap := arg("ControlLength")
		if ctlCap.Kind == Int {
			n := ctlCap.U
			if cv := arg("ControlInfo"); cv.Kind == Buf && cv.Buf.Pool == "" && n > scratchCap {
				n = scratchCap // the temporary block the conversion makes holds no more
			}
			parts = append(parts, fmt.Sprintf("ctl-len=%d", n))
		} else {
			parts = append(parts, "ctl-len=NULL")
		}
		if cv := arg("ControlInfo"); cv.Kind == Buf {
			name, _ := c.buf(cv, nil)
			parts = append(parts, "ctl="+name)
		}
		if arg("ControlFlags").Kind == Null {
			parts = append(parts, "cflags=NULL")
		}
		c.cmd("wsk-receivefrom socket=%s buf=%s len=%d flags=%d %s%s", c.n(arg("Socket")), b, n, arg("Flags").U, strings.Join(parts, " "), irpA)
	case "WskCloseSocket":
		c.pinCompletion(e)
		c.cmd("wsk-close socket=%s%s", c.n(arg("Socket")), irpA)
	case "WskGetLocalAddress", "WskGetRemoteAddress":
		c.pinCompletion(e)
		p := "LocalAddress"
		cmd := "wsk-local-address"
		if e.Fn == "WskGetRemoteAddress" {
			p, cmd = "RemoteAddress", "wsk-remote-address"
		}
		a := ""
		if arg(p).Kind == Null {
			a = " addr=NULL"
		}
		c.cmd("%s socket=%s%s%s", cmd, c.n(arg("Socket")), a, irpA)
	case "WskControlSocket":
		c.control(e, irpA)
	case "FwpsRedirectHandleCreate0":
		nm := ""
		if ret != nil {
			if v, ok := ret.OutArg("redirectHandle"); ok && v.Kind == Bind {
				nm = " name=" + c.bind(v.Name)
			}
		}
		g := ""
		if arg("providerGuid").Kind == Null {
			g = " guid=NULL"
		}
		c.cmd("redirect-handle-create%s%s flags=%d", nm, g, arg("flags").U)
	case "FwpsRedirectHandleDestroy0":
		c.cmd("redirect-handle-destroy handle=%s", c.n(arg("redirectHandle")))
	default:
		c.comment("no scenario command replays a recorded classifyFn: %s (seq %d) %s", e.Fn, e.Seq, argsText(e.Args))
		if ret != nil {
			c.comment("  returned %s", retText(ret))
		}
	}
}

func (e *Event) argNonNull(n string) bool {
	v, ok := e.Arg(n)
	return ok && v.Kind != Null
}

// cst writes an integer argument as the trace spelled it (an SDK constant
// name) or as a number.
func cst(v Value) string {
	if v.Kind == Int && v.Name != "" && !strings.Contains(v.Name, "|") {
		return v.Name
	}
	return strconv.FormatUint(v.U, 10)
}

func addrText(v Value) string {
	if v.Kind != Addr {
		return "NULL"
	}
	return v.AP.String()
}

func (c *converter) control(e *Event, irpA string) {
	arg := func(n string) Value { v, _ := e.Arg(n); return v }
	c.pinCompletion(e)
	rt, code := arg("RequestType").U, arg("ControlCode").U
	rec := c.rec[e.Seq]
	var parts []string
	parts = append(parts, fmt.Sprintf("socket=%s type=%s code=%s level=%s", c.n(arg("Socket")), cst(arg("RequestType")), cst(arg("ControlCode")), cst(arg("Level"))))
	inSize, outSize := arg("InputSize").U, arg("OutputSize").U
	if v := arg("InputBuffer"); v.Kind == Buf {
		var data []byte
		if rec != nil && rec.inData != nil {
			data, inSize = rec.inData, rec.inSize
		}
		b, _ := c.buf(v, data)
		parts = append(parts, "in="+b)
	} else {
		parts = append(parts, "in=NULL")
	}
	opaqueOut := nt.ControlSocketType(rt) == nt.WskIoctl && (code == uint64(nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS) || code == uint64(nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT))
	if v := arg("OutputBuffer"); v.Kind == Buf {
		b, n := c.buf(v, nil)
		if opaqueOut && rec != nil && rec.modelSize > 0 && outSize > 0 {
			st, _ := c.outcome(e)
			switch {
			case st == nt.STATUS_BUFFER_TOO_SMALL && outSize >= rec.modelSize:
				outSize = rec.modelSize - 1
			case st == nt.STATUS_SUCCESS && outSize < rec.modelSize:
				outSize = rec.modelSize
				if v.Buf.Pool != "" {
					c.comment("the model's blob (%d bytes) is larger than this OutputSize: the scenario asks for %d", rec.modelSize, outSize)
				}
			}
		}
		if v.Buf.Pool == "" && outSize > n {
			outSize = n
		}
		parts = append(parts, "out="+b)
	} else {
		parts = append(parts, "out=NULL")
	}
	parts = append(parts, "in-size="+strconv.FormatUint(inSize, 10), "out-size="+strconv.FormatUint(outSize, 10))
	if arg("OutputSizeReturned").Kind != Null {
		parts = append(parts, "osr")
	} else {
		parts = append(parts, "osr=NULL")
	}
	c.cmd("wsk-control %s%s", strings.Join(parts, " "), irpA)
}

// outcome is the status the trace shows for call e.
func (c *converter) outcome(e *Event) (nt.Status, bool) {
	if iv, ok := e.Arg("Irp"); ok && iv.Kind == Name {
		if k, _ := c.completeOf(e, iv.Name); k >= 0 {
			return c.evs[k].Status, true
		}
	}
	if ret := c.returns[e.Seq]; ret != nil && ret.HasStatus {
		return ret.Status, true
	}
	return 0, false
}

func (c *converter) env(e *Event) {
	f := func(n string) Value { v, _ := e.Arg(n); return v }
	ctx := func() string {
		if v := f("context"); v.Kind == Buf && len(v.Buf.Data) > 0 {
			return " context=" + hex.EncodeToString(v.Buf.Data)
		}
		return ""
	}
	pid := func() string {
		if v, ok := e.Arg("target_pid"); ok {
			return fmt.Sprintf(" target-pid=%d", v.U)
		}
		return ""
	}
	switch e.What {
	case "peer_listen":
		c.cmd("peer-listen process=peer addr=%s name=%s", addrText(f("addr")), c.bind(listenerName(f("addr"))))
	case "peer_shutdown":
		c.cmd("peer-close conn=%s how=shutdown", c.ref(f("conn").Name))
	case "peer_listen_close":
		c.cmd("peer-close listener=%s", c.ref(listenerName(f("addr"))))
	case "peer_accept":
		c.cmd("peer-accept listener=%s name=%s", c.ref(listenerName(f("addr"))), c.bind(f("name").Name))
	case "peer_connect":
		from := ""
		if v := f("from"); v.Kind == Addr {
			from = " from=" + v.AP.String()
		}
		c.cmd("peer-connect process=peer%s to=%s name=%s", from, addrText(f("to")), c.bind(f("name").Name))
	case "peer_send":
		data := f("data")
		h := ""
		if data.Kind == Buf {
			d := data.Buf.Data
			if data.Buf.Form == BufLen {
				d = make([]byte, min(data.Buf.Len, scratchCap))
			}
			h = hex.EncodeToString(d)
		}
		c.cmd("peer-send conn=%s hex=%s", c.ref(f("conn").Name), h)
	case "peer_close":
		c.cmd("peer-close conn=%s how=graceful", c.ref(f("conn").Name))
	case "peer_udp_bind":
		c.cmd("peer-udp-bind process=peer addr=%s name=%s", addrText(f("addr")), c.bind(f("name").Name))
	case "peer_sendto":
		data := f("data")
		h := ""
		if data.Kind == Buf {
			d := data.Buf.Data
			if data.Buf.Form == BufLen {
				d = make([]byte, min(data.Buf.Len, uint64(wsk.MaxDatagram)))
			}
			h = hex.EncodeToString(d)
		}
		c.cmd("peer-sendto conn=%s to=%s hex=%s", c.ref(f("conn").Name), addrText(f("to")), h)
	case "peer_udp_close":
		c.cmd("peer-udp-close conn=%s", c.ref(f("conn").Name))
	case "redirected_datagram":
		h := ""
		if d := f("data"); d.Kind == Buf {
			dd := d.Buf.Data
			if d.Buf.Form == BufLen {
				dd = make([]byte, min(d.Buf.Len, uint64(wsk.MaxDatagram)))
			}
			h = " hex=" + hex.EncodeToString(dd)
		}
		c.cmd("redirected-datagram name=%s from=%s original=%s to=%s handle=%s%s%s%s", c.bind(f("name").Name), addrText(f("from")), addrText(f("original")), addrText(f("to")), f("handle").Name, ctx(), pid(), h)
	case "peer_reset":
		c.cmd("peer-close conn=%s how=reset", c.ref(f("conn").Name))
	case "redirected_connect":
		c.cmd("redirected-connect name=%s from=%s original=%s to=%s handle=%s%s%s", c.bind(f("name").Name), addrText(f("from")), addrText(f("original")), addrText(f("to")), f("handle").Name, ctx(), pid())
	case "redirect_policy":
		c.cmd("redirect-policy handle=%s match=%s to=%s%s%s", f("handle").Name, addrText(f("match")), addrText(f("to")), ctx(), pid())
	case "irp_completed":
		if irpName := f("irp").Name; c.held[irpName] {
			delete(c.held, irpName)
			c.cmd("provider-complete irp=%s status=%s info=%d", c.ref(irpName), f("status").St, f("information").U)
		} else {
			c.cmd("run")
		}
	case "policy":
		c.cmd("policy id=%s option=%s", f("id").Name, f("option").Name)
	case "pin":
		c.cmd("pin choice=%s value=%s", f("choice").Name, f("value").Name)
	case "unpin":
		c.cmd("unpin choice=%s", f("choice").Name)
	case "rule_action":
		c.cmd("rule-action rule=%s action=%s", f("rule").Name, f("action").Name)
	case "sublayer":
		c.cmd("sublayer name=%s weight=%d", c.bind(f("name").Name), f("weight").U)
	case "filter":
		if _, ok := e.Arg("callout"); ok {
			c.comment("a callout filter (declared with its callout when the callout first classifies): env filter (seq %d) %s", e.Seq, argsText(e.Fields))
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "filter name=%s action=%s layer=%s weight=%d", c.bind(fmt.Sprintf("filter%d", f("filter").U)), wfp.Action(f("action").U), f("layer").Name, f("weight").U)
		if v, ok := e.Arg("sublayer"); ok {
			fmt.Fprintf(&b, " sublayer=%s", c.ref(v.Name))
		}
		if v, ok := e.Arg("remote"); ok && v.Kind == Addr {
			fmt.Fprintf(&b, " remote=%s", v.AP)
		}
		c.cmd("%s", b.String())
		if c.static == nil {
			c.static = map[uint64]bool{}
		}
		c.static[f("filter").U] = true
	case "filter_delete":
		if !c.static[f("filter").U] {
			c.comment("the callout filter %d is deleted here (env filter_delete, seq %d)", f("filter").U, e.Seq)
			break
		}
		c.cmd("remove-filter filter=%s", c.ref(fmt.Sprintf("filter%d", f("filter").U)))
	case "process":
		c.cmd("process name=%s pid=%d%s", c.bind(f("name").Name), f("pid").U, onFlag(f("elevated").B, "elevated"))
	case "irp_dispatch":
		n := uint64(1)
		if v, ok := e.Arg("stack_locations"); ok {
			n = v.U
		}
		c.cmd("passed-down-irp name=%s stack=%d", c.bind(f("irp").Name), n)
	default:
		c.comment("no scenario command replays a recorded classifyFn: env %s (seq %d) %s", e.What, e.Seq, argsText(e.Fields))
	}
}

// listenerName is the scenario name convert gives the peer listening at addr
// (a trace names a peer listener by its address only).
func listenerName(addr Value) string {
	return "listen_" + strings.NewReplacer(".", "_", ":", "_", "[", "", "]", "", "%", "_").Replace(addrText(addr))
}

// ioCallDriver converts an IoCallDriver (the scenario language's stand-in
// provider, docs/wsktrace.md) into provider-call: inline when the trace shows
// the completion before the return, otherwise held until the trace shows it.
func (c *converter) ioCallDriver(e *Event, ret *Event) {
	arg := func(n string) Value { v, _ := e.Arg(n); return v }
	fn := arg("Function").Name
	if fn == "" {
		fn = "IoCallDriver"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "provider-call fn=%s irp=%s", fn, c.n(arg("Irp")))
	var lends []string
	for _, k := range []string{"Buffer", "Buffer2", "Buffer3", "Buffer4"} {
		if v := arg(k); v.Kind == Buf && v.Buf.Pool != "" {
			lends = append(lends, fmt.Sprintf("%s:%d:%d", c.ref(v.Buf.Pool), v.Buf.Offset, v.Buf.Len))
		}
	}
	if len(lends) > 0 {
		fmt.Fprintf(&b, " lend=(%s)", strings.Join(lends, ","))
	}
	irpName := name(arg("Irp"))
	k, before := c.completeOf(e, irpName)
	switch {
	case k >= 0 && before:
		x := c.evs[k]
		c.done[k] = true
		info := uint64(0)
		if x.Information.Kind == Int {
			info = x.Information.U
		}
		fmt.Fprintf(&b, " complete=inline status=%s info=%d", x.Status, info)
	case ret != nil && ret.HasStatus && ret.Status != nt.STATUS_PENDING:
		// Completed inline with no routine to see it, or refused.
		fmt.Fprintf(&b, " complete=inline status=%s", ret.Status)
	default:
		b.WriteString(" complete=hold")
		if c.held == nil {
			c.held = map[string]bool{}
		}
		c.held[irpName] = true
	}
	c.cmd("%s", b.String())
}
