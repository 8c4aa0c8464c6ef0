package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

const versionText = `Usage: wsksim version

Prints the module path and version of this binary (from its build
information: a tagged version when installed with go install MODULE@VERSION,
"(devel)" plus the VCS revision when built from a checkout), and the Go
version it was built with.
`

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// Version returns the one-line version string of the binary.
func Version() string {
	bi, ok := readBuildInfo()
	if !ok {
		return fmt.Sprintf("wsksim (no build information) %s", runtime.Version())
	}
	path, v := bi.Main.Path, bi.Main.Version
	if path == "" {
		path = "github.com/wsksim/wsksim"
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" && v == "(devel)" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	gov := bi.GoVersion
	if gov == "" {
		gov = runtime.Version()
	}
	return fmt.Sprintf("%s %s %s", path, v, gov)
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", versionText, exitsOK2, stderr)
	pos, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "wsksim version: unexpected argument %q\n", pos[0])
		return ExitUsage
	}
	fmt.Fprintln(stdout, Version())
	return ExitOK
}
