package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wsksim/wsksim"

// core are the packages the rules below hold for.
var core = []string{"nt", "sim", "irp", "wfp", "wsk"}

type pkg struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
	GoFiles    []string
}

// deps returns the non-test dependencies of package rel (relative to the
// module), as `go list -deps` prints them, or ok = false when the package does
// not exist (yet) or has no Go files.
func deps(t *testing.T, rel string) (ds []pkg, ok bool) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	path := module + "/" + rel
	cmd := exec.Command(gobin, "list", "-deps", "-e", "-json", path)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", path, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list -deps %s: %v", path, err)
		}
		ds = append(ds, p)
	}
	if len(ds) == 0 {
		return nil, false
	}
	self := ds[len(ds)-1] // -deps lists the package itself last
	if self.ImportPath != path {
		t.Fatalf("go list -deps %s: last package is %s", path, self.ImportPath)
	}
	if self.Error != nil || len(self.GoFiles) == 0 {
		return nil, false // not there yet, or only tests so far
	}
	return ds[:len(ds)-1], true
}

func rel(p string) (string, bool) {
	return strings.CutPrefix(p, module+"/")
}

// under reports whether package path p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func TestImportRules(t *testing.T) {
	for _, c := range core {
		t.Run(c, func(t *testing.T) {
			ds, ok := deps(t, c)
			if !ok {
				t.Skipf("package %s does not exist yet", c)
			}
			for _, d := range ds {
				r, own := rel(d.ImportPath)
				switch {
				case d.ImportPath == "testing" || strings.HasPrefix(d.ImportPath, "testing/"):
					t.Errorf("%s depends on %s outside its tests", c, d.ImportPath)
				case under(d.ImportPath, "github.com/stretchr/testify"), under(d.ImportPath, "pgregory.net/rapid"):
					t.Errorf("%s depends on %s outside its tests", c, d.ImportPath)
				case own && (under(r, "scenarios") || under(r, "trace") || under(r, "fuzz") || under(r, "cmd")):
					t.Errorf("core package %s depends on %s", c, d.ImportPath)
				}
				switch c {
				case "nt":
					if !d.Standard {
						t.Errorf("nt must import only the standard library; it depends on %s", d.ImportPath)
					}
				case "sim":
					if !d.Standard && d.ImportPath != module+"/nt" {
						t.Errorf("sim must import only nt and the standard library; it depends on %s", d.ImportPath)
					}
				case "irp":
					if own && under(r, "wfp") {
						t.Errorf("irp depends on %s; irp and wfp never import each other", d.ImportPath)
					}
				case "wfp":
					if own && under(r, "irp") {
						t.Errorf("wfp depends on %s; irp and wfp never import each other", d.ImportPath)
					}
				}
			}
		})
	}
}

// TestDepsSeesImports checks the test itself: go list reports sim's import of
// nt, so an empty result cannot pass the rules above by accident.
func TestDepsSeesImports(t *testing.T) {
	ds, ok := deps(t, "sim")
	if !ok {
		t.Fatal("package sim not found")
	}
	var std, nt bool
	for _, d := range ds {
		std = std || d.ImportPath == "fmt"
		nt = nt || d.ImportPath == module+"/nt"
	}
	if !std || !nt {
		t.Fatalf("go list -deps sim lacks fmt or nt: %v", ds)
	}
	if _, ok := deps(t, "nosuchpackage"); ok {
		t.Fatal("a missing package was reported as present")
	}
}
