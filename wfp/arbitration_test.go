package wfp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/sim"
)

// arbCall is one invocation an arbitration test saw: the callout and the
// write right it was given.
type arbCall struct {
	name  string
	write bool
}

// arbLab registers callouts at ALE_AUTH_CONNECT_V4 that return a fixed
// action and rights, each with a filter in the sublayer the test names.
type arbLab struct {
	t     *testing.T
	w     *sim.World
	e     *Engine
	subs  map[string]*Sublayer
	calls []arbCall
}

func newArbLab(t *testing.T) *arbLab {
	w, e := newWorld(t)
	return &arbLab{t: t, w: w, e: e, subs: map[string]*Sublayer{}}
}

func (l *arbLab) sublayer(name string, weight uint16) {
	l.subs[name] = l.e.AddSublayer(name, weight)
}

// callout adds a callout filter: action is what it returns, keep whether it
// leaves FWPS_RIGHT_ACTION_WRITE set (a soft decision) or clears it (hard).
func (l *arbLab) callout(name, sub string, weight uint64, action Action, keep bool) {
	c, err := l.e.RegisterCallout(name, FWPS_LAYER_ALE_AUTH_CONNECT_V4, func(c *Classify) {
		l.calls = append(l.calls, arbCall{name, c.Out.Rights&FWPS_RIGHT_ACTION_WRITE != 0})
		c.Out.ActionType = action
		if action == FWP_ACTION_PERMIT && c.Out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 {
			c.Out.ActionType = FWP_ACTION_CONTINUE // a polite callout: no right, no permit
		}
		if !keep {
			c.Out.Rights &^= FWPS_RIGHT_ACTION_WRITE
		}
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.e.AddFilter(Filter{Name: name, Callout: c, Weight: weight, Sublayer: l.subs[sub]}); err != nil {
		l.t.Fatal(err)
	}
}

// static adds a static PERMIT or BLOCK filter.
func (l *arbLab) static(name, sub string, weight uint64, action Action) {
	if _, err := l.e.AddFilter(Filter{Name: name, Layer: FWPS_LAYER_ALE_AUTH_CONNECT_V4, Action: action, Weight: weight, Sublayer: l.subs[sub]}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *arbLab) run() (blocked bool, calls string) {
	l.calls = nil
	res := connect(l.e, "app", appPID, origDest, nil)
	var b strings.Builder
	for _, c := range l.calls {
		fmt.Fprintf(&b, "%s(write=%t) ", c.name, c.write)
	}
	return res.Blocked, strings.TrimSpace(b.String())
}

// TestArbitration checks the filter-arbitration page
// (https://learn.microsoft.com/windows/win32/fwp/filter-arbitration): within a
// sublayer the first PERMIT or BLOCK ends evaluation, every sublayer is
// evaluated even after a block, and the results combine by the override
// rules (soft/hard permit and block by FWPS_RIGHT_ACTION_WRITE, the callout
// veto).
func TestArbitration(t *testing.T) {
	P, B, C := FWP_ACTION_PERMIT, FWP_ACTION_BLOCK, FWP_ACTION_CONTINUE
	cases := []struct {
		name      string
		setup     func(l *arbLab)
		blocked   bool
		calls     string
		violation string
	}{
		{"hard block in a high sublayer, permit in a lower one: blocked, the lower one still runs without the write right", func(l *arbLab) {
			l.callout("hi", "high", 1, B, false)
			l.callout("lo", "low", 1, P, true)
		}, true, "hi(write=true) lo(write=false)", ""},
		{"soft block in a high sublayer, permit in a lower one: the soft block is overridden", func(l *arbLab) {
			l.callout("hi", "high", 1, B, true)
			l.callout("lo", "low", 1, P, true)
		}, false, "hi(write=true) lo(write=true)", ""},
		{"soft permit in a high sublayer, block in a lower one: block overrides permit", func(l *arbLab) {
			l.callout("hi", "high", 1, P, true)
			l.callout("lo", "low", 1, B, true)
		}, true, "hi(write=true) lo(write=true)", ""},
		{"hard permit vs a static block in a lower sublayer: the hard permit stands", func(l *arbLab) {
			l.callout("hi", "high", 1, P, false)
			l.static("blk", "low", 1, B)
		}, false, "hi(write=true)", ""},
		{"hard permit vs a soft block by a static filter above a callout that continues: still permitted", func(l *arbLab) {
			l.callout("hi", "high", 1, P, false)
			l.static("blk", "low", 2, B)
			l.callout("lo", "low", 1, C, true) // skipped: the static block ended the sublayer
		}, false, "hi(write=true)", ""},
		{"veto: a callout's BLOCK without the write right overrides a hard permit", func(l *arbLab) {
			l.callout("hi", "high", 1, P, false)
			l.callout("veto", "low", 1, B, false)
		}, true, "hi(write=true) veto(write=false)", ""},
		{"a PERMIT without the write right is ignored and flagged", func(l *arbLab) {
			l.callout("hi", "high", 1, B, false)
			c, _ := l.e.RegisterCallout("rude", FWPS_LAYER_ALE_AUTH_CONNECT_V4, func(c *Classify) {
				l.calls = append(l.calls, arbCall{"rude", c.Out.Rights&FWPS_RIGHT_ACTION_WRITE != 0})
				c.Out.ActionType = FWP_ACTION_PERMIT
			})
			l.e.AddFilter(Filter{Name: "rude", Callout: c, Weight: 1, Sublayer: l.subs["low"]})
		}, true, "hi(write=true) rude(write=false)", RuleWriteWithoutRight},
		{"a CONTINUE-only sublayer decides nothing: every filter in it runs, the next sublayer decides", func(l *arbLab) {
			l.callout("c1", "high", 2, C, true)
			l.callout("c2", "high", 1, C, true)
			l.callout("lo", "low", 1, B, true)
		}, true, "c1(write=true) c2(write=true) lo(write=true)", ""},
		{"a CONTINUE-only layer is permitted", func(l *arbLab) {
			l.callout("c1", "high", 1, C, true)
			l.callout("c2", "low", 1, C, true)
		}, false, "c1(write=true) c2(write=true)", ""},
		{"within a sublayer the first PERMIT ends evaluation: the lower-weight filter is skipped", func(l *arbLab) {
			l.callout("first", "high", 2, P, true)
			l.callout("second", "high", 1, B, true)
		}, false, "first(write=true)", ""},
		{"within a sublayer the first BLOCK ends evaluation, the next sublayer still runs", func(l *arbLab) {
			l.callout("first", "high", 2, B, false)
			l.callout("second", "high", 1, P, true)
			l.callout("lo", "low", 1, C, true)
		}, true, "first(write=true) lo(write=false)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newArbLab(t)
			l.sublayer("high", 0x9000)
			l.sublayer("low", 0x1000)
			tc.setup(l)
			blocked, calls := l.run()
			if blocked != tc.blocked || calls != tc.calls {
				t.Errorf("blocked %t, calls %q; want blocked %t, calls %q", blocked, calls, tc.blocked, tc.calls)
			}
			var rules []string
			for _, v := range l.w.Violations() {
				rules = append(rules, v.Rule)
			}
			if got := strings.Join(rules, " "); got != tc.violation {
				t.Errorf("violations %q, want %q", got, tc.violation)
			}
		})
	}
}

// TestArbitrationVendorsChained: three redirecting vendors, each in its own
// sublayer (the Filter Weight Assignment page's advice), each giving the
// write right back with its PERMIT (a soft permit): every one is invoked with
// the write right, the last redirect wins, and a proxied connect carrying the
// records reaches the next vendor's proxy, then the destination.
func TestArbitrationVendorsChained(t *testing.T) {
	w, e := newWorld(t)
	a := newProxyCallout(t, e, "vendorA", origDest, proxyAddr, proxyPID)
	b := newProxyCallout(t, e, "vendorB", origDest, proxy2, proxy2PID)
	a.giveBack, b.giveBack = true, true
	if a.filter.Sublayer == b.filter.Sublayer || a.filter.Sublayer.Weight <= b.filter.Sublayer.Weight {
		t.Fatalf("vendors share a sublayer or are out of order: %+v %+v", a.filter.Sublayer, b.filter.Sublayer)
	}
	res := connect(e, "app", appPID, origDest, nil)
	if res.Blocked || !res.Redirected || res.Remote != proxy2 || res.TargetPID != proxy2PID {
		t.Fatalf("app's connect: %+v, want redirected to vendorB's proxy (the last redirect wins)", res)
	}
	if a.redirect != 1 || b.redirect != 1 {
		t.Fatalf("redirects: vendorA %d, vendorB %d; each vendor's sublayer is evaluated", a.redirect, b.redirect)
	}
	// vendorB's proxy connects onward with the records: vendorB leaves it
	// (REDIRECTED_BY_SELF), vendorA redirects it to its proxy.
	res2 := connect(e, "proxyB", proxy2PID, origDest, res.Records)
	if res2.Blocked || res2.Remote != proxyAddr {
		t.Fatalf("vendorB's proxy's connect: %+v, want vendorA's proxy", res2)
	}
	res3 := connect(e, "proxyA", proxyPID, origDest, res2.Records)
	if res3.Blocked || res3.Redirected || res3.Remote != origDest {
		t.Fatalf("vendorA's proxy's connect: %+v, want the destination", res3)
	}
	// Without the write right given back (a hard permit), vendorB's sublayer
	// still runs but vendorB may not redirect: vendorA's redirect stands.
	a.giveBack = false
	res4 := connect(e, "app2", appPID, origDest, nil)
	if res4.Blocked || res4.Remote != proxyAddr || b.redirect != 1 {
		t.Fatalf("app's connect under vendorA's hard permit: %+v (vendorB redirects %d), want vendorA's proxy", res4, b.redirect)
	}
	destroyAll(e)
	w.Close()
}

// TestSourceRewrite: a callout that rewrites localAddressAndPort at
// ALE_CONNECT_REDIRECT (what split-tunnel drivers ship:
// mullvad/win-split-tunnel src/firewall/callouts.cpp RewriteConnection
// writes the address only) moves the connection's source; the auth layer
// sees the new source; a new port follows P-SRCPORT; an unspecified address
// is WFP-LOCAL-ADDRESS-CHANGED and discarded.
func TestSourceRewrite(t *testing.T) {
	lan := netip.MustParseAddrPort("192.168.1.20:50000")
	for _, tc := range []struct {
		name, policy string
		to           netip.AddrPort
		blocked      bool
		local        netip.AddrPort
		violation    string
	}{
		{"address only", "", netip.MustParseAddrPort("192.168.1.20:50000"), false, lan, ""},
		{"address and port, P-SRCPORT=kept", "kept", netip.MustParseAddrPort("192.168.1.20:1234"), false, lan, ""},
		{"address and port, P-SRCPORT=blocked", "blocked", netip.MustParseAddrPort("192.168.1.20:1234"), true, netip.AddrPort{}, ""},
		{"unspecified address", "", netip.MustParseAddrPort("0.0.0.0:50000"), false, netip.AddrPort{}, RuleLocalAddressChanged},
		{"another address family", "", netip.MustParseAddrPort("[fe80::1]:50000"), false, netip.AddrPort{}, RuleLocalAddressChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, e := newWorld(t)
			if tc.policy != "" {
				w.SetPolicy(PolicySourcePort, tc.policy)
			}
			// A split-tunnel callout: rewrites the source, does not redirect.
			pc := newProxyCallout(t, e, "split", origDest, origDest, 0)
			pc.hooks.changeLocal, pc.hooks.localTo, pc.hooks.noPID, pc.hooks.noHandle = true, tc.to, true, true
			var auth netip.AddrPort
			au, _ := e.RegisterCallout("auth", FWPS_LAYER_ALE_AUTH_CONNECT_V4, func(c *Classify) { auth = c.LocalAddress })
			e.AddFilter(Filter{Name: "auth", Callout: au})
			res := connect(e, "app", appPID, origDest, nil)
			if res.Blocked != tc.blocked || res.Local != tc.local {
				t.Fatalf("result %+v; want blocked %t, Local %v", res, tc.blocked, tc.local)
			}
			if !tc.blocked && tc.local.IsValid() && auth != tc.local {
				t.Errorf("ALE_AUTH_CONNECT saw local %v, want the rewritten %v", auth, tc.local)
			}
			if !tc.blocked && res.Redirected {
				t.Errorf("a source rewrite is not a redirect: %+v", res)
			}
			var rules []string
			for _, v := range w.Violations() {
				rules = append(rules, v.Rule)
			}
			if got := strings.Join(rules, " "); got != tc.violation {
				t.Errorf("violations %q, want %q", got, tc.violation)
			}
			destroyAll(e)
		})
	}
}
