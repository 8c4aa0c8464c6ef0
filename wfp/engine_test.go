package wfp

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"pgregory.net/rapid"
)

func TestNoCalloutsPermitUnchanged(t *testing.T) {
	w, e := newWorld(t)
	res := connect(e, "s1", 4, origDest, nil)
	if res.Blocked || res.Redirected || res.Remote != origDest || res.Records != nil || res.Context != nil || res.Flow == 0 {
		t.Errorf("%+v", res)
	}
	e.EndFlow(res.Flow)
	e.EndFlow(res.Flow) // ignored
	w.Close()
	if w.ViolationCount() != 0 {
		t.Error(violationText(w))
	}
}

// TestFourStates walks the documented two-vendor chain (semantics §7.8):
// C1 sees NOT_REDIRECTED, BY_SELF, PREVIOUSLY_BY_SELF; C2 sees BY_OTHER and
// BY_SELF.
func TestFourStates(t *testing.T) {
	w, e := newWorld(t)
	c1 := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
	c2 := newProxyCallout(t, e, "c2", origDest, proxy2, proxy2PID)
	in1 := connect(e, "app", appPID, origDest, nil)
	if in1.Remote != proxyAddr || len(in1.Records) != headerSize+hopSize {
		t.Fatalf("hop 1: %+v", in1)
	}
	out1 := connect(e, "p1out", proxyPID, origDest, in1.Records) // C1: BY_SELF; C2: BY_OTHER → redirects
	if out1.Remote != proxy2 || len(out1.Records) != headerSize+2*hopSize {
		t.Fatalf("hop 2: %+v", out1)
	}
	out2 := connect(e, "p2out", proxy2PID, origDest, out1.Records)
	if out2.Redirected || out2.Remote != origDest {
		t.Fatalf("hop 3: %+v", out2)
	}
	want1 := []RedirectState{FWPS_CONNECTION_NOT_REDIRECTED, FWPS_CONNECTION_REDIRECTED_BY_SELF, FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF}
	want2 := []RedirectState{FWPS_CONNECTION_REDIRECTED_BY_OTHER, FWPS_CONNECTION_REDIRECTED_BY_SELF}
	if fmt.Sprint(c1.seen) != fmt.Sprint(want1) || fmt.Sprint(c2.seen) != fmt.Sprint(want2) {
		t.Errorf("c1 saw %v, want %v; c2 saw %v, want %v", c1.seen, want1, c2.seen, want2)
	}
	if hops, st := e.DecodeRecords(out1.Records); st != nt.STATUS_SUCCESS || len(hops) != 2 || e.HandleName(hops[0].HandleID) != c1.h.Name() || hops[1].TargetPID != proxy2PID {
		t.Errorf("history %+v %v", hops, st)
	}
	if st := e.CheckRecords(out1.Records, proxyPID); st != nt.STATUS_ACCESS_DENIED {
		t.Errorf("records for pid %d accepted on a socket of pid %d: %v", proxy2PID, proxyPID, st)
	}
	destroyAll(e)
	w.Close()
	if w.ViolationCount() != 0 {
		t.Error(violationText(w))
	}
}

