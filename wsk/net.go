package wsk

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// The simulated network: one machine (the one under test) with loopback and
// a configurable set of local addresses, remote hosts reachable through
// peers, TCP port bindings with the documented sharing rules, listeners with
// backlogs, and connections carrying ordered byte streams.

const (
	ephemeralFirst = 49152
	ephemeralLast  = 65535
)

type bindKey struct {
	udp  bool
	port uint16
}

// binding is one local transport address in use.
type binding struct {
	addr    netip.Addr // unspecified: wildcard
	v6only  bool
	reuse   bool
	excl    bool
	shareSD bool // the owner's security descriptor permits sharing (CHECK succeeds)
	owner   any  // *Socket, *PeerListener or *PeerConn
}

type network struct {
	local     []netip.Addr
	hosts     map[netip.Addr]bool
	binds     map[bindKey][]*binding
	listeners map[netip.AddrPort]*listener
	udpRemote map[netip.AddrPort]*PeerUDP // remote hosts' UDP endpoints
	nextPort  int
	backlog   int
}

func (n *network) init(cfg Config) error {
	n.local = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")}
	if cfg.LocalAddrs != nil {
		n.local = n.local[:0]
		for _, a := range cfg.LocalAddrs {
			if !a.IsValid() || a.IsUnspecified() {
				return fmt.Errorf("wsk.NewProvider: invalid local address %v", a)
			}
			n.local = append(n.local, a.Unmap())
		}
	}
	n.hosts = map[netip.Addr]bool{}
	for _, a := range cfg.RemoteHosts {
		if !a.IsValid() {
			return fmt.Errorf("wsk.NewProvider: invalid remote host %v", a)
		}
		n.hosts[a.Unmap()] = true
	}
	n.binds = map[bindKey][]*binding{}
	n.listeners = map[netip.AddrPort]*listener{}
	n.udpRemote = map[netip.AddrPort]*PeerUDP{}
	n.nextPort = ephemeralFirst
	n.backlog = cfg.Backlog
	if n.backlog <= 0 {
		n.backlog = 64
	}
	return nil
}

// isLocal reports whether a is an address of the machine under test.
func (n *network) isLocal(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	for _, l := range n.local {
		if l == a {
			return true
		}
	}
	return false
}

// AddLocalAddress adds an address to the machine under test.
func (p *Provider) AddLocalAddress(a netip.Addr) error {
	if !a.IsValid() || a.IsUnspecified() {
		return fmt.Errorf("wsk.AddLocalAddress: invalid address %v", a)
	}
	a = a.Unmap()
	if !p.net.isLocal(a) {
		p.net.local = append(p.net.local, a)
	}
	return nil
}

// AddRemoteHost makes a remote host reachable (a connect to a port nobody
// listens on is then refused instead of unreachable).
func (p *Provider) AddRemoteHost(a netip.Addr) error {
	if !a.IsValid() || a.IsUnspecified() {
		return fmt.Errorf("wsk.AddRemoteHost: invalid address %v", a)
	}
	p.net.hosts[a.Unmap()] = true
	return nil
}

// LocalAddresses returns the machine's non-loopback addresses.
func (p *Provider) LocalAddresses() []netip.Addr { return append([]netip.Addr(nil), p.net.local...) }

// overlap reports whether binding b covers address a (same port assumed).
func overlap(b *binding, a netip.Addr, aV6only bool) bool {
	if b.addr == a {
		return true
	}
	cover := func(w netip.Addr, wV6only bool, x netip.Addr) bool {
		if !w.IsUnspecified() {
			return false
		}
		if w.Is4() == x.Is4() {
			return true
		}
		return w.Is6() && x.Is4() && !wV6only
	}
	return cover(b.addr, b.v6only, a) || cover(a, aV6only, b.addr)
}

type bindOpts struct {
	reuse, excl, v6only, shareSD bool
}

