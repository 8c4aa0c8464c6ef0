// Package wsktest is the test harness for driving wsksim from `go test`.
//
// New gives a simulated machine in one call: a sim.World, the I/O manager
// (irp.Manager) on it, a WSK provider (wsk.Provider, with its WFP engine) and
// a client that has already called WskRegister and WskCaptureProviderNPI.
// Call runs one WSK call the way a driver does (allocate an IRP, set a
// completion routine with all three InvokeOn flags, call, let virtual time
// run until the routine ran, free the IRP) and returns the IoStatus the
// completion routine saw. When the test ends, the Cleanup New registers
// releases the NPI, deregisters, closes the world and fails the test for
// every contract violation the test did not declare with Expect.
//
//	func TestSet(t *testing.T) {
//		e := wsktest.New(t)
//		s := e.Socket(nt.WSK_FLAG_CONNECTION_SOCKET)
//		if st := e.SetRecords(s, e.Records(wsk.SystemPID)).Status; st != nt.STATUS_SUCCESS {
//			t.Fatalf("SET: %v", st)
//		}
//	}
//
// Helpers cover the rest of a proxy test: Tag turns a pool tag written as
// its four characters in memory order ("Wsks") into the ULONG a driver
// passes (0x736b7357, the C constant 'sksW'); Pool and Free allocate and
// free non-paged pool with that tag; Records issues genuine redirect records
// for a process; Peer* start user-mode programs; Redirected delivers a
// connection a connect-redirect callout redirected to a listener.
// RunScenarios runs a directory of scenario files (docs/scenarios.md) as
// subtests, and CheckScenarios returns the same results without a
// testing.T.
//
// The harness works with any TB: *testing.T, *testing.B, *testing.F, or
// Printer, which prints failures instead (for Examples and tools).
package wsktest

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// TB is the part of testing.TB the harness uses. *testing.T, *testing.B
// and *testing.F implement it, and so does *Printer.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// DefaultTag is the pool tag the helpers allocate with: "Wsks" in memory
// order, 0x736b7357.
var DefaultTag = Tag("Wsks")

// Tag returns the ULONG of a pool tag written as its characters in memory
// order, the way debuggers (!pool, poolmon) and wsktrace (docs/wsktrace.md)
// show it: Tag("Wsks") is 0x736b7357, which C writes as the multi-character
// constant 'sksW'. A tag shorter than four characters is padded with
// spaces, as poolmon shows it. Tag panics for a tag longer than four bytes
// or with bytes outside printable ASCII, which is a mistake in the test.
func Tag(s string) uint32 {
	if len(s) > 4 {
		panic(fmt.Sprintf("wsktest.Tag(%q): a pool tag has at most four characters", s))
	}
	var v uint32
	for k := 0; k < 4; k++ {
		c := byte(' ')
		if k < len(s) {
			c = s[k]
		}
		if c < 0x20 || c > 0x7e {
			panic(fmt.Sprintf("wsktest.Tag(%q): byte %d is not printable ASCII", s, k))
		}
		v |= uint32(c) << (8 * k)
	}
	return v
}

// Option configures New.
type Option func(*config)

type config struct {
	sim      sim.Config
	wsk      wsk.Config
	policies [][2]string
	pins     []pin
	noReg    bool
}

type pin struct {
	label string
	v     int
}

// Seed sets the world's seed (default 1).
func Seed(s uint64) Option { return func(c *config) { c.sim.Seed = s } }

// Trace writes the run as wsktrace v1 to w (docs/wsktrace.md).
func Trace(w io.Writer) Option { return func(c *config) { c.sim.Trace = w } }

// Policy switches policy id (docs/policies.md) to option opt.
func Policy(id, opt string) Option {
	return func(c *config) { c.policies = append(c.policies, [2]string{id, opt}) }
}

// Pin answers every choice at label with v (sim.World.Pin), e.g.
// Pin("wsk.complete", 0) for inline completion.
func Pin(label string, v int) Option {
	return func(c *config) { c.pins = append(c.pins, pin{label, v}) }
}

// World replaces the whole sim.Config (the seed included).
func World(cfg sim.Config) Option { return func(c *config) { c.sim = cfg } }

// Provider sets the wsk.Config of the provider.
func Provider(cfg wsk.Config) Option { return func(c *config) { c.wsk = cfg } }

// Unregistered skips WskRegister and WskCaptureProviderNPI: Reg and NPI
// stay zero, for tests of registration itself.
func Unregistered() Option { return func(c *config) { c.noReg = true } }

