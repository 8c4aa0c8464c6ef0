// Package cli implements the wsksim command: run, explore, rules, policies,
// diagram, replay, convert and version. Main is the whole command;
// cmd/wsksim only calls it, so tests run every subcommand in-process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Exit codes of every subcommand. Each subcommand's --help lists the ones
// it can return.
const (
	ExitOK       = 0 // everything passed
	ExitFailures = 1 // a scenario's output differed (run), outcomes differ (explore), replay diverges
	ExitUsage    = 2 // unusable input or output: bad flags, a malformed scenario, a missing file, output that cannot be written
)

const usage = `wsksim: a deterministic model of the Windows WSK, I/O manager and WFP contract.

Usage:
  wsksim run [flags] [PATH...]      run scenario files (no PATH: the built-in suite)
  wsksim explore [flags] FILE       run one scenario under many seeds and group the outcomes
  wsksim rules [--markdown] [ID...] print the rule table, or the rules named
  wsksim policies [--markdown] [ID...]
                                    print the policy table, or the policies named
  wsksim diagram [--seed S] FILE    print a Mermaid sequence diagram of a run
  wsksim replay [flags] FILE|-      check a wsktrace v1 trace recorded from a real driver
                                    against the model (the reference oracle)
  wsksim convert TRACE|-            write a wsktrace v1 trace as a scenario file on stdout
  wsksim version                    print the module version
  wsksim help                       print this text

"wsksim SUBCOMMAND --help" prints a subcommand's flags and its exit codes.

Exit codes:
  0  ok
  1  run: a scenario's output differed from its expected output;
     explore: a scenario's outcome depends on the seed;
     replay: an observed outcome diverges from what the model allows
  2  unusable input or output: bad flags, a malformed scenario, a missing file,
     a trace that cannot be used, output that cannot be written
  3  replay only: the trace conforms, but the driver broke contract rules
`

// Exit-code footers of the subcommands' --help.
const (
	exitsOK2 = `
Exit codes:
  0  ok
  2  bad flags or arguments, or output that cannot be written
`
	exitsRun = `
Exit codes:
  0  every file printed its expected output under every seed
  1  a file's output differed from its expected output
  2  unusable input or output: bad flags, a missing or malformed scenario
     file, a file over the size limit, output or a report that cannot be written
`
	exitsExplore = `
Exit codes:
  0  every seed gave the expected output
  1  an outcome differs from the expected output (the file depends on a choice
     it does not pin)
  2  unusable input or output: bad flags, a missing or malformed scenario
     file, output that cannot be written
`
	exitsDiagram = `
Exit codes:
  0  ok
  2  unusable input or output: bad flags, a missing or malformed scenario
     file, output that cannot be written
`
)

// Prog is how reproduce lines name the command: "go run ./cmd/wsksim" when
// the binary was built by go run (or is a test binary), otherwise the base
// name of the program as invoked.
var Prog = progName(os.Args[0])

// progName derives Prog from argv[0]. go run builds into a temporary
// go-build directory (…/go-build…/b001/exe/wsksim); go test's binaries live
// there too.
func progName(arg0 string) string {
	slash := filepath.ToSlash(arg0)
	if strings.Contains(slash, "/go-build") {
		return "go run ./cmd/wsksim"
	}
	base := filepath.Base(arg0)
	if base == "" || base == "." || base == "/" {
		return "wsksim"
	}
	return base
}

// reproduce is the command line that reruns file under seed.
func reproduce(file string, seed uint64) string {
	return fmt.Sprintf("%s run --seed %d %s", Prog, seed, file)
}

// Main runs the command with args (without the program name) and returns the
// exit code. When stdout cannot be written, it says so on stderr and returns
// ExitUsage whatever the subcommand returned.
func Main(args []string, stdout, stderr io.Writer) int {
	return mainIO(args, os.Stdin, stdout, stderr)
}

// mainIO is Main reading standard input from stdin.
func mainIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	out := &checkedWriter{w: stdout}
	sub, rest := args[0], args[1:]
	var code int
	switch sub {
	case "run":
		code = cmdRun(rest, out, stderr)
	case "explore":
		code = cmdExplore(rest, out, stderr)
	case "rules":
		code = cmdRules(rest, out, stderr)
	case "policies":
		code = cmdPolicies(rest, out, stderr)
	case "diagram":
		code = cmdDiagram(rest, out, stderr)
	case "replay":
		code = replayMain(rest, stdin, out, stderr)
	case "convert":
		code = convertMain(rest, stdin, out, stderr)
	case "version":
		code = cmdVersion(rest, out, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(out, usage)
	default:
		fmt.Fprintf(stderr, "wsksim: unknown subcommand %q\n\n%s", sub, usage)
		return ExitUsage
	}
	if out.err != nil {
		fmt.Fprintf(stderr, "wsksim %s: writing standard output: %v\n", sub, out.err)
		return ExitUsage
	}
	return code
}

// checkedWriter remembers the first write error, so a subcommand that
// prints with fmt.Fprint* cannot lose its output silently (stdout on a full
// disk, a closed pipe). After an error it writes nothing more.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// newFlags returns a flag set whose --help prints text, the flags and
// exits (the subcommand's exit codes), once, on stdout.
func newFlags(name, text, exits string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wsksim "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors and prints help itself
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
		fmt.Fprint(fs.Output(), exits)
	}
	return fs
}

// parse parses flags that may come before, between or after the positional
// arguments. It returns the positional arguments, or the exit code to use:
// --help prints the usage once on stdout (exit 0); a bad flag is a usage
// error naming the flag (exit 2).
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				fs.SetOutput(io.Discard)
				return nil, ExitOK, false
			}
			fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", fs.Name(), err, fs.Name())
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
