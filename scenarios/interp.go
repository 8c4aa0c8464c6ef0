package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// Options configures a run.
type Options struct {
	// Seed seeds the world's chooser, unless the scenario's `seed` command
	// overrides it. Expected output that depends on a choice must pin it.
	Seed uint64
	// Trace, if set, receives the run as wsktrace v1 (sim.Config.Trace).
	Trace io.Writer
	// Chooser, if set, answers choice points instead of the seeded PRNG.
	Chooser sim.Chooser
	// MaxEvents bounds `run` (sim.Config.MaxEvents); 0 means the world's default.
	MaxEvents int
}

// Mismatch is a command whose output differs from the expected output.
type Mismatch struct {
	Pos  string // file:line
	Cmd  string // the command line
	Want string
	Got  string
}

// FirstDifference describes the first differing line of want and got.
func (m Mismatch) FirstDifference() string {
	wl := strings.Split(strings.TrimSuffix(m.Want, "\n"), "\n")
	gl := strings.Split(strings.TrimSuffix(m.Got, "\n"), "\n")
	if m.Want == "" {
		wl = nil
	}
	if m.Got == "" {
		gl = nil
	}
	for k := 0; k < len(wl) || k < len(gl); k++ {
		var w, g string
		if k < len(wl) {
			w = wl[k]
		}
		if k < len(gl) {
			g = gl[k]
		}
		if k >= len(wl) {
			return fmt.Sprintf("%s: %s: output line %d: want nothing, got %q", m.Pos, m.Cmd, k+1, g)
		}
		if k >= len(gl) {
			return fmt.Sprintf("%s: %s: output line %d: want %q, got nothing", m.Pos, m.Cmd, k+1, w)
		}
		if w != g {
			return fmt.Sprintf("%s: %s: output line %d: want %q, got %q", m.Pos, m.Cmd, k+1, w, g)
		}
	}
	return fmt.Sprintf("%s: %s: output differs", m.Pos, m.Cmd)
}

// Result is what a run produced.
type Result struct {
	Name     string
	Seed     uint64 // the seed the world ran with
	Commands int
	// Mismatches lists every command whose output differed from the file.
	Mismatches []Mismatch
	// Outputs holds each command's actual output, in order.
	Outputs []string
	// Steps holds each command's position and text, in order (parallel to Outputs).
	Steps []Mismatch
	// Rewritten is the file with every expected output replaced by the actual one.
	Rewritten string
	// Violations is every violation the verifier recorded, in order.
	Violations []sim.Violation
	// Unchecked are the violations no `violations` or `close` command printed.
	Unchecked []sim.Violation
	// Halted is the bug check that stopped the world, or "".
	Halted string
}

// OK reports whether every command printed its expected output.
func (r *Result) OK() bool { return len(r.Mismatches) == 0 }

// Transcript is every command's actual output, joined: the outcome of the run.
func (r *Result) Transcript() string { return strings.Join(r.Outputs, "\x00") }

// FirstDivergence returns where r's output first differs from other's (same
// file, another seed), or "" when they agree.
func (r *Result) FirstDivergence(other *Result) string {
	for k := range r.Steps {
		if k >= len(other.Steps) {
			break
		}
		if r.Steps[k].Got != other.Steps[k].Got {
			m := r.Steps[k]
			m.Want = other.Steps[k].Got
			return m.FirstDifference()
		}
	}
	return ""
}

// Repro returns the command line that reproduces this run.
func (r *Result) Repro() string { return ReproCommand(r.Name, r.Seed) }

// ReproCommand returns the wsksim command line that runs file under seed.
func ReproCommand(file string, seed uint64) string {
	return fmt.Sprintf("go run ./cmd/wsksim run --seed %d %s", seed, file)
}

// Run parses the scenario read from r and runs it in a fresh world. It returns
// an error (file:line: message) for malformed input or a misused command, and a
// Result listing any command whose output differs from the expected output.
func Run(name string, r io.Reader, opts Options) (*Result, error) {
	s, err := Parse(name, r)
	if err != nil {
		return nil, err
	}
	return RunScript(s, opts)
}