// Env is one simulated machine with a registered WSK client.
type Env struct {
	T     TB
	World *sim.World
	M     *irp.Manager
	P     *wsk.Provider
	Reg   *wsk.Registration
	NPI   wsk.ProviderNPI

	expected map[string]bool
	closed   bool
}

// New builds the machine and registers Close as a cleanup of t. Setup
// errors (an unknown policy, a failed registration) fail t at once.
func New(t TB, opts ...Option) *Env {
	t.Helper()
	c := config{sim: sim.Config{Seed: 1}}
	for _, o := range opts {
		o(&c)
	}
	w := sim.NewWorld(c.sim)
	for _, p := range c.policies {
		if err := w.SetPolicy(p[0], p[1]); err != nil {
			t.Fatalf("wsktest.New: %v", err)
		}
	}
	for _, p := range c.pins {
		if err := w.Pin(p.label, p.v); err != nil {
			t.Fatalf("wsktest.New: %v", err)
		}
	}
	m := irp.NewManager(w)
	p, err := wsk.NewProvider(m, c.wsk)
	if err != nil {
		t.Fatalf("wsktest.New: %v", err)
	}
	e := &Env{T: t, World: w, M: m, P: p, Reg: new(wsk.Registration), expected: map[string]bool{}}
	t.Cleanup(e.Close)
	if c.noReg {
		return e
	}
	npi := &wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}
	if st := p.WskRegister(npi, e.Reg); st != nt.STATUS_SUCCESS {
		t.Fatalf("wsktest.New: WskRegister: %v, want STATUS_SUCCESS", st)
	}
	if st := p.WskCaptureProviderNPI(e.Reg, nt.WSK_INFINITE_WAIT, &e.NPI); st != nt.STATUS_SUCCESS {
		t.Fatalf("wsktest.New: WskCaptureProviderNPI: %v, want STATUS_SUCCESS", st)
	}
	return e
}

// Expect declares violations of these rules (docs/rules.md) expected: Close
// does not fail the test for them. An unknown rule ID fails the test.
func (e *Env) Expect(rules ...string) {
	e.T.Helper()
	for _, r := range rules {
		if _, ok := sim.LookupRule(r); !ok {
			e.T.Errorf("wsktest.Expect: unknown rule %q (see docs/rules.md)", r)
		}
		e.expected[r] = true
	}
}

// Violations returns every violation recorded so far.
func (e *Env) Violations() []sim.Violation { return e.World.Violations() }

// Violated reports whether a violation of rule was recorded.
func (e *Env) Violated(rule string) bool {
	for _, v := range e.World.Violations() {
		if v.Rule == rule {
			return true
		}
	}
	return false
}

