package scenarios

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/wsksim/wsksim/sim"
)

// envSeed is the seed the datadriven harness runs under: WSKSIM_SEED, default 1.
func envSeed(t testing.TB) uint64 {
	s := os.Getenv("WSKSIM_SEED")
	if s == "" {
		return 1
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("WSKSIM_SEED=%q: %v", s, err)
	}
	return v
}

func areas(t *testing.T) []string {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != "fuzz" {
			out = append(out, filepath.Join("testdata", e.Name()))
		}
	}
	return out
}

// TestDatadriven runs the suite through cockroachdb/datadriven, so that
// `go test ./scenarios -rewrite` regenerates the expected output.
func TestDatadriven(t *testing.T) {
	seed := envSeed(t)
	for _, dir := range areas(t) {
		datadriven.Walk(t, dir, func(t *testing.T, path string) {
			in := New(path, Options{Seed: seed})
			defer in.Close()
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				line, _ := strconv.Atoi(d.Pos[strings.LastIndexByte(d.Pos, ':')+1:])
				c := &Command{File: path, Line: line, Name: d.Cmd, Input: d.Input}
				for _, a := range d.CmdArgs {
					c.Args = append(c.Args, Arg{Key: a.Key, Vals: a.Vals})
				}
				out, err := in.Exec(c)
				if err != nil {
					t.Fatalf("%v\nreproduce: %s", err, ReproCommand(path, in.Seed()))
				}
				return out
			})
		})
	}
}

// TestSuite runs the embedded suite through Run, as `wsksim run` does.
func TestSuite(t *testing.T) {
	files := Suite()
	if len(files) < 12 {
		t.Fatalf("Suite() has %d files, want at least 12", len(files))
	}
	for _, f := range files {
		data, _ := SuiteFile(f)
		res, err := Run(f, bytes.NewReader(data), Options{Seed: envSeed(t)})
		if err != nil {
			t.Errorf("Run(%s): %v", f, err)
			continue
		}
		if !res.OK() {
			t.Errorf("Run(%s): %s\nreproduce: %s", f, res.Mismatches[0].FirstDifference(), res.Repro())
		}
		if res.Rewritten != string(data) {
			t.Errorf("Run(%s): rewriting a passing file changed it", f)
		}
		lines := strings.SplitN(string(data), "\n", 2)
		if !strings.HasPrefix(lines[0], "# ") || !strings.Contains(lines[0], "Source:") {
			t.Errorf("%s: the first line must be a comment saying what the file shows and its Source: (a Microsoft doc link)", f)
		}
	}
}

