package sim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsksim/wsksim/sim"
)

// TestPRNGGolden pins the PRNG's output: a changed sequence would silently
// change every seeded run, so it must fail here first.
func TestPRNGGolden(t *testing.T) {
	// Seed 0 gives the reference splitmix64 sequence (Vigna's splitmix64.c).
	p := sim.NewPRNG(0)
	assert.Equal(t, uint64(0xe220a8397b1dcdaf), p.Uint64())
	assert.Equal(t, uint64(0x6e789e6aa1b965f4), p.Uint64())

	want := []uint64{0x910a2dec89025cc1, 0xbeeb8da1658eec67, 0xf893a2eefb32555e, 0x71c18690ee42c90b, 0x71bb54d8d101b5b9}
	p = sim.NewPRNG(1)
	for k, w := range want {
		assert.Equal(t, w, p.Uint64(), "seed 1, output %d", k)
	}
	// Choose is Uint64 mod n, whatever the label.
	p, q := sim.NewPRNG(1), sim.NewPRNG(1)
	for k, w := range want {
		assert.Equal(t, int(w%1000), p.Choose("any", 1000), "seed 1, choice %d", k)
		assert.Equal(t, int(w%7), q.Choose("other", 7))
	}
	assert.Equal(t, 0, p.Choose("x", 1), "n = 1 draws nothing")
	assert.Equal(t, 0, p.Choose("x", 0))
	p2 := sim.NewPRNG(1)
	for range want {
		p2.Uint64()
	}
	assert.Equal(t, p2.Uint64(), p.Uint64(), "n <= 1 consumed no output")
}

func TestPRNGDefaultChooser(t *testing.T) {
	w := sim.NewWorld(sim.Config{Seed: 1})
	assert.Equal(t, int(0x910a2dec89025cc1%3), w.Choose(choiceTest, 3), "the world's default chooser is NewPRNG(Seed)")
}

func TestByteChooser(t *testing.T) {
	b := sim.NewByteChooser([]byte{5, 7, 0x01, 0x02, 200, 0xFF})
	assert.Equal(t, 6, b.Remaining())
	assert.Equal(t, 2, b.Choose("a", 3), "5 % 3")
	assert.Equal(t, 0, b.Choose("b", 1), "n = 1 reads no byte")
	assert.Equal(t, 7, b.Choose("c", 256), "7 % 256")
	assert.Equal(t, 0x0102%1000, b.Choose("d", 1000), "n > 256 reads two bytes, big-endian")
	assert.Equal(t, 2, b.Remaining())
	assert.Equal(t, 200, b.Choose("e", 201))
	assert.Equal(t, 0xFF%300, b.Choose("f", 300), "one byte left for n > 256")
	assert.Equal(t, 0, b.Remaining())
	assert.Equal(t, 0, b.Choose("g", 5), "0 once the bytes run out")
	assert.Equal(t, 0, b.Remaining())

	w := sim.NewWorld(sim.Config{Chooser: sim.NewByteChooser([]byte{1, 2})})
	assert.Equal(t, 1, w.Choose(choiceTest, 3))
	assert.Equal(t, 2, w.Choose(choiceTest, 3))
	assert.Equal(t, 0, w.Choose(choiceTest, 3))
}

func TestChoicePoints(t *testing.T) {
	c, ok := sim.LookupChoice(choiceTest)
	require.True(t, ok)
	assert.Equal(t, []string{"a", "b", "c"}, c.Options)
	_, ok = sim.LookupChoice("nope")
	assert.False(t, ok)
	var labels []string
	for _, c := range sim.ChoicePoints() {
		labels = append(labels, c.Label)
	}
	assert.True(t, isSorted(labels))
	assert.Contains(t, labels, choiceTest)

	for in, want := range map[string]int{"a": 0, "c": 2, "1": 1, "2": 2} {
		v, err := sim.ParseChoiceValue(choiceTest, in)
		require.NoError(t, err, in)
		assert.Equal(t, want, v, in)
	}
	for _, bad := range []string{"3", "-1", "01", "d", "", " 1", "1x"} {
		_, err := sim.ParseChoiceValue(choiceTest, bad)
		assert.EqualError(t, err, `sim: choice point "simtest.choice" has no option "`+bad+`" (options: [a b c])`)
	}
	_, err := sim.ParseChoiceValue("nope", "a")
	assert.EqualError(t, err, `sim: unknown choice point "nope"`)
}
