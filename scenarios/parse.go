package scenarios

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Arg is one argument of a command line: key, key=value or key=(v1, v2, ...).
// It has the shape of cockroachdb/datadriven's CmdArg.
type Arg struct {
	Key  string
	Vals []string
}

func (a Arg) String() string {
	switch len(a.Vals) {
	case 0:
		return a.Key
	case 1:
		return a.Key + "=" + a.Vals[0]
	}
	return a.Key + "=(" + strings.Join(a.Vals, ", ") + ")"
}

// Command is one directive of a scenario file: a command line, optional input
// lines, the ---- separator and the expected output.
type Command struct {
	File     string // the scenario's name, as given to Run
	Line     int    // line of the command (1-based)
	Name     string // the command, e.g. "alloc-irp"
	Args     []Arg
	Input    string // lines between the command and ----, trimmed
	Expected string // expected output, each line ending in "\n"

	raw string // the file's text from the end of the previous directive up to the separator
}

// Pos returns "file:line" of the command.
func (c *Command) Pos() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

// Text returns the command line as written (normalised spacing).
func (c *Command) Text() string {
	var b strings.Builder
	b.WriteString(c.Name)
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(a.String())
	}
	return b.String()
}

// Script is a parsed scenario file.
type Script struct {
	Name     string
	Commands []*Command
	trailer  string // text after the last directive
}

// ParseError is malformed scenario input, with its position.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// maxScriptBytes bounds what Parse reads, so a runaway input cannot exhaust memory.
const maxScriptBytes = 16 << 20

// maxScriptCommands bounds the commands of one scenario. Running a command
// keeps its output, its mismatch and the objects it made until the result is
// reported, about 2 KiB each, so the byte cap alone let an 8 MB file of 500,000
// one-line commands hold over 1 GB. The built-in suite's largest file has a few
// hundred commands.
const maxScriptCommands = 65536

