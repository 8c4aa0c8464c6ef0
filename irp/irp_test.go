package irp_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

func TestIoCancelIrp(t *testing.T) {
	t.Run("no cancel routine", func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		setRoutine(m, i)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 3)
		assert.False(t, m.IoCancelIrp(i), "IoCancelIrp without a cancel routine")
		assert.True(t, i.Cancel, "Cancel after IoCancelIrp")
		assert.True(t, i.InFlight(), "cancel without a routine leaves the IRP to its call")
		require.NoError(t, w.RunUntilIdle())
		// The completion raced and won: success, not STATUS_CANCELLED.
		assert.Equal(t, irp.IoStatusBlock{Status: nt.STATUS_SUCCESS, Information: 3}, i.IoStatus)
		m.IoFreeIrp(i)
		expect(t, w)
	})
	t.Run("with cancel routine", func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		i := m.IoAllocateIrp(1, false)
		var seen []nt.Status
		m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			seen = append(seen, i.IoStatus.Status)
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 3)
		calls := 0
		m.SetCancelRoutine(i, func(c *irp.IRP) {
			calls++
			m.Complete(c, nt.STATUS_CANCELLED, 0)
		})
		assert.True(t, m.IoCancelIrp(i), "IoCancelIrp with a cancel routine")
		assert.Equal(t, 1, calls)
		assert.False(t, i.InFlight())
		assert.Equal(t, []nt.Status{nt.STATUS_CANCELLED}, seen)
		assert.False(t, m.IoCancelIrp(i), "the cancel routine is cleared once called")
		require.NoError(t, w.RunUntilIdle()) // the pending completion must not run again
		assert.Equal(t, []nt.Status{nt.STATUS_CANCELLED}, seen)
		m.IoFreeIrp(i)
		expect(t, w)
	})
	t.Run("NULL", func(t *testing.T) {
		w, m := newWorld(t)
		assert.False(t, m.IoCancelIrp(nil))
		expect(t, w, V{irp.RuleNullIRP, "IoCancelIrp", nil, []string{"IoCancelIrp"}})
	})
}

// TestStalePendingCompletion is the regression test for a pended completion
// that outlived its submission: cancelled, reused and submitted again, the IRP
// was completed by the first submission's timer.
func TestStalePendingCompletion(t *testing.T) {
	w, m := newWorld(t)
	pin(t, w, pending)
	i := m.IoAllocateIrp(1, false)
	var seen []nt.Status
	m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
		seen = append(seen, i.IoStatus.Status)
		return nt.STATUS_MORE_PROCESSING_REQUIRED
	}, nil, true, true, true)
	call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 7)
	m.SetCancelRoutine(i, func(c *irp.IRP) { m.Complete(c, nt.STATUS_CANCELLED, 0) })
	require.True(t, m.IoCancelIrp(i))
	m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
	setRoutine(m, i)
	f := w.Begin("WskSend") // waits for the network: no timer of its own
	require.True(t, m.Submit(i, "WskSend"))
	m.MarkPending(i)
	w.Return(f, nt.STATUS_PENDING)
	require.NoError(t, w.RunUntilIdle())
	require.True(t, i.InFlight(), "the first submission's timer completed the second submission")
	m.Complete(i, nt.STATUS_SUCCESS, 1)
	assert.Equal(t, []nt.Status{nt.STATUS_CANCELLED}, seen)
	assert.Equal(t, irp.IoStatusBlock{Status: nt.STATUS_SUCCESS, Information: 1}, i.IoStatus)
	m.IoFreeIrp(i)
	expect(t, w)

	// The same with the first submission ended by the provider itself (a
	// socket closed under it), as the state machine found it.
	w, m = newWorld(t)
	pin(t, w, pending)
	i = m.IoAllocateIrp(1, false)
	setRoutine(m, i)
	call(w, m, i, "WskReceive", nt.STATUS_SUCCESS, 7) // its timer is due at 1000
	w.Advance(600)
	m.Complete(i, nt.STATUS_CANCELLED, 0)
	m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
	setRoutine(m, i)
	pin(t, w, pending)
	call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 2)
	w.Advance(500) // the stale timer fires; the new one is due at 1600
	require.True(t, i.InFlight(), "the first submission's timer completed the second submission")
	require.NoError(t, w.RunUntilIdle())
	assert.Equal(t, irp.IoStatusBlock{Status: nt.STATUS_SUCCESS, Information: 2}, i.IoStatus)
	m.IoFreeIrp(i)
	expect(t, w)
}

