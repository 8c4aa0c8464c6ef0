package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
)

// field is one key of a JSON object with the raw bytes of its value and
// where both start on the line (1-based byte columns).
type field struct {
	key  string
	kcol int
	val  json.RawMessage
	vcol int
}

// scanObject splits the JSON object raw, which starts at 1-based column col of
// line, into its fields in order. It rejects duplicate keys and anything that
// is not an object. Nested values are left raw.
//
// The common case takes a hand-written scanner (fastScanObject) that checks
// the JSON grammar strictly and allocates only the field slice; anything it
// does not accept (a syntax error, a duplicate key, an escaped key, deep
// nesting) is handed to encoding/json below, so every error message and
// position is encoding/json's, and what is accepted is exactly what
// encoding/json accepts (FuzzScanObject holds the two equal).
func scanObject(line int, raw []byte, col int) ([]field, *Error) {
	if fs, ok := fastScanObject(raw, col, nil); ok {
		return fs, nil
	}
	return slowScanObject(line, raw, col)
}

// scan is scanObject with the fields kept in the parser's arena, which
// parseEvent empties for each line: the fields of one line stay valid while it
// is parsed, and the arena's memory is reused by the next.
func (p *Parser) scan(line int, raw []byte, col int) ([]field, *Error) {
	start := len(p.fields)
	if fs, ok := fastScanObject(raw, col, p.fields); ok {
		if len(fs) > 0 && start < len(fs) {
			p.fields = fs
			return fs[start:len(fs):len(fs)], nil
		}
		return nil, nil
	}
	return slowScanObject(line, raw, col)
}

func slowScanObject(line int, raw []byte, col int) ([]field, *Error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(line, raw, col, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errAt(line, col, "want a JSON object, got "+describeRaw(raw))
	}
	var fs []field
	for dec.More() {
		kpos := skipTo(raw, int(dec.InputOffset()), ',')
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(line, raw, col, dec, err)
		}
		key, _ := tok.(string)
		for _, f := range fs {
			if f.key == key {
				return nil, errAt(line, col+kpos, "duplicate key "+strconv.Quote(key))
			}
		}
		vpos := skipTo(raw, int(dec.InputOffset()), ':')
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonErr(line, raw, col, dec, err)
		}
		fs = append(fs, field{key: key, kcol: col + kpos, val: v, vcol: col + vpos})
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErr(line, raw, col, dec, err)
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		return nil, errAt(line, col+int(dec.InputOffset()), "unexpected data after the JSON object")
	}
	return fs, nil
}

// skipTo returns the offset of the first byte at or after off that is not
// whitespace or the separator sep.
func skipTo(raw []byte, off int, sep byte) int {
	for off < len(raw) {
		switch raw[off] {
		case ' ', '\t', '\r', '\n', sep:
			off++
			continue
		}
		break
	}
	return off
}

func jsonErr(line int, raw []byte, col int, dec *json.Decoder, err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset)
		if off > 0 {
			off--
		}
		return errAt(line, col+off, "malformed JSON: "+se.Error())
	}
	if errors.Is(err, errEOF) || err.Error() == "unexpected EOF" || err.Error() == "EOF" {
		return errAt(line, col+len(raw), "malformed JSON: unexpected end of line")
	}
	return errAt(line, col+int(dec.InputOffset()), "malformed JSON: "+err.Error())
}

var errEOF = errors.New("EOF")

// describeRaw names the JSON type of a raw value for messages.
func describeRaw(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// ---- the fast path ----

// fastScanObject splits raw like slowScanObject when raw is a well-formed
// JSON object with distinct, unescaped keys and values nested at most
// fastMaxDepth deep; otherwise it returns false and the caller takes the slow
// path, which gives the exact error. Field values are slices of raw.
//
// The fields are appended to dst (which may be nil) and the whole slice is
// returned: the object's fields are those past len(dst).
func fastScanObject(raw []byte, col int, dst []field) ([]field, bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = skipWS(raw, i+1)
	base := len(dst)
	fs := dst
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return nil, false
			}
			kstart := i
			kend, plain := scanString(raw, i)
			if kend < 0 || !plain {
				return nil, false
			}
			key := internKey(raw[kstart+1 : kend-1])
			for k := base; k < len(fs); k++ {
				if fs[k].key == key {
					return nil, false // the slow path reports the duplicate
				}
			}
			i = skipWS(raw, kend)
			if i >= len(raw) || raw[i] != ':' {
				return nil, false
			}
			i = skipWS(raw, i+1)
			vstart := i
			vend := scanValue(raw, i, 0)
			if vend < 0 {
				return nil, false
			}
			if fs == nil {
				fs = make([]field, 0, 8)
			}
			fs = append(fs, field{key: key, kcol: col + kstart, val: raw[vstart:vend:vend], vcol: col + vstart})
			i = skipWS(raw, vend)
			if i >= len(raw) {
				return nil, false
			}
			if raw[i] == '}' {
				i++
				break
			}
			if raw[i] != ',' {
				return nil, false
			}
			i = skipWS(raw, i+1)
		}
	}
	if skipWS(raw, i) != len(raw) {
		return nil, false
	}
	return fs, true
}

