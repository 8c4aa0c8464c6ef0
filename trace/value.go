package trace

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/nt"
)

// Kind is the form of a Value.
type Kind uint8

// Value kinds.
const (
	Null   Kind = iota // JSON null: NULL
	Int                // an integer or a constant (U; Name keeps a constant's spelling)
	Bool               // true/false (B); also a non-NULL pointer given as true
	Status             // an NTSTATUS (St)
	Name               // a reference to a name bound earlier (Name)
	Bind               // {"bind":"name"}: a new name bound here (Name)
	Addr               // an address "ip:port" (AP)
	Buf                // a buffer (Buf)
	Struct             // a nested object (Fields), e.g. WskProviderNpi
	Text               // free text or an enum spelling (Name)
)

var kindNames = [...]string{"null", "integer", "boolean", "NTSTATUS", "name", "bind", "address", "buffer", "object", "text"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one parsed value of an event, typed by where it appears.
type Value struct {
	Kind   Kind
	U      uint64
	B      bool
	St     nt.Status
	Name   string
	AP     netip.AddrPort
	Buf    *Buffer
	Fields []Arg
	Col    int // 1-based column where the value starts
}

// IsNull reports whether v is NULL (absent values are NULL too).
func (v Value) IsNull() bool { return v.Kind == Null }

// Field returns the nested field named key of a Struct value.
func (v Value) Field(key string) (Value, bool) {
	for _, a := range v.Fields {
		if a.Name == key {
			return a.Val, true
		}
	}
	return Value{}, false
}

// String renders v the way the trace writes it (buffers abbreviated).
func (v Value) String() string {
	switch v.Kind {
	case Null:
		return "null"
	case Int:
		if v.Name != "" {
			return v.Name
		}
		return strconv.FormatUint(v.U, 10)
	case Bool:
		return strconv.FormatBool(v.B)
	case Status:
		return v.St.String()
	case Name, Text:
		return v.Name
	case Bind:
		return `{"bind":` + strconv.Quote(v.Name) + `}`
	case Addr:
		return v.AP.String()
	case Buf:
		return v.Buf.String()
	case Struct:
		var b strings.Builder
		b.WriteByte('{')
		for i, a := range v.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(a.Name))
			b.WriteByte(':')
			b.WriteString(a.Val.String())
		}
		b.WriteByte('}')
		return b.String()
	}
	return "?"
}

// Arg is a named value: an argument, an out-parameter, an env field.
type Arg struct {
	Name string
	Val  Value
}

// BufForm is how a buffer's content is given.
type BufForm uint8

// Buffer forms.
const (
	BufHex BufForm = iota // {"hex":"…"}
	BufB64                // {"b64":"…"}
	BufRef                // {"ref":"name"}: bytes bound earlier
	BufLen                // {"len":N}: N bytes whose content does not matter
)

// Buffer is a buffer value. Data holds decoded hex/b64 bytes (bounded by the
// line length); Len is the length for every form (for BufRef, 0 until the
// replay resolves it). A {"len":N} buffer never allocates N bytes.
type Buffer struct {
	Form BufForm
	Data []byte
	Ref  string
	Len  uint64
	Pool string
	// Offset is where in Pool the buffer starts (extension "offset").
	Offset    uint64
	HasOffset bool
}

func (b *Buffer) String() string {
	var s string
	switch b.Form {
	case BufHex, BufB64:
		if len(b.Data) <= 16 {
			s = `{"hex":"` + hex.EncodeToString(b.Data) + `"`
		} else {
			s = `{"hex":"` + hex.EncodeToString(b.Data[:16]) + `…(` + strconv.Itoa(len(b.Data)) + ` bytes)"`
		}
	case BufRef:
		s = `{"ref":` + strconv.Quote(b.Ref)
	case BufLen:
		s = `{"len":` + strconv.FormatUint(b.Len, 10)
	}
	if b.Pool != "" {
		s += `,"pool":` + strconv.Quote(b.Pool)
	}
	return s + "}"
}

// ---- decoding primitives ----