// TestInvokeOn checks which completions call the routine, per InvokeOn flags
// (IoSetCompletionRoutine: success and error by NT_SUCCESS(IoStatus.Status),
// cancel by Irp->Cancel). A passed-down IRP is used so the flags are legal.
func TestInvokeOn(t *testing.T) {
	type flags struct{ s, e, c bool }
	cases := []struct {
		st     nt.Status
		cancel bool
	}{{nt.STATUS_SUCCESS, false}, {nt.STATUS_BUFFER_OVERFLOW, false}, {nt.STATUS_INVALID_PARAMETER, false}, {nt.STATUS_CANCELLED, true}, {nt.STATUS_SUCCESS, true}}
	for mask := 0; mask < 8; mask++ {
		fl := flags{mask&1 != 0, mask&2 != 0, mask&4 != 0}
		for _, c := range cases {
			w, m := newWorld(t)
			pin(t, w, inline)
			p, _ := m.NewPassedDownIrp(1)
			ran := false
			m.IoSetCompletionRoutine(p, func(*irp.IRP, any) nt.Status {
				ran = true
				return nt.STATUS_MORE_PROCESSING_REQUIRED
			}, nil, fl.s, fl.e, fl.c)
			if c.cancel {
				m.IoCancelIrp(p)
			}
			call(w, m, p, "WskSend", c.st, 0)
			want := (c.st.IsSuccess() && fl.s) || (!c.st.IsSuccess() && fl.e) || (c.cancel && fl.c)
			assert.Equal(t, want, ran, "flags %+v, status %v, cancel %t", fl, c.st, c.cancel)
			// Without the routine (or when it does not keep it) the IRP goes back up.
			assert.Equal(t, !want, len(m.Live()) == 0, "flags %+v, status %v: live %v", fl, c.st, m.Live())
			expect(t, w)
		}
	}
}

func TestPendingReturned(t *testing.T) {
	for _, choice := range []int{inline, pending} {
		w, m := newWorld(t)
		pin(t, w, choice)
		i := m.IoAllocateIrp(1, false)
		var inRoutine []bool
		m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			inRoutine = append(inRoutine, i.PendingReturned)
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		st := call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		require.NoError(t, w.RunUntilIdle())
		wantSt := nt.STATUS_SUCCESS
		if choice == pending {
			wantSt = nt.STATUS_PENDING
		}
		assert.Equal(t, wantSt, st, "choice %d: returned status", choice)
		assert.Equal(t, []bool{choice == pending}, inRoutine, "choice %d: PendingReturned in the routine", choice)
		m.IoReuseIrp(i, 0)
		assert.False(t, i.PendingReturned, "IoReuseIrp clears PendingReturned")
		m.IoFreeIrp(i)
		expect(t, w)
	}
}

func TestCompletionIRQL(t *testing.T) {
	for v, want := range []nt.IRQL{nt.PASSIVE_LEVEL, nt.DISPATCH_LEVEL} {
		w, m := newWorld(t)
		pin(t, w, inline)
		require.NoError(t, w.Pin(irp.ChoiceCompletionIRQL, v))
		i := m.IoAllocateIrp(1, false)
		var got []nt.IRQL
		var inComp bool
		m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
			got = append(got, w.IRQL())
			inComp = w.InCompletion()
			return nt.STATUS_MORE_PROCESSING_REQUIRED
		}, nil, true, true, true)
		w.SetIRQL(nt.APC_LEVEL)
		call(w, m, i, "WskSend", nt.STATUS_SUCCESS, 0)
		assert.Equal(t, []nt.IRQL{want}, got, "pinned %d", v)
		assert.True(t, inComp, "InCompletion inside the routine")
		assert.False(t, w.InCompletion())
		assert.Equal(t, nt.APC_LEVEL, w.IRQL(), "the caller's IRQL is restored")
	}
}

// TestIRQLAboveMaxInIrp: the Io*/Ex* routines of this package may be called at
// DISPATCH_LEVEL or below; above it each call is IRQL-ABOVE-MAX.
func TestIRQLAboveMaxInIrp(t *testing.T) {
	w, m := newWorld(t)
	w.SetIRQL(nt.DISPATCH_LEVEL + 1)
	b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 1, tagWsks)
	w.SetIRQL(nt.DISPATCH_LEVEL)
	m.ExFreePool(b)
	expect(t, w, V{sim.RuleIRQLAboveMax, "ExAllocatePool2", nil, []string{"ExAllocatePool2 called at IRQL(3)", "DISPATCH_LEVEL"}})
}

