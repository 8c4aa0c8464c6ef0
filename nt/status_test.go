package nt

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestClassification(t *testing.T) {
	tests := []struct {
		s                          Status
		success, info, warn, isErr bool
		sev                        Severity
	}{
		{STATUS_SUCCESS, true, false, false, false, SeveritySuccess},
		{STATUS_PENDING, true, false, false, false, SeveritySuccess},
		{STATUS_TIMEOUT, true, false, false, false, SeveritySuccess},
		{STATUS_ALERTED, true, false, false, false, SeveritySuccess},
		{STATUS_EVENT_PENDING, true, true, false, false, SeverityInformational},
		{Status(0x7FFFFFFF), true, true, false, false, SeverityInformational},
		{STATUS_BUFFER_OVERFLOW, false, false, true, false, SeverityWarning},
		{Status(0xBFFFFFFF), false, false, true, false, SeverityWarning},
		{STATUS_BUFFER_TOO_SMALL, false, false, false, true, SeverityError},
		{STATUS_MORE_PROCESSING_REQUIRED, false, false, false, true, SeverityError},
		{STATUS_CANCELLED, false, false, false, true, SeverityError},
		{STATUS_FWP_CANNOT_PEND, false, false, false, true, SeverityError},
		{Status(0xFFFFFFFF), false, false, false, true, SeverityError},
	}
	for _, tt := range tests {
		if got := tt.s.IsSuccess(); got != tt.success {
			t.Errorf("%v.IsSuccess() = %v, want %v", tt.s, got, tt.success)
		}
		if got := tt.s.IsInformational(); got != tt.info {
			t.Errorf("%v.IsInformational() = %v, want %v", tt.s, got, tt.info)
		}
		if got := tt.s.IsWarning(); got != tt.warn {
			t.Errorf("%v.IsWarning() = %v, want %v", tt.s, got, tt.warn)
		}
		if got := tt.s.IsError(); got != tt.isErr {
			t.Errorf("%v.IsError() = %v, want %v", tt.s, got, tt.isErr)
		}
		if got := tt.s.Severity(); got != tt.sev {
			t.Errorf("%v.Severity() = %v, want %v", tt.s, got, tt.sev)
		}
	}
}

func TestSeverityString(t *testing.T) {
	for sev, want := range map[Severity]string{
		SeveritySuccess:       "Success",
		SeverityInformational: "Informational",
		SeverityWarning:       "Warning",
		SeverityError:         "Error",
		Severity(7):           "Severity(7)",
	} {
		if got := sev.String(); got != want {
			t.Errorf("Severity(%d).String() = %q, want %q", uint8(sev), got, want)
		}
	}
}

func TestStringFallback(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{Status(0xC0000123), "0xC0000123"},
		{Status(0x00000001), "0x00000001"},
		{Status(0xdeadbeef), "0xDEADBEEF"},
		{Status(0xFFFFFFFF), "0xFFFFFFFF"},
	}
	for _, tt := range tests {
		if tt.s.Known() {
			t.Fatalf("%#x unexpectedly known; pick another fallback value", uint32(tt.s))
		}
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(%#x).String() = %q, want %q", uint32(tt.s), got, tt.want)
		}
		if got := fmt.Sprint(tt.s); got != tt.want {
			t.Errorf("fmt.Sprint(Status(%#x)) = %q, want %q", uint32(tt.s), got, tt.want)
		}
	}
}

func TestKnown(t *testing.T) {
	for _, s := range AllStatuses() {
		if !s.Known() {
			t.Errorf("%v not Known", s)
		}
	}
	if Status(0xC0000123).Known() {
		t.Error("0xC0000123 reported Known")
	}
}

func TestStringDoesNotAllocateForKnownNames(t *testing.T) {
	statuses := AllStatuses()
	allocs := testing.AllocsPerRun(100, func() {
		for _, s := range statuses {
			_ = s.String()
		}
	})
	if allocs != 0 {
		t.Errorf("String allocated %v times per run for known statuses", allocs)
	}
}

func TestParseStatusRoundTrip(t *testing.T) {
	for _, s := range AllStatuses() {
		got, err := ParseStatus(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
		hex := fmt.Sprintf("0x%08X", uint32(s))
		if got, err := ParseStatus(hex); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", hex, got, err, s)
		}
		lower := strings.ToLower(hex)
		if got, err := ParseStatus(lower); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", lower, got, err, s)
		}
	}
	// Unknown values round-trip through their hex fallback.
	for _, v := range []Status{0xC0000123, 0x1, 0xFFFFFFFF} {
		if got, err := ParseStatus(v.String()); err != nil || got != v {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", v.String(), got, err, v)
		}
	}
	// Short and upper-case-prefix hex forms.
	for in, want := range map[string]Status{"0x0": STATUS_SUCCESS, "0X103": STATUS_PENDING, "0xc0000225": STATUS_NOT_FOUND} {
		if got, err := ParseStatus(in); err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseStatusErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"STATUS_FOO", `nt.ParseStatus: unknown NTSTATUS name "STATUS_FOO"`},
		{"status_pending", `nt.ParseStatus: unknown NTSTATUS name "status_pending"`},
		{"STATUS_PENDING ", `nt.ParseStatus: unknown NTSTATUS name "STATUS_PENDING "`},
		{"", "nt.ParseStatus: empty NTSTATUS"},
		{"0x", `nt.ParseStatus: invalid hex NTSTATUS "0x": want 0x and 1 to 8 hex digits`},
		{"0x123456789", `nt.ParseStatus: invalid hex NTSTATUS "0x123456789": want 0x and 1 to 8 hex digits`},
		{"0xC000000G", `nt.ParseStatus: invalid hex NTSTATUS "0xC000000G": want 0x and 1 to 8 hex digits`},
		{"0x+1", `nt.ParseStatus: invalid hex NTSTATUS "0x+1": want 0x and 1 to 8 hex digits`},
		{"0x_1", `nt.ParseStatus: invalid hex NTSTATUS "0x_1": want 0x and 1 to 8 hex digits`},
		{"259", `nt.ParseStatus: unknown NTSTATUS name "259"`},
	}
	for _, tt := range tests {
		got, err := ParseStatus(tt.in)
		if err == nil {
			t.Errorf("ParseStatus(%q) = %v, nil; want error", tt.in, got)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseStatus(%q) error = %q, want %q", tt.in, err, tt.want)
		}
	}
}

func TestAllStatusesSortedFreshCopy(t *testing.T) {
	a := AllStatuses()
	if !slices.IsSorted(a) {
		t.Fatal("AllStatuses not sorted by value")
	}
	if a[0] != STATUS_SUCCESS {
		t.Fatalf("AllStatuses()[0] = %v, want STATUS_SUCCESS", a[0])
	}
	a[0] = 0xFFFFFFFF
	if b := AllStatuses(); b[0] != STATUS_SUCCESS {
		t.Fatal("AllStatuses returned shared storage")
	}
}