func TestPolicies(t *testing.T) {
	t.Run("P-NOPID ignore/block/accept", func(t *testing.T) {
		for opt, want := range map[string]string{"ignore": "unchanged", "block": "blocked", "accept": "redirected"} {
			w, e := newWorld(t)
			w.SetPolicy(PolicyNoPID, opt)
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.noPID = true
			res := connect(e, "app", appPID, origDest, nil)
			got := "unchanged"
			if res.Blocked {
				got = "blocked"
			} else if res.Redirected {
				got = "redirected"
			}
			if got != want {
				t.Errorf("%s: %s, want %s", opt, got, want)
			}
		}
	})
	t.Run("P-NOHANDLE", func(t *testing.T) {
		w, e := newWorld(t)
		pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
		pc.hooks.noHandle = true
		res := connect(e, "app", appPID, origDest, nil)
		if !res.Redirected || res.Records != nil || string(res.Context) != string(pc.ctx) {
			t.Errorf("redirect-no-records: %+v", res)
		}
		// Nothing to SET: the proxy's connect loops.
		connect(e, "proxyout", proxyPID, origDest, nil)
		if !hasRule(w, RuleProxyLoop) {
			t.Errorf("no loop reported: %s", violationText(w))
		}
		w2, e2 := newWorld(t)
		w2.SetPolicy(PolicyNoHandle, "no-redirect")
		pc2 := newProxyCallout(t, e2, "c1", origDest, proxyAddr, proxyPID)
		pc2.hooks.noHandle = true
		if res := connect(e2, "app", appPID, origDest, nil); res.Redirected {
			t.Errorf("no-redirect: %+v", res)
		}
	})
	t.Run("P-SIZE", func(t *testing.T) {
		for opt, min := range map[string]int{"32+64/hop": 96, "over-1KiB": 1025, "over-2KiB": 2049} {
			w, e := newWorld(t)
			w.SetPolicy(PolicySize, opt)
			rec, err := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
			if err != nil || len(rec) < min || len(rec) > MaxRecordsSize || (opt == "32+64/hop" && len(rec) != 96) {
				t.Errorf("%s: %d bytes, %v", opt, len(rec), err)
			}
			if st := e.CheckRecords(rec, 4); st != nt.STATUS_SUCCESS {
				t.Errorf("%s: %v", opt, st)
			}
		}
	})
	t.Run("P-ACC never", func(t *testing.T) {
		w, e := newWorld(t)
		w.SetPolicy(PolicyAccess, "never")
		rec, _ := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
		if st := e.CheckRecords(rec, 5); st != nt.STATUS_SUCCESS {
			t.Errorf("pid check under never: %v", st)
		}
		rec[50] ^= 1
		if st := e.CheckRecords(rec, 4); st != nt.STATUS_INVALID_PARAMETER {
			t.Errorf("forged under never: %v", st)
		}
	})
	t.Run("P-CTXOWN at-permit", func(t *testing.T) {
		w, e := newWorld(t)
		w.SetPolicy(PolicyContextOwner, "at-permit")
		pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
		blk, _ := e.RegisterCallout("blocker", FWPS_LAYER_ALE_AUTH_CONNECT_V4, func(c *Classify) { c.Out.ActionType = FWP_ACTION_BLOCK })
		e.AddFilter(Filter{Name: "blocker", Callout: blk})
		if res := connect(e, "app", appPID, origDest, nil); !res.Blocked {
			t.Fatalf("%+v", res)
		}
		pc.lastCtx.Free() // still the callout's: the classify was blocked
		destroyAll(e)
		w.Close()
		if w.ViolationCount() != 0 {
			t.Error(violationText(w))
		}
	})
}

func TestAuthConnectSeesRedirect(t *testing.T) {
	w, e := newWorld(t)
	pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
	var seen *Classify
	au, _ := e.RegisterCallout("auth", FWPS_LAYER_ALE_AUTH_CONNECT_V4, func(c *Classify) { cc := *c; seen = &cc })
	e.AddFilter(Filter{Name: "auth", Callout: au})
	in := proxied(t, e, pc)
	if seen == nil || seen.Flags&nt.FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED == 0 ||
		!seen.Meta.Present(nt.FWPS_METADATA_FIELD_ORIGINAL_DESTINATION|nt.FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID) ||
		seen.Meta.OriginalDestination != origDest || seen.Meta.LocalRedirectTargetPID != proxyPID || seen.RemoteAddress != proxyAddr {
		t.Errorf("auth connect saw %+v", seen)
	}
	seen = nil
	connect(e, "proxyout", proxyPID, origDest, in.Records)
	if seen == nil || seen.Flags&nt.FWP_CONDITION_FLAG_IS_PROXY_CONNECTION == 0 || seen.Flags&nt.FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED != 0 {
		t.Errorf("proxy's connect: %+v", seen)
	}
	destroyAll(e)
	w.Close()
}

