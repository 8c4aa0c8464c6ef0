package fuzz

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/trace"
)

// Check decodes data, runs the program and checks every property FuzzWorld
// holds, returning the failures (nil when all hold):
//
//   - the plain model: every IRP-*, POOL-*, BUF-* and IRQL-ABOVE-MAX
//     violation a command produced is one the model allows, and those it
//     predicts with certainty are reported;
//   - status classes: a SET or QUERY never succeeds where its class says it
//     cannot (no IRP, InputSize above MAXULONG, no input, more bytes than
//     OutputSize);
//   - liveness: after faults are switched off, the world runs idle and every
//     open socket is closed, no IRP is left in flight, and no completion
//     routine runs for an IRP whose call already completed;
//   - determinism and faithful printing: the program printed as a scenario
//     and run again through scenarios.Run prints the same outputs and writes
//     a byte-identical wsktrace;
//   - trace→replay agreement: wsksim replay of that trace gives the run's own
//     verdict (trace.Disagreement).
//
// A panic anywhere is the model's (Check does not recover it).
func Check(data []byte) []string {
	p := Decode(data)
	o := p.Run()
	problems := append([]string(nil), o.Problems...)
	var tr bytes.Buffer
	script := o.Script(p)
	res, err := scenarios.Run(ScenarioName, strings.NewReader(script), scenarios.Options{Trace: &tr, MaxEvents: maxEvents})
	if err != nil {
		return append(problems, fmt.Sprintf("the printed scenario does not run: %v", err))
	}
	if len(res.Outputs) != len(o.Steps) {
		problems = append(problems, fmt.Sprintf("the printed scenario ran %d commands, the program %d", len(res.Outputs), len(o.Steps)))
	} else {
		for k, s := range o.Steps {
			if res.Outputs[k] != s.Output {
				problems = append(problems, fmt.Sprintf("determinism: command %d (%s) printed %q the first time and %q when run from the printed scenario", k+1, s.Cmd.Text(), s.Output, res.Outputs[k]))
				break
			}
		}
	}
	if !bytes.Equal(tr.Bytes(), o.Trace) {
		problems = append(problems, fmt.Sprintf("determinism: the trace differs between the two runs (%d and %d bytes) at byte %d", len(o.Trace), tr.Len(), firstDiff(o.Trace, tr.Bytes())))
	}
	// The oracle agrees with the model: the replay of the trace the run
	// wrote gives the run's own verdict.
	rep, err := trace.Replay(bytes.NewReader(tr.Bytes()), trace.Options{})
	if err != nil {
		problems = append(problems, fmt.Sprintf("trace->replay: %v", err))
	} else if d := trace.Disagreement(res.Violations, rep); d != "" {
		var text bytes.Buffer
		rep.WriteText(&text)
		problems = append(problems, fmt.Sprintf("trace->replay: %s\n%s", d, text.String()))
	}
	return problems
}

func firstDiff(a, b []byte) int {
	for k := 0; k < len(a) && k < len(b); k++ {
		if a[k] != b[k] {
			return k
		}
	}
	return min(len(a), len(b))
}