// RunScript runs a parsed script.
func RunScript(s *Script, opts Options) (*Result, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	in := New(s.Name, opts)
	res := &Result{Name: s.Name}
	for _, c := range s.Commands {
		got, err := in.Exec(c)
		if err != nil {
			in.Close()
			return nil, err
		}
		got = normalize(got)
		res.Outputs = append(res.Outputs, got)
		res.Steps = append(res.Steps, Mismatch{Pos: c.Pos(), Cmd: c.Text(), Want: c.Expected, Got: got})
		res.Commands++
		if got != c.Expected {
			res.Mismatches = append(res.Mismatches, Mismatch{Pos: c.Pos(), Cmd: c.Text(), Want: c.Expected, Got: got})
		}
	}
	in.Close()
	res.Seed = in.seed
	res.Rewritten = s.rewrite(res.Outputs)
	if in.w != nil {
		res.Violations = in.w.Violations()
		res.Unchecked = res.Violations[in.seen:]
		if h := in.w.Halted(); h != nil {
			res.Halted = h.Error()
		}
	}
	return res, nil
}

// Check validates every command name and argument name of the script without
// running it.
func (s *Script) Check() error {
	for _, c := range s.Commands {
		if _, err := lookup(c); err != nil {
			return err
		}
	}
	return nil
}

// ---- the command table ----

