package wsktest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/scenarios"
)

// MaxScenarioSize is the largest scenario file CheckScenarios reads, the
// same cap as `wsksim run` (docs/scenarios.md).
const MaxScenarioSize = 16 << 20

// ScenarioResult is one scenario file run under one seed.
type ScenarioResult struct {
	Path   string            // the file, slash-separated, as found under the directory
	Seed   uint64            // the seed it ran with
	Result *scenarios.Result // nil when Err is set
	Err    error             // a file that cannot be read, parsed or run
}

// Failure describes what went wrong, or "" when the file passed: the error,
// or the first differing command with how to reproduce it.
func (r ScenarioResult) Failure() string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case !r.Result.OK():
		return fmt.Sprintf("%s (reproduce: wsksim run --seed %d %s)", r.Result.Mismatches[0].FirstDifference(), r.Seed, r.Path)
	}
	return ""
}

// CheckScenarios runs every .txt file under dir (recursively, skipping
// directories named fuzz, testdata/fuzz corpora, and files that are not
// regular files) under seeds seed, seed+1, ..., seed+n-1 and returns one
// result per file and seed, in path order. n < 1 means 1.
func CheckScenarios(dir string, seed uint64, n int) ([]ScenarioResult, error) {
	if n < 1 {
		n = 1
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "fuzz" && p != dir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".txt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wsktest.CheckScenarios: %w", err)
	}
	sort.Strings(files)
	var out []ScenarioResult
	for _, f := range files {
		data, err := readCapped(f, MaxScenarioSize)
		for k := 0; k < n; k++ {
			r := ScenarioResult{Path: filepath.ToSlash(f), Seed: seed + uint64(k), Err: err}
			if err == nil {
				r.Result, r.Err = scenarios.Run(r.Path, strings.NewReader(string(data)), scenarios.Options{Seed: r.Seed})
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than the %d-byte scenario limit", path, max)
	}
	return b, nil
}

// RunScenarios runs every scenario file under dir (see CheckScenarios) under
// seed 1 as a subtest named by its path below dir, failing the subtest with
// the first difference and a reproduce line. A directory that cannot be
// walked, or one with no scenario files, fails t.
func RunScenarios(t *testing.T, dir string) {
	t.Helper()
	rs, err := CheckScenarios(dir, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatalf("wsktest.RunScenarios: no .txt scenario files under %s", dir)
	}
	for _, r := range rs {
		name, err := filepath.Rel(dir, filepath.FromSlash(r.Path))
		if err != nil {
			name = r.Path
		}
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			if f := r.Failure(); f != "" {
				t.Error(f)
			}
		})
	}
}
