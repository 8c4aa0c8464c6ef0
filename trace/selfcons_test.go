package trace_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/wsksim/wsksim/fuzz"
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
		if why, known := selfConsGaps[name]; known {
			// A known gap must still be one: when it closes, take it off
			// the list (and off docs/oracle.md).
			if selfConsistent(name, src, 1) == "" {
				t.Errorf("%s: listed as a known gap (%s) but its trace now replays with the run's verdict: remove it from selfConsGaps and docs/oracle.md", name, why)
			}
			continue
		}
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			if msg := selfConsistent(name, src, seed); msg != "" {
				t.Errorf("%s seed %d: %s\n  reproduce: %s --trace DIR, then wsksim replay DIR/%s",
					name, seed, msg, scenarios.ReproCommand(name, seed), strings.ReplaceAll(strings.TrimSuffix(name, ".txt"), "/", "_")+".wsktrace.jsonl")
			}
		}
	}
}

// selfConsGaps are the scenarios whose trace does not yet replay with the
// run's verdict, and why (docs/oracle.md, "Traces the model writes"). Each is
// a fact the writer does not yet put in the trace.
var selfConsGaps = map[string]string{
	// A classify of a connect that carries a records blob the scenario copied
	// into driver memory (records-copy, then classify records=): the env
	// classify does not carry the blob, so the replay classifies a connect
	// without records (no FWP_CONDITION_FLAG_IS_PROXY_CONNECTION).
	"wfp/redirect-again.txt":    "classify records=: the records blob is not in the trace",
	"wfp/proxy-loop.txt":        "classify records=: the records blob is not in the trace",
	"wfp/redirect-classify.txt": "classify records=: the records blob is not in the trace",
	"wfp/sio-format.txt":        "classify records=: the records blob is not in the trace",
	"wfp/handles.txt":           "classify records=: the records blob is not in the trace",
	// What a callout writes into its writable layer data is in the trace
	// only as FwpsApplyModifiedLayerData0's connectRequest: writes never
	// applied (a pended classify's data) and which pointer it applied are
	// not.
	"wfp/pairing.txt":       "writable layer data: the pointer applied is not in the trace",
	"wfp/pend-complete.txt": "writable layer data: the pointer applied is not in the trace",
	"wfp/pend-misuse.txt":   "writable layer data: a pended classify's unapplied writes are not in the trace",
	"proxy/peer-pended.txt": "writable layer data: the pointer a pended classify applied is not in the trace",
	// Event callbacks (merged from main after this list was made): the
	// violations the provider finds around a callback (a missing handler
	// at socket creation, a wait inside one) are not all reported at the
	// same event by the replay.
	"events/violations.txt": "event-callback violations: WSK-EVENT-NO-HANDLER and WSK-EVENT-WAIT are not replayed where the run found them",
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

// TestRoundTripRapidPrograms is the emission round trip for programs the
// model runs as scenarios: a built-in scenario under any seed, and a
// FuzzWorld program drawn as bytes. The trace each run writes replays with
// the run's own verdict (trace.Disagreement).
func TestRoundTripRapidPrograms(t *testing.T) {
	suite := scenarios.Suite()
	rapid.Check(t, func(rt *rapid.T) {
		if rapid.Bool().Draw(rt, "suite") {
			name := rapid.SampledFrom(suite).Draw(rt, "scenario")
			if _, gap := selfConsGaps[name]; gap {
				rt.Skip("known gap")
			}
			seed := rapid.Uint64Range(1, 1<<32).Draw(rt, "seed")
			src, _ := scenarios.SuiteFile(name)
			if msg := selfConsistent(name, src, seed); msg != "" {
				rt.Fatalf("%s seed %d: %s", name, seed, msg)
			}
			return
		}
		data := rapid.SliceOfN(rapid.Byte(), 0, 200).Draw(rt, "program")
		for _, p := range fuzz.Check(data) {
			if strings.HasPrefix(p, "trace->replay") {
				rt.Fatalf("%s\nprogram:\n%s", p, fuzz.Decode(data))
			}
		}
	})
}
