package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
)

// args reads a command's arguments; the first bad value is kept in err and
// later reads return defaults, so a command reads all it needs and checks once.
type args struct {
	c   *Command
	err error
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf(format, v...)
	}
}

func (a *args) has(key string) bool {
	for _, x := range a.c.Args {
		if x.Key == key {
			return true
		}
	}
	return false
}

func (a *args) vals(key string) ([]string, bool) {
	for _, x := range a.c.Args {
		if x.Key == key {
			return x.Vals, true
		}
	}
	return nil, false
}

// one returns the single value of key; ok is false when key is absent.
func (a *args) one(key, want string) (string, bool) {
	v, ok := a.vals(key)
	if !ok {
		return "", false
	}
	if len(v) != 1 {
		a.fail("%s: expected one value (%s), got %d", key, want, len(v))
		return "", false
	}
	return v[0], true
}

// need records an error when a required argument is missing.
func (a *args) need(key, want string) string {
	v, ok := a.one(key, want)
	if !ok && a.err == nil && !a.has(key) {
		a.fail("missing argument %s=<%s>", key, want)
	}
	return v
}

func (a *args) str(key, def string) string {
	if v, ok := a.one(key, "a word"); ok {
		return v
	}
	return def
}

// parseUint parses a decimal or 0x number, or a named SDK constant.
func parseUint(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	if v, err := strconv.ParseUint(s, 0, 64); err == nil {
		return v, nil
	}
	if v, ok := nt.LookupConstant(s); ok {
		return v, nil
	}
	switch s {
	case "POOL_FLAG_UNINITIALIZED":
		return irp.POOL_FLAG_UNINITIALIZED, nil
	case "POOL_FLAG_NON_PAGED":
		return irp.POOL_FLAG_NON_PAGED, nil
	case "POOL_FLAG_PAGED":
		return irp.POOL_FLAG_PAGED, nil
	}
	return 0, fmt.Errorf("not a number or known constant")
}

func (a *args) uint(key string, def uint64) uint64 {
	v, ok := a.one(key, "a number")
	if !ok {
		return def
	}
	var total uint64
	for _, part := range strings.Split(v, "|") {
		n, err := parseUint(part)
		if err != nil {
			a.fail("%s=%s: expected a number (decimal, 0x hex, or an SDK constant; combine flags with |)", key, v)
			return def
		}
		total |= n
	}
	return total
}

func (a *args) int(key string, def, min, max int) int {
	v, ok := a.one(key, "an integer")
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil || n < int64(min) || n > int64(max) {
		a.fail("%s=%s: expected an integer in %d..%d", key, v, min, max)
		return def
	}
	return int(n)
}

// flag reads a boolean: "key" alone or key=true means true.
func (a *args) flag(key string, def bool) bool {
	v, ok := a.vals(key)
	if !ok {
		return def
	}
	if len(v) == 0 {
		return true
	}
	if len(v) == 1 {
		switch v[0] {
		case "true":
			return true
		case "false":
			return false
		}
	}
	a.fail("%s=%s: expected true or false", key, strings.Join(v, ","))
	return def
}

func (a *args) status(key string, def nt.Status) nt.Status {
	v, ok := a.one(key, "an NTSTATUS")
	if !ok {
		return def
	}
	st, err := nt.ParseStatus(v)
	if err != nil {
		a.fail("%s=%s: expected an NTSTATUS name (STATUS_SUCCESS) or 0x value", key, v)
		return def
	}
	return st
}

func (a *args) irql(key string, def nt.IRQL) nt.IRQL {
	v, ok := a.one(key, "an IRQL")
	if !ok {
		return def
	}
	l, err := nt.ParseIRQL(v)
	if err != nil {
		a.fail("%s=%s: expected PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL or IRQL(n)", key, v)
		return def
	}
	return l
}

func (a *args) duration(key string, def time.Duration) time.Duration {
	v, ok := a.one(key, "a duration")
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		a.fail("%s=%s: expected a non-negative duration such as 1us, 5ms, 2s", key, v)
		return def
	}
	return d
}

// tag parses a pool tag: four printable characters, low byte first as
// debuggers show them ("Wsks"), or a number.
func (a *args) tag(key string, def uint32) uint32 {
	v, ok := a.one(key, "a pool tag")
	if !ok {
		return def
	}
	if len(v) == 4 && !strings.HasPrefix(v, "0x") {
		var t uint32
		for k := 0; k < 4; k++ {
			if v[k] < 0x20 || v[k] > 0x7e {
				a.fail("%s=%s: expected four printable characters or a number", key, v)
				return def
			}
			t |= uint32(v[k]) << (8 * k)
		}
		return t
	}
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		a.fail("%s=%s: expected four characters (Wsks) or a 32-bit number", key, v)
		return def
	}
	return uint32(n)
}

// name reads the name= argument a command binds its new object to.
func (a *args) name() string {
	v, ok := a.one("name", "a name")
	if !ok {
		return ""
	}
	if !validName(v) {
		a.fail("name=%s: expected a name of letters, digits, '_' or '-', starting with a letter", v)
		return ""
	}
	return v
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for k, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case k > 0 && (r >= '0' && r <= '9' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return true
}

func (a *args) hexBytes(key string) ([]byte, bool) {
	v, ok := a.one(key, "hex bytes")
	if !ok {
		return nil, false
	}
	b, err := decodeHex(v)
	if err != nil {
		a.fail("%s=%s: expected hex bytes (00ff...)", key, v)
		return nil, false
	}
	return b, true
}

func decodeHex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd length")
	}
	out := make([]byte, len(s)/2)
	for k := 0; k < len(out); k++ {
		v, err := strconv.ParseUint(s[2*k:2*k+2], 16, 8)
		if err != nil {
			return nil, err
		}
		out[k] = byte(v)
	}
	return out, nil
}

// IRP and pool references.

func (in *Interp) irpArg(a *args, key string, required bool) (*irp.IRP, bool) {
	v, ok := a.one(key, "an IRP name")
	if !ok {
		if required && a.err == nil {
			a.fail("missing argument %s=<irp name or NULL>", key)
		}
		return nil, false
	}
	if v == "NULL" {
		return nil, true
	}
	o, found := in.object(v)
	i, isIRP := o.(*irp.IRP)
	if !found || !isIRP {
		a.fail("%s=%s: no IRP is called %q (expected an IRP name such as irp1, a name bound with name=, or NULL)", key, v, v)
		return nil, false
	}
	return i, true
}

func (in *Interp) poolArg(a *args, key string, required bool) (*irp.Block, bool) {
	v, ok := a.one(key, "a pool block name")
	if !ok {
		if required && a.err == nil {
			a.fail("missing argument %s=<pool block name or NULL>", key)
		}
		return nil, false
	}
	return in.poolByName(a, key, v)
}

func (in *Interp) poolByName(a *args, key, v string) (*irp.Block, bool) {
	if v == "NULL" {
		return nil, true
	}
	o, found := in.object(v)
	b, isBlock := o.(*irp.Block)
	if !found || !isBlock {
		a.fail("%s=%s: no pool block is called %q (expected a name such as pool1, a name bound with name=, or NULL)", key, v, v)
		return nil, false
	}
	return b, true
}