type command struct {
	name  string
	args  []string // allowed argument keys
	input bool     // takes input lines
	open  bool     // needs an open world
	run   func(*Interp, *Command, *args) error
	help  string // one line
	ex    string // example
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("scenarios: internal: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// CommandInfo describes one command of the language.
type CommandInfo struct {
	Name    string
	Args    []string
	Input   bool
	Help    string
	Example string
}

// Commands returns the language's commands sorted by name.
func Commands() []CommandInfo {
	out := make([]CommandInfo, 0, len(commands))
	for _, c := range commands {
		out = append(out, CommandInfo{Name: c.name, Args: append([]string(nil), c.args...), Input: c.input, Help: c.help, Example: c.ex})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func commandNames() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func lookup(c *Command) (*command, error) {
	cmd, ok := commands[c.Name]
	if !ok {
		return nil, &ParseError{c.File, c.Line, fmt.Sprintf("unknown command %q (expected one of: %s)", c.Name, commandNames())}
	}
	seen := map[string]bool{}
	for _, a := range c.Args {
		if seen[a.Key] {
			return nil, &ParseError{c.File, c.Line, fmt.Sprintf("%s: argument %q given twice", c.Name, a.Key)}
		}
		seen[a.Key] = true
		allowed := false
		for _, k := range cmd.args {
			if k == a.Key {
				allowed = true
				break
			}
		}
		if !allowed {
			exp := "no arguments"
			if len(cmd.args) > 0 {
				exp = "one of: " + strings.Join(cmd.args, ", ")
			}
			return nil, &ParseError{c.File, c.Line, fmt.Sprintf("%s: unknown argument %q (expected %s)", c.Name, a.Key, exp)}
		}
	}
	if c.Input != "" && !cmd.input {
		return nil, &ParseError{c.File, c.Line, fmt.Sprintf("%s: takes no input lines, but lines follow it before ---- (is a ---- missing after line %d?)", c.Name, c.Line)}
	}
	return cmd, nil
}

// ---- the interpreter ----

// Interp runs commands one at a time against one world. The datadriven test
// harness drives it command by command; Run drives it over a whole file.
type Interp struct {
	name string
	opts Options
	seed uint64
	ties *tieRecorder
	// touched are the display names of objects an untraced command touched:
	// a later violation outside any call that names one is a check the
	// trace cannot support.
	touched map[any]bool
	w       *sim.World
	io      *irp.Manager
	out     *strings.Builder
	seen    int // violations already printed
	halt    bool
	hist    []*Command
	names   map[string]any // display and bound names -> objects
	bound   map[any]string // object -> scenario name
	irps    map[*irp.IRP]*irpState
	pools   []*irp.Block
	lends   map[*irp.IRP][]lendRec

	// WFP and WSK (created with the world).
	eng      *wfp.Engine
	prov     *wsk.Provider
	wskCalls map[*irp.IRP]*wskCall // out-parameters shown when the IRP completes
	callouts []*calloutSpec
	counts   map[string]int // harness-side display names (filters, flows, ...)
	ev       *scnEvents     // event callbacks (cmd_events.go)
}

// New returns an interpreter for the scenario called name.
func New(name string, opts Options) *Interp {
	return &Interp{name: name, opts: opts, seed: opts.Seed, out: &strings.Builder{},
		names: map[string]any{}, bound: map[any]string{}, irps: map[*irp.IRP]*irpState{}, lends: map[*irp.IRP][]lendRec{},
		wskCalls: map[*irp.IRP]*wskCall{}, counts: map[string]int{}}
}

// World returns the interpreter's world (created on first use).
func (in *Interp) World() *sim.World { return in.world() }

// Seed returns the seed the world runs (or will run) with.
func (in *Interp) Seed() uint64 { return in.seed }

func (in *Interp) world() *sim.World {
	if in.w == nil {
		var ch sim.Chooser = in.opts.Chooser
		if ch == nil {
			ch = sim.NewPRNG(in.seed) // the world's default chooser
		}
		in.ties = &tieRecorder{inner: ch}
		in.w = sim.NewWorld(sim.Config{Seed: in.seed, Chooser: in.ties, Trace: in.opts.Trace, TraceSource: "wsksim scenario " + path.Base(in.name), MaxEvents: in.opts.MaxEvents})
		in.io = irp.NewManager(in.w)
		in.eng = wfp.NewEngine(in.w)
		p, err := wsk.NewProvider(in.io, wsk.Config{Engine: in.eng})
		if err != nil {
			panic("scenarios: internal: " + err.Error())
		}
		in.prov = p
	}
	return in.w
}

// nextName returns the next harness-side display name of a kind ("flow1").
func (in *Interp) nextName(kind string) string {
	in.counts[kind]++
	return sim.Name(kind, in.counts[kind])
}

// Exec runs one command and returns its output. Errors carry file:line.
func (in *Interp) Exec(c *Command) (string, error) {
	cmd, err := lookup(c)
	if err != nil {
		return "", err
	}
	if cmd.open {
		in.world()
		if in.w.Closed() {
			return "", &ParseError{c.File, c.Line, fmt.Sprintf("%s: the world is closed (only violations and trace may follow close)", c.Name)}
		}
	}
	in.out.Reset()
	a := &args{c: c}
	nv := 0
	if in.w != nil {
		nv = in.w.ViolationCount()
	}
	defer in.unsupported(c, nv)
	if err := cmd.run(in, c, a); err != nil {
		return "", &ParseError{c.File, c.Line, c.Name + ": " + err.Error()}
	}
	if a.err != nil {
		return "", &ParseError{c.File, c.Line, c.Name + ": " + a.err.Error()}
	}
	if c.Name != "trace" {
		in.hist = append(in.hist, c)
	}
	if in.w != nil && !in.halt {
		if h := in.w.Halted(); h != nil {
			in.halt = true
			in.printf("HALTED: %v\n", h)
		}
	}
	return in.out.String(), nil
}

// Close closes the world if the scenario did not (running the leak checks and
// flushing the trace).
func (in *Interp) Close() error {
	if in.w == nil {
		in.world()
	}
	return in.w.Close()
}

// Violations returns the violations recorded but not yet printed.
func (in *Interp) Violations() []sim.Violation {
	if in.w == nil {
		return nil
	}
	return in.w.Violations()[in.seen:]
}

func (in *Interp) printf(format string, a ...any) { fmt.Fprintf(in.out, format, a...) }

// call prints head (-> result) and, indented beneath it, whatever body printed:
// the events that happened during the call (inline completions, nested calls).
func (in *Interp) call(head string, body func() string) {
	saved := in.out
	in.out = &strings.Builder{}
	res := body()
	nested := in.out.String()
	in.out = saved
	if res != "" {
		head += " -> " + res
	}
	in.out.WriteString(head)
	in.out.WriteByte('\n')
	for _, l := range strings.SplitAfter(nested, "\n") {
		if l != "" {
			in.out.WriteString("  ")
			in.out.WriteString(l)
		}
	}
}

// ---- names ----

// bind registers obj under its display name and, if name != "", the scenario's name.
func (in *Interp) bind(display string, obj any, name string) error {
	if old, ok := in.names[display]; ok && old != obj {
		return fmt.Errorf("display name %s is already a scenario name; pick another name", display)
	}
	in.names[display] = obj
	if name == "" {
		return nil
	}
	if name == "NULL" {
		return fmt.Errorf("name=NULL: NULL is reserved")
	}
	if old, ok := in.names[name]; ok && old != obj {
		return fmt.Errorf("name %q is already bound", name)
	}
	in.names[name] = obj
	in.bound[obj] = name
	return nil
}

// shown formats a display name with its scenario name: "irp1 (out)".
func (in *Interp) shown(display string, obj any) string {
	if n, ok := in.bound[obj]; ok {
		return display + " (" + n + ")"
	}
	return display
}

func (in *Interp) object(name string) (any, bool) {
	o, ok := in.names[name]
	return o, ok
}

// ---- the trace command's replay ----

func (in *Interp) traceSoFar() (string, error) {
	var buf bytes.Buffer
	sh := New(in.name, Options{Seed: in.opts.Seed, Chooser: nil, Trace: &buf, MaxEvents: in.opts.MaxEvents})
	if in.opts.Chooser != nil {
		return "", fmt.Errorf("the trace of a run with a custom chooser cannot be replayed; use --trace")
	}
	for _, c := range in.hist {
		if _, err := sh.Exec(c); err != nil {
			return "", err
		}
	}
	if err := sh.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// tieRecorder passes every choice to the world's chooser and keeps the answers
// to wfp.filter-tie, which the trace's env filter carries (docs/wsktrace.md).
type tieRecorder struct {
	inner sim.Chooser
	ties  []int
}

func (t *tieRecorder) Choose(label string, n int) int {
	v := t.inner.Choose(label, n)
	if label == wfp.ChoiceFilterTie && len(t.ties) < 64 {
		t.ties = append(t.ties, v)
	}
	return v
}

// untraced are the commands whose effect on the model no wsktrace v1 event
// shows: the driver touching its own memory (a pool block, a redirect
// context, a records blob), the stand-in provider writing a lent buffer, a
// flow's end.
var untraced = map[string]bool{"write-pool": true, "read-pool": true, "provider-deliver": true,
	"callout-context": true, "end-flow": true, "records-copy": true, "records-decode": true, "records-forge": true, "records-corrupt": true}

// unsupported writes, for each violation a command recorded outside any
// traced call (seq 0: the scenario touched driver memory, a callout's context,
// a records blob... directly, which wsktrace v1 cannot express: untraced), a
// note that a replay reports as a check the trace cannot support
// (docs/wsktrace.md). The note takes a seq whether or not a trace is written.
func (in *Interp) unsupported(c *Command, from int) {
	if in.w == nil || (!untraced[c.Name] && len(in.touched) == 0) {
		return
	}
	vs := in.w.Violations()
	if from > len(vs) {
		return
	}
	for _, v := range vs[from:] {
		if v.Seq != 0 {
			continue
		}
		switch {
		case untraced[c.Name]:
			in.w.TraceNote(fmt.Sprintf("unsupported check: %s: the scenario's %s broke it outside any call the trace shows", v.Rule, c.Name))
		case in.touchedAny(v.Objects):
			in.w.TraceNote(fmt.Sprintf("unsupported check: %s: found by %s on %s, which a command the trace does not show touched", v.Rule, c.Name, strings.Join(v.Objects, " ")))
		}
	}
	if untraced[c.Name] {
		if in.touched == nil {
			in.touched = map[any]bool{}
		}
		for _, a := range c.Args {
			for _, val := range a.Vals {
				for _, v := range strings.FieldsFunc(val, func(r rune) bool { return r == '(' || r == ')' || r == ':' || r == ',' }) {
					if o, ok := in.names[v]; ok && o != nil && reflect.TypeOf(o).Comparable() && len(in.touched) < 4096 {
						in.touched[o] = true
					}
				}
			}
		}
	}
}

func (in *Interp) touchedAny(names []string) bool {
	for _, n := range names {
		if o, ok := in.names[n]; ok && o != nil && reflect.TypeOf(o).Comparable() && in.touched[o] {
			return true
		}
	}
	return false
}
