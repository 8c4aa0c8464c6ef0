package sim

import (
	"fmt"
	"sort"
)

// Chooser answers choice points. Choose returns a value in [0, n) for the
// choice point named label; n is at least 1. Implementations must be
// deterministic functions of their own state and the sequence of calls.
type Chooser interface {
	Choose(label string, n int) int
}

// PRNG is the default Chooser: a splitmix64 generator seeded once. Its output
// sequence is fixed by this package (it does not depend on math/rand), so a seed
// reproduces the same run on every Go version.
type PRNG struct{ state uint64 }

// NewPRNG returns a PRNG seeded with seed.
func NewPRNG(seed uint64) *PRNG { return &PRNG{state: seed} }

// Uint64 returns the next 64 pseudo-random bits.
func (p *PRNG) Uint64() uint64 {
	p.state += 0x9E3779B97F4A7C15
	z := p.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Choose implements Chooser. The label does not influence the value.
func (p *PRNG) Choose(label string, n int) int {
	if n <= 1 {
		return 0
	}
	return int(p.Uint64() % uint64(n))
}

// ByteChooser answers choices from a byte string, one byte per choice (two for
// n > 256), and 0 once the bytes run out. Fuzz targets use it so that the fuzzer
// steers every choice point.
type ByteChooser struct {
	data []byte
	pos  int
}

// NewByteChooser returns a ByteChooser reading data.
func NewByteChooser(data []byte) *ByteChooser { return &ByteChooser{data: data} }

// Choose implements Chooser.
func (b *ByteChooser) Choose(label string, n int) int {
	if n <= 1 {
		return 0
	}
	var v int
	if b.pos < len(b.data) {
		v = int(b.data[b.pos])
		b.pos++
	}
	if n > 256 && b.pos < len(b.data) {
		v = v<<8 | int(b.data[b.pos])
		b.pos++
	}
	return v % n
}

// Remaining reports how many bytes are left unread.
func (b *ByteChooser) Remaining() int { return len(b.data) - b.pos }

// ChoicePoint documents a named choice point. Packages register theirs with
// RegisterChoice so that pins can be validated and the docs can list them.
type ChoicePoint struct {
	Label   string   // e.g. "irp.completion-irql"
	Options []string // what each value means, index = value
	Doc     string   // one line: what the contract leaves open here, and why
}

var choicePoints = map[string]ChoicePoint{}

// RegisterChoice registers a choice point. It panics on a duplicate label: that
// is a programming error in wsksim, found at init time.
func RegisterChoice(c ChoicePoint) {
	if _, dup := choicePoints[c.Label]; dup {
		panic("sim: internal: duplicate choice point " + c.Label)
	}
	if len(c.Options) < 2 {
		panic("sim: internal: choice point " + c.Label + " needs at least two options")
	}
	choicePoints[c.Label] = c
}

// ChoicePoints returns every registered choice point sorted by label.
func ChoicePoints() []ChoicePoint {
	out := make([]ChoicePoint, 0, len(choicePoints))
	for _, c := range choicePoints {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// LookupChoice returns the registered choice point named label.
func LookupChoice(label string) (ChoicePoint, bool) {
	c, ok := choicePoints[label]
	return c, ok
}

// ParseChoiceValue resolves a value for choice point label given either as an
// option name or as its index.
func ParseChoiceValue(label, v string) (int, error) {
	c, ok := choicePoints[label]
	if !ok {
		return 0, fmt.Errorf("sim: unknown choice point %q", label)
	}
	for i, o := range c.Options {
		if o == v {
			return i, nil
		}
	}
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err == nil && n >= 0 && n < len(c.Options) && fmt.Sprint(n) == v {
		return n, nil
	}
	return 0, fmt.Errorf("sim: choice point %q has no option %q (options: %v)", label, v, c.Options)
}
