package wsk

import (
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// Category is a WSK socket category (winsock-kernel-socket-categories).
type Category uint8

// Socket categories, one per WSK_FLAG_*_SOCKET value.
const (
	CategoryBasic Category = iota
	CategoryListen
	CategoryConnection
	CategoryDatagram
	CategoryStream
)

var categoryNames = [...]string{"basic", "listen", "connection", "datagram", "stream"}

func (c Category) String() string {
	if int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return "Category(?)"
}

// dispatch members of the provider dispatch tables.
type dispFn uint32

const (
	dControl dispFn = 1 << iota
	dClose
	dBind
	dAccept
	dInspectComplete
	dGetLocal
	dGetRemote
	dConnect
	dListen
	dSend
	dReceive
	dDisconnect
	dRelease
	dSendTo
	dReceiveFrom
	dSendMessages
	dConnectEx
	dSendEx
	dReceiveEx
)

// dispatchOf is the membership of each category's WSK_PROVIDER_*_DISPATCH
// (winsock-kernel-dispatch-tables; ns-wsk-_wsk_provider_*_dispatch).
var dispatchOf = [...]dispFn{
	CategoryBasic:      dControl | dClose,
	CategoryListen:     dControl | dClose | dBind | dAccept | dInspectComplete | dGetLocal,
	CategoryDatagram:   dControl | dClose | dBind | dSendTo | dReceiveFrom | dRelease | dGetLocal | dSendMessages,
	CategoryConnection: dControl | dClose | dBind | dConnect | dGetLocal | dGetRemote | dSend | dReceive | dDisconnect | dRelease | dConnectEx | dSendEx | dReceiveEx,
	CategoryStream:     dControl | dClose | dBind | dAccept | dConnect | dListen | dSend | dReceive | dDisconnect | dRelease | dGetLocal | dGetRemote | dConnectEx | dSendEx | dReceiveEx,
}

// HasFunction reports whether the category's provider dispatch table has the
// named WSK function ("WskSend", "WskAccept", ...).
func (c Category) HasFunction(fn string) bool {
	names := [...]struct {
		n string
		d dispFn
	}{{"WskControlSocket", dControl}, {"WskCloseSocket", dClose}, {"WskBind", dBind}, {"WskAccept", dAccept},
		{"WskInspectComplete", dInspectComplete}, {"WskGetLocalAddress", dGetLocal}, {"WskGetRemoteAddress", dGetRemote},
		{"WskConnect", dConnect}, {"WskListen", dListen}, {"WskSend", dSend}, {"WskReceive", dReceive},
		{"WskDisconnect", dDisconnect}, {"WskRelease", dRelease}, {"WskSendTo", dSendTo}, {"WskReceiveFrom", dReceiveFrom},
		{"WskSendMessages", dSendMessages}, {"WskConnectEx", dConnectEx}, {"WskSendEx", dSendEx}, {"WskReceiveEx", dReceiveEx}}
	if int(c) >= len(dispatchOf) {
		return false
	}
	for _, x := range names {
		if x.n == fn {
			return dispatchOf[c]&x.d != 0
		}
	}
	return false
}

// socket flags
const (
	sfBound uint16 = 1 << iota
	sfListening
	sfConnectIssued
	sfRecords
	sfReuse
	sfExcl
	sfV6Only
	sfClosed
	sfKicked
	sfDead
	sfAccepted
	sfShareSD
	sfUDP
	sfDialing  // a WskConnect / WskSocketConnect waits for a pended classify
	sfDgListen // SOCK_DGRAM created with WSK_FLAG_LISTEN_SOCKET: WskBind is STATUS_NOT_IMPLEMENTED
)

// Socket is WSK_SOCKET: a socket of one of the five categories. It is kept
// small (no maps, no per-socket names): the name is formatted on demand.
type Socket struct {
	p       *Provider
	cl      *Client
	owner   *Process
	handle  uint64
	num     int32
	family  uint16
	flags   uint16
	cat     Category
	busy    uint8
	recGen  uint32         // bumped by every successful SET
	local   netip.AddrPort // bound address (port resolved)
	records []byte         // SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS blob (own copy)
	ops     []*op          // pending IRPs, in submission order
	end     *end           // connection, once connected or accepted
	lst     *listener      // once listening
	dg      *dgEndpoint    // a datagram socket's queue and flows
	ctx     any            // SocketContext
	disp    any            // client dispatch table
	ev      *evState       // event callbacks (events.go), nil if none
}

// Name returns the display name ("sock1"), or "NULL".
func (s *Socket) Name() string {
	if s == nil {
		return "NULL"
	}
	return sim.Name("sock", int(s.num))
}

// Category returns the socket's category (a stream socket stays CategoryStream).
func (s *Socket) Category() Category { return s.cat }

// Family returns AF_INET or AF_INET6.
func (s *Socket) Family() uint16 { return s.family }

// Owner returns the owning process.
func (s *Socket) Owner() *Process { return s.owner }

// Closed reports whether WskCloseSocket ran on the socket.
func (s *Socket) Closed() bool { return s.flags&sfClosed != 0 }

// Context returns the SocketContext the socket was created (or accepted) with.
func (s *Socket) Context() any { return s.ctx }

// LocalAddr returns the local address (the bound one, or the connection's).
func (s *Socket) LocalAddr() netip.AddrPort {
	if s.end != nil {
		return s.end.local
	}
	return s.local
}

// RemoteAddr returns the remote address of a connected socket.
func (s *Socket) RemoteAddr() netip.AddrPort {
	if s.end != nil {
		return s.end.remote
	}
	return netip.AddrPort{}
}

// Connected reports whether the socket has a connection.
func (s *Socket) Connected() bool { return s.end != nil }

// Records returns a copy of the redirect records set with
// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, or nil.
func (s *Socket) Records() []byte {
	if s.flags&sfRecords == 0 {
		return nil
	}
	return append([]byte(nil), s.records...)
}

// Redirected reports whether the socket is the accepted side of a connection
// that was redirected (the QUERY IOCTLs answer on it).
func (s *Socket) Redirected() bool { return s.end != nil && s.end.side == 1 && s.end.c.redirected }

// Buf is WSK_BUF: Length bytes at Offset of a pool block (the MDL chain of
// the real structure).
type Buf struct {
	Block  *irp.Block
	Offset uint64
	Length uint64
}

func sockName(s *Socket) string {
	if s == nil {
		return ""
	}
	return s.Name()
}

func bufValue(b *Buf, withData bool) sim.Value {
	if b == nil {
		return sim.Null()
	}
	pool := b.Block.Name()
	if withData && b.Block != nil && !b.Block.Freed() && b.Offset <= b.Block.Size() && b.Length <= b.Block.Size()-b.Offset {
		return sim.Hex(b.Block.Bytes()[b.Offset:b.Offset+b.Length], pool)
	}
	return sim.Len(b.Length, pool)
}

func addrValue(a netip.AddrPort) sim.Value {
	if !a.IsValid() {
		return sim.Null()
	}
	return sim.Str(a.String())
}

func addrPtrValue(a *netip.AddrPort) sim.Value { return ptrArg(a != nil) }

// ---- the gate every socket call passes ----

type gateResult uint8

const (
	gateOK       gateResult = iota
	gateRefuse              // return the status; the IRP is not taken
	gateComplete            // take the IRP and complete it with the status
)

// gate checks the socket a call is made on. On gateOK and gateComplete the
// socket is marked busy; the caller ends with p.leave.
func (p *Provider) gate(s *Socket, fn dispFn, name string) (gateResult, nt.Status) {
	if s == nil {
		p.w.Violate(RuleNullArgument, name+" with a NULL Socket")
		return gateRefuse, nt.STATUS_INVALID_HANDLE
	}
	if s.flags&sfClosed != 0 {
		p.w.Violate(RuleAfterClose, name+" on "+s.Name()+" after WskCloseSocket", s.Name())
		if p.w.PolicyName(PolicyAfterClose) == "complete" {
			s.busy++
			return gateComplete, nt.STATUS_INVALID_HANDLE
		}
		return gateRefuse, nt.STATUS_INVALID_HANDLE
	}
	if dispatchOf[s.cat]&fn == 0 {
		p.w.Violate(RuleCategory, name+" on "+s.Name()+", a "+s.cat.String()+" socket, whose dispatch table has no "+name, s.Name())
		return gateRefuse, nt.STATUS_INVALID_DEVICE_REQUEST
	}
	s.busy++
	if fn != dClose && p.w.PolicyName(PolicyForced) == "inject" && s.flags&sfDead == 0 && p.w.Fault(FaultForcedClose) {
		s.flags |= sfDead
		p.killDatagrams(s)
	}
	if fn != dClose && s.flags&sfDead != 0 {
		return gateComplete, nt.STATUS_FILE_FORCED_CLOSED
	}
	return gateOK, 0
}

func (p *Provider) leave(f sim.Frame, k callKey, s *Socket, st nt.Status) nt.Status {
	if s != nil && s.busy > 0 {
		s.busy--
	}
	return p.ret(f, k, st)
}

// ForceClose makes s no longer functional: every later call but
// WskCloseSocket fails with STATUS_FILE_FORCED_CLOSED (policy P-FORCED).
func (p *Provider) ForceClose(s *Socket) {
	if s != nil && s.flags&sfClosed == 0 {
		s.flags |= sfDead
		if s.end != nil {
			p.abort(s.end)
		}
		p.killDatagrams(s)
	}
}

// ---- creation ----

func (p *Provider) newSocket(cl *Client, family uint16, cat Category, owner *Process, ctx, disp any) *Socket {
	s := &Socket{p: p, cl: cl, owner: owner, num: int32(p.w.NextName("sock")), family: family, cat: cat, ctx: ctx, disp: disp}
	if family == nt.AF_INET6 {
		s.flags |= sfV6Only // Windows default (dual-stack-sockets)
	}
	if cat == CategoryDatagram {
		s.flags |= sfUDP
		s.dg = &dgEndpoint{}
	}
	p.socks = append(p.socks, s)
	s.handle = uint64(len(p.socks))
	cl.sockets++
	p.evNewSocket(s)
	return s
}

// destroy frees a socket the client never received or has closed: pending
// IRPs are completed per P-CLOSE, the connection is reset unless it was
// fully disconnected, the listener and the binding are removed.
func (p *Provider) destroy(s *Socket) {
	if s.flags&sfClosed != 0 {
		return
	}
	s.flags |= sfClosed
	p.evDestroy(s)
	st := nt.STATUS_CANCELLED
	switch p.w.PolicyName(PolicyClose) {
	case "STATUS_FILE_FORCED_CLOSED":
		st = nt.STATUS_FILE_FORCED_CLOSED
	case "STATUS_CONNECTION_ABORTED":
		st = nt.STATUS_CONNECTION_ABORTED
	}
	for len(s.ops) > 0 {
		p.completeOp(s.ops[0], st, 0)
	}
	if e := s.end; e != nil {
		if !(e.txFin && e.rxFin) {
			p.abort(e)
		}
		e.sock = nil
		p.release(e)
	}
	if l := s.lst; l != nil {
		if p.net.listeners[l.addr] == l {
			delete(p.net.listeners, l.addr)
		}
		for _, e := range l.backlog {
			p.abort(e)
			p.release(e)
		}
		l.backlog = nil
		s.lst = nil
	}
	if s.flags&sfBound != 0 && s.flags&sfAccepted == 0 {
		p.net.unbind(s.flags&sfUDP != 0, s.local.Port(), s)
	}
	if s.dg != nil {
		p.endFlows(s.dg)
	}
	s.records = nil
	p.socks[s.handle-1] = nil
	s.cl.sockets--
}

func (p *Provider) checkOwner(pr *Process) (*Process, bool) {
	if pr == nil {
		return p.System(), true
	}
	return pr, p.Process(pr.PID) == pr
}

func flagsCategory(flags uint32) (Category, bool) {
	switch flags {
	case nt.WSK_FLAG_BASIC_SOCKET:
		return CategoryBasic, true
	case nt.WSK_FLAG_LISTEN_SOCKET:
		return CategoryListen, true
	case nt.WSK_FLAG_CONNECTION_SOCKET:
		return CategoryConnection, true
	case nt.WSK_FLAG_DATAGRAM_SOCKET:
		return CategoryDatagram, true
	case nt.WSK_FLAG_STREAM_SOCKET:
		return CategoryStream, true
	}
	return 0, false
}

func familyValue(af uint16) sim.Value {
	switch af {
	case nt.AF_INET:
		return sim.Str("AF_INET")
	case nt.AF_INET6:
		return sim.Str("AF_INET6")
	}
	return sim.Int(uint64(af))
}

func sockTypeValue(t uint16) sim.Value {
	switch t {
	case nt.SOCK_STREAM:
		return sim.Str("SOCK_STREAM")
	case nt.SOCK_DGRAM:
		return sim.Str("SOCK_DGRAM")
	}
	return sim.Int(uint64(t))
}

func protoValue(pr uint32) sim.Value {
	switch pr {
	case nt.IPPROTO_TCP:
		return sim.Str("IPPROTO_TCP")
	case nt.IPPROTO_UDP:
		return sim.Str("IPPROTO_UDP")
	}
	return sim.Int(uint64(pr))
}

func flagsValue(fl uint32) sim.Value {
	names := [...]string{"WSK_FLAG_BASIC_SOCKET", "WSK_FLAG_LISTEN_SOCKET", "WSK_FLAG_CONNECTION_SOCKET", "", "WSK_FLAG_DATAGRAM_SOCKET", "", "", "", "WSK_FLAG_STREAM_SOCKET"}
	if int(fl) < len(names) && names[fl] != "" {
		return sim.Str(names[fl])
	}
	return sim.Int(uint64(fl))
}

func procValue(pr *Process) sim.Value {
	if pr == nil {
		return sim.Null()
	}
	return sim.Int(uint64(pr.PID))
}

func anyValue(v any) sim.Value { return ptrArg(v != nil) }

// validateSocketArgs checks WskSocket's arguments in the documented
// parameter order (AddressFamily, SocketType, Protocol, Flags, SocketContext,
// Dispatch, OwningProcess).
func (p *Provider) validateSocketArgs(af, st uint16, proto, flags uint32, ctx, disp any, owner *Process) (Category, *Process, nt.Status) {
	if af != nt.AF_INET && af != nt.AF_INET6 {
		return 0, nil, nt.STATUS_INVALID_PARAMETER
	}
	if st != nt.SOCK_STREAM && st != nt.SOCK_DGRAM {
		if st == 3 { // SOCK_RAW: documented, not modelled
			return 0, nil, nt.STATUS_NOT_SUPPORTED
		}
		return 0, nil, nt.STATUS_INVALID_PARAMETER
	}
	switch {
	case st == nt.SOCK_STREAM && proto != nt.IPPROTO_TCP && proto != 0,
		st == nt.SOCK_DGRAM && proto != nt.IPPROTO_UDP && proto != 0:
		return 0, nil, nt.STATUS_NOT_SUPPORTED
	}
	cat, ok := flagsCategory(flags)
	if !ok {
		return 0, nil, nt.STATUS_INVALID_PARAMETER
	}
	switch cat {
	case CategoryListen:
		// Windows creates a SOCK_DGRAM/IPPROTO_UDP socket with
		// WSK_FLAG_LISTEN_SOCKET (its WskBind then completes with
		// STATUS_NOT_IMPLEMENTED): driver_netio.c test_wsk_listen_socket.
		if st != nt.SOCK_STREAM && st != nt.SOCK_DGRAM {
			return 0, nil, nt.STATUS_INVALID_PARAMETER
		}
	case CategoryConnection, CategoryStream:
		if st != nt.SOCK_STREAM {
			return 0, nil, nt.STATUS_INVALID_PARAMETER
		}
	case CategoryDatagram:
		if st != nt.SOCK_DGRAM {
			return 0, nil, nt.STATUS_INVALID_PARAMETER
		}
	}
	if cat == CategoryBasic && (ctx != nil || disp != nil) {
		p.w.Violate(RuleBasicContext, "WskSocket creates a basic socket with a non-NULL SocketContext or Dispatch")
		return 0, nil, nt.STATUS_INVALID_PARAMETER
	}
	pr, ok := p.checkOwner(owner)
	if !ok {
		return 0, nil, nt.STATUS_INVALID_PARAMETER
	}
	return cat, pr, nt.STATUS_SUCCESS
}

// WskSocket models WskSocket (IRQL <= DISPATCH_LEVEL). On success the IRP's
// IoStatus.Information carries the new socket's handle: resolve it with
// SocketFromInformation. owningThread and securityDescriptor are opaque; a
// non-nil securityDescriptor stands for a cached descriptor that lets other
// sockets share the address (the CHECK cells of "Sharing Transport
// Addresses").
func (p *Provider) WskSocket(client *Client, addressFamily uint16, socketType uint16, protocol uint32, flags uint32,
	socketContext any, dispatch any, owningProcess *Process, owningThread any, securityDescriptor any, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskSocket")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Client", sim.Obj(clientName(client))), sim.F("AddressFamily", familyValue(addressFamily)),
			sim.F("SocketType", sockTypeValue(socketType)), sim.F("Protocol", protoValue(protocol)), sim.F("Flags", flagsValue(flags)),
			sim.F("SocketContext", anyValue(socketContext)), sim.F("Dispatch", anyValue(dispatch)), sim.F("OwningProcess", procValue(owningProcess)),
			sim.F("OwningThread", anyValue(owningThread)), sim.F("SecurityDescriptor", anyValue(securityDescriptor)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	// Windows checks the IRP before the Client (driver_netio.c).
	if i == nil {
		p.w.Violate(RuleNullIRP, "WskSocket with a NULL Irp")
		return p.ret(f, ckSocket, p.badIRP())
	}
	if !p.clientUsable(client, "WskSocket") {
		return p.ret(f, ckSocket, nt.STATUS_INVALID_HANDLE)
	}
	if !p.submit(i, "WskSocket", client) {
		return p.ret(f, ckSocket, p.badIRP())
	}
	cat, owner, st := p.validateSocketArgs(addressFamily, socketType, protocol, flags, socketContext, dispatch, owningProcess)
	if st != nt.STATUS_SUCCESS {
		return p.ret(f, ckSocket, p.finish(i, ckSocket, ChoiceSocketComplete, nil, client, st, 0, nil))
	}
	s := p.newSocket(client, addressFamily, cat, owner, socketContext, dispatch)
	if securityDescriptor != nil {
		s.flags |= sfShareSD
	}
	if cat == CategoryListen && socketType == nt.SOCK_DGRAM {
		s.flags |= sfDgListen
	}
	return p.ret(f, ckSocket, p.finish(i, ckSocket, ChoiceSocketComplete, nil, client, nt.STATUS_SUCCESS, 0, &outs{sock: s}))
}

func clientName(c *Client) string {
	if c == nil {
		return ""
	}
	return c.Name()
}

func irpName(i *irp.IRP) string {
	if i == nil {
		return ""
	}
	return i.Name()
}

// WskSocketConnect models WskSocketConnect (IRQL <= DISPATCH_LEVEL): a
// connection-oriented socket created, bound to localAddress and connected
// to remoteAddress in one call; the address family is localAddress's. No
// option or IOCTL can be applied before it connects, so a proxy cannot use
// it for a socket that needs SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS.
func (p *Provider) WskSocketConnect(client *Client, socketType uint16, protocol uint32, localAddress, remoteAddress netip.AddrPort, flags uint32,
	socketContext any, dispatch any, owningProcess *Process, owningThread any, securityDescriptor any, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskSocketConnect")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Client", sim.Obj(clientName(client))), sim.F("SocketType", sockTypeValue(socketType)), sim.F("Protocol", protoValue(protocol)),
			sim.F("LocalAddress", addrValue(localAddress)), sim.F("RemoteAddress", addrValue(remoteAddress)), sim.F("Flags", sim.Int(uint64(flags))),
			sim.F("SocketContext", anyValue(socketContext)), sim.F("Dispatch", anyValue(dispatch)), sim.F("OwningProcess", procValue(owningProcess)),
			sim.F("OwningThread", anyValue(owningThread)), sim.F("SecurityDescriptor", anyValue(securityDescriptor)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	// Windows checks the IRP before the Client (driver_netio.c).
	if i == nil {
		p.w.Violate(RuleNullIRP, "WskSocketConnect with a NULL Irp")
		return p.ret(f, ckSocketConnect, p.badIRP())
	}
	if !p.clientUsable(client, "WskSocketConnect") {
		return p.ret(f, ckSocketConnect, nt.STATUS_INVALID_HANDLE)
	}
	if !p.submit(i, "WskSocketConnect", client) {
		return p.ret(f, ckSocketConnect, p.badIRP())
	}
	fail := func(st nt.Status) nt.Status {
		return p.ret(f, ckSocketConnect, p.finish(i, ckSocketConnect, ChoiceSocketComplete, nil, client, st, 0, nil))
	}
	if !localAddress.IsValid() || !remoteAddress.IsValid() {
		p.w.Violate(RuleNullArgument, "WskSocketConnect with a NULL LocalAddress or RemoteAddress")
		return fail(nt.STATUS_INVALID_PARAMETER)
	}
	af := nt.AF_INET6
	if localAddress.Addr().Is4() {
		af = nt.AF_INET
	}
	_, owner, st := p.validateSocketArgs(af, socketType, protocol, nt.WSK_FLAG_CONNECTION_SOCKET, socketContext, dispatch, owningProcess)
	if st != nt.STATUS_SUCCESS {
		return fail(st)
	}
	s := p.newSocket(client, af, CategoryConnection, owner, socketContext, dispatch)
	if securityDescriptor != nil {
		s.flags |= sfShareSD
	}
	if st = p.bindSocket(s, localAddress); st == nt.STATUS_SUCCESS {
		var d *dialing
		if st, d = p.connectSocket(s, remoteAddress); d != nil {
			p.pendDial(d, i, ckSocketConnect, nil, client, s)
			return p.ret(f, ckSocketConnect, nt.STATUS_PENDING)
		}
	}
	if st != nt.STATUS_SUCCESS {
		p.destroy(s)
		return fail(st)
	}
	return p.ret(f, ckSocketConnect, p.finish(i, ckSocketConnect, ChoiceSocketComplete, nil, client, nt.STATUS_SUCCESS, 0, &outs{sock: s}))
}

// ---- bind, listen, connect ----

func (p *Provider) bindSocket(s *Socket, a netip.AddrPort) nt.Status {
	if s.flags&sfBound != 0 {
		return nt.STATUS_ADDRESS_ALREADY_ASSOCIATED
	}
	if !a.IsValid() {
		return nt.STATUS_INVALID_PARAMETER
	}
	addr := a.Addr()
	if addr.Is4() != (s.family == nt.AF_INET) || addr.Is4In6() {
		return nt.STATUS_INVALID_PARAMETER
	}
	if !addr.IsUnspecified() && !p.net.isLocal(addr) {
		return nt.STATUS_INVALID_ADDRESS
	}
	// ALE_BIND_REDIRECT: a callout may block the bind or rewrite the local
	// address and port, for the socket and so for every connection on it.
	req := wfp.BindRequest{Socket: s.Name(), ProcessID: s.owner.PID, Local: a, Protocol: uint8(nt.IPPROTO_TCP)}
	if s.flags&sfUDP != 0 {
		req.Protocol = uint8(nt.IPPROTO_UDP)
	}
	var res wfp.BindResult
	p.e.ClassifyBind(&req, &res)
	if res.Blocked {
		if p.w.PolicyName(PolicyBindBlock) == "STATUS_INVALID_ADDRESS" {
			return nt.STATUS_INVALID_ADDRESS
		}
		return nt.STATUS_ACCESS_DENIED
	}
	if res.Local != a {
		a, addr = res.Local, res.Local.Addr()
		if !a.IsValid() || addr.Is4() != (s.family == nt.AF_INET) || addr.Is4In6() || (!addr.IsUnspecified() && !p.net.isLocal(addr)) {
			p.w.TraceNote(fmt.Sprintf("wsk: %s: ALE_BIND_REDIRECT rewrote the local address to %v, which the socket cannot bind", s.Name(), res.Local))
			return nt.STATUS_INVALID_ADDRESS
		}
	}
	o := bindOpts{reuse: s.flags&sfReuse != 0, excl: s.flags&sfExcl != 0, v6only: s.flags&sfV6Only != 0, shareSD: s.flags&sfShareSD != 0}
	port, st := p.net.bind(s.flags&sfUDP != 0, addr, a.Port(), o, s)
	if st != nt.STATUS_SUCCESS {
		return st
	}
	s.local = netip.AddrPortFrom(addr, port)
	s.flags |= sfBound
	if s.cat == CategoryListen {
		p.startListening(s)
	}
	return nt.STATUS_SUCCESS
}

func (p *Provider) startListening(s *Socket) {
	l := &listener{addr: s.local, v6only: s.flags&sfV6Only != 0, sock: s}
	s.lst = l
	s.flags |= sfListening
	if p.net.listeners[l.addr] == nil {
		p.net.listeners[l.addr] = l
	}
}

// WskBind models WskBind (IRQL <= DISPATCH_LEVEL). A wildcard address binds
// every local address (listening, datagram) or lets the stack pick at
// connect time (connection, stream); port 0 picks an ephemeral port. Sharing
// follows "Sharing Transport Addresses" (SO_REUSEADDR, SO_EXCLUSIVEADDRUSE,
// SecurityDescriptor); a second bind is STATUS_ADDRESS_ALREADY_ASSOCIATED.
// WFP classifies the bind at ALE_BIND_REDIRECT (wfp.Engine.ClassifyBind): a
// callout may rewrite the local address, which is then the socket's (and
// WskGetLocalAddress's), or block the bind (policy P-BINDBLOCK,
// STATUS_ACCESS_DENIED by default).
func (p *Provider) WskBind(s *Socket, localAddress netip.AddrPort, flags uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskBind")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("LocalAddress", addrValue(localAddress)), sim.F("Flags", sim.Int(uint64(flags))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dBind, "WskBind")
	if g == gateRefuse {
		return p.ret(f, ckBind, st)
	}
	if !p.submit(i, "WskBind", s.cl) {
		return p.leave(f, ckBind, s, p.badIRP())
	}
	if g == gateOK {
		if flags != 0 {
			p.w.Violate(RuleReservedFlags, "WskBind with Flags != 0 (reserved)", s.Name())
		}
		if !localAddress.IsValid() {
			p.w.Violate(RuleNullArgument, "WskBind with a NULL LocalAddress", s.Name())
		}
		if s.flags&sfDgListen != 0 {
			// Observed: the IRP completes with STATUS_NOT_IMPLEMENTED,
			// Information 0 (driver_netio.c test_wsk_listen_socket).
			st = nt.STATUS_NOT_IMPLEMENTED
		} else {
			st = p.bindSocket(s, localAddress)
		}
	}
	return p.leave(f, ckBind, s, p.finish(i, ckBind, ChoiceBindComplete, s, s.cl, st, 0, nil))
}

// WskListen models WskListen (IRQL <= DISPATCH_LEVEL) on a stream socket:
// it must be bound; it commits the socket to listening.
func (p *Provider) WskListen(s *Socket, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskListen")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dListen, "WskListen")
	if g == gateRefuse {
		return p.ret(f, ckListen, st)
	}
	if !p.submit(i, "WskListen", s.cl) {
		return p.leave(f, ckListen, s, p.badIRP())
	}
	if g == gateOK {
		switch {
		case s.flags&sfBound == 0:
			p.w.Violate(RuleNotBound, "WskListen on "+s.Name()+", which is not bound", s.Name())
			st = nt.STATUS_INVALID_DEVICE_STATE
		case s.end != nil || s.flags&sfConnectIssued != 0:
			st = nt.STATUS_INVALID_DEVICE_STATE
		case s.lst != nil:
			st = nt.STATUS_SUCCESS
		default:
			p.startListening(s)
			st = nt.STATUS_SUCCESS
		}
	}
	return p.leave(f, ckListen, s, p.finish(i, ckListen, ChoiceListenComplete, s, s.cl, st, 0, nil))
}

// connectSocket connects s to remote. When a callout pends the
// classification it returns STATUS_PENDING and the dialing the caller hangs
// the IRP on.
func (p *Provider) connectSocket(s *Socket, remote netip.AddrPort) (nt.Status, *dialing) {
	if s.end != nil {
		return nt.STATUS_CONNECTION_ACTIVE, nil
	}
	if s.flags&sfDialing != 0 {
		return nt.STATUS_INVALID_DEVICE_STATE, nil // a connect is in progress
	}
	if !remote.IsValid() || remote.Port() == 0 || remote.Addr().IsUnspecified() || remote.Addr().Is4() != (s.family == nt.AF_INET) {
		return nt.STATUS_INVALID_PARAMETER, nil
	}
	s.flags |= sfConnectIssued
	var recs []byte
	if s.flags&sfRecords != 0 {
		recs = s.records
	}
	org := origin{name: s.Name(), pid: s.owner.PID, local: s.local, records: recs, classify: true}
	src, st := p.dialSource(org, remote)
	if st != nt.STATUS_SUCCESS {
		return st, nil
	}
	// The dialing (and its callback) is reused while connects classify
	// inline; one that pends keeps it and the next connect makes another.
	d := p.dial
	if d == nil {
		d = &dialing{p: p}
		d.done = d.classified
		p.dial = d
	}
	*d = dialing{p: p, done: d.done, s: s, org: org, src: src, remote: remote}
	req := p.dialRequest(org, src, remote)
	d.org.records = nil // classification copied what it needs
	if !p.e.ClassifyConnectAsync(&req, d.done) {
		d.started = true
		s.flags |= sfDialing
		p.dial = nil
		return nt.STATUS_PENDING, d
	}
	res := d.res
	d.s, d.res = nil, nil
	e, st := p.dialFinish(org, src, remote, res)
	if st != nt.STATUS_SUCCESS {
		return st, nil
	}
	e.sock = s
	s.end = e
	return nt.STATUS_SUCCESS, nil
}

// pendDial hangs IRP i on a connect waiting for a pended classify. s is the
// socket the op belongs to (nil for WskSocketConnect, whose socket the
// client does not have yet; sock is then handed over at completion).
func (p *Provider) pendDial(d *dialing, i *irp.IRP, k callKey, s *Socket, cl *Client, sock *Socket) {
	o := p.newOp(opDial, i, s, cl, k)
	o.o.sock = sock
	o.dial = d
	d.op = o
	p.m.MarkPending(i)
	o.cancelable = true
	p.m.SetCancelRoutine(i, o.cancelFn)
}

// WskConnect models WskConnect (IRQL <= DISPATCH_LEVEL) on a bound
// connection or stream socket. The connect is classified by WFP (with the
// records SET on the socket, if any); a redirected connect reaches the
// listener WFP chose while the socket still reports remoteAddress as its
// peer. STATUS_CONNECTION_REFUSED when nothing listens, STATUS_HOST_UNREACHABLE
// for an unknown remote host, STATUS_ACCESS_DENIED when WFP blocks. When a
// callout pends the classify (FwpsPendClassify0) the IRP pends until
// FwpsCompleteClassify0 decides (a second WskConnect meanwhile is
// STATUS_INVALID_DEVICE_STATE); IoCancelIrp cancels it at once.
func (p *Provider) WskConnect(s *Socket, remoteAddress netip.AddrPort, flags uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskConnect")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("RemoteAddress", addrValue(remoteAddress)), sim.F("Flags", sim.Int(uint64(flags))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dConnect, "WskConnect")
	if g == gateRefuse {
		return p.ret(f, ckConnect, st)
	}
	if !p.submit(i, "WskConnect", s.cl) {
		return p.leave(f, ckConnect, s, p.badIRP())
	}
	if g == gateOK {
		if flags != 0 {
			p.w.Violate(RuleReservedFlags, "WskConnect with Flags != 0 (reserved)", s.Name())
		}
		switch {
		case !remoteAddress.IsValid():
			p.w.Violate(RuleNullArgument, "WskConnect with a NULL RemoteAddress", s.Name())
			st = nt.STATUS_INVALID_PARAMETER
		case s.flags&sfBound == 0:
			// Observed: WskConnect on an unbound socket returns
			// STATUS_INVALID_DEVICE_STATE and has completed its IRP with
			// it, Information 0 (driver_netio.c test_wsk_connect_socket).
			p.w.Violate(RuleNotBound, "WskConnect on "+s.Name()+", which is not bound", s.Name())
			p.deliver(i, s.cl, ckConnect, nt.STATUS_INVALID_DEVICE_STATE, 0, nil)
			return p.leave(f, ckConnect, s, nt.STATUS_INVALID_DEVICE_STATE)
		case s.lst != nil:
			st = nt.STATUS_INVALID_DEVICE_STATE
		default:
			var d *dialing
			if st, d = p.connectSocket(s, remoteAddress); d != nil {
				p.pendDial(d, i, ckConnect, s, s.cl, nil)
				return p.leave(f, ckConnect, s, nt.STATUS_PENDING)
			}
		}
	}
	return p.leave(f, ckConnect, s, p.finish(i, ckConnect, ChoiceConnectComplete, s, s.cl, st, 0, nil))
}

// ---- accept ----

func (p *Provider) acceptSocket(ls *Socket, e *end, ctx, disp any) *Socket {
	s := p.newSocket(ls.cl, ls.family, CategoryConnection, ls.owner, ctx, disp)
	s.flags |= sfBound | sfAccepted | sfConnectIssued
	s.local = e.local
	s.end = e
	e.sock = s
	p.evAccepted(ls, s)
	return s
}

// WskAccept models WskAccept (IRQL <= DISPATCH_LEVEL) on a bound listening
// socket or a listening stream socket. A waiting connection completes it at
// once (inline or pending, a choice point); otherwise the IRP pends until a
// connection arrives, can be cancelled, and is cancelled by WskCloseSocket.
// Information carries the accepted socket; localAddress and remoteAddress,
// when non-nil, are written at completion.
func (p *Provider) WskAccept(listenSocket *Socket, flags uint32, acceptSocketContext any, acceptSocketDispatch any,
	localAddress, remoteAddress *netip.AddrPort, i *irp.IRP) nt.Status {
	s := listenSocket
	f := p.w.Begin("WskAccept")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("ListenSocket", sim.Obj(sockName(s))), sim.F("Flags", sim.Int(uint64(flags))),
			sim.F("AcceptSocketContext", anyValue(acceptSocketContext)), sim.F("AcceptSocketDispatch", anyValue(acceptSocketDispatch)),
			sim.F("LocalAddress", addrPtrValue(localAddress)), sim.F("RemoteAddress", addrPtrValue(remoteAddress)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dAccept, "WskAccept")
	if g == gateRefuse {
		return p.ret(f, ckAccept, st)
	}
	if !p.submit(i, "WskAccept", s.cl) {
		return p.leave(f, ckAccept, s, p.badIRP())
	}
	if g == gateOK {
		if flags != 0 {
			p.w.Violate(RuleReservedFlags, "WskAccept with Flags != 0 (reserved)", s.Name())
		}
		switch {
		case s.flags&sfBound == 0:
			p.w.Violate(RuleNotBound, "WskAccept on "+s.Name()+", which is not bound", s.Name())
			st = nt.STATUS_INVALID_DEVICE_STATE
		case s.lst == nil:
			st = nt.STATUS_INVALID_DEVICE_STATE
		case len(s.lst.backlog) > 0:
			e := s.lst.backlog[0]
			s.lst.backlog = s.lst.backlog[1:]
			ns := p.acceptSocket(s, e, acceptSocketContext, acceptSocketDispatch)
			o := outs{sock: ns, la: localAddress, laV: e.local, ra: remoteAddress, raV: e.remote}
			return p.leave(f, ckAccept, s, p.finish(i, ckAccept, ChoiceAcceptComplete, s, s.cl, nt.STATUS_SUCCESS, 0, &o))
		default:
			op := p.wait(opAccept, i, ckAccept, s, &outs{la: localAddress, ra: remoteAddress})
			op.ctx, op.disp = acceptSocketContext, acceptSocketDispatch
			return p.leave(f, ckAccept, s, nt.STATUS_PENDING)
		}
	}
	return p.leave(f, ckAccept, s, p.finish(i, ckAccept, ChoiceAcceptComplete, s, s.cl, st, 0, nil))
}

// serve satisfies waiting accepts and receives of s from what arrived.
func (p *Provider) serve(s *Socket) {
	for s.flags&sfClosed == 0 {
		var w *op
		for _, o := range s.ops {
			if o.waitsForNetwork() {
				w = o
				break
			}
		}
		if w == nil {
			return
		}
		switch w.kind {
		case opReceiveFrom:
			if !p.serveDatagram(s, w) {
				return
			}
		case opAccept:
			if s.lst == nil || len(s.lst.backlog) == 0 {
				return
			}
			e := s.lst.backlog[0]
			s.lst.backlog = s.lst.backlog[1:]
			ns := p.acceptSocket(s, e, w.ctx, w.disp)
			w.o.sock, w.o.laV, w.o.raV = ns, e.local, e.remote
			p.completeOp(w, nt.STATUS_SUCCESS, 0)
		case opReceive:
			e := s.end
			if e == nil {
				p.completeOp(w, nt.STATUS_INVALID_CONNECTION, 0)
				continue
			}
			switch {
			case len(e.rx) > 0:
				n := p.receiveBytes(w.i, &w.buf, e)
				p.completeOp(w, nt.STATUS_SUCCESS, n)
			case e.rst:
				p.completeOp(w, nt.STATUS_CONNECTION_RESET, 0)
			case e.rxFin:
				p.completeOp(w, nt.STATUS_SUCCESS, 0)
			default:
				return
			}
		}
	}
}

// ---- send, receive, disconnect ----

// lendBuf lends a WSK_BUF to i; false means the call must fail with
// STATUS_INVALID_PARAMETER (a violation was reported).
func (p *Provider) lendBuf(i *irp.IRP, b *Buf, fn string, s *Socket) bool {
	if b == nil || b.Block == nil {
		p.w.Violate(RuleNullArgument, fn+" with a NULL Buffer (WSK_BUF or its MDL)", s.Name())
		return false
	}
	return p.m.Lend(i, b.Block, b.Offset, b.Length)
}

// partial decides how many of n bytes a transfer moves.
func (p *Provider) partial(n uint64, label, bytesLabel string) uint64 {
	if n <= 1 || p.w.Choose(label, 2) == 0 {
		return n
	}
	k := uint64(p.w.Choose(bytesLabel, 4)) + 1
	if k >= n {
		k = n - 1
	}
	return k
}

func (p *Provider) receiveBytes(i *irp.IRP, b *Buf, e *end) uint64 {
	n := uint64(len(e.rx))
	if n > b.Length {
		n = b.Length
	}
	n = p.partial(n, ChoiceReceivePartial, ChoiceRecvPartialBytes)
	if n > 0 {
		p.m.Deliver(i, b.Block, b.Offset, e.rx[:n])
		e.rx = e.rx[:copy(e.rx, e.rx[n:])]
		p.evConsumed(e.sock, n)
	}
	return n
}

// WskSend models WskSend (IRQL <= DISPATCH_LEVEL) on a connected socket.
// The buffer is lent to the IRP until it completes; Information is the
// number of bytes sent (fewer than Length is a choice point).
func (p *Provider) WskSend(s *Socket, buffer *Buf, flags uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskSend")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Buffer", bufValue(buffer, true)), sim.F("Flags", sim.Int(uint64(flags))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dSend, "WskSend")
	if g == gateRefuse {
		return p.ret(f, ckSend, st)
	}
	if !p.submit(i, "WskSend", s.cl) {
		return p.leave(f, ckSend, s, p.badIRP())
	}
	var n uint64
	if g == gateOK {
		e := s.end
		switch {
		case !p.lendBuf(i, buffer, "WskSend", s):
			st = nt.STATUS_INVALID_PARAMETER
		case e == nil:
			st = nt.STATUS_INVALID_CONNECTION
		case e.rst:
			st = nt.STATUS_CONNECTION_RESET
		case e.txFin:
			st = nt.STATUS_INVALID_DEVICE_STATE
		case e.other().released && e.other().txFin:
			e.rst = true // the peer answers data to a closed socket with RST
			st = nt.STATUS_CONNECTION_RESET
		default:
			n = p.partial(buffer.Length, ChoiceSendPartial, ChoiceSendPartialBytes)
			p.transmit(e, buffer.Block.Bytes()[buffer.Offset:buffer.Offset+n])
			st = nt.STATUS_SUCCESS
		}
	}
	return p.leave(f, ckSend, s, p.finish(i, ckSend, ChoiceSendComplete, s, s.cl, st, n, nil))
}

