package wsk

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// SystemPID is the process id of the System process, which owns the sockets
// a kernel client creates with OwningProcess == NULL. It is elevated.
const SystemPID uint32 = 4

// WSK_FLAG_ABORTIVE is the WskDisconnect flag for an abortive disconnect (wsk.h).
const WSK_FLAG_ABORTIVE uint32 = 0x00000001

// Process is a process of the simulated machine: the owner of sockets
// (WskSocket's OwningProcess) and of scripted peers.
type Process struct {
	PID      uint32
	Name     string
	Elevated bool
}

// Config configures a Provider. The zero value is usable.
type Config struct {
	// Engine is the WFP engine every TCP connect is classified by; nil makes
	// a fresh wfp.NewEngine(w).
	Engine *wfp.Engine
	// LocalAddrs are the machine's non-loopback addresses (loopback is always
	// local). Nil means 10.0.0.1 and fd00::1.
	LocalAddrs []netip.Addr
	// RemoteHosts are reachable remote hosts with nothing listening (a connect
	// is refused rather than unreachable). Hosts where a peer listens are
	// reachable anyway.
	RemoteHosts []netip.Addr
	// ReadyAfter is the virtual time at which the WSK subsystem becomes ready:
	// before it, WskCaptureProviderNPI fails with STATUS_DEVICE_NOT_READY or
	// waits. Zero: ready at once.
	ReadyAfter sim.Time
	// Version is the WSK version the provider offers (MAKE_WSK_VERSION);
	// zero means 1.0. A client asking for another major version, or a higher
	// minor one, gets STATUS_NOINTERFACE from WskCaptureProviderNPI.
	Version uint16
	// Backlog bounds the connections a listener holds before they are
	// accepted; further connects are refused. Zero means 64.
	Backlog int
}

// Provider is the WSK subsystem of one simulated machine: registration,
// processes, the network and every socket. Driver code calls its Wsk*
// methods with the DDI's parameters in the DDI's order; harness code drives
// the other end with the Peer* methods. Not safe for concurrent use.
type Provider struct {
	w   *sim.World
	m   *irp.Manager
	e   *wfp.Engine
	ver uint16

	ready bool
	procs []*Process
	regs  []*Registration // ever registered, in order

	socks []*Socket // handle table: handle = index+1; nil once closed
	ops   []*op     // pending ops not tied to a socket (socket creation)
	free  []*op
	// dgFree holds payload buffers of received datagrams for reuse.
	dgFree [][]byte
	// pendOp is the op finish created for the call in progress (nil when
	// it completed inline).
	pendOp *op
	// dial is reused by connects whose classification finishes inline.
	dial *dialing

	net network
	evs *evProvider // event callbacks (events.go)
}

// NewProvider returns the WSK provider of m's world and registers its leak
// checks. The System process (PID 4, elevated) exists from the start.
func NewProvider(m *irp.Manager, cfg Config) (*Provider, error) {
	if m == nil {
		return nil, errors.New("wsk.NewProvider: nil irp.Manager")
	}
	w := m.World()
	if w == nil {
		return nil, errors.New("wsk.NewProvider: the irp.Manager has no world")
	}
	p := &Provider{w: w, m: m, e: cfg.Engine, ver: cfg.Version}
	if p.e == nil {
		p.e = wfp.NewEngine(w)
	} else if p.e.World() != w {
		return nil, errors.New("wsk.NewProvider: the WFP engine belongs to another world")
	}
	if p.ver == 0 {
		p.ver = nt.MAKE_WSK_VERSION(1, 0)
	}
	if err := p.net.init(cfg); err != nil {
		return nil, err
	}
	p.procs = append(p.procs, &Process{PID: SystemPID, Name: "System", Elevated: true})
	if cfg.ReadyAfter <= 0 {
		p.ready = true
	} else {
		w.Schedule(cfg.ReadyAfter, sim.TaskFunc(func() { p.ready = true }))
	}
	w.OnClose(p.checkLeaks)
	return p, nil
}

