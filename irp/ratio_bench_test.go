package irp

import (
	"testing"
	"time"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// BenchmarkIRPCycleVsBaseline interleaves rounds of BenchmarkBaselineCall's
// work and of BenchmarkIRPCycle's, and reports the ratio of their best
// per-cycle times (x-baseline): the two see the same machine, which two
// separate benchmarks on a shared machine do not. make bench-ratios holds it
// against its goal.
func BenchmarkIRPCycleVsBaseline(b *testing.B) {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := NewManager(w)
	i := m.IoAllocateIrp(1, false)
	st := &benchState{}
	p := &plainIRP{ctx: st, fn: func(p *plainIRP, ctx any) nt.Status {
		ctx.(*benchState).n++
		return nt.STATUS_MORE_PROCESSING_REQUIRED
	}}
	const k = 4000
	var bBase, bCycle float64
	best := func(cur, v float64) float64 {
		if cur == 0 || v < cur {
			return v
		}
		return cur
	}
	b.ReportAllocs()
	for r := 0; r < b.N; r++ {
		t0 := time.Now()
		for j := 0; j < k; j++ {
			plainComplete(p, nt.STATUS_SUCCESS)
		}
		t1 := time.Now()
		for j := 0; j < k; j++ {
			m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
			m.IoSetCompletionRoutine(i, benchRoutine, st, true, true, true)
			f := w.Begin("WskControlSocket")
			m.Submit(i, "WskControlSocket")
			m.Complete(i, nt.STATUS_SUCCESS, 0)
			w.Return(f, nt.STATUS_SUCCESS)
		}
		t2 := time.Now()
		bBase = best(bBase, float64(t1.Sub(t0).Nanoseconds())/k)
		bCycle = best(bCycle, float64(t2.Sub(t1).Nanoseconds())/k)
	}
	if w.ViolationCount() != 0 {
		b.Fatalf("violations %v", w.Violations())
	}
	b.ReportMetric(bBase, "baseline-ns/op")
	b.ReportMetric(bCycle, "cycle-ns/op")
	b.ReportMetric(bCycle/bBase, "x-baseline")
}
