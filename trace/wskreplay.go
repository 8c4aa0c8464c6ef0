package trace

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// This file replays the WSK functions on the model's provider (package wsk):
// arguments are turned into model objects, the call runs, and its direct
// return and the completion its IRP gets are checked against the trace.

// scratchCap bounds a buffer the replay makes for a trace buffer that names
// no pool block ({"len":N} without "pool"): N is never allocated.
const scratchCap = 64 << 10

// spend counts n bytes the replay makes or moves for buffers and peer data
// against the budget (Options.PoolBudget, default 256 MiB, over the whole
// replay). Past it the trace is unusable: memory and time stay bounded
// whatever sizes the trace claims.
func (r *replayer) spend(n uint64) bool {
	budget := r.opts.PoolBudget
	if budget == 0 {
		budget = 256 << 20
	}
	r.moved += n
	if r.moved > budget {
		if !r.stopped {
			line := 0
			if r.cur != nil {
				line = r.cur.ev.Line
			}
			r.unusable(errAt(line, 1, fmt.Sprintf("the trace makes the replay create or move more than %d bytes of buffer and peer data (Options.PoolBudget)", budget)))
		}
		return false
	}
	return true
}

// wcall is a WSK call whose IRP the model holds: what its completion is
// checked against.
type wcall struct {
	ev      *Event
	fn      string // documented-status call name (wsk.DocumentedStatuses)
	sockOut bool   // Information carries a new socket
	la, ra  *netip.AddrPort
	osr     *uint64
	opq     *opaqueQuery
	recv    *irp.Block // receive buffer, to read what the model delivered
	recvOff uint64
	dg      *dgCall // WskReceiveFrom's out-parameters
}

// opaqueQuery is a QUERY of a redirect-records or redirect-context blob:
// its sizes are the trace's, its bytes the model's.
type opaqueQuery struct {
	key blobKey
	drv *irp.Block // the driver's output block: receives the model's bytes
	out *irp.Block // the block the model wrote
}

// blobKey names the records or the context a socket's QUERY answers.
type blobKey struct {
	s   *wsk.Socket
	ctx bool
}

// blob is an opaque byte string: the model's bytes, and the size the trace
// reports for it (0 until the trace reports one).
type blob struct {
	model []byte
	size  uint64
}

type wskState struct {
	calls   map[string]*wcall    // IRP trace name → the call holding it
	blobs   map[string]*blob     // bound name → blob
	byHex   map[string]*blob     // bytes the trace showed for a blob → blob
	inBlock map[*irp.Block]*blob // pool block → the blob copied into it
	sizes   map[blobKey]uint64   // trace size of a socket's records/context
	peer    *wsk.Process         // the user-mode process peers run in
	learned map[string]bool      // machine facts taken from the trace
	// listeners are the peers listening, by address (env peer_listen), for
	// env peer_accept.
	listeners map[netip.AddrPort]*wsk.PeerListener
	regs      map[*wsk.Registration]bool
}

func (r *replayer) wsInit() {
	if r.ws.calls == nil {
		r.ws.calls = map[string]*wcall{}
		r.ws.blobs = map[string]*blob{}
		r.ws.byHex = map[string]*blob{}
		r.ws.inBlock = map[*irp.Block]*blob{}
		r.ws.sizes = map[blobKey]uint64{}
		r.ws.learned = map[string]bool{}
	}
}

// ---- argument conversion ----

func (r *replayer) sockOf(v Value) *wsk.Socket {
	if v.Kind != Name {
		return nil
	}
	s, _ := r.objs[v.Name].(*wsk.Socket)
	return s
}

func (r *replayer) clientOf(v Value) *wsk.Client {
	if v.Kind != Name {
		return nil
	}
	c, _ := r.objs[v.Name].(*wsk.Client)
	return c
}

func (r *replayer) regOf(v Value) *wsk.Registration {
	if v.Kind != Name {
		return nil
	}
	g, _ := r.objs[v.Name].(*wsk.Registration)
	return g
}

// procOf resolves OwningProcess: NULL (the System process), a process named
// by an env process event, a PID, or true (a process the trace does not
// describe: taken as the System process, and noted).
func (r *replayer) procOf(v Value) *wsk.Process {
	switch v.Kind {
	case Name:
		pr, _ := r.objs[v.Name].(*wsk.Process)
		return pr
	case Int:
		if pr := r.p.Process(uint32(v.U)); pr != nil {
			return pr
		}
		pr, err := r.p.AddProcess(uint32(v.U), "pid"+strconv.FormatUint(v.U, 10), false)
		if err != nil {
			return nil
		}
		r.learn(fmt.Sprintf("process %d (not elevated) was taken from an OwningProcess", v.U))
		return pr
	case Bool:
		r.note("an OwningProcess given as true (a process the trace does not describe) was replayed as the System process; describe it with an env process event")
		return r.p.System()
	}
	return nil
}

