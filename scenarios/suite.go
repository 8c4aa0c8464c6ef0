package scenarios

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// suite is the built-in scenario suite: testdata/<area>/*.txt. The fuzz seed
// corpus under testdata/fuzz is not part of it.
//
//go:embed testdata
var suite embed.FS

// Suite returns the paths of the built-in scenarios, relative to testdata/
// ("irp/double-free.txt"), sorted.
func Suite() []string {
	var out []string
	_ = fs.WalkDir(suite, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "testdata/")
		if d.IsDir() {
			if rel == "fuzz" {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(p) == ".txt" {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// SuiteFile returns the text of a built-in scenario by its Suite path.
func SuiteFile(rel string) ([]byte, bool) {
	if strings.HasPrefix(rel, "fuzz/") {
		return nil, false
	}
	b, err := suite.ReadFile(path.Join("testdata", rel))
	if err != nil {
		return nil, false
	}
	return b, true
}
