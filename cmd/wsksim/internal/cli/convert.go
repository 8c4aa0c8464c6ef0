package cli

import (
	"bytes"
	"fmt"
	"io"

	"github.com/wsksim/wsksim/trace"
)

const convertUsage = `Usage: wsksim convert TRACE|-

Writes a wsktrace v1 trace as a scenario file on stdout (docs/scenarios.md):
each call and env event becomes the scenario command that makes the model do
the same, with the choice points pinned to what the trace shows. Run it with
` + "`wsksim run --rewrite`" + ` to fill in the expected output. The trace is read whole, so it may be at
most 64 MiB (replay streams traces of any length).
`

const exitsConvert = `
Exit codes:
  0  ok
  2  unusable input or output: a malformed or missing trace, a trace over the
     size limit, a closed standard input, output that cannot be written
`

func convertMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("convert", convertUsage, exitsConvert, stderr)
	pos, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "wsksim convert: want exactly one TRACE (or - for stdin), got %d\n", len(pos))
		return ExitUsage
	}
	in, name, closeIn, err := openInput(pos[0], stdin)
	defer closeIn()
	if err != nil {
		fmt.Fprintf(stderr, "wsksim convert: %v\n", err)
		return ExitUsage
	}
	data, err := readCapped(name, in, MaxConvertBytes)
	if err != nil {
		fmt.Fprintf(stderr, "wsksim convert: %v\n", err)
		return ExitUsage
	}
	if err := trace.Convert(bytes.NewReader(data), stdout); err != nil {
		fmt.Fprintf(stderr, "wsksim convert: %s: %v\n", name, err)
		return ExitUsage
	}
	return ExitOK
}
