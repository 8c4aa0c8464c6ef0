package wsk_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// completion is what one completion routine invocation saw.
type completion struct {
	irp     *irp.IRP
	status  nt.Status
	info    uint64
	pending bool
}

// tb is what the helpers need from testing.TB and *rapid.T alike.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// env is a world with an I/O manager, a provider and a registered client.
type env struct {
	t     tb
	w     *sim.World
	m     *irp.Manager
	p     *wsk.Provider
	reg   *wsk.Registration
	npi   wsk.ProviderNPI
	comps []completion
	trace *bytes.Buffer
}

type envOpt func(*sim.Config, *wsk.Config)

func withSeed(seed uint64) envOpt { return func(c *sim.Config, _ *wsk.Config) { c.Seed = seed } }

func withTrace() envOpt { return func(c *sim.Config, _ *wsk.Config) { c.Trace = new(bytes.Buffer) } }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	sc := sim.Config{Seed: 1}
	var wc wsk.Config
	for _, o := range opts {
		o(&sc, &wc)
	}
	w := sim.NewWorld(sc)
	m := irp.NewManager(w)
	p, err := wsk.NewProvider(m, wc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, w: w, m: m, p: p, reg: new(wsk.Registration)}
	if b, ok := sc.Trace.(*bytes.Buffer); ok {
		e.trace = b
	}
	if st := p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, e.reg); st != nt.STATUS_SUCCESS {
		t.Fatalf("WskRegister: got %v, want STATUS_SUCCESS", st)
	}
	if st := p.WskCaptureProviderNPI(e.reg, nt.WSK_NO_WAIT, &e.npi); st != nt.STATUS_SUCCESS {
		t.Fatalf("WskCaptureProviderNPI: got %v, want STATUS_SUCCESS", st)
	}
	return e
}

func (e *env) pin(label string, v int) {
	e.t.Helper()
	if err := e.w.Pin(label, v); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) policy(id, opt string) {
	e.t.Helper()
	if err := e.w.SetPolicy(id, opt); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) routine(i *irp.IRP, ctx any) nt.Status {
	e.comps = append(e.comps, completion{irp: i, status: i.IoStatus.Status, info: i.IoStatus.Information, pending: i.PendingReturned})
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

// newIRP allocates a driver IRP with the recording completion routine.
func (e *env) newIRP() *irp.IRP {
	i := e.m.IoAllocateIrp(1, false)
	e.m.IoSetCompletionRoutine(i, e.routine, nil, true, true, true)
	return i
}

// rearm makes a completed IRP ready for the next call.
func (e *env) rearm(i *irp.IRP) {
	e.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
	e.m.IoSetCompletionRoutine(i, e.routine, nil, true, true, true)
}

// completionsOf returns how often i completed.
func (e *env) completionsOf(i *irp.IRP) []completion {
	var out []completion
	for _, c := range e.comps {
		if c.irp == i {
			out = append(out, c)
		}
	}
	return out
}

// do runs one IRP call to completion: it allocates an IRP, calls fn, runs
// the world until idle and returns the completion (the return value too).
func (e *env) do(fn func(i *irp.IRP) nt.Status) (ret nt.Status, c completion) {
	e.t.Helper()
	i := e.newIRP()
	before := len(e.completionsOf(i))
	ret = fn(i)
	if err := e.w.RunUntilIdle(); err != nil {
		e.t.Fatal(err)
	}
	cs := e.completionsOf(i)
	if len(cs) != before+1 {
		e.t.Fatalf("%s completed %d times, want once (return %v)", i.Name(), len(cs)-before, ret)
	}
	c = cs[len(cs)-1]
	if ret != nt.STATUS_PENDING && ret != c.status {
		e.t.Fatalf("%s returned %v but completed with %v", i.Name(), ret, c.status)
	}
	e.m.IoFreeIrp(i)
	return ret, c
}

// socket creates a socket and returns it.
func (e *env) socket(af uint16, flags uint32, owner *wsk.Process) *wsk.Socket {
	e.t.Helper()
	st := nt.SOCK_STREAM
	if flags == nt.WSK_FLAG_DATAGRAM_SOCKET {
		st = nt.SOCK_DGRAM
	}
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskSocket(e.npi.Client, af, st, 0, flags, nil, nil, owner, nil, nil, i)
	})
	if c.status != nt.STATUS_SUCCESS {
		e.t.Fatalf("WskSocket: got %v, want STATUS_SUCCESS", c.status)
	}
	s := e.p.SocketFromInformation(c.info)
	if s == nil {
		e.t.Fatalf("WskSocket: Information %d names no socket", c.info)
	}
	return s
}

func (e *env) mustStatus(what string, got, want nt.Status) {
	e.t.Helper()
	if got != want {
		e.t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func (e *env) bind(s *wsk.Socket, a string) nt.Status {
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskBind(s, netip.MustParseAddrPort(a), 0, i) })
	return c.status
}

func (e *env) connect(s *wsk.Socket, a string) nt.Status {
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskConnect(s, netip.MustParseAddrPort(a), 0, i) })
	return c.status
}

func (e *env) close(s *wsk.Socket) {
	e.t.Helper()
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskCloseSocket(s, i) })
	e.mustStatus("WskCloseSocket", c.status, nt.STATUS_SUCCESS)
}

func (e *env) accept(ls *wsk.Socket) *wsk.Socket {
	e.t.Helper()
	_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskAccept(ls, 0, nil, nil, nil, nil, i) })
	e.mustStatus("WskAccept", c.status, nt.STATUS_SUCCESS)
	return e.p.SocketFromInformation(c.info)
}

func (e *env) pool(data []byte, size int) *irp.Block {
	b := e.m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, uint64(size), 0x736b7357)
	copy(b.Bytes(), data)
	return b
}

func (e *env) free(b *irp.Block) { e.m.ExFreePoolWithTag(b, 0x736b7357) }

// teardown releases and deregisters, closes the world and checks that no
// violation happened beyond the allowed rule IDs.
func (e *env) teardown(allowed ...string) {
	e.t.Helper()
	if e.reg.Registered() {
		e.p.WskReleaseProviderNPI(e.reg)
		e.p.WskDeregister(e.reg)
	}
	if err := e.w.RunUntilIdle(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.w.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.noViolations(allowed...)
}

func (e *env) noViolations(allowed ...string) {
	e.t.Helper()
	for _, v := range e.w.Violations() {
		ok := false
		for _, a := range allowed {
			if v.Rule == a {
				ok = true
			}
		}
		if !ok {
			e.t.Errorf("unexpected violation: %v", v)
		}
	}
}

func (e *env) violated(rule string) bool {
	for _, v := range e.w.Violations() {
		if v.Rule == rule {
			return true
		}
	}
	return false
}

func (e *env) violations() string {
	var b strings.Builder
	for _, v := range e.w.Violations() {
		b.WriteString(v.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
