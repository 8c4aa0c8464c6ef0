package scenarios

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

func init() {
	for _, c := range []*command{
		{name: "machine-address", args: []string{"addr"}, open: true, run: cmdMachineAddress, help: "give the machine under test another address (a LAN interface, say): it may bind to it and connections may leave from it", ex: "machine-address addr=192.168.1.20"},
		{name: "process", args: []string{"name", "pid", "image", "elevated"}, open: true, run: cmdProcess, help: "add a process of the simulated machine (the owner of sockets and peers), elevated or not", ex: "process name=proxy pid=500 elevated"},
		{name: "wsk-ready", args: []string{"ready", "after"}, open: true, run: cmdWskReady, help: "make the WSK subsystem ready or not ready now, or ready after a delay", ex: "wsk-ready ready=false after=5ms"},
		{name: "wsk-register", args: []string{"name", "reg", "version", "npi"}, open: true, run: cmdWskRegister, help: "WskRegister(WskClientNpi, WskRegistration): a new registration (name=) or again an existing one (reg=)", ex: "wsk-register name=reg version=1.0"},
		{name: "wsk-capture", args: []string{"reg", "wait", "npi", "name"}, open: true, run: cmdWskCapture, help: "WskCaptureProviderNPI(WskRegistration, WaitTimeout, WskProviderNpi); binds the client", ex: "wsk-capture reg=reg wait=WSK_INFINITE_WAIT name=client"},
		{name: "wsk-release", args: []string{"reg"}, open: true, run: cmdWskRelease, help: "WskReleaseProviderNPI(WskRegistration)", ex: "wsk-release reg=reg"},
		{name: "wsk-deregister", args: []string{"reg"}, open: true, run: cmdWskDeregister, help: "WskDeregister(WskRegistration): waits for releases, closes and completions", ex: "wsk-deregister reg=reg"},
		{name: "wsk-socket", args: []string{"client", "family", "type", "protocol", "flags", "context", "dispatch", "owner", "sd", "irp", "name"}, open: true, run: cmdWskSocket, help: "WskSocket(Client, AddressFamily, SocketType, Protocol, Flags, SocketContext, Dispatch, OwningProcess, OwningThread, SecurityDescriptor, Irp); the socket is bound to name= when the IRP completes", ex: "wsk-socket client=client flags=WSK_FLAG_LISTEN_SOCKET owner=proxy irp=op name=ls"},
		{name: "wsk-socket-connect", args: []string{"client", "type", "protocol", "local", "remote", "flags", "context", "dispatch", "owner", "sd", "irp", "name"}, open: true, run: cmdWskSocketConnect, help: "WskSocketConnect(Client, SocketType, Protocol, LocalAddress, RemoteAddress, Flags, ..., Irp)", ex: "wsk-socket-connect client=client local=0.0.0.0:0 remote=198.51.100.7:443 irp=op name=out"},
		{name: "wsk-bind", args: []string{"socket", "addr", "flags", "irp"}, open: true, run: cmdWskBind, help: "WskBind(Socket, LocalAddress, Flags, Irp)", ex: "wsk-bind socket=ls addr=127.0.0.1:9000 irp=op"},
		{name: "wsk-listen", args: []string{"socket", "irp"}, open: true, run: cmdWskListen, help: "WskListen(Socket, Irp) on a stream socket", ex: "wsk-listen socket=s irp=op"},
		{name: "wsk-connect", args: []string{"socket", "remote", "flags", "irp"}, open: true, run: cmdWskConnect, help: "WskConnect(Socket, RemoteAddress, Flags, Irp); WFP classifies the connect (callout output is indented beneath)", ex: "wsk-connect socket=out remote=198.51.100.7:443 irp=op"},
		{name: "wsk-accept", args: []string{"socket", "flags", "context", "dispatch", "local", "remote", "irp", "name"}, open: true, run: cmdWskAccept, help: "WskAccept(ListenSocket, Flags, AcceptSocketContext, AcceptSocketDispatch, LocalAddress, RemoteAddress, Irp); the accepted socket is bound to name= when the IRP completes", ex: "wsk-accept socket=ls irp=op name=in"},
		{name: "wsk-send", args: []string{"socket", "buf", "off", "len", "flags", "irp"}, open: true, run: cmdWskSend, help: "WskSend(Socket, Buffer, Flags, Irp); buf= is a pool block (or NULL), off=/len= the WSK_BUF", ex: "wsk-send socket=out buf=data len=3 irp=op"},
		{name: "wsk-receive", args: []string{"socket", "buf", "off", "len", "flags", "irp"}, open: true, run: cmdWskReceive, help: "WskReceive(Socket, Buffer, Flags, Irp)", ex: "wsk-receive socket=in buf=data len=16 irp=op"},
		{name: "wsk-disconnect", args: []string{"socket", "buf", "off", "len", "abortive", "flags", "irp"}, open: true, run: cmdWskDisconnect, help: "WskDisconnect(Socket, Buffer, Flags, Irp): graceful (FIN, optional final data) or abortive", ex: "wsk-disconnect socket=out irp=op"},
		{name: "wsk-close", args: []string{"socket", "irp"}, open: true, run: cmdWskClose, help: "WskCloseSocket(Socket, Irp)", ex: "wsk-close socket=out irp=op"},
		{name: "wsk-local-address", args: []string{"socket", "addr", "irp"}, open: true, run: cmdWskLocalAddress, help: "WskGetLocalAddress(Socket, LocalAddress, Irp); addr=NULL passes a NULL pointer", ex: "wsk-local-address socket=out irp=op"},
		{name: "wsk-remote-address", args: []string{"socket", "addr", "irp"}, open: true, run: cmdWskRemoteAddress, help: "WskGetRemoteAddress(Socket, RemoteAddress, Irp)", ex: "wsk-remote-address socket=in irp=op"},
		{name: "wsk-control", args: []string{"socket", "type", "code", "level", "in-size", "in", "out-size", "out", "osr", "irp"}, open: true, run: cmdWskControl, help: "WskControlSocket(Socket, RequestType, ControlCode, Level, InputSize, InputBuffer, OutputSize, OutputBuffer, OutputSizeReturned, Irp) with any arguments", ex: "wsk-control socket=in code=SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS out=recs out-size=1024 osr irp=op"},
		{name: "wsk-sockets", open: true, run: cmdWskSockets, help: "print every open socket: category, owner, addresses, connection and records", ex: "wsk-sockets"},
		{name: "peer-listen", args: []string{"process", "addr", "name"}, open: true, run: cmdPeerListen, help: "a user-mode program of a process listens on an address (a remote one makes that host reachable)", ex: "peer-listen process=System addr=198.51.100.7:443 name=server"},
		{name: "peer-connect", args: []string{"process", "from", "to", "name"}, open: true, run: cmdPeerConnect, help: "a user-mode program of a process connects (classified by WFP when it is local)", ex: "peer-connect process=app to=198.51.100.7:443 name=client"},
		{name: "peer-accept", args: []string{"listener", "name"}, open: true, run: cmdPeerAccept, help: "take the next connection a peer listener accepted", ex: "peer-accept listener=server name=srv"},
		{name: "peer-send", args: []string{"conn", "hex", "text"}, open: true, run: cmdPeerSend, help: "a peer sends bytes (hex= or text=)", ex: "peer-send conn=client text=GET"},
		{name: "peer-receive", args: []string{"conn", "max"}, open: true, run: cmdPeerReceive, help: "a peer reads what arrived (up to max bytes) and prints it with FIN/RST state", ex: "peer-receive conn=srv"},
		{name: "peer-close", args: []string{"conn", "listener", "how"}, open: true, run: cmdPeerClose, help: "a peer closes a connection (how=graceful, shutdown or reset) or a listener", ex: "peer-close conn=client how=graceful"},
		{name: "redirected-connect", args: []string{"name", "from", "original", "to", "handle", "context", "target-pid"}, open: true, run: cmdRedirectedConnect, help: "a connection another vendor's callout redirected arrives at a local listener (the trace's redirected_connect)", ex: "redirected-connect name=app from=10.0.0.1:50000 original=198.51.100.7:443 to=127.0.0.1:9000 handle=Other context=c0ffee target-pid=500"},
	} {
		register(c)
	}
}

