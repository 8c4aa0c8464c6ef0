package irp_test

import (
	"fmt"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// A client's life with one IRP, as in the WSK echo sample: allocate it, set
// a completion routine with all three InvokeOn flags, pass it to a WSK call,
// read IoStatus when the routine ran, IoReuseIrp before the next call,
// IoFreeIrp when done.
func Example_oneIRP() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := irp.NewManager(w)
	p, _ := wsk.NewProvider(m, wsk.Config{})
	var reg wsk.Registration
	var npi wsk.ProviderNPI
	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &reg)
	p.WskCaptureProviderNPI(&reg, nt.WSK_INFINITE_WAIT, &npi)

	var seen irp.IoStatusBlock
	done := func(i *irp.IRP, ctx any) nt.Status {
		*ctx.(*irp.IoStatusBlock) = i.IoStatus
		return nt.STATUS_MORE_PROCESSING_REQUIRED // the driver keeps its IRP
	}
	i := m.IoAllocateIrp(1, false) // driver-owned, one stack location
	m.IoSetCompletionRoutine(i, done, &seen, true, true, true)
	st := npi.Dispatch.WskSocket(npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP,
		nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
	w.RunUntilIdle() // done ran inline (st is the final status) or now (st was STATUS_PENDING)
	fmt.Println("WskSocket returned pending:", st == nt.STATUS_PENDING, "completed:", seen.Status)
	s := p.SocketFromInformation(seen.Information)

	m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL) // before the next call
	m.IoSetCompletionRoutine(i, done, &seen, true, true, true)
	p.WskCloseSocket(s, i)
	w.RunUntilIdle()
	fmt.Println("WskCloseSocket:", seen.Status)
	m.IoFreeIrp(i) // when done with it

	p.WskReleaseProviderNPI(&reg)
	p.WskDeregister(&reg)
	w.Close()
	fmt.Println("violations:", w.ViolationCount())
	// Output:
	// WskSocket returned pending: true completed: STATUS_SUCCESS
	// WskCloseSocket: STATUS_SUCCESS
	// violations: 0
}
