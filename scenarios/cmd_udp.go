package scenarios

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// Datagram sockets and UDP peers (wsk datagram.go).

func init() {
	for _, c := range []*command{
		{name: "wsk-sendto", args: []string{"socket", "buf", "off", "len", "flags", "to", "ctl", "ctl-len", "irp"}, open: true, run: cmdWskSendTo,
			help: "WskSendTo(Socket, Buffer, Flags, RemoteAddress, ControlInfoLength, ControlInfo, Irp); ctl= is a pool block of WSACMSGHDR objects (what a wsk-receivefrom put there, say), ctl-len= the ControlInfoLength (default: the whole block, so give the ControlLength a receive showed)", ex: "wsk-sendto socket=out buf=data len=2 to=198.51.100.7:53 ctl=cmsg ctl-len=144 irp=op"},
		{name: "wsk-receivefrom", args: []string{"socket", "buf", "off", "len", "flags", "from", "ctl", "ctl-len", "cflags", "irp"}, open: true, run: cmdWskReceiveFrom,
			help: "WskReceiveFrom(Socket, Buffer, Flags, RemoteAddress, ControlLength, ControlInfo, ControlFlags, Irp); from=NULL and cflags=NULL pass NULL pointers, ctl-len=NULL a NULL ControlLength; the completion shows the control objects", ex: "wsk-receivefrom socket=in buf=data len=16 ctl=cmsg ctl-len=1024 irp=op"},
		{name: "peer-udp-bind", args: []string{"process", "addr", "name"}, open: true, run: cmdPeerUDPBind, help: "a UDP endpoint of a user-mode program (a local address) or of a remote host", ex: "peer-udp-bind process=System addr=198.51.100.7:53 name=dns"},
		{name: "peer-sendto", args: []string{"conn", "to", "hex", "text"}, open: true, run: cmdPeerSendTo, help: "a peer's UDP endpoint sends one datagram (a local one's first datagram to each destination is classified by WFP)", ex: "peer-sendto conn=app to=198.51.100.7:53 text=q"},
		{name: "peer-recvfrom", args: []string{"conn"}, open: true, run: cmdPeerRecvFrom, help: "a peer's UDP endpoint takes the next datagram and prints it", ex: "peer-recvfrom conn=dns"},
		{name: "peer-udp-close", args: []string{"conn"}, open: true, run: cmdPeerUDPClose, help: "a peer's UDP endpoint closes", ex: "peer-udp-close conn=dns"},
		{name: "redirected-datagram", args: []string{"name", "from", "original", "to", "handle", "context", "target-pid", "hex", "text"}, open: true, run: cmdRedirectedDatagram,
			help: "the first datagram of a flow another vendor's callout redirected arrives at a local datagram endpoint with the records and context (the trace's redirected_datagram); name= is the application's endpoint", ex: "redirected-datagram name=app from=10.0.0.1:40000 original=198.51.100.7:53 to=127.0.0.1:5300 handle=Other context=c0ffee target-pid=500 text=q"},
	} {
		register(c)
	}
}

// dgCall is what a completed WskReceiveFrom shows.
type dgCall struct {
	from     *netip.AddrPort
	ctlLen   *uint32
	ctl      *irp.Block
	ctlFlags *uint32
}

func (d *dgCall) text(ok bool) []string {
	var parts []string
	if d.from != nil && ok {
		parts = append(parts, "RemoteAddress="+addrString(*d.from))
	}
	if d.ctlLen != nil && ok {
		parts = append(parts, fmt.Sprintf("ControlLength=%d", *d.ctlLen))
		if *d.ctlLen > 0 && d.ctl != nil && !d.ctl.Freed() && uint64(*d.ctlLen) <= d.ctl.Size() {
			parts = append(parts, "Control="+cmsgText(d.ctl.Bytes()[:*d.ctlLen]))
		}
	}
	if d.ctlFlags != nil && ok {
		parts = append(parts, "ControlFlags="+msgFlags(*d.ctlFlags))
	}
	return parts
}