// opaquePtr is driver memory the model does not look into (SocketContext,
// Dispatch, OwningThread, SecurityDescriptor): nil or a marker.
func opaquePtr(v Value) any {
	if v.Kind == Null {
		return nil
	}
	return ptrMarker{}
}

type ptrMarker struct{}

func (r *replayer) learn(fact string) {
	r.wsInit()
	if !r.ws.learned[fact] {
		r.ws.learned[fact] = true
		r.note("machine fact taken from the trace: " + fact)
	}
}

// traceOutcome is the status the trace shows for call ev: its IRP's
// completion when the trace shows one, else its direct return.
func (r *replayer) traceOutcome(ev *Event) (nt.Status, *Event, bool) {
	if iv, ok := ev.Arg("Irp"); ok && iv.Kind == Name {
		if c := r.findComplete(iv.Name); c != nil && c.ev.Kind == EvComplete {
			return c.ev.Status, c.ev, true
		}
		if c := r.completionEnv(iv.Name); c != nil {
			// A completion no routine saw (env irp_completed).
			v, _ := c.ev.Arg("status")
			return v.St, nil, true
		}
	}
	if ret := r.findReturn(ev.Seq); ret != nil && ret.ev.HasStatus && ret.ev.Status != nt.STATUS_PENDING {
		return ret.ev.Status, nil, true
	}
	return 0, nil, false
}

// statusDoc is the document behind status st of call (a
// wsk.DocumentedStatuses name).
func statusDoc(call string, st nt.Status) string {
	for _, d := range wsk.DocumentedStatuses(call) {
		if d.Status == st {
			return d.Source
		}
	}
	return docIRPs
}

// checkWskReturn compares the direct return of a WSK call with the trace.
func (r *replayer) checkWskReturn(ev *Event, call string, got nt.Status) *qev {
	ret := r.findReturn(ev.Seq)
	if ret == nil || r.stopped {
		return ret
	}
	ret.matched = true
	if ret.ev.HasStatus && ret.ev.Status != got {
		allowed := got.String()
		detail := ""
		iv, _ := ev.Arg("Irp")
		switch {
		case got == nt.STATUS_PENDING:
			allowed = "STATUS_PENDING"
			detail = "the model holds the IRP here: it completes only when the network or the environment lets it (nothing the trace shows so far does)"
		case iv.Kind == Name && ret.ev.Status == nt.STATUS_PENDING:
			detail = "the model completes this call before it returns"
		case iv.Kind == Name:
			allowed = "STATUS_PENDING or " + got.String()
		}
		if !wsk.StatusAllowed(call, ret.ev.Status) && ret.ev.Status != nt.STATUS_PENDING {
			detail = strings.TrimSpace(detail + "; " + ret.ev.Status.String() + " is not documented for " + call)
			detail = strings.TrimPrefix(detail, "; ")
		}
		r.diverge(ret.ev, callName(ev), "return "+ret.ev.Status.String(), allowed, statusDoc(call, got), detail)
	}
	return ret
}

// hold records that the model holds IRP v for call w (its completion is
// checked by wskComplete).
func (r *replayer) hold(v Value, w *wcall) {
	r.wsInit()
	if v.Kind == Name {
		if old := r.ws.calls[v.Name]; old != nil {
			if i := r.irpOf(v); i != nil && i.InFlight() {
				// The IRP is still in flight for the earlier call: the new
				// call cannot take it (the model refuses it), and the
				// completion the trace shows is the earlier call's.
				return
			}
		}
		r.ws.calls[v.Name] = w
		if r.irpCall == nil {
			r.irpCall = map[string]uint64{}
		}
		r.irpCall[v.Name] = w.ev.Seq
	}
}

func (r *replayer) release(v Value) {
	if v.Kind == Name && r.ws.calls != nil {
		if i := r.irpOf(v); i == nil || !i.InFlight() {
			delete(r.ws.calls, v.Name)
		}
	}
}

// ---- the calls ----