// wskCall is what the interpreter shows when an IRP given to a WSK call
// completes: the socket carried in Information, the out-parameters.
type wskCall struct {
	sockResult bool
	sockName   string
	osr        *uint64
	local      *netip.AddrPort
	remote     *netip.AddrPort
	dg         *dgCall // WskReceiveFrom
}

// wskCompletion returns the WSK out-parameters of i's call, for the
// completion routine line, and binds a new socket's names.
func (in *Interp) wskCompletion(i *irp.IRP) string {
	c := in.wskCalls[i]
	if c == nil {
		return ""
	}
	delete(in.wskCalls, i)
	var parts []string
	ok := i.IoStatus.Status.IsSuccess()
	if c.sockResult && ok {
		if s := in.prov.SocketFromInformation(i.IoStatus.Information); s != nil {
			if _, taken := in.names[c.sockName]; c.sockName != "" && taken {
				c.sockName = ""
			}
			if err := in.bind(s.Name(), s, c.sockName); err == nil {
				parts = append(parts, "socket="+in.shown(s.Name(), s))
			} else {
				parts = append(parts, "socket="+s.Name())
			}
		}
	}
	if c.osr != nil {
		parts = append(parts, fmt.Sprintf("OutputSizeReturned=%d", *c.osr))
	}
	if c.local != nil && ok {
		parts = append(parts, "LocalAddress="+addrString(*c.local))
	}
	if c.remote != nil && ok {
		parts = append(parts, "RemoteAddress="+addrString(*c.remote))
	}
	if c.dg != nil {
		parts = append(parts, c.dg.text(ok || i.IoStatus.Status == nt.STATUS_BUFFER_OVERFLOW)...)
	}
	return strings.Join(parts, " ")
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// wskIRPCall prints head and runs fn, a WSK call that may take IRP i; c is
// what to show when i completes.
func (in *Interp) wskIRPCall(head string, i *irp.IRP, c *wskCall, fn func() nt.Status) nt.Status {
	if i != nil {
		if c == nil {
			c = &wskCall{}
		}
		in.wskCalls[i] = c
	}
	var st nt.Status
	in.call(head, func() string {
		st = fn()
		return st.String()
	})
	if i != nil && st != nt.STATUS_PENDING {
		delete(in.wskCalls, i) // completed inline (shown) or never taken
	}
	return st
}

// ---- argument readers ----

func (in *Interp) addrArg(a *args, key string, required bool) (netip.AddrPort, bool) {
	v, ok := a.one(key, "an address:port")
	if !ok {
		if required && a.err == nil {
			a.fail("missing argument %s=<address:port>", key)
		}
		return netip.AddrPort{}, false
	}
	if v == "NULL" {
		return netip.AddrPort{}, true
	}
	ap, err := netip.ParseAddrPort(v)
	if err != nil {
		a.fail("%s=%s: expected an address and port such as 127.0.0.1:9000 or [::1]:80, or NULL", key, v)
		return netip.AddrPort{}, false
	}
	return ap, true
}

func (in *Interp) objArg(a *args, key, kind string, required bool) (any, bool) {
	v, ok := a.one(key, "a "+kind+" name")
	if !ok {
		if required && a.err == nil {
			a.fail("missing argument %s=<%s name or NULL>", key, kind)
		}
		return nil, false
	}
	if v == "NULL" {
		return nil, true
	}
	o, found := in.object(v)
	if !found {
		a.fail("%s=%s: no %s is called %q", key, v, kind, v)
		return nil, false
	}
	return o, true
}

func (in *Interp) sockArg(a *args, key string) *wsk.Socket {
	o, ok := in.objArg(a, key, "socket", true)
	if !ok || o == nil {
		return nil
	}
	s, isSock := o.(*wsk.Socket)
	if !isSock {
		a.fail("%s: %v is not a socket", key, a.str(key, ""))
	}
	return s
}

func (in *Interp) procArg(a *args, key string) (*wsk.Process, bool) {
	v, ok := a.one(key, "a process")
	if !ok || v == "NULL" {
		return nil, ok
	}
	if v == "System" {
		return in.prov.System(), true
	}
	if o, found := in.object(v); found {
		if p, isProc := o.(*wsk.Process); isProc {
			return p, true
		}
	}
	if n, err := strconv.ParseUint(v, 0, 32); err == nil {
		if p := in.prov.Process(uint32(n)); p != nil {
			return p, true
		}
	}
	a.fail("%s=%s: no process is called or numbered %s (add it with process)", key, v, v)
	return nil, false
}

func (in *Interp) regArg(a *args, key string) *wsk.Registration {
	o, ok := in.objArg(a, key, "registration", true)
	if !ok || o == nil {
		return nil
	}
	r, isReg := o.(*wsk.Registration)
	if !isReg {
		a.fail("%s: not a registration", key)
	}
	return r
}

func (in *Interp) clientArg(a *args, key string) *wsk.Client {
	o, ok := in.objArg(a, key, "client", true)
	if !ok || o == nil {
		return nil
	}
	c, isClient := o.(*wsk.Client)
	if !isClient {
		a.fail("%s: not a client (bind one with wsk-capture name=)", key)
	}
	return c
}

func (in *Interp) peerArg(a *args, key string) *wsk.PeerConn {
	o, ok := in.objArg(a, key, "peer connection", true)
	if !ok {
		return nil
	}
	pc, isPeer := o.(*wsk.PeerConn)
	if !isPeer {
		a.fail("%s: not a peer connection", key)
	}
	return pc
}

// newName checks that a name= for an object made later is free.
func (in *Interp) newName(a *args) string {
	n := a.name()
	if n != "" {
		if _, taken := in.names[n]; taken {
			a.fail("name=%s: already bound", n)
		}
	}
	return n
}

func (in *Interp) bufArg(a *args) (*wsk.Buf, string) {
	v, ok := a.one("buf", "a pool block")
	if !ok || v == "NULL" {
		if a.has("len") || a.has("off") {
			if !ok {
				a.fail("off=/len= need buf=<pool block>")
			}
		}
		return nil, "NULL"
	}
	b, _ := in.poolByName(a, "buf", v)
	if b == nil {
		return nil, "NULL"
	}
	off := a.uint("off", 0)
	n := a.uint("len", b.Size()-min(off, b.Size()))
	return &wsk.Buf{Block: b, Offset: off, Length: n}, fmt.Sprintf("{%s, Offset=%d, Length=%d}", b.Name(), off, n)
}

func procString(p *wsk.Process) string {
	if p == nil {
		return "NULL"
	}
	return strconv.FormatUint(uint64(p.PID), 10)
}

func nonNil(b bool) any {
	if b {
		return struct{}{}
	}
	return nil
}

func ptrString(b bool, name string) string {
	if b {
		return "&" + name
	}
	return "NULL"
}

// ---- processes and registration ----

// cmdMachineAddress adds an address to the machine under test.
//
// Example: machine-address addr=192.168.1.20
func cmdMachineAddress(in *Interp, c *Command, a *args) error {
	v, ok := a.one("addr", "an IP address")
	if a.err != nil || !ok {
		if a.err == nil {
			a.fail("missing argument addr=<IP address>")
		}
		return nil
	}
	ip, err := netip.ParseAddr(v)
	if err != nil {
		a.fail("addr=%s: expected an IP address such as 192.168.1.20", v)
		return nil
	}
	if err := in.prov.AddLocalAddress(ip); err != nil {
		return err
	}
	in.printf("the machine has address %v\n", ip)
	return nil
}

// cmdProcess adds a process of the simulated machine. Sockets name their
// owner with owner=, peers with process=; the redirect IOCTLs check the
// owner's elevation (P-ACC) and the records' target PID.
//
// Example: process name=proxy pid=500 elevated
func cmdProcess(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	pid := a.uint("pid", 0)
	image := a.str("image", "")
	elev := a.flag("elevated", false)
	if !a.has("pid") && a.err == nil {
		a.fail("missing argument pid=<process id>")
	}
	if a.err != nil {
		return nil
	}
	if pid > 0xFFFFFFFF {
		return fmt.Errorf("pid=%d: expected a 32-bit process id", pid)
	}
	if image == "" {
		image = name
		if image == "" {
			image = "process" + strconv.FormatUint(pid, 10)
		}
		image += ".exe"
	}
	p, err := in.prov.AddProcess(uint32(pid), image, elev)
	if err != nil {
		return err
	}
	// The trace's env process: a replay must know the process and its elevation
	// (P-ACC decides who may query redirect records by it).
	in.w.TraceEnv("process", sim.F("name", sim.Str("proc"+strconv.FormatUint(pid, 10))), sim.F("pid", sim.Int(pid)), sim.F("elevated", sim.Bool(elev)))
	if name != "" {
		if err := in.bind(name, p, ""); err != nil {
			return err
		}
		in.bound[p] = name
	}
	e := "not elevated"
	if elev {
		e = "elevated"
	}
	if name == "" {
		in.printf("process %d %s, %s\n", p.PID, image, e)
	} else {
		in.printf("process %d %s (%s), %s\n", p.PID, image, name, e)
	}
	return nil
}

// cmdWskReady makes the WSK subsystem ready or not ready (a client captures
// the provider NPI only when it is ready); after= makes it ready later.
//
// Example: wsk-ready ready=false after=5ms
func cmdWskReady(in *Interp, c *Command, a *args) error {
	ready := a.flag("ready", true)
	after := a.duration("after", 0)
	if a.err != nil {
		return nil
	}
	in.prov.SetReady(ready)
	if a.has("after") {
		in.w.Schedule(after, sim.TaskFunc(func() { in.prov.SetReady(true) }))
		in.printf("WSK subsystem ready=%t; ready in %v\n", ready, after)
		return nil
	}
	in.printf("WSK subsystem ready=%t\n", ready)
	return nil
}

func parseVersion(v string) (uint16, bool) {
	maj, minr, ok := strings.Cut(v, ".")
	if !ok {
		return 0, false
	}
	a, e1 := strconv.ParseUint(maj, 10, 8)
	b, e2 := strconv.ParseUint(minr, 10, 8)
	if e1 != nil || e2 != nil {
		return 0, false
	}
	return nt.MAKE_WSK_VERSION(uint8(a), uint8(b)), true
}

// cmdWskRegister calls WskRegister with a client NPI asking for version=
// (default 1.0; npi=NULL passes NULL) and a new registration (name=) or an
// existing one (reg=, to register it twice).
//
// Example: wsk-register name=reg version=1.0
func cmdWskRegister(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	var reg *wsk.Registration
	if a.has("reg") {
		reg = in.regArg(a, "reg")
	} else {
		reg = &wsk.Registration{}
	}
	ver := uint16(nt.MAKE_WSK_VERSION(1, 0))
	if v, ok := a.one("version", "major.minor"); ok {
		x, good := parseVersion(v)
		if !good {
			a.fail("version=%s: expected major.minor such as 1.0", v)
		}
		ver = x
	}
	npiNull := a.str("npi", "") == "NULL"
	if a.err != nil {
		return nil
	}
	var npi *wsk.ClientNPI
	npiS := "NULL"
	if !npiNull {
		npi = &wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: ver}}
		npiS = fmt.Sprintf("{Version=%d.%d}", nt.WSK_MAJOR_VERSION(ver), nt.WSK_MINOR_VERSION(ver))
	}
	var st nt.Status
	in.call(fmt.Sprintf("WskRegister(WskClientNpi=%s, WskRegistration=%s)", npiS, in.regShown(reg, name)), func() string {
		st = in.prov.WskRegister(npi, reg)
		return st.String()
	})
	if reg != nil && !a.has("reg") {
		return in.bind(reg.Name(), reg, name)
	}
	return nil
}

