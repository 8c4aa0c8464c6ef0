package trace

import (
	"bytes"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// drv is a driver under test written against the model (the wsk and wfp
// packages' examples re-expressed): it writes a wsktrace v1 trace of what it
// does, which the tests replay.
type drv struct {
	w    *sim.World
	m    *irp.Manager
	p    *wsk.Provider
	e    *wfp.Engine
	out  *bytes.Buffer
	reg  wsk.Registration
	npi  wsk.ProviderNPI
	peer *wsk.Process
	i    *irp.IRP // the IRP every call reuses
	seen []nt.Status
}

const tagW = 0x736b7357 // 'Wsks'

// seedOverride, when non-zero, replaces the seed a program asks for.
var seedOverride uint64

// withSeed runs program p under seed.
func withSeed(seed uint64, p func() []byte) []byte {
	seedOverride = seed
	defer func() { seedOverride = 0 }()
	return p()
}

func newDrv(source string, seed uint64, setup func(*sim.World)) *drv {
	if seedOverride != 0 {
		seed = seedOverride
	}
	d := &drv{out: new(bytes.Buffer)}
	d.w = sim.NewWorld(sim.Config{Seed: seed, Trace: d.out, TraceSource: source})
	if setup != nil {
		setup(d.w)
	}
	d.m = irp.NewManager(d.w)
	d.e = wfp.NewEngine(d.w)
	p, err := wsk.NewProvider(d.m, wsk.Config{Engine: d.e})
	if err != nil {
		panic(err)
	}
	d.p = p
	d.peer, _ = p.AddProcess(peerPID, "peer", false)
	return d
}

func (d *drv) rtn(i *irp.IRP, ctx any) nt.Status {
	d.seen = append(d.seen, i.IoStatus.Status)
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

// start registers, captures the NPI and allocates the IRP.
func (d *drv) start() *drv {
	d.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &d.reg)
	d.p.WskCaptureProviderNPI(&d.reg, nt.WSK_INFINITE_WAIT, &d.npi)
	d.i = d.m.IoAllocateIrp(1, false)
	return d
}

// arm readies the IRP for the next call.
func (d *drv) arm() *irp.IRP {
	if d.i.InFlight() {
		d.w.RunUntilIdle()
	}
	d.m.IoReuseIrp(d.i, nt.STATUS_UNSUCCESSFUL)
	d.m.IoSetCompletionRoutine(d.i, d.rtn, nil, true, true, true)
	return d.i
}

// wait runs the world until the IRP's pending completion has run.
func (d *drv) wait() {
	for d.i.InFlight() && d.w.Step() {
	}
}

func (d *drv) socket(flags uint32) *wsk.Socket {
	d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, flags, nil, nil, nil, nil, nil, d.arm())
	d.wait()
	return d.p.SocketFromInformation(d.i.IoStatus.Information)
}

func (d *drv) bind(s *wsk.Socket, a string) nt.Status {
	d.p.WskBind(s, netip.MustParseAddrPort(a), 0, d.arm())
	d.wait()
	return d.i.IoStatus.Status
}

func (d *drv) listener(a string) *wsk.Socket {
	s := d.socket(nt.WSK_FLAG_LISTEN_SOCKET)
	d.bind(s, a)
	return s
}

func (d *drv) accept(ls *wsk.Socket) *wsk.Socket {
	var la, ra netip.AddrPort
	d.p.WskAccept(ls, 0, nil, nil, &la, &ra, d.arm())
	d.wait()
	return d.p.SocketFromInformation(d.i.IoStatus.Information)
}

func (d *drv) connect(s *wsk.Socket, a string) nt.Status {
	d.p.WskConnect(s, netip.MustParseAddrPort(a), 0, d.arm())
	d.wait()
	return d.i.IoStatus.Status
}

func (d *drv) close(s *wsk.Socket) {
	d.p.WskCloseSocket(s, d.arm())
	d.wait()
}

func (d *drv) pool(n uint64) *irp.Block { return d.m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, n, tagW) }

func (d *drv) control(s *wsk.Socket, rt nt.ControlSocketType, code, level uint32, inSize uint64, in *irp.Block, outSize uint64, out *irp.Block, osr *uint64) nt.Status {
	d.p.WskControlSocket(s, rt, code, level, inSize, in, outSize, out, osr, d.arm())
	d.wait()
	return d.i.IoStatus.Status
}

// stop frees the IRP, releases and deregisters, and closes the world.
func (d *drv) stop() []byte {
	d.w.RunUntilIdle()
	if d.i != nil && !d.i.Freed() {
		d.m.IoFreeIrp(d.i)
	}
	d.p.WskReleaseProviderNPI(&d.reg)
	d.p.WskDeregister(&d.reg)
	return d.end()
}

func (d *drv) end() []byte {
	d.w.RunUntilIdle()
	d.w.Close()
	return d.out.Bytes()
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