// World returns the provider's world.
func (p *Provider) World() *sim.World { return p.w }

// Manager returns the I/O manager the provider completes IRPs through.
func (p *Provider) Manager() *irp.Manager { return p.m }

// Engine returns the WFP engine connects are classified by.
func (p *Provider) Engine() *wfp.Engine { return p.e }

// Ready reports whether the WSK subsystem is ready (WskCaptureProviderNPI succeeds).
func (p *Provider) Ready() bool { return p.ready }

// SetReady makes the subsystem ready or not ready from now on.
func (p *Provider) SetReady(ready bool) { p.ready = ready }

// ---- processes ----

// AddProcess adds a process. PIDs are unique; 4 is the System process.
func (p *Provider) AddProcess(pid uint32, name string, elevated bool) (*Process, error) {
	if pid == 0 {
		return nil, errors.New("wsk.AddProcess: PID 0 is the idle process")
	}
	if p.Process(pid) != nil {
		return nil, fmt.Errorf("wsk.AddProcess: PID %d already exists", pid)
	}
	pr := &Process{PID: pid, Name: name, Elevated: elevated}
	p.procs = append(p.procs, pr)
	return pr, nil
}

// Process returns the process with the given PID, or nil.
func (p *Provider) Process(pid uint32) *Process {
	for _, pr := range p.procs {
		if pr.PID == pid {
			return pr
		}
	}
	return nil
}

// System returns the System process (PID 4).
func (p *Provider) System() *Process { return p.procs[0] }

// ---- registration ----

// ClientDispatch is WSK_CLIENT_DISPATCH: the WSK version the client asks for.
type ClientDispatch struct {
	Version        uint16 // MAKE_WSK_VERSION(major, minor)
	Reserved       uint16
	WskClientEvent any // PFN_WSK_CLIENT_EVENT; not modelled
}

// ClientNPI is WSK_CLIENT_NPI.
type ClientNPI struct {
	ClientContext any
	Dispatch      *ClientDispatch
}

// Registration is WSK_REGISTRATION: memory the client provides to
// WskRegister and keeps until WskDeregister returns. Its zero value is ready
// for WskRegister.
type Registration struct {
	p          *Provider
	num        int
	registered bool
	version    uint16
	captures   int
	client     *Client
}

// Name returns the display name ("reg1"), or "NULL".
func (r *Registration) Name() string {
	if r == nil {
		return "NULL"
	}
	if r.num == 0 {
		return "reg?"
	}
	return sim.Name("reg", r.num)
}

// Registered reports whether r is registered.
func (r *Registration) Registered() bool { return r != nil && r.registered }

// Client is WSK_CLIENT: the handle WskCaptureProviderNPI returns, passed to
// WskSocket and WskSocketConnect.
type Client struct {
	reg      *Registration
	num      int
	sockets  int // open sockets
	inflight int // IRPs submitted and not completed
}

// Name returns the display name ("cl1"), or "NULL".
func (c *Client) Name() string {
	if c == nil {
		return "NULL"
	}
	return sim.Name("cl", c.num)
}

// ProviderNPI is WSK_PROVIDER_NPI: the client handle and the provider
// dispatch (this Provider's methods).
type ProviderNPI struct {
	Client   *Client
	Dispatch *Provider
}

func versionString(v uint16) string {
	return fmt.Sprintf("%d.%d", nt.WSK_MAJOR_VERSION(v), nt.WSK_MINOR_VERSION(v))
}

