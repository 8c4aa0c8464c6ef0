package wsk

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// Datagram sockets (WSK_FLAG_DATAGRAM_SOCKET) and the UDP redirect path.
//
// A datagram socket is bound (WskBind) before it sends or receives. Each
// WskSendTo names its destination; the first datagram from a local address
// to a remote address creates a flow, and WFP classifies that flow at
// ALE_CONNECT_REDIRECT like a TCP connect (protocol IPPROTO_UDP). A permitted
// flow is remembered for the socket's lifetime, so later datagrams to the
// same remote go where the first one went without a new classify; a blocked
// datagram creates no flow. A callout may redirect the flow to a local
// proxy: the proxy's datagram socket receives the flow's first datagram with
// the redirect records (IP_WFP_REDIRECT_RECORDS) and context
// (IP_WFP_REDIRECT_CONTEXT) as control information, and hands the records on
// as control information of the first datagram of its own flow to the
// original destination (the UDP counterpart of
// SIO_QUERY/SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS: IP_WFP_REDIRECT_RECORDS
// and IP_WFP_REDIRECT_CONTEXT in IPPROTO_IP socket options,
// https://learn.microsoft.com/windows/win32/winsock/ipproto-ip-socket-options).

// Control-information layout (WSACMSGHDR on 64-bit Windows, ws2def.h): an
// 8-byte cmsg_len, a 4-byte cmsg_level and a 4-byte cmsg_type, then the
// data; each object starts 8-byte aligned (WSA_CMSGHDR_ALIGN).
const (
	cmsgHdrLen = 16
	cmsgAlign  = 8
	// MaxDatagram is the largest UDP payload over IPv4 (65,535 minus the IP
	// and UDP headers); WskSendTo of a larger buffer fails with
	// STATUS_INVALID_BUFFER_SIZE (WSAEMSGSIZE).
	MaxDatagram = 65507
)

// MSG_* flags WskReceiveFrom reports in *ControlFlags (ws2def.h).
const (
	MSG_TRUNC  uint32 = 0x0100 // the datagram was larger than the buffer; the rest is discarded
	MSG_CTRUNC uint32 = 0x0200 // the control information did not fit ControlInfo
)

func cmsgSpace(n int) int { return cmsgHdrLen + (n+cmsgAlign-1)&^(cmsgAlign-1) }

