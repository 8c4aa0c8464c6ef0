package wsktest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsktest"
)

func TestTag(t *testing.T) {
	if got := wsktest.Tag("Wsks"); got != 0x736b7357 {
		t.Errorf("Tag(Wsks) = %#x, want 0x736b7357 ('sksW')", got)
	}
	if got := irp.TagString(wsktest.Tag("Wsks")); got != "Wsks" {
		t.Errorf("TagString(Tag(Wsks)) = %q", got)
	}
	if got := wsktest.Tag("Ab"); got != 0x20206241 {
		t.Errorf("Tag(Ab) = %#x, want 0x20206241 (padded with spaces)", got)
	}
	for _, bad := range []string{"Wsks1", "a\x00bc"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Tag(%q) did not panic", bad)
				}
			}()
			wsktest.Tag(bad)
		}()
	}
}

// The cleanup fails the test for a violation it did not declare, and not
// for one it did.
func TestCloseReportsUnexpectedViolations(t *testing.T) {
	leak := func(expect ...string) string {
		var out bytes.Buffer
		p := wsktest.NewPrinter(&out)
		e := wsktest.New(p)
		e.Expect(expect...)
		e.Socket(nt.WSK_FLAG_CONNECTION_SOCKET) // never closed
		e.M.IoAllocateIrp(1, false)             // never freed
		p.Finish()
		return out.String()
	}
	got := leak()
	for _, want := range []string{"4 unexpected violation(s)", "IRP-LEAK [irp2]", "WSK-SOCKET-LEAK [sock1]", "WSK-DEREGISTER-HANG"} {
		if !strings.Contains(got, want) {
			t.Errorf("undeclared leaks: output lacks %q:\n%s", want, got)
		}
	}
	if got := leak("IRP-LEAK", "WSK-SOCKET-LEAK", "WSK-DEREGISTER-HANG", "WSK-REGISTRATION-LEAK"); got != "" {
		t.Errorf("declared every rule, still failed:\n%s", got)
	}
	if got := leak("IRP-LEAK", "WSK-SOCKET-LEAK", "WSK-DEREGISTER-HANG"); !strings.Contains(got, "1 unexpected violation(s)") {
		t.Errorf("one rule undeclared:\n%s", got)
	}
	var out bytes.Buffer
	p := wsktest.NewPrinter(&out)
	wsktest.New(p).Expect("NO-SUCH-RULE")
	p.Finish()
	if !strings.Contains(out.String(), `unknown rule "NO-SUCH-RULE"`) {
		t.Errorf("unknown rule: %s", out.String())
	}
}

func TestCallReportsMissingCompletion(t *testing.T) {
	var out bytes.Buffer
	p := wsktest.NewPrinter(&out)
	e := wsktest.New(p)
	e.Expect("IRP-LEAK")
	e.Call(func(i *irp.IRP) nt.Status { return nt.STATUS_SUCCESS }) // nothing completes the IRP
	p.Finish()
	if !strings.Contains(out.String(), "completion routine ran 0 times") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunScenarios(t *testing.T) {
	wsktest.RunScenarios(t, "testdata/scenarios")
}

func TestCheckScenariosReportsFailures(t *testing.T) {
	dir := t.TempDir()
	rs, err := wsktest.CheckScenarios(dir, 1, 1)
	if err != nil || len(rs) != 0 {
		t.Fatalf("empty dir: %v %v", rs, err)
	}
	if _, err := wsktest.CheckScenarios(dir+"/missing", 1, 1); err == nil {
		t.Error("missing dir: no error")
	}
}
