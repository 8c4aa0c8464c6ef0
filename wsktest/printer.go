package wsktest

import (
	"fmt"
	"io"
)

// Printer is a TB that prints instead of failing a test, for Examples and
// tools: Errorf prints "error: ..." and Fatalf prints "fatal: ..." and
// panics (it stops the code under test, as t.Fatalf does). Finish runs the
// cleanups, last registered first.
type Printer struct {
	W        io.Writer
	cleanups []func()
	failed   bool
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{W: w} }

// Helper does nothing.
func (p *Printer) Helper() {}

// Errorf prints the message.
func (p *Printer) Errorf(format string, args ...any) {
	p.failed = true
	fmt.Fprintf(p.W, "error: "+format+"\n", args...)
}

// Fatalf prints the message and panics.
func (p *Printer) Fatalf(format string, args ...any) {
	p.failed = true
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(p.W, "fatal: %s\n", msg)
	panic("wsktest: " + msg)
}

// Cleanup registers f for Finish.
func (p *Printer) Cleanup(f func()) { p.cleanups = append(p.cleanups, f) }

// Failed reports whether Errorf or Fatalf was called.
func (p *Printer) Failed() bool { return p.failed }

// Finish runs the registered cleanups, last first, and reports whether
// nothing failed.
func (p *Printer) Finish() bool {
	for len(p.cleanups) > 0 {
		f := p.cleanups[len(p.cleanups)-1]
		p.cleanups = p.cleanups[:len(p.cleanups)-1]
		f()
	}
	return !p.failed
}