func (in *Interp) regShown(r *wsk.Registration, name string) string {
	if r == nil {
		return "NULL"
	}
	if _, ok := in.bound[r]; ok {
		return r.Name()
	}
	if name != "" {
		return "new registration (" + name + ")"
	}
	return "new registration"
}

// cmdWskCapture calls WskCaptureProviderNPI. wait= is WSK_NO_WAIT (default),
// WSK_INFINITE_WAIT or milliseconds; npi=NULL passes a NULL WskProviderNpi.
// On success the client is bound to name=.
//
// Example: wsk-capture reg=reg wait=WSK_INFINITE_WAIT name=client
func cmdWskCapture(in *Interp, c *Command, a *args) error {
	reg := in.regArg(a, "reg")
	wait := a.uint("wait", uint64(nt.WSK_NO_WAIT))
	npiNull := a.str("npi", "") == "NULL"
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if wait > 0xFFFFFFFF {
		return fmt.Errorf("wait=%d: expected a 32-bit WaitTimeout", wait)
	}
	ws := strconv.FormatUint(wait, 10)
	switch uint32(wait) {
	case nt.WSK_NO_WAIT:
		ws = "WSK_NO_WAIT"
	case nt.WSK_INFINITE_WAIT:
		ws = "WSK_INFINITE_WAIT"
	}
	var npi *wsk.ProviderNPI
	if !npiNull {
		npi = &wsk.ProviderNPI{}
	}
	var st nt.Status
	in.call(fmt.Sprintf("WskCaptureProviderNPI(WskRegistration=%s, WaitTimeout=%s, WskProviderNpi=%s)", reg.Name(), ws, ptrString(npi != nil, "npi")), func() string {
		st = in.prov.WskCaptureProviderNPI(reg, uint32(wait), npi)
		if st == nt.STATUS_SUCCESS && npi != nil && npi.Client != nil {
			if _, known := in.names[npi.Client.Name()]; !known {
				if err := in.bind(npi.Client.Name(), npi.Client, name); err == nil {
					return st.String() + ", Client=" + in.shown(npi.Client.Name(), npi.Client)
				}
			}
			return st.String() + ", Client=" + npi.Client.Name()
		}
		return st.String()
	})
	return nil
}

