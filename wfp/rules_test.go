package wfp

import (
	"slices"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// ruleCase drives one rule: bad breaks it, good is the nearest correct use.
type ruleCase struct {
	bad, good func(t *testing.T, w *sim.World, e *Engine)
}

func destroyAll(e *Engine) {
	for _, h := range e.handles {
		if !h.destroyed {
			e.FwpsRedirectHandleDestroy0(h)
		}
	}
}

// proxied runs app → callout → proxy, and returns the accepted flow's result.
func proxied(t *testing.T, e *Engine, pc *proxyCallout) ConnectResult {
	t.Helper()
	res := connect(e, "app", appPID, origDest, nil)
	if !res.Redirected || res.Remote != pc.to {
		t.Fatalf("app connect not redirected: %+v", res)
	}
	return res
}

var ruleCases = map[string]ruleCase{
	RuleAcquireWithoutApply: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.skipApply = true
			if res := connect(e, "app", appPID, origDest, nil); res.Redirected {
				t.Errorf("unapplied modification took effect: %+v", res)
			}
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleApplyOtherPointer: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.otherPointer = true
			connect(e, "app", appPID, origDest, nil)
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleClassifyHandleLeak: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.skipRelease = true
			proxied(t, e, pc)
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleRedirectHandleLeak: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			var h *RedirectHandle
			e.FwpsRedirectHandleCreate0(&GUID{}, 0, &h)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			var h *RedirectHandle
			e.FwpsRedirectHandleCreate0(&GUID{}, 0, &h)
			e.FwpsRedirectHandleDestroy0(h)
		},
	},
	RuleWriteWithoutRight: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc2 := newProxyCallout(t, e, "c2", origDest, proxy2, proxy2PID)
			pc2.hooks.ignoreRight = true
			if res := connect(e, "app", appPID, origDest, nil); res.Remote != proxyAddr {
				t.Errorf("the second callout overrode the first without the write right: %+v", res)
			}
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			newProxyCallout(t, e, "c2", origDest, proxy2, proxy2PID)
			if res := connect(e, "app", appPID, origDest, nil); res.Remote != proxyAddr {
				t.Errorf("got %+v", res)
			}
			destroyAll(e)
		},
	},
	RuleLocalAddressChanged: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.changeLocal = true
			proxied(t, e, pc)
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleContextAfterTransfer: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			res := proxied(t, e, pc)
			if !pc.lastCtx.Owned() {
				t.Error("WFP does not own the applied context")
			}
			pc.lastCtx.Free() // WFP owns it: double free
			e.EndFlow(res.Flow)
			_ = pc.lastCtx.Bytes() // freed by WFP
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			c := e.AllocateRedirectContext([]byte("x"))
			c.Write([]byte("y"))
			if string(c.Bytes()) != "y" {
				t.Error("context write lost")
			}
			c.Free()
		},
	},
	RuleProxyLoop: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			proxied(t, e, pc)
			// The proxy forgets SIO_SET: its connect comes back to itself,
			// again and again, until the engine's hop bound blocks it.
			var res ConnectResult
			for i := 0; i < MaxHops+2; i++ {
				res = connect(e, "proxyout", proxyPID, origDest, nil)
				if res.Blocked {
					break
				}
			}
			if !res.Blocked {
				t.Errorf("the loop was not bounded: %+v", res)
			}
			n := 0
			for _, v := range w.Violations() {
				if v.Rule == RuleProxyLoop {
					n++
				}
			}
			if n != 1 {
				t.Errorf("WFP-PROXY-LOOP reported %d times, want once per chain", n)
			}
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			in := proxied(t, e, pc)
			if st := e.CheckRecords(in.Records, proxyPID); st != nt.STATUS_SUCCESS {
				t.Fatalf("CheckRecords: %v", st)
			}
			out := connect(e, "proxyout", proxyPID, origDest, in.Records)
			if out.Redirected || out.Remote != origDest {
				t.Errorf("proxy connect with records redirected: %+v", out)
			}
			if got := pc.seen[len(pc.seen)-1]; got != FWPS_CONNECTION_REDIRECTED_BY_SELF {
				t.Errorf("state %v, want BY_SELF", got)
			}
			if string(pc.seenCtx) != string(pc.ctx) {
				t.Errorf("context %q, want %q", pc.seenCtx, pc.ctx)
			}
			destroyAll(e)
		},
	},
	RuleRedirectAgain: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			in := proxied(t, e, pc)
			pc.noQuery = true
			connect(e, "proxyout", proxyPID, origDest, in.Records)
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			in := proxied(t, e, pc)
			connect(e, "proxyout", proxyPID, origDest, in.Records)
			destroyAll(e)
		},
	},
	RuleBadClassifyHandle: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			e.FwpsReleaseClassifyHandle0(42)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleBadRedirectHandle: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			var h *RedirectHandle
			e.FwpsRedirectHandleCreate0(&GUID{}, 0, &h)
			e.FwpsRedirectHandleDestroy0(h)
			e.FwpsRedirectHandleDestroy0(h)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			var h *RedirectHandle
			e.FwpsRedirectHandleCreate0(&GUID{}, 0, &h)
			e.FwpsRedirectHandleDestroy0(h)
		},
	},
	RuleNullRecords: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			if err := w.SetPolicy(PolicyNullRecords, "violation"); err != nil {
				t.Fatal(err)
			}
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			proxied(t, e, pc)
			if pc.seen[0] != FWPS_CONNECTION_NOT_REDIRECTED {
				t.Errorf("NULL records: %v", pc.seen[0])
			}
			destroyAll(e)
		},
	},
	RuleCompleteWithoutPend: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			c, _ := e.RegisterCallout("c", FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *Classify) {
				var ch uint64
				c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch)
				c.Engine.FwpsCompleteClassify0(ch, 0, c.Out)
				c.Engine.FwpsReleaseClassifyHandle0(ch)
			})
			e.AddFilter(Filter{Name: "c", Callout: c})
			connect(e, "app", appPID, origDest, nil)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			pc.hooks.pendInline = true
			proxied(t, e, pc)
			destroyAll(e)
		},
	},
	RuleReleaseWhilePended: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			var ch uint64
			pc.hooks.pend, pc.hooks.pendedCH = true, &ch
			done := e.ClassifyConnectAsync(&ConnectRequest{Socket: "app", ProcessID: appPID, Remote: origDest}, func(*ConnectResult) {})
			if done {
				t.Fatal("pended classify finished inline")
			}
			e.FwpsReleaseClassifyHandle0(ch)
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			var ch uint64
			pc.hooks.pend, pc.hooks.pendedCH = true, &ch
			var got *ConnectResult
			e.ClassifyConnectAsync(&ConnectRequest{Socket: "app", ProcessID: appPID, Remote: origDest}, func(r *ConnectResult) { got = r })
			var v *FWPS_CONNECT_REQUEST0
			out := ClassifyOut{Rights: FWPS_RIGHT_ACTION_WRITE}
			if st := e.FwpsAcquireWritableLayerDataPointer0(ch, pc.filter.FilterId, 0, &v, &out); st != nt.STATUS_SUCCESS {
				t.Fatal(st)
			}
			v.RemoteAddressAndPort, v.LocalRedirectTargetPID, v.LocalRedirectHandle = proxyAddr, proxyPID, pc.h
			e.FwpsApplyModifiedLayerData0(ch, v, 0)
			e.FwpsCompleteClassify0(ch, 0, &ClassifyOut{ActionType: FWP_ACTION_PERMIT, Rights: FWPS_RIGHT_ACTION_WRITE})
			e.FwpsReleaseClassifyHandle0(ch)
			if got == nil || !got.Redirected || got.Remote != proxyAddr {
				t.Errorf("pended redirect: %+v", got)
			}
			destroyAll(e)
		},
	},
	RuleRedirectHandleInUse: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			var ch uint64
			pc.hooks.pend, pc.hooks.pendedCH = true, &ch
			e.ClassifyConnectAsync(&ConnectRequest{Socket: "app", ProcessID: appPID, Remote: origDest}, func(*ConnectResult) {})
			var v *FWPS_CONNECT_REQUEST0
			out := ClassifyOut{Rights: FWPS_RIGHT_ACTION_WRITE}
			e.FwpsAcquireWritableLayerDataPointer0(ch, pc.filter.FilterId, 0, &v, &out)
			v.LocalRedirectHandle = pc.h
			e.FwpsRedirectHandleDestroy0(pc.h)
			e.FwpsApplyModifiedLayerData0(ch, v, 0)
			e.FwpsCompleteClassify0(ch, 0, &ClassifyOut{ActionType: FWP_ACTION_PERMIT})
			e.FwpsReleaseClassifyHandle0(ch)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			proxied(t, e, newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID))
			destroyAll(e)
		},
	},
	RuleFlowUnfinished: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			proxied(t, e, pc)
			// One onward connect without the records: redirected back to
			// the proxy, which then gives up. The application's connection
			// never reaches origDest and was never blocked.
			if out := connect(e, "proxyout", proxyPID, origDest, nil); !out.Redirected {
				t.Fatalf("records-less proxy connect not redirected: %+v", out)
			}
			destroyAll(e)
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			pc := newProxyCallout(t, e, "c1", origDest, proxyAddr, proxyPID)
			// A chain the proxy never carries on is not the property's
			// business (the proxy may answer itself) ...
			proxied(t, e, pc)
			// ... a chain that is carried on and reaches the destination,
			w.SetAction(RuleProxyLoop, sim.Off)
			in := proxied(t, e, pc)
			if out := connect(e, "proxyout", proxyPID, origDest, in.Records); out.Redirected {
				t.Fatalf("proxy connect with records redirected: %+v", out)
			}
			// ... and a loop bounded by MaxHops (blocked) satisfy it.
			proxied(t, e, pc)
			for i := 0; i <= MaxHops; i++ {
				if connect(e, "proxyout", proxyPID, origDest, nil).Blocked {
					break
				}
			}
			destroyAll(e)
		},
	},
	RuleContextOwnerFreeTwice: {
		bad: func(t *testing.T, w *sim.World, e *Engine) {
			c := e.AllocateRedirectContext([]byte("x"))
			c.Free()
			c.Free()
		},
		good: func(t *testing.T, w *sim.World, e *Engine) {
			e.AllocateRedirectContext([]byte("x")).Free()
		},
	},
}

