package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/scenarios"
)

const exploreText = `Usage: wsksim explore [--seeds N] [--seed S] FILE

Runs FILE under N seeds (S, S+1, ...), groups the runs by outcome (the hash of
the output text) and reports each distinct outcome with a seed that reproduces
it, the exact command line, whether it matches the file's expected output, and
the violations it recorded. Exits 1 when an outcome differs from the expected
output (the file depends on a choice it does not pin).
`

type outcome struct {
	hash       string
	seeds      []uint64
	res        *scenarios.Result // nil when the run stopped
	stopped    string            // why the run stopped under these seeds
	violations map[string]int
}

func cmdExplore(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explore", exploreText, exitsExplore, stderr)
	seeds := fs.Int("seeds", 100, "how many seeds to run")
	seed := fs.Uint64("seed", 1, "the first seed")
	pos, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 || *seeds < 1 {
		fmt.Fprintln(stderr, "wsksim explore: expected exactly one FILE and --seeds >= 1")
		return ExitUsage
	}
	srcs, err := resolve(pos, false, stderr)
	if err != nil || len(srcs) != 1 {
		if err == nil {
			err = fmt.Errorf("%s names %d files; explore takes one", pos[0], len(srcs))
		}
		fmt.Fprintf(stderr, "wsksim explore: %v\n", err)
		return ExitUsage
	}
	s := srcs[0]
	byHash := map[string]*outcome{}
	var order []*outcome
	for k := 0; k < *seeds; k++ {
		sd := *seed + uint64(k)
		res, err := scenarios.Run(s.path, bytes.NewReader(s.data), scenarios.Options{Seed: sd})
		if err != nil && !seedStopped(s.path, s.data, err) {
			fmt.Fprintf(stderr, "wsksim explore: %v\n", err)
			return ExitUsage
		}
		text := ""
		if err != nil {
			// The run stopped under this seed: an outcome of its own.
			text = "stopped: " + err.Error()
		} else {
			text = res.Transcript()
		}
		h := sha256.Sum256([]byte(text))
		key := hex.EncodeToString(h[:6])
		o := byHash[key]
		if o == nil {
			o = &outcome{hash: key, res: res, violations: map[string]int{}}
			if err != nil {
				o.stopped = err.Error()
				byHash[key] = o
				order = append(order, o)
				o.seeds = append(o.seeds, sd)
				continue
			}
			for _, v := range res.Violations {
				o.violations[v.Rule]++
			}
			byHash[key] = o
			order = append(order, o)
		}
		o.seeds = append(o.seeds, sd)
	}
	fmt.Fprintf(stdout, "explore %s: %d seeds (%d..%d), %d distinct outcome(s)\n", s.path, *seeds, *seed, *seed+uint64(*seeds)-1, len(order))
	failed := false
	for n, o := range order {
		if o.res == nil {
			failed = true
			fmt.Fprintf(stdout, "outcome %d (%s): %d seed(s), e.g. seed %d\n", n+1, o.hash, len(o.seeds), o.seeds[0])
			fmt.Fprintf(stdout, "  reproduce: %s\n", scenarios.ReproCommand(s.path, o.seeds[0]))
			fmt.Fprintf(stdout, "  the run stopped: %s\n", o.stopped)
			continue
		}
		match := "matches the expected output"
		if !o.res.OK() {
			match = "differs from the expected output: " + o.res.Mismatches[0].FirstDifference()
			failed = true
		}
		fmt.Fprintf(stdout, "outcome %d (%s): %d seed(s), e.g. seed %d\n", n+1, o.hash, len(o.seeds), o.seeds[0])
		fmt.Fprintf(stdout, "  reproduce: %s\n", reproduce(s.path, o.seeds[0]))
		fmt.Fprintf(stdout, "  %s\n", match)
		if n > 0 && order[0].res != nil {
			if d := o.res.FirstDivergence(order[0].res); d != "" {
				fmt.Fprintf(stdout, "  differs from outcome 1 at %s\n", strings.Replace(d, "want", "outcome 1", 1))
			}
		}
		if len(o.violations) == 0 {
			fmt.Fprintln(stdout, "  violations: none")
		} else {
			var ids []string
			for id, c := range o.violations {
				ids = append(ids, fmt.Sprintf("%s x%d", id, c))
			}
			sort.Strings(ids)
			fmt.Fprintf(stdout, "  violations: %s\n", strings.Join(ids, ", "))
		}
		if len(o.res.Unchecked) > 0 {
			fmt.Fprintf(stdout, "  unchecked (printed by no violations/close command):\n")
			for _, v := range o.res.Unchecked {
				fmt.Fprintf(stdout, "    %s\n", v)
			}
		}
	}
	if failed {
		return ExitFailures
	}
	return ExitOK
}