// sharing applies the table of "Sharing Transport Addresses" to a second
// bind of (a, opts) against an existing binding b.
func sharing(b *binding, a netip.Addr, o bindOpts) nt.Status {
	const (
		ok     = nt.STATUS_SUCCESS
		inuse  = nt.STATUS_ADDRESS_ALREADY_EXISTS
		denied = nt.STATUS_ACCESS_DENIED
	)
	check := func() nt.Status {
		if b.shareSD {
			return ok
		}
		return denied
	}
	firstW, secondW := b.addr.IsUnspecified(), a.IsUnspecified()
	col := 0 // first bind: default
	if b.reuse {
		col = 1
	} else if b.excl {
		col = 2
	}
	row := 0
	if o.reuse {
		row = 1
	} else if o.excl {
		row = 2
	}
	// table[row][col][secondW?0:1][firstW?0:1]; CHECK is -1.
	type cell [2][2]int8
	const C = -1
	const I, D, S = 1, 2, 0
	table := [3][3]cell{
		{ // second: default
			{{I, S}, {C, I}},
			{{I, S}, {C, D}},
			{{I, S}, {D, I}},
		},
		{ // second: SO_REUSEADDR
			{{D, S}, {C, D}},
			{{S, S}, {S, S}},
			{{D, S}, {D, D}},
		},
		{ // second: SO_EXCLUSIVEADDRUSE
			{{I, I}, {C, I}},
			{{I, I}, {C, I}},
			{{I, I}, {D, I}},
		},
	}
	si, fi := 1, 1
	if secondW {
		si = 0
	}
	if firstW {
		fi = 0
	}
	switch table[row][col][si][fi] {
	case S:
		return ok
	case I:
		return inuse
	case D:
		return denied
	}
	return check()
}

// bind reserves (a, port) for owner. Port 0 picks an ephemeral port.
func (n *network) bind(udp bool, a netip.Addr, port uint16, o bindOpts, owner any) (uint16, nt.Status) {
	if port == 0 {
		for tries := 0; tries <= ephemeralLast-ephemeralFirst; tries++ {
			cand := uint16(n.nextPort)
			n.nextPort++
			if n.nextPort > ephemeralLast {
				n.nextPort = ephemeralFirst
			}
			if len(n.binds[bindKey{udp, cand}]) == 0 {
				port = cand
				break
			}
		}
		if port == 0 {
			return 0, nt.STATUS_TOO_MANY_ADDRESSES
		}
	} else {
		for _, b := range n.binds[bindKey{udp, port}] {
			if !overlap(b, a, o.v6only) {
				continue
			}
			if st := sharing(b, a, o); st != nt.STATUS_SUCCESS {
				return 0, st
			}
		}
	}
	k := bindKey{udp, port}
	n.binds[k] = append(n.binds[k], &binding{addr: a, v6only: o.v6only, reuse: o.reuse, excl: o.excl, shareSD: o.shareSD, owner: owner})
	return port, nt.STATUS_SUCCESS
}

func (n *network) unbind(udp bool, port uint16, owner any) {
	k := bindKey{udp, port}
	list := n.binds[k]
	for i, b := range list {
		if b.owner == owner {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.binds, k)
	} else {
		n.binds[k] = list
	}
}

// source picks the local address the stack uses to reach dst.
func (n *network) source(dst netip.Addr) (netip.Addr, bool) {
	if dst.IsLoopback() || (dst.IsUnspecified()) {
		if dst.Is4() {
			return netip.MustParseAddr("127.0.0.1"), true
		}
		return netip.IPv6Loopback(), true
	}
	if n.isLocal(dst) {
		return dst, true
	}
	for _, l := range n.local {
		if l.Is4() == dst.Is4() {
			return l, true
		}
	}
	return netip.Addr{}, false
}

// ---- listeners and connections ----

type listener struct {
	addr    netip.AddrPort
	v6only  bool
	sock    *Socket
	peer    *PeerListener
	backlog []*end // accepted by the stack, not yet by WskAccept
}

