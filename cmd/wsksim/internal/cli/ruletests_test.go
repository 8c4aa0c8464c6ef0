package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/sim"
)

// TestEveryRuleNamesARealTest holds the rule table to its promise that every
// rule has a test that shows it: each rule's Test field ("pkg.TestName" or
// "pkg.TestName/RULE-ID") must name a test function in that package. The
// subtests themselves are checked where they live: irp, wfp and wsk each fail
// their TestRules when one of their rules has no case (fires / does not fire).
func TestEveryRuleNamesARealTest(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	cache := map[string]string{}
	testSrc := func(pkg string) string {
		if s, ok := cache[pkg]; ok {
			return s
		}
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
		var b strings.Builder
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(src)
		}
		cache[pkg] = b.String()
		return cache[pkg]
	}
	for _, r := range sim.Rules() {
		pkg, rest, ok := strings.Cut(r.Test, ".")
		if !ok {
			t.Errorf("%s: Test %q is not pkg.TestName", r.ID, r.Test)
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		src := testSrc(pkg)
		if src == "" {
			t.Errorf("%s: Test %q: package %s has no test files", r.ID, r.Test, pkg)
			continue
		}
		if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(t \*testing\.T\)`).MatchString(src) {
			t.Errorf("%s: Test %q: no func %s in %s's tests", r.ID, r.Test, name, pkg)
		}
	}
}
