package sim

import (
	"bufio"
	"encoding/hex"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/wsksim/wsksim/nt"
)

// Value is one JSON value of a wsktrace v1 event, built without reflection so
// the output is byte-for-byte stable.
type Value struct {
	kind   vkind
	u      uint64
	s      string
	b      []byte
	fields []Field
}

type vkind uint8

const (
	vNull vkind = iota
	vInt
	vStr
	vBool
	vBind
	vHex
	vLen
	vRef
	vObject
	vList // a JSON array (sim/callback.go)
)

// Field is a key and its value, in the order they are written.
type Field struct {
	Key string
	Val Value
}

// F builds a Field.
func F(key string, v Value) Field { return Field{Key: key, Val: v} }

// Null is JSON null (a NULL pointer or object).
func Null() Value { return Value{} }

// Int is an integer; values above 2^53 are written as "0x…" strings.
func Int(u uint64) Value { return Value{kind: vInt, u: u} }

// Str is a JSON string (a constant's SDK name, an address...).
func Str(s string) Value { return Value{kind: vStr, s: s} }

// Obj is an object name, or null when name is "".
func Obj(name string) Value {
	if name == "" {
		return Null()
	}
	return Str(name)
}

// Ptr is a pointer argument the model does not follow: true when non-NULL,
// null when NULL (docs/wsktrace.md: a pointer-to-out parameter is true
// when non-NULL, null when NULL).
func Ptr(nonNil bool) Value {
	if nonNil {
		return Bool(true)
	}
	return Null()
}

// Bool is true or false.
func Bool(b bool) Value {
	if b {
		return Value{kind: vBool, u: 1}
	}
	return Value{kind: vBool}
}

// Bind is {"bind":"name"}: a new name bound here.
func Bind(name string) Value { return Value{kind: vBind, s: name} }

// Status is an NTSTATUS by its SDK name (or hex).
func Status(s nt.Status) Value { return Str(s.String()) }

// Hex is a buffer {"hex":"…"}, with "pool" when pool != "".
func Hex(b []byte, pool string) Value { return Value{kind: vHex, b: b, s: pool} }

// Len is a buffer {"len":N} whose content does not matter, with optional pool.
func Len(n uint64, pool string) Value { return Value{kind: vLen, u: n, s: pool} }

// LenAt is a buffer {"len":N,"pool":pool,"offset":off}: N bytes at offset off
// of pool block pool (the "offset" extension, docs/wsktrace.md).
func LenAt(n, off uint64, pool string) Value {
	if off == 0 {
		return Len(n, pool)
	}
	return Value{kind: vLen, u: n, s: pool, fields: []Field{{Key: "offset", Val: Int(off)}}}
}

// Ref is a buffer {"ref":"name"} with optional pool; ref and pool are packed.
func Ref(name, pool string) Value {
	return Value{kind: vRef, s: name, fields: []Field{{Key: "pool", Val: Str(pool)}}}
}

// Object is a nested JSON object.
func Object(fields ...Field) Value { return Value{kind: vObject, fields: fields} }

// AppendJSON appends v as JSON.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.kind {
	case vNull:
		return append(b, "null"...)
	case vInt:
		if v.u > 1<<53 {
			b = append(b, `"0x`...)
			b = strconv.AppendUint(b, v.u, 16)
			return append(b, '"')
		}
		return strconv.AppendUint(b, v.u, 10)
	case vStr:
		return appendString(b, v.s)
	case vBool:
		if v.u != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case vBind:
		b = append(b, `{"bind":`...)
		b = appendString(b, v.s)
		return append(b, '}')
	case vHex:
		b = append(b, `{"hex":"`...)
		b = hex.AppendEncode(b, v.b)
		b = append(b, '"')
		return appendPool(b, v.s)
	case vLen:
		b = append(b, `{"len":`...)
		b = strconv.AppendUint(b, v.u, 10)
		b = appendPool(b, v.s)
		if len(v.fields) > 0 && v.s != "" {
			b = append(b[:len(b)-1], `,"offset":`...)
			b = strconv.AppendUint(b, v.fields[0].Val.u, 10)
			b = append(b, '}')
		}
		return b
	case vRef:
		b = append(b, `{"ref":`...)
		b = appendString(b, v.s)
		pool := ""
		if len(v.fields) > 0 {
			pool = v.fields[0].Val.s
		}
		return appendPool(b, pool)
	case vObject:
		return appendObject(b, v.fields)
	case vList:
		return appendList(b, v.fields)
	}
	panic("sim: internal: bad value kind")
}