func (n *network) findListener(dst netip.AddrPort) *listener {
	if l := n.listeners[dst]; l != nil {
		return l
	}
	if dst.Addr().Is4() {
		if l := n.listeners[netip.AddrPortFrom(netip.IPv4Unspecified(), dst.Port())]; l != nil {
			return l
		}
		if l := n.listeners[netip.AddrPortFrom(netip.IPv6Unspecified(), dst.Port())]; l != nil && !l.v6only {
			return l
		}
		return nil
	}
	return n.listeners[netip.AddrPortFrom(netip.IPv6Unspecified(), dst.Port())]
}

// conn is one TCP connection; ends[0] connected, ends[1] was accepted.
type conn struct {
	ends       [2]end
	flow       wfp.FlowID
	redirected bool
	records    []byte // what the accepting side's QUERY_RECORDS answers
	context    []byte // what its QUERY_CONTEXT answers
	open       int
}

// end is one side of a connection.
type end struct {
	c             *conn
	side          uint8
	local, remote netip.AddrPort
	rx            []byte
	rxFin, rst    bool // FIN / RST received
	txFin         bool // FIN sent
	released      bool // socket closed / peer connection closed
	sock          *Socket
	pc            *PeerConn
}

func (e *end) other() *end { return &e.c.ends[1-e.side] }

// release marks e gone; the flow ends with its last end.
func (p *Provider) release(e *end) {
	if e.released {
		return
	}
	e.released = true
	e.rx = nil
	e.c.open--
	if e.c.open == 0 && e.c.flow != 0 {
		p.e.EndFlow(e.c.flow)
		e.c.flow = 0
	}
}

// abort resets the connection from e's side: the other end sees RST.
func (p *Provider) abort(e *end) {
	o := e.other()
	if !o.released && !o.rst {
		o.rst = true
		p.kick(o)
	}
	e.txFin = true
}

// fin sends FIN from e.
func (p *Provider) fin(e *end) {
	if e.txFin {
		return
	}
	e.txFin = true
	o := e.other()
	if !o.released {
		o.rxFin = true
		p.kick(o)
	}
}

// transmit appends data to the other end's receive queue.
func (p *Provider) transmit(e *end, data []byte) {
	o := e.other()
	if o.released || o.rst {
		return
	}
	o.rx = append(o.rx, data...)
	p.kick(o)
}

// kick schedules service of the waiting receives of e's socket.
func (p *Provider) kick(e *end) {
	if e.sock != nil {
		p.kickSocket(e.sock)
	}
}

type serveTask Socket

func (t *serveTask) Run() {
	s := (*Socket)(t)
	s.flags &^= sfKicked
	s.p.evWaitCheck()
	s.p.serve(s)
}

func (p *Provider) kickSocket(s *Socket) {
	p.evKick(s)
	if s.flags&(sfKicked|sfClosed) != 0 {
		return
	}
	has := false
	for _, o := range s.ops {
		if o.waitsForNetwork() {
			has = true
			break
		}
	}
	if !has {
		return
	}
	s.flags |= sfKicked
	p.w.Schedule(0, (*serveTask)(s))
}

type origin struct {
	name     string
	pid      uint32
	local    netip.AddrPort // may have an unspecified address
	records  []byte
	classify bool
}

// dialSource picks the source address of a connect.
func (p *Provider) dialSource(org origin, remote netip.AddrPort) (netip.Addr, nt.Status) {
	src := org.local.Addr()
	if src.IsUnspecified() || !src.IsValid() {
		a, ok := p.net.source(remote.Addr())
		if !ok {
			return netip.Addr{}, nt.STATUS_NETWORK_UNREACHABLE
		}
		src = a
	}
	return src, nt.STATUS_SUCCESS
}

