package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// genTrace writes a conforming trace of about n events: a driver accepts a
// peer's connection, then receives what the peer sends for ever, one pool
// block per receive (allocated and freed, named with fresh names so the
// parser's name table must forget dead ones), completed inline or pending.
func genTrace(w io.Writer, n int) error {
	bw := &bytes.Buffer{}
	fmt.Fprintln(bw, `{"wsktrace":1,"source":"generated"}`)
	seq := 0
	ev := func(format string, a ...any) {
		seq++
		fmt.Fprintf(bw, `{"seq":%d,`+format+"}\n", append([]any{seq}, a...)...)
	}
	arm := func() {
		ev(`"ev":"call","fn":"IoReuseIrp","args":{"Irp":"irp","Iostatus":"STATUS_UNSUCCESSFUL"}`)
		ev(`"ev":"call","fn":"IoSetCompletionRoutine","args":{"Irp":"irp","InvokeOnSuccess":true,"InvokeOnError":true,"InvokeOnCancel":true}`)
	}
	ev(`"ev":"call","fn":"WskRegister","args":{"WskClientNpi":{"Version":"1.0"},"WskRegistration":{"bind":"reg"}}`)
	ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, seq)
	ev(`"ev":"call","fn":"WskCaptureProviderNPI","args":{"WskRegistration":"reg","WaitTimeout":"WSK_INFINITE_WAIT","WskProviderNpi":true}`)
	ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS","out":{"WskProviderNpi":{"Client":{"bind":"cl"}}}`, seq)
	ev(`"ev":"call","fn":"IoAllocateIrp","args":{"StackSize":1,"ChargeQuota":false}`)
	ev(`"ev":"return","call":%d,"value":{"bind":"irp"}`, seq)
	arm()
	ev(`"ev":"call","fn":"WskSocket","args":{"Client":"cl","AddressFamily":"AF_INET","SocketType":"SOCK_STREAM","Protocol":"IPPROTO_TCP","Flags":"WSK_FLAG_LISTEN_SOCKET","Irp":"irp"}`)
	ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":{"bind":"ls"}`)
	ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, seq-1)
	arm()
	ev(`"ev":"call","fn":"WskBind","args":{"Socket":"ls","LocalAddress":"127.0.0.1:7000","Flags":0,"Irp":"irp"}`)
	ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":0`)
	ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, seq-1)
	ev(`"ev":"env","what":"peer_connect","to":"127.0.0.1:7000","name":"p1"`)
	arm()
	ev(`"ev":"call","fn":"WskAccept","args":{"ListenSocket":"ls","Flags":0,"Irp":"irp"}`)
	ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":{"bind":"s"}`)
	ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, seq-1)
	data := strings.Repeat("ab", 64)
	for k := 0; seq+14 <= n-20; k++ {
		ev(`"ev":"call","fn":"ExAllocatePool2","args":{"Flags":64,"NumberOfBytes":64,"Tag":1802204247}`)
		ev(`"ev":"return","call":%d,"value":{"bind":"b%d"}`, seq, k)
		arm()
		ev(`"ev":"env","what":"peer_send","conn":"p1","data":{"hex":"%s"}`, data)
		ev(`"ev":"call","fn":"WskReceive","args":{"Socket":"s","Buffer":{"len":64,"pool":"b%d"},"Flags":0,"Irp":"irp"}`, k)
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
	ev(`"ev":"env","what":"peer_close","conn":"p1"`)
	for _, s := range []string{"s", "ls"} {
		arm()
		ev(`"ev":"call","fn":"WskCloseSocket","args":{"Socket":"%s","Irp":"irp"}`, s)
		ev(`"ev":"complete","irp":"irp","status":"STATUS_SUCCESS","information":0`)
		ev(`"ev":"return","call":%d,"status":"STATUS_SUCCESS"`, seq-1)
	}
	ev(`"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp"}`)
	ev(`"ev":"call","fn":"WskReleaseProviderNPI","args":{"WskRegistration":"reg"}`)
	ev(`"ev":"call","fn":"WskDeregister","args":{"WskRegistration":"reg"}`)
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
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < b.N; i++ {
		rep, err := Replay(bytes.NewReader(data), Options{})
		if err != nil || rep.Verdict != Conforms {
			var t bytes.Buffer
			rep.WriteText(&t)
			b.Fatalf("verdict %v err %v\n%s", rep.Verdict, err, t.String())
		}
		events += rep.Events
	}
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(events), "allocs/event")
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
	if rep.Events < n-40 {
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

// BenchmarkReplayVsUnmarshal interleaves rounds of Replay and of plain
// json.Unmarshal of every line of the same trace into a json.RawMessage (the
// floor for anything that reads JSON with the standard library), so both see
// the same machine, and reports the replay's throughput as a multiple of the
// floor's (x-unmarshal; 1.0 means as fast as just decoding the lines).
func BenchmarkReplayVsUnmarshal(b *testing.B) {
	var buf bytes.Buffer
	if err := genTrace(&buf, 20_000); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	lines := bytes.Split(bytes.TrimSpace(data), []byte{'\n'})
	var tReplay, tUnmarshal time.Duration
	events := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rep, err := Replay(bytes.NewReader(data), Options{})
		if err != nil || rep.Verdict != Conforms {
			b.Fatalf("verdict %v err %v", rep.Verdict, err)
		}
		events += rep.Events
		t1 := time.Now()
		for _, l := range lines {
			var m json.RawMessage
			if err := json.Unmarshal(l, &m); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		tReplay += t1.Sub(t0)
		tUnmarshal += t2.Sub(t1)
	}
	b.ReportMetric(float64(events)/tReplay.Seconds(), "events/s")
	b.ReportMetric(float64(len(lines)*b.N)/tUnmarshal.Seconds(), "unmarshal-lines/s")
	b.ReportMetric(tUnmarshal.Seconds()/tReplay.Seconds(), "x-unmarshal")
}

// retryTrace is a trace that needs policy retries late: `filler` pool
// allocate/free cycles, then testdata/conforming/policy-open-options.jsonl,
// whose size probe and second SET take options other than the defaults.
func retryTrace(tb testing.TB, filler int) []byte {
	tail, err := os.ReadFile("testdata/conforming/policy-open-options.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(tail), []byte{'\n'})
	var b bytes.Buffer
	b.Write(lines[0])
	b.WriteByte('\n')
	seq := 0
	for k := 0; k < filler; k++ {
		fmt.Fprintf(&b, `{"seq":%d,"ev":"call","fn":"ExAllocatePool2","args":{"Flags":64,"NumberOfBytes":64,"Tag":1802204247}}`+"\n", seq+1)
		fmt.Fprintf(&b, `{"seq":%d,"ev":"return","call":%d,"value":{"bind":"fill%d"}}`+"\n", seq+2, seq+1, k)
		fmt.Fprintf(&b, `{"seq":%d,"ev":"call","fn":"ExFreePoolWithTag","args":{"P":"fill%d","Tag":1802204247}}`+"\n", seq+3, k)
		seq += 3
	}
	shift := func(m []byte) []byte {
		return regexp.MustCompile(`"(seq|call)":(\d+)`).ReplaceAllFunc(m, func(s []byte) []byte {
			k := bytes.IndexByte(s, ':')
			n, _ := strconv.Atoi(string(s[k+1:]))
			return []byte(fmt.Sprintf("%s%d", s[:k+1], n+seq))
		})
	}
	for _, l := range lines[1:] {
		b.Write(shift(l))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkReplayRetryVsSingle replays a trace whose open policies are found
// only by retries late in it, and, interleaved, the same trace with those
// policies pinned (one pass), and reports the ratio of the two (x-single).
func BenchmarkReplayRetryVsSingle(b *testing.B) {
	data := retryTrace(b, 5000)
	rep, err := Replay(bytes.NewReader(data), Options{})
	if err != nil || rep.Verdict != Conforms || len(rep.Policies) == 0 {
		var t bytes.Buffer
		rep.WriteText(&t)
		b.Fatalf("retry trace: err %v, verdict %v, policies %v\n%s", err, rep.Verdict, rep.Policies, t.String())
	}
	pins := map[string]string{}
	for _, p := range rep.Policies {
		pins[p.Policy] = p.Option
	}
	var tRetry, tSingle time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if rep, _ := Replay(bytes.NewReader(data), Options{}); rep.Verdict != Conforms {
			b.Fatal("retry replay does not conform")
		}
		t1 := time.Now()
		if rep, _ := Replay(bytes.NewReader(data), Options{Pins: pins}); rep.Verdict != Conforms {
			b.Fatal("pinned replay does not conform")
		}
		t2 := time.Now()
		tRetry += t1.Sub(t0)
		tSingle += t2.Sub(t1)
	}
	b.ReportMetric(tRetry.Seconds()/tSingle.Seconds(), "x-single")
}