// WskRegister models WskRegister (PASSIVE_LEVEL): it registers the client
// described by npi in the caller-provided registration reg.
func (p *Provider) WskRegister(npi *ClientNPI, reg *Registration) nt.Status {
	f := p.w.Begin("WskRegister")
	if reg != nil && reg.num == 0 {
		reg.num = p.w.NextName("reg") // named traced or not, so names agree
	}
	if p.w.Tracing() {
		var nv sim.Value = sim.Null()
		if npi != nil {
			if npi.Dispatch != nil {
				nv = sim.Object(sim.F("Version", sim.Str(versionString(npi.Dispatch.Version))))
			} else {
				nv = sim.Object(sim.F("Dispatch", sim.Null()))
			}
		}
		rv := sim.Null()
		switch {
		case reg != nil && reg.registered:
			rv = sim.Str(reg.Name()) // registering a live registration again: no new object
		case reg != nil:
			rv = sim.Bind(reg.Name())
		}
		p.w.TraceCall(f, sim.F("WskClientNpi", nv), sim.F("WskRegistration", rv))
	}
	p.w.CheckIRQL(nt.PASSIVE_LEVEL)
	p.fromCompletion()
	switch {
	case npi == nil || npi.Dispatch == nil || reg == nil:
		p.w.Violate(RuleNullArgument, "WskRegister with a NULL WskClientNpi, client dispatch or WskRegistration")
		return p.ret(f, ckRegister, nt.STATUS_INVALID_PARAMETER)
	case reg.registered:
		p.w.Violate(RuleRegisterTwice, "WskRegister on "+reg.Name()+", which is already registered", reg.Name())
		return p.ret(f, ckRegister, nt.STATUS_INVALID_PARAMETER)
	}
	if reg.num == 0 {
		reg.num = p.w.NextName("reg")
	}
	reg.p = p
	reg.registered = true
	reg.version = npi.Dispatch.Version
	reg.captures = 0
	reg.client = nil
	p.addReg(reg)
	return p.ret(f, ckRegister, nt.STATUS_SUCCESS)
}

func (p *Provider) addReg(r *Registration) {
	for _, x := range p.regs {
		if x == r {
			return
		}
	}
	p.regs = append(p.regs, r)
}

type waitSentinel struct{ fired bool }

func (s *waitSentinel) Run() { s.fired = true }

