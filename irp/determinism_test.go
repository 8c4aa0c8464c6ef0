package irp_test

import (
	"bytes"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// program is a fixed sequence of driver and provider operations whose course
// depends on the seed only through choice points (inline or pending
// completion, completion IRQL).
func program(seed uint64) ([]byte, []sim.Violation) {
	var tr bytes.Buffer
	w := sim.NewWorld(sim.Config{Seed: seed, Trace: &tr, TraceSource: "irp.TestDeterminism"})
	m := irp.NewManager(w)
	buf := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 32, tagWsks)
	irps := []*irp.IRP{m.IoAllocateIrp(1, false), m.IoAllocateIrp(2, false)}
	for _, i := range irps {
		m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			w.TraceNote("routine of " + i.Name() + " at " + w.IRQL().String())
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
	}
	for round := 0; round < 8; round++ {
		for k, i := range irps {
			if i.InFlight() {
				continue
			}
			m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
			m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
				w.TraceNote("routine of " + i.Name() + " at " + w.IRQL().String())
				return nt.STATUS_MORE_PROCESSING_REQUIRED
			}, nil, true, true, true)
			call(w, m, i, "WskSend", nt.STATUS_SUCCESS, uint64(round), lendArg{buf, uint64(16 * k), 16})
		}
		w.Advance(700)
	}
	if err := w.RunUntilIdle(); err != nil {
		panic(err)
	}
	for _, i := range irps {
		m.IoFreeIrp(i)
	}
	m.ExFreePool(buf)
	if err := w.Close(); err != nil {
		panic(err)
	}
	return tr.Bytes(), w.Violations()
}

func TestDeterminism(t *testing.T) {
	a, va := program(7)
	b, vb := program(7)
	if !bytes.Equal(a, b) {
		t.Fatalf("seed 7 gave two different traces:\n%s\n----\n%s", a, b)
	}
	if len(va) != 0 || len(vb) != 0 {
		t.Fatalf("violations: %v", va)
	}
	if !bytes.Contains(a, []byte(`"ev":"complete"`)) || !bytes.Contains(a, []byte(`"pending_returned":true`)) {
		t.Fatalf("trace lacks pending completions:\n%s", a)
	}
	c, _ := program(8)
	if bytes.Equal(a, c) {
		t.Fatalf("seeds 7 and 8 gave the same trace; the choices are not drawn from the seed:\n%s", a)
	}
}