func (r *replayer) wskCall(q *qev) {
	r.wsInit()
	ev := q.ev
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	p := r.p
	switch ev.Fn {
	case "WskRegister":
		var npi *wsk.ClientNPI
		if nv := arg("WskClientNpi"); nv.Kind == Struct {
			npi = &wsk.ClientNPI{}
			if d, ok := nv.Field("Dispatch"); !ok || d.Kind != Null {
				ver := nt.MAKE_WSK_VERSION(1, 0)
				if vv, ok := nv.Field("Version"); ok {
					ver = parseWskVersion(vv.Name)
				}
				npi.Dispatch = &wsk.ClientDispatch{Version: ver}
			}
		}
		var reg *wsk.Registration
		rv := arg("WskRegistration")
		switch rv.Kind {
		case Bind:
			reg = &wsk.Registration{}
		case Name:
			reg = r.regOf(rv)
		}
		st := p.WskRegister(npi, reg)
		if reg != nil && rv.Kind == Bind {
			r.bindObj(rv.Name, reg, reg.Name())
		}
		r.checkWskReturn(ev, "WskRegister", st)
	case "WskCaptureProviderNPI":
		reg := r.regOf(arg("WskRegistration"))
		var npi *wsk.ProviderNPI
		if arg("WskProviderNpi").Kind != Null {
			npi = &wsk.ProviderNPI{}
		}
		wt := uint32(arg("WaitTimeout").U)
		ret := r.findReturn(ev.Seq)
		notReady := ret != nil && ret.ev.HasStatus && ret.ev.Status == nt.STATUS_DEVICE_NOT_READY
		if notReady {
			p.SetReady(false)
		}
		st := p.WskCaptureProviderNPI(reg, wt, npi)
		if notReady {
			p.SetReady(true)
			r.learn("the WSK subsystem was not ready at first")
		}
		ret = r.checkWskReturn(ev, "WskCaptureProviderNPI", st)
		if ret != nil && npi != nil && npi.Client != nil {
			if nv, ok := ret.ev.OutArg("WskProviderNpi"); ok {
				if cv, ok := nv.Field("Client"); ok && cv.Kind == Bind {
					r.bindObj(cv.Name, npi.Client, npi.Client.Name())
				}
			}
		}
	case "WskReleaseProviderNPI":
		p.WskReleaseProviderNPI(r.regOf(arg("WskRegistration")))
	case "WskDeregister":
		p.WskDeregister(r.regOf(arg("WskRegistration")))
		if reg := r.regOf(arg("WskRegistration")); reg != nil && !reg.Registered() {
			r.forget(arg("WskRegistration").Name)
		}
	case "WskSocket", "WskSocketConnect":
		r.socketCall(ev)
	case "WskBind":
		s := r.sockOf(arg("Socket"))
		la := arg("LocalAddress").AP
		r.learnLocal(ev, la)
		r.registerCallouts(ev) // a callout at ALE_BIND_REDIRECT classifies the bind
		iv := arg("Irp")
		r.hold(iv, &wcall{ev: ev, fn: "WskBind"})
		st := p.WskBind(s, la, uint32(arg("Flags").U), r.irpOf(iv))
		r.release(iv)
		r.checkWskReturn(ev, "WskBind", st)
	case "WskListen":
		iv := arg("Irp")
		r.hold(iv, &wcall{ev: ev, fn: "WskListen"})
		st := p.WskListen(r.sockOf(arg("Socket")), r.irpOf(iv))
		r.release(iv)
		r.checkWskReturn(ev, "WskListen", st)
	case "WskConnect":
		iv := arg("Irp")
		ra := arg("RemoteAddress").AP
		r.learnRemote(ev, ra)
		r.registerCallouts(ev)
		r.hold(iv, &wcall{ev: ev, fn: "WskConnect"})
		st := p.WskConnect(r.sockOf(arg("Socket")), ra, uint32(arg("Flags").U), r.irpOf(iv))
		r.release(iv)
		r.checkWskReturn(ev, "WskConnect", st)
	case "WskAccept":
		iv := arg("Irp")
		w := &wcall{ev: ev, fn: "WskAccept", sockOut: true}
		if arg("LocalAddress").Kind != Null {
			w.la = new(netip.AddrPort)
		}
		if arg("RemoteAddress").Kind != Null {
			w.ra = new(netip.AddrPort)
		}
		r.hold(iv, w)
		st := p.WskAccept(r.sockOf(arg("ListenSocket")), uint32(arg("Flags").U), opaquePtr(arg("AcceptSocketContext")),
			r.evDispatch(arg("AcceptSocketDispatch")), w.la, w.ra, r.irpOf(iv))
		r.release(iv)
		r.checkWskReturn(ev, "WskAccept", st)
	case "WskSend", "WskReceive", "WskDisconnect":
		r.transferCall(ev)
	case "WskSendTo":
		r.sendToCall(ev)
	case "WskReceiveFrom":
		r.receiveFromCall(ev)
	case "WskCloseSocket":
		iv := arg("Irp")
		s := r.sockOf(arg("Socket"))
		r.hold(iv, &wcall{ev: ev, fn: "WskCloseSocket"})
		st := p.WskCloseSocket(s, r.irpOf(iv))
		r.release(iv)
		r.checkWskReturn(ev, "WskCloseSocket", st)
		if s != nil && s.Closed() {
			r.forget(arg("Socket").Name)
		}
	case "WskGetLocalAddress", "WskGetRemoteAddress":
		iv := arg("Irp")
		w := &wcall{ev: ev, fn: ev.Fn}
		var out *netip.AddrPort
		if ev.Fn == "WskGetLocalAddress" {
			if arg("LocalAddress").Kind != Null {
				w.la = new(netip.AddrPort)
				out = w.la
			}
		} else if arg("RemoteAddress").Kind != Null {
			w.ra = new(netip.AddrPort)
			out = w.ra
		}
		r.hold(iv, w)
		var st nt.Status
		if ev.Fn == "WskGetLocalAddress" {
			st = p.WskGetLocalAddress(r.sockOf(arg("Socket")), out, r.irpOf(iv))
		} else {
			st = p.WskGetRemoteAddress(r.sockOf(arg("Socket")), out, r.irpOf(iv))
		}
		r.release(iv)
		r.checkWskReturn(ev, ev.Fn, st)
	case "WskControlSocket":
		r.controlCall(ev)
	case "WskRelease", "WskControlClient":
		r.evCall(ev)
	default:
		panic("trace: internal: no WSK replay for " + ev.Fn)
	}
}