// fastMaxDepth bounds the nesting the fast path follows; deeper values go to
// encoding/json (the parser itself refuses nesting beyond maxNestDepth).
const fastMaxDepth = 32

func skipWS(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		}
		break
	}
	return i
}

// scanValue returns the end of the JSON value starting at raw[i], or -1.
func scanValue(raw []byte, i, depth int) int {
	if i >= len(raw) {
		return -1
	}
	switch c := raw[i]; {
	case c == '"':
		end, _ := scanString(raw, i)
		return end
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(raw, i)
	case c == 't':
		return scanLiteral(raw, i, "true")
	case c == 'f':
		return scanLiteral(raw, i, "false")
	case c == 'n':
		return scanLiteral(raw, i, "null")
	case c == '{' || c == '[':
		if depth >= fastMaxDepth {
			return -1
		}
		return scanComposite(raw, i, depth+1)
	}
	return -1
}

func scanLiteral(raw []byte, i int, lit string) int {
	if len(raw)-i < len(lit) || string(raw[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanComposite scans an object or array starting at raw[i]. Keys of nested
// objects are not checked for duplicates: encoding/json's raw decoding does
// not check them either, and the parser scans each nested object it reads with
// scanObject, which does.
func scanComposite(raw []byte, i, depth int) int {
	closer := byte(']')
	obj := raw[i] == '{'
	if obj {
		closer = '}'
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == closer {
		return i + 1
	}
	for {
		if obj {
			if i >= len(raw) || raw[i] != '"' {
				return -1
			}
			end, _ := scanString(raw, i)
			if end < 0 {
				return -1
			}
			i = skipWS(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return -1
			}
			i = skipWS(raw, i+1)
		}
		end := scanValue(raw, i, depth)
		if end < 0 {
			return -1
		}
		i = skipWS(raw, end)
		if i >= len(raw) {
			return -1
		}
		if raw[i] == closer {
			return i + 1
		}
		if raw[i] != ',' {
			return -1
		}
		i = skipWS(raw, i+1)
	}
}

// scanString returns the end (after the closing quote) of the JSON string
// starting at raw[i], or -1, and whether it has no escapes. Control
// characters are refused as JSON requires; the line was checked to be UTF-8.
func scanString(raw []byte, i int) (int, bool) {
	plain := true
	for i++; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			return i + 1, plain
		case c < 0x20:
			return -1, false
		case c == '\\':
			plain = false
			i++
			if i >= len(raw) {
				return -1, false
			}
			switch raw[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(raw)-i < 5 {
					return -1, false
				}
				for _, h := range raw[i+1 : i+5] {
					if !isHex(h) {
						return -1, false
					}
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanNumber returns the end of the JSON number starting at raw[i], or -1.
func scanNumber(raw []byte, i int) int {
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case i < len(raw) && raw[i] >= '1' && raw[i] <= '9':
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		d := i
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		d := i
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	return i
}

// internKey returns key as a string without allocating when it is one of the
// names the format uses (event keys, parameter and env field names).
func internKey(key []byte) string {
	if s, ok := knownKeys()[string(key)]; ok {
		return s
	}
	return string(key)
}

var knownKeys = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	add := func(s string) { m[s] = s }
	for _, k := range []string{"wsktrace", "source", "profile", "seq", "ev", "fn", "args", "irql", "call",
		"status", "value", "out", "irp", "information", "pending_returned", "routine_returned", "what",
		"text", "bind", "hex", "b64", "ref", "len", "pool", "offset", "name", "addr", "to", "from", "conn", "data"} {
		add(k)
	}
	var walk func(ps []param)
	walk = func(ps []param) {
		for _, p := range ps {
			add(p.name)
			walk(p.sub)
		}
	}
	for _, f := range functions {
		walk(f.args)
		walk(f.out)
		walk(f.cout)
	}
	for _, e := range envKinds {
		walk(e.fields)
	}
	return m
})
