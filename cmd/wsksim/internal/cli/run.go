package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wsksim/wsksim/scenarios"
)

// source is one scenario file: on disk, or in the embedded suite.
type source struct {
	path string // as shown and as given to reproduce
	disk string // file on disk ("" for the embedded suite)
	data []byte
}

// resolve turns PATH arguments into scenario files. A path is looked up on
// disk first (a directory means every regular .txt file under it, except
// fuzz corpora; anything else named .txt, such as a FIFO, is skipped with a
// note on stderr, so a walk cannot block), then in the embedded suite (a
// file or a directory such as "irp"). Every file is read with the
// MaxScenarioBytes limit applied before its bytes are held.
func resolve(paths []string, rewriteDefault bool, stderr io.Writer) ([]source, error) {
	if len(paths) == 0 {
		if rewriteDefault {
			if st, err := os.Stat(filepath.Join("scenarios", "testdata")); err == nil && st.IsDir() {
				return resolve([]string{filepath.Join("scenarios", "testdata")}, false, stderr)
			}
			return nil, fmt.Errorf("--rewrite without a PATH rewrites ./scenarios/testdata, which does not exist here; give the files to rewrite")
		}
		var out []source
		for _, rel := range scenarios.Suite() {
			b, _ := scenarios.SuiteFile(rel)
			out = append(out, source{path: rel, data: b})
		}
		return out, nil
	}
	var out []source
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			var files []string
			werr := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && d.Name() == "fuzz" {
					return filepath.SkipDir
				}
				if !d.IsDir() && strings.HasSuffix(q, ".txt") {
					if !d.Type().IsRegular() {
						fmt.Fprintf(stderr, "wsksim: note: skipping %s: not a regular file\n", filepath.ToSlash(q))
						return nil
					}
					files = append(files, q)
				}
				return nil
			})
			if werr != nil {
				return nil, werr
			}
			sort.Strings(files)
			for _, f := range files {
				b, err := readFileCapped(f, MaxScenarioBytes)
				if err != nil {
					return nil, err
				}
				out = append(out, source{path: filepath.ToSlash(f), disk: f, data: b})
			}
		case err == nil:
			b, err := readFileCapped(p, MaxScenarioBytes)
			if err != nil {
				return nil, err
			}
			out = append(out, source{path: filepath.ToSlash(p), disk: p, data: b})
		default:
			rel := strings.TrimSuffix(filepath.ToSlash(p), "/")
			if b, ok := scenarios.SuiteFile(rel); ok {
				out = append(out, source{path: rel, data: b})
				continue
			}
			found := false
			for _, s := range scenarios.Suite() {
				if strings.HasPrefix(s, rel+"/") {
					b, _ := scenarios.SuiteFile(s)
					out = append(out, source{path: s, data: b})
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: no such file or directory, on disk or in the built-in suite", p)
			}
		}
	}
	return out, nil
}

const runText = `Usage: wsksim run [flags] [PATH...]

Runs scenario files and compares each command's output with the expected output
below its ----. With no PATH it runs the built-in suite. A PATH is a file or a
directory on disk, or a file or area of the built-in suite ("irp", "irp/reuse.txt").
Prints one line per file, "ok   PATH (N cmds)" or "FAIL PATH: first difference"
followed by how to reproduce it, and last "N passed, M failed". A file may be
at most 16 MiB. --junit also writes the results as a JUnit XML report (one
test case per file and seed). On a terminal, long runs show progress on
stderr.
`

type jsonFailure struct {
	Pos       string `json:"pos"`
	Command   string `json:"command"`
	Want      string `json:"want"`
	Got       string `json:"got"`
	Reproduce string `json:"reproduce"`
}

type jsonFile struct {
	Path       string       `json:"path"`
	OK         bool         `json:"ok"`
	Commands   int          `json:"commands"`
	Seeds      []uint64     `json:"seeds"`
	Error      string       `json:"error,omitempty"`
	Failure    *jsonFailure `json:"failure,omitempty"`
	Violations []string     `json:"unchecked_violations,omitempty"`
}