func parseWskVersion(s string) uint16 {
	maj, min, ok := strings.Cut(s, ".")
	a, err1 := strconv.ParseUint(maj, 10, 8)
	b, err2 := strconv.ParseUint(min, 10, 8)
	if !ok || err1 != nil || err2 != nil {
		if u, err := strconv.ParseUint(s, 0, 16); err == nil {
			return uint16(u)
		}
		return 0
	}
	return nt.MAKE_WSK_VERSION(uint8(a), uint8(b))
}

// learnLocal makes a specific address the driver binds one of the machine's
// addresses when the trace shows the bind did not fail for that reason.
func (r *replayer) learnLocal(ev *Event, a netip.AddrPort) {
	if !a.IsValid() || a.Addr().IsUnspecified() || a.Addr().IsLoopback() {
		return
	}
	for _, l := range r.p.LocalAddresses() {
		if l == a.Addr().Unmap() {
			return
		}
	}
	if st, _, ok := r.traceOutcome(ev); ok && st == nt.STATUS_INVALID_ADDRESS {
		return
	}
	if r.p.AddLocalAddress(a.Addr()) == nil {
		r.learn(a.Addr().String() + " is an address of the machine under test")
		r.localAddrs = append(r.localAddrs, a.Addr().Unmap())
	}
}

// learnRemote makes a remote host reachable when the trace shows a connect
// to it refused (rather than unreachable).
func (r *replayer) learnRemote(ev *Event, a netip.AddrPort) {
	if !a.IsValid() {
		return
	}
	if st, _, ok := r.traceOutcome(ev); ok && st == nt.STATUS_CONNECTION_REFUSED {
		if r.p.AddRemoteHost(a.Addr()) == nil {
			r.learn(a.Addr().String() + " is a reachable host")
		}
	}
}

func (r *replayer) socketCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	iv := arg("Irp")
	r.hold(iv, &wcall{ev: ev, fn: ev.Fn, sockOut: true})
	var st nt.Status
	if ev.Fn == "WskSocket" {
		st = r.p.WskSocket(r.clientOf(arg("Client")), uint16(arg("AddressFamily").U), uint16(arg("SocketType").U), uint32(arg("Protocol").U),
			uint32(arg("Flags").U), opaquePtr(arg("SocketContext")), r.evDispatch(arg("Dispatch")), r.procOf(arg("OwningProcess")),
			opaquePtr(arg("OwningThread")), opaquePtr(arg("SecurityDescriptor")), r.irpOf(iv))
	} else {
		la, ra := arg("LocalAddress").AP, arg("RemoteAddress").AP
		r.learnLocal(ev, la)
		r.learnRemote(ev, ra)
		r.registerCallouts(ev)
		st = r.p.WskSocketConnect(r.clientOf(arg("Client")), uint16(arg("SocketType").U), uint32(arg("Protocol").U), la, ra,
			uint32(arg("Flags").U), opaquePtr(arg("SocketContext")), r.evDispatch(arg("Dispatch")), r.procOf(arg("OwningProcess")),
			opaquePtr(arg("OwningThread")), opaquePtr(arg("SecurityDescriptor")), r.irpOf(iv))
	}
	r.release(iv)
	r.checkWskReturn(ev, ev.Fn, st)
}

// ---- buffers ----

// scratchBlock returns a block of n bytes (capped) the driver never sees.
func (r *replayer) scratchBlock(data []byte, n uint64) *irp.Block {
	if n > scratchCap {
		n = scratchCap
		r.note(fmt.Sprintf("a buffer longer than %d bytes without a pool block was replayed as %d bytes", scratchCap, scratchCap))
	}
	if uint64(len(data)) > n {
		n = uint64(len(data))
	}
	if !r.spend(n) {
		n = 0
	}
	b := r.scratch.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, n, 0x70726353)
	if b != nil {
		copy(b.Bytes(), data)
	}
	return b
}

// fill writes data at the start of block b when it differs (the driver wrote
// it there before the call; the trace shows the bytes, not the copy).
func fill(b *irp.Block, data []byte) {
	if b == nil || b.Freed() || len(data) == 0 || uint64(len(data)) > b.Size() {
		return
	}
	if m := b.Bytes(); !bytes.Equal(m[:len(data)], data) {
		copy(m, data)
	}
}

// bufferData returns the bytes a buffer value shows (hex/b64, or the bytes
// bound to a ref), or nil.
func (r *replayer) bufferData(b *Buffer) []byte {
	switch b.Form {
	case BufHex, BufB64:
		return b.Data
	case BufRef:
		if bl := r.ws.blobs[b.Ref]; bl != nil {
			return bl.model
		}
	}
	return nil
}

