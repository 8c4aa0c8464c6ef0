package wfp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

var (
	appAddr   = netip.MustParseAddrPort("192.0.2.10:50000")
	origDest  = netip.MustParseAddrPort("198.51.100.7:443")
	proxyAddr = netip.MustParseAddrPort("127.0.0.1:9000")
	proxy2    = netip.MustParseAddrPort("127.0.0.1:9001")
)

const (
	appPID    = 1000
	proxyPID  = 2000
	proxy2PID = 3000
)

// proxyCallout is a well-behaved connect-redirect callout in the style of
// WFPSampler: it queries the redirect state, leaves its own and previously
// own connections alone, and redirects connections to match to its proxy.
type proxyCallout struct {
	e        *Engine
	h        *RedirectHandle
	match    netip.AddrPort
	to       netip.AddrPort
	pid      uint32
	ctx      []byte
	noQuery  bool // skip the state query (loop-prone)
	reproxy  bool // redirect BY_OTHER connections too (default true)
	seen     []RedirectState
	hooks    hooks
	filter   *Filter
	lastCtx  *RedirectContext
	seenCtx  []byte
	redirect int
	giveBack bool // give FWPS_RIGHT_ACTION_WRITE back with the PERMIT (a soft permit, as WFPSampler does)
}

// hooks let rule tests break the contract at one point.
type hooks struct {
	skipApply    bool
	skipRelease  bool
	otherPointer bool
	changeLocal  bool // rewrite localAddressAndPort to localTo (default the unspecified 0.0.0.0:1)
	localTo      netip.AddrPort
	noPID        bool
	noHandle     bool
	pend         bool // pend and leave it (test completes later)
	pendInline   bool // pend and complete inside classifyFn
	ignoreRight  bool // acquire even without the write right
	pendedCH     *uint64
}

// tb is what the helpers need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newProxyCallout(t tb, e *Engine, name string, match, to netip.AddrPort, pid uint32) *proxyCallout {
	t.Helper()
	pc := &proxyCallout{e: e, match: match, to: to, pid: pid, reproxy: true, ctx: []byte("orig=" + match.String())}
	guid := GUID{1}
	if st := e.FwpsRedirectHandleCreate0(&guid, 0, &pc.h); st != nt.STATUS_SUCCESS {
		t.Fatalf("FwpsRedirectHandleCreate0: %v", st)
	}
	c, err := e.RegisterCallout(name, FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, pc.classify)
	if err != nil {
		t.Fatal(err)
	}
	// Its own sublayer (Filter Weight Assignment: one per vendor), below the
	// ones registered before it.
	sub := e.AddSublayer(name, uint16(0x9000-len(e.sublayers)))
	pc.filter, err = e.AddFilter(Filter{Name: name, Callout: c, Weight: uint64(100 - len(e.filters)), Sublayer: sub})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func (pc *proxyCallout) classify(c *Classify) {
	e := pc.e
	if c.Out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 && !pc.hooks.ignoreRight {
		return
	}
	if !pc.noQuery {
		var rec *RedirectRecords
		if c.Meta.Present(nt.FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) {
			rec = c.Meta.RedirectRecords
		}
		var ctx *RedirectContext
		st := e.FwpsQueryConnectionRedirectState0(rec, pc.h, &ctx)
		pc.seen = append(pc.seen, st)
		if ctx != nil {
			pc.seenCtx = ctx.Bytes()
		}
		if st == FWPS_CONNECTION_REDIRECTED_BY_SELF || st == FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
			c.Out.ActionType = FWP_ACTION_PERMIT
			return
		}
		if st == FWPS_CONNECTION_REDIRECTED_BY_OTHER && !pc.reproxy {
			return
		}
	}
	if c.RemoteAddress != pc.match {
		return
	}
	var ch uint64
	if e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
		return
	}
	if pc.hooks.pend || pc.hooks.pendInline {
		e.FwpsPendClassify0(ch, c.Filter.FilterId, 0, c.Out)
		if pc.hooks.pend {
			*pc.hooks.pendedCH = ch
			return
		}
	}
	var v *FWPS_CONNECT_REQUEST0
	if e.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
		v.RemoteAddressAndPort = pc.to
		if !pc.hooks.noPID {
			v.LocalRedirectTargetPID = pc.pid
		}
		if !pc.hooks.noHandle {
			v.LocalRedirectHandle = pc.h
		}
		if pc.hooks.changeLocal {
			v.LocalAddressAndPort = netip.MustParseAddrPort("0.0.0.0:1")
			if pc.hooks.localTo.IsValid() {
				v.LocalAddressAndPort = pc.hooks.localTo
			}
		}
		if pc.ctx != nil {
			pc.lastCtx = e.AllocateRedirectContext(pc.ctx)
			v.LocalRedirectContext = pc.lastCtx
			v.LocalRedirectContextSize = pc.lastCtx.Size()
		}
		switch {
		case pc.hooks.skipApply:
		case pc.hooks.otherPointer:
			w := *v
			e.FwpsApplyModifiedLayerData0(ch, &w, 0)
		default:
			e.FwpsApplyModifiedLayerData0(ch, v, 0)
		}
		pc.redirect++
	}
	if pc.hooks.pendInline {
		e.FwpsCompleteClassify0(ch, 0, &ClassifyOut{ActionType: FWP_ACTION_PERMIT})
	} else {
		c.Out.ActionType = FWP_ACTION_PERMIT
		if pc.giveBack {
			c.Out.Rights |= FWPS_RIGHT_ACTION_WRITE
		}
	}
	if !pc.hooks.skipRelease {
		e.FwpsReleaseClassifyHandle0(ch)
	}
}

func newWorld(t testing.TB) (*sim.World, *Engine) {
	t.Helper()
	w := sim.NewWorld(sim.Config{Seed: 7})
	return w, NewEngine(w)
}

func connect(e *Engine, sock string, pid uint32, remote netip.AddrPort, records []byte) ConnectResult {
	var res ConnectResult
	e.ClassifyConnect(&ConnectRequest{Socket: sock, ProcessID: pid, Local: appAddr, Remote: remote, Records: records}, &res)
	return res
}

func ruleIDs(w *sim.World) []string {
	var ids []string
	for _, v := range w.Violations() {
		ids = append(ids, v.Rule)
	}
	return ids
}

func hasRule(w *sim.World, id string) bool {
	for _, v := range w.Violations() {
		if v.Rule == id {
			return true
		}
	}
	return false
}

func violationText(w *sim.World) string {
	var b strings.Builder
	for _, v := range w.Violations() {
		b.WriteString(v.String())
		b.WriteByte('\n')
	}
	return b.String()
}
