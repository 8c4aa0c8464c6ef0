package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wsksim/wsksim/trace"
)

const replayUsage = `wsksim replay [--json] [--profile NAME] [--pin P-X=OPTION]... FILE|-

Replays a wsktrace v1 trace (FILE, or - for stdin) against the model and says
whether everything the driver observed is allowed by the contract, and whether
the driver broke a contract rule. The format is docs/wsktrace.schema.json;
how to read the report is docs/oracle.md.

Exit codes (wsktrace v1):
  0  conforms: every return and completion is allowed, no rule was broken
  1  diverges: an observed outcome is not allowed by the model
  2  unusable: malformed JSON, unknown field, unbound name, bad flags, missing file
  3  violations: everything observed is allowed, but the driver broke contract rules
`

// cmdReplay is `wsksim replay`.
func cmdReplay(args []string, stdout, stderr io.Writer) int {
	return replayMain(args, os.Stdin, stdout, stderr)
}

type pinFlag map[string]string

func (p pinFlag) String() string { return "" }

func (p pinFlag) Set(s string) error {
	id, opt, ok := strings.Cut(s, "=")
	if !ok || id == "" || opt == "" {
		return fmt.Errorf("want P-X=OPTION, got %q", s)
	}
	p[id] = opt
	return nil
}

func replayMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("replay", replayUsage, stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	profile := fs.String("profile", "", "behaviour profile (overrides the trace header's): "+strings.Join(trace.Profiles(), ", "))
	pins := pinFlag{}
	fs.Var(pins, "pin", "pin an open policy to one option, e.g. P-SZ0=success (repeatable)")
	pos, code, ok := parse(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "wsksim replay: want exactly one FILE (or - for stdin), got %d\n", len(pos))
		return int(trace.Unusable)
	}
	var in io.Reader = stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "wsksim replay: %v\n", err)
			return int(trace.Unusable)
		}
		defer f.Close()
		in = f
	}
	opts := trace.Options{Profile: *profile}
	if len(pins) > 0 {
		opts.Pins = pins
	}
	rep, err := trace.Replay(in, opts)
	if err != nil {
		fmt.Fprintf(stderr, "wsksim replay: %v\n", err)
		return int(trace.Unusable)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsksim replay: %v\n", err)
	}
	return rep.ExitCode()
}