// TestRulesCovered fails when a registered rule ID appears in no scenario's
// expected output.
func TestRulesCovered(t *testing.T) {
	var all strings.Builder
	for _, f := range Suite() {
		data, _ := SuiteFile(f)
		s, err := Parse(f, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Commands {
			all.WriteString(c.Expected)
		}
	}
	text := all.String()
	for _, r := range sim.Rules() {
		re := regexp.MustCompile(`(^|[^A-Z0-9-])` + regexp.QuoteMeta(r.ID) + `($|[^A-Z0-9-])`)
		if !re.MatchString(text) {
			t.Errorf("rule %s appears in no scenario's expected output; add a scenario under scenarios/testdata that breaks it", r.ID)
		}
	}
}

// TestCommandDocs checks that every command function has a doc comment with
// an Example: line and every command is documented in docs/scenarios.md.
func TestCommandDocs(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, "cmd") {
					continue
				}
				n++
				if fd.Doc == nil || !strings.Contains(fd.Doc.Text(), "Example: ") {
					t.Errorf("%s: doc comment needs an \"Example: \" line", fd.Name.Name)
				}
			}
		}
	}
	if n != len(commands) {
		t.Errorf("found %d cmd* functions for %d commands; each command has its own function", n, len(commands))
	}
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Commands() {
		if !strings.Contains(string(doc), "### `"+c.Name+"`") {
			t.Errorf("docs/scenarios.md has no section \"### `%s`\"", c.Name)
		}
		if c.Example == "" {
			t.Errorf("command %s has no example", c.Name)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"frobnicate\n----\n", `x.txt:1: unknown command "frobnicate" (expected one of: `},
		{"alloc-irp stak=1\n----\n", `x.txt:1: alloc-irp: unknown argument "stak" (expected one of: name, stack, quota)`},
		{"alloc-irp stack=x\n----\n", `x.txt:1: alloc-irp: stack=x: expected an integer`},
		{"alloc-irp stack=1 stack=2\n----\n", `x.txt:1: alloc-irp: argument "stack" given twice`},
		{"\n\nalloc-irp\n", `x.txt:3: alloc-irp: missing expected-output separator "----"`},
		{"alloc-irp\n----\n----\nIoAllocateIrp\n", `x.txt:3: unterminated ----/---- output block`},
		{"----\n", `x.txt:1: unexpected ----`},
		{"alloc-irp\nfree-irp irp=irp1\n----\n", `x.txt:1: alloc-irp: takes no input lines`},
		{"alloc-irp a=(b\n----\n", `x.txt:1: cannot parse directive at column`},
		{"free-irp irp=irp7\n----\n", `x.txt:1: free-irp: irp=irp7: no IRP is called "irp7"`},
		{"free-irp\n----\n", `x.txt:1: free-irp: missing argument irp=`},
		{"pin choice=nope value=1\n----\n", `x.txt:1: pin: choice=nope: unknown choice point`},
		{"alloc-irp\n----\nx\n\nseed value=2\n----\n", `x.txt:5: seed: the world already exists`},
		{"provider-call fn=WskSend irp=NULL status=STATUS_PENDING\n----\n", `x.txt:1: provider-call: status=STATUS_PENDING`},
		{"close\n----\n\nalloc-irp\n----\n", `x.txt:4: alloc-irp: the world is closed`},
		{"alloc-pool size=-1\n----\n", `x.txt:1: alloc-pool: size=-1: expected a number`},
		{"fault site=irp.alloc\n----\n", `x.txt:1: fault: expected fail-next=N or rate=R`},
	} {
		_, err := Run("x.txt", strings.NewReader(tc.in), Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Run(%q): error %v, want prefix %q", tc.in, err, tc.want)
		}
	}
}