// WskReceive models WskReceive (IRQL <= DISPATCH_LEVEL). With data waiting
// it completes at once with up to Length bytes (fewer is a choice point);
// after a graceful disconnect by the other side it completes with 0 bytes;
// otherwise the IRP pends until data, FIN or RST arrives.
func (p *Provider) WskReceive(s *Socket, buffer *Buf, flags uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskReceive")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Buffer", bufValue(buffer, false)), sim.F("Flags", sim.Int(uint64(flags))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dReceive, "WskReceive")
	if g == gateRefuse {
		return p.ret(f, ckReceive, st)
	}
	if !p.submit(i, "WskReceive", s.cl) {
		return p.leave(f, ckReceive, s, p.badIRP())
	}
	var n uint64
	if g == gateOK {
		e := s.end
		waiting := false
		for _, o := range s.ops {
			if o.kind == opReceive {
				waiting = true
				break
			}
		}
		switch {
		case !p.lendBuf(i, buffer, "WskReceive", s):
			st = nt.STATUS_INVALID_PARAMETER
		case e == nil:
			st = nt.STATUS_INVALID_CONNECTION
		case buffer.Length == 0:
			st = nt.STATUS_SUCCESS
		case !waiting && len(e.rx) > 0:
			n = p.receiveBytes(i, buffer, e)
			st = nt.STATUS_SUCCESS
		case !waiting && e.rst:
			st = nt.STATUS_CONNECTION_RESET
		case !waiting && e.rxFin:
			st = nt.STATUS_SUCCESS
		default:
			op := p.wait(opReceive, i, ckReceive, s, nil)
			op.buf = *buffer
			return p.leave(f, ckReceive, s, nt.STATUS_PENDING)
		}
	}
	return p.leave(f, ckReceive, s, p.finish(i, ckReceive, ChoiceReceiveComplete, s, s.cl, st, n, nil))
}

