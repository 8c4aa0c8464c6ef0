package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits on what the subcommands read, applied before the bytes are held
// (docs/oracle.md and docs/scenarios.md list them).
const (
	// MaxScenarioBytes bounds one scenario file (run, explore, diagram);
	// the scenarios package enforces the same cap.
	MaxScenarioBytes = 16 << 20
	// MaxConvertBytes bounds the trace convert reads: it holds the whole
	// trace, unlike replay, which streams (one line at most
	// trace.MaxLineBytes).
	MaxConvertBytes = 64 << 20
)

// errTooLarge is returned for an input over its limit.
type errTooLarge struct {
	name  string
	limit int64
}

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("%s: larger than the %d-byte (%d MiB) limit", e.name, e.limit, e.limit>>20)
}

// readCapped reads all of r, failing with errTooLarge once it holds more
// than limit bytes: at most limit+1 bytes are ever read.
func readCapped(name string, r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, &errTooLarge{name, limit}
	}
	return b, nil
}

// readFileCapped is os.ReadFile with readCapped's limit.
func readFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(path, f, limit)
}

// errEmptyStdin is standard input that gives no byte at all: closed, or
// /dev/null (the Go runtime reopens a closed descriptor 0 on /dev/null, so
// the two cannot be told apart).
var errEmptyStdin = errors.New("standard input is empty or closed: give a trace FILE, or pipe a trace into -")

// openInput opens FILE, or stdin for "-". A stdin that yields no byte is
// errEmptyStdin. The name is how messages name the input.
func openInput(arg string, stdin io.Reader) (r io.Reader, name string, closeFn func(), err error) {
	if arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return nil, arg, func() {}, err
		}
		return f, arg, func() { f.Close() }, nil
	}
	if stdin == nil {
		return nil, "stdin", func() {}, errEmptyStdin
	}
	br := bufio.NewReader(stdin)
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			return nil, "stdin", func() {}, errEmptyStdin
		}
		return nil, "stdin", func() {}, fmt.Errorf("standard input: %w", err)
	}
	return br, "stdin", func() {}, nil
}
