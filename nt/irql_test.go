package nt

import "testing"

func TestIRQLValuesAndOrder(t *testing.T) {
	if PASSIVE_LEVEL != 0 || APC_LEVEL != 1 || DISPATCH_LEVEL != 2 {
		t.Fatalf("IRQL values = %d,%d,%d; want 0,1,2", PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL)
	}
	if !(PASSIVE_LEVEL < APC_LEVEL && APC_LEVEL < DISPATCH_LEVEL) {
		t.Fatal("IRQL ordering broken")
	}
}

func TestIRQLStringParse(t *testing.T) {
	tests := []struct {
		l    IRQL
		want string
	}{
		{PASSIVE_LEVEL, "PASSIVE_LEVEL"},
		{APC_LEVEL, "APC_LEVEL"},
		{DISPATCH_LEVEL, "DISPATCH_LEVEL"},
		{IRQL(3), "IRQL(3)"},
		{IRQL(255), "IRQL(255)"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("IRQL(%d).String() = %q, want %q", uint8(tt.l), got, tt.want)
		}
		got, err := ParseIRQL(tt.want)
		if err != nil || got != tt.l {
			t.Errorf("ParseIRQL(%q) = %v, %v; want %v", tt.want, got, err, tt.l)
		}
	}
}

func TestParseIRQLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HIGH_LEVEL", `nt.ParseIRQL: unknown IRQL name "HIGH_LEVEL"`},
		{"dispatch_level", `nt.ParseIRQL: unknown IRQL name "dispatch_level"`},
		{"", `nt.ParseIRQL: unknown IRQL name ""`},
		{"IRQL(256)", `nt.ParseIRQL: invalid IRQL "IRQL(256)": want IRQL(n) with n in 0..255`},
		{"IRQL(x)", `nt.ParseIRQL: invalid IRQL "IRQL(x)": want IRQL(n) with n in 0..255`},
		{"IRQL(2", `nt.ParseIRQL: invalid IRQL "IRQL(2": want IRQL(n) with n in 0..255`},
	}
	for _, tt := range tests {
		_, err := ParseIRQL(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseIRQL(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}