// WskDisconnect models WskDisconnect (IRQL <= DISPATCH_LEVEL): graceful
// (optional final data from buffer, then FIN) or abortive with
// WSK_FLAG_ABORTIVE (RST).
func (p *Provider) WskDisconnect(s *Socket, buffer *Buf, flags uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskDisconnect")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Buffer", bufValue(buffer, true)), sim.F("Flags", sim.Int(uint64(flags))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dDisconnect, "WskDisconnect")
	if g == gateRefuse {
		return p.ret(f, ckDisconnect, st)
	}
	if !p.submit(i, "WskDisconnect", s.cl) {
		return p.leave(f, ckDisconnect, s, p.badIRP())
	}
	if g == gateOK {
		e := s.end
		switch {
		case buffer != nil && !p.lendBuf(i, buffer, "WskDisconnect", s):
			st = nt.STATUS_INVALID_PARAMETER
		case e == nil:
			st = nt.STATUS_INVALID_CONNECTION
		case e.rst:
			st = nt.STATUS_CONNECTION_RESET
		case flags&WSK_FLAG_ABORTIVE != 0:
			p.abort(e)
			e.rst = true
			p.kick(e)
			st = nt.STATUS_SUCCESS
		default:
			if buffer != nil && buffer.Length > 0 && !e.txFin {
				p.transmit(e, buffer.Block.Bytes()[buffer.Offset:buffer.Offset+buffer.Length])
			}
			p.fin(e)
			st = nt.STATUS_SUCCESS
		}
	}
	return p.leave(f, ckDisconnect, s, p.finish(i, ckDisconnect, ChoiceDisconnectComplete, s, s.cl, st, 0, nil))
}

