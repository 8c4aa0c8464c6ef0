package irp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
)

// TestForeignObjects is the regression test for objects of one Manager handed
// to another: freeing them used to corrupt the second manager's accounting
// (later allocations failed, leaks went unreported, and with no blocks it
// panicked with index -1). Now the call is ignored, recorded as harness misuse
// and returned by World.Close; both managers stay intact.
func TestForeignObjects(t *testing.T) {
	w1, m1 := newWorld(t)
	w2, m2 := newWorld(t)
	b1 := m1.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 64, tagWsks)
	i1 := m1.IoAllocateIrp(1, false)

	m2.ExFreePool(b1) // m2 has no blocks at all
	m2.ExFreePoolWithTag(b1, tagWsks)
	m2.IoFreeIrp(i1)
	m2.IoReuseIrp(i1, nt.STATUS_SUCCESS)
	if b1.Freed() || i1.Freed() {
		t.Fatal("a foreign Manager freed the objects")
	}
	b2 := m2.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 64, tagWsks)
	if b2 == nil {
		t.Fatal("m2 cannot allocate after the foreign frees")
	}
	errs := w2.MisuseErrors()
	if len(errs) != 4 {
		t.Fatalf("misuse recorded = %v, want 4", errs)
	}
	for k, want := range []string{"irp.Manager.ExFreePool: pool1 belongs to another Manager", "irp.Manager.ExFreePoolWithTag: pool1", "irp.Manager.IoFreeIrp: irp1", "irp.Manager.IoReuseIrp: irp1"} {
		if !strings.HasPrefix(errs[k].Error(), want) {
			t.Errorf("misuse %d = %q, want prefix %q", k, errs[k], want)
		}
	}
	err := w2.Close()
	if err == nil || !strings.Contains(err.Error(), "belongs to another Manager") {
		t.Errorf("w2.Close() = %v, want the misuse", err)
	}
	if got := fmt.Sprint(w2.Violations()); !strings.Contains(got, "POOL-LEAK") {
		t.Errorf("m2's leak check lost its block: %s", got)
	}
	m1.ExFreePool(b1)
	m1.IoFreeIrp(i1)
	if err := w1.Close(); err != nil || len(w1.Violations()) != 0 {
		t.Errorf("m1 after freeing its own objects: Close = %v, violations %v", err, w1.Violations())
	}
}

// TestZeroValues: a Manager not made by NewManager, or NewManager(nil), is a
// programming error; the panic says what was wrong and how to fix it instead of
// a nil-pointer dereference. Nil IRPs handed to the provider-side methods are
// recorded as misuse, not a crash.
func TestZeroValues(t *testing.T) {
	for name, fn := range map[string]func(){
		"NewManager(nil)":            func() { irp.NewManager(nil) },
		"zero Manager IoAllocateIrp": func() { new(irp.Manager).IoAllocateIrp(1, false) },
		"zero Manager ExAllocatePool2": func() {
			new(irp.Manager).ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 1, tagWsks)
		},
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			fn()
			return "no panic"
		}()
		if !strings.Contains(msg, "irp.NewManager") || strings.Contains(msg, "nil pointer") {
			t.Errorf("%s: panic %q, want one that names irp.NewManager", name, msg)
		}
	}
	w, m := newWorld(t)
	m.SetCancelRoutine(nil, nil)
	m.MarkPending(nil)
	if n := m.Deliver(nil, nil, 0, []byte{1}); n != 0 {
		t.Errorf("Deliver(nil) wrote %d bytes", n)
	}
	if errs := w.MisuseErrors(); len(errs) != 3 || !strings.HasPrefix(errs[2].Error(), "irp.Manager.Deliver: nil IRP") {
		t.Errorf("misuse = %v", errs)
	}
}