// wskBuf turns a WSK_BUF value into the model's: the pool block it names
// (filled with the bytes the trace shows) or a scratch block. length is the
// length to pass (the trace's, or the partial length it transferred).
func (r *replayer) wskBuf(v Value, length uint64) *wsk.Buf {
	if v.Kind != Buf {
		return nil
	}
	b := v.Buf
	data := r.bufferData(b)
	if b.Pool != "" {
		blk := r.blockOf(Value{Kind: Name, Name: b.Pool})
		if blk == nil {
			return &wsk.Buf{}
		}
		fill(blk, data)
		return &wsk.Buf{Block: blk, Length: length}
	}
	n := length
	if n > scratchCap {
		n = scratchCap
	}
	return &wsk.Buf{Block: r.scratchBlock(data, n), Length: n}
}

func bufLen(v Value) uint64 {
	if v.Kind != Buf {
		return 0
	}
	if v.Buf.Form == BufRef {
		return 0
	}
	return v.Buf.Len
}

// bufValueLen is the length of a WSK_BUF value: its {"len"} or its bytes
// (those bound to a ref included).
func (r *replayer) bufValueLen(bv Value) uint64 {
	if bv.Kind == Buf && bv.Buf.Form == BufRef {
		return uint64(len(r.bufferData(bv.Buf)))
	}
	return bufLen(bv)
}

func (r *replayer) transferCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	iv := arg("Irp")
	bv := arg("Buffer")
	n := r.bufValueLen(bv)
	// A partial transfer the trace shows is replayed by handing the model
	// the length that was transferred.
	if ev.Fn != "WskDisconnect" {
		if st, c, ok := r.traceOutcome(ev); ok && st.IsSuccess() && c != nil && c.Information.Kind == Int && c.Information.U > 0 && c.Information.U < n {
			r.choices[[2]string{"wsk." + strings.ToLower(strings.TrimPrefix(ev.Fn, "Wsk")) + ".partial", "partial"}]++
			n = c.Information.U
		}
	}
	buf := r.wskBuf(bv, n)
	if ev.Fn != "WskReceive" && buf != nil && buf.Block != nil && !r.spend(min(buf.Length, buf.Block.Size())) {
		return
	}
	w := &wcall{ev: ev, fn: ev.Fn}
	if ev.Fn == "WskReceive" && buf != nil {
		w.recv, w.recvOff = buf.Block, buf.Offset
	}
	r.hold(iv, w)
	var st nt.Status
	s := r.sockOf(arg("Socket"))
	switch ev.Fn {
	case "WskSend":
		st = r.p.WskSend(s, buf, uint32(arg("Flags").U), r.irpOf(iv))
	case "WskReceive":
		st = r.p.WskReceive(s, buf, uint32(arg("Flags").U), r.irpOf(iv))
	default:
		st = r.p.WskDisconnect(s, buf, uint32(arg("Flags").U), r.irpOf(iv))
	}
	r.release(iv)
	r.checkWskReturn(ev, ev.Fn, st)
}

// ---- WskControlSocket ----