func TestPassedDownIRP(t *testing.T) {
	t.Run("routine returns STATUS_SUCCESS", func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, pending)
		p, err := m.NewPassedDownIrp(2)
		require.NoError(t, err)
		assert.False(t, p.DriverAllocated())
		var pr bool
		m.IoSetCompletionRoutine(p, func(p *irp.IRP, _ any) nt.Status {
			pr = p.PendingReturned // a real routine would IoMarkIrpPending here
			return nt.STATUS_SUCCESS
		}, nil, true, false, false)
		assert.Equal(t, nt.STATUS_PENDING, call(w, m, p, "WskReceive", nt.STATUS_SUCCESS, 9))
		assert.Equal(t, 1, p.StackLocations(), "the WSK call holds one stack location")
		require.NoError(t, w.RunUntilIdle())
		assert.True(t, pr)
		assert.Equal(t, 2, p.StackLocations())
		assert.Empty(t, m.Live(), "handed back to the I/O manager")
		expect(t, w)
		// Every later use is flagged.
		call(w, m, p, "WskSend", nt.STATUS_SUCCESS, 0)
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		w.Close()
		expect(t, w,
			V{irp.RuleUseAfterFree, "WskSend", []string{"irp1"}, []string{"WskSend given irp1 after it was completed back to the I/O manager"}},
			V{irp.RuleDoubleComplete, "IoCompleteRequest", []string{"irp1"}, []string{"IoCompleteRequest on irp1"}})
	})
	t.Run("routine keeps it", func(t *testing.T) {
		w, m := newWorld(t)
		pin(t, w, inline)
		p, _ := m.NewPassedDownIrp(1)
		m.IoSetCompletionRoutine(p, mpr, nil, true, true, true)
		call(w, m, p, "WskReceive", nt.STATUS_SUCCESS, 0)
		require.Len(t, m.Live(), 1, "MORE_PROCESSING_REQUIRED keeps it with the driver")
		m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
		assert.Empty(t, m.Live())
		w.Close()
		expect(t, w)
	})
	t.Run("bad stack count", func(t *testing.T) {
		_, m := newWorld(t)
		for _, n := range []int{-1, 128} {
			p, err := m.NewPassedDownIrp(n)
			assert.Nil(t, p)
			assert.EqualError(t, err, "irp.NewPassedDownIrp: stackLocations "+itoa(n)+" outside 0..127")
		}
	})
}

func TestPoolBudget(t *testing.T) {
	w, m := newWorld(t)
	var b *irp.Block
	allocs := testing.AllocsPerRun(10, func() { b = m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 1<<63, tagWsks) })
	assert.Nil(t, b, "ExAllocatePool2(1<<63)")
	assert.Less(t, allocs, 2.0, "a refused huge request must not allocate its size")
	assert.Nil(t, m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, ^uint64(0), tagWsks))
	m.PoolBudget = 100
	a := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 60, tagWsks)
	require.NotNil(t, a)
	assert.Nil(t, m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 41, tagWsks), "over the budget")
	c := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 40, tagWsks)
	require.NotNil(t, c, "exactly the budget")
	assert.Equal(t, uint64(40), c.Size())
	assert.Equal(t, make([]byte, 40), c.Bytes(), "zeroed even without POOL_FLAG_UNINITIALIZED")
	m.ExFreePool(a)
	assert.NotNil(t, m.ExAllocatePool2(irp.POOL_FLAG_UNINITIALIZED, 60, tagWsks), "freeing returns budget")
	m.PoolBudget = 10 // below what is live: nothing fits
	assert.Nil(t, m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 0, tagWsks))
	expect(t, w)
}

func TestFaultSites(t *testing.T) {
	w, m := newWorld(t)
	require.NoError(t, w.FailNext(irp.FaultIRPAlloc, 2))
	require.NoError(t, w.FailNext(irp.FaultPoolAlloc, 1))
	assert.Nil(t, m.IoAllocateIrp(1, false))
	assert.Nil(t, m.IoAllocateIrp(1, false))
	i := m.IoAllocateIrp(1, false)
	require.NotNil(t, i)
	assert.Equal(t, "irp1", i.Name(), "failed allocations take no name")
	assert.Nil(t, m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 4, tagWsks))
	b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 4, tagWsks)
	require.NotNil(t, b)
	assert.Equal(t, "pool1", b.Name())

	require.NoError(t, w.SetFaultRate(irp.FaultPoolAlloc, 1000))
	for k := 0; k < 5; k++ {
		assert.Nil(t, m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 4, tagWsks))
	}
	require.NoError(t, w.Pin("fault:"+irp.FaultPoolAlloc, 0)) // "pass"
	c := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 4, tagWsks)
	assert.NotNil(t, c, "a site pinned to pass does not fail whatever its rate")
	w.Unpin("fault:" + irp.FaultPoolAlloc)
	require.NoError(t, w.SetFaultRate(irp.FaultPoolAlloc, 0))
	d := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 4, tagWsks)
	assert.NotNil(t, d)

	// A rate of 500 fails some and passes some, the same way for a seed.
	run := func() (fails int, names []string) {
		w := sim.NewWorld(sim.Config{Seed: 42})
		m := irp.NewManager(w)
		require.NoError(t, w.SetFaultRate(irp.FaultIRPAlloc, 500))
		for k := 0; k < 64; k++ {
			if i := m.IoAllocateIrp(1, false); i == nil {
				fails++
			} else {
				names = append(names, i.Name())
			}
		}
		return
	}
	f1, n1 := run()
	f2, n2 := run()
	assert.Equal(t, f1, f2)
	assert.Equal(t, n1, n2)
	assert.Greater(t, f1, 10)
	assert.Less(t, f1, 54)

	for _, b := range []*irp.Block{b, c, d} {
		m.ExFreePool(b)
	}
	m.IoFreeIrp(i)
	expect(t, w)
}

