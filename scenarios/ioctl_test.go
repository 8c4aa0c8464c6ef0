package scenarios

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestRedirectIOCTLStatusesCovered checks that every status the Microsoft
// pages document for the three WFP redirect IOCTLs appears in the expected
// output of some scenario, as the return of that IOCTL (Irp == NULL) or as
// the status its IRP completed with (the completion routine's line).
func TestRedirectIOCTLStatusesCovered(t *testing.T) {
	documented := map[string][]string{
		"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS": {"STATUS_SUCCESS", "STATUS_INTEGER_OVERFLOW", "STATUS_ACCESS_DENIED"},
		"SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS": {"STATUS_SUCCESS", "STATUS_INTEGER_OVERFLOW", "STATUS_NOT_FOUND",
			"STATUS_BUFFER_TOO_SMALL", "STATUS_ACCESS_DENIED"},
		"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT": {"STATUS_SUCCESS", "STATUS_INTEGER_OVERFLOW", "STATUS_NOT_FOUND",
			"STATUS_BUFFER_TOO_SMALL", "STATUS_ACCESS_DENIED"},
	}
	seen := statusesByIOCTL(t)
	for code, want := range documented {
		for _, st := range want {
			if !seen[code][st] {
				t.Errorf("%s: no scenario shows it completing with %s", code, st)
			}
		}
	}
}

var (
	ctlLine     = regexp.MustCompile(`WskControlSocket\(.*ControlCode=(SIO_[A-Z_]+),.*Irp=(\w+)\) -> (\w+)`)
	routineLine = regexp.MustCompile(`(irp\d+) completion routine: status=(\w+)`)
)

// statusesByIOCTL maps each IOCTL to the statuses the suite's expected
// outputs show for it.
func statusesByIOCTL(t *testing.T) map[string]map[string]bool {
	seen := map[string]map[string]bool{}
	add := func(code, st string) {
		if seen[code] == nil {
			seen[code] = map[string]bool{}
		}
		seen[code][st] = true
	}
	for _, f := range Suite() {
		data, _ := SuiteFile(f)
		s, err := Parse(f, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		owner := map[string]string{} // IRP -> the IOCTL it was last given to
		for _, c := range s.Commands {
			for _, l := range strings.Split(c.Expected, "\n") {
				if m := ctlLine.FindStringSubmatch(l); m != nil {
					code, irpName, st := m[1], m[2], m[3]
					if irpName == "NULL" {
						add(code, st)
						continue
					}
					owner[irpName] = code
					continue
				}
				if m := routineLine.FindStringSubmatch(l); m != nil {
					if code, ok := owner[m[1]]; ok {
						add(code, m[2])
						delete(owner, m[1])
					}
				}
			}
		}
	}
	return seen
}

// TestRedirectIOCTLStatusesListed prints what the suite shows (go test -v).
func TestRedirectIOCTLStatusesListed(t *testing.T) {
	seen := statusesByIOCTL(t)
	var codes []string
	for c := range seen {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		var sts []string
		for s := range seen[c] {
			sts = append(sts, s)
		}
		sort.Strings(sts)
		t.Logf("%s: %s", c, strings.Join(sts, ", "))
	}
}