// WskCloseSocket models WskCloseSocket (IRQL <= DISPATCH_LEVEL). Every IRP
// still pending from earlier calls on the socket is completed (status per
// P-CLOSE) before the close completes; a connection not disconnected in both
// directions is reset. The close itself always succeeds. Calling it while
// another call on the socket is in progress is WSK-CLOSE-DURING-CALL; any
// use of the socket afterwards is WSK-AFTER-CLOSE.
func (p *Provider) WskCloseSocket(s *Socket, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskCloseSocket")
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	if s != nil && s.flags&sfClosed == 0 && s.busy > 0 {
		p.w.Violate(RuleCloseDuringCall, "WskCloseSocket on "+s.Name()+" while another call on it is in progress", s.Name())
	}
	g, st := p.gate(s, dClose, "WskCloseSocket")
	if g == gateRefuse {
		return p.ret(f, ckClose, st)
	}
	cl := s.cl
	if !p.submit(i, "WskCloseSocket", cl) {
		return p.leave(f, ckClose, s, p.badIRP())
	}
	if g == gateOK {
		p.destroy(s)
		st = nt.STATUS_SUCCESS
	}
	return p.leave(f, ckClose, s, p.finish(i, ckClose, ChoiceCloseComplete, nil, cl, st, 0, nil))
}