func cmsgText(b []byte) string {
	cms, err := wsk.ParseCMSG(b)
	var parts []string
	for _, c := range cms {
		name := fmt.Sprintf("type %d", c.Type)
		switch c.Type {
		case nt.IP_WFP_REDIRECT_RECORDS:
			name = "IP_WFP_REDIRECT_RECORDS"
		case nt.IP_WFP_REDIRECT_CONTEXT:
			name = "IP_WFP_REDIRECT_CONTEXT"
		}
		level := fmt.Sprintf("level %d", c.Level)
		switch c.Level {
		case nt.IPPROTO_IP:
			level = "IPPROTO_IP"
		case nt.IPPROTO_IPV6:
			level = "IPPROTO_IPV6"
		}
		s := fmt.Sprintf("%s/%s %d bytes", level, name, len(c.Data))
		if c.Type == nt.IP_WFP_REDIRECT_CONTEXT && printable(c.Data) {
			s += fmt.Sprintf(" %q", c.Data)
		}
		parts = append(parts, s)
	}
	if err != nil {
		parts = append(parts, "malformed: "+err.Error())
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func msgFlags(f uint32) string {
	var parts []string
	if f&wsk.MSG_TRUNC != 0 {
		parts = append(parts, "MSG_TRUNC")
	}
	if f&wsk.MSG_CTRUNC != 0 {
		parts = append(parts, "MSG_CTRUNC")
	}
	if rest := f &^ (wsk.MSG_TRUNC | wsk.MSG_CTRUNC); rest != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("0x%x", rest))
	}
	return strings.Join(parts, "|")
}

// cmdWskSendTo calls WskSendTo with a WSK_BUF over a pool block, a
// destination and optional control information from another pool block.
//
// Example: wsk-sendto socket=out buf=data len=2 to=198.51.100.7:53 irp=op
func cmdWskSendTo(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	b, bs := in.bufArg(a)
	flags := a.uint("flags", 0)
	to, hasTo := in.addrArg(a, "to", true)
	ctl, _ := in.poolArg(a, "ctl", false)
	var ctlLen uint64
	if ctl != nil {
		ctlLen = ctl.Size()
	}
	ctlLen = a.uint("ctl-len", ctlLen)
	if ctlLen > 0xFFFFFFFF {
		a.fail("ctl-len=%d: ControlInfoLength is a ULONG (at most 0xFFFFFFFF)", ctlLen)
	}
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	var tp *netip.AddrPort
	ts := "NULL"
	if hasTo && to.IsValid() {
		tp, ts = &to, to.String()
	}
	cs := "NULL"
	if ctl != nil {
		cs = ctl.Name()
	}
	head := fmt.Sprintf("WskSendTo(Socket=%s, Buffer=%s, Flags=%d, RemoteAddress=%s, ControlInfoLength=%d, ControlInfo=%s, Irp=%s)", s.Name(), bs, flags, ts, ctlLen, cs, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskSendTo(s, b, uint32(flags), tp, uint32(ctlLen), ctl, i) })
	return nil
}

// cmdWskReceiveFrom calls WskReceiveFrom; the completion routine line shows
// the sender, ControlLength, the control objects and ControlFlags.
//
// Example: wsk-receivefrom socket=in buf=data len=16 ctl=cmsg ctl-len=1024 irp=op
func cmdWskReceiveFrom(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	b, bs := in.bufArg(a)
	flags := a.uint("flags", 0)
	ctl, _ := in.poolArg(a, "ctl", false)
	d := &dgCall{ctl: ctl}
	if a.str("from", "yes") != "NULL" {
		d.from = new(netip.AddrPort)
	}
	if a.str("cflags", "yes") != "NULL" {
		d.ctlFlags = new(uint32)
	}
	ctlLenText := "NULL"
	if a.str("ctl-len", "") != "NULL" {
		var def uint64
		if ctl != nil {
			def = ctl.Size()
		}
		n := a.uint("ctl-len", def)
		if n > 0xFFFFFFFF {
			a.fail("ctl-len=%d: ControlLength is a ULONG (at most 0xFFFFFFFF)", n)
		}
		v := uint32(n)
		d.ctlLen = &v
		ctlLenText = fmt.Sprintf("&%d", v)
	}
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	cs := "NULL"
	if ctl != nil {
		cs = ctl.Name()
	}
	head := fmt.Sprintf("WskReceiveFrom(Socket=%s, Buffer=%s, Flags=%d, RemoteAddress=%s, ControlLength=%s, ControlInfo=%s, ControlFlags=%s, Irp=%s)",
		s.Name(), bs, flags, ptrString(d.from != nil, "from"), ctlLenText, cs, ptrString(d.ctlFlags != nil, "flags"), in.irpName(i))
	in.wskIRPCall(head, i, &wskCall{dg: d}, func() nt.Status {
		return in.prov.WskReceiveFrom(s, b, uint32(flags), d.from, d.ctlLen, ctl, d.ctlFlags, i)
	})
	return nil
}