func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if end, plain := scanString(raw, 0); plain && end == len(raw) {
		return string(raw[1 : end-1]), true // no escapes: the bytes are the string
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// parseUintLiteral parses a JSON number that denotes a non-negative integer
// (exponent forms such as 1e18 are accepted when exact) or, for a negative
// integer, its 64-bit two's complement. It never allocates in proportion to
// the exponent.
func parseUintLiteral(s string) (uint64, string) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 400 || e < -400 {
			if err == nil && e < 0 && strings.Trim(mant, "0.") == "" {
				return 0, ""
			}
			if err == nil && e > 0 && strings.Trim(mant, "0.") == "" {
				return 0, ""
			}
			return 0, "integer out of range"
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, ""
	}
	for exp < 0 {
		if !strings.HasSuffix(digits, "0") {
			return 0, "want an integer, got a fraction"
		}
		digits = digits[:len(digits)-1]
		exp++
	}
	if len(digits)+exp > 20 {
		return 0, "integer out of range (above 2^64-1)"
	}
	digits += strings.Repeat("0", exp)
	u, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, "integer out of range (above 2^64-1)"
	}
	if neg {
		if u > 1<<63 {
			return 0, "integer out of range (below -2^63)"
		}
		u = -u
	}
	return u, ""
}

// parseHex parses "0x…" with 1 to 16 hex digits.
func parseHex(s string) (uint64, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len(s) > 18 {
		return 0, false
	}
	u, err := strconv.ParseUint(s[2:], 16, 64)
	return u, err == nil
}

// extraConstants are constants the trace may spell that package nt does not
// define (they belong to other headers the model implements elsewhere).
var extraConstants = map[string]uint64{
	"POOL_FLAG_UNINITIALIZED": 0x2,
	"POOL_FLAG_NON_PAGED":     0x40,
	"POOL_FLAG_PAGED":         0x100,
	"NULL":                    0,
	"FALSE":                   0,
	"TRUE":                    1,
}

// lookupConstant resolves a constant spelling, including A|B combinations.
func lookupConstant(s string) (uint64, bool) {
	if strings.Contains(s, "|") {
		var u uint64
		for _, p := range strings.Split(s, "|") {
			v, ok := lookupConstant(strings.TrimSpace(p))
			if !ok {
				return 0, false
			}
			u |= v
		}
		return u, true
	}
	if v, ok := nt.LookupConstant(s); ok {
		return v, true
	}
	if v, ok := extraConstants[s]; ok {
		return v, true
	}
	if st, err := nt.ParseStatus(s); err == nil && !strings.HasPrefix(s, "0") {
		return uint64(st), true
	}
	return 0, false
}

func decodeBufferData(form BufForm, s string) ([]byte, bool) {
	switch form {
	case BufHex:
		b, err := hex.DecodeString(s)
		return b, err == nil
	case BufB64:
		b, err := base64.StdEncoding.DecodeString(s)
		return b, err == nil
	}
	return nil, false
}

// tagValue parses a pool tag (a "Tag" parameter): a number, "0x…", a
// constant name, or a string of exactly four printable ASCII characters as
// pool tools show the tag, bytes in memory order ("Sock" is the C constant
// 'kcoS', 0x6B636F53), the same reading as a scenario's tag= argument. A
// four-character "0x" string is a number ("0x41" is 0x41). A tag is a ULONG:
// a value above 0xFFFFFFFF is an error, never truncated.
func tagValue(ln int, f field, v Value) (Value, *Error) {
	raw := f.val
	var u uint64
	s, isStr := rawString(raw)
	switch {
	case isStr && len(s) == 4 && !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X"):
		for k := 0; k < 4; k++ {
			if s[k] < 0x20 || s[k] > 0x7e {
				return v, errAt(ln, f.vcol, `"Tag" `+strconv.Quote(s)+": a pool tag string must be four printable ASCII characters")
			}
			u |= uint64(s[k]) << (8 * k)
		}
		v.Kind, v.U, v.Name = Int, u, s
		return v, nil
	case isStr:
		if h, ok := parseHex(s); ok {
			u = h
		} else if c, ok := lookupConstant(s); ok {
			u, v.Name = c, s
		} else {
			return v, errAt(ln, f.vcol, `"Tag" must be a number or exactly four characters as pool tools show the tag ("Sock"), got `+strconv.Quote(s))
		}
	case len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9':
		n, msg := parseUintLiteral(string(raw))
		if msg != "" {
			return v, errAt(ln, f.vcol, `"Tag": `+msg)
		}
		u = n
	default:
		return v, errAt(ln, f.vcol, `"Tag" must be a number or four characters as pool tools show the tag, got `+describeRaw(raw))
	}
	if u > 0xFFFFFFFF {
		return v, errAt(ln, f.vcol, fmt.Sprintf(`"Tag" 0x%X is wider than 32 bits (a pool tag is a ULONG)`, u))
	}
	v.Kind, v.U = Int, u
	return v, nil
}
