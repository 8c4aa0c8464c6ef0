package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/wsksim/wsksim/trace"
)

const convertUsage = `wsksim convert TRACE|-

Writes a wsktrace v1 trace as a scenario file on stdout (docs/scenarios.md):
each call and env event becomes the scenario command that makes the model do
the same, with the choice points pinned to what the trace shows. Run it with
` + "`wsksim run --rewrite`" + ` to fill in the expected output.

Exit codes: 0 ok, 2 unusable trace (malformed, missing file).
`

// cmdConvert is `wsksim convert`.
func cmdConvert(args []string, stdout, stderr io.Writer) int {
	return convertMain(args, os.Stdin, stdout, stderr)
}

func convertMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("convert", convertUsage, stderr)
	pos, code, ok := parse(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "wsksim convert: want exactly one TRACE (or - for stdin), got %d\n", len(pos))
		return ExitUsage
	}
	var in io.Reader = stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "wsksim convert: %v\n", err)
			return ExitUsage
		}
		defer f.Close()
		in = f
	}
	if err := trace.Convert(in, stdout); err != nil {
		fmt.Fprintf(stderr, "wsksim convert: %v\n", err)
		return ExitUsage
	}
	return ExitOK
}
