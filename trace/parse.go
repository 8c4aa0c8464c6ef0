package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsksim/wsksim/nt"
)

// EventKind is the "ev" of an event.
type EventKind uint8

// Event kinds.
const (
	EvCall EventKind = iota + 1
	EvReturn
	EvComplete
	EvEnv
	EvNote
	EvCallback       // the provider calls a driver's event callback (evparse.go)
	EvCallbackReturn // and it returns
)

var evNames = map[string]EventKind{"call": EvCall, "return": EvReturn, "complete": EvComplete, "env": EvEnv, "note": EvNote, "callback": EvCallback, "callback_return": EvCallbackReturn}

func (k EventKind) String() string {
	for n, v := range evNames {
		if v == k {
			return n
		}
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Header is line 1 of a trace.
type Header struct {
	Version int    // "wsktrace": always 1
	Source  string // free text
	Profile string // behaviour profile; "default" when absent
	// AllCompletions: the header's "completions":"all" (extension): every
	// completion of an IRP is in the trace, as a complete or an env
	// irp_completed, so one not shown has not happened.
	AllCompletions bool
}

// Event is one parsed event line. Which fields are set depends on Kind.
type Event struct {
	Line int
	Seq  uint64
	Kind EventKind

	// call
	Fn      string
	Args    []Arg // in trace order; Arg looks one up
	IRQL    nt.IRQL
	HasIRQL bool

	// return
	Call      uint64 // the seq of the call this returns from
	HasStatus bool
	Status    nt.Status // return and complete
	HasValue  bool
	Value     Value
	Out       []Arg // return and complete

	// complete
	IRP                string
	Information        Value
	HasPendingReturned bool
	PendingReturned    bool
	RoutineReturned    nt.Status // STATUS_MORE_PROCESSING_REQUIRED when absent
	// irpBusy: a call naming an IRP another call still holds (it cannot
	// take it; the completion that follows is the holder's).
	irpBusy bool
	// RoutineEnd is the seq of the last event the completion routine caused
	// (extension "routine_end"; 0: it made no call the trace shows).
	RoutineEnd uint64
	IRQLSet    bool // complete: "irql" given (an extension)

	// env
	What   string
	Fields []Arg

	// note
	Text string

	spec *fnSpec // call, return: the function
}

// Arg returns the argument (call), field (env) or out-parameter named name.
func (e *Event) Arg(name string) (Value, bool) {
	for _, l := range [][]Arg{e.Args, e.Fields, e.Out} {
		for _, a := range l {
			if a.Name == name {
				return a.Val, true
			}
		}
	}
	return Value{}, false
}

// OutArg returns the out-parameter named name.
func (e *Event) OutArg(name string) (Value, bool) {
	for _, a := range e.Out {
		if a.Name == name {
			return a.Val, true
		}
	}
	return Value{}, false
}

// Limits of the parser; they bound memory whatever the trace says.
const (
	MaxLineBytes  = 8 << 20 // longest line accepted
	maxOpenCalls  = 1 << 16 // calls without their return yet
	maxVoidOpen   = 64      // VOID calls whose optional return may still come
	maxDeadNames  = 4096    // freed names remembered, so use after free is a violation not an unbound name
	maxLiveNames  = 1 << 21 // names bound and alive
	maxNestDepth  = 8
	maxNameLength = 256
)

type nameInfo struct {
	kind   string
	live   bool
	parent string // registration a client was captured from
}

type openCall struct {
	spec *fnSpec
	irp  string
	line int
}

// Parser reads a wsktrace v1 stream event by event. Memory use is bounded by
// the objects alive in the trace, never by numbers in it.
type Parser struct {
	r        *bufio.Reader
	line     int
	hdr      *Header
	err      error
	lastSeq  uint64
	names    map[string]*nameInfo
	dead     []string
	deadPos  int
	open     map[uint64]openCall
	voidOpen []uint64
	irpCall  map[string]*fnSpec
	// irpPrev is the call an IRP was given to before irpCall's: a driver
	// that passes an IRP still in flight to another call (refused by the
	// provider) sees the earlier call's completion.
	irpPrev map[string]*fnSpec
	// irpHeld is, for an IRP a call holds (it returned STATUS_PENDING, or
	// has not returned, and no complete has shown it back), that call's seq:
	// a later call naming the IRP cannot take it.
	irpHeld   map[string]uint64
	irpHeldBy map[uint64]string
	buf       []byte
	fields    []field            // arena of the current line's scanned fields (p.scan)
	cbOpen    map[uint64]*fnSpec // callbacks without their callback_return (evparse.go)
}

// NewParser returns a parser reading r.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReaderSize(r, 64<<10), names: map[string]*nameInfo{}, open: map[uint64]openCall{}, irpCall: map[string]*fnSpec{}, irpPrev: map[string]*fnSpec{}, irpHeld: map[string]uint64{}, irpHeldBy: map[uint64]string{}}
}

// readLine returns the next line without its newline; io.EOF at the end.
func (p *Parser) readLine() ([]byte, error) {
	p.buf = p.buf[:0]
	for {
		chunk, err := p.r.ReadSlice('\n')
		if len(p.buf)+len(chunk) > MaxLineBytes {
			p.line++
			return nil, errAt(p.line, MaxLineBytes, "line longer than "+strconv.Itoa(MaxLineBytes)+" bytes")
		}
		p.buf = append(p.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(p.buf) > 0 {
			err = nil
		}
		if err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, &Error{Line: p.line + 1, Column: 1, Msg: "read: " + err.Error()}
		}
		p.line++
		b := bytes.TrimSuffix(p.buf, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		if !utf8.Valid(b) {
			return nil, errAt(p.line, invalidUTF8At(b)+1, "invalid UTF-8: a trace is UTF-8 JSON Lines")
		}
		return b, nil
	}
}

func blank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// invalidUTF8At returns the offset of the first byte of b that does not start
// a valid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Header reads (once) and returns the header line.
func (p *Parser) Header() (Header, error) {
	if p.hdr != nil {
		return *p.hdr, nil
	}
	if p.err != nil {
		return Header{}, p.err
	}
	var line []byte
	var err error
	for {
		line, err = p.readLine()
		if err == io.EOF {
			p.err = errAt(1, 1, "empty trace: want a header line {\"wsktrace\":1,...}")
			return Header{}, p.err
		}
		if err != nil {
			p.err = err
			return Header{}, err
		}
		if !blank(line) {
			break
		}
	}
	h, perr := parseHeader(p.line, line)
	if perr != nil {
		p.err = perr
		return Header{}, perr
	}
	p.hdr = &h
	return h, nil
}

func parseHeader(ln int, line []byte) (Header, *Error) {
	fs, err := scanObject(ln, line, 1)
	if err != nil {
		return Header{}, err
	}
	h := Header{Profile: "default"}
	seen := false
	for _, f := range fs {
		switch f.key {
		case "wsktrace":
			u, e := intOnly(ln, f)
			if e != nil {
				return h, e
			}
			if u != 1 {
				return h, errAt(ln, f.vcol, "unsupported wsktrace version "+strconv.FormatUint(u, 10)+" (this reader knows version 1)")
			}
			h.Version, seen = 1, true
		case "source":
			s, ok := rawString(f.val)
			if !ok {
				return h, errAt(ln, f.vcol, `"source" must be a string`)
			}
			h.Source = s
		case "profile":
			s, ok := rawString(f.val)
			if !ok || s == "" {
				return h, errAt(ln, f.vcol, `"profile" must be a non-empty string`)
			}
			h.Profile = s
		case "completions":
			s, ok := rawString(f.val)
			if !ok || s != "all" {
				return h, errAt(ln, f.vcol, `"completions" must be "all"`)
			}
			h.AllCompletions = true
		case "seq", "ev":
			return h, errAt(ln, f.kcol, "line 1 must be the header {\"wsktrace\":1,...}, not an event")
		}
	}
	if !seen {
		return h, errAt(ln, 1, `header has no "wsktrace" version`)
	}
	return h, nil
}

func intOnly(ln int, f field) (uint64, *Error) {
	if len(f.val) == 0 || !(f.val[0] == '-' || (f.val[0] >= '0' && f.val[0] <= '9')) {
		return 0, errAt(ln, f.vcol, strconv.Quote(f.key)+" must be a number, got "+describeRaw(f.val))
	}
	u, msg := parseUintLiteral(string(f.val))
	if msg != "" || f.val[0] == '-' {
		if msg == "" {
			msg = "must not be negative"
		}
		return 0, errAt(ln, f.vcol, strconv.Quote(f.key)+": "+msg)
	}
	return u, nil
}

// Next returns the next event, io.EOF after the last one, or an *Error.
// After an error every later call returns the same error.
func (p *Parser) Next() (*Event, error) {
	if p.hdr == nil {
		if _, err := p.Header(); err != nil {
			return nil, err
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	for {
		line, err := p.readLine()
		if err != nil {
			if err != io.EOF {
				p.err = err
			}
			return nil, err
		}
		if blank(line) {
			continue
		}
		ev, perr := p.parseEvent(line)
		if perr != nil {
			p.err = perr
			return nil, perr
		}
		return ev, nil
	}
}

// Line returns the number of the last line read.
func (p *Parser) Line() int { return p.line }

var commonKeys = map[EventKind]map[string]bool{
	EvCall:           {"seq": true, "ev": true, "fn": true, "args": true, "irql": true},
	EvReturn:         {"seq": true, "ev": true, "call": true, "status": true, "value": true, "out": true},
	EvComplete:       {"seq": true, "ev": true, "irp": true, "status": true, "information": true, "out": true, "pending_returned": true, "routine_returned": true, "irql": true, "routine_end": true},
	EvEnv:            {"seq": true, "ev": true, "what": true},
	EvNote:           {"seq": true, "ev": true, "text": true},
	EvCallback:       {"seq": true, "ev": true, "fn": true, "args": true, "irql": true},
	EvCallbackReturn: {"seq": true, "ev": true, "call": true, "status": true, "out": true},
}

func (p *Parser) parseEvent(line []byte) (*Event, *Error) {
	ln := p.line
	p.fields = p.fields[:0] // no field of an earlier line is still in use
	fs, err := p.scan(ln, line, 1)
	if err != nil {
		return nil, err
	}
	ev := &Event{Line: ln, RoutineReturned: nt.STATUS_MORE_PROCESSING_REQUIRED}
	get := func(k string) *field {
		for i := range fs {
			if fs[i].key == k {
				return &fs[i]
			}
		}
		return nil
	}
	sf := get("seq")
	if sf == nil {
		return nil, errAt(ln, 1, `event has no "seq"`)
	}
	seq, e := intOnly(ln, *sf)
	if e != nil {
		return nil, e
	}
	if seq == 0 {
		return nil, errAt(ln, sf.vcol, `"seq" must be positive`)
	}
	if seq <= p.lastSeq {
		return nil, errAt(ln, sf.vcol, "seq "+strconv.FormatUint(seq, 10)+" is not above the previous seq "+strconv.FormatUint(p.lastSeq, 10))
	}
	ev.Seq = seq
	evf := get("ev")
	if evf == nil {
		return nil, errAt(ln, 1, `event has no "ev"`)
	}
	evs, ok := rawString(evf.val)
	if !ok {
		return nil, errAt(ln, evf.vcol, `"ev" must be a string`)
	}
	ev.Kind = evNames[evs]
	if ev.Kind == 0 {
		return nil, errAt(ln, evf.vcol, "unknown event kind "+strconv.Quote(evs)+" (want call, return, complete, env, note, callback or callback_return)")
	}
	allowed := commonKeys[ev.Kind]
	var envSp *envSpec
	if ev.Kind == EvEnv {
		wf := get("what")
		if wf == nil {
			return nil, errAt(ln, 1, `env event has no "what"`)
		}
		w, ok := rawString(wf.val)
		if !ok {
			return nil, errAt(ln, wf.vcol, `"what" must be a string`)
		}
		envSp = envKinds[w]
		if envSp == nil {
			return nil, errAt(ln, wf.vcol, "unknown env kind "+strconv.Quote(w)+" (want "+strings.Join(envNames(), ", ")+")")
		}
		ev.What = w
	}
	for _, f := range fs {
		if allowed[f.key] {
			continue
		}
		if envSp != nil {
			if _, ok := findParam(envSp.fields, f.key); ok {
				continue
			}
		}
		return nil, errAt(ln, f.kcol, "unknown key "+strconv.Quote(f.key)+" in a "+evs+" event")
	}
	var perr *Error
	switch ev.Kind {
	case EvCall:
		perr = p.parseCall(ev, get)
	case EvReturn:
		perr = p.parseReturn(ev, get)
	case EvComplete:
		perr = p.parseComplete(ev, get)
	case EvCallback:
		perr = p.parseCallback(ev, get)
	case EvCallbackReturn:
		perr = p.parseCallbackReturn(ev, get)
	case EvEnv:
		perr = p.parseEnv(ev, envSp, fs)
	case EvNote:
		tf := get("text")
		if tf == nil {
			return nil, errAt(ln, 1, `note has no "text"`)
		}
		s, ok := rawString(tf.val)
		if !ok {
			return nil, errAt(ln, tf.vcol, `"text" must be a string`)
		}
		ev.Text = s
	}
	if perr != nil {
		return nil, perr
	}
	p.lastSeq = seq
	return ev, nil
}

func envNames() []string {
	out := make([]string, 0, len(envKinds))
	for n := range envKinds {
		out = append(out, n)
	}
	sortStrings(out)
	return out
}

func findParam(ps []param, name string) (*param, bool) {
	for k := range ps {
		if ps[k].name == name {
			return &ps[k], true
		}
	}
	return nil, false
}

func (p *Parser) parseCall(ev *Event, get func(string) *field) *Error {
	ln := ev.Line
	ff := get("fn")
	if ff == nil {
		return errAt(ln, 1, `call has no "fn"`)
	}
	fn, ok := rawString(ff.val)
	if !ok {
		return errAt(ln, ff.vcol, `"fn" must be a string`)
	}
	spec := functions[fn]
	if spec == nil {
		return errAt(ln, ff.vcol, "unknown function "+strconv.Quote(fn))
	}
	ev.Fn, ev.spec = fn, spec
	if f := get("irql"); f != nil {
		s, ok := rawString(f.val)
		if !ok {
			return errAt(ln, f.vcol, `"irql" must be an IRQL name such as "DISPATCH_LEVEL"`)
		}
		l, err := nt.ParseIRQL(s)
		if err != nil {
			return errAt(ln, f.vcol, "unknown IRQL "+strconv.Quote(s))
		}
		ev.IRQL, ev.HasIRQL = l, true
	}
	af := get("args")
	var binds []pendingBind
	if af != nil {
		fs, err := p.scan(ln, af.val, af.vcol)
		if err != nil {
			if len(af.val) > 0 && af.val[0] != '{' {
				return errAt(ln, af.vcol, `"args" must be an object`)
			}
			return err
		}
		for _, f := range fs {
			pp, ok := findParam(spec.args, f.key)
			if !ok {
				return errAt(ln, f.kcol, fn+" has no parameter "+strconv.Quote(f.key)+" (parameters: "+paramNames(spec.args)+")")
			}
			v, err := p.value(ln, f, pp, &binds, 0)
			if err != nil {
				return err
			}
			ev.Args = append(ev.Args, Arg{Name: f.key, Val: v})
		}
	}
	if err := p.commit(ln, binds); err != nil {
		return err
	}
	// Bookkeeping: which call each IRP was given to, open calls, frees.
	var irpName string
	if v, ok := ev.Arg("Irp"); ok && v.Kind == Name {
		irpName = v.Name
		_, held := p.irpHeld[irpName]
		ev.irpBusy = held
		if spec.info.kind == pInfo && !held {
			if old := p.irpCall[irpName]; old != nil && old != spec {
				p.irpPrev[irpName] = old
			}
			p.irpCall[irpName] = spec
			if len(p.irpHeld) < maxLiveNames {
				p.irpHeld[irpName] = ev.Seq
				p.irpHeldBy[ev.Seq] = irpName
			}
		}
	}
	if spec.ret == retVoid {
		if len(p.voidOpen) >= maxVoidOpen {
			delete(p.open, p.voidOpen[0])
			p.voidOpen = p.voidOpen[1:]
		}
		p.voidOpen = append(p.voidOpen, ev.Seq)
	} else if len(p.open) >= maxOpenCalls {
		return errAt(ln, 1, "more than "+strconv.Itoa(maxOpenCalls)+" calls without a return")
	}
	p.open[ev.Seq] = openCall{spec: spec, irp: irpName, line: ln}
	for _, pa := range spec.args {
		if !pa.frees {
			continue
		}
		if v, ok := ev.Arg(pa.name); ok && v.Kind == Name {
			p.kill(v.Name)
			if spec.name == "WskDeregister" {
				p.killChildren(v.Name)
			}
		}
	}
	if spec.name == "WskReleaseProviderNPI" {
		if v, ok := ev.Arg("WskRegistration"); ok && v.Kind == Name {
			p.killChildren(v.Name)
		}
	}
	return nil
}

func paramNames(ps []param) string {
	n := make([]string, len(ps))
	for i, pp := range ps {
		n[i] = pp.name
	}
	return strings.Join(n, ", ")
}

func (p *Parser) parseReturn(ev *Event, get func(string) *field) *Error {
	ln := ev.Line
	cf := get("call")
	if cf == nil {
		return errAt(ln, 1, `return has no "call"`)
	}
	cs, err := intOnly(ln, *cf)
	if err != nil {
		return err
	}
	oc, ok := p.open[cs]
	if !ok {
		return errAt(ln, cf.vcol, "return for seq "+strconv.FormatUint(cs, 10)+", which is not a call still waiting for its return")
	}
	ev.Call, ev.spec, ev.Fn = cs, oc.spec, oc.spec.name
	spec := oc.spec
	sf, vf := get("status"), get("value")
	switch spec.ret {
	case retStatus:
		if vf != nil {
			return errAt(ln, vf.kcol, spec.name+" returns an NTSTATUS: use \"status\", not \"value\"")
		}
		if sf == nil {
			return errAt(ln, 1, "return of "+spec.name+" has no \"status\"")
		}
	case retValue:
		if sf != nil {
			return errAt(ln, sf.kcol, spec.name+" does not return an NTSTATUS: use \"value\"")
		}
		if vf == nil {
			return errAt(ln, 1, "return of "+spec.name+" has no \"value\"")
		}
	case retVoid:
		if sf != nil || vf != nil {
			f := sf
			if f == nil {
				f = vf
			}
			return errAt(ln, f.kcol, spec.name+" is VOID: its return has no status or value")
		}
	}
	var binds []pendingBind
	if sf != nil {
		s, e := p.status(ln, *sf)
		if e != nil {
			return e
		}
		ev.Status, ev.HasStatus = s, true
		if name, ok := p.irpHeldBy[cs]; ok {
			delete(p.irpHeldBy, cs)
			if s != nt.STATUS_PENDING && p.irpHeld[name] == cs {
				// The call did not keep its IRP (it completed inline, or
				// was refused).
				delete(p.irpHeld, name)
			}
		}
	}
	if vf != nil {
		v, e := p.value(ln, *vf, &spec.value, &binds, 0)
		if e != nil {
			return e
		}
		ev.Value, ev.HasValue = v, true
	}
	if of := get("out"); of != nil {
		out, e := p.outs(ln, *of, spec.out, spec.name+" return", &binds)
		if e != nil {
			return e
		}
		ev.Out = out
	}
	if err := p.commit(ln, binds); err != nil {
		return err
	}
	delete(p.open, cs)
	if spec.ret == retVoid {
		for k, s := range p.voidOpen {
			if s == cs {
				p.voidOpen = append(p.voidOpen[:k], p.voidOpen[k+1:]...)
				break
			}
		}
	}
	return nil
}

func (p *Parser) outs(ln int, f field, ps []param, what string, binds *[]pendingBind) ([]Arg, *Error) {
	fs, err := p.scan(ln, f.val, f.vcol)
	if err != nil {
		return nil, err
	}
	var out []Arg
	for _, g := range fs {
		pp, ok := findParam(ps, g.key)
		if !ok {
			if len(ps) == 0 {
				return nil, errAt(ln, g.kcol, what+" has no out-parameters")
			}
			return nil, errAt(ln, g.kcol, what+" has no out-parameter "+strconv.Quote(g.key)+" (out-parameters: "+paramNames(ps)+")")
		}
		v, e := p.value(ln, g, pp, binds, 0)
		if e != nil {
			return nil, e
		}
		out = append(out, Arg{Name: g.key, Val: v})
	}
	return out, nil
}

func (p *Parser) status(ln int, f field) (nt.Status, *Error) {
	if s, ok := rawString(f.val); ok {
		st, err := nt.ParseStatus(s)
		if err != nil {
			return 0, errAt(ln, f.vcol, "unknown NTSTATUS "+strconv.Quote(s))
		}
		return st, nil
	}
	if len(f.val) > 0 && f.val[0] >= '0' && f.val[0] <= '9' {
		u, msg := parseUintLiteral(string(f.val))
		if msg == "" && u <= 0xFFFFFFFF {
			return nt.Status(u), nil
		}
	}
	return 0, errAt(ln, f.vcol, strconv.Quote(f.key)+" must be an NTSTATUS name or \"0x…\", got "+describeRaw(f.val))
}

// completeValues reads a complete's information and out as the completion of
// a call of spec (nil: unknown).
func (p *Parser) completeValues(ev *Event, spec *fnSpec, get func(string) *field, binds *[]pendingBind) *Error {
	ln := ev.Line
	ev.Fn = ""
	if spec != nil {
		ev.Fn = spec.name
	}
	ev.Information = Value{Kind: Int}
	ev.Out = nil
	if f := get("information"); f != nil {
		ip := param{name: "information", kind: pInfo}
		if spec != nil {
			ip = spec.info
		}
		v, e := p.value(ln, *f, &ip, binds, 0)
		if e != nil {
			return e
		}
		ev.Information = v
	}
	if f := get("out"); f != nil {
		var ps []param
		what := "the completion of " + ev.IRP
		if spec != nil {
			ps = spec.cout
			what = "the completion of " + spec.name
		}
		out, e := p.outs(ln, *f, ps, what, binds)
		if e != nil {
			return e
		}
		ev.Out = out
	}
	return nil
}

func (p *Parser) parseComplete(ev *Event, get func(string) *field) *Error {
	ln := ev.Line
	irf := get("irp")
	if irf == nil {
		return errAt(ln, 1, `complete has no "irp"`)
	}
	var binds []pendingBind
	iv, err := p.value(ln, *irf, &param{name: "irp", kind: pObj, obj: ObjIRP}, &binds, 0)
	if err != nil {
		return err
	}
	if iv.Kind != Name {
		return errAt(ln, irf.vcol, `"irp" must name an IRP`)
	}
	ev.IRP = iv.Name
	sf := get("status")
	if sf == nil {
		return errAt(ln, 1, `complete has no "status"`)
	}
	s, err := p.status(ln, *sf)
	if err != nil {
		return err
	}
	ev.Status, ev.HasStatus = s, true
	spec := p.irpCall[ev.IRP]
	delete(p.irpHeld, ev.IRP)
	bindsBefore := len(binds)
	e := p.completeValues(ev, spec, get, &binds)
	if prev := p.irpPrev[ev.IRP]; e != nil && prev != nil && spec != nil {
		// The completion of the call the IRP was given to before (a later
		// call, refused, named the IRP while it was in flight).
		binds = binds[:bindsBefore]
		if p.completeValues(ev, prev, get, &binds) == nil {
			e = nil
		}
	}
	if e != nil {
		return e
	}
	if f := get("pending_returned"); f != nil {
		switch string(f.val) {
		case "true", "false":
			ev.HasPendingReturned, ev.PendingReturned = true, string(f.val) == "true"
		default:
			return errAt(ln, f.vcol, `"pending_returned" must be true or false`)
		}
	}
	if f := get("routine_returned"); f != nil {
		s, e := p.status(ln, *f)
		if e != nil {
			return e
		}
		ev.RoutineReturned = s
	}
	if f := get("routine_end"); f != nil {
		u, e := intOnly(ln, *f)
		if e != nil {
			return e
		}
		if u <= ev.Seq {
			return errAt(ln, f.vcol, `"routine_end" must be a seq after the complete's own`)
		}
		ev.RoutineEnd = u
	}
	if f := get("irql"); f != nil {
		s, ok := rawString(f.val)
		l, e := nt.ParseIRQL(s)
		if !ok || e != nil {
			return errAt(ln, f.vcol, `"irql" must be an IRQL name such as "DISPATCH_LEVEL"`)
		}
		ev.IRQL, ev.IRQLSet = l, true
	}
	return p.commit(ln, binds)
}

func (p *Parser) parseEnv(ev *Event, sp *envSpec, fs []field) *Error {
	ln := ev.Line
	var binds []pendingBind
	for _, f := range fs {
		if f.key == "seq" || f.key == "ev" || f.key == "what" {
			continue
		}
		pp, _ := findParam(sp.fields, f.key)
		v, err := p.value(ln, f, pp, &binds, 0)
		if err != nil {
			return err
		}
		ev.Fields = append(ev.Fields, Arg{Name: f.key, Val: v})
	}
	for _, pp := range sp.fields {
		if !pp.req {
			continue
		}
		if v, ok := ev.Arg(pp.name); !ok || v.Kind == Null {
			return errAt(ln, 1, "env "+sp.what+" needs "+strconv.Quote(pp.name))
		}
	}
	if err := p.commit(ln, binds); err != nil {
		return err
	}
	for _, pp := range sp.fields {
		if pp.frees {
			if v, ok := ev.Arg(pp.name); ok && v.Kind == Name {
				p.kill(v.Name)
			}
		}
	}
	return nil
}

// ---- names ----

type pendingBind struct {
	name   string
	kind   string
	col    int
	parent string
}

func (p *Parser) commit(ln int, binds []pendingBind) *Error {
	for k, b := range binds {
		for _, o := range binds[:k] {
			if o.name == b.name {
				return errAt(ln, b.col, "name "+strconv.Quote(b.name)+" bound twice in one event")
			}
		}
		if ni := p.names[b.name]; ni != nil && ni.live {
			return errAt(ln, b.col, "name "+strconv.Quote(b.name)+" is already bound to a live "+ni.kind+" (names may be bound again only after the object is freed)")
		}
	}
	for _, b := range binds {
		if len(p.names) >= maxLiveNames {
			return errAt(ln, b.col, "more than "+strconv.Itoa(maxLiveNames)+" names alive")
		}
		p.names[b.name] = &nameInfo{kind: b.kind, live: true, parent: b.parent}
	}
	return nil
}

func (p *Parser) kill(name string) {
	ni := p.names[name]
	if ni == nil || !ni.live {
		return
	}
	ni.live = false
	if len(p.dead) < maxDeadNames {
		p.dead = append(p.dead, name)
		return
	}
	old := p.dead[p.deadPos]
	if o := p.names[old]; o != nil && !o.live {
		delete(p.names, old)
	}
	p.dead[p.deadPos] = name
	p.deadPos = (p.deadPos + 1) % maxDeadNames
}

func (p *Parser) killChildren(parent string) {
	var kids []string
	for n, ni := range p.names {
		if ni.live && ni.parent == parent {
			kids = append(kids, n)
		}
	}
	sortStrings(kids)
	for _, k := range kids {
		p.kill(k)
	}
}

// BoundKind returns the kind a name was bound with and whether it is alive.
func (p *Parser) BoundKind(name string) (kind string, live, ok bool) {
	ni := p.names[name]
	if ni == nil {
		return "", false, false
	}
	return ni.kind, ni.live, true
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLength {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == '"' || c == '\\' || c == 0x7f {
			return false
		}
	}
	return true
}

// ---- values ----

func (p *Parser) value(ln int, f field, pp *param, binds *[]pendingBind, depth int) (Value, *Error) {
	raw, col := f.val, f.vcol
	v := Value{Col: col}
	bad := func(want string) (Value, *Error) {
		return v, errAt(ln, col, strconv.Quote(f.key)+" must be "+want+", got "+describeRaw(raw))
	}
	if depth > maxNestDepth {
		return v, errAt(ln, col, "nested too deeply")
	}
	isNull := string(raw) == "null"
	switch pp.kind {
	case pInt, pEnum:
		if pp.name == "Tag" && pp.kind == pInt {
			return tagValue(ln, f, v)
		}
		if isNull && pp.null {
			return v, nil
		}
		if isNull {
			return bad("an integer or constant")
		}
		if s, ok := rawString(raw); ok {
			if u, ok := parseHex(s); ok {
				v.Kind, v.U = Int, u
				return v, nil
			}
			if pp.kind == pEnum {
				for i, e := range pp.enum {
					if e == s {
						v.Kind, v.U, v.Name = Text, uint64(i), s
						return v, nil
					}
				}
				return v, errAt(ln, col, "unknown "+pp.name+" "+strconv.Quote(s)+" (want one of "+strings.Join(pp.enum, ", ")+")")
			}
			u, ok := lookupConstant(s)
			if !ok {
				return v, errAt(ln, col, "unknown constant "+strconv.Quote(s)+" for "+strconv.Quote(f.key))
			}
			v.Kind, v.U, v.Name = Int, u, s
			return v, nil
		}
		if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
			u, msg := parseUintLiteral(string(raw))
			if msg != "" {
				return v, errAt(ln, col, strconv.Quote(f.key)+": "+msg)
			}
			v.Kind, v.U = Int, u
			if pp.kind == pEnum {
				v.Kind = Text
				if u < uint64(len(pp.enum)) {
					v.Name = pp.enum[u]
				} else {
					return v, errAt(ln, col, "unknown "+pp.name+" "+strconv.FormatUint(u, 10))
				}
			}
			return v, nil
		}
		return bad("an integer or constant")
	case pBool:
		switch string(raw) {
		case "true", "false":
			v.Kind, v.B = Bool, string(raw) == "true"
			return v, nil
		}
		return bad("true or false")
	case pStatus:
		s, err := p.status(ln, f)
		if err != nil {
			return v, err
		}
		v.Kind, v.St = Status, s
		return v, nil
	case pIRQL:
		s, ok := rawString(raw)
		l, err := nt.ParseIRQL(s)
		if !ok || err != nil {
			return bad("an IRQL name")
		}
		v.Kind, v.U, v.Name = Int, uint64(l), s
		return v, nil
	case pOutPtr:
		switch string(raw) {
		case "true":
			v.Kind, v.B = Bool, true
			return v, nil
		case "null":
			return v, nil
		}
		return bad("true (a non-NULL pointer) or null")
	case pObj, pPtr:
		if isNull {
			return v, nil
		}
		if pp.kind == pPtr && string(raw) == "true" {
			v.Kind, v.B = Bool, true
			return v, nil
		}
		s, ok := rawString(raw)
		if !ok {
			if pp.kind == pPtr {
				return bad("null, true or a bound name")
			}
			return bad("the name of a " + pp.obj + " or null")
		}
		ni := p.names[s]
		if ni == nil && pp.obj == ObjClassify {
			// A classify handle is a UINT64: one the trace never bound
			// (already released, or made up) may be given as its value.
			if u, ok := parseHex(s); ok {
				v.Kind, v.U = Int, u
				return v, nil
			}
		}
		if ni == nil {
			return v, errAt(ln, col, "unbound name "+strconv.Quote(s))
		}
		if pp.kind == pObj && ni.kind != pp.obj {
			return v, errAt(ln, col, strconv.Quote(s)+" is "+article(ni.kind)+"; "+strconv.Quote(f.key)+" needs "+article(pp.obj))
		}
		v.Kind, v.Name = Name, s
		return v, nil
	case pProc:
		if isNull {
			return v, nil
		}
		if string(raw) == "true" {
			v.Kind, v.B = Bool, true
			return v, nil
		}
		if len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
			return p.value(ln, f, &param{name: pp.name, kind: pInt}, binds, depth+1)
		}
		if s, ok := rawString(raw); ok {
			if u, ok := parseHex(s); ok {
				v.Kind, v.U = Int, u
				return v, nil
			}
			ni := p.names[s]
			if ni == nil {
				return v, errAt(ln, col, "unbound name "+strconv.Quote(s))
			}
			if ni.kind != ObjProcess {
				return v, errAt(ln, col, strconv.Quote(s)+" is "+article(ni.kind)+"; "+strconv.Quote(f.key)+" needs a process (env process) or a PID")
			}
			v.Kind, v.Name = Name, s
			return v, nil
		}
		return bad("null, true, a process name or a PID")
	case pLoose:
		if isNull {
			return v, nil
		}
		if string(raw) == "true" {
			v.Kind, v.B = Bool, true
			return v, nil
		}
		if s, ok := rawString(raw); ok {
			if s == "" || len(s) > maxNameLength {
				return bad("a label")
			}
			v.Kind, v.Name = Text, s
			return v, nil
		}
		if len(raw) > 0 && raw[0] == '{' {
			fs, err := p.scan(ln, raw, col)
			if err != nil {
				return v, err
			}
			if len(fs) == 1 && fs[0].key == "bind" && pp.obj != "" {
				s, ok := rawString(fs[0].val)
				if !ok || !validName(s) {
					return v, errAt(ln, fs[0].vcol, `"bind" must be a name (no spaces, quotes or backslashes)`)
				}
				*binds = append(*binds, pendingBind{name: s, kind: pp.obj, col: fs[0].vcol})
				v.Kind, v.Name = Bind, s
				return v, nil
			}
			return p.buffer(ln, f, fs, v)
		}
		return bad("null, true, a label, a buffer or {\"bind\":\"name\"}")
	case pLabel:
		s, ok := rawString(raw)
		if !ok || !validName(s) {
			return bad("a name")
		}
		*binds = append(*binds, pendingBind{name: s, kind: pp.obj, col: col})
		v.Kind, v.Name = Bind, s
		return v, nil
	case pBindArg, pNewObj, pInfo, pOutBuf:
		if isNull && pp.kind == pNewObj {
			return v, nil
		}
		if len(raw) > 0 && raw[0] == '{' {
			fs, err := p.scan(ln, raw, col)
			if err != nil {
				return v, err
			}
			if len(fs) == 1 && fs[0].key == "bind" {
				s, ok := rawString(fs[0].val)
				if !ok || !validName(s) {
					return v, errAt(ln, fs[0].vcol, `"bind" must be a name (no spaces, quotes or backslashes)`)
				}
				kind := pp.obj
				if kind == "" {
					return v, errAt(ln, col, strconv.Quote(f.key)+" does not carry a new object here")
				}
				*binds = append(*binds, pendingBind{name: s, kind: kind, col: fs[0].vcol})
				v.Kind, v.Name = Bind, s
				return v, nil
			}
			if pp.kind == pOutBuf {
				return p.buffer(ln, f, fs, v)
			}
			return bad(`{"bind":"name"}`)
		}
		if pp.kind == pInfo {
			if s, ok := rawString(raw); ok {
				if _, isHex := parseHex(s); !isHex {
					ni := p.names[s]
					if ni == nil {
						return v, errAt(ln, col, "unbound name "+strconv.Quote(s))
					}
					v.Kind, v.Name = Name, s
					return v, nil
				}
			}
			return p.value(ln, f, &param{name: pp.name, kind: pInt}, binds, depth+1)
		}
		if pp.kind == pOutBuf && isNull {
			return v, nil
		}
		if pp.kind == pOutBuf {
			return bad(`a buffer or {"bind":"name"}`)
		}
		if s, ok := rawString(raw); ok && pp.kind == pBindArg && pp.obj != "" {
			// Caller memory that already holds a live object of this kind (WskRegister
			// on a registration that is registered): the name, not a new binding.
			if ni := p.names[s]; ni != nil && ni.kind == pp.obj {
				v.Kind, v.Name = Name, s
				return v, nil
			}
			return v, errAt(ln, col, strconv.Quote(s)+" is not a live "+pp.obj+`; expected {"bind":"name"} or the name of one`)
		}
		return bad(`{"bind":"name"}`)
	case pAddr:
		if isNull {
			return v, nil
		}
		s, ok := rawString(raw)
		if !ok {
			return bad(`an address "ip:port"`)
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return v, errAt(ln, col, "bad address "+strconv.Quote(s)+": want ip:port, IPv6 in brackets")
		}
		v.Kind, v.AP = Addr, ap
		return v, nil
	case pBuf:
		if isNull {
			return v, nil
		}
		if len(raw) == 0 || raw[0] != '{' {
			return bad(`a buffer {"hex"|"b64"|"ref"|"len": …}`)
		}
		fs, err := p.scan(ln, raw, col)
		if err != nil {
			return v, err
		}
		return p.buffer(ln, f, fs, v)
	case pStruct:
		if isNull {
			return v, nil
		}
		if len(raw) == 0 || raw[0] != '{' {
			return bad("an object")
		}
		fs, err := p.scan(ln, raw, col)
		if err != nil {
			return v, err
		}
		v.Kind = Struct
		for _, g := range fs {
			sp, ok := findParam(pp.sub, g.key)
			if !ok {
				return v, errAt(ln, g.kcol, strconv.Quote(f.key)+" has no field "+strconv.Quote(g.key)+" (fields: "+paramNames(pp.sub)+")")
			}
			sv, e := p.value(ln, g, sp, binds, depth+1)
			if e != nil {
				return v, e
			}
			v.Fields = append(v.Fields, Arg{Name: g.key, Val: sv})
		}
		return v, nil
	case pIndication:
		return p.indication(ln, f, pp, binds, depth)
	case pText:
		if s, ok := rawString(raw); ok {
			v.Kind, v.Name = Text, s
			return v, nil
		}
		if len(raw) > 0 && (raw[0] >= '0' && raw[0] <= '9') {
			v.Kind, v.Name = Text, string(raw)
			return v, nil
		}
		return bad("a string")
	}
	panic("trace: internal: unknown parameter kind")
}

func (p *Parser) buffer(ln int, f field, fs []field, v Value) (Value, *Error) {
	if ev, ok, err := p.eventControlBuffer(ln, fs, v); ok {
		return ev, err
	}
	b := &Buffer{}
	forms := 0
	for _, g := range fs {
		switch g.key {
		case "hex", "b64":
			s, ok := rawString(g.val)
			if !ok {
				return v, errAt(ln, g.vcol, strconv.Quote(g.key)+" must be a string")
			}
			form := BufHex
			if g.key == "b64" {
				form = BufB64
			}
			data, ok := decodeBufferData(form, s)
			if !ok {
				return v, errAt(ln, g.vcol, "bad "+g.key+" data")
			}
			b.Form, b.Data, b.Len = form, data, uint64(len(data))
			forms++
		case "ref":
			s, ok := rawString(g.val)
			if !ok {
				return v, errAt(ln, g.vcol, `"ref" must be a name`)
			}
			ni := p.names[s]
			if ni == nil {
				return v, errAt(ln, g.vcol, "unbound name "+strconv.Quote(s))
			}
			if ni.kind != ObjBytes {
				return v, errAt(ln, g.vcol, strconv.Quote(s)+" is "+article(ni.kind)+"; \"ref\" needs bytes bound earlier")
			}
			b.Form, b.Ref = BufRef, s
			forms++
		case "len":
			u, e := intOnly(ln, g)
			if e != nil {
				if s, ok := rawString(g.val); ok {
					if h, ok := parseHex(s); ok {
						u, e = h, nil
					}
				}
				if e != nil {
					return v, e
				}
			}
			b.Form, b.Len = BufLen, u
			forms++
		case "pool":
			s, ok := rawString(g.val)
			if !ok {
				return v, errAt(ln, g.vcol, `"pool" must name a pool block`)
			}
			ni := p.names[s]
			if ni == nil {
				return v, errAt(ln, g.vcol, "unbound name "+strconv.Quote(s))
			}
			if ni.kind != ObjPool {
				return v, errAt(ln, g.vcol, strconv.Quote(s)+" is "+article(ni.kind)+"; \"pool\" needs a pool block")
			}
			b.Pool = s
		case "offset":
			// Extension (docs/wsktrace.md): where in the pool block the
			// buffer starts.
			u, e := intOnly(ln, g)
			if e != nil {
				return v, e
			}
			b.Offset, b.HasOffset = u, true
		default:
			return v, errAt(ln, g.kcol, "unknown buffer key "+strconv.Quote(g.key)+" (want hex, b64, ref or len, and optionally pool and offset)")
		}
	}
	if forms != 1 {
		return v, errAt(ln, v.Col, strconv.Quote(f.key)+": a buffer needs exactly one of hex, b64, ref, len")
	}
	if b.HasOffset && b.Pool == "" {
		return v, errAt(ln, v.Col, strconv.Quote(f.key)+`: "offset" needs "pool" (an offset into that pool block)`)
	}
	v.Kind, v.Buf = Buf, b
	return v, nil
}

// ParseAll parses a whole trace (for tests and tools); it keeps every event
// in memory, unlike Replay.
func ParseAll(r io.Reader) (Header, []*Event, error) {
	p := NewParser(r)
	h, err := p.Header()
	if err != nil {
		return h, nil, err
	}
	var evs []*Event
	for {
		ev, err := p.Next()
		if errors.Is(err, io.EOF) {
			return h, evs, nil
		}
		if err != nil {
			return h, evs, err
		}
		evs = append(evs, ev)
	}
}

var _ = json.RawMessage{}