// WskCaptureProviderNPI models WskCaptureProviderNPI (PASSIVE_LEVEL, or
// DISPATCH_LEVEL with WSK_NO_WAIT). WaitTimeout is WSK_NO_WAIT,
// WSK_INFINITE_WAIT or milliseconds of virtual time; waiting runs the
// world's tasks until the subsystem is ready or the time is up. A wait that
// can never end is WSK-CAPTURE-HANG and fails with STATUS_DEVICE_NOT_READY.
func (p *Provider) WskCaptureProviderNPI(reg *Registration, waitTimeout uint32, npi *ProviderNPI) nt.Status {
	f := p.w.Begin("WskCaptureProviderNPI")
	if p.w.Tracing() {
		wt := sim.Int(uint64(waitTimeout))
		switch waitTimeout {
		case nt.WSK_NO_WAIT:
			wt = sim.Str("WSK_NO_WAIT")
		case nt.WSK_INFINITE_WAIT:
			wt = sim.Str("WSK_INFINITE_WAIT")
		}
		p.w.TraceCall(f, sim.F("WskRegistration", sim.Obj(regName(reg))), sim.F("WaitTimeout", wt), sim.F("WskProviderNpi", ptrArg(npi != nil)))
	}
	if waitTimeout == nt.WSK_NO_WAIT {
		p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	} else {
		p.w.CheckIRQL(nt.PASSIVE_LEVEL)
	}
	p.fromCompletion()
	switch {
	case reg == nil || npi == nil:
		p.w.Violate(RuleNullArgument, "WskCaptureProviderNPI with a NULL WskRegistration or WskProviderNpi")
		return p.ret(f, ckCapture, nt.STATUS_INVALID_PARAMETER)
	case !reg.registered || reg.p != p:
		p.w.Violate(RuleNotRegistered, "WskCaptureProviderNPI on "+reg.Name()+", which is not registered", reg.Name())
		return p.ret(f, ckCapture, nt.STATUS_INVALID_PARAMETER)
	}
	if !p.ready && waitTimeout != nt.WSK_NO_WAIT {
		var sent *waitSentinel
		if waitTimeout != nt.WSK_INFINITE_WAIT {
			sent = &waitSentinel{}
			p.w.Schedule(time.Duration(waitTimeout)*time.Millisecond, sent)
		}
		for !p.ready && reg.registered && (sent == nil || !sent.fired) {
			if !p.w.Step() {
				break
			}
		}
		if !p.ready && sent == nil && reg.registered && p.w.Halted() == nil {
			p.w.Violate(RuleCaptureHang, "WskCaptureProviderNPI(WSK_INFINITE_WAIT) on "+reg.Name()+" would wait forever: nothing left in the world makes the WSK subsystem ready", reg.Name())
		}
	}
	if !p.ready || !reg.registered {
		return p.ret(f, ckCapture, nt.STATUS_DEVICE_NOT_READY)
	}
	if nt.WSK_MAJOR_VERSION(reg.version) != nt.WSK_MAJOR_VERSION(p.ver) || nt.WSK_MINOR_VERSION(reg.version) > nt.WSK_MINOR_VERSION(p.ver) {
		return p.ret(f, ckCapture, nt.STATUS_NOINTERFACE)
	}
	bind := false
	if reg.client == nil {
		reg.client = &Client{reg: reg, num: p.w.NextName("cl")}
		bind = true
	}
	reg.captures++
	npi.Client = reg.client
	npi.Dispatch = p
	p.check(ckCapture, nt.STATUS_SUCCESS)
	if !p.w.Tracing() {
		p.w.Return(f, nt.STATUS_SUCCESS)
		return nt.STATUS_SUCCESS
	}
	cv := sim.Str(reg.client.Name())
	if bind {
		cv = sim.Bind(reg.client.Name())
	}
	p.w.Return(f, nt.STATUS_SUCCESS, sim.F("WskProviderNpi", sim.Object(sim.F("Client", cv))))
	return nt.STATUS_SUCCESS
}

// WskReleaseProviderNPI models WskReleaseProviderNPI (IRQL <= DISPATCH_LEVEL).
func (p *Provider) WskReleaseProviderNPI(reg *Registration) {
	f := p.w.Begin("WskReleaseProviderNPI")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("WskRegistration", sim.Obj(regName(reg))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	switch {
	case reg == nil:
		p.w.Violate(RuleNullArgument, "WskReleaseProviderNPI with a NULL WskRegistration")
	case !reg.registered || reg.p != p:
		p.w.Violate(RuleNotRegistered, "WskReleaseProviderNPI on "+reg.Name()+", which is not registered", reg.Name())
	case reg.captures == 0:
		p.w.Violate(RuleReleaseUnbalanced, "WskReleaseProviderNPI on "+reg.Name()+" without an unreleased WskCaptureProviderNPI", reg.Name())
	default:
		reg.captures--
	}
	p.w.ReturnVoid(f)
}

// WskDeregister models WskDeregister (PASSIVE_LEVEL). It waits, running the
// world's tasks in virtual time, until every captured NPI is released, every
// socket of the client is closed and every IRP submitted through it is
// completed. A wait that can never end is WSK-DEREGISTER-HANG: the call then
// returns (instead of hanging) and the registration stays registered.
func (p *Provider) WskDeregister(reg *Registration) {
	f := p.w.Begin("WskDeregister")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("WskRegistration", sim.Obj(regName(reg))))
	}
	p.w.CheckIRQL(nt.PASSIVE_LEVEL)
	p.fromCompletion()
	switch {
	case reg == nil:
		p.w.Violate(RuleNullArgument, "WskDeregister with a NULL WskRegistration")
	case !reg.registered || reg.p != p:
		p.w.Violate(RuleNotRegistered, "WskDeregister on "+reg.Name()+", which is not registered", reg.Name())
	default:
		busy := func() bool {
			c := reg.client
			return reg.captures > 0 || (c != nil && (c.sockets > 0 || c.inflight > 0))
		}
		for steps := 0; busy() && steps < 1_000_000; steps++ {
			if !p.w.Step() {
				break
			}
		}
		if busy() {
			if p.w.Halted() == nil {
				c := reg.client
				var socks, irps int
				if c != nil {
					socks, irps = c.sockets, c.inflight
				}
				p.w.Violate(RuleDeregisterHang, fmt.Sprintf("WskDeregister on %s would wait forever: %d captured NPI(s) not released, %d socket(s) open, %d IRP(s) not completed", reg.Name(), reg.captures, socks, irps), reg.Name())
			}
		} else {
			reg.registered = false
		}
	}
	p.w.ReturnVoid(f)
}

