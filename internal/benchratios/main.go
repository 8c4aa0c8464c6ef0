// Command benchratios runs the benchmarks behind the performance goals, prints
// each measured ratio against its goal, and with -write regenerates the
// generated section of docs/performance.md from that run (with the commit and
// machine it ran on). `make bench-ratios` runs it with -write.
//
// Every ratio comes from one run: the interleaved benchmarks (…VsBaseline,
// …VsUnmarshal, …RetryVsSingle) time both sides in the same loop, and the
// store ratios compare sizes measured by one `go test` process.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// run is one `go test -bench` invocation.
type run struct {
	pkg, pattern string
	args         []string
}

var runs = []run{
	{"./trace", `^(BenchmarkReplay|BenchmarkReplayVsUnmarshal|BenchmarkReplayRetryVsSingle)$`, []string{"-count", "3"}},
	{"./irp", `^BenchmarkIRPCycleVsBaseline$`, []string{"-count", "3", "-benchtime", "200x"}},
	{"./wsk", `^BenchmarkSetRecordsDistinctVsBaseline$`, []string{"-count", "3", "-benchtime", "200x"}},
	{"./wsk", `^(BenchmarkStoreScale|BenchmarkStoreScaleStride)$/^(1k|1M)$`, []string{"-count", "1"}},
	{"./fuzz", `^BenchmarkFuzzWorldExecs$`, []string{"-count", "3", "-benchtime", "1000x", "-cpu", "1"}},
}

// goal is one line of the goals table.
type goal struct {
	what   string
	unit   string
	target float64
	atMost bool // the measured value must be at most target (else at least)
	value  func(r results) (float64, bool)
}

var goals = []goal{
	{"replay throughput ÷ json.Unmarshal of the same lines into RawMessage", "×", 1.0, false, metric("BenchmarkReplayVsUnmarshal", "x-unmarshal")},
	{"replay events per second (BenchmarkReplay)", "events/s", 1e6, false, metric("BenchmarkReplay", "events/s")},
	{"replay allocations per event (BenchmarkReplay)", "allocs", 5, true, metric("BenchmarkReplay", "allocs/event")},
	{"replay needing a policy retry ÷ the same replay with the policy pinned", "×", 1.5, true, metric("BenchmarkReplayRetryVsSingle", "x-single")},
	{"IRP cycle ÷ BaselineCall (BenchmarkIRPCycleVsBaseline)", "×", 6, true, metric("BenchmarkIRPCycleVsBaseline", "x-baseline")},
	{"SET round trip, every blob verified ÷ BaselineMapCopy (BenchmarkSetRecordsDistinctVsBaseline)", "×", 6, true, metric("BenchmarkSetRecordsDistinctVsBaseline", "x-baseline")},
	{"store, 1M ÷ 1k sockets, sequential (BenchmarkStoreScale)", "×", 1.3, true, quotient("BenchmarkStoreScale/1M", "BenchmarkStoreScale/1k")},
	{"store, 1M ÷ 1k sockets, strided (BenchmarkStoreScaleStride)", "×", 1.5, true, quotient("BenchmarkStoreScaleStride/1M", "BenchmarkStoreScaleStride/1k")},
	{"FuzzWorld executions per second on one core (BenchmarkFuzzWorldExecs)", "execs/s", 5000, false, metric("BenchmarkFuzzWorldExecs", "execs/s")},
}

// results maps a benchmark name to its runs' metrics (unit → value).
type results map[string][]map[string]float64

func median(vs []float64) float64 {
	sort.Float64s(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

func (r results) median(name, unit string) (float64, bool) {
	var vs []float64
	for _, m := range r[name] {
		if v, ok := m[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

func metric(name, unit string) func(results) (float64, bool) {
	return func(r results) (float64, bool) { return r.median(name, unit) }
}

func quotient(num, den string) func(results) (float64, bool) {
	return func(r results) (float64, bool) {
		a, ok1 := r.median(num, "ns/op")
		b, ok2 := r.median(den, "ns/op")
		if !ok1 || !ok2 || b == 0 {
			return 0, false
		}
		return a / b, true
	}
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads `go test -bench` output into r and returns the benchmark lines.
func parse(out []byte, r results) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		lines = append(lines, sc.Text())
		f := strings.Fields(m[2])
		vals := map[string]float64{}
		for k := 0; k+1 < len(f); k += 2 {
			if v, err := strconv.ParseFloat(f[k], 64); err == nil {
				vals[f[k+1]] = v
			}
		}
		r[m[1]] = append(r[m[1]], vals)
	}
	return lines
}

func main() {
	write := flag.String("write", "", "regenerate the generated section of this Markdown file (docs/performance.md)")
	flag.Parse()
	r := results{}
	var raw []string
	for _, rn := range runs {
		args := append([]string{"test", "-run", "^$", "-bench", rn.pattern, "-benchmem"}, rn.args...)
		args = append(args, rn.pkg)
		fmt.Fprintf(os.Stderr, "benchratios: go %s\n", strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchratios: go test %s failed: %v\n%s", rn.pkg, err, out)
			os.Exit(1)
		}
		raw = append(raw, parse(out, r)...)
	}
	table := goalsTable(r)
	fmt.Print(table)
	if *write != "" {
		if err := rewrite(*write, section(table, raw)); err != nil {
			fmt.Fprintf(os.Stderr, "benchratios: %v\n", err)
			os.Exit(1)
		}
	}
}

func goalsTable(r results) string {
	var b strings.Builder
	b.WriteString("| goal | measured | target | met |\n|---|---:|---:|---|\n")
	for _, g := range goals {
		v, ok := g.value(r)
		cmp, met := "≥", "no"
		if g.atMost {
			cmp = "≤"
		}
		shown := "not measured"
		if ok {
			shown = format(v) + " " + g.unit
			if g.atMost && v <= g.target || !g.atMost && v >= g.target {
				met = "**yes**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s %s | %s |\n", g.what, shown, cmp, format(g.target), g.unit, met)
	}
	return b.String()
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func section(table string, raw []string) string {
	commit := strings.TrimSpace(gitOut("rev-parse", "--short=12", "HEAD"))
	if gitOut("status", "--porcelain", "--untracked-files=no") != "" {
		commit += " (with uncommitted changes)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench-ratios` on %s at commit %s; machine: %s/%s, %d CPUs, %s, %s. Medians of the runs; ratios from benchmarks that time both sides in one loop.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), commit, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
	b.WriteString(table)
	b.WriteString("\nThe benchmark lines of that run:\n\n```\n")
	for _, l := range raw {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}

const (
	beginMark = "<!-- bench-ratios:begin (generated by make bench-ratios; do not edit) -->"
	endMark   = "<!-- bench-ratios:end -->"
)

func rewrite(path, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(doc)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q section", path, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + body + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

func gitOut(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return "unknown"
	}
	return string(out)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "model name") {
			if k := strings.IndexByte(l, ':'); k >= 0 {
				return strings.TrimSpace(l[k+1:])
			}
		}
	}
	return "unknown CPU"
}