func TestMismatchReported(t *testing.T) {
	res, err := Run("m.txt", strings.NewReader("alloc-irp\n----\nIoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp2\n"), Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || len(res.Mismatches) != 1 {
		t.Fatalf("want one mismatch, got %+v", res.Mismatches)
	}
	want := `m.txt:1: alloc-irp: output line 1: want "IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp2", got "IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1"`
	if got := res.Mismatches[0].FirstDifference(); got != want {
		t.Errorf("FirstDifference:\n got %s\nwant %s", got, want)
	}
	if got := res.Repro(); got != "go run ./cmd/wsksim run --seed 5 m.txt" {
		t.Errorf("Repro() = %q", got)
	}
	if len(res.Unchecked) != 1 || res.Unchecked[0].Rule != "IRP-LEAK" {
		t.Errorf("Unchecked = %v, want the IRP-LEAK of the implicit close", res.Unchecked)
	}
}

func TestParseLineMatchesDatadriven(t *testing.T) {
	for _, l := range []string{
		"cmd", "cmd a", "cmd a=1 b=(x, y) c=", "cmd a=(f(x, y), z)", "  cmd   a=1   ", "cmd a=(1",
		"cmd =1", "cmd a==1", "cmd a=(1,2)b", "cmd a=(, ,)", "cmd\ta=1", "cmd a=(x)(y)",
	} {
		c1, a1, e1 := ParseLine(l)
		c2, a2, e2 := datadriven.ParseLine(l)
		if (e1 == nil) != (e2 == nil) || c1 != c2 || len(a1) != len(a2) {
			t.Errorf("ParseLine(%q) = %q %v %v; datadriven: %q %v %v", l, c1, a1, e1, c2, a2, e2)
			continue
		}
		for k := range a1 {
			if a1[k].String() != a2[k].String() {
				t.Errorf("ParseLine(%q) arg %d = %s; datadriven %s", l, k, a1[k], a2[k])
			}
		}
	}
}

func TestRewriteDoubleSeparator(t *testing.T) {
	s, err := Parse("r.txt", strings.NewReader("# c\nstate\n----\nold\n\n# tail\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := s.rewrite([]string{"a\n\nb\n"})
	want := "# c\nstate\n----\n----\na\n\nb\n----\n----\n\n# tail\n"
	if got != want {
		t.Errorf("rewrite:\n%q\nwant\n%q", got, want)
	}
	s2, err := Parse("r.txt", strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if s2.Commands[0].Expected != "a\n\nb\n" {
		t.Errorf("re-parsed expected %q", s2.Commands[0].Expected)
	}
}

// FuzzScenario feeds arbitrary text to the interpreter: it must return an
// error or a result, never panic.
func FuzzScenario(f *testing.F) {
	for _, p := range Suite() {
		data, _ := SuiteFile(p)
		f.Add(string(data))
	}
	f.Add("alloc-irp stack=-5\n----\n")
	f.Add("alloc-pool size=0xFFFFFFFFFFFFFFFF\n----\n")
	f.Add("provider-deliver irp=irp1 pool=pool1 off=99 hex=00\n----\n")
	f.Fuzz(func(t *testing.T, text string) {
		res, err := Run("fuzz.txt", strings.NewReader(text), Options{Seed: 1, MaxEvents: 10000})
		if err == nil && res == nil {
			t.Fatal("Run returned neither a result nor an error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.txt") {
			t.Fatalf("error without position: %v", err)
		}
	})
}

// TestCommandReference keeps the generated command reference in
// docs/scenarios.md current; WSKSIM_UPDATE_DOCS=1 rewrites it.
func TestCommandReference(t *testing.T) {
	const begin, end = "<!-- commands:begin (generated by go test ./scenarios with WSKSIM_UPDATE_DOCS=1) -->\n", "<!-- commands:end -->"
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/scenarios.md lacks the markers %q and %q", begin, end)
	}
	want := s[:i+len(begin)] + CommandReference() + "\n" + s[j:]
	if want == s {
		return
	}
	if os.Getenv("WSKSIM_UPDATE_DOCS") != "" {
		if err := os.WriteFile("../docs/scenarios.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/scenarios.md's command reference is stale: run WSKSIM_UPDATE_DOCS=1 go test ./scenarios -run TestCommandReference")
}

// TestParseLimits is the regression test for hostile scenario files: a
// million continuation lines parse in linear time (they took quadratic time,
// 19 s for 40,000), and a file of more commands than the cap is refused with
// its position before it is run.
func TestParseLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("alloc-irp \\\n")
	for range 1_000_000 {
		b.WriteString(" \\\n")
	}
	b.WriteString("stack=1\n----\nIoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1\n")
	done := make(chan error, 1)
	go func() {
		s, err := Parse("cont.txt", strings.NewReader(b.String()))
		if err == nil && (len(s.Commands) != 1 || s.Commands[0].Args[0].Key != "stack") {
			err = fmt.Errorf("parsed %d commands, want one alloc-irp stack=1", len(s.Commands))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Parse of 1,000,000 continuation lines: %v", err)
		}
	case <-time.After(60 * time.Second): // linear: well under a second; quadratic: hours
		t.Fatal("Parse of 1,000,000 continuation lines did not finish in 60 s: quadratic joining is back")
	}

	many := strings.Repeat("alloc-irp\n----\n\n", 65537)
	_, err := Parse("many.txt", strings.NewReader(many))
	if err == nil || err.Error() != "many.txt:196609: more than 65536 commands in one scenario; split the file" {
		t.Fatalf("Parse of 65,537 commands: err = %v, want the command cap at line 196609", err)
	}
}