func (r *replayer) controlCall(ev *Event) {
	arg := func(n string) Value { v, _ := ev.Arg(n); return v }
	iv := arg("Irp")
	i := r.irpOf(iv)
	s := r.sockOf(arg("Socket"))
	rt := nt.ControlSocketType(arg("RequestType").U)
	code := uint32(arg("ControlCode").U)
	call := wsk.ControlCall(rt, code)
	inSize, outSize := arg("InputSize").U, arg("OutputSize").U
	w := &wcall{ev: ev, fn: call}
	if arg("OutputSizeReturned").Kind != Null {
		w.osr = new(uint64)
	}
	var in, out *irp.Block
	opaqueIn := rt == nt.WskIoctl && code == nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS
	opaqueOut := rt == nt.WskIoctl && (code == nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS || code == nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)
	var lendAfter *irp.Block
	var lendN uint64
	// Input.
	if v := arg("InputBuffer"); v.Kind == Buf {
		var bl *blob
		if opaqueIn {
			bl = r.blobOf(v.Buf)
		}
		drv := r.blockOf(Value{Kind: Name, Name: v.Buf.Pool})
		switch {
		case bl != nil && inSize <= uint64(nt.MAXULONG):
			t := bl.size
			if t == 0 {
				t = inSize
			}
			mi := int64(inSize) - int64(t) + int64(len(bl.model))
			if mi < 0 {
				mi = 0
			}
			if inSize > 0 && mi == 0 {
				mi = 1
			}
			model := uint64(mi)
			switch {
			case v.Buf.Pool == "":
				in = r.scratchBlock(bl.model, model)
			case drv == nil || drv.Freed() || inSize > drv.Size():
				in, model = drv, inSize // the model reports the misuse
			case drv.Size() >= model && drv.Size() >= uint64(len(bl.model)):
				fill(drv, bl.model)
				in = drv
			default:
				in = r.scratchBlock(bl.model, model)
				lendAfter, lendN = drv, inSize
			}
			inSize = model
			if cr := r.convRecord(ev.Seq); cr != nil {
				cr.inSize, cr.inData = model, bl.model
			}
		case v.Buf.Pool != "":
			in = drv
			fill(drv, r.bufferData(v.Buf))
		default:
			n := inSize
			if n > scratchCap {
				n = scratchCap
			}
			in = r.scratchBlock(r.bufferData(v.Buf), n)
			if inSize <= uint64(nt.MAXULONG) || !opaqueIn {
				inSize = n
			}
		}
	}
	// Output.
	if v := arg("OutputBuffer"); v.Kind == Buf {
		drv := r.blockOf(Value{Kind: Name, Name: v.Buf.Pool})
		switch {
		case opaqueOut && i != nil && outSize > 0 && outSize <= uint64(nt.MAXULONG) && (v.Buf.Pool == "" || (drv != nil && !drv.Freed() && outSize <= drv.Size())):
			// Opaque sizes are the trace's: ask the model for room or a
			// short buffer, as the trace's outcome says.
			st, _, _ := r.traceOutcome(ev)
			n := uint64(wfp.MaxRecordsSize)
			if st == nt.STATUS_BUFFER_TOO_SMALL {
				n = 1
			}
			out = r.scratchBlock(nil, n)
			outSize = n
			w.opq = &opaqueQuery{key: blobKey{s: s, ctx: code == nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT}, drv: drv, out: out}
			if drv != nil {
				lendAfter, lendN = drv, arg("OutputSize").U
			}
		case v.Buf.Pool != "":
			out = drv
		default:
			n := outSize
			if n > scratchCap {
				n = scratchCap
			}
			out = r.scratchBlock(nil, n)
			if outSize <= uint64(nt.MAXULONG) || !opaqueOut {
				outSize = n
			}
		}
	}
	if opaqueOut && w.opq == nil {
		w.opq = &opaqueQuery{key: blobKey{s: s, ctx: code == nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT}, out: out}
	}
	r.hold(iv, w)
	st := r.p.WskControlSocket(s, rt, code, uint32(arg("Level").U), inSize, in, outSize, out, w.osr, i)
	if lendAfter != nil && i != nil && i.InFlight() && iv.Kind == Name && r.ws.calls[iv.Name] == w {
		// (Only when this call took the IRP: an IRP in flight for an
		// earlier call is that call's.)
		r.m.Lend(i, lendAfter, 0, lendN)
	}
	r.release(iv)
	ret := r.checkWskReturn(ev, call, st)
	if iv.Kind == Null && ret != nil && !r.stopped && w.osr != nil {
		// Without an IRP, *OutputSizeReturned is written before the return.
		if v, ok := ret.ev.OutArg("OutputSizeReturned"); ok && v.Kind == Int && !opaqueOut && v.U != *w.osr {
			r.diverge(ret.ev, callName(ev), fmt.Sprintf("OutputSizeReturned %d", v.U), fmt.Sprintf("OutputSizeReturned %d", *w.osr), statusDoc(call, st), "")
		}
	}
}

// blobOf resolves the input of a SET to an opaque blob: a ref to bytes bound
// at a QUERY, bytes the trace showed at a QUERY, or a pool block a QUERY
// wrote. Anything else (bytes the driver made up) is not opaque.
func (r *replayer) blobOf(b *Buffer) *blob {
	switch b.Form {
	case BufRef:
		return r.ws.blobs[b.Ref]
	case BufHex, BufB64:
		return r.ws.byHex[string(b.Data)]
	case BufLen:
		if blk := r.blockOf(Value{Kind: Name, Name: b.Pool}); blk != nil {
			return r.ws.inBlock[blk]
		}
	}
	return nil
}

// ---- completions ----