func TestRedirectPolicyAndEnv(t *testing.T) {
	w, e := newWorld(t)
	if err := e.AddRedirectPolicy("H1", origDest, proxyAddr, []byte{0xc0, 0xff, 0xee}, 4); err != nil {
		t.Fatal(err)
	}
	in := connect(e, "app", appPID, origDest, nil)
	if !in.Redirected || in.Remote != proxyAddr || in.TargetPID != 4 || !bytes.Equal(in.Context, []byte{0xc0, 0xff, 0xee}) {
		t.Fatalf("%+v", in)
	}
	if st := e.CheckRecords(in.Records, 4); st != nt.STATUS_SUCCESS {
		t.Fatal(st)
	}
	if out := connect(e, "out1", 4, origDest, in.Records); out.Redirected {
		t.Errorf("proxy with records redirected: %+v", out)
	}
	if out := connect(e, "out2", 4, origDest, nil); !out.Redirected {
		t.Errorf("proxy without records not redirected: %+v", out)
	}
	if !hasRule(w, RuleProxyLoop) {
		t.Errorf("loop not reported: %s", violationText(w))
	}
	// The env event: records made outside the engine's filters are honoured
	// by the policy holding the same handle.
	rec, err := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, []byte("ctx"), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := connect(e, "out3", 4, origDest, rec); out.Redirected {
		t.Errorf("env records not honoured: %+v", out)
	}
	if _, err := e.IssueRedirect("", appAddr, origDest, proxyAddr, nil, 4, nil); err == nil {
		t.Error("empty handle accepted")
	}
	bad := append([]byte(nil), rec...)
	bad[60] ^= 0x80
	if _, err := e.IssueRedirect("H2", appAddr, origDest, proxyAddr, nil, 4, bad); err == nil {
		t.Error("forged prior accepted")
	}
	w.Close()
}

func TestSioFormat(t *testing.T) {
	w, e := newWorld(t)
	pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
	in := proxied(t, e, pc)
	var got []nt.Status
	var need uint64
	c, _ := e.RegisterCallout("sio", FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *Classify) {
		rec := c.Meta.RedirectRecords
		var n uint64
		got = append(got, e.FwpsQueryConnectionSioFormatRedirectRecords0(rec, nil, 0, nil))
		got = append(got, e.FwpsQueryConnectionSioFormatRedirectRecords0(nil, nil, 0, &n))
		got = append(got, e.FwpsQueryConnectionSioFormatRedirectRecords0(rec, nil, 0, &n))
		need = n
		buf := make([]byte, 4096)
		got = append(got, e.FwpsQueryConnectionSioFormatRedirectRecords0(rec, buf[1:], uint64(len(buf)-1), &n))
		got = append(got, e.FwpsQueryConnectionSioFormatRedirectRecords0(rec, buf, uint64(len(buf)), &n))
		if !bytes.Equal(buf[:n], in.Records) {
			t.Errorf("SIO-format records differ from the accepted socket's")
		}
	})
	e.AddFilter(Filter{Name: "sio", Callout: c, Weight: 1})
	connect(e, "proxyout", proxyPID, origDest, in.Records)
	want := []nt.Status{nt.STATUS_INVALID_PARAMETER, nt.STATUS_NOT_FOUND, nt.STATUS_BUFFER_TOO_SMALL, nt.STATUS_INVALID_PARAMETER, nt.STATUS_SUCCESS}
	if fmt.Sprint(got) != fmt.Sprint(want) || need != uint64(len(in.Records)) {
		t.Errorf("got %v need %d, want %v need %d", got, need, want, len(in.Records))
	}
	destroyAll(e)
	w.Close()
}

func TestCheckRecordsStatuses(t *testing.T) {
	_, e := newWorld(t)
	rec, _ := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), rec...)) }
	cases := map[string]struct {
		blob []byte
		want nt.Status
	}{
		"valid":        {rec, nt.STATUS_SUCCESS},
		"empty":        {nil, nt.STATUS_INVALID_PARAMETER},
		"truncated":    {rec[:len(rec)-1], nt.STATUS_INVALID_PARAMETER},
		"extended":     {append(append([]byte(nil), rec...), 0), nt.STATUS_INVALID_PARAMETER},
		"bad magic":    {mut(func(b []byte) []byte { b[0] = 'X'; return b }), nt.STATUS_ACCESS_DENIED},
		"bad mac":      {mut(func(b []byte) []byte { b[20] ^= 1; return b }), nt.STATUS_ACCESS_DENIED},
		"bad hop":      {mut(func(b []byte) []byte { b[33] ^= 1; return b }), nt.STATUS_ACCESS_DENIED},
		"count lies":   {mut(func(b []byte) []byte { b[6] = 2; return b }), nt.STATUS_INVALID_PARAMETER},
		"pad overflow": {mut(func(b []byte) []byte { b[12], b[13], b[14], b[15] = 0xff, 0xff, 0xff, 0xff; return b }), nt.STATUS_INTEGER_OVERFLOW},
		"other key": {func() []byte {
			e2 := NewEngine(sim.NewWorld(sim.Config{Seed: 8}))
			r, _ := e2.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
			return r
		}(), nt.STATUS_ACCESS_DENIED},
	}
	for name, c := range cases {
		if got := e.CheckRecords(c.blob, 4); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { e.CheckRecords(rec, 4) }); a != 0 {
		t.Errorf("CheckRecords allocates %v times", a)
	}
}