func appendPool(b []byte, pool string) []byte {
	if pool != "" {
		b = append(b, `,"pool":`...)
		b = appendString(b, pool)
	}
	return append(b, '}')
}

func appendObject(b []byte, fs []Field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Key)
		b = append(b, ':')
		b = f.Val.AppendJSON(b)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

type tracer struct {
	w     *bufio.Writer
	buf   []byte
	err   error
	held  [][]byte // lines held while completion routines run
	seqs  []uint64 // the seq of each held complete line (0 for others)
	depth int
	// openCall is the seq of the call the last line written was, 0 when the
	// last line was anything else (see World.Close).
	openCall uint64
}

func newTracer(w io.Writer, source, profile string) *tracer {
	t := &tracer{w: bufio.NewWriter(w)}
	if source == "" {
		source = "wsksim"
	}
	fs := []Field{F("wsktrace", Int(1)), F("source", Str(source))}
	if profile != "" {
		fs = append(fs, F("profile", Str(profile)))
	}
	// The model shows every completion (a complete, or env irp_completed
	// when no routine sees it): docs/wsktrace.md.
	fs = append(fs, F("completions", Str("all")))
	t.line(fs)
	return t
}

func (t *tracer) line(fs []Field) {
	t.openCall = 0
	if t.depth > 0 {
		t.held = append(t.held, appendObject(nil, fs))
		t.seqs = append(t.seqs, 0)
		return
	}
	t.buf = appendObject(t.buf[:0], fs)
	t.buf = append(t.buf, '\n')
	if t.err == nil {
		_, t.err = t.w.Write(t.buf)
	}
}

func (t *tracer) flush() error {
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}

// Tracing reports whether the world writes a trace. Callers build trace
// arguments only when it does, so an untraced run allocates nothing for it.
func (w *World) Tracing() bool { return w.tr != nil }

// TraceCall writes the "call" event of frame f with its arguments.
func (w *World) TraceCall(f Frame, args ...Field) {
	if w.tr == nil {
		return
	}
	fs := []Field{F("seq", Int(f.Seq)), F("ev", Str("call")), F("fn", Str(f.Fn)), F("args", Object(args...))}
	if w.irql != nt.PASSIVE_LEVEL {
		fs = append(fs, F("irql", Str(w.irql.String())))
	}
	w.tr.line(fs)
	if w.tr.depth == 0 {
		w.tr.openCall = f.Seq
	}
}

// traceEndOfCall is run by Close: when the trace would end with a call that
// has no return (a VOID function) and that call broke a rule whose
// consequence is a bug check, while the world went on (it was not halted), it
// writes the call's return. A trace that ends at such a call says the machine
// stopped there (docs/wsktrace.md), which this run did not. The seq it takes
// is taken only when tracing; nothing after it reports a seq.
func (w *World) traceEndOfCall() {
	if w.tr == nil || w.halted != nil || w.tr.openCall == 0 || w.tr.openCall != w.lastBugSeq {
		return
	}
	call := w.tr.openCall
	w.tr.line([]Field{F("seq", Int(w.NextSeq())), F("ev", Str("return")), F("call", Int(call))})
}

// Return closes frame f and, when tracing, writes a "return" event with an
// NTSTATUS and optional out-parameters.
func (w *World) Return(f Frame, st nt.Status, out ...Field) {
	w.End(f)
	seq := w.NextSeq()
	if w.tr == nil {
		return
	}
	fs := []Field{F("seq", Int(seq)), F("ev", Str("return")), F("call", Int(f.Seq)), F("status", Status(st))}
	if len(out) > 0 {
		fs = append(fs, F("out", Object(out...)))
	}
	w.tr.line(fs)
}