// wskComplete checks the completion of a WSK call's IRP beyond its status
// (checked by routine): Information, the socket it carries, out-parameters
// and opaque blobs.
func (r *replayer) wskComplete(w *wcall, i *irp.IRP, ev *Event) {
	st := i.IoStatus.Status
	info := i.IoStatus.Information
	where := "completion of " + ev.IRP
	doc := statusDoc(w.fn, st)
	switch {
	case w.sockOut:
		s := r.p.SocketFromInformation(info)
		switch ev.Information.Kind {
		case Bind:
			if s != nil {
				r.bindObj(ev.Information.Name, s, s.Name())
			} else {
				r.diverge(ev, where, "a new socket in Information", fmt.Sprintf("no socket (the call completes with %s)", st), doc, "")
				return
			}
		case Int:
			if st.IsSuccess() && ev.Information.U == 0 && s != nil {
				r.diverge(ev, where, "information 0", "a new socket in Information", doc, "")
				return
			}
		}
	case w.opq != nil:
		r.opaqueComplete(w, i, ev)
		if r.stopped {
			return
		}
	default:
		if ev.Information.Kind == Int && ev.Information.U != info {
			r.diverge(ev, where, fmt.Sprintf("information %d", ev.Information.U), fmt.Sprintf("information %d", info), doc, "")
			return
		}
	}
	for _, a := range ev.Out {
		switch a.Name {
		case "LocalAddress", "RemoteAddress":
			p := w.la
			if a.Name == "RemoteAddress" {
				p = w.ra
			}
			if p == nil || a.Val.Kind != Addr || !st.IsSuccess() {
				continue
			}
			if !addrMatch(*p, a.Val.AP) {
				r.diverge(ev, where, a.Name+" "+a.Val.AP.String(), a.Name+" "+p.String(), doc, "")
				return
			}
		case "OutputSizeReturned":
			if w.opq == nil && w.osr != nil && a.Val.Kind == Int && a.Val.U != *w.osr {
				r.diverge(ev, where, fmt.Sprintf("OutputSizeReturned %d", a.Val.U), fmt.Sprintf("OutputSizeReturned %d", *w.osr), doc, "")
				return
			}
		case "Buffer":
			if w.recv != nil && a.Val.Kind == Buf && (a.Val.Buf.Form == BufHex || a.Val.Buf.Form == BufB64) && (st.IsSuccess() || st == nt.STATUS_BUFFER_OVERFLOW) {
				got := w.recv.Bytes()
				if uint64(len(got)) >= w.recvOff+info {
					got = got[w.recvOff : w.recvOff+info]
				}
				if !bytes.Equal(got, a.Val.Buf.Data) {
					r.diverge(ev, where, "received "+a.Val.String(), "received "+(&Buffer{Form: BufHex, Data: got}).String(), doc, "the bytes a receive delivers are the bytes the peer sent, in order")
					return
				}
			}
		}
	}
	if w.dg != nil {
		r.dgComplete(w, i, ev)
	}
}

// addrMatch compares an address the model wrote with the trace's: a port
// the stack chose (ephemeral) may differ.
func addrMatch(model, tr netip.AddrPort) bool {
	m := netip.AddrPortFrom(model.Addr().Unmap(), model.Port())
	t := netip.AddrPortFrom(tr.Addr().Unmap(), tr.Port())
	if m == t {
		return true
	}
	return m.Addr() == t.Addr() && m.Port() >= 49152 && t.Port() != 0
}

// opaqueComplete checks a QUERY of records or context: the status (already
// checked), the sizes against what the trace reported before for the same
// blob, and binds the output bytes to the model's.
func (r *replayer) opaqueComplete(w *wcall, i *irp.IRP, ev *Event) {
	st := i.IoStatus.Status
	info := i.IoStatus.Information
	where := "completion of " + ev.IRP
	doc := statusDoc(w.fn, st)
	q := w.opq
	var tinfo uint64
	tinfoOK := ev.Information.Kind == Int
	if tinfoOK {
		tinfo = ev.Information.U
	}
	var tosr uint64
	osrV, osrOK := ev.OutArg("OutputSizeReturned")
	if osrOK && osrV.Kind == Int {
		tosr = osrV.U
	} else {
		osrOK = false
	}
	size := uint64(0)
	switch {
	case st == nt.STATUS_SUCCESS && info > 0:
		if tinfoOK && tinfo == 0 {
			r.diverge(ev, where, "information 0", "the size of the blob (the trace's size for it)", doc, "")
			return
		}
		size = tinfo
		if osrOK {
			if tinfoOK && tosr != tinfo {
				r.diverge(ev, where, fmt.Sprintf("OutputSizeReturned %d", tosr), fmt.Sprintf("OutputSizeReturned %d (the Information of this completion)", tinfo), doc, "")
				return
			}
			size = tosr
		}
	case st == nt.STATUS_BUFFER_TOO_SMALL || (st == nt.STATUS_SUCCESS && info == 0):
		if osrOK {
			size = tosr
		}
		if tinfoOK && (tinfo == 0) != (info == 0) {
			allowed := "information 0"
			if info != 0 {
				allowed = "information = the required size (P-INFO required-size)"
			}
			r.diverge(ev, where, fmt.Sprintf("information %d", tinfo), allowed, doc, "")
			return
		}
		if tinfoOK && tinfo != 0 {
			if size != 0 && tinfo != size {
				r.diverge(ev, where, fmt.Sprintf("information %d", tinfo), fmt.Sprintf("information %d (OutputSizeReturned)", size), doc, "")
				return
			}
			size = tinfo
		}
	default:
		if tinfoOK && tinfo != info {
			r.diverge(ev, where, fmt.Sprintf("information %d", tinfo), fmt.Sprintf("information %d", info), doc, "")
		}
		return
	}
	if cr := r.convRecord(w.ev.Seq); cr != nil {
		cr.modelSize = info
		if info == 0 && w.osr != nil {
			cr.modelSize = *w.osr
		}
	}
	if size != 0 {
		osize, _ := w.ev.Arg("OutputSize")
		if st == nt.STATUS_BUFFER_TOO_SMALL && osize.U >= size {
			r.diverge(ev, where, fmt.Sprintf("STATUS_BUFFER_TOO_SMALL with a required size of %d", size),
				fmt.Sprintf("success: OutputSize %d holds a blob of %d bytes", osize.U, size), doc, "opaque sizes are the trace's own, but must agree within the trace")
			return
		}
		if st == nt.STATUS_SUCCESS && info > 0 && osize.U < size {
			r.diverge(ev, where, fmt.Sprintf("%d bytes copied", size), fmt.Sprintf("at most OutputSize (%d) bytes", osize.U), doc, "")
			return
		}
		if prev, ok := r.ws.sizes[q.key]; ok && prev != size {
			r.diverge(ev, where, fmt.Sprintf("size %d for the %s", size, blobWhat(q.key)),
				fmt.Sprintf("size %d, the size the trace reported for the same blob earlier", prev), docSpec,
				"opaque sizes are the trace's own, but must agree within the trace")
			return
		}
		r.ws.sizes[q.key] = size
	}
	if !(st == nt.STATUS_SUCCESS && info > 0) || q.out == nil {
		return
	}
	data := q.out.Bytes()
	if uint64(len(data)) >= info {
		data = data[:info]
	}
	bl := &blob{model: append([]byte(nil), data...), size: size}
	if v, ok := ev.OutArg("OutputBuffer"); ok {
		switch {
		case v.Kind == Bind:
			r.ws.blobs[v.Name] = bl
			r.bindObj(v.Name, bl, "")
		case v.Kind == Buf && (v.Buf.Form == BufHex || v.Buf.Form == BufB64):
			if bl.size == 0 {
				bl.size = uint64(len(v.Buf.Data))
			}
			r.ws.byHex[string(v.Buf.Data)] = bl
		}
	}
	if q.drv != nil && !q.drv.Freed() && q.drv != q.out {
		if uint64(len(bl.model)) <= q.drv.Size() {
			copy(q.drv.Bytes(), bl.model)
		}
		r.ws.inBlock[q.drv] = bl
	} else if q.drv == nil && q.out != nil {
		// the model wrote the driver's own block
	}
	if q.out != nil && q.drv == nil {
		if blk, ok := r.poolOf(ev, w); ok {
			r.ws.inBlock[blk] = bl
		}
	}
}