// WskGetLocalAddress models WskGetLocalAddress (IRQL <= DISPATCH_LEVEL);
// *localAddress is written when the IRP completes.
func (p *Provider) WskGetLocalAddress(s *Socket, localAddress *netip.AddrPort, i *irp.IRP) nt.Status {
	return p.getAddress(s, localAddress, i, true)
}

// WskGetRemoteAddress models WskGetRemoteAddress (IRQL <= DISPATCH_LEVEL);
// *remoteAddress is written when the IRP completes.
func (p *Provider) WskGetRemoteAddress(s *Socket, remoteAddress *netip.AddrPort, i *irp.IRP) nt.Status {
	return p.getAddress(s, remoteAddress, i, false)
}

func (p *Provider) getAddress(s *Socket, out *netip.AddrPort, i *irp.IRP, local bool) nt.Status {
	fn, arg, k, d := "WskGetRemoteAddress", "RemoteAddress", ckGetRemote, dGetRemote
	if local {
		fn, arg, k, d = "WskGetLocalAddress", "LocalAddress", ckGetLocal, dGetLocal
	}
	f := p.w.Begin(fn)
	if p.w.Tracing() {
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F(arg, addrPtrValue(out)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, d, fn)
	if g == gateRefuse {
		return p.ret(f, k, st)
	}
	if !p.submit(i, fn, s.cl) {
		return p.leave(f, k, s, p.badIRP())
	}
	var o outs
	if g == gateOK {
		switch {
		case out == nil:
			p.w.Violate(RuleNullArgument, fn+" with a NULL "+arg, s.Name())
			st = nt.STATUS_INVALID_PARAMETER
		case local && s.flags&sfBound == 0:
			st = nt.STATUS_INVALID_DEVICE_STATE
		case !local && s.end == nil:
			st = nt.STATUS_INVALID_CONNECTION
		case local:
			o.la, o.laV = out, s.LocalAddr()
			st = nt.STATUS_SUCCESS
		default:
			o.ra, o.raV = out, s.end.remote
			st = nt.STATUS_SUCCESS
		}
	}
	return p.leave(f, k, s, p.finish(i, k, ChoiceAddressComplete, s, s.cl, st, 0, &o))
}
