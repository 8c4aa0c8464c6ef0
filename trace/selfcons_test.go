package trace_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/trace"
)

// selfConsSeeds is how many seeds (1…N) TestSuiteSelfConsistent runs each
// built-in scenario under. WSKSIM_SELFCONS_SEEDS overrides it.
const selfConsSeeds = 20

// TestSuiteSelfConsistent: every trace the model writes replays with the
// model's own verdict. Each scenario of the built-in suite runs under seeds
// 1…20 with a trace; the replay of that trace must conform when the run
// recorded no violation, and otherwise report exactly the run's violations
// (rule IDs, at the same seqs where the run had one), never diverge and never
// find the trace unusable.
func TestSuiteSelfConsistent(t *testing.T) {
	seeds := selfConsSeeds
	if s := os.Getenv("WSKSIM_SELFCONS_SEEDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			seeds = n
		}
	}
	if testing.Short() {
		seeds = 2
	}
	for _, name := range scenarios.Suite() {
		src, ok := scenarios.SuiteFile(name)
		if !ok {
			t.Fatalf("suite file %s missing", name)
		}
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			if msg := selfConsistent(name, src, seed); msg != "" {
				t.Errorf("%s seed %d: %s\n  reproduce: %s --trace DIR, then wsksim replay DIR/%s",
					name, seed, msg, scenarios.ReproCommand(name, seed), strings.ReplaceAll(strings.TrimSuffix(name, ".txt"), "/", "_")+".wsktrace.jsonl")
			}
		}
	}
}

// selfConsistent runs one scenario under seed and compares the replay of its
// trace with the run; it returns "" when they agree.
func selfConsistent(name string, src []byte, seed uint64) string {
	var tr bytes.Buffer
	res, err := scenarios.Run(name, bytes.NewReader(src), scenarios.Options{Seed: seed, Trace: &tr})
	if err != nil {
		return "run: " + err.Error()
	}
	rep, err := trace.Replay(bytes.NewReader(tr.Bytes()), trace.Options{})
	if err != nil {
		return "replay: " + err.Error()
	}
	if d := trace.Disagreement(res.Violations, rep); d != "" {
		var text bytes.Buffer
		rep.WriteText(&text)
		return d + "\n" + text.String()
	}
	return ""
}
