package trace

import "strconv"

// Error is a problem with the trace itself (malformed JSON, an unknown key, an
// unbound name...): the trace cannot be used. Line and Column are 1-based;
// Column counts bytes from the start of the line. Line 0 means the problem is
// not tied to one line (an I/O error, a missing header).
type Error struct {
	Line   int
	Column int
	Msg    string
}

// Error returns "LINE:COL: msg".
func (e *Error) Error() string {
	return strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column) + ": " + e.Msg
}

func errAt(line, col int, msg string) *Error { return &Error{Line: line, Column: col, Msg: msg} }