// TestChainsProperty: random vendors (callouts with their own proxies) and
// random trust settings. When every proxy sets the records before connecting
// there is never a loop, every connect ends at the original destination
// within one hop per vendor, and every state a callout sees matches the plain
// history model of §9.2.
func TestChainsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := sim.NewWorld(sim.Config{Seed: rapid.Uint64().Draw(rt, "seed")})
		e := NewEngine(w)
		k := rapid.IntRange(1, 5).Draw(rt, "vendors")
		var pcs []*proxyCallout
		for i := 0; i < k; i++ {
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(9000+i))
			pc := newProxyCallout(rt, e, fmt.Sprintf("c%d", i+1), origDest, to, uint32(2000+i))
			pc.reproxy = rapid.Bool().Draw(rt, fmt.Sprintf("reproxy%d", i))
			if rapid.Bool().Draw(rt, fmt.Sprintf("ctx%d", i)) {
				pc.ctx = nil
			}
			pcs = append(pcs, pc)
		}
		var hist []uint32 // plain model: handle ids, oldest first
		model := func(h uint32) RedirectState {
			if len(hist) == 0 {
				return FWPS_CONNECTION_NOT_REDIRECTED
			}
			if hist[len(hist)-1] == h {
				return FWPS_CONNECTION_REDIRECTED_BY_SELF
			}
			for _, x := range hist {
				if x == h {
					return FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF
				}
			}
			return FWPS_CONNECTION_REDIRECTED_BY_OTHER
		}
		sock, pid := "app", uint32(appPID)
		var records []byte
		for step := 0; ; step++ {
			if step > k {
				rt.Fatalf("more than %d hops with records set", k)
			}
			// Expected states: callouts run in filter order until one redirects.
			var want [][]RedirectState
			redirector := -1
			for i, pc := range pcs {
				want = append(want, append([]RedirectState(nil), pc.seen...))
				if redirector >= 0 {
					continue
				}
				st := model(pc.h.id)
				want[i] = append(want[i], st)
				if st == FWPS_CONNECTION_NOT_REDIRECTED || (st == FWPS_CONNECTION_REDIRECTED_BY_OTHER && pc.reproxy) {
					redirector = i
				}
			}
			res := connect(e, sock, pid, origDest, records)
			for i, pc := range pcs {
				if fmt.Sprint(pc.seen) != fmt.Sprint(want[i]) {
					rt.Fatalf("step %d: c%d saw %v, model %v", step, i+1, pc.seen, want[i])
				}
			}
			if redirector < 0 {
				if res.Redirected || res.Remote != origDest {
					rt.Fatalf("step %d: redirected without a redirecting callout: %+v", step, res)
				}
				break
			}
			pc := pcs[redirector]
			if !res.Redirected || res.Remote != pc.to || res.TargetPID != pc.pid || !bytes.Equal(res.Context, pc.ctx) {
				rt.Fatalf("step %d: %+v, want redirect to c%d", step, res, redirector+1)
			}
			hist = append(hist, pc.h.id)
			if st := e.CheckRecords(res.Records, pc.pid); st != nt.STATUS_SUCCESS {
				rt.Fatalf("records rejected: %v", st)
			}
			sock, pid, records = fmt.Sprintf("out%d", step), pc.pid, res.Records
		}
		destroyAll(e)
		w.Close()
		if w.ViolationCount() != 0 {
			rt.Fatalf("violations: %s", violationText(w))
		}
	})
}

