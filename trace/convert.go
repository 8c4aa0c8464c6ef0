package trace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/nt"
)

// Convert writes the trace read from r as a scenario file for package
// scenarios (datadriven commands, each followed by "----" and an empty
// expected output: run the scenario with -rewrite to fill it in). I/O manager
// and pool calls map to their commands; WSK and FWPS calls that take an IRP
// map to the scenario language's stand-in provider (provider-call,
// provider-complete); constructs without a scenario command yet are kept as
// "# no scenario command yet:" comments. Conversion reads the whole trace.
func Convert(r io.Reader, w io.Writer) error {
	h, evs, err := ParseAll(r)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	cmd := func(format string, a ...any) {
		fmt.Fprintf(bw, format+"\n----\n\n", a...)
	}
	comment := func(format string, a ...any) {
		for _, l := range strings.Split(fmt.Sprintf(format, a...), "\n") {
			fmt.Fprintf(bw, "# %s\n", l)
		}
	}
	comment("converted from a wsktrace v1 trace: %s (profile %s)", h.Source, h.Profile)
	bw.WriteString("\n")
	returns := map[uint64]*Event{}
	completeIdx := map[int]bool{} // complete events converted together with their call
	for _, e := range evs {
		if e.Kind == EvReturn {
			returns[e.Call] = e
		}
	}
	for k, e := range evs {
		switch e.Kind {
		case EvNote:
			comment("note (seq %d): %s", e.Seq, e.Text)
		case EvEnv:
			comment("no scenario command yet: env %s (seq %d) %s", e.What, e.Seq, argsText(e.Fields))
		case EvReturn:
			// Returns are converted with their call.
		case EvComplete:
			if completeIdx[k] {
				continue
			}
			cmd("provider-complete irp=%s status=%s info=%s", e.IRP, e.Status, infoText(e.Information))
		case EvCall:
			if e.HasIRQL && e.IRQL != nt.PASSIVE_LEVEL {
				cmd("irql level=%s", e.IRQL)
			}
			convertCall(e, returns[e.Seq], evs[k+1:], k+1, completeIdx, cmd, comment)
			if e.HasIRQL && e.IRQL != nt.PASSIVE_LEVEL {
				cmd("irql level=PASSIVE_LEVEL")
			}
		}
	}
	cmd("close")
	return bw.Flush()
}

func argsText(as []Arg) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Name + "=" + a.Val.String())
	}
	return b.String()
}

func infoText(v Value) string {
	if v.Kind == Int {
		return strconv.FormatUint(v.U, 10)
	}
	return "0"
}

func convertCall(e, ret *Event, rest []*Event, base int, completeIdx map[int]bool, cmd, comment func(string, ...any)) {
	arg := func(n string) Value { v, _ := e.Arg(n); return v }
	switch e.Fn {
	case "IoAllocateIrp":
		if ret != nil && ret.HasValue && ret.Value.Kind == Bind {
			cmd("alloc-irp name=%s stack=%d quota=%t", ret.Value.Name, int64(arg("StackSize").U), arg("ChargeQuota").B)
		} else {
			cmd("fault site=irp.alloc fail-next=1")
			cmd("alloc-irp stack=%d", int64(arg("StackSize").U))
		}
	case "IoFreeIrp":
		cmd("free-irp irp=%s", arg("Irp").Name)
	case "IoReuseIrp":
		cmd("reuse-irp irp=%s status=%s", arg("Irp").Name, arg("Iostatus").St)
	case "IoSetCompletionRoutine":
		var on []string
		for _, f := range []struct{ arg, word string }{{"InvokeOnSuccess", "success"}, {"InvokeOnError", "error"}, {"InvokeOnCancel", "cancel"}} {
			if arg(f.arg).B {
				on = append(on, f.word)
			}
		}
		ret := "STATUS_MORE_PROCESSING_REQUIRED"
		for _, r := range rest {
			if r.Kind == EvComplete && r.IRP == arg("Irp").Name {
				ret = r.RoutineReturned.String()
				break
			}
		}
		cmd("set-routine irp=%s return=%s on=(%s)", arg("Irp").Name, ret, strings.Join(on, ","))
	case "IoCancelIrp":
		cmd("cancel-irp irp=%s", arg("Irp").Name)
	case "ExAllocatePool2":
		if ret != nil && ret.HasValue && ret.Value.Kind == Bind {
			cmd("alloc-pool name=%s size=%d tag=0x%x flags=0x%x", ret.Value.Name, arg("NumberOfBytes").U, arg("Tag").U, arg("Flags").U)
		} else {
			cmd("fault site=pool.alloc fail-next=1")
			cmd("alloc-pool size=%d tag=0x%x", arg("NumberOfBytes").U, arg("Tag").U)
		}
	case "ExFreePoolWithTag":
		cmd("free-pool pool=%s tag=0x%x", arg("P").Name, arg("Tag").U)
	case "ExFreePool":
		cmd("free-pool pool=%s", arg("P").Name)
	default:
		iv := arg("Irp")
		if iv.Kind != Name {
			comment("no scenario command yet: %s (seq %d) %s", e.Fn, e.Seq, argsText(e.Args))
			if ret != nil {
				comment("  returned %s", retText(ret))
			}
			return
		}
		var lends []string
		for _, a := range e.Args {
			if a.Val.Kind == Buf && a.Val.Buf.Pool != "" && a.Val.Buf.Form != BufRef {
				lends = append(lends, fmt.Sprintf("%s:0:%d", a.Val.Buf.Pool, a.Val.Buf.Len))
			}
		}
		lend := ""
		if len(lends) > 0 {
			lend = " lend=(" + strings.Join(lends, ",") + ")"
		}
		// Inline when the complete comes before the return.
		for k, r := range rest {
			if r.Kind == EvReturn && r.Call == e.Seq {
				break
			}
			if r.Kind == EvComplete && r.IRP == iv.Name && (ret == nil || ret.Status != nt.STATUS_PENDING) {
				completeIdx[base+k] = true
				cmd("provider-call fn=%s irp=%s%s complete=inline status=%s info=%s", e.Fn, iv.Name, lend, r.Status, infoText(r.Information))
				return
			}
			if r.Kind == EvCall && usesIRP(r, iv.Name) {
				break
			}
		}
		cmd("provider-call fn=%s irp=%s%s complete=hold", e.Fn, iv.Name, lend)
	}
}

func retText(e *Event) string {
	switch {
	case e.HasStatus:
		return e.Status.String()
	case e.HasValue:
		return e.Value.String()
	}
	return "(void)"
}