// cmdWskRelease calls WskReleaseProviderNPI.
//
// Example: wsk-release reg=reg
func cmdWskRelease(in *Interp, c *Command, a *args) error {
	reg := in.regArg(a, "reg")
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("WskReleaseProviderNPI(WskRegistration=%s)", reg.Name()), func() string {
		in.prov.WskReleaseProviderNPI(reg)
		return ""
	})
	return nil
}

// cmdWskDeregister calls WskDeregister, which runs the world until every NPI
// is released, every socket closed and every IRP completed (or reports
// WSK-DEREGISTER-HANG when that never happens).
//
// Example: wsk-deregister reg=reg
func cmdWskDeregister(in *Interp, c *Command, a *args) error {
	reg := in.regArg(a, "reg")
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("WskDeregister(WskRegistration=%s)", reg.Name()), func() string {
		in.prov.WskDeregister(reg)
		return ""
	})
	return nil
}

// ---- sockets ----

func (in *Interp) categoryDefaults(flags uint64) (family, typ uint64, proto uint64) {
	if uint32(flags) == nt.WSK_FLAG_DATAGRAM_SOCKET {
		return uint64(nt.AF_INET), uint64(nt.SOCK_DGRAM), uint64(nt.IPPROTO_UDP)
	}
	return uint64(nt.AF_INET), uint64(nt.SOCK_STREAM), uint64(nt.IPPROTO_TCP)
}

