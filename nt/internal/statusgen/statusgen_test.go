package statusgen

import (
	"bytes"
	"strings"
	"testing"
)

const good = `# header comment

STATUS_SUCCESS 0x00000000 xsys # ok
STATUS_PENDING 0x00000103 xsys   # later
STATUS_UNSUCCESSFUL 0xC0000001 xsys
`

func TestGenerateGood(t *testing.T) {
	out, err := Generate([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, Header+"\n") {
		t.Errorf("missing header:\n%s", s)
	}
	for _, want := range []string{
		"STATUS_SUCCESS      Status = 0x00000000 // ok [xsys]",
		"STATUS_PENDING      Status = 0x00000103 // later [xsys]",
		"STATUS_UNSUCCESSFUL Status = 0xC0000001 // STATUS_UNSUCCESSFUL. [xsys]",
		`{STATUS_PENDING, "STATUS_PENDING"},`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	again, err := Generate([]byte(good))
	if err != nil || !bytes.Equal(out, again) {
		t.Error("Generate is not deterministic")
	}
}

func TestGenerateSortsTableByValue(t *testing.T) {
	src := "STATUS_B 0xC0000002 k\nSTATUS_A 0x00000001 k\n"
	out, err := Generate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	table := s[strings.Index(s, "var statusTable"):]
	if strings.Index(table, `"STATUS_A"`) > strings.Index(table, `"STATUS_B"`) {
		t.Errorf("statusTable not sorted by value:\n%s", s)
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"duplicate name",
			"STATUS_A 0x00000001 k\n\nSTATUS_A 0x00000002 k\n",
			"statuses.txt:3: duplicate name STATUS_A (first defined on line 1)"},
		{"duplicate value",
			"# c\nSTATUS_A 0x00000001 k\nSTATUS_B 0x00000001 k\n",
			"statuses.txt:3: duplicate value 0x00000001 for STATUS_B (already used by STATUS_A on line 2)"},
		{"bad hex digit",
			"STATUS_A 0x0000000G k\n",
			`statuses.txt:1: bad hex value "0x0000000G" for STATUS_A`},
		{"short hex",
			"STATUS_A 0x00000001 k\nSTATUS_B 0x103 k\n",
			`statuses.txt:2: bad hex value "0x103" for STATUS_B`},
		{"no 0x",
			"STATUS_A C0000001 k\n",
			`statuses.txt:1: bad hex value "C0000001" for STATUS_A`},
		{"lower-case name",
			"status_a 0x00000001 k\n",
			`statuses.txt:1: bad name "status_a"`},
		{"missing prefix",
			"\nFOO_A 0x00000001 k\n",
			`statuses.txt:2: bad name "FOO_A"`},
		{"bare prefix",
			"STATUS_ 0x00000001 k\n",
			`statuses.txt:1: bad name "STATUS_"`},
		{"missing source",
			"STATUS_A 0x00000001 # c\n",
			"statuses.txt:1: expected"},
		{"extra field",
			"STATUS_A 0x00000001 k extra\n",
			"statuses.txt:1: expected"},
		{"bad source",
			"STATUS_A 0x00000001 k,j\n",
			`statuses.txt:1: bad source key "k,j"`},
		{"empty",
			"# nothing\n\n",
			"statuses.txt: no statuses defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Generate([]byte(tt.src))
			if err == nil {
				t.Fatalf("Generate succeeded:\n%s", out)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestGenerateCRLF(t *testing.T) {
	a, err := Generate([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate([]byte(strings.ReplaceAll(good, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("CRLF input generates different output")
	}
}
