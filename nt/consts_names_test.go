package nt

import (
	"sort"
	"testing"
)

func TestConstantNames(t *testing.T) {
	names := ConstantNames()
	if len(names) == 0 || !sort.StringsAreSorted(names) {
		t.Fatalf("ConstantNames() = %d names, sorted=%t; want a non-empty sorted list", len(names), sort.StringsAreSorted(names))
	}
	for _, n := range names {
		if _, ok := LookupConstant(n); !ok {
			t.Errorf("LookupConstant(%q) = false for a name ConstantNames lists", n)
		}
	}
}
