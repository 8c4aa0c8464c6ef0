package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/sim"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestRunSuite(t *testing.T) {
	out, errs, code := run(t, "run")
	if code != ExitOK {
		t.Fatalf("wsksim run: exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	n := len(scenarios.Suite())
	if len(lines) != n+1 {
		t.Fatalf("got %d lines for %d files:\n%s", len(lines), n, out)
	}
	if want := fmt.Sprintf("%d passed, 0 failed", n); lines[n] != want {
		t.Errorf("last line %q, want %q", lines[n], want)
	}
	if !strings.HasPrefix(lines[0], "ok   ") || !strings.HasSuffix(lines[0], " cmds)") {
		t.Errorf("first line %q", lines[0])
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const unpinned = `# choose without a pin
alloc-irp
----
IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1

set-routine irp=irp1
----
IoSetCompletionRoutine(Irp=irp1, InvokeOnSuccess=true, InvokeOnError=true, InvokeOnCancel=true)

provider-call fn=WskSend irp=irp1 complete=choose
----
WskSend(Irp=irp1) -> STATUS_PENDING
`

func TestRunFailureAndRewrite(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "u.txt", unpinned)
	out, _, code := run(t, "run", "--seeds", "10", p)
	if code != ExitFailures {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "FAIL "+filepath.ToSlash(p)+": ") || !strings.Contains(out, "reproduce: go run ./cmd/wsksim run --seed ") || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
		t.Errorf("output:\n%s", out)
	}
	// Rewrite under the seed that failed, then that seed passes.
	seed := out[strings.Index(out, "--seed ")+7:]
	seed = seed[:strings.IndexByte(seed, ' ')]
	if _, _, code := run(t, "run", "--rewrite", "--seed", seed, p); code != ExitOK {
		t.Fatalf("rewrite: exit %d", code)
	}
	if out, _, code := run(t, "run", "--seed", seed, p); code != ExitOK {
		t.Fatalf("after rewrite: exit %d\n%s", code, out)
	}
}

func TestRunUnusable(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.txt", "alloc-irp stak=1\n----\n")
	for _, args := range [][]string{
		{"run", "--nope"},
		{"run", filepath.Join(dir, "missing.txt")},
		{"run", bad},
		{"explore", "--seeds", "2", bad},
		{"diagram"},
		{"frob"},
		{},
	} {
		out, errs, code := run(t, args...)
		if code != ExitUsage {
			t.Errorf("wsksim %v: exit %d, want 2\n%s%s", args, code, out, errs)
		}
	}
	out, _, _ := run(t, "run", bad)
	if !strings.Contains(out, "bad.txt:1: alloc-irp: unknown argument \"stak\"") {
		t.Errorf("malformed scenario output:\n%s", out)
	}
}

// TestHelp: each subcommand's --help prints its usage once, on stdout,
// with the exit codes that subcommand can return and no others.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		sub   string
		codes []string // exit codes listed
	}{
		{"run", []string{"0", "1", "2"}},
		{"explore", []string{"0", "1", "2"}},
		{"rules", []string{"0", "2"}},
		{"policies", []string{"0", "2"}},
		{"diagram", []string{"0", "2"}},
		{"replay", []string{"0", "1", "2", "3"}},
		{"convert", []string{"0", "2"}},
		{"version", []string{"0", "2"}},
	} {
		out, errs, code := run(t, c.sub, "--help")
		if code != ExitOK || errs != "" {
			t.Errorf("wsksim %s --help: exit %d, stderr %q", c.sub, code, errs)
		}
		if n := strings.Count(out, "Usage: wsksim "+c.sub); n != 1 {
			t.Errorf("wsksim %s --help prints its usage %d times:\n%s", c.sub, n, out)
		}
		_, exits, ok := strings.Cut(out, "\nExit codes:\n")
		if !ok {
			t.Errorf("wsksim %s --help has no exit codes:\n%s", c.sub, out)
			continue
		}
		var got []string
		for _, l := range strings.Split(exits, "\n") {
			if f := strings.Fields(l); len(f) > 1 && len(f[0]) == 1 && f[0][0] >= '0' && f[0][0] <= '9' && strings.HasPrefix(l, "  "+f[0]+"  ") {
				got = append(got, f[0])
			}
		}
		if strings.Join(got, ",") != strings.Join(c.codes, ",") {
			t.Errorf("wsksim %s --help lists exit codes %v, want %v:\n%s", c.sub, got, c.codes, exits)
		}
	}
	out, _, code := run(t, "help")
	if code != ExitOK || !strings.Contains(out, "Exit codes:") {
		t.Errorf("wsksim help: exit %d\n%s", code, out)
	}
}

