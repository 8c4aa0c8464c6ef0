package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
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
func scanObject(line int, raw []byte, col int) ([]field, *Error) {
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