// TestRules shows each WFP- rule: the bad use reports it, the good one
// reports nothing.
func TestRules(t *testing.T) {
	for _, r := range sim.Rules() {
		if len(r.ID) < 4 || r.ID[:4] != "WFP-" {
			continue
		}
		if _, ok := ruleCases[r.ID]; !ok {
			t.Errorf("rule %s has no test case", r.ID)
		}
		if r.Test != "wfp.TestRules/"+r.ID {
			t.Errorf("rule %s names test %q", r.ID, r.Test)
		}
	}
	for id, rc := range ruleCases {
		t.Run(id, func(t *testing.T) {
			w, e := newWorld(t)
			rc.bad(t, w, e)
			w.Close()
			if !hasRule(w, id) {
				t.Errorf("bad use did not report %s; got:\n%s", id, violationText(w))
			}
			w2, e2 := newWorld(t)
			rc.good(t, w2, e2)
			w2.Close()
			if w2.ViolationCount() != 0 {
				t.Errorf("good use reported:\n%s", violationText(w2))
			}
		})
	}
}

func TestIRQL(t *testing.T) {
	w, e := newWorld(t)
	w.SetIRQL(nt.DISPATCH_LEVEL)
	var h *RedirectHandle
	e.FwpsRedirectHandleCreate0(&GUID{}, 0, &h)
	e.FwpsQueryConnectionRedirectState0(nil, h, nil) // <= DISPATCH: fine
	e.FwpsRedirectHandleDestroy0(h)
	w.SetIRQL(nt.PASSIVE_LEVEL)
	w.Close()
	if got := ruleIDs(w); !slices.Equal(got, []string{sim.RuleIRQLAboveMax, sim.RuleIRQLAboveMax}) {
		t.Errorf("violations %v, want two IRQL-ABOVE-MAX (create and destroy)", got)
	}
}
