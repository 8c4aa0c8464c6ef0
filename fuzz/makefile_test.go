package fuzz

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// TestMakefileListsEveryFuzzTarget holds the Makefile's FUZZ_TARGETS equal to
// the set of fuzz targets in the repository.
func TestMakefileListsEveryFuzzTarget(t *testing.T) {
	root := ".."
	var found []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			found = append(found, "./"+filepath.ToSlash(rel)+":"+string(m[1]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	listed := makefileTargets(t, filepath.Join(root, "Makefile"))
	if d := cmp.Diff(found, listed); d != "" {
		t.Errorf("Makefile FUZZ_TARGETS differs from the fuzz targets in the tree (-found +listed):\n%s", d)
	}
}

func makefileTargets(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "FUZZ_TARGETS") {
			in = true
			line = strings.TrimPrefix(strings.TrimSpace(strings.SplitN(line, "=", 2)[1]), "")
		} else if !in {
			continue
		}
		cont := strings.HasSuffix(strings.TrimSpace(line), `\`)
		for _, w := range strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), `\`)) {
			out = append(out, w)
		}
		if !cont {
			break
		}
	}
	sort.Strings(out)
	return out
}

// TestMakefileSmokeCountsExecutions holds the CI fuzz smoke to a count of
// executions (-fuzztime Nx). A duration lets Go's fuzz coordinator end a
// healthy run with "context deadline exceeded" on a loaded machine, which made
// `make test` flaky (docs/fuzzing.md).
func TestMakefileSmokeCountsExecutions(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^fuzz-smoke:\n\t@\$\(MAKE\) --no-print-directory fuzz FUZZTIME=\$\((\w+)\)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("Makefile: fuzz-smoke no longer runs `$(MAKE) fuzz FUZZTIME=$(VAR)`; keep its -fuzztime a count")
	}
	def := regexp.MustCompile(`(?m)^` + string(m[1]) + ` \?= (\S+)$`).FindSubmatch(src)
	if def == nil || !regexp.MustCompile(`^[1-9][0-9]*x$`).Match(def[1]) {
		t.Fatalf("Makefile: %s must default to an execution count such as 1500x, not %q", m[1], def)
	}
}