// ReturnValue closes frame f and, when tracing, writes a "return" event with a
// value (BOOLEAN, object, enum) and optional out-parameters.
func (w *World) ReturnValue(f Frame, v Value, out ...Field) {
	w.End(f)
	seq := w.NextSeq()
	if w.tr == nil {
		return
	}
	fs := []Field{F("seq", Int(seq)), F("ev", Str("return")), F("call", Int(f.Seq)), F("value", v)}
	if len(out) > 0 {
		fs = append(fs, F("out", Object(out...)))
	}
	w.tr.line(fs)
}

// ReturnVoid closes frame f of a VOID function (no "return" event is written).
func (w *World) ReturnVoid(f Frame) { w.End(f) }

// TraceCompleteBegin writes the start of a "complete" event for irp: its
// completion routine is about to run and sees status and information. Events
// written while the routine runs are held back until TraceCompleteEnd adds what
// the routine returned, so the complete event precedes them in the trace. It
// returns a token for TraceCompleteEnd (-1 when not tracing). A sequence number
// is taken either way.
func (w *World) TraceCompleteBegin(irp string, st nt.Status, information Value, pendingReturned bool, out ...Field) int {
	seq := w.NextSeq()
	if w.tr == nil {
		return -1
	}
	fs := []Field{F("seq", Int(seq)), F("ev", Str("complete")), F("irp", Str(irp)), F("status", Status(st)), F("information", information)}
	if len(out) > 0 {
		fs = append(fs, F("out", Object(out...)))
	}
	if pendingReturned {
		fs = append(fs, F("pending_returned", Bool(true)))
	}
	t := w.tr
	t.held = append(t.held, appendObject(nil, fs))
	t.seqs = append(t.seqs, seq)
	t.depth++
	return len(t.held) - 1
}

// TraceCompleteEnd finishes the complete event tok with what the routine
// returned ("routine_returned" is written only when it is not
// STATUS_MORE_PROCESSING_REQUIRED, the spec's default).
func (w *World) TraceCompleteEnd(tok int, routineReturned nt.Status) {
	if w.tr == nil || tok < 0 {
		return
	}
	t := w.tr
	if routineReturned != nt.STATUS_MORE_PROCESSING_REQUIRED {
		line := t.held[tok]
		line = line[:len(line)-1]
		line = append(line, `,"routine_returned":`...)
		line = Status(routineReturned).AppendJSON(line)
		t.held[tok] = append(line, '}')
	}
	if end := w.seq; tok < len(t.seqs) && end > t.seqs[tok] {
		// The routine's own events follow; say where they end.
		line := t.held[tok]
		line = append(line[:len(line)-1], `,"routine_end":`...)
		line = strconv.AppendUint(line, end, 10)
		t.held[tok] = append(line, '}')
	}
	t.depth--
	if t.depth == 0 {
		for k, l := range t.held {
			if t.err == nil {
				_, t.err = t.w.Write(append(l, '\n'))
			}
			t.held[k] = nil
		}
		t.held = t.held[:0]
		t.seqs = t.seqs[:0]
	}
}

// TraceEnv writes an "env" event: what is "peer_listen", "peer_connect"...
func (w *World) TraceEnv(what string, fields ...Field) {
	seq := w.NextSeq()
	if w.tr == nil {
		return
	}
	fs := append([]Field{F("seq", Int(seq)), F("ev", Str("env")), F("what", Str(what))}, fields...)
	w.tr.line(fs)
}

// TraceNote writes a "note" event.
func (w *World) TraceNote(text string) {
	seq := w.NextSeq()
	if w.tr == nil {
		return
	}
	w.tr.line([]Field{F("seq", Int(seq)), F("ev", Str("note")), F("text", Str(text))})
}

// FlushTrace writes out everything recorded so far (except events held while a
// completion routine runs). It returns the trace writer's error, if any.
func (w *World) FlushTrace() error {
	if w.tr == nil {
		return nil
	}
	return w.tr.flush()
}
