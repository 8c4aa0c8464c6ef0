package trace

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// genTrace writes a conforming trace of n events (n rounded down to whole
// cycles): one IRP reused for ever, pool blocks allocated and freed, and
// provider calls completed inline or pending, named with fresh names so the
// parser's name table must forget dead ones.
func genTrace(w io.Writer, n int) error {
	bw := &bytes.Buffer{}
	fmt.Fprintln(bw, `{"wsktrace":1,"source":"generated"}`)
	seq := 0
	ev := func(format string, a ...any) {
		seq++
		fmt.Fprintf(bw, `{"seq":%d,`+format+"}\n", append([]any{seq}, a...)...)
	}
	ev(`"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1,"ChargeQuota":false}`)
	ev(`"ev":"return","call":%d,"value":{"bind":"irp"}`, seq)
	for k := 0; seq+13 <= n; k++ {
		ev(`"ev":"call","fn":"ExAllocatePool2","args":{"Flags":64,"NumberOfBytes":64,"Tag":1802204247}`)
		ev(`"ev":"return","call":%d,"value":{"bind":"b%d"}`, seq, k)
		ev(`"ev":"call","fn":"IoReuseIrp","args":{"Irp":"irp","Iostatus":"STATUS_UNSUCCESSFUL"}`)
		ev(`"ev":"call","fn":"IoSetCompletionRoutine","args":{"Irp":"irp","InvokeOnSuccess":true,"InvokeOnError":true,"InvokeOnCancel":true}`)
		ev(`"ev":"call","fn":"WskSend","args":{"Socket":null,"Buffer":{"len":64,"pool":"b%d"},"Flags":0,"Irp":"irp"}`, k)
		call := seq
		if k%2 == 0 {
			ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":64`)
			ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, call)
		} else {
			ev(`"ev":"return","call":%d,"status":"STATUS_PENDING"`, call)
			ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":64,"pending_returned":true`)
		}
		ev(`"ev":"call","fn":"IoCancelIrp","args":{"Irp":"irp"}`)
		ev(`"ev":"return","call":%d,"value":false`, seq)
		ev(`"ev":"call","fn":"ExFreePoolWithTag","args":{"P":"b%d","Tag":1802204247}`, k)
		ev(`"ev":"note","text":"cycle %d"`, k)
		ev(`"ev":"call","fn":"IoSetCompletionRoutine","args":{"Irp":"irp","InvokeOnSuccess":true,"InvokeOnError":true,"InvokeOnCancel":true}`)
		ev(`"ev":"return","call":%d`, seq)
		if bw.Len() > 1<<16 {
			if _, err := w.Write(bw.Bytes()); err != nil {
				return err
			}
			bw.Reset()
		}
	}
	ev(`"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp"}`)
	_, err := w.Write(bw.Bytes())
	return err
}

// BenchmarkReplay replays a generated trace and reports events per second.
func BenchmarkReplay(b *testing.B) {
	var buf bytes.Buffer
	if err := genTrace(&buf, 100_000); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		rep, err := Replay(bytes.NewReader(data), Options{})
		if err != nil || rep.Verdict != Conforms {
			var t bytes.Buffer
			rep.WriteText(&t)
			b.Fatalf("verdict %v err %v\n%s", rep.Verdict, err, t.String())
		}
		events += rep.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestReplayMillionEventsFlatMemory streams a 1,000,000-event trace through an
// io.Pipe into Replay and samples the live heap while it runs: the peak must
// not grow with the trace (it stays under a fixed bound, and the second half
// of the run peaks no higher than the first half plus slack).
func TestReplayMillionEventsFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1,000,000 events")
	}
	const n = 1_000_000
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(genTrace(pw, n)) }()
	done := make(chan struct{})
	var heap []uint64
	start := time.Now()
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			heap = append(heap, ms.HeapInuse)
		}
	}()
	rep, err := Replay(pr, Options{})
	elapsed := time.Since(start)
	stopSampling <- struct{}{}
	<-done
	var peakFirst, peakSecond uint64
	for k, h := range heap {
		if k < len(heap)/2 {
			peakFirst = max(peakFirst, h)
		} else {
			peakSecond = max(peakSecond, h)
		}
	}
	samples := len(heap)
	if err != nil || rep.Verdict != Conforms {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Fatalf("verdict %v err %v\n%s", rep.Verdict, err, b.String())
	}
	if rep.Events < n-20 {
		t.Fatalf("replayed %d events, want about %d", rep.Events, n)
	}
	peak := max(peakFirst, peakSecond)
	t.Logf("1M events: %d events in %v (%.0f events/s); peak HeapInuse %.1f MiB (first half %.1f MiB, second half %.1f MiB, %d samples)",
		rep.Events, elapsed, float64(rep.Events)/elapsed.Seconds(), mib(peak), mib(peakFirst), mib(peakSecond), samples)
	if peak > 64<<20 {
		t.Errorf("peak heap %.1f MiB > 64 MiB: memory grows with the trace", mib(peak))
	}
	if peakFirst > 0 && peakSecond > peakFirst+16<<20 {
		t.Errorf("peak heap grew from %.1f MiB to %.1f MiB over the run", mib(peakFirst), mib(peakSecond))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

var (
	stopSampling = make(chan struct{})
)
