package irp_test

import (
	"fmt"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// A driver allocates an IRP and sets its completion routine; a provider (here
// written inline, as package wsk does it) submits it, lends it a buffer and
// completes it inline. The driver forgets to free the IRP, which the world
// reports when it closes.
func ExampleManager() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := irp.NewManager(w)
	_ = w.Pin(irp.ChoiceCompletionIRQL, 1) // run the routine at DISPATCH_LEVEL

	// The driver under test.
	buf := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 16, 0x736b7357)
	i := m.IoAllocateIrp(1, false)
	m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
		fmt.Println("routine at", w.IRQL(), "sees", i.IoStatus.Status, i.IoStatus.Information)
		return nt.STATUS_MORE_PROCESSING_REQUIRED
	}, nil, true, true, true)

	// The provider side of a call such as WskSend.
	f := w.Begin("WskSend")
	if m.Submit(i, "WskSend") && m.Lend(i, buf, 0, 16) {
		m.Complete(i, nt.STATUS_SUCCESS, 16)
	}
	w.Return(f, i.IoStatus.Status)

	m.ExFreePool(buf)
	w.Close()
	fmt.Println("IoStatus:", i.IoStatus.Status, i.IoStatus.Information)
	for _, v := range w.Violations() {
		fmt.Println(v)
	}
	// Output:
	// routine at DISPATCH_LEVEL sees STATUS_SUCCESS 16
	// IoStatus: STATUS_SUCCESS 16
	// IRP-LEAK [irp1]: irp1, allocated by IoAllocateIrp at seq 3, was never freed (bug check 0xC4/0x62)
}