type jsonRun struct {
	Files  []jsonFile `json:"files"`
	Passed int        `json:"passed"`
	Failed int        `json:"failed"`
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", runText, exitsRun, stderr)
	rewrite := fs.Bool("rewrite", false, "rewrite the expected output in the files on disk (no PATH: ./scenarios/testdata)")
	seed := fs.Uint64("seed", 1, "the seed of the first run")
	seeds := fs.Int("seeds", 1, "run each scenario under this many seeds: seed, seed+1, ...")
	traceDir := fs.String("trace", "", "write each run as wsktrace v1 into this directory")
	asJSON := fs.Bool("json", false, "print the results as one JSON object")
	junitFile := fs.String("junit", "", "also write the results as a JUnit XML report to this file")
	paths, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *seeds < 1 {
		fmt.Fprintln(stderr, "wsksim run: --seeds must be at least 1")
		return ExitUsage
	}
	if *rewrite && *seeds > 1 {
		fmt.Fprintln(stderr, "wsksim run: --rewrite runs one seed; drop --seeds")
		return ExitUsage
	}
	srcs, err := resolve(paths, *rewrite, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsksim run: %v\n", err)
		return ExitUsage
	}
	if *rewrite {
		for _, s := range srcs {
			if s.disk == "" {
				fmt.Fprintf(stderr, "wsksim run: --rewrite: %s is in the built-in suite, not on disk; give its path under scenarios/testdata\n", s.path)
				return ExitUsage
			}
		}
	}
	if *traceDir != "" {
		if err := os.MkdirAll(*traceDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "wsksim run: --trace: %v\n", err)
			return ExitUsage
		}
	}
	prog := newProgress(stderr, len(srcs))
	junit := newJUnit("wsksim run")
	var report jsonRun
	unusable := false
	for n, s := range srcs {
		prog.update(n, s.path)
		jf := jsonFile{Path: s.path, OK: true}
		var line string
		var detail []string
		for k := 0; k < *seeds; k++ {
			sd := *seed + uint64(k)
			jf.Seeds = append(jf.Seeds, sd)
			opts := scenarios.Options{Seed: sd}
			var tf *os.File
			if *traceDir != "" {
				name := strings.NewReplacer("/", "_", "\\", "_").Replace(strings.TrimSuffix(s.path, ".txt"))
				if *seeds > 1 {
					name += fmt.Sprintf(".seed%d", sd)
				}
				tf, err = os.Create(filepath.Join(*traceDir, name+".wsktrace.jsonl"))
				if err != nil {
					fmt.Fprintf(stderr, "wsksim run: --trace: %v\n", err)
					return ExitUsage
				}
				opts.Trace = tf
			}
			start := time.Now()
			res, err := scenarios.Run(s.path, bytes.NewReader(s.data), opts)
			if tf != nil {
				if cerr := tf.Close(); cerr != nil {
					fmt.Fprintf(stderr, "wsksim run: --trace: %v\n", cerr)
					return ExitUsage
				}
			}
			tc := junitCase{Name: fmt.Sprintf("%s seed %d", s.path, sd), Classname: "wsksim.run", Time: fmt.Sprintf("%.3f", time.Since(start).Seconds())}
			if err != nil && seedStopped(s.path, s.data, err) {
				// The run stopped under this seed: its outcome, not an
				// unusable file.
				repro := reproduce(s.path, sd)
				jf.OK, jf.Error = false, err.Error()
				jf.Failure = &jsonFailure{Reproduce: repro}
				line = fmt.Sprintf("FAIL %s: seed %d: the run stopped: %v", s.path, sd, err)
				detail = append(detail, fmt.Sprintf("    seed %d; reproduce: %s", sd, repro))
				tc.Failure = &junitProblem{Message: xmlText("the run stopped: " + err.Error()), Type: "stopped", Text: xmlText(strings.Join(detail, "\n"))}
				junit.add(tc)
				break
			}
			if err != nil {
				unusable = true
				jf.OK, jf.Error = false, err.Error()
				line = fmt.Sprintf("FAIL %s: %v", s.path, err)
				tc.Error = &junitProblem{Message: xmlText(err.Error()), Type: "unusable"}
				junit.add(tc)
				break
			}
			jf.Commands = res.Commands
			for _, v := range res.Unchecked {
				jf.Violations = append(jf.Violations, v.String())
			}
			if *rewrite {
				if nl := newlineOf(s.data); res.Rewritten != strings.ReplaceAll(string(s.data), nl, "\n") {
					if err := os.WriteFile(s.disk, []byte(strings.ReplaceAll(res.Rewritten, "\n", nl)), 0o644); err != nil {
						fmt.Fprintf(stderr, "wsksim run: --rewrite: %v\n", err)
						return ExitUsage
					}
				}
				line = fmt.Sprintf("ok   %s (%d cmds, rewritten)", s.path, res.Commands)
				continue
			}
			if !res.OK() {
				m := res.Mismatches[0]
				jf.OK = false
				jf.Failure = &jsonFailure{Pos: m.Pos, Command: m.Cmd, Want: m.Want, Got: m.Got, Reproduce: reproduce(s.path, res.Seed)}
				line = fmt.Sprintf("FAIL %s: seed %d: %s", s.path, res.Seed, m.FirstDifference())
				detail = append(detail, fmt.Sprintf("    seed %d; reproduce: %s", res.Seed, reproduce(s.path, res.Seed)))
				detail = append(detail, "    want:")
				detail = append(detail, indent(m.Want, "      ")...)
				detail = append(detail, "    got:")
				detail = append(detail, indent(m.Got, "      ")...)
				tc.Failure = &junitProblem{Message: xmlText(m.FirstDifference()), Type: "mismatch", Text: xmlText(strings.Join(detail, "\n"))}
				junit.add(tc)
				break
			}
			junit.add(tc)
			line = fmt.Sprintf("ok   %s (%d cmds)", s.path, res.Commands)
		}
		if jf.OK {
			report.Passed++
		} else {
			report.Failed++
		}
		report.Files = append(report.Files, jf)
		if !*asJSON {
			prog.clear()
			fmt.Fprintln(stdout, line)
			for _, d := range detail {
				fmt.Fprintln(stdout, d)
			}
		}
	}
	prog.clear()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(report)
	} else {
		fmt.Fprintf(stdout, "%d passed, %d failed\n", report.Passed, report.Failed)
	}
	if *junitFile != "" {
		if err := writeFileAtomic(*junitFile, junit.write); err != nil {
			fmt.Fprintf(stderr, "wsksim run: --junit: %v\n", err)
			return ExitUsage
		}
	}
	switch {
	case unusable:
		return ExitUsage
	case report.Failed > 0:
		return ExitFailures
	}
	return ExitOK
}

func indent(s, pre string) []string {
	if s == "" {
		return []string{pre + "(nothing)"}
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		out = append(out, pre+l)
	}
	return out
}

// newlineOf returns the line ending a scenario file uses: "\r\n" when its
// first line ends so, "\n" otherwise. --rewrite writes it back.
func newlineOf(data []byte) string {
	if k := bytes.IndexByte(data, '\n'); k > 0 && data[k-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// progress draws a one-line progress bar on stderr, only when stderr is a
// terminal and only once the run has taken longer than progressAfter.
type progress struct {
	w     io.Writer
	on    bool
	shown bool
	total int
	start time.Time
}

const progressAfter = time.Second

func newProgress(stderr io.Writer, total int) *progress {
	return &progress{w: stderr, on: isTerminal(stderr), total: total, start: time.Now()}
}

func (p *progress) update(done int, cur string) {
	if !p.on || time.Since(p.start) < progressAfter {
		return
	}
	const width = 30
	fill := 0
	if p.total > 0 {
		fill = done * width / p.total
	}
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d %s", strings.Repeat("#", fill), strings.Repeat(" ", width-fill), done, p.total, cur)
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