func (p *Provider) dialRequest(org origin, src netip.Addr, remote netip.AddrPort) wfp.ConnectRequest {
	return wfp.ConnectRequest{Socket: org.name, ProcessID: org.pid, Local: netip.AddrPortFrom(src, org.local.Port()), Remote: remote, Records: org.records}
}

// dialFinish applies WFP's verdict res (the zero result when the connect
// was not classified) and makes the connection.
func (p *Provider) dialFinish(org origin, src netip.Addr, remote netip.AddrPort, res *wfp.ConnectResult) (*end, nt.Status) {
	n := &p.net
	dst := remote
	if res.Blocked {
		p.endFlow(res.Flow)
		return nil, nt.STATUS_ACCESS_DENIED
	}
	if res.Redirected && res.Remote.IsValid() {
		dst = res.Remote
		if dst.Addr().IsLoopback() != src.IsLoopback() && org.local.Addr().IsUnspecified() {
			if a, ok := n.source(dst.Addr()); ok {
				src = a
			}
		}
	}
	if res.Local.IsValid() {
		// A callout rewrote the source at ALE_CONNECT_REDIRECT (a
		// split-tunnel driver moving the connection to another interface):
		// it leaves from that address when the machine has it.
		if a := res.Local.Addr().Unmap(); n.isLocal(a) || a.IsLoopback() {
			src = a
		} else {
			p.w.Violate(wfp.RuleLocalAddressChanged, fmt.Sprintf("a callout rewrote the source of %s's connect to %v at ALE_CONNECT_REDIRECT, which is not an address of the machine; the connection leaves from %v", org.name, res.Local, src), org.name)
		}
	}
	l := n.findListener(dst)
	if l == nil || len(l.backlog) >= n.backlog {
		p.endFlow(res.Flow)
		if l != nil || n.isLocal(dst.Addr()) || n.hosts[dst.Addr()] || n.hostListens(dst.Addr()) {
			return nil, nt.STATUS_CONNECTION_REFUSED
		}
		return nil, nt.STATUS_HOST_UNREACHABLE
	}
	c := &conn{flow: res.Flow, redirected: res.Redirected, open: 2}
	if res.Redirected {
		if res.Records != nil {
			c.records = append([]byte(nil), res.Records...)
		}
		if res.Context != nil {
			c.context = append([]byte(nil), res.Context...)
		}
	}
	local := netip.AddrPortFrom(src, org.local.Port())
	c.ends[0] = end{c: c, side: 0, local: local, remote: remote}
	c.ends[1] = end{c: c, side: 1, local: dst, remote: local}
	p.arrive(l, &c.ends[1])
	return &c.ends[0], nt.STATUS_SUCCESS
}

// dialing is a socket's connect whose classification a callout pended
// (FwpsPendClassify0): its IRP pends until FwpsCompleteClassify0.
type dialing struct {
	p       *Provider
	s       *Socket
	org     origin
	src     netip.Addr
	remote  netip.AddrPort
	started bool // ClassifyConnectAsync returned
	res     *wfp.ConnectResult
	op      *op                      // the pending IRP; nil once it completed (cancelled, socket closed)
	done    func(*wfp.ConnectResult) // d.classified, made once
}

// classified is the wfp done callback.
func (d *dialing) classified(res *wfp.ConnectResult) {
	if !d.started {
		d.res = res // decided inline
		return
	}
	p, o := d.p, d.op
	d.s.flags &^= sfDialing
	if o == nil {
		// The IRP is gone (IoCancelIrp, WskCloseSocket): no connection.
		if !res.Blocked {
			p.endFlow(res.Flow)
		}
		return
	}
	d.op, o.dial = nil, nil
	e, st := p.dialFinish(d.org, d.src, d.remote, res)
	if st == nt.STATUS_SUCCESS {
		e.sock = d.s
		d.s.end = e
	}
	// Complete like any pended call, after the manager's PendingDelay
	// (not inside the callout's FwpsCompleteClassify0).
	o.kind, o.st, o.info = opTimed, st, 0
	o.scheduled = true
	p.w.Schedule(p.m.PendingDelay, o)
}

