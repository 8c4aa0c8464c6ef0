package irp

import (
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

type benchState struct{ n int }

func benchRoutine(i *IRP, ctx any) nt.Status {
	ctx.(*benchState).n++
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

// BenchmarkIRPCycle is the steady-state cycle a real WSK client runs: reuse the
// IRP, set the completion routine, submit it to a call, complete inline, and
// the routine returns STATUS_MORE_PROCESSING_REQUIRED. It must be 0 allocs/op.
func BenchmarkIRPCycle(b *testing.B) {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := NewManager(w)
	i := m.IoAllocateIrp(1, false)
	st := &benchState{}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		m.IoSetCompletionRoutine(i, benchRoutine, st, true, true, true)
		f := w.Begin("WskControlSocket")
		m.Submit(i, "WskControlSocket")
		m.Complete(i, nt.STATUS_SUCCESS, 0)
		w.Return(f, nt.STATUS_SUCCESS)
	}
	b.StopTimer()
	if st.n != b.N || w.ViolationCount() != 0 {
		b.Fatalf("routine ran %d times for %d cycles; violations %v", st.n, b.N, w.Violations())
	}
}

type plainIRP struct {
	status nt.Status
	info   uint64
	ctx    any
	fn     func(*plainIRP, any) nt.Status
}

//go:noinline
func plainComplete(p *plainIRP, st nt.Status) nt.Status {
	p.status, p.info = st, 0
	return p.fn(p, p.ctx)
}

// BenchmarkBaselineCall is the bare baseline for BenchmarkIRPCycle: a plain
// struct update through a function value.
func BenchmarkBaselineCall(b *testing.B) {
	st := &benchState{}
	p := &plainIRP{ctx: st, fn: func(p *plainIRP, ctx any) nt.Status {
		ctx.(*benchState).n++
		return nt.STATUS_MORE_PROCESSING_REQUIRED
	}}
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		plainComplete(p, nt.STATUS_SUCCESS)
	}
	if st.n != b.N {
		b.Fatal("baseline did not run")
	}
}