func constName(v uint64, names ...string) string {
	for _, n := range names {
		if x, ok := nt.LookupConstant(n); ok && x == v {
			return n
		}
	}
	return strconv.FormatUint(v, 10)
}

func familyName(v uint64) string { return constName(v, "AF_INET", "AF_INET6") }
func typeName(v uint64) string   { return constName(v, "SOCK_STREAM", "SOCK_DGRAM") }
func protoName(v uint64) string  { return constName(v, "IPPROTO_TCP", "IPPROTO_UDP") }
func flagsName(v uint64) string {
	return constName(v, "WSK_FLAG_BASIC_SOCKET", "WSK_FLAG_LISTEN_SOCKET", "WSK_FLAG_CONNECTION_SOCKET", "WSK_FLAG_DATAGRAM_SOCKET", "WSK_FLAG_STREAM_SOCKET")
}

// cmdWskSocket calls WskSocket. flags= is the category (WSK_FLAG_*_SOCKET);
// family, type and protocol default to what the category needs; context,
// dispatch and sd pass non-NULL SocketContext, Dispatch and
// SecurityDescriptor; owner= is a process (default NULL: System). The new
// socket arrives in IoStatus.Information and is bound to name= when the
// IRP's completion routine runs.
//
// Example: wsk-socket client=client flags=WSK_FLAG_LISTEN_SOCKET owner=proxy irp=op name=ls
func cmdWskSocket(in *Interp, c *Command, a *args) error {
	cl := in.clientArg(a, "client")
	flags := a.uint("flags", uint64(nt.WSK_FLAG_CONNECTION_SOCKET))
	df, dt, dp := in.categoryDefaults(flags)
	fam := a.uint("family", df)
	typ := a.uint("type", dt)
	proto := a.uint("protocol", dp)
	ctx, disp, sd := a.flag("context", false), a.flag("dispatch", false), a.flag("sd", false)
	owner, _ := in.procArg(a, "owner")
	i, _ := in.irpArg(a, "irp", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if fam > 0xFFFF || typ > 0xFFFF || proto > 0xFFFFFFFF || flags > 0xFFFFFFFF {
		return fmt.Errorf("family/type must fit 16 bits, protocol/flags 32 bits")
	}
	head := fmt.Sprintf("WskSocket(Client=%s, AddressFamily=%s, SocketType=%s, Protocol=%s, Flags=%s, SocketContext=%s, Dispatch=%s, OwningProcess=%s, Irp=%s)",
		cl.Name(), familyName(fam), typeName(typ), protoName(proto), flagsName(flags), ptrString(ctx, "ctx"), ptrString(disp, "dispatch"), procString(owner), in.irpName(i))
	in.wskIRPCall(head, i, &wskCall{sockResult: true, sockName: name}, func() nt.Status {
		return in.prov.WskSocket(cl, uint16(fam), uint16(typ), uint32(proto), uint32(flags), nonNil(ctx), nonNil(disp), owner, nil, nonNil(sd), i)
	})
	return nil
}

// cmdWskSocketConnect calls WskSocketConnect: a connection socket created,
// bound to local= and connected to remote= in one call.
//
// Example: wsk-socket-connect client=client local=0.0.0.0:0 remote=198.51.100.7:443 owner=proxy irp=op name=out
func cmdWskSocketConnect(in *Interp, c *Command, a *args) error {
	cl := in.clientArg(a, "client")
	typ := a.uint("type", uint64(nt.SOCK_STREAM))
	proto := a.uint("protocol", uint64(nt.IPPROTO_TCP))
	local, _ := in.addrArg(a, "local", true)
	remote, _ := in.addrArg(a, "remote", true)
	flags := a.uint("flags", 0)
	ctx, disp, sd := a.flag("context", false), a.flag("dispatch", false), a.flag("sd", false)
	owner, _ := in.procArg(a, "owner")
	i, _ := in.irpArg(a, "irp", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if typ > 0xFFFF || proto > 0xFFFFFFFF || flags > 0xFFFFFFFF {
		return fmt.Errorf("type must fit 16 bits, protocol/flags 32 bits")
	}
	head := fmt.Sprintf("WskSocketConnect(Client=%s, SocketType=%s, Protocol=%s, LocalAddress=%s, RemoteAddress=%s, Flags=%d, SocketContext=%s, Dispatch=%s, OwningProcess=%s, Irp=%s)",
		cl.Name(), typeName(typ), protoName(proto), addrString(local), addrString(remote), flags, ptrString(ctx, "ctx"), ptrString(disp, "dispatch"), procString(owner), in.irpName(i))
	in.wskIRPCall(head, i, &wskCall{sockResult: true, sockName: name}, func() nt.Status {
		return in.prov.WskSocketConnect(cl, uint16(typ), uint32(proto), local, remote, uint32(flags), nonNil(ctx), nonNil(disp), owner, nil, nonNil(sd), i)
	})
	return nil
}

// cmdWskBind calls WskBind (addr=NULL passes a NULL LocalAddress).
//
// Example: wsk-bind socket=ls addr=127.0.0.1:9000 irp=op
func cmdWskBind(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	addr, _ := in.addrArg(a, "addr", true)
	flags := a.uint("flags", 0)
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	head := fmt.Sprintf("WskBind(Socket=%s, LocalAddress=%s, Flags=%d, Irp=%s)", s.Name(), addrString(addr), flags, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskBind(s, addr, uint32(flags), i) })
	return nil
}

// cmdWskListen calls WskListen.
//
// Example: wsk-listen socket=s irp=op
func cmdWskListen(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	in.wskIRPCall(fmt.Sprintf("WskListen(Socket=%s, Irp=%s)", s.Name(), in.irpName(i)), i, nil, func() nt.Status { return in.prov.WskListen(s, i) })
	return nil
}

// cmdWskConnect calls WskConnect. The connect runs through WFP: the
// callouts' classifyFn output is printed beneath the call.
//
// Example: wsk-connect socket=out remote=198.51.100.7:443 irp=op
func cmdWskConnect(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	remote, _ := in.addrArg(a, "remote", true)
	flags := a.uint("flags", 0)
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	head := fmt.Sprintf("WskConnect(Socket=%s, RemoteAddress=%s, Flags=%d, Irp=%s)", s.Name(), addrString(remote), flags, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskConnect(s, remote, uint32(flags), i) })
	return nil
}

