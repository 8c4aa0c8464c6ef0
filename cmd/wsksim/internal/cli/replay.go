package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/trace"
)

const replayUsage = `Usage: wsksim replay [--json] [--profile NAME] [--pin P-X=OPTION]... [--junit FILE] [--sarif FILE] FILE|-

Replays a wsktrace v1 trace (FILE, or - for stdin) against the model and says
whether everything the driver observed is allowed by the contract, and whether
the driver broke a contract rule. The format is docs/wsktrace.md (schema
docs/wsktrace.schema.json); how to read the report is docs/oracle.md.
The trace is streamed: memory is bounded whatever its length, and no line
may be longer than 8 MiB.

--junit writes the verdict as a JUnit XML report (one test case per trace);
--sarif writes the divergence, the violations and an unusable trace's error
as SARIF 2.1.0 results located at the trace file and line, for code-scanning
UIs. Both are written whatever the verdict.
`

const exitsReplay = `
Exit codes:
  0  conforms: every return and completion is allowed, no rule was broken
  1  diverges: an observed outcome is not allowed by the model
  2  unusable: malformed JSON, unknown field, unbound name, bad flags, a
     missing file, an empty or closed standard input, output or a report
     that cannot be written
  3  violations: everything observed is allowed, but the driver broke contract rules
`

// pinFlag is --pin P-X=OPTION: the policy and option must exist, and a
// policy may be pinned once.
type pinFlag map[string]string

func (p pinFlag) String() string { return "" }

func (p pinFlag) Set(s string) error {
	id, opt, ok := strings.Cut(s, "=")
	if !ok || id == "" || opt == "" {
		return fmt.Errorf("want P-X=OPTION, got %q", s)
	}
	pol, ok := sim.LookupPolicy(id)
	if !ok {
		return fmt.Errorf("unknown policy %q (wsksim policies lists them)", id)
	}
	found := false
	for _, o := range pol.Options {
		found = found || o == opt
	}
	if !found {
		return fmt.Errorf("policy %s has no option %q (options: %s)", id, opt, strings.Join(pol.Options, ", "))
	}
	if prev, dup := p[id]; dup {
		return fmt.Errorf("policy %s pinned twice (%s, then %s)", id, prev, opt)
	}
	p[id] = opt
	return nil
}

// jsonError is what replay --json prints when there is no report: the same
// verdict and exit fields as a report, and the error.
type jsonError struct {
	Verdict string `json:"verdict"`
	Exit    int    `json:"exit"`
	Error   struct {
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSONError(w io.Writer, msg string) {
	var j jsonError
	j.Verdict, j.Exit, j.Error.Message = trace.Unusable.String(), int(trace.Unusable), msg
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(j)
}

// lineCounter counts the newlines that pass through it, so results found
// "at the end of the trace" can point at its last line.
type lineCounter struct {
	r     io.Reader
	lines int
	last  byte
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			c.lines++
		}
	}
	if n > 0 {
		c.last = p[n-1]
	}
	return n, err
}

// lastLine is the number of the trace's last line (1 for an empty trace).
func (c *lineCounter) lastLine() int {
	n := c.lines
	if c.last != '\n' && c.last != 0 {
		n++
	}
	if n < 1 {
		n = 1
	}
	return n
}

func replayMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("replay", replayUsage, exitsReplay, stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	profile := fs.String("profile", "", "behaviour profile (overrides the trace header's): "+strings.Join(trace.Profiles(), ", "))
	pins := pinFlag{}
	fs.Var(pins, "pin", "pin an open policy to one option, e.g. P-SZ0=success (repeatable, once per policy)")
	junit := fs.String("junit", "", "also write the verdict as a JUnit XML report to this file")
	sarif := fs.String("sarif", "", "also write the findings as a SARIF 2.1.0 log to this file")
	pos, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		if *asJSON && code == ExitUsage {
			writeJSONError(stdout, "bad flags (see standard error)")
		}
		return code
	}
	fail := func(msg string) int {
		fmt.Fprintf(stderr, "wsksim replay: %s\n", msg)
		if *asJSON {
			writeJSONError(stdout, msg)
		}
		return int(trace.Unusable)
	}
	if len(pos) != 1 {
		return fail(fmt.Sprintf("want exactly one FILE (or - for stdin), got %d", len(pos)))
	}
	if *profile != "" {
		known := false
		for _, p := range trace.Profiles() {
			known = known || p == *profile
		}
		if !known {
			return fail(fmt.Sprintf("--profile: unknown profile %q (known: %s)", *profile, strings.Join(trace.Profiles(), ", ")))
		}
	}
	in, name, closeIn, err := openInput(pos[0], stdin)
	defer closeIn()
	if err != nil {
		return fail(err.Error())
	}
	lc := &lineCounter{r: in}
	opts := trace.Options{Profile: *profile}
	if len(pins) > 0 {
		opts.Pins = pins
	}
	rep, err := trace.Replay(lc, opts)
	if err != nil {
		return fail(err.Error())
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		// Main says which write failed; called directly, say it here.
		if _, ok := stdout.(*checkedWriter); !ok {
			fmt.Fprintf(stderr, "wsksim replay: writing the report: %v\n", err)
		}
		return ExitUsage
	}
	uri := name
	if pos[0] == "-" {
		uri = "stdin"
	}
	if *junit != "" {
		if err := writeFileAtomic(*junit, func(w io.Writer) error { return replayJUnit(w, uri, rep) }); err != nil {
			fmt.Fprintf(stderr, "wsksim replay: --junit: %v\n", err)
			return ExitUsage
		}
	}
	if *sarif != "" {
		if err := writeFileAtomic(*sarif, func(w io.Writer) error { return replaySARIF(w, uri, lc.lastLine(), rep) }); err != nil {
			fmt.Fprintf(stderr, "wsksim replay: --sarif: %v\n", err)
			return ExitUsage
		}
	}
	return rep.ExitCode()
}

// writeFileAtomic writes a report file through fn and reports any write or
// close error (a full disk is an error, not a truncated report).
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := &checkedWriter{w: f}
	err = fn(cw)
	if cw.err != nil {
		err = cw.err
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