func (in *Interp) peerUDPArg(a *args, key string) *wsk.PeerUDP {
	o, ok := in.objArg(a, key, "peer UDP endpoint", true)
	if !ok {
		return nil
	}
	pu, isPeer := o.(*wsk.PeerUDP)
	if !isPeer {
		a.fail("%s: not a peer UDP endpoint (bind one with peer-udp-bind)", key)
	}
	return pu
}

// cmdPeerUDPBind binds a UDP endpoint of a process's program at a local
// address, or of a remote host.
//
// Example: peer-udp-bind process=System addr=198.51.100.7:53 name=dns
func cmdPeerUDPBind(in *Interp, c *Command, a *args) error {
	proc, _ := in.procArg(a, "process")
	addr, _ := in.addrArg(a, "addr", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if proc == nil {
		proc = in.prov.System()
	}
	pu, err := in.prov.PeerUDPBind(proc, addr)
	if err != nil {
		return err
	}
	if err := in.bind(pu.Name(), pu, name); err != nil {
		return err
	}
	in.printf("%s: process %d has a UDP endpoint at %v\n", in.shown(pu.Name(), pu), proc.PID, pu.Local())
	return nil
}

// cmdPeerSendTo sends one datagram from a peer's UDP endpoint.
//
// Example: peer-sendto conn=app to=198.51.100.7:53 text=q
func cmdPeerSendTo(in *Interp, c *Command, a *args) error {
	pu := in.peerUDPArg(a, "conn")
	to, _ := in.addrArg(a, "to", true)
	data := peerData(a)
	if a.err != nil {
		return nil
	}
	if pu == nil {
		return fmt.Errorf("conn=NULL: a peer UDP endpoint is required")
	}
	st, err := pu.SendTo(to, data)
	if err != nil {
		in.printf("%s cannot send: %v\n", pu.Name(), err)
		return nil
	}
	in.printf("%s sends %d bytes to %v: %v\n", pu.Name(), len(data), to, st)
	return nil
}

// cmdPeerRecvFrom takes the next datagram at a peer's UDP endpoint.
//
// Example: peer-recvfrom conn=dns
func cmdPeerRecvFrom(in *Interp, c *Command, a *args) error {
	pu := in.peerUDPArg(a, "conn")
	if a.err != nil {
		return nil
	}
	if pu == nil {
		return fmt.Errorf("conn=NULL: a peer UDP endpoint is required")
	}
	dg, ok := pu.Receive()
	if !ok {
		in.printf("%s received nothing\n", pu.Name())
		return nil
	}
	in.printf("%s received %d bytes from %v%s\n", pu.Name(), len(dg.Data), dg.From, bytesText(dg.Data))
	return nil
}

// cmdPeerUDPClose closes a peer's UDP endpoint.
//
// Example: peer-udp-close conn=dns
func cmdPeerUDPClose(in *Interp, c *Command, a *args) error {
	pu := in.peerUDPArg(a, "conn")
	if a.err != nil {
		return nil
	}
	if pu == nil {
		return fmt.Errorf("conn=NULL: a peer UDP endpoint is required")
	}
	pu.Close()
	in.printf("%s closed\n", pu.Name())
	return nil
}

// cmdRedirectedDatagram delivers the first datagram of a flow another
// vendor's callout redirected; the application's endpoint is bound to name=.
//
// Example: redirected-datagram name=app from=10.0.0.1:40000 original=198.51.100.7:53 to=127.0.0.1:5300 handle=Other text=q
func cmdRedirectedDatagram(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	from, _ := in.addrArg(a, "from", true)
	orig, _ := in.addrArg(a, "original", true)
	to, _ := in.addrArg(a, "to", true)
	handle := a.need("handle", "a redirect handle name")
	ctx, _ := a.hexBytes("context")
	pid := a.uint("target-pid", uint64(wsk.SystemPID))
	data := peerData(a)
	if a.err != nil {
		return nil
	}
	pu, err := in.prov.RedirectedDatagram(name, from, orig, to, handle, ctx, uint32(pid), data)
	if err != nil {
		return err
	}
	if err := in.bind(pu.Name(), pu, ""); err != nil {
		return err
	}
	in.printf("%s: %v -> %v redirected by %s to %v (target pid %d), %d bytes\n", pu.Name(), from, orig, handle, to, pid, len(data))
	return nil
}