// cmdWskAccept calls WskAccept; the accepted socket arrives in
// IoStatus.Information and is bound to name= at completion. local=NULL and
// remote=NULL pass NULL address pointers (default: both requested).
//
// Example: wsk-accept socket=ls irp=op name=in
func cmdWskAccept(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	flags := a.uint("flags", 0)
	ctx, disp := a.flag("context", false), a.flag("dispatch", false)
	wantL := a.str("local", "") != "NULL"
	wantR := a.str("remote", "") != "NULL"
	i, _ := in.irpArg(a, "irp", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	call := &wskCall{sockResult: true, sockName: name}
	if wantL {
		call.local = new(netip.AddrPort)
	}
	if wantR {
		call.remote = new(netip.AddrPort)
	}
	head := fmt.Sprintf("WskAccept(ListenSocket=%s, Flags=%d, AcceptSocketContext=%s, AcceptSocketDispatch=%s, LocalAddress=%s, RemoteAddress=%s, Irp=%s)",
		s.Name(), flags, ptrString(ctx, "ctx"), ptrString(disp, "dispatch"), ptrString(wantL, "local"), ptrString(wantR, "remote"), in.irpName(i))
	in.wskIRPCall(head, i, call, func() nt.Status {
		return in.prov.WskAccept(s, uint32(flags), nonNil(ctx), nonNil(disp), call.local, call.remote, i)
	})
	return nil
}

// cmdWskSend calls WskSend with a WSK_BUF over a pool block.
//
// Example: wsk-send socket=out buf=data off=0 len=3 irp=op
func cmdWskSend(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	b, bs := in.bufArg(a)
	flags := a.uint("flags", 0)
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	head := fmt.Sprintf("WskSend(Socket=%s, Buffer=%s, Flags=%d, Irp=%s)", s.Name(), bs, flags, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskSend(s, b, uint32(flags), i) })
	return nil
}

// cmdWskReceive calls WskReceive into a WSK_BUF over a pool block (read it
// with read-pool after completion).
//
// Example: wsk-receive socket=in buf=data len=16 irp=op
func cmdWskReceive(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	b, bs := in.bufArg(a)
	flags := a.uint("flags", 0)
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	head := fmt.Sprintf("WskReceive(Socket=%s, Buffer=%s, Flags=%d, Irp=%s)", s.Name(), bs, flags, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskReceive(s, b, uint32(flags), i) })
	return nil
}

// cmdWskDisconnect calls WskDisconnect: graceful by default (with optional
// final data in buf=), abortive with abortive (WSK_FLAG_ABORTIVE).
//
// Example: wsk-disconnect socket=out irp=op
func cmdWskDisconnect(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	b, bs := in.bufArg(a)
	flags := a.uint("flags", 0)
	if a.flag("abortive", false) {
		flags |= uint64(wsk.WSK_FLAG_ABORTIVE)
	}
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	head := fmt.Sprintf("WskDisconnect(Socket=%s, Buffer=%s, Flags=%d, Irp=%s)", s.Name(), bs, flags, in.irpName(i))
	in.wskIRPCall(head, i, nil, func() nt.Status { return in.prov.WskDisconnect(s, b, uint32(flags), i) })
	return nil
}

// cmdWskClose calls WskCloseSocket; pending IRPs of the socket complete
// first (P-CLOSE).
//
// Example: wsk-close socket=out irp=op
func cmdWskClose(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	in.wskIRPCall(fmt.Sprintf("WskCloseSocket(Socket=%s, Irp=%s)", s.Name(), in.irpName(i)), i, nil, func() nt.Status { return in.prov.WskCloseSocket(s, i) })
	return nil
}

func (in *Interp) getAddress(a *args, local bool) {
	s := in.sockArg(a, "socket")
	want := a.str("addr", "") != "NULL"
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return
	}
	call := &wskCall{}
	var out *netip.AddrPort
	if want {
		out = new(netip.AddrPort)
	}
	fn, arg := "WskGetRemoteAddress", "RemoteAddress"
	if local {
		fn, arg = "WskGetLocalAddress", "LocalAddress"
		call.local = out
	} else {
		call.remote = out
	}
	head := fmt.Sprintf("%s(Socket=%s, %s=%s, Irp=%s)", fn, s.Name(), arg, ptrString(want, "addr"), in.irpName(i))
	in.wskIRPCall(head, i, call, func() nt.Status {
		if local {
			return in.prov.WskGetLocalAddress(s, out, i)
		}
		return in.prov.WskGetRemoteAddress(s, out, i)
	})
}

// cmdWskLocalAddress calls WskGetLocalAddress; the address is shown when
// the IRP completes.
//
// Example: wsk-local-address socket=out irp=op
func cmdWskLocalAddress(in *Interp, c *Command, a *args) error {
	in.getAddress(a, true)
	return nil
}

// cmdWskRemoteAddress calls WskGetRemoteAddress.
//
// Example: wsk-remote-address socket=in irp=op
func cmdWskRemoteAddress(in *Interp, c *Command, a *args) error {
	in.getAddress(a, false)
	return nil
}