// routine is the completion routine Call sets: it copies IoStatus and keeps
// the IRP, as every routine of a driver-allocated IRP must.
func routine(i *irp.IRP, ctx any) nt.Status {
	c := ctx.(*completion)
	c.iosb = i.IoStatus
	c.n++
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

type completion struct {
	iosb irp.IoStatusBlock
	n    int
}

// Call runs one call that takes an IRP: it allocates the IRP, sets a
// completion routine with all three InvokeOn flags, calls fn, runs the
// world until idle and frees the IRP. It returns the IoStatus the routine
// saw. A call whose routine did not run exactly once, or whose return value
// is neither STATUS_PENDING nor the completion status, fails the test.
func (e *Env) Call(fn func(i *irp.IRP) nt.Status) irp.IoStatusBlock {
	e.T.Helper()
	var c completion
	i := e.M.IoAllocateIrp(1, false)
	if i == nil {
		e.T.Fatalf("wsktest.Call: IoAllocateIrp returned NULL")
		return c.iosb
	}
	e.M.IoSetCompletionRoutine(i, routine, &c, true, true, true)
	ret := fn(i)
	if err := e.World.RunUntilIdle(); err != nil {
		e.T.Fatalf("wsktest.Call: %v", err)
	}
	switch {
	case c.n != 1:
		e.T.Errorf("wsktest.Call: %s: completion routine ran %d times, want once (returned %v)", i.Name(), c.n, ret)
	case ret != nt.STATUS_PENDING && ret != c.iosb.Status:
		e.T.Errorf("wsktest.Call: %s: returned %v but completed with %v", i.Name(), ret, c.iosb.Status)
	}
	if c.n > 0 {
		e.M.IoFreeIrp(i)
	}
	return c.iosb
}

// Socket creates an AF_INET socket of the category flags
// (nt.WSK_FLAG_CONNECTION_SOCKET, ...) owned by the System process and
// fails the test unless WskSocket succeeds.
func (e *Env) Socket(flags uint32) *wsk.Socket {
	e.T.Helper()
	return e.SocketOf(nil, nt.AF_INET, flags)
}

// SocketOf creates a socket of address family af owned by proc (nil: the
// System process) and fails the test unless WskSocket succeeds.
func (e *Env) SocketOf(proc *wsk.Process, af uint16, flags uint32) *wsk.Socket {
	e.T.Helper()
	typ, proto := nt.SOCK_STREAM, uint32(nt.IPPROTO_TCP)
	if flags == nt.WSK_FLAG_DATAGRAM_SOCKET {
		typ, proto = nt.SOCK_DGRAM, nt.IPPROTO_UDP
	}
	iosb := e.Call(func(i *irp.IRP) nt.Status {
		return e.NPI.Dispatch.WskSocket(e.NPI.Client, af, typ, proto, flags, nil, nil, proc, nil, nil, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		e.T.Fatalf("wsktest: WskSocket: %v, want STATUS_SUCCESS", iosb.Status)
		return nil
	}
	return e.P.SocketFromInformation(iosb.Information)
}

// Process adds a process to the machine (wsk.Provider.AddProcess) and fails
// the test if that is impossible.
func (e *Env) Process(pid uint32, name string, elevated bool) *wsk.Process {
	e.T.Helper()
	p, err := e.P.AddProcess(pid, name, elevated)
	if err != nil {
		e.T.Fatalf("wsktest.Process: %v", err)
	}
	return p
}

// Bind binds s to addr ("0.0.0.0:0") and returns the completion.
func (e *Env) Bind(s *wsk.Socket, addr string) irp.IoStatusBlock {
	e.T.Helper()
	a := e.addr("Bind", addr)
	return e.Call(func(i *irp.IRP) nt.Status { return e.P.WskBind(s, a, 0, i) })
}

// Connect connects s to addr and returns the completion.
func (e *Env) Connect(s *wsk.Socket, addr string) irp.IoStatusBlock {
	e.T.Helper()
	a := e.addr("Connect", addr)
	return e.Call(func(i *irp.IRP) nt.Status { return e.P.WskConnect(s, a, 0, i) })
}

// Accept accepts the next connection on listening socket ls and fails the
// test unless WskAccept succeeds.
func (e *Env) Accept(ls *wsk.Socket) *wsk.Socket {
	e.T.Helper()
	iosb := e.Call(func(i *irp.IRP) nt.Status { return e.P.WskAccept(ls, 0, nil, nil, nil, nil, i) })
	if iosb.Status != nt.STATUS_SUCCESS {
		e.T.Fatalf("wsktest: WskAccept: %v, want STATUS_SUCCESS", iosb.Status)
		return nil
	}
	return e.P.SocketFromInformation(iosb.Information)
}

// CloseSocket closes s and returns the completion.
func (e *Env) CloseSocket(s *wsk.Socket) irp.IoStatusBlock {
	e.T.Helper()
	return e.Call(func(i *irp.IRP) nt.Status { return e.P.WskCloseSocket(s, i) })
}

// Pool allocates size bytes of non-paged pool tagged DefaultTag and copies
// data into it (size 0 means len(data)). Free it with Free.
func (e *Env) Pool(data []byte, size int) *irp.Block {
	e.T.Helper()
	if size == 0 {
		size = len(data)
	}
	b := e.M.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, uint64(size), DefaultTag)
	if b == nil {
		e.T.Fatalf("wsktest.Pool: ExAllocatePool2(%d bytes) returned NULL", size)
		return nil
	}
	copy(b.Bytes(), data)
	return b
}

// Free frees a block from Pool.
func (e *Env) Free(b *irp.Block) { e.M.ExFreePoolWithTag(b, DefaultTag) }

// Records returns genuine redirect records issued for process pid, as if a
// connect-redirect callout holding redirect handle "H1" had redirected a
// connection from 10.0.0.1:50000 to 198.51.100.7:443 to a proxy listening
// on 127.0.0.1:9000.
func (e *Env) Records(pid uint32) []byte {
	e.T.Helper()
	r, err := e.P.Engine().IssueRedirect("H1", netip.MustParseAddrPort("10.0.0.1:50000"),
		netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), nil, pid, nil)
	if err != nil {
		e.T.Fatalf("wsktest.Records: %v", err)
	}
	return r
}

// SetRecords copies records into a pool block, issues
// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS on s with InputSize len(records)
// (or size[0] when given: a wrong SIZE_T), frees the block after the call
// completed and returns the completion.
func (e *Env) SetRecords(s *wsk.Socket, records []byte, size ...uint64) irp.IoStatusBlock {
	e.T.Helper()
	n := uint64(len(records))
	if len(size) > 0 {
		n = size[0]
	}
	b := e.Pool(records, 0)
	defer e.Free(b)
	return e.Call(func(i *irp.IRP) nt.Status {
		return e.P.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, n, b, 0, nil, nil, i)
	})
}

