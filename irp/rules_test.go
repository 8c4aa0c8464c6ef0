package irp_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// ruleTests holds one entry per rule package irp registers. Each shows the
// rule firing on a minimal misuse and staying quiet on the nearest correct use.
// TestRulesCoverRegistry keeps the list and the registry equal.
var ruleTests = []struct {
	id      string
	misuse  func(t *testing.T)
	correct func(t *testing.T)
}{
	{irp.RuleDoubleComplete, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleDoubleComplete, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest on irp1", "already completed"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 5)
		expect(t, w)
		if p.IoStatus != (irp.IoStatusBlock{Status: nt.STATUS_SUCCESS, Information: 5}) {
			t.Errorf("IoCompleteRequest: IoStatus = %+v, want SUCCESS/5", p.IoStatus)
		}
	}},
	{irp.RuleCompletePending, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_PENDING, 0)
		expect(t, w, V{irp.RuleCompletePending, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest", "STATUS_PENDING"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_CANCELLED, 0)
		expect(t, w)
	}},
	{irp.RuleFreeInFlight, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		m.IoFreeIrp(i)
		expect(t, w, V{irp.RuleFreeInFlight, "IoFreeIrp", []string{"irp1"}, []string{"IoFreeIrp on irp1", "WskSend"}})
		if i.Freed() || !i.InFlight() {
			t.Errorf("IoFreeIrp of an in-flight IRP changed it: %v", i)
		}
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		if err := w.RunUntilIdle(); err != nil {
			t.Fatal(err)
		}
		m.IoFreeIrp(i)
		expect(t, w)
		if !i.Freed() {
			t.Error("IoFreeIrp after completion: IRP not freed")
		}
	}},
	{irp.RuleReuseInFlight, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 0)
		m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		expect(t, w, V{irp.RuleReuseInFlight, "IoReuseIrp", []string{"irp1"}, []string{"IoReuseIrp on irp1", "WskReceive"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 0)
		w.RunUntilIdle()
		m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		expect(t, w)
		if i.IoStatus.Status != nt.STATUS_UNSUCCESSFUL || i.PendingReturned {
			t.Errorf("IoReuseIrp: IoStatus %v PendingReturned %t, want STATUS_UNSUCCESSFUL false", i.IoStatus.Status, i.PendingReturned)
		}
	}},
	{irp.RuleResubmitInFlight, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 0)
		if st := call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0); st != nt.STATUS_INVALID_PARAMETER {
			t.Errorf("second call: %v, want STATUS_INVALID_PARAMETER", st)
		}
		setRoutine(m, i)
		expect(t, w,
			V{irp.RuleResubmitInFlight, "WskSend", []string{"irp1"}, []string{"WskSend given irp1", "WskReceive (seq 4)"}},
			V{irp.RuleResubmitInFlight, "IoSetCompletionRoutine", []string{"irp1"}, []string{"IoSetCompletionRoutine on irp1", "WskReceive"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 0)
		w.RunUntilIdle()
		m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		w.RunUntilIdle()
		m.IoFreeIrp(i)
		expect(t, w)
	}},
	{irp.RuleResubmitNoReuse, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleResubmitNoReuse, "WskSend", []string{"irp1"}, []string{"WskSend given irp1", "IoReuseIrp"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleUseAfterFree, func(t *testing.T) {
		w, m := newWorld(t)
		i := m.IoAllocateIrp(1, false)
		m.IoFreeIrp(i)
		m.IoFreeIrp(i)
		m.IoReuseIrp(i, 0)
		setRoutine(m, i)
		m.IoCancelIrp(i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		one := []string{"irp1"}
		expect(t, w,
			V{irp.RuleUseAfterFree, "IoFreeIrp", one, []string{"IoFreeIrp on irp1 after IoFreeIrp"}},
			V{irp.RuleUseAfterFree, "IoReuseIrp", one, []string{"IoReuseIrp on irp1"}},
			V{irp.RuleUseAfterFree, "IoSetCompletionRoutine", one, []string{"IoSetCompletionRoutine on irp1"}},
			V{irp.RuleUseAfterFree, "IoCancelIrp", one, []string{"IoCancelIrp on irp1"}},
			V{irp.RuleUseAfterFree, "WskSend", one, []string{"WskSend on irp1"}})
		// A passed-down IRP after IoCompleteRequest handed it back.
		w, m = newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		setRoutine(m, p)
		if m.IoCancelIrp(p) {
			t.Error("IoCancelIrp on a completed passed-down IRP returned TRUE")
		}
		call(w, m, p, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w,
			V{irp.RuleUseAfterFree, "IoSetCompletionRoutine", one, []string{"IoSetCompletionRoutine on irp1 after it was completed back to the I/O manager"}},
			V{irp.RuleUseAfterFree, "IoCancelIrp", one, []string{"IoCancelIrp on irp1 after it was completed back"}},
			V{irp.RuleUseAfterFree, "WskSend", one, []string{"WskSend given irp1 after it was completed back"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		i := m.IoAllocateIrp(1, false)
		m.IoReuseIrp(i, 0)
		setRoutine(m, i)
		m.IoCancelIrp(i)
		m.IoFreeIrp(i)
		expect(t, w)
	}},
	{irp.RuleNoStackLocation, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(0)
		if st := call(w, m, p, "WskSend", nt.STATUS_SUCCESS, 0); st != nt.STATUS_INVALID_PARAMETER {
			t.Errorf("call: %v, want STATUS_INVALID_PARAMETER", st)
		}
		expect(t, w, V{irp.RuleNoStackLocation, "WskSend", []string{"irp1"}, []string{"WskSend given irp1", "no stack location"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		p, _ := m.NewPassedDownIrp(1)
		call(w, m, p, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleNoRoutine, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleNoRoutine, "WskSend", []string{"irp1"}, []string{"WskSend given driver-allocated irp1", "no completion routine"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleInvokeFlags, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		m.IoSetCompletionRoutine(i, mpr, nil, true, true, false)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleInvokeFlags, "WskSend", []string{"irp1"}, []string{"WskSend given irp1", "InvokeOnCancel=false"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		m.IoSetCompletionRoutine(i, mpr, nil, true, true, true)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleRoutineReturn, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		m.IoSetCompletionRoutine(i, func(*irp.IRP, any) nt.Status { return nt.STATUS_SUCCESS }, nil, true, true, true)
		call(w, m, i, "WskControlSocket", nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleRoutineReturn, "WskControlSocket", []string{"irp1"}, []string{"completing WskControlSocket", "returned STATUS_SUCCESS"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		i := m.IoAllocateIrp(1, false)
		// The routine may free the IRP before it returns MORE_PROCESSING_REQUIRED.
		m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			m.IoFreeIrp(i)
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		call(w, m, i, "WskControlSocket", nt.STATUS_SUCCESS, 0)
		expect(t, w)
		if !i.Freed() {
			t.Error("IoFreeIrp in the routine did not free the IRP")
		}
	}},
	{irp.RuleFreeForeign, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoFreeIrp(p)
		m.IoReuseIrp(p, 0)
		expect(t, w,
			V{irp.RuleFreeForeign, "IoFreeIrp", []string{"irp1"}, []string{"IoFreeIrp on irp1", "did not allocate"}},
			V{irp.RuleFreeForeign, "IoReuseIrp", []string{"irp1"}, []string{"IoReuseIrp on irp1", "did not allocate"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleCompleteOwn, func(t *testing.T) {
		w, m := newWorld(t)
		i := m.IoAllocateIrp(1, false)
		m.IoCompleteRequest(i, nt.STATUS_SUCCESS, 0)
		m.IoFreeIrp(i)
		expect(t, w, V{irp.RuleCompleteOwn, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest on irp1", "driver allocated"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		i := m.IoAllocateIrp(1, false)
		m.IoFreeIrp(i)
		w.Close()
		expect(t, w)
	}},
	{irp.RuleCompleteNotOwned, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		p, _ := m.NewPassedDownIrp(1)
		m.IoSetCompletionRoutine(p, mpr, nil, true, true, true)
		call(w, m, p, "WskReceive", nt.STATUS_SUCCESS, 0)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleCompleteNotOwned, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest on irp1", "in flight"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		p, _ := m.NewPassedDownIrp(1)
		m.IoSetCompletionRoutine(p, mpr, nil, true, true, true)
		call(w, m, p, "WskReceive", nt.STATUS_SUCCESS, 0)
		w.RunUntilIdle()
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleCompleteCancelSet, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.SetCancelRoutine(p, func(*irp.IRP) {}) // the dispatch routine held it cancelable
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w, V{irp.RuleCompleteCancelSet, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest on irp1", "cancel routine"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		p, _ := m.NewPassedDownIrp(1)
		m.SetCancelRoutine(p, func(*irp.IRP) {})
		m.SetCancelRoutine(p, nil) // IoSetCancelRoutine(Irp, NULL) before completing
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		expect(t, w)
	}},
	{irp.RuleLeak, func(t *testing.T) {
		w, m := newWorld(t)
		m.IoAllocateIrp(1, false)
		m.IoAllocateIrp(2, false)
		m.IoFreeIrp(m.IoAllocateIrp(1, false))
		w.Close()
		expect(t, w,
			V{irp.RuleLeak, "", []string{"irp1"}, []string{"irp1, allocated by IoAllocateIrp at seq 1,", "never freed"}},
			V{irp.RuleLeak, "", []string{"irp2"}, []string{"IoAllocateIrp at seq 3,"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		m.IoFreeIrp(m.IoAllocateIrp(1, false))
		p, _ := m.NewPassedDownIrp(1) // the driver completes it; not its to free
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		w.Close()
		expect(t, w)
	}},
	{irp.RuleNullIRP, func(t *testing.T) {
		w, m := newWorld(t)
		m.IoFreeIrp(nil)
		call(w, m, nil, "WskSend", nt.STATUS_SUCCESS, 0)
		expect(t, w,
			V{irp.RuleNullIRP, "IoFreeIrp", nil, []string{"IoFreeIrp with a NULL IRP"}},
			V{irp.RuleNullIRP, "WskSend", nil, []string{"WskSend with a NULL IRP"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		m.IoFreeIrp(m.IoAllocateIrp(1, false))
		expect(t, w)
	}},
	{irp.RuleBadStackSize, func(t *testing.T) {
		w, m := newWorld(t)
		for _, n := range []int{0, 128, -1} {
			if i := m.IoAllocateIrp(n, false); i != nil {
				t.Errorf("IoAllocateIrp(%d) = %v, want nil", n, i)
			}
		}
		expect(t, w,
			V{irp.RuleBadStackSize, "IoAllocateIrp", nil, []string{"IoAllocateIrp(StackSize=0)"}},
			V{irp.RuleBadStackSize, "IoAllocateIrp", nil, []string{"IoAllocateIrp(StackSize=128)"}},
			V{irp.RuleBadStackSize, "IoAllocateIrp", nil, []string{"IoAllocateIrp(StackSize=-1)"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		for _, n := range []int{1, 127} {
			i := m.IoAllocateIrp(n, false)
			if i == nil || i.StackLocations() != n {
				t.Fatalf("IoAllocateIrp(%d) = %v", n, i)
			}
			m.IoFreeIrp(i)
		}
		expect(t, w)
	}},
	{irp.RulePoolDoubleFree, func(t *testing.T) {
		w, m := newWorld(t)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		m.ExFreePool(b)
		m.ExFreePoolWithTag(b, tagWsks)
		expect(t, w, V{irp.RulePoolDoubleFree, "ExFreePoolWithTag", []string{"pool1"}, []string{"ExFreePoolWithTag on pool1", "already freed"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		m.ExFreePool(m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks))
		w.Close()
		expect(t, w)
	}},
	{irp.RulePoolUseAfterFree, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		m.ExFreePool(b)
		if got := b.Bytes(); got != nil {
			t.Errorf("Bytes after free = %v, want nil", got)
		}
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		if st := call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 0, 8}); st != nt.STATUS_INVALID_PARAMETER {
			t.Errorf("WskSend with a freed buffer: %v, want STATUS_INVALID_PARAMETER", st)
		}
		m.IoFreeIrp(i)
		expect(t, w,
			V{irp.RulePoolUseAfterFree, "", []string{"pool1"}, []string{"access to pool1 after it was freed"}},
			V{irp.RulePoolUseAfterFree, "WskSend", []string{"pool1", "irp1"}, []string{"WskSend given pool1"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		b.Bytes()[0] = 1
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 0, 8})
		m.IoFreeIrp(i)
		m.ExFreePool(b)
		expect(t, w)
	}},
	{irp.RulePoolFreeWhileLent, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 2, 4})
		m.ExFreePool(b)
		w.RunUntilIdle()
		m.IoFreeIrp(i)
		expect(t, w, V{irp.RulePoolFreeWhileLent, "ExFreePool", []string{"pool1"}, []string{"ExFreePool on pool1 while WskSend (irp1) still uses it"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 2, 4})
		w.RunUntilIdle()
		m.ExFreePool(b)
		m.IoFreeIrp(i)
		expect(t, w)
	}},
	{irp.RulePoolTagMismatch, func(t *testing.T) {
		w, m := newWorld(t)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		m.ExFreePoolWithTag(b, 0x01020304)
		expect(t, w, V{irp.RulePoolTagMismatch, "ExFreePoolWithTag", []string{"pool1"}, []string{"ExFreePoolWithTag on pool1 with tag 0x01020304", "allocated with tag Wsks"}})
		if !b.Freed() {
			t.Error("a mismatched tag still frees the block (the violation is the report)")
		}
	}, func(t *testing.T) {
		w, m := newWorld(t)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		m.ExFreePoolWithTag(b, tagWsks)
		expect(t, w)
	}},
	{irp.RulePoolLeak, func(t *testing.T) {
		w, m := newWorld(t)
		m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 16, tagWsks)
		m.ExFreePool(m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 16, tagWsks))
		m.ExAllocatePool2(irp.POOL_FLAG_PAGED, 3, 0x00000001)
		w.Close()
		w.Close() // runs the checks once
		expect(t, w,
			V{irp.RulePoolLeak, "", []string{"pool1"}, []string{"pool1 (tag Wsks, 16 bytes), allocated by ExAllocatePool2 at seq 1,", "never freed"}},
			V{irp.RulePoolLeak, "", []string{"pool3"}, []string{"pool3 (tag 0x00000001, 3 bytes)", "seq 6"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		m.ExFreePool(m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 16, tagWsks))
		w.Close()
		expect(t, w)
	}},
	{irp.RulePoolNull, func(t *testing.T) {
		w, m := newWorld(t)
		m.ExFreePool(nil)
		m.ExFreePoolWithTag(nil, tagWsks)
		expect(t, w,
			V{irp.RulePoolNull, "ExFreePool", nil, []string{"ExFreePool with a NULL pool block"}},
			V{irp.RulePoolNull, "ExFreePoolWithTag", nil, []string{"ExFreePoolWithTag with a NULL pool block"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		m.ExFreePool(m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 0, tagWsks))
		expect(t, w)
	}},
	{irp.RuleBufWriteWhileLent, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 0, 4})
		b.Bytes()[3] = 0xFF // inside the lent range, through a plain slice
		w.RunUntilIdle()
		expect(t, w, V{irp.RuleBufWriteWhileLent, "", []string{"pool1", "irp1"}, []string{"pool1 was written while lent to irp1 for WskSend"}})
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 0, lendArg{b, 0, 4})
		b.Bytes()[4] = 0xFF              // outside the lent range
		m.Deliver(i, b, 1, []byte{7, 8}) // the provider may write it
		w.RunUntilIdle()
		b.Bytes()[0] = 0xFF // after completion: the driver's again
		expect(t, w)
		if got := b.Bytes()[:5]; string(got) != "\xff\x07\x08\x00\xff" {
			t.Errorf("block = % x", got)
		}
	}},
	{irp.RuleBufOverrun, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 4, 5})
		m.IoReuseIrp(i, 0)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 1 << 63, 1 << 63})
		expect(t, w,
			V{irp.RuleBufOverrun, "WskSend", []string{"pool1", "irp1"}, []string{"WskSend given 5 bytes at offset 4 of pool1, which holds 8"}},
			V{irp.RuleBufOverrun, "WskSend", []string{"pool1", "irp1"}, []string{"WskSend given 9223372036854775808 bytes"}})
		if i.IoStatus.Status != nt.STATUS_INVALID_PARAMETER {
			t.Errorf("IoStatus after an overrun = %v", i.IoStatus.Status)
		}
	}, func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 8, tagWsks)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0, lendArg{b, 4, 4}, lendArg{b, 8, 0})
		expect(t, w)
	}},
}

const tagWsks = 0x736b7357 // 'Wsks'

// TestRules shows every rule of package irp: each subtest, named by the rule
// ID, fires the rule on a minimal misuse and not on the nearest correct use.
func TestRules(t *testing.T) {
	for _, rt := range ruleTests {
		t.Run(rt.id, func(t *testing.T) {
			t.Run("misuse", rt.misuse)
			t.Run("correct", rt.correct)
		})
	}
}

// TestRulesCoverRegistry keeps ruleTests equal to the IRP-/POOL-/BUF- rules in
// the registry, and each rule's Test field pointing at its subtest.
func TestRulesCoverRegistry(t *testing.T) {
	var registered, tested []string
	for _, r := range sim.Rules() {
		if strings.HasPrefix(r.ID, "IRP-") || strings.HasPrefix(r.ID, "POOL-") || strings.HasPrefix(r.ID, "BUF-") {
			registered = append(registered, r.ID)
			if want := "irp.TestRules/" + r.ID; r.Test != want {
				t.Errorf("rule %s: Test = %q, want %q", r.ID, r.Test, want)
			}
		}
	}
	for _, rt := range ruleTests {
		tested = append(tested, rt.id)
	}
	slices.Sort(tested)
	if len(slices.Compact(slices.Clone(tested))) != len(tested) {
		t.Errorf("ruleTests lists a rule twice: %v", tested)
	}
	expectEqualLists(t, "rules with a subtest", registered, tested)
}