// FuzzDecodeRecords: decoding never panics, and whatever it accepts is
// exactly a blob this engine issued (re-encoding gives the same bytes), so a
// forged or altered blob is never accepted.
func FuzzDecodeRecords(f *testing.F) {
	for _, s := range seedBlobs() {
		f.Add(s.blob)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := sim.NewWorld(sim.Config{Seed: 1})
		e := NewEngine(w)
		st := e.CheckRecords(data, 4)
		switch st {
		case nt.STATUS_SUCCESS, nt.STATUS_INVALID_PARAMETER, nt.STATUS_ACCESS_DENIED, nt.STATUS_INTEGER_OVERFLOW:
		default:
			t.Fatalf("unexpected status %v", st)
		}
		hops, dst := e.DecodeRecords(data)
		if st == nt.STATUS_SUCCESS && dst != nt.STATUS_SUCCESS {
			t.Fatalf("CheckRecords %v but DecodeRecords %v", st, dst)
		}
		if dst != nt.STATUS_SUCCESS {
			return
		}
		pad := 0
		if data[5]&flagPadded != 0 {
			pad = len(data)
		}
		again := e.codec.encode(nil, hops, pad)
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted a blob the engine did not issue:\n%x\nre-encoded:\n%x", data, again)
		}
	})
}

type seedBlob struct {
	name string
	blob []byte
}

// seedBlobs are the committed corpus of FuzzDecodeRecords (seed 1 engine).
func seedBlobs() []seedBlob {
	w := sim.NewWorld(sim.Config{Seed: 1})
	e := NewEngine(w)
	one, _ := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, []byte("c"), 4, nil)
	two, _ := e.IssueRedirect("H2", appAddr, origDest, proxy2, nil, 4, one)
	v6, _ := e.IssueRedirect("H1", appAddr, netip.MustParseAddrPort("[2001:db8::7]:443"), netip.MustParseAddrPort("[::1]:9000"), nil, 4, nil)
	w.SetPolicy(PolicySize, "over-2KiB")
	padded, _ := e.IssueRedirect("H1", appAddr, origDest, proxyAddr, nil, 4, nil)
	w.SetPolicy(PolicySize, "32+64/hop")
	var h []byte
	for i := 0; i < MaxHops; i++ {
		h, _ = e.IssueRedirect(fmt.Sprintf("H%d", i+1), appAddr, origDest, proxyAddr, nil, 4, h)
	}
	flip := append([]byte(nil), one...)
	flip[40] ^= 1
	ovf := append([]byte(nil), one...)
	copy(ovf[12:16], []byte{0xff, 0xff, 0xff, 0xff})
	return []seedBlob{
		{"valid-one-hop", one}, {"valid-two-hops", two}, {"valid-ipv6", v6}, {"valid-padded-2k", padded},
		{"valid-max-hops", h}, {"forged-flipped-hop-byte", flip}, {"overflow-pad-length", ovf},
		{"truncated-header", one[:20]}, {"truncated-hop", one[:64]}, {"empty", []byte{}},
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzDecodeRecords when
// WFP_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("WFP_WRITE_CORPUS") != "1" {
		t.Skip("set WFP_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRecords")
	os.MkdirAll(dir, 0o755)
	for _, s := range seedBlobs() {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n[]byte(\"")
		for _, c := range s.blob {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
		b.WriteString("\")\n")
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTrace(t *testing.T) {
	var buf bytes.Buffer
	w := sim.NewWorld(sim.Config{Seed: 7, Trace: &buf, TraceSource: "wfp test"})
	e := NewEngine(w)
	pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
	in := proxied(t, e, pc)
	connect(e, "proxyout", proxyPID, origDest, in.Records)
	destroyAll(e)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{`"fn":"FwpsRedirectHandleCreate0"`, `"redirectHandle":{"bind":"H1"}`, `"what":"classify"`,
		`"fn":"FwpsQueryConnectionRedirectState0"`, `"value":"FWPS_CONNECTION_REDIRECTED_BY_SELF"`,
		`"fn":"FwpsAcquireClassifyHandle0"`, `"classifyHandle":{"bind":"ch1"}`, `"fn":"FwpsAcquireWritableLayerDataPointer0"`,
		`"fn":"FwpsApplyModifiedLayerData0"`, `"fn":"FwpsReleaseClassifyHandle0"`, `"what":"classify_return"`, `"fn":"FwpsRedirectHandleDestroy0"`} {
		if !strings.Contains(out, s) {
			t.Errorf("trace lacks %s", s)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