func TestHalt(t *testing.T) {
	w, m := newWorld(t)
	require.NoError(t, w.SetAction(irp.RuleDoubleComplete, sim.Halt))
	ran := false
	w.Schedule(1, sim.TaskFunc(func() { ran = true }))
	p, _ := m.NewPassedDownIrp(1) // seq 1: env irp_dispatch
	m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
	require.NoError(t, w.Halted())
	m.IoCompleteRequest(p, nt.STATUS_SUCCESS, 0)
	err := w.Halted()
	var bc *sim.BugCheck
	require.True(t, errors.As(err, &bc), "Halted() = %v, want *sim.BugCheck", err)
	assert.Equal(t, irp.RuleDoubleComplete, bc.Violation.Rule)
	assert.Equal(t, "0x44", bc.Violation.BugCheck)
	assert.Equal(t, "IoCompleteRequest", bc.Violation.Call)
	assert.Equal(t, "sim: world halted: IRP-DOUBLE-COMPLETE at seq 3 in IoCompleteRequest [irp1]: IoCompleteRequest on irp1, which was already completed back to the I/O manager (bug check 0x44)", err.Error())
	assert.False(t, w.Step(), "Step after a halt")
	require.NoError(t, w.RunUntilIdle())
	w.Advance(10)
	assert.False(t, ran)
	assert.Equal(t, 1, w.Pending())
}

func TestActionOff(t *testing.T) {
	w, m := newWorld(t)
	require.NoError(t, w.SetAction(irp.RulePoolNull, sim.Off))
	m.ExFreePool(nil)
	expect(t, w)
	require.NoError(t, w.SetAction(irp.RulePoolNull, sim.Record))
	m.ExFreePool(nil)
	expect(t, w, V{irp.RulePoolNull, "ExFreePool", nil, nil})
}

func TestTagString(t *testing.T) {
	assert.Equal(t, "Wsks", irp.TagString(tagWsks))
	assert.Equal(t, "0x00736B57", irp.TagString(0x00736b57))
	assert.Equal(t, "0x7F6B7357", irp.TagString(0x7f6b7357))
}

func itoa(n int) string { return fmtInt(n) }

// TestDeliverOverlappingLoans is the regression test for a FuzzWorld failure: a
// WskReceiveFrom whose Buffer and ControlInfo lie in one pool block lends the
// block twice, and the provider's write through one loan must not be taken for
// the driver's write into the other (BUF-WRITE-WHILE-LENT). A driver write into
// the shared range is still caught.
func TestDeliverOverlappingLoans(t *testing.T) {
	for _, tc := range []struct {
		name        string
		driverWrite bool
	}{{"provider-only", false}, {"driver-writes", true}} {
		t.Run(tc.name, func(t *testing.T) {
			w, m := newWorld(t)
			pin(t, w, pending)
			b := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 16, tagWsks)
			i := m.IoAllocateIrp(1, false)
			setRoutine(m, i)
			call(w, m, i, "WskReceiveFrom", nt.STATUS_SUCCESS, 0, lendArg{b, 0, 12}, lendArg{b, 4, 12})
			m.Deliver(i, b, 6, []byte{1, 2, 3}) // inside both loans
			m.Deliver(i, b, 13, []byte{9})      // inside the second only
			if tc.driverWrite {
				b.Bytes()[5] = 0xEE
			}
			w.RunUntilIdle()
			if tc.driverWrite {
				expect(t, w,
					V{irp.RuleBufWriteWhileLent, "", []string{"pool1", "irp1"}, []string{"pool1 was written while lent to irp1 for WskReceiveFrom"}},
					V{irp.RuleBufWriteWhileLent, "", []string{"pool1", "irp1"}, []string{"pool1 was written while lent to irp1 for WskReceiveFrom"}})
				return
			}
			expect(t, w)
			if got := b.Bytes()[4:14]; string(got) != "\x00\x00\x01\x02\x03\x00\x00\x00\x00\x09" {
				t.Errorf("block = % x", got)
			}
		})
	}
}