// AppendCMSG appends one control-data object (WSACMSGHDR and data, padded
// to the next object's alignment) to b: what a driver builds in the
// ControlInfo of WskSendTo, and what WskReceiveFrom delivers.
func AppendCMSG(b []byte, level, typ uint32, data []byte) []byte {
	var h [cmsgHdrLen]byte
	binary.LittleEndian.PutUint64(h[0:], uint64(cmsgHdrLen+len(data)))
	binary.LittleEndian.PutUint32(h[8:], level)
	binary.LittleEndian.PutUint32(h[12:], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for pad := cmsgSpace(len(data)) - cmsgHdrLen - len(data); pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// CMSG is one control-data object of a ControlInfo buffer.
type CMSG struct {
	Level, Type uint32
	Data        []byte // aliases the buffer parsed
}

// ParseCMSG splits control information into its objects, walking it as
// WSA_CMSG_NXTHDR does: fewer bytes left than a header end the walk. It
// fails on a cmsg_len shorter than the header or running past the buffer.
func ParseCMSG(b []byte) ([]CMSG, error) {
	var out []CMSG
	for off := 0; off < len(b); {
		if len(b)-off < cmsgHdrLen {
			break // WSA_CMSG_NXTHDR stops where a header no longer fits
		}
		l := binary.LittleEndian.Uint64(b[off:])
		if l < cmsgHdrLen || l > uint64(len(b)-off) {
			return out, fmt.Errorf("wsk.ParseCMSG: cmsg_len %d at offset %d outside %d..%d", l, off, cmsgHdrLen, len(b)-off)
		}
		out = append(out, CMSG{Level: binary.LittleEndian.Uint32(b[off+8:]), Type: binary.LittleEndian.Uint32(b[off+12:]), Data: b[off+cmsgHdrLen : off+int(l)]})
		off += (int(l) + cmsgAlign - 1) &^ (cmsgAlign - 1)
	}
	return out, nil
}

// datagram is one datagram queued at a receiving endpoint.
type datagram struct {
	from    netip.AddrPort
	data    []byte
	control []byte // control information for the receiver (records, context), nil if none
}

// udpFlow is a permitted flow from a sending endpoint to one remote.
type udpFlow struct {
	remote netip.AddrPort // the destination the sender names
	dst    netip.AddrPort // where its datagrams go (the redirect target when redirected)
	src    netip.AddrPort // the sender's address as the receiver sees it
	flow   wfp.FlowID
	// control is what the receiver gets with the flow's first datagram
	// (redirect records and context); nil once delivered.
	control []byte
}

// dgEndpoint is the datagram state of a WSK datagram socket or a peer.
type dgEndpoint struct {
	rx    []datagram
	flows []*udpFlow
}

func (d *dgEndpoint) flowTo(remote netip.AddrPort) *udpFlow {
	for _, f := range d.flows {
		if f.remote == remote {
			return f
		}
	}
	return nil
}

func (p *Provider) endFlows(d *dgEndpoint) {
	for _, f := range d.flows {
		p.endFlow(f.flow)
	}
	d.flows = nil
	d.rx = nil
}

// udpSend sends one datagram from org (bound at org.local) to remote:
// classify a new flow, then deliver. records is the IP_WFP_REDIRECT_RECORDS
// the sender attached (nil if none); family is the sender's AF_INET or
// AF_INET6 (the cmsg level of what the receiver gets).
func (p *Provider) udpSend(d *dgEndpoint, org origin, remote netip.AddrPort, data []byte, family uint16) nt.Status {
	f := d.flowTo(remote)
	if f == nil {
		src, st := p.dialSource(org, remote)
		if st != nt.STATUS_SUCCESS {
			return st
		}
		var res wfp.ConnectResult
		if org.classify {
			req := p.dialRequest(org, src, remote)
			req.Protocol = uint8(nt.IPPROTO_UDP)
			p.e.ClassifyConnect(&req, &res)
		}
		if res.Blocked {
			p.endFlow(res.Flow)
			if p.w.PolicyName(PolicyUDPBlock) == "drop" {
				return nt.STATUS_SUCCESS
			}
			return nt.STATUS_ACCESS_DENIED
		}
		f = &udpFlow{remote: remote, dst: remote, flow: res.Flow}
		if res.Redirected && res.Remote.IsValid() {
			f.dst = res.Remote
			if f.dst.Addr().IsLoopback() != src.IsLoopback() && org.local.Addr().IsUnspecified() {
				if a, ok := p.net.source(f.dst.Addr()); ok {
					src = a
				}
			}
			level := nt.IPPROTO_IP
			if family == nt.AF_INET6 {
				level = nt.IPPROTO_IPV6
			}
			if res.Records != nil {
				f.control = AppendCMSG(f.control, level, nt.IP_WFP_REDIRECT_RECORDS, res.Records)
			}
			if res.Context != nil {
				f.control = AppendCMSG(f.control, level, nt.IP_WFP_REDIRECT_CONTEXT, res.Context)
			}
		}
		f.src = netip.AddrPortFrom(src, org.local.Port())
		d.flows = append(d.flows, f)
	}
	p.udpDeliver(f.dst, datagram{from: f.src, data: append(p.dgBuf(len(data)), data...), control: f.control})
	f.control = nil
	return nt.STATUS_SUCCESS
}

// dgBuf returns an empty slice with room for n bytes, reusing the payload
// of a datagram a WSK socket already received (the steady state allocates
// nothing).
func (p *Provider) dgBuf(n int) []byte {
	for k := len(p.dgFree) - 1; k >= 0; k-- {
		if b := p.dgFree[k]; cap(b) >= n {
			p.dgFree[k] = p.dgFree[len(p.dgFree)-1]
			p.dgFree = p.dgFree[:len(p.dgFree)-1]
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

// popDatagram takes the oldest datagram of a queue without letting the
// queue's backing array drift (appends reuse it).
func popDatagram(q *[]datagram) datagram {
	rx := *q
	dg := rx[0]
	copy(rx, rx[1:])
	rx[len(rx)-1] = datagram{}
	*q = rx[:len(rx)-1]
	return dg
}

// udpDeliver queues dg at the endpoint bound to dst, if any (UDP drops a
// datagram nobody is bound for).
func (p *Provider) udpDeliver(dst netip.AddrPort, dg datagram) {
	if pu := p.net.udpRemote[dst]; pu != nil {
		pu.ep.rx = append(pu.ep.rx, dg)
		return
	}
	if !p.net.isLocal(dst.Addr()) {
		return
	}
	switch o := p.udpOwner(dst).(type) {
	case *Socket:
		if o.dg != nil && o.flags&(sfClosed|sfDead) == 0 {
			o.dg.rx = append(o.dg.rx, dg)
			p.kickSocket(o)
		}
	case *PeerUDP:
		o.ep.rx = append(o.ep.rx, dg)
	}
}

// controlOf extracts IP_WFP_REDIRECT_RECORDS from a sender's control
// information for a socket of family af.
func controlRecords(cms []CMSG, af uint16) []byte {
	level := nt.IPPROTO_IP
	if af == nt.AF_INET6 {
		level = nt.IPPROTO_IPV6
	}
	for _, c := range cms {
		if c.Level == level && c.Type == nt.IP_WFP_REDIRECT_RECORDS {
			return c.Data
		}
	}
	return nil
}

// WskSendTo models WskSendTo (IRQL <= DISPATCH_LEVEL) on a bound datagram
// socket: one datagram of buffer.Length bytes to *remoteAddress (the model
// has no fixed remote address, so remoteAddress is required). ControlInfo,
// when controlInfoLength is not 0, is lent to the IRP like the buffer; an
// IP_WFP_REDIRECT_RECORDS object in it gives the flow's first datagram the
// records of the flow it carries on (a proxy's duty; without them its own
// datagrams are redirected back to it). Information is the number of bytes
// sent: the whole datagram. A flow WFP blocks fails with
// STATUS_ACCESS_DENIED (policy P-UDPBLOCK).
func (p *Provider) WskSendTo(s *Socket, buffer *Buf, flags uint32, remoteAddress *netip.AddrPort, controlInfoLength uint32, controlInfo *irp.Block, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskSendTo")
	if p.w.Tracing() {
		ra := sim.Null()
		if remoteAddress != nil {
			ra = sim.Str(remoteAddress.String())
		}
		ci := sim.Null()
		if controlInfo != nil {
			ci = blockValue(controlInfo, uint64(controlInfoLength), true)
		}
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Buffer", bufValue(buffer, true)), sim.F("Flags", sim.Int(uint64(flags))),
			sim.F("RemoteAddress", ra), sim.F("ControlInfoLength", sim.Int(uint64(controlInfoLength))), sim.F("ControlInfo", ci), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dSendTo, "WskSendTo")
	if g == gateRefuse {
		return p.ret(f, ckSendTo, st)
	}
	if !p.submit(i, "WskSendTo", s.cl) {
		return p.leave(f, ckSendTo, s, p.badIRP())
	}
	var n uint64
	if g == gateOK {
		if flags != 0 {
			p.w.Violate(RuleReservedFlags, "WskSendTo with Flags != 0 (reserved)", s.Name())
		}
		var ctl []byte
		switch {
		case !p.lendBuf(i, buffer, "WskSendTo", s):
			st = nt.STATUS_INVALID_PARAMETER
		case remoteAddress == nil:
			p.w.Violate(RuleNullArgument, "WskSendTo with a NULL RemoteAddress (the model has no fixed remote address: SIO_WSK_SET_REMOTE_ADDRESS is not modelled)", s.Name())
			st = nt.STATUS_INVALID_PARAMETER
		case controlInfoLength != 0 && controlInfo == nil:
			p.w.Violate(RuleNullArgument, fmt.Sprintf("WskSendTo with ControlInfoLength %d and a NULL ControlInfo", controlInfoLength), s.Name())
			st = nt.STATUS_INVALID_PARAMETER
		case controlInfoLength != 0 && !p.m.Lend(i, controlInfo, 0, uint64(controlInfoLength)):
			st = nt.STATUS_INVALID_PARAMETER
		case s.flags&sfBound == 0:
			p.w.Violate(RuleNotBound, "WskSendTo on "+s.Name()+", a datagram socket that is not bound", s.Name())
			st = nt.STATUS_INVALID_DEVICE_STATE
		case !remoteAddress.IsValid() || remoteAddress.Port() == 0 || remoteAddress.Addr().IsUnspecified() || !s.sendAddrOK(remoteAddress.Addr()):
			p.w.TraceNote(fmt.Sprintf("wsk: WskSendTo on %s: RemoteAddress %v is not a destination of this %s socket (IPv4 for AF_INET; IPv6, or IPv4-mapped when IPV6_V6ONLY is off, for AF_INET6; a port and a specific address)", s.Name(), *remoteAddress, familyName(s.family)))
			st = nt.STATUS_INVALID_PARAMETER
		case buffer.Length > MaxDatagram:
			st = nt.STATUS_INVALID_BUFFER_SIZE
		default:
			if controlInfoLength != 0 {
				ctl = controlInfo.Bytes()[:controlInfoLength]
			}
			cms, err := ParseCMSG(ctl)
			if err != nil {
				p.w.TraceNote("wsk: WskSendTo on " + s.Name() + ": malformed ControlInfo: " + err.Error())
				st = nt.STATUS_INVALID_PARAMETER
				break
			}
			remote := netip.AddrPortFrom(remoteAddress.Addr().Unmap(), remoteAddress.Port())
			org := origin{pid: s.owner.PID, local: s.local, records: controlRecords(cms, s.family), classify: true}
			if s.dg.flowTo(remote) == nil {
				org.name = s.Name() // for WFP's reports; formatted only for a new flow
			}
			st = p.udpSend(s.dg, org, remote, buffer.Block.Bytes()[buffer.Offset:buffer.Offset+buffer.Length], s.family)
			if st == nt.STATUS_SUCCESS {
				n = buffer.Length
			}
		}
	}
	return p.leave(f, ckSendTo, s, p.finish(i, ckSendTo, ChoiceSendToComplete, s, s.cl, st, n, nil))
}

// WskReceiveFrom models WskReceiveFrom (IRQL <= DISPATCH_LEVEL) on a bound
// datagram socket. With a datagram queued it completes at once, else the
// IRP pends until one arrives. Information is the number of bytes copied; a
// datagram larger than the buffer is truncated (MSG_TRUNC) and the rest
// discarded. *remoteAddress (optional) receives the sender's address. When
// controlLength is not NULL, *controlLength is the size of controlInfo on
// input and, at completion, the size of the control information delivered:
// the redirect records and context of a redirected flow's first datagram,
// whole objects only (what does not fit is dropped and MSG_CTRUNC set).
// *controlFlags (optional) receives MSG_TRUNC / MSG_CTRUNC.
func (p *Provider) WskReceiveFrom(s *Socket, buffer *Buf, flags uint32, remoteAddress *netip.AddrPort, controlLength *uint32, controlInfo *irp.Block, controlFlags *uint32, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskReceiveFrom")
	if p.w.Tracing() {
		cl := sim.Null()
		if controlLength != nil {
			cl = sim.Int(uint64(*controlLength))
		}
		ci := sim.Null()
		if controlInfo != nil {
			var n uint64
			if controlLength != nil {
				n = uint64(*controlLength)
			}
			ci = blockValue(controlInfo, n, false)
		}
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("Buffer", bufValue(buffer, false)), sim.F("Flags", sim.Int(uint64(flags))),
			sim.F("RemoteAddress", addrPtrValue(remoteAddress)), sim.F("ControlLength", cl), sim.F("ControlInfo", ci),
			sim.F("ControlFlags", ptrArg(controlFlags != nil)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	p.fromCompletion()
	g, st := p.gate(s, dReceiveFrom, "WskReceiveFrom")
	if g == gateRefuse {
		return p.ret(f, ckReceiveFrom, st)
	}
	if !p.submit(i, "WskReceiveFrom", s.cl) {
		return p.leave(f, ckReceiveFrom, s, p.badIRP())
	}
	var n uint64
	var o outs
	if g == gateOK {
		if flags != 0 {
			p.w.Violate(RuleReservedFlags, "WskReceiveFrom with Flags != 0 (reserved)", s.Name())
		}
		var ctlCap uint32
		if controlLength != nil && controlInfo != nil {
			ctlCap = *controlLength
		}
		switch {
		case !p.lendBuf(i, buffer, "WskReceiveFrom", s):
			st = nt.STATUS_INVALID_PARAMETER
		case ctlCap != 0 && !p.m.Lend(i, controlInfo, 0, uint64(ctlCap)):
			st = nt.STATUS_INVALID_PARAMETER
		case s.flags&sfBound == 0:
			p.w.Violate(RuleNotBound, "WskReceiveFrom on "+s.Name()+", a datagram socket that is not bound", s.Name())
			st = nt.STATUS_INVALID_DEVICE_STATE
		default:
			o = outs{ra: remoteAddress, ctlLen: controlLength, ctlFlags: controlFlags}
			waiting := false
			for _, w := range s.ops {
				if w.kind == opReceiveFrom {
					waiting = true
					break
				}
			}
			if waiting || len(s.dg.rx) == 0 {
				op := p.wait(opReceiveFrom, i, ckReceiveFrom, s, &o)
				op.buf, op.ctl, op.ctlCap = *buffer, controlInfo, ctlCap
				return p.leave(f, ckReceiveFrom, s, nt.STATUS_PENDING)
			}
			n, st = p.receiveDatagram(i, s, buffer, controlInfo, ctlCap, &o)
		}
	}
	return p.leave(f, ckReceiveFrom, s, p.finish(i, ckReceiveFrom, ChoiceReceiveFromComplete, s, s.cl, st, n, &o))
}

// receiveDatagram moves the first queued datagram of s into buffer (and its
// control information into ctl, up to ctlCap bytes), fills o and returns
// the bytes copied and the completion status (P-DGTRUNC when truncated).
func (p *Provider) receiveDatagram(i *irp.IRP, s *Socket, buffer *Buf, ctl *irp.Block, ctlCap uint32, o *outs) (uint64, nt.Status) {
	dg := popDatagram(&s.dg.rx)
	p.evConsumed(s, 1)
	defer func() {
		if len(p.dgFree) < 64 {
			p.dgFree = append(p.dgFree, dg.data)
		}
	}()
	n := uint64(len(dg.data))
	if n > buffer.Length {
		n = buffer.Length
		o.ctlFlagsV |= MSG_TRUNC
	}
	if n > 0 {
		p.m.Deliver(i, buffer.Block, buffer.Offset, dg.data[:n])
	}
	o.raV = dg.from
	if s.family == nt.AF_INET6 && dg.from.Addr().Is4() {
		// An IPv4 sender as a dual-stack socket sees it: IPv4-mapped.
		o.raV = netip.AddrPortFrom(netip.AddrFrom16(dg.from.Addr().As16()), dg.from.Port())
	}
	if dg.control != nil && o.ctlLen != nil {
		cms, _ := ParseCMSG(dg.control)
		var out []byte
		for _, c := range cms {
			if len(out)+cmsgSpace(len(c.Data)) > int(ctlCap) {
				o.ctlFlagsV |= MSG_CTRUNC
				continue
			}
			out = AppendCMSG(out, c.Level, c.Type, c.Data)
		}
		if len(out) > 0 {
			p.m.Deliver(i, ctl, 0, out)
		}
		o.ctlLenV = uint32(len(out))
		o.ctlOut = out
	}
	if o.ctlFlagsV&MSG_TRUNC != 0 && p.w.PolicyName(PolicyDgTrunc) == "STATUS_BUFFER_OVERFLOW" {
		return n, nt.STATUS_BUFFER_OVERFLOW
	}
	return n, nt.STATUS_SUCCESS
}

// serveDatagram completes the oldest WskReceiveFrom waiting on s; false
// when there is nothing to receive yet.
func (p *Provider) serveDatagram(s *Socket, w *op) bool {
	if s.dg == nil || len(s.dg.rx) == 0 {
		return false
	}
	n, st := p.receiveDatagram(w.i, s, &w.buf, w.ctl, w.ctlCap, &w.o)
	p.completeOp(w, st, n)
	return true
}

// ---- peers: user-mode programs and remote hosts with UDP endpoints ----

// PeerUDP is a UDP endpoint of a scripted peer: a program on the machine
// under test (bound to a local address; its first datagram to each remote is
// classified by WFP with its PID, like the driver's) or a service on a
// remote host (not classified by the local connect layer).
type PeerUDP struct {
	p      *Provider
	proc   *Process
	name   string
	local  netip.AddrPort
	remote bool // a remote host's endpoint
	ep     dgEndpoint
	closed bool
}

// Name returns the endpoint's name ("peer3"), or "NULL".
func (pu *PeerUDP) Name() string {
	if pu == nil {
		return "NULL"
	}
	return pu.name
}

// Local returns the endpoint's address (the zero AddrPort for nil).
func (pu *PeerUDP) Local() netip.AddrPort {
	if pu == nil {
		return netip.AddrPort{}
	}
	return pu.local
}

// Datagram is a datagram a peer received.
type Datagram struct {
	From netip.AddrPort
	Data []byte
}

// PeerUDPBind binds a UDP endpoint of proc at addr: a local address (port 0
// picks an ephemeral port) or a remote host's address and port. It is the
// trace's env peer_udp_bind.
func (p *Provider) PeerUDPBind(proc *Process, addr netip.AddrPort) (*PeerUDP, error) {
	if _, err := p.peerProc(proc); err != nil {
		return nil, fmt.Errorf("wsk.PeerUDPBind: %v", err)
	}
	if !addr.IsValid() || addr.Addr().IsUnspecified() {
		return nil, fmt.Errorf("wsk.PeerUDPBind: invalid address %v (a peer binds a specific address)", addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	pu := &PeerUDP{p: p, proc: proc, local: addr}
	if p.net.isLocal(addr.Addr()) {
		port, st := p.net.bind(true, addr.Addr(), addr.Port(), bindOpts{v6only: true}, pu)
		if st != nt.STATUS_SUCCESS {
			return nil, fmt.Errorf("wsk.PeerUDPBind: cannot bind %v: %v", addr, st)
		}
		pu.local = netip.AddrPortFrom(addr.Addr(), port)
	} else {
		if addr.Port() == 0 {
			return nil, fmt.Errorf("wsk.PeerUDPBind: a remote endpoint %v needs a port", addr)
		}
		if p.net.udpRemote[addr] != nil {
			return nil, fmt.Errorf("wsk.PeerUDPBind: %v is already bound", addr)
		}
		pu.remote = true
		p.net.udpRemote[addr] = pu
	}
	pu.name = sim.Name("peer", p.w.NextName("peer"))
	p.w.TraceEnv("peer_udp_bind", sim.F("addr", sim.Str(pu.local.String())), sim.F("name", sim.Str(pu.name)))
	return pu, nil
}

// SendTo sends one datagram to `to` (the trace's env peer_sendto). A local
// endpoint's first datagram to each destination is classified by WFP; the
// status is the network's answer (STATUS_ACCESS_DENIED when WFP blocks,
// STATUS_SUCCESS even when nobody is bound at `to`: UDP drops it).
func (pu *PeerUDP) SendTo(to netip.AddrPort, data []byte) (nt.Status, error) {
	if pu == nil {
		return 0, fmt.Errorf("wsk.PeerUDP.SendTo: nil endpoint")
	}
	if pu.closed {
		return 0, fmt.Errorf("wsk.PeerUDP.SendTo: %s is closed", pu.name)
	}
	if !to.IsValid() || to.Port() == 0 || to.Addr().IsUnspecified() {
		return 0, fmt.Errorf("wsk.PeerUDP.SendTo: invalid destination %v", to)
	}
	if len(data) > MaxDatagram {
		return 0, fmt.Errorf("wsk.PeerUDP.SendTo: %d bytes is more than a datagram holds (%d)", len(data), MaxDatagram)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	p := pu.p
	p.w.TraceEnv("peer_sendto", sim.F("conn", sim.Str(pu.name)), sim.F("to", sim.Str(to.String())), sim.F("data", sim.Hex(data, "")))
	org := origin{name: pu.name, pid: pu.proc.PID, local: pu.local, classify: !pu.remote}
	af := nt.AF_INET
	if pu.local.Addr().Is6() {
		af = nt.AF_INET6
	}
	return p.udpSend(&pu.ep, org, to, data, af), nil
}

// Receive takes the oldest datagram the endpoint received.
func (pu *PeerUDP) Receive() (Datagram, bool) {
	if pu == nil || len(pu.ep.rx) == 0 {
		return Datagram{}, false
	}
	dg := popDatagram(&pu.ep.rx)
	return Datagram{From: dg.from, Data: dg.data}, true
}

// Pending returns how many datagrams wait at the endpoint.
func (pu *PeerUDP) Pending() int {
	if pu == nil {
		return 0
	}
	return len(pu.ep.rx)
}

// Close unbinds the endpoint and ends its flows (the trace's env
// peer_udp_close).
func (pu *PeerUDP) Close() {
	if pu == nil || pu.closed {
		return
	}
	pu.closed = true
	p := pu.p
	p.w.TraceEnv("peer_udp_close", sim.F("conn", sim.Str(pu.name)))
	if pu.remote {
		delete(p.net.udpRemote, pu.local)
	} else {
		p.net.unbind(true, pu.local.Port(), pu)
	}
	p.endFlows(&pu.ep)
}

// sendAddrOK reports whether a is a destination address of s's family: IPv4
// for AF_INET; IPv6 for AF_INET6, and IPv4-mapped IPv6 too unless the
// socket is IPV6_V6ONLY (dual-stack-sockets).
func (s *Socket) sendAddrOK(a netip.Addr) bool {
	if s.family == nt.AF_INET {
		return a.Is4()
	}
	if a.Is4In6() {
		return s.flags&sfV6Only == 0
	}
	return a.Is6()
}

func familyName(af uint16) string {
	if af == nt.AF_INET6 {
		return "AF_INET6"
	}
	return "AF_INET"
}

// killDatagrams is a datagram socket becoming no longer functional
// (ForceClose, P-FORCED): waiting receives complete with
// STATUS_FILE_FORCED_CLOSED, queued datagrams and flows go.
func (p *Provider) killDatagrams(s *Socket) {
	if s.dg == nil {
		return
	}
	for k := 0; k < len(s.ops); {
		if o := s.ops[k]; o.kind == opReceiveFrom {
			p.completeOp(o, nt.STATUS_FILE_FORCED_CLOSED, 0)
			continue // completeOp removed it
		}
		k++
	}
	p.endFlows(s.dg)
}

// RedirectedDatagram delivers to the endpoint bound at `to` the first
// datagram (data) of a flow from `from` to `original` that a connect-redirect
// callout holding redirect handle `handle` redirected, for process
// targetPID, with redirect context `context` (the trace's
// redirected_datagram: the UDP twin of RedirectedConnect, for a callout that
// is not the driver under test). The datagram carries the records
// wfp.Engine.IssueRedirect issues and the context as control information.
// The application's endpoint is returned as a PeerUDP named name ("" picks
// one), bound at `from`; its later datagrams to `original` go to `to`, as
// the flow's do.
func (p *Provider) RedirectedDatagram(name string, from, original, to netip.AddrPort, handle string, context []byte, targetPID uint32, data []byte) (*PeerUDP, error) {
	if !from.IsValid() || from.Port() == 0 || from.Addr().IsUnspecified() || !original.IsValid() || original.Port() == 0 || !to.IsValid() || to.Port() == 0 {
		return nil, fmt.Errorf("wsk.RedirectedDatagram: invalid address (from %v, original %v, to %v)", from, original, to)
	}
	if handle == "" {
		return nil, fmt.Errorf("wsk.RedirectedDatagram: empty redirect handle name")
	}
	if len(data) > MaxDatagram {
		return nil, fmt.Errorf("wsk.RedirectedDatagram: %d bytes is more than a datagram holds (%d)", len(data), MaxDatagram)
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	original = netip.AddrPortFrom(original.Addr().Unmap(), original.Port())
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	if !p.net.isLocal(to.Addr()) || p.udpOwner(to) == nil {
		return nil, fmt.Errorf("wsk.RedirectedDatagram: nothing is bound at %v", to)
	}
	// Every check comes before anything happens, so a refused call leaves
	// no trace.
	pu := &PeerUDP{p: p, proc: p.System(), local: from}
	if p.net.isLocal(from.Addr()) {
		if _, st := p.net.bind(true, from.Addr(), from.Port(), bindOpts{v6only: true}, pu); st != nt.STATUS_SUCCESS {
			return nil, fmt.Errorf("wsk.RedirectedDatagram: cannot bind the application's endpoint %v: %v", from, st)
		}
	} else {
		if p.net.udpRemote[from] != nil {
			return nil, fmt.Errorf("wsk.RedirectedDatagram: %v is already bound", from)
		}
		pu.remote = true
		p.net.udpRemote[from] = pu
	}
	if name == "" {
		name = sim.Name("peer", p.w.NextName("peer"))
	}
	pu.name = name
	p.w.TraceEnv("redirected_datagram", sim.F("name", sim.Str(name)), sim.F("from", sim.Str(from.String())), sim.F("original", sim.Str(original.String())),
		sim.F("to", sim.Str(to.String())), sim.F("handle", sim.Str(handle)), sim.F("context", sim.Hex(context, "")), sim.F("target_pid", sim.Int(uint64(targetPID))),
		sim.F("data", sim.Hex(data, "")))
	rec, err := p.e.IssueRedirect(handle, from, original, to, context, targetPID, nil)
	if err != nil {
		panic("wsk: internal: IssueRedirect refused checked arguments: " + err.Error())
	}
	level := nt.IPPROTO_IP
	if to.Addr().Is6() {
		level = nt.IPPROTO_IPV6
	}
	ctl := AppendCMSG(nil, level, nt.IP_WFP_REDIRECT_RECORDS, rec)
	if context != nil {
		ctl = AppendCMSG(ctl, level, nt.IP_WFP_REDIRECT_CONTEXT, context)
	}
	pu.ep.flows = append(pu.ep.flows, &udpFlow{remote: original, dst: to, src: from})
	p.udpDeliver(to, datagram{from: from, data: append(p.dgBuf(len(data)), data...), control: ctl})
	return pu, nil
}

// udpOwner returns the endpoint bound at dst (a local address), or nil.
func (p *Provider) udpOwner(dst netip.AddrPort) any {
	var exact, wild any
	for _, b := range p.net.binds[bindKey{udp: true, port: dst.Port()}] {
		switch {
		case b.addr == dst.Addr():
			exact = b.owner
		case b.addr.IsUnspecified() && (b.addr.Is4() == dst.Addr().Is4() || (b.addr.Is6() && dst.Addr().Is4() && !b.v6only)):
			// 0.0.0.0 takes IPv4 only; [::] takes IPv6, and IPv4 too
			// unless IPV6_V6ONLY (dual-stack-sockets).
			wild = b.owner
		}
	}
	if exact != nil {
		return exact
	}
	return wild
}