func regName(r *Registration) string {
	if r == nil {
		return ""
	}
	if r.num == 0 {
		return "reg?"
	}
	return r.Name()
}

func ptrArg(nonNil bool) sim.Value { return sim.Ptr(nonNil) }

// clientUsable checks a WSK_CLIENT handed to WskSocket/WskSocketConnect.
// Windows answers a NULL Client with STATUS_INVALID_HANDLE and no bug check
// (driver_netio.c test_wsk_listen_socket), after the NULL-Irp check.
func (p *Provider) clientUsable(c *Client, fn string) bool {
	if c == nil {
		p.w.Violate(RuleNullClient, fn+" with a NULL Client")
		return false
	}
	if c.reg == nil || c.reg.p != p || !c.reg.registered || c.reg.captures == 0 {
		p.w.Violate(RuleNPIReleased, fn+" with "+c.Name()+", whose provider NPI is not captured", c.Name())
		return false
	}
	return true
}

// ---- leak checks ----

func (p *Provider) checkLeaks() {
	for _, s := range p.socks {
		if s != nil {
			p.w.Violate(RuleSocketLeak, s.Name()+" was never closed", s.Name())
		}
	}
	for _, r := range p.regs {
		if !r.registered {
			continue
		}
		if r.captures > 0 {
			p.w.Violate(RuleNPILeak, fmt.Sprintf("%s: %d WskCaptureProviderNPI without WskReleaseProviderNPI", r.Name(), r.captures), r.Name())
		}
		p.w.Violate(RuleRegistrationLeak, r.Name()+" was never deregistered", r.Name())
	}
}

// ---- calls, completions and pending operations ----

// fromCompletion reports WSK-CALL-FROM-COMPLETION when a completion routine
// is running.
func (p *Provider) fromCompletion() {
	if p.w.InCompletion() {
		f, _ := p.w.Current()
		p.w.Violate(RuleCallFromCompletion, f.Fn+" called from inside a completion routine")
	}
}

// check panics when the model is about to report a status not documented
// for the call: that is a bug in wsksim, not in the driver.
func (p *Provider) check(k callKey, st nt.Status) {
	if !allowed(k, st) {
		panic("wsk: internal: " + callNames[k] + " about to return undocumented " + st.String())
	}
}

func (p *Provider) ret(f sim.Frame, k callKey, st nt.Status) nt.Status {
	p.check(k, st)
	p.w.Return(f, st)
	return st
}

// outs are the out-parameters written when an IRP completes.
type outs struct {
	osr    *uint64 // OutputSizeReturned
	osrV   uint64
	la     *netip.AddrPort // LocalAddress
	laV    netip.AddrPort
	ra     *netip.AddrPort // RemoteAddress
	raV    netip.AddrPort
	sock   *Socket // handed over through Information on success
	outBuf []byte  // bytes delivered to OutputBuffer (trace only)
	// WskReceiveFrom's ControlLength, ControlFlags and the control
	// information delivered (trace only).
	ctlLen    *uint32
	ctlLenV   uint32
	ctlFlags  *uint32
	ctlFlagsV uint32
	ctlOut    []byte
}

