package trace

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// Conversion of callout drivers. No scenario command replays a recorded
// classifyFn, but most callouts a trace shows do one fixed thing: redirect
// connects to their proxy (FwpsApplyModifiedLayerData0 with a
// connectRequest), rewrite binds (a bindRequest), or permit or block. For
// such a callout the converter declares a scenario callout that does the
// same (callout/filter commands), just before the event that causes its
// first classify; its filter matches the one destination the trace shows
// it classifying, if there is one. The trace's own FWPS calls stay comments.

// inferredCallout is what the trace shows one callout doing.
type inferredCallout struct {
	name     string
	layer    string
	first    int // index of the event that causes its first classify
	remotes  map[netip.AddrPort]bool
	queried  bool   // it called FwpsQueryConnectionRedirectState0
	apply    *Event // its first FwpsApplyModifiedLayerData0 with connectRequest or bindRequest
	action   string // its first classify_return's actionType
	varied   bool   // it applied different data on different classifies
	declared bool
}

// inferCallouts scans the trace for callouts and what they did.
func inferCallouts(evs []*Event) map[int][]*inferredCallout {
	byName := map[string]*inferredCallout{}
	var order []*inferredCallout
	var cur *inferredCallout
	cause := -1
	for k, e := range evs {
		switch {
		case e.Kind == EvEnv && e.What == "classify":
			n, _ := e.Arg("callout")
			ic := byName[n.Name]
			if ic == nil {
				l, _ := e.Arg("layer")
				ic = &inferredCallout{name: n.Name, layer: strings.TrimPrefix(l.Name, "FWPS_LAYER_"), first: cause, remotes: map[netip.AddrPort]bool{}}
				byName[n.Name] = ic
				order = append(order, ic)
			}
			if v, ok := e.Arg("remote"); ok && v.Kind == Addr {
				ic.remotes[unmapAP(v.AP)] = true
			}
			cur = ic
		case e.Kind == EvEnv && e.What == "classify_return":
			if cur != nil && cur.action == "" {
				if v, ok := e.Arg("actionType"); ok {
					cur.action = v.Name
				}
			}
			cur = nil
		case e.Kind == EvCall && cur != nil && e.Fn == "FwpsQueryConnectionRedirectState0":
			cur.queried = true
		case e.Kind == EvCall && cur != nil && e.Fn == "FwpsApplyModifiedLayerData0":
			_, cr := e.Arg("connectRequest")
			_, br := e.Arg("bindRequest")
			if !cr && !br {
				break
			}
			if cur.apply == nil {
				cur.apply = e
			} else if applyText(cur.apply) != applyText(e) {
				cur.varied = true
			}
		case e.Kind == EvCall && e.spec != nil && e.spec.group == "wsk", e.Kind == EvEnv:
			if cur == nil {
				cause = k
			}
		}
	}
	out := map[int][]*inferredCallout{}
	for _, ic := range order {
		if ic.first >= 0 {
			out[ic.first] = append(out[ic.first], ic)
		}
	}
	return out
}

func applyText(e *Event) string {
	var b strings.Builder
	for _, n := range []string{"connectRequest", "bindRequest"} {
		if v, ok := e.Arg(n); ok {
			b.WriteString(n + "=" + v.String())
		}
	}
	return b.String()
}

// declareCallouts writes the callout and filter commands for the callouts
// whose first classify the event at index k causes.
func (c *converter) declareCallouts(k int) {
	for _, ic := range c.callouts[k] {
		if ic.declared {
			continue
		}
		ic.declared = true
		args, how := ic.scenarioArgs(c)
		if args == "" {
			c.comment("callout %s: %s; its classifies stay comments", ic.name, how)
			continue
		}
		c.comment("callout %s, as the trace shows it: %s", ic.name, how)
		c.cmd("callout name=%s layer=%s %s", c.bind(ic.name), ic.layer, args)
		f := fmt.Sprintf("filter name=F_%s callout=%s weight=%d", ic.name, c.ref(ic.name), 1000-len(c.used))
		if len(ic.remotes) == 1 {
			for r := range ic.remotes {
				f += " remote=" + r.String()
			}
		}
		c.cmd("%s", f)
	}
}

// scenarioArgs returns the callout command's arguments that reproduce what
// the trace shows the callout doing, and a description; "" when the
// callout does something no fixed behaviour reproduces.
func (ic *inferredCallout) scenarioArgs(c *converter) (string, string) {
	if ic.varied {
		return "", "it applied different layer data on different classifies"
	}
	if e := ic.apply; e != nil {
		if v, ok := e.Arg("bindRequest"); ok {
			a, _ := v.Field("localAddressAndPort")
			if a.Kind != Addr {
				return "", "its bindRequest has no localAddressAndPort"
			}
			return "behaviour=redirect local=" + a.AP.String(), "rewrites binds to " + a.AP.String()
		}
		v, _ := e.Arg("connectRequest")
		to, _ := v.Field("remoteAddressAndPort")
		if to.Kind != Addr {
			return "", "its connectRequest has no remoteAddressAndPort"
		}
		parts := []string{"behaviour=redirect", "to=" + to.AP.String()}
		if p, ok := v.Field("localRedirectTargetPID"); ok && p.Kind == Int {
			parts = append(parts, fmt.Sprintf("target-pid=%d", p.U))
		}
		if h, ok := v.Field("localRedirectHandle"); ok && h.Kind == Name {
			parts = append(parts, "handle="+c.ref(h.Name))
		} else {
			parts = append(parts, "set-handle=false")
		}
		if x, ok := v.Field("localRedirectContext"); ok && x.Kind == Buf && len(x.Buf.Data) > 0 {
			parts = append(parts, "context="+hex.EncodeToString(x.Buf.Data))
		}
		if l, ok := v.Field("localAddressAndPort"); ok && l.Kind == Addr {
			parts = append(parts, "local="+l.AP.String())
		}
		if !ic.queried {
			parts = append(parts, "avoid-loop=off")
		}
		return strings.Join(parts, " "), "redirects to " + to.AP.String()
	}
	switch ic.action {
	case "FWP_ACTION_PERMIT":
		return "behaviour=permit", "permits"
	case "FWP_ACTION_BLOCK":
		return "behaviour=block", "blocks"
	}
	return "", "no fixed action"
}
