package sim

import "github.com/wsksim/wsksim/nt"

// List is a JSON array of values (a WSK_DATA_INDICATION chain's buffers, the
// datagrams of a WSK_DATAGRAM_INDICATION list).
func List(vs ...Value) Value {
	fs := make([]Field, len(vs))
	for i, v := range vs {
		fs[i].Val = v
	}
	return Value{kind: vList, fields: fs}
}

func appendList(b []byte, fs []Field) []byte {
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = f.Val.AppendJSON(b)
	}
	return append(b, ']')
}

// TraceCallback writes the "callback" event of frame f: the provider calls
// the driver's event callback f.Fn (wsktrace v1, "Additions for real
// drivers"). What the driver does inside it follows; TraceCallbackReturn
// closes it.
func (w *World) TraceCallback(f Frame, args ...Field) {
	if w.tr == nil {
		return
	}
	fs := []Field{F("seq", Int(f.Seq)), F("ev", Str("callback")), F("fn", Str(f.Fn)), F("args", Object(args...))}
	if w.irql != nt.PASSIVE_LEVEL {
		fs = append(fs, F("irql", Str(w.irql.String())))
	}
	w.tr.line(fs)
}

// TraceCallbackReturn closes callback frame f and, when tracing, writes its
// "callback_return" event with what the driver's callback returned.
func (w *World) TraceCallbackReturn(f Frame, st nt.Status, out ...Field) {
	w.End(f)
	seq := w.NextSeq()
	if w.tr == nil {
		return
	}
	fs := []Field{F("seq", Int(seq)), F("ev", Str("callback_return")), F("call", Int(f.Seq)), F("status", Status(st))}
	if len(out) > 0 {
		fs = append(fs, F("out", Object(out...)))
	}
	w.tr.line(fs)
}