// TestFlagErrors: a bad flag is a usage error (exit 2) that names the flag.
func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--nope"}, "-nope"},
		{[]string{"run", "--seeds", "x"}, "-seeds"},
		{[]string{"explore", "--seed", "-1", "f"}, "-seed"},
		{[]string{"rules", "--markdown=maybe"}, "-markdown"},
		{[]string{"replay", "--pin", "P-BOGUS=x", "-"}, `invalid value "P-BOGUS=x" for flag -pin: unknown policy "P-BOGUS"`},
		{[]string{"replay", "--pin", "P-SZ0=nope", "-"}, `flag -pin: policy P-SZ0 has no option "nope"`},
		{[]string{"replay", "--pin", "P-SZ0=success", "--pin", "P-SZ0=buffer-too-small", "-"}, "flag -pin: policy P-SZ0 pinned twice"},
		{[]string{"replay", "--profile", "nosuch", "-"}, `--profile: unknown profile "nosuch"`},
		{[]string{"diagram", "--seed"}, "flag needs an argument: -seed"},
	} {
		out, errs, code := run(t, c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("wsksim %q: exit %d, stderr %q, want exit 2 naming %q (stdout %q)", c.args, code, errs, c.want, out)
		}
		if strings.Contains(errs, "line 0") || strings.Count(errs, "Usage:") > 0 {
			t.Errorf("wsksim %q: stderr %q", c.args, errs)
		}
	}
}

func TestRulesAndPoliciesByID(t *testing.T) {
	out, _, code := run(t, "rules", "IRP-LEAK", "POOL-DOUBLE-FREE")
	if code != ExitOK || !strings.HasPrefix(out, "IRP-LEAK\n") || !strings.Contains(out, "\nPOOL-DOUBLE-FREE\n") || strings.Count(out, "  source: ") != 2 {
		t.Errorf("rules by ID: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "policies", "P-SZ0")
	if code != ExitOK || !strings.HasPrefix(out, "P-SZ0\n") || strings.Count(out, "  options: ") != 1 {
		t.Errorf("policies by ID: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"rules", "NOPE"}, {"policies", "P-NOPE"}, {"rules", "--markdown", "IRP-LEAK"}} {
		if _, errs, code := run(t, args...); code != ExitUsage || errs == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "github.com/wsksim/wsksim ") || !strings.Contains(out, " go1.") {
		t.Errorf("version: exit %d %q", code, out)
	}
	defer func(f func() (*debug.BuildInfo, bool)) { readBuildInfo = f }(readBuildInfo)
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/wsksim/wsksim", Version: "v0.3.1"}}, true
	}
	if v := Version(); v != "github.com/wsksim/wsksim v0.3.1 go1.26.0" {
		t.Errorf("tagged: %q", v)
	}
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/wsksim/wsksim", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	if v := Version(); v != "github.com/wsksim/wsksim (devel) 0123456789ab+dirty go1.26.0" {
		t.Errorf("checkout: %q", v)
	}
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	if v := Version(); !strings.HasPrefix(v, "wsksim (no build information) go") {
		t.Errorf("no build info: %q", v)
	}
}

func TestProgName(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/go-build123/b001/exe/wsksim": "go run ./cmd/wsksim",
		"/usr/local/bin/wsksim":            "wsksim",
		"./wsk":                            "wsk",
		"wsksim":                           "wsksim",
	} {
		if got := progName(in); got != want {
			t.Errorf("progName(%q) = %q, want %q", in, got, want)
		}
	}
	defer func(p string) { Prog = p }(Prog)
	Prog = "wsksim"
	p := writeFile(t, t.TempDir(), "u.txt", unpinned)
	out, _, _ := run(t, "run", "--seeds", "10", p)
	if !strings.Contains(out, "reproduce: wsksim run --seed ") {
		t.Errorf("reproduce line does not name the binary as invoked:\n%s", out)
	}
}