func (p *Provider) endFlow(id wfp.FlowID) {
	if id != 0 {
		p.e.EndFlow(id)
	}
}

func (n *network) hostListens(a netip.Addr) bool {
	for ap := range n.listeners {
		if ap.Addr() == a {
			return true
		}
	}
	return false
}

// arrive hands the accepting end of a new connection to listener l.
func (p *Provider) arrive(l *listener, e *end) {
	if l.peer != nil {
		pc := &PeerConn{p: p, proc: l.peer.proc, name: sim.Name("peer", p.w.NextName("peer")), e: e}
		e.pc = pc
		l.peer.accepted = append(l.peer.accepted, pc)
		return
	}
	l.backlog = append(l.backlog, e)
	p.kickSocket(l.sock)
}

// ---- scripted peers ----

// PeerListener is a user-mode program's listening socket.
type PeerListener struct {
	p        *Provider
	proc     *Process
	addr     netip.AddrPort
	l        *listener
	accepted []*PeerConn
	closed   bool
}

// PeerConn is a user-mode program's connected socket (either side).
type PeerConn struct {
	p    *Provider
	proc *Process
	name string
	e    *end
	port uint16 // ephemeral port it bound, 0 if none
	// st is the connect's status: STATUS_PENDING while a callout holds its
	// classify pended (FwpsPendClassify0), then how it ended.
	st nt.Status
}

// Status returns the status of the peer's connect: STATUS_SUCCESS once
// connected, STATUS_PENDING while a callout holds its classify pended
// (FwpsPendClassify0; the connect goes on when FwpsCompleteClassify0
// completes it), or the status it failed with after that.
func (pc *PeerConn) Status() nt.Status {
	if pc == nil {
		return nt.STATUS_INVALID_HANDLE
	}
	return pc.st
}

// Name returns the peer connection's display name.
func (pc *PeerConn) Name() string {
	if pc == nil {
		return "NULL"
	}
	return pc.name
}

// usable reports whether pc is a connection made by the provider (not nil,
// not a zero PeerConn).
func (pc *PeerConn) usable() bool { return pc != nil && pc.e != nil && pc.p != nil }

// Local returns the peer's local address.
func (pc *PeerConn) Local() netip.AddrPort {
	if !pc.usable() {
		return netip.AddrPort{}
	}
	return pc.e.local
}

// Remote returns the address the peer believes it is connected to.
func (pc *PeerConn) Remote() netip.AddrPort {
	if !pc.usable() {
		return netip.AddrPort{}
	}
	return pc.e.remote
}

func (p *Provider) peerProc(proc *Process) (*Process, error) {
	if p == nil || p.w == nil {
		return nil, errors.New("nil or zero Provider (make one with wsk.NewProvider)")
	}
	if proc == nil {
		return nil, errors.New("nil process")
	}
	if p.Process(proc.PID) != proc {
		return nil, fmt.Errorf("process %d is not one of this provider's", proc.PID)
	}
	return proc, nil
}