// poolOf is the pool block the call's OutputBuffer named.
func (r *replayer) poolOf(_ *Event, w *wcall) (*irp.Block, bool) {
	v, ok := w.ev.Arg("OutputBuffer")
	if !ok || v.Kind != Buf || v.Buf.Pool == "" {
		return nil, false
	}
	b := r.blockOf(Value{Kind: Name, Name: v.Buf.Pool})
	return b, b != nil
}

func blobWhat(k blobKey) string {
	if k.ctx {
		return "redirect context of " + k.s.Name()
	}
	return "redirect records of " + k.s.Name()
}

// cancelWins answers choice point wsk.cancel for the IoCancelIrp being
// replayed. A cancel that wins completes the IRP with STATUS_CANCELLED from
// its cancel routine, inside IoCancelIrp (the model takes the call's effect
// back at that moment), so the trace shows that complete before
// IoCancelIrp's return. A STATUS_CANCELLED complete shown after the return
// is the cancel routine running late only when nothing else explains it:
// when WskCloseSocket of the call's socket comes first, the cancel lost and
// the close cancelled the call (P-CLOSE); the call's effect (a bind, a
// connection) stayed in place until then, and the calls in between saw it.
func (r *replayer) cancelWins() int {
	const win, lose = 0, 1
	if r.cur == nil || r.cur.ev.Kind != EvCall {
		return win
	}
	iv, _ := r.cur.ev.Arg("Irp")
	if iv.Kind != Name {
		return win
	}
	c := r.findComplete(iv.Name)
	if c == nil || c.ev.Kind != EvComplete {
		return win
	}
	if c.ev.Status != nt.STATUS_CANCELLED {
		return lose
	}
	if ret := r.findReturn(r.cur.ev.Seq); ret == nil || c.ev.Seq < ret.ev.Seq {
		return win
	}
	w := r.ws.calls[iv.Name]
	if w == nil {
		return win
	}
	sv, ok := w.ev.Arg("Socket")
	if !ok || sv.Kind != Name {
		return win
	}
	first := r.scan(func(q *qev) bool {
		if q == c {
			return true
		}
		if q.ev.Kind != EvCall || q.ev.Fn != "WskCloseSocket" {
			return false
		}
		v, _ := q.ev.Arg("Socket")
		return v.Kind == Name && v.Name == sv.Name
	})
	if first != nil && first != c {
		return lose
	}
	return win
}

// finishNotes adds what the replay could not check to the report.
func (r *replayer) finishNotes() {
	if r.standins > 0 {
		r.note(fmt.Sprintf("%d calls were replayed by the IRP-level stand-in (IRP, pool and IRQL rules checked; results not checked)", r.standins))
	}
}
