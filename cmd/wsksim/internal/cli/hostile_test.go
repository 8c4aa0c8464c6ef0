package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// endless is an input that never ends.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = e.b
	}
	return len(p), nil
}

// failWriter accepts n bytes, then fails like a full disk.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	k := f.n
	f.n = 0
	return k, errors.New("write /dev/stdout: no space left on device")
}

// TestHostileInputs runs every subcommand on hostile input in-process and
// checks the exit code, that the message names what and where, and that
// the run stays within a time and an allocation bound (runtime.MemStats
// TotalAlloc: every byte allocated, so a bound on it bounds the heap).
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads inputs up to the 64 MiB convert limit")
	}
	dir := t.TempDir()
	scen := writeFile(t, dir, "ok.txt", "alloc-irp\n----\nIoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1\n\nfree-irp irp=irp1\n----\nIoFreeIrp(Irp=irp1)\n")
	bad := writeFile(t, dir, "bad.txt", "alloc-irp\n----\nIoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1\n\nfrob x=1\n----\n")
	unclosed := writeFile(t, dir, "unclosed.txt", "alloc-irp\n----\n----\nIoAllocateIrp\n")
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# a comment line that pads the file\n"), MaxScenarioBytes/36+2), 0o644); err != nil {
		t.Fatal(err)
	}
	fifoDir := filepath.Join(dir, "withfifo")
	os.Mkdir(fifoDir, 0o755)
	writeFile(t, fifoDir, "a.txt", "alloc-irp\n----\nIoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1\n\nfree-irp irp=irp1\n----\nIoFreeIrp(Irp=irp1)\n")
	haveFIFO := syscall.Mkfifo(filepath.Join(fifoDir, "pipe.txt"), 0o644) == nil
	trace := filepath.Join(traceData, "conforming/spec-example.jsonl")
	crlf := filepath.Join(dir, "crlf.txt")

	const mib = 1 << 20
	cases := []struct {
		name     string
		args     []string
		stdin    io.Reader
		stdout   io.Writer
		setup    func() bool // false: skip
		exit     int
		stderr   []string // substrings of stderr
		stdout1  []string // substrings of stdout
		maxAlloc uint64
	}{
		{name: "run /dev/zero", args: []string{"run", "/dev/zero"}, exit: 2, stderr: []string{"/dev/zero: larger than the 16777216-byte (16 MiB) limit"}, maxAlloc: 96 * mib},
		{name: "run over the cap", args: []string{"run", big}, exit: 2, stderr: []string{"big.txt: larger than the 16777216-byte"}, maxAlloc: 96 * mib},
		{name: "explore /dev/zero", args: []string{"explore", "--seeds", "2", "/dev/zero"}, exit: 2, stderr: []string{"/dev/zero: larger than"}, maxAlloc: 96 * mib},
		{name: "diagram /dev/zero", args: []string{"diagram", "/dev/zero"}, exit: 2, stderr: []string{"/dev/zero: larger than"}, maxAlloc: 96 * mib},
		{name: "run dir with a FIFO", args: []string{"run", fifoDir}, setup: func() bool { return haveFIFO }, exit: 0, stderr: []string{"skipping " + filepath.ToSlash(fifoDir) + "/pipe.txt: not a regular file"}, stdout1: []string{"1 passed, 0 failed"}, maxAlloc: 32 * mib},
		{name: "run malformed", args: []string{"run", bad}, exit: 2, stdout1: []string{"bad.txt:5: "}, maxAlloc: 32 * mib},
		{name: "run unclosed block", args: []string{"run", unclosed}, exit: 2, stdout1: []string{"unclosed.txt:"}, maxAlloc: 32 * mib},
		{name: "explore malformed", args: []string{"explore", "--seeds", "3", bad}, exit: 2, stderr: []string{"bad.txt:5: "}, maxAlloc: 32 * mib},
		{name: "diagram malformed", args: []string{"diagram", bad}, exit: 2, stderr: []string{"bad.txt:5: "}, maxAlloc: 32 * mib},
		{name: "convert endless stdin", args: []string{"convert", "-"}, stdin: endless{'x'}, exit: 2, stderr: []string{"stdin: larger than the 67108864-byte (64 MiB) limit"}, maxAlloc: 320 * mib},
		{name: "convert /dev/zero", args: []string{"convert", "/dev/zero"}, exit: 2, stderr: []string{"/dev/zero: larger than the 67108864-byte"}, maxAlloc: 320 * mib},
		{name: "convert empty stdin", args: []string{"convert", "-"}, stdin: strings.NewReader(""), exit: 2, stderr: []string{"standard input is empty or closed"}, maxAlloc: 8 * mib},
		{name: "convert bad header", args: []string{"convert", "-"}, stdin: strings.NewReader("{\"wsktrace\":2}\n"), exit: 2, stderr: []string{"stdin: 1:"}, maxAlloc: 8 * mib},
		{name: "replay endless line", args: []string{"replay", "-"}, stdin: endless{'{'}, exit: 2, stdout1: []string{"line 1", "longer than 8388608 bytes"}, maxAlloc: 96 * mib},
		{name: "replay /dev/zero", args: []string{"replay", "/dev/zero"}, exit: 2, stdout1: []string{"UNUSABLE", "line 1"}, maxAlloc: 96 * mib},
		{name: "replay empty stdin", args: []string{"replay", "-"}, stdin: strings.NewReader(""), exit: 2, stderr: []string{"standard input is empty or closed"}, maxAlloc: 8 * mib},
		{name: "replay nil stdin", args: []string{"replay", "-"}, exit: 2, stderr: []string{"standard input is empty or closed"}, maxAlloc: 8 * mib},
		{name: "replay --json missing", args: []string{"replay", "--json", filepath.Join(dir, "missing.jsonl")}, exit: 2, stdout1: []string{`{"verdict":"unusable","exit":2,"error":{"message":"open `, "missing.jsonl: no such file"}, maxAlloc: 8 * mib},
		{name: "replay --json bad flag", args: []string{"replay", "--json", "--nope", "x"}, exit: 2, stdout1: []string{`"verdict":"unusable"`}, stderr: []string{"-nope"}, maxAlloc: 8 * mib},
		{name: "replay a directory", args: []string{"replay", dir}, exit: 2, stdout1: []string{"UNUSABLE"}, maxAlloc: 8 * mib},
		{name: "replay truncated JSON", args: []string{"replay", "-"}, stdin: strings.NewReader("{\"wsktrace\":1,\"source\":\"x\"}\n{\"seq\":1,\"ev\":\"call\",\"fn\":\"IoAllocateIrp\",\"args\":{\"StackSize\":"), exit: 2, stdout1: []string{"error at line 2, column"}, maxAlloc: 8 * mib},
		{name: "replay --pin bogus", args: []string{"replay", "--pin", "P-BOGUS=x", trace}, exit: 2, stderr: []string{"invalid value \"P-BOGUS=x\" for flag -pin"}, maxAlloc: 8 * mib},
		{name: "replay --pin twice", args: []string{"replay", "--pin", "P-SZ0=success", "--pin", "P-SZ0=success", trace}, exit: 2, stderr: []string{"P-SZ0 pinned twice"}, maxAlloc: 8 * mib},
		{name: "rules unknown", args: []string{"rules", "NOPE-1"}, exit: 2, stderr: []string{`unknown rule "NOPE-1"`}, maxAlloc: 8 * mib},
		{name: "policies unknown", args: []string{"policies", "P-NOPE"}, exit: 2, stderr: []string{`unknown policy "P-NOPE"`}, maxAlloc: 8 * mib},
		{name: "version extra", args: []string{"version", "x"}, exit: 2, stderr: []string{`unexpected argument "x"`}, maxAlloc: 8 * mib},
		{name: "run --junit unwritable", args: []string{"run", "--junit", filepath.Join(dir, "no", "dir", "j.xml"), scen}, exit: 2, stderr: []string{"--junit: ", "j.xml"}, maxAlloc: 32 * mib},
		{name: "replay --sarif /dev/full", args: []string{"replay", "--sarif", "/dev/full", trace}, setup: func() bool { _, err := os.Stat("/dev/full"); return err == nil }, exit: 2, stderr: []string{"--sarif: writing /dev/full"}, maxAlloc: 32 * mib},
		{name: "rewrite keeps CRLF", args: []string{"run", "--rewrite", crlf}, setup: func() bool {
			return os.WriteFile(crlf, []byte("alloc-irp\r\n----\r\nstale\r\n\r\nfree-irp irp=irp1\r\n----\r\n"), 0o644) == nil
		}, exit: 0, stdout1: []string{"rewritten"}, maxAlloc: 32 * mib},
	}
	// Lost output: every subcommand, stdout failing at once and midway.
	for _, args := range [][]string{
		{"run", scen}, {"run", "--json", scen}, {"run"}, {"diagram", scen}, {"explore", "--seeds", "3", scen},
		{"rules"}, {"rules", "--markdown"}, {"policies"}, {"policies", "--markdown"}, {"replay", trace}, {"replay", "--json", trace},
		{"convert", trace}, {"version"}, {"help"}, {"run", "--help"},
	} {
		for _, n := range []int{0, 16} {
			cases = append(cases, struct {
				name     string
				args     []string
				stdin    io.Reader
				stdout   io.Writer
				setup    func() bool
				exit     int
				stderr   []string
				stdout1  []string
				maxAlloc uint64
			}{name: fmt.Sprintf("full stdout after %d bytes: %s", n, strings.Join(args, " ")), args: args, stdout: &failWriter{n: n},
				exit: 2, stderr: []string{"wsksim " + args[0] + ": writing standard output: ", "no space left on device"}, maxAlloc: 64 * mib})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil && !c.setup() {
				t.Skip("not available here")
			}
			var out bytes.Buffer
			var stdout io.Writer = &out
			if c.stdout != nil {
				stdout = c.stdout
			}
			var errb bytes.Buffer
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			done := make(chan int, 1)
			start := time.Now()
			go func() { done <- mainIO(c.args, c.stdin, stdout, &errb) }()
			var code int
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("wsksim %q did not finish in 60 s", c.args)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if code != c.exit {
				t.Errorf("exit %d, want %d\nstdout: %.2000s\nstderr: %.2000s", code, c.exit, out.String(), errb.String())
			}
			for _, s := range c.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%.2000s", s, errb.String())
				}
			}
			for _, s := range c.stdout1 {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%.2000s", s, out.String())
				}
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > c.maxAlloc {
				t.Errorf("allocated %d MiB, bound %d MiB", a>>20, c.maxAlloc>>20)
			}
			if elapsed > 30*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
	if data, err := os.ReadFile(crlf); err != nil || !bytes.Contains(data, []byte("IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1\r\n")) || bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("--rewrite changed the line endings: %q %v", data, err)
	}
}