type opKind uint8

const (
	opTimed       opKind = iota // completes at a scheduled time with a status decided at call time
	opAccept                    // waits for a connection
	opReceive                   // waits for data
	opDial                      // waits for a classify a callout pended (WskConnect, WskSocketConnect)
	opReceiveFrom               // waits for a datagram (WskReceiveFrom)
)

// waitsForNetwork reports whether serve satisfies o.
func (o *op) waitsForNetwork() bool {
	return o.kind == opAccept || o.kind == opReceive || o.kind == opReceiveFrom
}

// op is a pending IRP the provider holds.
type op struct {
	p          *Provider
	i          *irp.IRP
	s          *Socket
	cl         *Client
	k          callKey
	kind       opKind
	st         nt.Status
	info       uint64
	o          outs
	buf        Buf
	ctl        *irp.Block // WskReceiveFrom's ControlInfo
	ctlCap     uint32     // and its size
	ctx, disp  any        // WskAccept's AcceptSocketContext / AcceptSocketDispatch
	undoRecs   bool
	recGen     uint32
	dial       *dialing // opDial
	done       bool
	scheduled  bool
	cancelable bool
	cancelFn   irp.CancelRoutine
}

// Run completes a timed op at its time.
func (o *op) Run() {
	o.p.evWaitCheck()
	o.scheduled = false
	if o.done {
		o.p.recycle(o)
		return
	}
	o.p.completeOp(o, o.st, o.info)
}

func (o *op) cancel(i *irp.IRP) {
	p := o.p
	if o.done || o.i != i {
		return
	}
	if o.kind == opTimed {
		win := true
		switch p.w.PolicyName(PolicyCancel) {
		case "ignore":
			win = false
		case "choice":
			win = p.w.Choose(ChoiceCancel, 2) == 0
		}
		if !win || !p.takeBack(o) {
			return // the call completes normally at its time
		}
	}
	p.completeOp(o, nt.STATUS_CANCELLED, 0)
}

// takeBack undoes the effect of a pending call whose cancel won the race,
// and reports false when the call can no longer be taken back (it then
// completes normally, which IoCancelIrp allows):
//
//   - SET: the records go (unless a later SET replaced them);
//   - WskBind: the address is released, while nothing else (a connect, a
//     pending accept, a queued connection, a datagram flow or a received
//     datagram) depends on it;
//   - WskConnect: the connection is reset, while no other call waits on it;
//   - WskSend: bytes already went out, so the connection is reset (what TCP
//     does with a cancelled send);
//   - WskSocket, WskSocketConnect, WskAccept: the new socket is closed (a
//     non-success completion destroys it); address and option queries have
//     nothing to undo;
//   - WskListen, WskReceive and WskReceiveFrom (the data is in the buffer
//     already), WskSendTo that succeeded (the datagram is gone), WskDisconnect
//     (FIN sent) and WskCloseSocket cannot be taken back.
func (p *Provider) takeBack(o *op) bool {
	s := o.s
	switch o.k {
	case ckCtlSet:
		if o.undoRecs && s != nil && s.recGen == o.recGen {
			s.records = s.records[:0]
			s.flags &^= sfRecords
		}
		return true
	case ckBind:
		if o.st != nt.STATUS_SUCCESS {
			return true
		}
		if s == nil || s.flags&(sfBound|sfClosed|sfConnectIssued) != sfBound || len(s.ops) > 1 || (s.lst != nil && len(s.lst.backlog) > 0) ||
			(s.dg != nil && (len(s.dg.flows) > 0 || len(s.dg.rx) > 0)) {
			return false // a connection, a datagram flow or a datagram depends on the address
		}
		if l := s.lst; l != nil {
			if p.net.listeners[l.addr] == l {
				delete(p.net.listeners, l.addr)
			}
			s.lst = nil
			s.flags &^= sfListening
		}
		p.net.unbind(s.flags&sfUDP != 0, s.local.Port(), s)
		s.flags &^= sfBound
		s.local = netip.AddrPort{}
		return true
	case ckConnect:
		if o.st != nt.STATUS_SUCCESS {
			return true
		}
		if s == nil || s.end == nil || len(s.ops) > 1 {
			return false
		}
		e := s.end
		p.abort(e)
		e.sock = nil
		p.release(e)
		s.end = nil
		return true
	case ckSend:
		if o.st == nt.STATUS_SUCCESS && o.info > 0 && s != nil && s.end != nil && !s.end.rst {
			e := s.end
			p.abort(e)
			e.rst = true
			p.kick(e)
		}
		return true
	case ckSendTo:
		return o.st != nt.STATUS_SUCCESS // a datagram that went out cannot be taken back
	case ckSocket, ckSocketConnect, ckAccept, ckGetLocal, ckGetRemote, ckCtlQueryRec, ckCtlQueryCtx, ckCtlOption, ckCtlIoctl:
		return true
	}
	return false
}

