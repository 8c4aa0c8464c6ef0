package recorder

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsksim/wsksim/trace"
)

// wineInclude is where Debian's libwine-dev installs Wine's Windows headers
// (ddk/wsk.h among them).
const wineInclude = "/usr/include/wine/wine/windows"

// mingwDDK is MinGW-w64's kernel header directory (Debian mingw-w64-x86-64-dev).
const mingwDDK = "/usr/x86_64-w64-mingw32/include/ddk"

func need(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipped: %s not found at %s (Debian: apt-get install %s; .ci/run installs it)", filepath.Base(path), path, what)
	}
}

func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("skipped: %s not on PATH (Debian: apt-get install %s; .ci/run installs it)", tool, pkg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		// -Werror turns warnings into failures; anything printed is a finding.
		t.Fatalf("%s printed output (warnings?):\n%s", name, out)
	}
}

// TestCoreIsPlainC builds the encoding core alone, as strict C99, with the
// host compiler and no Windows headers: it has no kernel dependencies.
func TestCoreIsPlainC(t *testing.T) {
	cc := needTool(t, "gcc", "gcc")
	run(t, cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c", "src/wsktrace_core.c", "-o", filepath.Join(t.TempDir(), "core.o"))
}

// TestCoreConcurrent runs the encoding core on four threads at once with a
// fifth draining: every line must come out whole, once, in strictly
// increasing seq (ParseAll rejects anything else).
func TestCoreConcurrent(t *testing.T) {
	cc := needTool(t, "gcc", "gcc")
	bin := filepath.Join(t.TempDir(), "core_test")
	run(t, cc, "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", bin,
		"src/test/core_test.c", "src/wsktrace_core.c")
	const threads, per = 4, 3000
	out, err := exec.Command(bin, fmt.Sprint(threads), fmt.Sprint(per)).Output()
	if err != nil {
		t.Fatalf("core_test: %v", err)
	}
	_, evs, err := trace.ParseAll(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("the concurrent trace does not parse: %v", err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.Text] {
			t.Fatalf("line %d: %q written twice", e.Line, e.Text)
		}
		seen[e.Text] = true
	}
	if len(seen) != threads*per {
		t.Fatalf("%d distinct events, want %d", len(seen), threads*per)
	}
	// Driver strings are bytes: control characters and bytes >= 0x80 are escaped.
	if want := "thread 0 event 0 \x01 \u00c3\u00a9 \"q\""; !seen[want] {
		t.Errorf("no note %q", want)
	}
}

// scenarios are the test drivers of src/test/driver.c and what today's replay
// says of their traces. When the replay learns the additions for real
// drivers (MDLs, ExAllocatePoolWithTag), flip the verdict of mdlclient to
// trace.Conforms and clear err. (Event callbacks are replayed: see server.)
var scenarios = []struct {
	name    string
	verdict trace.Verdict
	rules   []string // the violations' rule IDs, in report order
	err     string   // for Unusable: what the report's error must say
}{
	{name: "proxy", verdict: trace.Conforms},
	{name: "misuse", verdict: trace.Violations, rules: []string{"IRP-USE-AFTER-FREE"}},
	{name: "leaks", verdict: trace.Violations, rules: []string{"IRP-ROUTINE-RETURN", "IRP-LEAK", "WSK-SOCKET-LEAK", "WSK-NPI-LEAK", "WSK-REGISTRATION-LEAK"}},
	{name: "callout", verdict: trace.Conforms},
	{name: "callproxy", verdict: trace.Conforms},
	{name: "callproxy-noset", verdict: trace.Violations, rules: []string{"WFP-PROXY-LOOP", "WFP-FLOW-UNFINISHED"}},
	{name: "mdlclient", verdict: trace.Unusable, err: `unknown function "ExAllocatePoolWithTag"`},
	// The test driver's accepted socket never enables WSK_EVENT_RECEIVE
	// (SO_WSK_EVENT_CALLBACK on it, or on the listening socket), yet the
	// fake kernel indicates data to it: the replay says no WskReceiveEvent
	// can come there.
	{name: "server", verdict: trace.Diverges},
	{name: "overflow", verdict: trace.Unusable, err: `unknown event kind "overflow"`},
}

// TestRecordedTracesReplay builds the recorder's kernel layer as user-mode C
// (WSKTRACE_USERMODE, Wine's headers for the WDK types) with a fake kernel
// and WSK provider, runs each test driver, and replays the trace it wrote.
func TestRecordedTracesReplay(t *testing.T) {
	cc := needTool(t, "gcc", "gcc")
	need(t, "libwine-dev", filepath.Join(wineInclude, "ddk", "wsk.h"))
	dir := t.TempDir()
	bin := filepath.Join(dir, "driver")
	run(t, cc, "-Wall", "-Wextra", "-Werror", "-DWSKTRACE_USERMODE", "-DWSKTRACE_FWPS", "-D_NTSYSTEM_", "-isystem", wineInclude,
		"-o", bin, "src/wsktrace_core.c", "src/wsktrace_rec.c", "src/test/fakekernel.c", "src/test/driver.c")
	t.Run("deterministic", func(t *testing.T) {
		// The same driver run writes the same bytes.
		var prev []byte
		for i := 0; i < 2; i++ {
			out := filepath.Join(dir, "again.jsonl")
			if b, err := exec.Command(bin, "proxy", out).CombinedOutput(); err != nil {
				t.Fatalf("driver: %v\n%s", err, b)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && !bytes.Equal(prev, b) {
				t.Fatal("two runs of the proxy driver wrote different traces")
			}
			prev = b
		}
	})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			out := filepath.Join(dir, sc.name+".jsonl")
			if b, err := exec.Command(bin, sc.name, out).CombinedOutput(); err != nil {
				t.Fatalf("driver %s: %v\n%s", sc.name, err, b)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := trace.Replay(f, trace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if rep.Verdict != sc.verdict {
				t.Fatalf("replay of %s: verdict %v, want %v\n%s", sc.name, rep.Verdict, sc.verdict, text.String())
			}
			var got []string
			for _, v := range rep.Violations {
				got = append(got, v.Rule)
			}
			if strings.Join(got, ",") != strings.Join(sc.rules, ",") {
				t.Errorf("replay of %s: rules %v, want %v\n%s", sc.name, got, sc.rules, text.String())
			}
			if sc.err != "" && (rep.Error == nil || !strings.Contains(rep.Error.Msg, sc.err)) {
				t.Errorf("replay of %s: error %v, want one saying %q", sc.name, rep.Error, sc.err)
			}
		})
	}
}

// TestKernelBuild compiles the recorder's kernel layer (and the FWPS
// wrappers) and the example driver for x86_64 Windows with MinGW-w64 against
// MinGW's DDK headers and Wine's ddk/wsk.h, with every warning an error, at
// -O0 and -O2 (some warnings only show when functions are inlined).
func TestKernelBuild(t *testing.T) {
	cc := needTool(t, "x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64")
	need(t, "mingw-w64-x86-64-dev", filepath.Join(mingwDDK, "ntddk.h"))
	need(t, "libwine-dev", filepath.Join(wineInclude, "ddk", "wsk.h"))
	dir := t.TempDir()
	for _, opt := range []string{"-O0", "-O2"} {
		for _, src := range []string{"src/wsktrace_core.c", "src/wsktrace_rec.c", "src/example/kdriver.c"} {
			run(t, cc, opt, "-Wall", "-Wextra", "-Werror", "-DWSKTRACE_FWPS", "-I"+mingwDDK, "-idirafter", filepath.Join(wineInclude, "ddk"),
				"-c", src, "-o", filepath.Join(dir, strings.ReplaceAll(filepath.Base(src), ".c", opt+".o")))
		}
	}
}

// wineLoader finds Wine's 64-bit loader (Debian installs it as
// /usr/lib/wine/wine64, outside PATH).
func wineLoader() string {
	for _, p := range []string{"wine64", "/usr/lib/wine/wine64"} {
		if q, err := exec.LookPath(p); err == nil {
			return q
		}
	}
	return ""
}

// TestWineDriver builds src/example/kdriver.c as a real kernel driver
// (.sys) with the recorder, loads it under Wine, whose netio.sys is a WSK
// provider over host sockets, and replays the trace the driver wrote: a
// listening socket, a socket connected to it and the accepted one, with the
// completions arriving on Wine's worker threads.
func TestWineDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: starting a Wine prefix takes about half a minute")
	}
	cc := needTool(t, "x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64")
	need(t, "mingw-w64-x86-64-dev", filepath.Join(mingwDDK, "ntddk.h"))
	need(t, "libwine-dev", filepath.Join(wineInclude, "ddk", "wsk.h"))
	wine := wineLoader()
	if wine == "" {
		t.Skip("skipped: Wine's loader (wine64) not found (Debian: apt-get install wine64)")
	}
	// The driver listens on 127.0.0.1:47211 of this machine (Wine's sockets are the host's).
	if l, err := net.Listen("tcp", "127.0.0.1:47211"); err != nil {
		t.Skipf("skipped: the example driver's port 127.0.0.1:47211 is taken here: %v", err)
	} else {
		l.Close()
	}
	dir := t.TempDir()
	sys := filepath.Join(dir, "kdriver.sys")
	// Wine 8 does not export ExAllocatePool2: leave that wrapper out.
	run(t, cc, "-O1", "-Wall", "-Wextra", "-Werror", "-DWSKTRACE_NO_EXALLOCATEPOOL2", "-I"+mingwDDK,
		"-idirafter", filepath.Join(wineInclude, "ddk"), "-shared", "-nostdlib", "-nostartfiles",
		"-Wl,--subsystem,native", "-Wl,--entry,DriverEntry", "-o", sys,
		"src/example/kdriver.c", "src/wsktrace_rec.c", "src/wsktrace_core.c", "-lntoskrnl", "-lnetio", "-lhal", "-lgcc")
	loader := filepath.Join(dir, "loader.exe")
	run(t, cc, "-Wall", "-Wextra", "-Werror", "-o", loader, "src/example/loader.c")

	prefix := filepath.Join(dir, "prefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	wineRun := func(infra bool, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, wine, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil && infra {
			// Wine itself could not start here (no prefix, a sandbox that
			// refuses its server): that says nothing about the recorder.
			t.Skipf("skipped: Wine cannot run here (wine %s: %v)\n%s", strings.Join(args, " "), err, out)
		}
		if err != nil {
			t.Fatalf("wine %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		// Stop this prefix's wineserver (and only it).
		ws := filepath.Join(filepath.Dir(wine), "wineserver64")
		if _, err := os.Stat(ws); err != nil {
			ws = "wineserver"
		}
		cmd := exec.Command(ws, "-k")
		cmd.Env = env
		_ = cmd.Run()
	})
	wineRun(true, "wineboot", "-i")
	driveC := filepath.Join(prefix, "drive_c")
	b, err := os.ReadFile(sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(driveC, "kdriver.sys"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out := wineRun(false, loader, `C:\kdriver.sys`); !strings.Contains(out, "stopped") {
		t.Fatalf("loader: %s", out)
	}
	f, err := os.Open(filepath.Join(driveC, "wsktrace.jsonl"))
	if err != nil {
		t.Fatalf("the driver wrote no trace: %v", err)
	}
	defer f.Close()
	rep, err := trace.Replay(f, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if rep.Verdict != trace.Conforms || rep.Events < 50 {
		t.Fatalf("replay of the Wine driver's trace: %v, %d events, want conforms\n%s", rep.Verdict, rep.Events, text.String())
	}
	t.Logf("%s", text.String())
}
