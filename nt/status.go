package nt

import (
	"fmt"
	"strconv"
	"strings"
)

// Status is an NTSTATUS value. The named values are generated into
// zstatus.go from statuses.txt.
//
// The top two bits give the severity (kernel/using-ntstatus-values.md):
// 0x00000000–0x3FFFFFFF success, 0x40000000–0x7FFFFFFF informational,
// 0x80000000–0xBFFFFFFF warning, 0xC0000000–0xFFFFFFFF error.
type Status uint32

// statusEntry is one row of the generated statusTable.
type statusEntry struct {
	status Status
	name   string
}

// IsSuccess reports NT_SUCCESS(s): true for every success and informational
// value (0x00000000–0x7FFFFFFF). STATUS_PENDING is therefore a success code;
// callers that must tell "done" from "pending" compare explicitly.
func (s Status) IsSuccess() bool { return s <= 0x7FFFFFFF }

// IsInformational reports NT_INFORMATION(s): 0x40000000–0x7FFFFFFF.
func (s Status) IsInformational() bool { return s>>30 == 1 }

// IsWarning reports NT_WARNING(s): 0x80000000–0xBFFFFFFF. Warnings such as
// STATUS_BUFFER_OVERFLOW are not NT_SUCCESS.
func (s Status) IsWarning() bool { return s>>30 == 2 }

// IsError reports NT_ERROR(s): 0xC0000000–0xFFFFFFFF.
func (s Status) IsError() bool { return s>>30 == 3 }

// Severity returns the severity encoded in the top two bits of s.
func (s Status) Severity() Severity { return Severity(s >> 30) }

// find returns the index of s in statusTable, or -1.
func (s Status) find() int {
	lo, hi := 0, len(statusTable)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if statusTable[mid].status < s {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(statusTable) && statusTable[lo].status == s {
		return lo
	}
	return -1
}

// Known reports whether s is one of the named statuses in this package.
func (s Status) Known() bool { return s.find() >= 0 }

// String returns the SDK name of s (for example "STATUS_PENDING"), or, for
// a value without a name here, "0x" followed by eight upper-case hex digits
// (for example "0xC0000123"). Known names are returned without allocating.
func (s Status) String() string {
	if i := s.find(); i >= 0 {
		return statusTable[i].name
	}
	return hex8(uint32(s))
}

// hex8 formats v as "0x" and eight upper-case hex digits.
func hex8(v uint32) string {
	const digits = "0123456789ABCDEF"
	var buf [10]byte
	buf[0], buf[1] = '0', 'x'
	for i := 9; i >= 2; i-- {
		buf[i] = digits[v&0xF]
		v >>= 4
	}
	return string(buf[:])
}

// ParseStatus parses an SDK status name ("STATUS_PENDING", case-sensitive)
// or a hex value with a "0x"/"0X" prefix and one to eight hex digits of
// either case ("0xc0000225"). A hex value need not be a known status.
// It is the inverse of Status.String.
func ParseStatus(s string) (Status, error) {
	if s == "" {
		return 0, fmt.Errorf("nt.ParseStatus: empty NTSTATUS")
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits := s[2:]
		if len(digits) == 0 || len(digits) > 8 {
			return 0, fmt.Errorf("nt.ParseStatus: invalid hex NTSTATUS %q: want 0x and 1 to 8 hex digits", s)
		}
		v, err := strconv.ParseUint(digits, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("nt.ParseStatus: invalid hex NTSTATUS %q: want 0x and 1 to 8 hex digits", s)
		}
		return Status(v), nil
	}
	lo, hi := 0, len(statusNameIndex)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if strings.Compare(statusTable[statusNameIndex[mid]].name, s) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(statusNameIndex) {
		if e := statusTable[statusNameIndex[lo]]; e.name == s {
			return e.status, nil
		}
	}
	return 0, fmt.Errorf("nt.ParseStatus: unknown NTSTATUS name %q", s)
}

// AllStatuses returns every named status sorted by ascending value. The
// slice is a fresh copy the caller may modify.
func AllStatuses() []Status {
	out := make([]Status, len(statusTable))
	for i, e := range statusTable {
		out[i] = e.status
	}
	return out
}

// Severity is the two-bit severity field of an NTSTATUS value.
type Severity uint8

// Severity values, as encoded in bits 31–30 of an NTSTATUS
// (kernel/using-ntstatus-values.md).
const (
	SeveritySuccess       Severity = 0 // 0x00000000–0x3FFFFFFF
	SeverityInformational Severity = 1 // 0x40000000–0x7FFFFFFF
	SeverityWarning       Severity = 2 // 0x80000000–0xBFFFFFFF
	SeverityError         Severity = 3 // 0xC0000000–0xFFFFFFFF
)

var severityNames = [...]string{"Success", "Informational", "Warning", "Error"}

// String returns "Success", "Informational", "Warning" or "Error", or
// "Severity(n)" for an out-of-range value.
func (v Severity) String() string {
	if int(v) < len(severityNames) {
		return severityNames[v]
	}
	return "Severity(" + strconv.Itoa(int(v)) + ")"
}
