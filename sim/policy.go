package sim

import (
	"fmt"
	"sort"
	"strings"
	"unsafe"
)

// Policy is a point the documentation leaves open, answered by a named, switchable
// default (the semantics reference, section 11). Each option has a name; the
// model asks World.Policy for the option in force.
type Policy struct {
	ID       string   // e.g. "P-OVF"
	Question string   // what the documentation leaves open
	Options  []string // option names; index = value returned by World.Policy
	Default  int      // index of the default option
	Reason   string   // why the default was chosen
	Source   string   // the document(s) the point comes from
}

var (
	policies   = map[string]Policy{}
	policyIdx  = map[string]int32{} // ID -> index in policyList
	policyList []*Policy            // in registration order
)

// RegisterPolicy adds a policy; packages call it from init. Duplicates and
// malformed policies panic at init time.
func RegisterPolicy(p Policy) {
	if p.ID == "" || p.Question == "" || len(p.Options) < 2 || p.Default < 0 || p.Default >= len(p.Options) || p.Reason == "" || p.Source == "" {
		panic("sim: internal: malformed policy " + p.ID)
	}
	if _, dup := policies[p.ID]; dup {
		panic("sim: internal: duplicate policy " + p.ID)
	}
	policies[p.ID] = p
	policyIdx[p.ID] = int32(len(policyList))
	pp := p
	policyList = append(policyList, &pp)
}

// Policies returns every registered policy sorted by ID.
func Policies() []Policy {
	out := make([]Policy, 0, len(policies))
	for _, p := range policies {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupPolicy returns the policy with the given ID.
func LookupPolicy(id string) (Policy, bool) {
	p, ok := policies[id]
	return p, ok
}

// Policy returns the index of the option in force for policy id. It is on the
// model's hot path (a SET reads several policies), so the ID's index comes from
// a small cache keyed by the string's address and verified by content.
func (w *World) Policy(id string) int {
	k := w.policyIndex(id)
	v := policyList[k].Default
	if int(k) < len(w.polVals) && w.polVals[k] >= 0 {
		v = int(w.polVals[k])
	}
	if w.cfg.PolicyObserver != nil {
		w.cfg.PolicyObserver(id, v)
	}
	return v
}

// PolicyName returns the name of the option in force for policy id.
func (w *World) PolicyName(id string) string {
	return policyList[w.policyIndex(id)].Options[w.Policy(id)]
}

type policyCacheEntry struct {
	p *byte // unsafe.StringData of an ID seen before
	k int32 // its index in policyList
}

func (w *World) policyIndex(id string) int32 {
	p := unsafe.StringData(id)
	e := &w.polCache[(uintptr(unsafe.Pointer(p))>>4)%uintptr(len(w.polCache))]
	if e.p == p && p != nil {
		if k := e.k; policyList[k].ID == id { // same address: compares no bytes when unchanged
			return k
		}
	}
	k, ok := policyIdx[id]
	if !ok {
		panic("sim: internal: unregistered policy " + id)
	}
	e.p, e.k = p, k
	return k
}

// SetPolicy selects option opt (by name) for policy id.
func (w *World) SetPolicy(id, opt string) error {
	p, ok := policies[id]
	if !ok {
		return fmt.Errorf("sim.SetPolicy: unknown policy %q", id)
	}
	for i, o := range p.Options {
		if o == opt {
			k := int(policyIdx[id])
			for len(w.polVals) <= k {
				w.polVals = append(w.polVals, -1)
			}
			w.polVals[k] = int16(i)
			return nil
		}
	}
	return fmt.Errorf("sim.SetPolicy: policy %s has no option %q (options: %s)", id, opt, strings.Join(p.Options, ", "))
}
