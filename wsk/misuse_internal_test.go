package wsk

import (
	"sync"
	"testing"
)

// TestAccElevationConcurrent is the regression test for a data race: the index
// of P-ACC's elevation option was a lazily set global, so Providers in
// different goroutines raced on it (and one could read a half-set value and
// skip the non-elevated-owner check). Run under -race (make race).
func TestAccElevationConcurrent(t *testing.T) {
	want := accElevation()
	var wg sync.WaitGroup
	got := make([]int, 8)
	for k := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[k] = accElevation()
		}()
	}
	wg.Wait()
	for k, g := range got {
		if g != want {
			t.Errorf("goroutine %d: accElevation() = %d, want %d", k, g, want)
		}
	}
}