func TestDiagramSymbolic(t *testing.T) {
	out, _, code := run(t, "diagram", "pool/alloc-free.txt")
	if code != ExitOK || !strings.Contains(out, "ExAllocatePool2(Flags=POOL_FLAG_NON_PAGED, NumberOfBytes=16, Tag=Wsks)") || strings.Contains(out, "1936421719") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestRunJSONAndTrace(t *testing.T) {
	dir := t.TempDir()
	out, _, code := run(t, "run", "--json", "--trace", dir, "world/trace.txt")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r jsonRun
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Passed != 1 || r.Failed != 0 || r.Files[0].Commands != 8 {
		t.Fatalf("json %v: %+v\n%s", err, r, out)
	}
	tr, err := os.ReadFile(filepath.Join(dir, "world_trace.wsktrace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(tr), `{"wsktrace":1,"source":"wsksim scenario trace.txt","completions":"all"}`) || !strings.Contains(string(tr), `"fn":"IoFreeIrp"`) {
		t.Errorf("trace:\n%s", tr)
	}
}

func TestExplore(t *testing.T) {
	out, _, code := run(t, "explore", "--seeds", "5", "world/pin.txt")
	if code != ExitOK || !strings.Contains(out, "1 distinct outcome(s)") {
		t.Errorf("pinned file: exit %d\n%s", code, out)
	}
	p := writeFile(t, t.TempDir(), "u.txt", unpinned)
	out, _, code = run(t, "explore", "--seeds", "20", p)
	if code != ExitFailures || !strings.Contains(out, "2 distinct outcome(s)") || !strings.Contains(out, "differs from outcome 1 at") || !strings.Contains(out, "reproduce: go run ./cmd/wsksim run --seed ") {
		t.Errorf("unpinned file: exit %d\n%s", code, out)
	}
}

func TestDiagram(t *testing.T) {
	out, _, code := run(t, "diagram", "irp/cancel.txt")
	if code != ExitOK || !strings.HasPrefix(out, "sequenceDiagram\n    participant Driver\n    participant IoMgr\n    participant WSK\n    participant WFP\n") ||
		!strings.Contains(out, "IoMgr->>Driver: complete irp1 STATUS_CANCELLED info=0") {
		t.Errorf("exit %d\n%s", code, out)
	}
	doc, err := os.ReadFile("../../../../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```mermaid\n"+out+"```") {
		t.Errorf("docs/scenarios.md's mermaid block is not the current output of wsksim diagram irp/cancel.txt")
	}
}

func TestRulesAndPolicies(t *testing.T) {
	out, _, code := run(t, "rules")
	if code != ExitOK {
		t.Fatal(code)
	}
	for _, r := range sim.Rules() {
		if !strings.Contains(out, r.ID+"\n  "+r.Statement) {
			t.Errorf("rules output lacks %s", r.ID)
		}
	}
	for _, tc := range []struct{ file, sub string }{{"rules.md", "rules"}, {"policies.md", "policies"}} {
		out, _, code := run(t, tc.sub, "--markdown")
		if code != ExitOK {
			t.Fatal(code)
		}
		have, err := os.ReadFile(filepath.Join("../../../../docs", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(have) != out {
			t.Errorf("docs/%s is stale: run go run ./cmd/wsksim %s --markdown > docs/%s", tc.file, tc.sub, tc.file)
		}
	}
}

func TestParseInterleavedFlags(t *testing.T) {
	out, _, code := run(t, "run", "world/pin.txt", "--seed", "9")
	if code != ExitOK || !strings.Contains(out, "ok   world/pin.txt") {
		t.Errorf("exit %d\n%s", code, out)
	}
}