func (p *Provider) newOp(kind opKind, i *irp.IRP, s *Socket, cl *Client, k callKey) *op {
	var o *op
	if n := len(p.free); n > 0 {
		o = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		o = &op{p: p}
		o.cancelFn = o.cancel
	}
	o.kind, o.i, o.s, o.cl, o.k = kind, i, s, cl, k
	if s != nil {
		s.ops = append(s.ops, o)
	} else {
		p.ops = append(p.ops, o)
	}
	return o
}

func (p *Provider) recycle(o *op) {
	if o.scheduled {
		return // Run recycles it
	}
	cf := o.cancelFn
	*o = op{p: p, cancelFn: cf}
	p.free = append(p.free, o)
}

func removeOp(list []*op, o *op) []*op {
	for k, x := range list {
		if x == o {
			copy(list[k:], list[k+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// completeOp finishes pending op o with st.
func (p *Provider) completeOp(o *op, st nt.Status, info uint64) {
	o.done = true
	if d := o.dial; d != nil {
		d.op, o.dial = nil, nil // the classify, when it completes, finds no IRP
		if d.s != nil {
			d.s.flags &^= sfDialing
		}
	}
	if o.s != nil {
		o.s.ops = removeOp(o.s.ops, o)
	} else {
		p.ops = removeOp(p.ops, o)
	}
	p.deliver(o.i, o.cl, o.k, st, info, &o.o)
	p.recycle(o)
}

// submit hands IRP i to the call in progress; false means the IRP is
// unusable and the call must return badIRP() without completing it.
func (p *Provider) submit(i *irp.IRP, fn string, cl *Client) bool {
	if i == nil {
		p.w.Violate(RuleNullIRP, fn+" with a NULL Irp")
		return false
	}
	if !p.m.Submit(i, fn) {
		return false
	}
	if cl != nil {
		cl.inflight++
	}
	return true
}

func (p *Provider) badIRP() nt.Status {
	if p.w.PolicyName(PolicyBadIRP) == "STATUS_INVALID_HANDLE" {
		return nt.STATUS_INVALID_HANDLE
	}
	return nt.STATUS_INVALID_PARAMETER
}

// deliver writes the out-parameters and completes i.
func (p *Provider) deliver(i *irp.IRP, cl *Client, k callKey, st nt.Status, info uint64, o *outs) {
	p.check(k, st)
	if cl != nil {
		cl.inflight--
	}
	bind := ""
	if o != nil {
		if o.osr != nil {
			*o.osr = o.osrV
		}
		// A datagram truncated under P-DGTRUNC=STATUS_BUFFER_OVERFLOW still
		// delivers its outputs (the NT warning for a partial copy).
		outOK := st.IsSuccess() || st == nt.STATUS_BUFFER_OVERFLOW
		if outOK {
			if o.ctlLen != nil {
				*o.ctlLen = o.ctlLenV
			}
			if o.ctlFlags != nil {
				*o.ctlFlags = o.ctlFlagsV
			}
		}
		if outOK {
			if o.la != nil {
				*o.la = o.laV
			}
			if o.ra != nil {
				*o.ra = o.raV
			}
			if o.sock != nil {
				bind = o.sock.Name()
				info = o.sock.handle
			}
		} else if o.sock != nil {
			p.destroy(o.sock)
			info = 0
		}
		if p.w.Tracing() {
			var fs []sim.Field
			if st.IsSuccess() && o.outBuf != nil {
				fs = append(fs, sim.F("OutputBuffer", sim.Hex(o.outBuf, "")))
			}
			if o.osr != nil {
				fs = append(fs, sim.F("OutputSizeReturned", sim.Int(o.osrV)))
			}
			if st.IsSuccess() && o.la != nil {
				fs = append(fs, sim.F("LocalAddress", sim.Str(o.laV.String())))
			}
			if outOK && o.ra != nil {
				fs = append(fs, sim.F("RemoteAddress", sim.Str(o.raV.String())))
			}
			if outOK && o.ctlLen != nil {
				fs = append(fs, sim.F("ControlLength", sim.Int(uint64(o.ctlLenV))))
				if len(o.ctlOut) > 0 {
					fs = append(fs, sim.F("ControlInfo", sim.Hex(o.ctlOut, "")))
				}
			}
			if outOK && o.ctlFlags != nil {
				fs = append(fs, sim.F("ControlFlags", sim.Int(uint64(o.ctlFlagsV))))
			}
			if bind != "" || fs != nil {
				p.m.TraceDetail(i, bind, fs...)
			}
		}
	}
	p.m.Complete(i, st, info)
}

// inline decides whether a call in family label completes before returning.
func (p *Provider) inline(label string) bool {
	switch p.w.PolicyName(PolicySync) {
	case "inline":
		return true
	case "pending":
		return false
	}
	return p.w.Choose(label, 2) == 0
}

// finish completes i for the call in progress with st: inline (returning st)
// or pending (returning STATUS_PENDING; the completion runs after the
// manager's PendingDelay). A pending IRP always has a cancel routine, so
// IoCancelIrp returns TRUE for it (what the cancel does: P-CANCEL and
// takeBack).
func (p *Provider) finish(i *irp.IRP, k callKey, label string, s *Socket, cl *Client, st nt.Status, info uint64, o *outs) nt.Status {
	p.check(k, st)
	if p.inline(label) {
		p.deliver(i, cl, k, st, info, o)
		return st
	}
	op := p.newOp(opTimed, i, s, cl, k)
	op.st, op.info = st, info
	if o != nil {
		op.o = *o
	}
	p.m.MarkPending(i)
	op.cancelable = true
	p.m.SetCancelRoutine(i, op.cancelFn)
	op.scheduled = true
	p.pendOp = op
	p.w.Schedule(p.m.PendingDelay, op)
	return nt.STATUS_PENDING
}

// wait parks i on socket s until the network satisfies it.
func (p *Provider) wait(kind opKind, i *irp.IRP, k callKey, s *Socket, o *outs) *op {
	op := p.newOp(kind, i, s, s.cl, k)
	if o != nil {
		op.o = *o
	}
	p.m.MarkPending(i)
	op.cancelable = true
	p.m.SetCancelRoutine(i, op.cancelFn)
	return op
}

// SocketFromInformation returns the socket whose handle a WskSocket,
// WskSocketConnect or WskAccept IRP carried in IoStatus.Information, or nil
// (unknown handle, or the socket is closed).
func (p *Provider) SocketFromInformation(info uint64) *Socket {
	if info == 0 || info > uint64(len(p.socks)) {
		return nil
	}
	return p.socks[info-1]
}

// OpenSockets returns how many sockets are open.
func (p *Provider) OpenSockets() int {
	n := 0
	for _, s := range p.socks {
		if s != nil {
			n++
		}
	}
	return n
}
