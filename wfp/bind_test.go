package wfp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

func bindFilter(t *testing.T, e *Engine, layer Layer, fn ClassifyFn) *Filter {
	t.Helper()
	c, err := e.RegisterCallout("bind", layer, fn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.AddFilter(Filter{Name: "bind", Callout: c})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func classifyBind(e *Engine, local string) BindResult {
	var res BindResult
	e.ClassifyBind(&BindRequest{Socket: "sock1", ProcessID: 600, Local: netip.MustParseAddrPort(local)}, &res)
	return res
}

func TestClassifyBindNoFilters(t *testing.T) {
	_, e := newWorld(t)
	bindFilter(t, e, FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *Classify) { t.Fatal("connect callout called for a bind") })
	if res := classifyBind(e, "10.0.0.1:80"); res.Blocked || res.Local != netip.MustParseAddrPort("10.0.0.1:80") {
		t.Fatalf("got %+v", res)
	}
}

func TestClassifyBindRewrite(t *testing.T) {
	var tr bytes.Buffer
	w := sim.NewWorld(sim.Config{Seed: 7, Trace: &tr})
	e := NewEngine(w)
	var seen []Layer
	for _, l := range []Layer{FWPS_LAYER_ALE_BIND_REDIRECT_V4, FWPS_LAYER_ALE_BIND_REDIRECT_V6} {
		bindFilter(t, e, l, func(c *Classify) {
			seen = append(seen, c.Layer)
			if c.RemoteAddress.IsValid() || c.Meta.ProcessId != 600 || c.Protocol != uint8(nt.IPPROTO_TCP) {
				t.Errorf("incoming values %+v", c)
			}
			var ch uint64
			e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch)
			// The connect-typed accessor has no data at a bind layer.
			var cv *FWPS_CONNECT_REQUEST0
			if st := e.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &cv, c.Out); st != nt.STATUS_FWP_INCOMPATIBLE_LAYER {
				t.Errorf("connect-typed acquire at %v: %v", c.Layer, st)
			}
			var v *FWPS_BIND_REQUEST0
			if st := e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out); st != nt.STATUS_SUCCESS {
				t.Fatalf("acquire: %v", st)
			}
			if c.Out.ActionType != FWP_ACTION_BLOCK || c.Out.Rights&FWPS_RIGHT_ACTION_WRITE != 0 || v.LocalAddressAndPort != c.LocalAddress || v.PreviousVersion != nil {
				t.Errorf("after acquire: out %+v data %+v", c.Out, v)
			}
			v.LocalAddressAndPort = netip.AddrPortFrom(c.LocalAddress.Addr(), 4242)
			e.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
			c.Out.ActionType = FWP_ACTION_PERMIT
			e.FwpsReleaseClassifyHandle0(ch)
		})
	}
	if res := classifyBind(e, "10.0.0.1:80"); res.Blocked || res.Local != netip.MustParseAddrPort("10.0.0.1:4242") {
		t.Fatalf("v4: got %+v", res)
	}
	if res := classifyBind(e, "[::1]:0"); res.Blocked || res.Local != netip.MustParseAddrPort("[::1]:4242") {
		t.Fatalf("v6: got %+v", res)
	}
	if len(seen) != 2 || seen[0] != FWPS_LAYER_ALE_BIND_REDIRECT_V4 || seen[1] != FWPS_LAYER_ALE_BIND_REDIRECT_V6 {
		t.Fatalf("layers %v", seen)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if v := w.Violations(); len(v) != 0 {
		t.Fatalf("violations: %s", violationText(w))
	}
	for _, want := range []string{`"layer":"FWPS_LAYER_ALE_BIND_REDIRECT_V4"`, `"layer":"FWPS_LAYER_ALE_BIND_REDIRECT_V6"`, `"what":"classify_return"`} {
		if !strings.Contains(tr.String(), want) {
			t.Errorf("trace lacks %s", want)
		}
	}
}

func TestClassifyBindBlock(t *testing.T) {
	_, e := newWorld(t)
	bindFilter(t, e, FWPS_LAYER_ALE_BIND_REDIRECT_V4, func(c *Classify) {
		c.Out.ActionType = FWP_ACTION_BLOCK
		c.Out.Rights &^= FWPS_RIGHT_ACTION_WRITE
	})
	if res := classifyBind(e, "10.0.0.1:80"); !res.Blocked {
		t.Fatalf("got %+v", res)
	}
	if res := classifyBind(e, "[::1]:80"); res.Blocked {
		t.Fatalf("v6 bind blocked by a v4 filter: %+v", res)
	}
}

func TestClassifyBindPairing(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(e *Engine, c *Classify, ch uint64)
		rule string
	}{
		{"acquire without apply", func(e *Engine, c *Classify, ch uint64) {
			var v *FWPS_BIND_REQUEST0
			e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out)
			v.LocalAddressAndPort = netip.MustParseAddrPort("10.0.0.1:1")
		}, RuleAcquireWithoutApply},
		{"apply another pointer", func(e *Engine, c *Classify, ch uint64) {
			var v *FWPS_BIND_REQUEST0
			e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out)
			cp := *v
			cp.LocalAddressAndPort = netip.MustParseAddrPort("10.0.0.1:1")
			e.FwpsApplyModifiedLayerData0Bind(ch, &cp, 0)
			e.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
		}, RuleApplyOtherPointer},
		{"apply with the connect-typed function", func(e *Engine, c *Classify, ch uint64) {
			var v *FWPS_BIND_REQUEST0
			e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out)
			e.FwpsApplyModifiedLayerData0(ch, &FWPS_CONNECT_REQUEST0{}, 0)
			e.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
		}, RuleApplyOtherPointer},
		{"apply without acquire", func(e *Engine, c *Classify, ch uint64) {
			e.FwpsApplyModifiedLayerData0Bind(ch, &FWPS_BIND_REQUEST0{}, 0)
		}, RuleApplyOtherPointer},
		{"acquire twice", func(e *Engine, c *Classify, ch uint64) {
			var v *FWPS_BIND_REQUEST0
			e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out)
			e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out)
			e.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
		}, RuleAcquireWithoutApply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, e := newWorld(t)
			bindFilter(t, e, FWPS_LAYER_ALE_BIND_REDIRECT_V4, func(c *Classify) {
				var ch uint64
				e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch)
				tc.fn(e, c, ch)
				c.Out.ActionType = FWP_ACTION_PERMIT
				e.FwpsReleaseClassifyHandle0(ch)
			})
			res := classifyBind(e, "10.0.0.1:80")
			if res.Local != netip.MustParseAddrPort("10.0.0.1:80") {
				t.Errorf("an unpaired modification took effect: %+v", res)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !hasRule(w, tc.rule) {
				t.Fatalf("want %s, got:\n%s", tc.rule, violationText(w))
			}
		})
	}
}

func TestAcquireBindAtConnectLayer(t *testing.T) {
	_, e := newWorld(t)
	called := false
	bindFilter(t, e, FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *Classify) {
		called = true
		var ch uint64
		e.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch)
		var v *FWPS_BIND_REQUEST0
		if st := e.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out); st != nt.STATUS_FWP_INCOMPATIBLE_LAYER {
			t.Errorf("bind-typed acquire at the connect layer: %v", st)
		}
		e.FwpsReleaseClassifyHandle0(ch)
	})
	connect(e, "sock1", 600, netip.MustParseAddrPort("198.51.100.7:443"), nil)
	if !called {
		t.Fatal("callout not called")
	}
}