// PeerListen makes a user-mode program of proc listen on addr (any address:
// a remote address makes that host reachable). Incoming connections are
// accepted at once; Accept hands them out.
func (p *Provider) PeerListen(proc *Process, addr netip.AddrPort) (*PeerListener, error) {
	if _, err := p.peerProc(proc); err != nil {
		return nil, fmt.Errorf("wsk.PeerListen: %v", err)
	}
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("wsk.PeerListen: invalid address %v (a port is required)", addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if p.net.listeners[addr] != nil {
		return nil, fmt.Errorf("wsk.PeerListen: %v is already listening", addr)
	}
	pl := &PeerListener{p: p, proc: proc, addr: addr}
	if p.net.isLocal(addr.Addr()) || addr.Addr().IsUnspecified() {
		if _, st := p.net.bind(false, addr.Addr(), addr.Port(), bindOpts{v6only: true}, pl); st != nt.STATUS_SUCCESS {
			return nil, fmt.Errorf("wsk.PeerListen: %v is in use (%v)", addr, st)
		}
	}
	pl.l = &listener{addr: addr, v6only: true, peer: pl}
	p.net.listeners[addr] = pl.l
	p.w.TraceEnv("peer_listen", sim.F("addr", sim.Str(addr.String())))
	return pl, nil
}

// Accept returns the next connection the listener accepted, or nil.
func (pl *PeerListener) Accept() *PeerConn {
	if pl == nil || len(pl.accepted) == 0 {
		return nil
	}
	pc := pl.accepted[0]
	pl.accepted = pl.accepted[1:]
	// The trace names the connection here (wsktrace v1 env peer_accept), so
	// later peer_send/peer_close of it can say which one.
	pl.p.w.TraceEnv("peer_accept", sim.F("addr", sim.Str(pl.addr.String())), sim.F("name", sim.Str(pc.name)))
	return pc
}

// Close stops listening; connections not yet taken with Accept are reset.
func (pl *PeerListener) Close() {
	if pl == nil || pl.p == nil || pl.closed {
		return
	}
	pl.closed = true
	p := pl.p
	p.w.TraceEnv("peer_listen_close", sim.F("addr", sim.Str(pl.addr.String())))
	delete(p.net.listeners, pl.addr)
	p.net.unbind(false, pl.addr.Port(), pl)
	for _, pc := range pl.accepted {
		pc.Reset()
	}
	pl.accepted = nil
}

// PeerConnect makes a user-mode program of proc connect to `to`. from may be
// the zero AddrPort (the stack picks a local address and an ephemeral port),
// one of the machine's addresses (a connect from the machine under test,
// classified by WFP with the program's PID) or a remote address (an inbound
// connection from another host, not classified by the local connect layer).
// The status is the network's answer (STATUS_SUCCESS,
// STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE, STATUS_ACCESS_DENIED
// when WFP blocks), or STATUS_PENDING with a PeerConn to wait on when a
// callout pended the classify (FwpsPendClassify0): the connect goes on when
// the callout completes it, and PeerConn.Status then tells how it ended. An
// error means the harness misused the call.
func (p *Provider) PeerConnect(proc *Process, from, to netip.AddrPort) (*PeerConn, nt.Status, error) {
	if _, err := p.peerProc(proc); err != nil {
		return nil, 0, fmt.Errorf("wsk.PeerConnect: %v", err)
	}
	if !to.IsValid() || to.Port() == 0 || to.Addr().IsUnspecified() {
		return nil, 0, fmt.Errorf("wsk.PeerConnect: invalid destination %v", to)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	name := sim.Name("peer", p.w.NextName("peer"))
	fields := []sim.Field{sim.F("to", sim.Str(to.String())), sim.F("name", sim.Str(name))}
	if from.IsValid() {
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		fields = append(fields, sim.F("from", sim.Str(from.String())))
	}
	p.w.TraceEnv("peer_connect", fields...)
	org := origin{name: name, pid: proc.PID, classify: true}
	var port uint16
	pc := &PeerConn{p: p, proc: proc, name: name}
	if from.IsValid() && !from.Addr().IsUnspecified() && !p.net.isLocal(from.Addr()) {
		org.classify = false
		org.local = from
		if from.Port() == 0 {
			return nil, 0, fmt.Errorf("wsk.PeerConnect: a remote origin %v needs a port", from)
		}
	} else {
		a := netip.Addr{}
		if from.IsValid() {
			a = from.Addr()
		} else {
			src, ok := p.net.source(to.Addr())
			if !ok {
				return nil, nt.STATUS_NETWORK_UNREACHABLE, nil
			}
			a = src
		}
		pt, st := p.net.bind(false, a, from.Port(), bindOpts{v6only: true}, pc)
		if st != nt.STATUS_SUCCESS {
			return nil, 0, fmt.Errorf("wsk.PeerConnect: cannot bind %v: %v", from, st)
		}
		port = pt
		org.local = netip.AddrPortFrom(a, pt)
	}
	pc.port = port
	e, st := p.connectPeer(org, to, pc)
	if st == nt.STATUS_PENDING {
		pc.st = st
		return pc, st, nil
	}
	if st != nt.STATUS_SUCCESS {
		if port != 0 {
			p.net.unbind(false, port, pc)
		}
		return nil, st, nil
	}
	pc.e, pc.st = e, st
	e.pc = pc
	return pc, st, nil
}

// connectPeer runs a peer's TCP connect through WFP and the network. When a
// callout pends the classify (FwpsPendClassify0) the connect pends, as a
// driver socket's WskConnect does: it returns STATUS_PENDING, and when
// FwpsCompleteClassify0 completes the classify the connection is made (or
// fails) after the manager's PendingDelay, not inside the callout's call;
// pc.Status tells.
func (p *Provider) connectPeer(org origin, remote netip.AddrPort, pc *PeerConn) (*end, nt.Status) {
	src, st := p.dialSource(org, remote)
	if st != nt.STATUS_SUCCESS {
		return nil, st
	}
	var res wfp.ConnectResult
	if !org.classify {
		return p.dialFinish(org, src, remote, &res)
	}
	req := p.dialRequest(org, src, remote)
	started := false
	done := func(r *wfp.ConnectResult) {
		if !started {
			res = *r // decided inline
			return
		}
		late := *r
		p.w.Schedule(p.m.PendingDelay, sim.TaskFunc(func() {
			e, st := p.dialFinish(org, src, remote, &late)
			pc.st = st
			if st != nt.STATUS_SUCCESS {
				if pc.port != 0 {
					p.net.unbind(false, pc.port, pc)
				}
				return
			}
			pc.e = e
			e.pc = pc
		}))
	}
	if p.e.ClassifyConnectAsync(&req, done) {
		return p.dialFinish(org, src, remote, &res)
	}
	started = true
	return nil, nt.STATUS_PENDING
}

// RedirectedConnect delivers to the listener at `to` a connection from
// `from` to `original` that a connect-redirect callout holding redirect
// handle `handle` redirected, with redirect context `context`, for process
// targetPID (the trace's redirected_connect). The records on the accepted
// socket are the ones wfp.Engine.IssueRedirect issues. name names the app's
// side ("" picks one). The returned PeerConn is the redirected application.
func (p *Provider) RedirectedConnect(name string, from, original, to netip.AddrPort, handle string, context []byte, targetPID uint32) (*PeerConn, error) {
	if !from.IsValid() || !original.IsValid() || !to.IsValid() {
		return nil, fmt.Errorf("wsk.RedirectedConnect: invalid address (from %v, original %v, to %v)", from, original, to)
	}
	if handle == "" {
		return nil, fmt.Errorf("wsk.RedirectedConnect: empty redirect handle name")
	}
	// Every check comes before anything happens (a name taken, an env event
	// written, a flow recorded), so a refused call leaves no trace.
	l := p.net.findListener(to)
	if l == nil {
		return nil, fmt.Errorf("wsk.RedirectedConnect: nothing listens on %v", to)
	}
	if len(l.backlog) >= p.net.backlog {
		return nil, fmt.Errorf("wsk.RedirectedConnect: the backlog of %v is full", to)
	}
	if name == "" {
		name = sim.Name("peer", p.w.NextName("peer"))
	}
	fields := []sim.Field{sim.F("name", sim.Str(name)), sim.F("from", sim.Str(from.String())), sim.F("original", sim.Str(original.String())),
		sim.F("to", sim.Str(to.String())), sim.F("handle", sim.Str(handle)), sim.F("context", sim.Hex(context, "")), sim.F("target_pid", sim.Int(uint64(targetPID)))}
	p.w.TraceEnv("redirected_connect", fields...)
	rec, err := p.e.IssueRedirect(handle, from, original, to, context, targetPID, nil)
	if err != nil {
		panic("wsk: internal: IssueRedirect refused checked arguments: " + err.Error())
	}
	c := &conn{redirected: true, open: 2, records: rec}
	if context != nil {
		c.context = append([]byte(nil), context...)
	}
	c.ends[0] = end{c: c, side: 0, local: from, remote: original}
	c.ends[1] = end{c: c, side: 1, local: to, remote: from}
	pc := &PeerConn{p: p, proc: p.System(), name: name, e: &c.ends[0]}
	c.ends[0].pc = pc
	p.arrive(l, &c.ends[1])
	return pc, nil
}

// Send sends data to the other end (an ordered byte stream). It fails when
// the peer already closed or sent FIN, or the connection was reset.
func (pc *PeerConn) Send(data []byte) error {
	if !pc.usable() {
		return errors.New("wsk.PeerConn.Send: nil or zero PeerConn (peer connections come from PeerConnect, PeerListener.Accept or RedirectedConnect)")
	}
	if pc.e.released || pc.e.txFin {
		return fmt.Errorf("wsk.PeerConn.Send: %s is closed or shut down for sending", pc.name)
	}
	if pc.e.rst {
		return fmt.Errorf("wsk.PeerConn.Send: %s was reset", pc.name)
	}
	pc.p.w.TraceEnv("peer_send", sim.F("conn", sim.Str(pc.name)), sim.F("data", sim.Hex(data, "")))
	pc.p.transmit(pc.e, data)
	return nil
}

// Receive reads and consumes up to max bytes that arrived (max <= 0: all).
func (pc *PeerConn) Receive(max int) []byte {
	if !pc.usable() {
		return nil
	}
	n := len(pc.e.rx)
	if max > 0 && max < n {
		n = max
	}
	out := append([]byte(nil), pc.e.rx[:n]...)
	pc.e.rx = pc.e.rx[:copy(pc.e.rx, pc.e.rx[n:])]
	return out
}

// Pending returns how many received bytes wait to be read.
func (pc *PeerConn) Pending() int {
	if !pc.usable() {
		return 0
	}
	return len(pc.e.rx)
}

// GotFIN reports whether the other end sent FIN (graceful disconnect).
func (pc *PeerConn) GotFIN() bool { return pc.usable() && pc.e.rxFin }

// GotReset reports whether the connection was reset by the other end.
func (pc *PeerConn) GotReset() bool { return pc.usable() && pc.e.rst }

// Shutdown sends FIN (shutdown(SD_SEND)) and keeps receiving.
func (pc *PeerConn) Shutdown() {
	if !pc.usable() || pc.e.released {
		return
	}
	pc.p.w.TraceEnv("peer_shutdown", sim.F("conn", sim.Str(pc.name)))
	pc.p.fin(pc.e)
}

// Close closes the program's socket gracefully (FIN, then gone).
func (pc *PeerConn) Close() {
	if !pc.usable() || pc.e.released {
		return
	}
	pc.p.w.TraceEnv("peer_close", sim.F("conn", sim.Str(pc.name)))
	pc.p.fin(pc.e)
	pc.done()
}

// Reset closes the program's socket abortively (RST).
func (pc *PeerConn) Reset() {
	if !pc.usable() || pc.e.released {
		return
	}
	pc.p.w.TraceEnv("peer_reset", sim.F("conn", sim.Str(pc.name)))
	pc.p.abort(pc.e)
	pc.done()
}

func (pc *PeerConn) done() {
	if pc.port != 0 {
		pc.p.net.unbind(false, pc.port, pc)
		pc.port = 0
	}
	pc.p.release(pc.e)
}