// cmdWskControl calls WskControlSocket with any arguments: type= the
// RequestType (WskIoctl default, WskSetOption, WskGetOption or a number),
// code= the control code by SDK name or number, level=, in=/out= pool blocks
// or NULL, in-size=/out-size= any SIZE_T (default: the block's size, or 0),
// osr passes a non-NULL OutputSizeReturned (default NULL), irp= an IRP or
// NULL. Without an IRP the call completes synchronously and
// OutputSizeReturned is printed after it; with one it is printed by the
// completion routine.
//
// Example: wsk-control socket=in code=SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS out=recs out-size=1024 osr irp=op
func cmdWskControl(in *Interp, c *Command, a *args) error {
	s := in.sockArg(a, "socket")
	rt := a.uint("type", uint64(nt.WskIoctl))
	code := a.uint("code", 0)
	if !a.has("code") && a.err == nil {
		a.fail("missing argument code=<control code: SDK name or number>")
	}
	level := a.uint("level", 0)
	inB, _ := in.poolArg(a, "in", false)
	outB, _ := in.poolArg(a, "out", false)
	var inDef, outDef uint64
	if inB != nil {
		inDef = inB.Size()
	}
	if outB != nil {
		outDef = outB.Size()
	}
	inSize := a.uint("in-size", inDef)
	outSize := a.uint("out-size", outDef)
	osrOn := false
	if v, ok := a.vals("osr"); ok {
		switch {
		case len(v) == 0 || (len(v) == 1 && v[0] == "true"):
			osrOn = true
		case len(v) == 1 && (v[0] == "NULL" || v[0] == "false"):
		default:
			a.fail("osr=%s: expected osr (a non-NULL OutputSizeReturned) or osr=NULL", strings.Join(v, ","))
		}
	}
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	if rt > 0xFFFFFFFF || code > 0xFFFFFFFF || level > 0xFFFFFFFF {
		return fmt.Errorf("type, code and level are 32-bit values")
	}
	call := &wskCall{}
	if osrOn {
		call.osr = new(uint64)
	}
	codeS := strconv.FormatUint(code, 10)
	for _, n := range []string{"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS", "SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS", "SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT",
		"SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE", "SIO_ADDRESS_LIST_QUERY", "SIO_ADDRESS_LIST_CHANGE", "SIO_ADDRESS_LIST_SORT", "SIO_WSK_SET_REMOTE_ADDRESS",
		"SIO_WSK_REGISTER_EXTENSION", "SIO_WSK_QUERY_IDEAL_SEND_BACKLOG", "SIO_WSK_QUERY_RECEIVE_BACKLOG", "SIO_WSK_QUERY_INSPECT_ID",
		"SIO_WSK_SET_SENDTO_ADDRESS", "SIO_WSK_SET_TCP_SILENT_MODE"} {
		if v, _ := nt.LookupConstant(n); v == code && nt.ControlSocketType(rt) == nt.WskIoctl {
			codeS = n
		}
	}
	if nt.ControlSocketType(rt) != nt.WskIoctl {
		codeS = constName(code, "SO_REUSEADDR", "SO_EXCLUSIVEADDRUSE", "IPV6_V6ONLY", "SO_WSK_EVENT_CALLBACK", "SO_WSK_SECURITY")
	}
	levelS := constName(level, "SOL_SOCKET", "IPPROTO_IPV6", "IPPROTO_TCP")
	if level == 0 {
		levelS = "0"
	}
	head := fmt.Sprintf("WskControlSocket(Socket=%s, RequestType=%s, ControlCode=%s, Level=%s, InputSize=%d, InputBuffer=%s, OutputSize=%d, OutputBuffer=%s, OutputSizeReturned=%s, Irp=%s)",
		s.Name(), nt.ControlSocketType(rt), codeS, levelS, inSize, in.poolName(inB), outSize, in.poolName(outB), ptrString(osrOn, "osr"), in.irpName(i))
	in.wskIRPCall(head, i, call, func() nt.Status {
		return in.prov.WskControlSocket(s, nt.ControlSocketType(rt), uint32(code), uint32(level), inSize, inB, outSize, outB, call.osr, i)
	})
	if i == nil && call.osr != nil {
		in.printf("  OutputSizeReturned=%d\n", *call.osr)
	}
	return nil
}

// cmdWskSockets prints the open sockets (a harness view, not a WSK call).
//
// Example: wsk-sockets
func cmdWskSockets(in *Interp, c *Command, a *args) error {
	n := 0
	for h := uint64(1); n < in.prov.OpenSockets() && h < 1<<20; h++ {
		s := in.prov.SocketFromInformation(h)
		if s == nil {
			continue
		}
		n++
		line := fmt.Sprintf("%s: %s, owner %d", in.shown(s.Name(), s), s.Category(), s.Owner().PID)
		if la := s.LocalAddr(); la.IsValid() {
			line += ", local " + la.String()
		}
		if s.Connected() {
			line += ", remote " + s.RemoteAddr().String()
		}
		if s.Redirected() {
			line += ", redirected"
		}
		if r := s.Records(); r != nil {
			line += fmt.Sprintf(", records %d bytes", len(r))
		}
		in.printf("%s\n", line)
	}
	if n == 0 {
		in.printf("no open sockets\n")
	}
	return nil
}

// ---- peers ----

