package trace

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/sim"
)

// Disagreement compares the replay report of a trace the model wrote with the
// violations of the run that wrote it, and returns "" when they agree: the
// replay conforms or reports violations (never diverges or finds the trace
// unusable), with the same rule IDs as the run, as many of each, at the same
// seqs where both have one. A check the trace says it cannot support
// (Report.Unsupported) stands for the run's violation it names, which the run
// recorded outside any call (seq 0). docs/oracle.md, "Traces the model
// writes".
func Disagreement(run []sim.Violation, rep *Report) string {
	if rep == nil {
		return "no report"
	}
	if rep.Verdict != Conforms && rep.Verdict != Violations {
		return fmt.Sprintf("the replay %s (exit %d)", verdictHeadline[rep.Verdict], rep.ExitCode())
	}
	got := append([]ViolationReport(nil), rep.Violations...)
	for _, u := range rep.Unsupported {
		got = append(got, ViolationReport{Rule: u.Rule})
	}
	return violationDiff(run, got)
}

func violationDiff(run []sim.Violation, rep []ViolationReport) string {
	key := func(rule string, seq uint64) string { return rule + "@" + strconv.FormatUint(seq, 10) }
	var a, b []string
	ra, rb := map[string]int{}, map[string]int{}
	for _, v := range run {
		a = append(a, key(v.Rule, v.Seq))
		ra[v.Rule]++
	}
	have := map[string]bool{}
	for _, v := range rep {
		b = append(b, key(v.Rule, v.Seq))
		rb[v.Rule]++
		have[key(v.Rule, v.Seq)] = true
	}
	sort.Strings(a)
	sort.Strings(b)
	if strings.Join(a, " ") == strings.Join(b, " ") {
		return ""
	}
	same := len(ra) == len(rb)
	for k, n := range ra {
		same = same && rb[k] == n
	}
	if same {
		// Seqs may differ only where one side has none: a violation found
		// at the end of the run or trace, or outside any call of the run (a
		// classify the trace shows as env events).
		runSeqs := map[string]bool{}
		for _, v := range run {
			runSeqs[key(v.Rule, v.Seq)] = true
			if v.Seq != 0 && !have[key(v.Rule, v.Seq)] && !have[key(v.Rule, 0)] && !hasSeqless(v.Rule, run) {
				same = false
			}
		}
		for _, v := range rep {
			if v.Seq != 0 && !runSeqs[key(v.Rule, v.Seq)] && !runSeqs[key(v.Rule, 0)] {
				same = false
			}
		}
		if same {
			return ""
		}
	}
	return fmt.Sprintf("the replay's violations differ from the run's: run %v, replay %v", a, b)
}

func hasSeqless(rule string, vs []sim.Violation) bool {
	for _, v := range vs {
		if v.Rule == rule && v.Seq == 0 {
			return true
		}
	}
	return false
}
