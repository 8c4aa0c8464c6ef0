package cli

import (
	"strings"
	"testing"
)

// stops is a well-formed scenario whose run stops at a command: the stand-in
// provider holds no IRP to complete (as a name a pending completion never
// bound stops a run under some seeds).
const stops = `alloc-irp name=op
----
IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1 (op)

provider-complete irp=op
----
`

// TestSeedStopped: a run that stops under a seed is that seed's outcome
// (exit 1, the seed and the command that reproduces it), for run and
// explore; a malformed file is still unusable (exit 2).
func TestSeedStopped(t *testing.T) {
	p := writeFile(t, t.TempDir(), "s.txt", stops)
	out, _, code := run(t, "run", "--seeds", "3", p)
	if code != ExitFailures || !strings.Contains(out, ": seed 1: the run stopped: ") || !strings.Contains(out, "reproduce: go run ./cmd/wsksim run --seed 1 ") {
		t.Errorf("run: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "explore", "--seeds", "3", p)
	if code != ExitFailures || !strings.Contains(out, "1 distinct outcome(s)") || !strings.Contains(out, "the run stopped: ") || !strings.Contains(out, "reproduce: go run ./cmd/wsksim run --seed 1 ") {
		t.Errorf("explore: exit %d\n%s", code, out)
	}
	bad := writeFile(t, t.TempDir(), "b.txt", "no-such-command\n----\n")
	if _, _, code := run(t, "run", bad); code != ExitUsage {
		t.Errorf("malformed file: exit %d, want %d", code, ExitUsage)
	}
	if _, _, code := run(t, "explore", bad); code != ExitUsage {
		t.Errorf("explore, malformed file: exit %d, want %d", code, ExitUsage)
	}
}