// cmdPeerListen makes a user-mode program listen (process= its process,
// default System).
//
// Example: peer-listen process=System addr=198.51.100.7:443 name=server
func cmdPeerListen(in *Interp, c *Command, a *args) error {
	proc, _ := in.procArg(a, "process")
	addr, _ := in.addrArg(a, "addr", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if proc == nil {
		proc = in.prov.System()
	}
	pl, err := in.prov.PeerListen(proc, addr)
	if err != nil {
		return err
	}
	disp := in.nextName("listener")
	if err := in.bind(disp, pl, name); err != nil {
		return err
	}
	in.printf("%s: process %d listens on %v\n", in.shown(disp, pl), proc.PID, addr)
	return nil
}

// cmdPeerConnect makes a user-mode program connect to to= (from= optional:
// a local address is classified by WFP with the process's PID, a remote one
// is an inbound connection). The connection is bound to name=.
//
// Example: peer-connect process=app to=198.51.100.7:443 name=client
func cmdPeerConnect(in *Interp, c *Command, a *args) error {
	proc, _ := in.procArg(a, "process")
	from, _ := in.addrArg(a, "from", false)
	to, _ := in.addrArg(a, "to", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	if proc == nil {
		proc = in.prov.System()
	}
	var pc *wsk.PeerConn
	var err error
	in.call(fmt.Sprintf("process %d connects to %v", proc.PID, to), func() string {
		var st nt.Status
		pc, st, err = in.prov.PeerConnect(proc, from, to)
		if err != nil || pc == nil {
			return st.String()
		}
		if st == nt.STATUS_PENDING {
			return fmt.Sprintf("%s, %s (a callout pended the classify: the connect goes on when it completes it)", st, pc.Name())
		}
		return fmt.Sprintf("%s, %s (%v -> %v)", st, pc.Name(), pc.Local(), pc.Remote())
	})
	if err != nil {
		return err
	}
	if pc != nil {
		if err := in.bind(pc.Name(), pc, name); err != nil {
			return err
		}
	}
	return nil
}

// cmdPeerAccept takes the next connection a peer listener accepted.
//
// Example: peer-accept listener=server name=srv
func cmdPeerAccept(in *Interp, c *Command, a *args) error {
	o, _ := in.objArg(a, "listener", "peer listener", true)
	name := in.newName(a)
	if a.err != nil {
		return nil
	}
	pl, ok := o.(*wsk.PeerListener)
	if !ok {
		return fmt.Errorf("listener=: not a peer listener")
	}
	pc := pl.Accept()
	if pc == nil {
		in.printf("nothing to accept\n")
		return nil
	}
	if err := in.bind(pc.Name(), pc, name); err != nil {
		return err
	}
	in.printf("accepted %s: %v <- %v\n", in.shown(pc.Name(), pc), pc.Local(), pc.Remote())
	return nil
}

// cmdPeerSend makes a peer send bytes (hex= or text=).
//
// Example: peer-send conn=client text=GET
func cmdPeerSend(in *Interp, c *Command, a *args) error {
	pc := in.peerArg(a, "conn")
	data := peerData(a)
	if a.err != nil {
		return nil
	}
	if pc == nil {
		return fmt.Errorf("conn=NULL: a peer connection is required")
	}
	if err := pc.Send(data); err != nil {
		in.printf("%s cannot send: %v\n", pc.Name(), err)
		return nil
	}
	in.printf("%s sends %d bytes\n", pc.Name(), len(data))
	return nil
}

// cmdPeerReceive reads what arrived at a peer (max= bytes, default all) and
// prints it in hex with the connection's FIN/RST state.
//
// Example: peer-receive conn=srv
func cmdPeerReceive(in *Interp, c *Command, a *args) error {
	pc := in.peerArg(a, "conn")
	max := a.int("max", 0, 0, 1<<20)
	if a.err != nil {
		return nil
	}
	if pc == nil {
		return fmt.Errorf("conn=NULL: a peer connection is required")
	}
	data := pc.Receive(max)
	line := fmt.Sprintf("%s received %d bytes", pc.Name(), len(data)) + bytesText(data)
	if pc.GotFIN() {
		line += ", FIN"
	}
	if pc.GotReset() {
		line += ", RST"
	}
	in.printf("%s\n", line)
	return nil
}

// peerData is the bytes a peer sends: hex= or text=.
func peerData(a *args) []byte {
	data, ok := a.hexBytes("hex")
	if t, has := a.one("text", "text"); has {
		data, ok = []byte(t), true
	}
	if !ok && a.err == nil {
		a.fail("missing argument hex=<bytes> or text=<text>")
	}
	return data
}

// bytesText shows received bytes: ": hex", and the text when printable.
func bytesText(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	s := fmt.Sprintf(": %x", data)
	if printable(data) {
		s += fmt.Sprintf(" %q", data)
	}
	return s
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// cmdPeerClose closes a peer connection (how=graceful, shutdown or reset) or
// a peer listener.
//
// Example: peer-close conn=client how=graceful
func cmdPeerClose(in *Interp, c *Command, a *args) error {
	how := a.str("how", "graceful")
	if a.has("listener") {
		o, _ := in.objArg(a, "listener", "peer listener", true)
		if a.err != nil {
			return nil
		}
		pl, ok := o.(*wsk.PeerListener)
		if !ok {
			return fmt.Errorf("listener=: not a peer listener")
		}
		pl.Close()
		in.printf("listener closed\n")
		return nil
	}
	pc := in.peerArg(a, "conn")
	if a.err != nil {
		return nil
	}
	if pc == nil {
		return fmt.Errorf("conn=NULL: a peer connection is required")
	}
	switch how {
	case "graceful":
		pc.Close()
	case "shutdown":
		pc.Shutdown()
	case "reset":
		pc.Reset()
	default:
		return fmt.Errorf("how=%s: expected graceful, shutdown or reset", how)
	}
	in.printf("%s: %s\n", pc.Name(), how)
	return nil
}

// cmdRedirectedConnect delivers a connection that another vendor's callout
// (outside the scenario's engine) redirected to a local listener, with
// records issued for handle= and target-pid=, and context=.
//
// Example: redirected-connect name=app from=10.0.0.1:50000 original=198.51.100.7:443 to=127.0.0.1:9000 handle=Other context=c0ffee target-pid=500
func cmdRedirectedConnect(in *Interp, c *Command, a *args) error {
	name := in.newName(a)
	from, _ := in.addrArg(a, "from", true)
	orig, _ := in.addrArg(a, "original", true)
	to, _ := in.addrArg(a, "to", true)
	handle := a.need("handle", "a redirect handle name")
	ctx, _ := a.hexBytes("context")
	pid := a.uint("target-pid", uint64(wsk.SystemPID))
	if a.err != nil {
		return nil
	}
	pc, err := in.prov.RedirectedConnect(name, from, orig, to, handle, ctx, uint32(pid))
	if err != nil {
		return err
	}
	if err := in.bind(pc.Name(), pc, ""); err != nil {
		return err
	}
	in.printf("%s: %v -> %v redirected by %s to %v (target pid %d)\n", pc.Name(), from, orig, handle, to, pid)
	return nil
}