// Parse reads a scenario file in cockroachdb/datadriven syntax. It is stricter
// than datadriven in what it accepts: every command must be followed by a ----
// separator (even when its expected output is empty), and a ----/---- block must
// be closed. Command names and argument names are checked by Run, not here.
func Parse(name string, r io.Reader) (*Script, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxScriptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(data) > maxScriptBytes {
		return nil, &ParseError{name, 1, fmt.Sprintf("scenario is larger than %d bytes", maxScriptBytes)}
	}
	text := string(data)
	lines := strings.Split(text, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for k, l := range lines {
		lines[k] = strings.TrimSuffix(l, "\r") // as bufio.ScanLines does
	}
	s := &Script{Name: name}
	var raw strings.Builder
	n := len(lines)
	for i := 0; i < n; {
		line := lines[i]
		lineNo := i + 1
		raw.WriteString(line)
		raw.WriteByte('\n')
		i++
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == "----" {
			return nil, &ParseError{name, lineNo, "unexpected ----: expected a command line before the separator"}
		}
		if strings.HasSuffix(t, `\`) && i < n {
			// Join continuation lines in one builder: appending to t line by
			// line copied the whole command each time, O(N²) in the lines.
			var joined strings.Builder
			seg := t
			for strings.HasSuffix(seg, `\`) && i < n {
				raw.WriteString(lines[i])
				raw.WriteByte('\n')
				joined.WriteString(strings.TrimSuffix(seg, `\`))
				joined.WriteByte(' ')
				seg = strings.TrimSpace(lines[i])
				i++
			}
			joined.WriteString(seg)
			t = joined.String()
		}
		if len(s.Commands) == maxScriptCommands {
			return nil, &ParseError{name, lineNo, fmt.Sprintf("more than %d commands in one scenario; split the file", maxScriptCommands)}
		}
		cmdName, args, perr := ParseLine(t)
		if perr != nil {
			return nil, &ParseError{name, lineNo, perr.Error()}
		}
		c := &Command{File: name, Line: lineNo, Name: cmdName, Args: args}
		var input strings.Builder
		for i < n && lines[i] != "----" {
			raw.WriteString(lines[i])
			raw.WriteByte('\n')
			input.WriteString(lines[i])
			input.WriteByte('\n')
			i++
		}
		if i == n {
			msg := fmt.Sprintf("%s: missing expected-output separator \"----\" after the command (every command needs one, even when its output is empty)", cmdName)
			return nil, &ParseError{name, lineNo, msg}
		}
		raw.WriteString("----\n")
		i++
		c.Input = strings.TrimSpace(input.String())
		c.raw = raw.String()
		raw.Reset()
		var exp strings.Builder
		if i < n && lines[i] == "----" {
			open := i + 1
			i++
			closed := false
			for i < n {
				if lines[i] == "----" && i+1 < n && lines[i+1] == "----" {
					i += 2
					if i < n {
						if lines[i] != "" {
							return nil, &ParseError{name, i + 1, "expected a blank line after the closing ----/---- of a block"}
						}
						i++
					}
					closed = true
					break
				}
				exp.WriteString(lines[i])
				exp.WriteByte('\n')
				i++
			}
			if !closed {
				return nil, &ParseError{name, open, "unterminated ----/---- output block: expected two lines of ---- to close it"}
			}
		} else {
			for i < n && strings.TrimSpace(lines[i]) != "" {
				exp.WriteString(lines[i])
				exp.WriteByte('\n')
				i++
			}
			if i < n {
				i++ // the blank line that ends the output
			}
		}
		c.Expected = exp.String()
		s.Commands = append(s.Commands, c)
	}
	s.trailer = raw.String()
	return s, nil
}

// ParseLine parses a directive line the way cockroachdb/datadriven's ParseLine
// does: a command followed by arguments key, key=value or key=(v1, v2, ...),
// where parenthesised values may nest.
func ParseLine(line string) (cmd string, args []Arg, err error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", nil, nil
	}
	orig := line
	fail := func() (string, []Arg, error) {
		col := len(orig) - len(line) + 1
		return "", nil, fmt.Errorf("cannot parse directive at column %d: %s", col, orig)
	}
	until := func(chars string) string {
		idx := strings.IndexAny(line, chars)
		if idx == -1 {
			idx = len(line)
		}
		res := line[:idx]
		line = line[idx:]
		return res
	}
	cmd = until(" ")
	if cmd == "" {
		return fail()
	}
	line = strings.TrimSpace(line)
	for line != "" {
		var a Arg
		a.Key = until(" =")
		if a.Key == "" {
			return fail()
		}
		if line != "" && line[0] == '=' {
			line = line[1:]
			switch {
			case line == "" || line[0] == ' ':
				a.Vals = []string{""}
			case line[0] != '(':
				a.Vals = []string{until(" ")}
			default:
				pos, nest, start := 1, 1, 1
				for nest > 0 {
					if pos == len(line) {
						return fail()
					}
					r, size := utf8.DecodeRuneInString(line[pos:])
					pos += size
					switch r {
					case ',':
						if nest == 1 {
							a.Vals = append(a.Vals, line[start:pos-1])
							for pos < len(line) && line[pos] == ' ' {
								pos++
							}
							start = pos
						}
					case '(':
						nest++
					case ')':
						nest--
					}
				}
				a.Vals = append(a.Vals, line[start:pos-1])
				line = strings.TrimSpace(line[pos:])
			}
		}
		args = append(args, a)
		line = strings.TrimSpace(line)
	}
	return cmd, args, nil
}

var blankLineRe = regexp.MustCompile(`(?m)^[\t ]*\n`)

// formatOutput renders actual output the way datadriven's -rewrite does.
func formatOutput(actual string) string {
	if actual != "" && !strings.HasSuffix(actual, "\n") {
		actual += "\n"
	}
	if blankLineRe.MatchString(actual) {
		return "----\n" + actual + "----\n----\n\n"
	}
	return actual + "\n"
}

// normalize returns output as datadriven compares it: ending in a newline unless empty.
func normalize(actual string) string {
	if actual != "" && !strings.HasSuffix(actual, "\n") {
		actual += "\n"
	}
	return actual
}

// rewrite returns the script's text with each command's expected output
// replaced by outs[k] (commands beyond len(outs) keep theirs).
func (s *Script) rewrite(outs []string) string {
	var b strings.Builder
	for k, c := range s.Commands {
		b.WriteString(c.raw)
		if k < len(outs) {
			b.WriteString(formatOutput(outs[k]))
		} else {
			b.WriteString(formatOutput(c.Expected))
		}
	}
	b.WriteString(s.trailer)
	out := b.String()
	if l := len(out); l > 2 && out[l-1] == '\n' && out[l-2] == '\n' {
		out = out[:l-1]
	}
	return out
}
