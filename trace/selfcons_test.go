package trace_test

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/sim"
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
	var text bytes.Buffer
	rep.WriteText(&text)
	switch rep.Verdict {
	case trace.Conforms, trace.Violations:
	default:
		return fmt.Sprintf("the replay does not agree (%v):\n%s", rep.Verdict, text.String())
	}
	got := rep.Violations
	for _, u := range rep.Unsupported {
		// A check the trace says it cannot support counts as the run's
		// violation outside any call (seq 0).
		got = append(got, trace.ViolationReport{Rule: u.Rule})
	}
	if d := violationDiff(res.Violations, got); d != "" {
		return "the replay's violations differ from the run's: " + d + "\n" + text.String()
	}
	return ""
}

// violationDiff compares the run's violations with the replay's: the same
// rule IDs, the same number of each, and the same seqs where both have one.
func violationDiff(run []sim.Violation, rep []trace.ViolationReport) string {
	key := func(rule string, seq uint64) string { return rule + "@" + strconv.FormatUint(seq, 10) }
	var a, b []string
	for _, v := range run {
		a = append(a, key(v.Rule, v.Seq))
	}
	for _, v := range rep {
		b = append(b, key(v.Rule, v.Seq))
	}
	sort.Strings(a)
	sort.Strings(b)
	if strings.Join(a, " ") == strings.Join(b, " ") {
		return ""
	}
	// Seqs may differ only where one side has none (a violation found at the
	// end of the run or of the trace).
	ra, rb := map[string]int{}, map[string]int{}
	for _, v := range run {
		ra[v.Rule]++
	}
	for _, v := range rep {
		rb[v.Rule]++
	}
	same := len(ra) == len(rb)
	for k, n := range ra {
		same = same && rb[k] == n
	}
	if same {
		seqless := true
		for _, v := range run {
			for _, w := range rep {
				if v.Rule == w.Rule && v.Seq != w.Seq && v.Seq != 0 && w.Seq != 0 && !hasKey(b, key(v.Rule, v.Seq)) {
					seqless = false
				}
			}
		}
		if seqless {
			return ""
		}
	}
	return fmt.Sprintf("run %v, replay %v", a, b)
}

func hasKey(ks []string, k string) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