// Query issues one of the two QUERY IOCTLs
// (nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS or _CONTEXT) on s with the
// probe-then-copy pattern and returns the bytes and the final status.
func (e *Env) Query(s *wsk.Socket, code uint32) ([]byte, nt.Status) {
	e.T.Helper()
	var need uint64
	probe := e.Call(func(i *irp.IRP) nt.Status {
		return e.P.WskControlSocket(s, nt.WskIoctl, code, 0, 0, nil, 0, nil, &need, i)
	})
	if probe.Status != nt.STATUS_BUFFER_TOO_SMALL {
		return nil, probe.Status
	}
	b := e.Pool(nil, int(need))
	defer e.Free(b)
	iosb := e.Call(func(i *irp.IRP) nt.Status {
		return e.P.WskControlSocket(s, nt.WskIoctl, code, 0, 0, nil, need, b, &need, i)
	})
	if iosb.Status != nt.STATUS_SUCCESS {
		return nil, iosb.Status
	}
	return append([]byte(nil), b.Bytes()[:iosb.Information]...), iosb.Status
}

// PeerListen makes a user-mode program of proc (nil: System) listen on addr.
func (e *Env) PeerListen(proc *wsk.Process, addr string) *wsk.PeerListener {
	e.T.Helper()
	if proc == nil {
		proc = e.P.System()
	}
	l, err := e.P.PeerListen(proc, e.addr("PeerListen", addr))
	if err != nil {
		e.T.Fatalf("wsktest.PeerListen: %v", err)
	}
	return l
}

// PeerConnect makes a user-mode program of proc (nil: System) connect to
// addr from an address the stack picks, and returns the connection and the
// network's answer.
func (e *Env) PeerConnect(proc *wsk.Process, addr string) (*wsk.PeerConn, nt.Status) {
	e.T.Helper()
	if proc == nil {
		proc = e.P.System()
	}
	c, st, err := e.P.PeerConnect(proc, netip.AddrPort{}, e.addr("PeerConnect", addr))
	if err != nil {
		e.T.Fatalf("wsktest.PeerConnect: %v", err)
	}
	return c, st
}

// Redirected delivers to the listener at `to` a connection from `from` to
// `original` that a connect-redirect callout (redirect handle "H1")
// redirected for process targetPID, with redirect context ctx
// (wsk.Provider.RedirectedConnect). It returns the application's end.
func (e *Env) Redirected(from, original, to string, ctx []byte, targetPID uint32) *wsk.PeerConn {
	e.T.Helper()
	c, err := e.P.RedirectedConnect("", e.addr("Redirected", from), e.addr("Redirected", original), e.addr("Redirected", to), "H1", ctx, targetPID)
	if err != nil {
		e.T.Fatalf("wsktest.Redirected: %v", err)
	}
	return c
}

func (e *Env) addr(fn, s string) netip.AddrPort {
	e.T.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		e.T.Fatalf("wsktest.%s: %v", fn, err)
	}
	return a
}

// Close ends the run: it releases the NPI and deregisters the client (if
// registered), runs the world until idle, closes it (leak checks run here)
// and reports every violation whose rule was not declared with Expect as a
// test error. New registers it as a cleanup; calling it earlier is fine,
// later calls do nothing.
func (e *Env) Close() {
	e.T.Helper()
	if e.closed {
		return
	}
	e.closed = true
	if e.Reg.Registered() {
		e.P.WskReleaseProviderNPI(e.Reg)
		e.P.WskDeregister(e.Reg)
	}
	if err := e.World.RunUntilIdle(); err != nil {
		e.T.Errorf("wsktest: %v", err)
	}
	if err := e.World.Close(); err != nil {
		e.T.Errorf("wsktest: world close: %v", err)
	}
	var bad []string
	for _, v := range e.World.Violations() {
		if !e.expected[v.Rule] {
			bad = append(bad, v.String())
		}
	}
	if len(bad) > 0 {
		e.T.Errorf("wsktest: %d unexpected violation(s) (declare expected ones with Expect):\n\t%s", len(bad), strings.Join(bad, "\n\t"))
	}
}
