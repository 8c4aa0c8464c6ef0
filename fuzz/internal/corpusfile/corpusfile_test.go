package corpusfile

import (
	"strings"
	"testing"
)

func TestRaw(t *testing.T) {
	got, err := Raw("a", []byte("go test fuzz v1\n[]byte(\"\\x00ab\")\n"))
	if err != nil || string(got) != "\x00ab" {
		t.Fatalf("Raw = %q, %v; want \"\\x00ab\", nil", got, err)
	}
	got, err = Raw("s", []byte("go test fuzz v1\nstring(\"hi\\n\")\n"))
	if err != nil || string(got) != "hi\n" {
		t.Fatalf("Raw = %q, %v; want \"hi\\n\", nil", got, err)
	}
}

func TestRawErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty file"},
		{"go test fuzz v2\n", `f:1: want "go test fuzz v1"`},
		{"go test fuzz v1\nint(3)\n", "f:2: only []byte"},
		{"go test fuzz v1\n[]byte(\"a)\n", "f:2: bad literal"},
		{"go test fuzz v1\n[]byte(\"a\")\n[]byte(\"b\")\n", "2 values"},
	} {
		_, err := Raw("f", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Raw(%q) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
}
