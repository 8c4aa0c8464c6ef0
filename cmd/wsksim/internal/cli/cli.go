// Package cli implements the wsksim command: run, explore, rules, policies and
// diagram. Main is the whole command; cmd/wsksim only calls it, so tests run
// every subcommand in-process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes of every subcommand.
const (
	ExitOK       = 0 // everything passed
	ExitFailures = 1 // a scenario's output differed (run), outcomes differ (explore)
	ExitUsage    = 2 // unusable input: bad flags, a malformed scenario, a missing file
)

const usage = `wsksim: a deterministic model of the Windows WSK, I/O manager and WFP contract.

Usage:
  wsksim run [flags] [PATH...]      run scenario files (no PATH: the built-in suite)
  wsksim explore [flags] FILE       run one scenario under many seeds and group the outcomes
  wsksim rules [--markdown]         print the rule table (ID, statement, source, bug check)
  wsksim policies [--markdown]      print the policy table
  wsksim diagram [--seed S] FILE    print a Mermaid sequence diagram of a run
  wsksim replay [--json] [--profile P] [--pin P-X=OPT] FILE|-
                                    check a wsktrace v1 trace recorded from a real driver
                                    against the model (the reference oracle)
  wsksim convert TRACE|-            write a wsktrace v1 trace as a scenario file on stdout
  wsksim help                       print this text

Every subcommand takes --help.

Exit codes:
  0  ok
  1  failures: a scenario's output differed from its expected output (run), or a
     scenario's outcome depends on the seed (explore)
  2  unusable input: bad flags, a malformed scenario, a missing file, a trace that
     cannot be used (malformed JSON, unknown field, unbound name)
  3  replay only: the trace conforms, but the driver broke contract rules

replay exits 1 when an observed outcome diverges from what the model allows.
`

// Main runs the command with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "explore":
		return cmdExplore(rest, stdout, stderr)
	case "rules":
		return cmdRules(rest, stdout, stderr)
	case "policies":
		return cmdPolicies(rest, stdout, stderr)
	case "diagram":
		return cmdDiagram(rest, stdout, stderr)
	case "replay":
		return cmdReplay(rest, stdout, stderr)
	case "convert":
		return cmdConvert(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "wsksim: unknown subcommand %q\n\n%s", sub, usage)
	return ExitUsage
}

// newFlags returns a flag set whose usage prints text and the exit codes.
func newFlags(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wsksim "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nExit codes: 0 ok, 1 failures, 2 unusable input (bad flags, malformed scenario, missing file).\n")
	}
	return fs
}

// parse parses flags that may come before, between or after the positional
// arguments. It returns the positional arguments, or the exit code to use.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return nil, ExitOK, false
			}
			return nil, ExitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
