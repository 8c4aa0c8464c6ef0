package scenarios

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// ChoiceProviderComplete is the choice point of `provider-call complete=choose`:
// whether the scenario's stand-in provider completes inline or pends.
const ChoiceProviderComplete = "scenario.provider.complete"

func init() {
	sim.RegisterChoice(sim.ChoicePoint{Label: ChoiceProviderComplete, Options: []string{"inline", "pending"},
		Doc: "whether the scenario language's stand-in provider (provider-call complete=choose) completes the IRP inline or returns STATUS_PENDING"})
	for _, c := range []*command{
		{name: "alloc-irp", args: []string{"name", "stack", "quota"}, open: true, run: cmdAllocIRP, help: "IoAllocateIrp(StackSize, ChargeQuota); stack defaults to 1", ex: "alloc-irp name=out stack=1"},
		{name: "passed-down-irp", args: []string{"name", "stack"}, open: true, run: cmdPassedDownIRP, help: "an IRP the I/O manager handed the driver in a dispatch routine (the driver completes it, never frees it)", ex: "passed-down-irp name=req stack=2"},
		{name: "free-irp", args: []string{"irp"}, open: true, run: cmdFreeIRP, help: "IoFreeIrp(Irp)", ex: "free-irp irp=irp1"},
		{name: "reuse-irp", args: []string{"irp", "status", "rearm"}, open: true, run: cmdReuseIRP, help: "IoReuseIrp(Irp, Iostatus); status defaults to STATUS_UNSUCCESSFUL; rearm then sets the IRP's declared completion routine again", ex: "reuse-irp irp=irp1 rearm"},
		{name: "set-routine", args: []string{"irp", "return", "on", "free", "reuse", "free-pool", "show", "routine", "close-socket"}, open: true, run: cmdSetRoutine, help: "IoSetCompletionRoutine with a declared routine: what it returns, what it frees, what it prints", ex: "set-routine irp=irp1 return=STATUS_MORE_PROCESSING_REQUIRED on=(success,error,cancel) show=(status,information,pending)"},
		{name: "cancel-irp", args: []string{"irp"}, open: true, run: cmdCancelIRP, help: "IoCancelIrp(Irp)", ex: "cancel-irp irp=irp1"},
		{name: "complete-request", args: []string{"irp", "status", "info"}, open: true, run: cmdCompleteRequest, help: "IoCompleteRequest on a passed-down IRP, with IoStatus set first", ex: "complete-request irp=req status=STATUS_SUCCESS info=0"},
		{name: "set-cancel-routine", args: []string{"irp", "routine"}, open: true, run: cmdSetCancelRoutine, help: "IoSetCancelRoutine on an IRP the driver holds: the routine completes it with STATUS_CANCELLED; routine=none clears it", ex: "set-cancel-routine irp=req"},
		{name: "irp", args: []string{"irp"}, open: true, run: cmdShowIRP, help: "print an IRP's state, IoStatus and what its routine saw last", ex: "irp irp=irp1"},
		{name: "alloc-pool", args: []string{"name", "size", "tag", "flags"}, open: true, run: cmdAllocPool, help: "ExAllocatePool2(Flags, NumberOfBytes, Tag); any size, huge ones fail like the real pool", ex: "alloc-pool name=buf size=64 tag=Wsks"},
		{name: "free-pool", args: []string{"pool", "tag"}, open: true, run: cmdFreePool, help: "ExFreePoolWithTag(P, Tag), or ExFreePool(P) without tag=", ex: "free-pool pool=buf tag=Wsks"},
		{name: "write-pool", args: []string{"pool", "off", "hex"}, open: true, run: cmdWritePool, help: "the driver writes bytes into a pool block", ex: "write-pool pool=buf off=0 hex=deadbeef"},
		{name: "read-pool", args: []string{"pool", "off", "len"}, open: true, run: cmdReadPool, help: "print bytes of a pool block in hex", ex: "read-pool pool=buf off=0 len=4"},
		{name: "provider-call", args: []string{"fn", "irp", "lend", "status", "info", "complete", "cancelable"}, open: true, run: cmdProviderCall, help: "a stand-in provider call that takes an IRP (Submit, Lend, then complete inline, pending, by choice, or hold)", ex: "provider-call fn=WskSend irp=irp1 lend=(buf:0:16) complete=pending"},
		{name: "provider-complete", args: []string{"irp", "status", "info"}, open: true, run: cmdProviderComplete, help: "the stand-in provider completes a held IRP now", ex: "provider-complete irp=irp1 status=STATUS_SUCCESS info=16"},
		{name: "provider-deliver", args: []string{"irp", "pool", "off", "hex"}, open: true, run: cmdProviderDeliver, help: "the stand-in provider writes output bytes into a buffer lent to a held IRP", ex: "provider-deliver irp=irp1 pool=buf off=0 hex=c0ffee"},
	} {
		register(c)
	}
}

// irpState is what the interpreter knows about an IRP beyond the model.
type irpState struct {
	seen string       // what the completion routine saw last
	spec *routineSpec // the routine declared last (for reuse-irp rearm)
	onS  bool
	onE  bool
	onC  bool
	none bool
}

// routineSpec is a declared completion routine.
type routineSpec struct {
	ret      nt.Status
	free     bool
	reuse    bool
	freePool []*irp.Block
	show     map[string]bool
	// closeSock is a socket the routine closes with WskCloseSocket (a
	// driver calling WSK from its completion routine), using closeIRP.
	closeSock *wsk.Socket
	closeIRP  *irp.IRP
	hasClose  bool
}

// maxTracedLends is how many lent ranges a traced IoCallDriver carries
// (Buffer … Buffer4, docs/wsktrace.md).
const maxTracedLends = 4

type lendRec struct {
	b      *irp.Block
	off, n uint64
}

func (in *Interp) irpName(i *irp.IRP) string {
	if i == nil {
		return "NULL"
	}
	return i.Name()
}

func (in *Interp) poolName(b *irp.Block) string {
	if b == nil {
		return "NULL"
	}
	return b.Name()
}

func (in *Interp) describeIRP(i *irp.IRP) string {
	kind := "driver-allocated"
	if !i.DriverAllocated() {
		kind = "passed down"
	}
	s := fmt.Sprintf("%s: %s, %s, IoStatus %s/%d, PendingReturned=%t, Cancel=%t, %d stack location(s) left",
		in.shown(i.Name(), i), strings.TrimSuffix(strings.TrimPrefix(i.String(), i.Name()+"("), ")"), kind,
		i.IoStatus.Status, i.IoStatus.Information, i.PendingReturned, i.Cancel, i.StackLocations())
	if st := in.irps[i]; st != nil && st.seen != "" {
		s += "; routine saw " + st.seen
	}
	return s
}

// cmdAllocIRP calls IoAllocateIrp. It prints the new IRP (or NULL when the
// fault site irp.alloc fires or StackSize is invalid) and binds name= to it.
//
// Example: alloc-irp name=out stack=1
func cmdAllocIRP(in *Interp, c *Command, a *args) error {
	name := a.name()
	stack := a.int("stack", 1, -1<<31, 1<<31-1)
	quota := a.flag("quota", false)
	if a.err != nil {
		return nil
	}
	var i *irp.IRP
	in.call(fmt.Sprintf("IoAllocateIrp(StackSize=%d, ChargeQuota=%t)", stack, quota), func() string {
		i = in.io.IoAllocateIrp(stack, quota)
		if i == nil {
			return "NULL"
		}
		if name != "" {
			return i.Name() + " (" + name + ")"
		}
		return i.Name()
	})
	if i == nil {
		return nil
	}
	in.irps[i] = &irpState{}
	return in.bind(i.Name(), i, name)
}

// cmdPassedDownIRP makes an IRP the I/O manager handed the driver in a
// dispatch routine: the driver owns it until it completes it with
// complete-request; it must never free it.
//
// Example: passed-down-irp name=req stack=2
func cmdPassedDownIRP(in *Interp, c *Command, a *args) error {
	name := a.name()
	stack := a.int("stack", 1, 0, 127)
	if a.err != nil {
		return nil
	}
	i, err := in.io.NewPassedDownIrp(stack)
	if err != nil {
		return err
	}
	in.irps[i] = &irpState{}
	if err := in.bind(i.Name(), i, name); err != nil {
		return err
	}
	in.printf("%s: passed down with %d stack location(s) left\n", in.shown(i.Name(), i), stack)
	return nil
}

// cmdFreeIRP calls IoFreeIrp (irp=NULL passes a NULL IRP).
//
// Example: free-irp irp=irp1
func cmdFreeIRP(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("IoFreeIrp(Irp=%s)", in.irpName(i)), func() string {
		in.io.IoFreeIrp(i)
		return ""
	})
	return nil
}

// cmdReuseIRP calls IoReuseIrp, which clears the completion routine; rearm
// then calls IoSetCompletionRoutine with the routine declared last for the
// IRP (the usual way to send a driver-allocated IRP to the next call).
//
// Example: reuse-irp irp=irp1 status=STATUS_UNSUCCESSFUL rearm
func cmdReuseIRP(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	st := a.status("status", nt.STATUS_UNSUCCESSFUL)
	rearm := a.flag("rearm", false)
	if a.err != nil {
		return nil
	}
	var rs *irpState
	if rearm {
		if rs = in.irps[i]; i == nil || rs == nil || rs.spec == nil {
			return fmt.Errorf("rearm: %s has no declared completion routine to set again", in.irpName(i))
		}
	}
	in.call(fmt.Sprintf("IoReuseIrp(Irp=%s, Iostatus=%s)", in.irpName(i), st), func() string {
		in.io.IoReuseIrp(i, st)
		return ""
	})
	if rearm {
		in.setRoutine(i, rs.spec, rs.none, rs.onS, rs.onE, rs.onC)
	}
	return nil
}

// cmdSetRoutine calls IoSetCompletionRoutine with a routine whose behaviour the
// scenario declares: return= what it returns (default
// STATUS_MORE_PROCESSING_REQUIRED); on= the subset of success, error, cancel it
// is invoked on (default all three); free (IoFreeIrp inside the routine);
// reuse (IoReuseIrp inside it); free-pool=(blocks) (ExFreePool inside it);
// show= what it prints of what it saw: status, information, pending
// (PendingReturned), irql, cancel (default status and information);
// routine=none passes a NULL routine; close-socket=(socket, irp) makes the
// routine call WskCloseSocket (a driver calling WSK from a completion routine).
// For an IRP given to a WSK call the routine's line also shows the call's
// out-parameters (socket=, OutputSizeReturned=, LocalAddress=, RemoteAddress=).
//
// Example: set-routine irp=irp1 return=STATUS_MORE_PROCESSING_REQUIRED on=(success,error,cancel) free show=(status,pending)
func cmdSetRoutine(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	spec := &routineSpec{ret: a.status("return", nt.STATUS_MORE_PROCESSING_REQUIRED), free: a.flag("free", false), reuse: a.flag("reuse", false),
		show: map[string]bool{"status": true, "information": true}}
	onS, onE, onC := true, true, true
	if v, ok := a.vals("on"); ok {
		onS, onE, onC = false, false, false
		for _, o := range v {
			switch o {
			case "success":
				onS = true
			case "error":
				onE = true
			case "cancel":
				onC = true
			case "none", "":
			default:
				a.fail("on=%s: expected a subset of (success, error, cancel), or none", o)
			}
		}
	}
	if v, ok := a.vals("show"); ok {
		spec.show = map[string]bool{}
		for _, o := range v {
			switch o {
			case "status", "information", "pending", "irql", "cancel":
				spec.show[o] = true
			case "none", "":
			default:
				a.fail("show=%s: expected a subset of (status, information, pending, irql, cancel)", o)
			}
		}
	}
	if v, ok := a.vals("free-pool"); ok {
		for _, p := range v {
			if b, ok := in.poolByName(a, "free-pool", p); ok {
				spec.freePool = append(spec.freePool, b)
			}
		}
	}
	if v, ok := a.vals("close-socket"); ok {
		if len(v) != 2 {
			a.fail("close-socket: expected (socket, irp): the socket the routine closes and the IRP it uses")
		} else {
			o, found := in.object(v[0])
			sk, isSock := o.(*wsk.Socket)
			if v[0] != "NULL" && (!found || !isSock) {
				a.fail("close-socket=%s: no socket is called %q", v[0], v[0])
			}
			if v[1] != "NULL" {
				o2, found2 := in.object(v[1])
				ci, isIRP := o2.(*irp.IRP)
				if !found2 || !isIRP {
					a.fail("close-socket: no IRP is called %q", v[1])
				}
				spec.closeIRP = ci
			}
			spec.closeSock, spec.hasClose = sk, true
		}
	}
	none := false
	if r, ok := a.one("routine", "none or declared"); ok {
		switch r {
		case "none":
			none = true
		case "declared":
		default:
			a.fail("routine=%s: expected none (a NULL routine) or declared", r)
		}
	}
	if a.err != nil {
		return nil
	}
	if i != nil {
		if in.irps[i] == nil {
			in.irps[i] = &irpState{}
		}
	}
	in.setRoutine(i, spec, none, onS, onE, onC)
	return nil
}

// setRoutine calls IoSetCompletionRoutine with a declared routine and
// remembers it for reuse-irp rearm.
func (in *Interp) setRoutine(i *irp.IRP, spec *routineSpec, none, onS, onE, onC bool) {
	if st := in.irps[i]; i != nil && st != nil {
		st.spec, st.none, st.onS, st.onE, st.onC = spec, none, onS, onE, onC
	}
	var rtn irp.CompletionRoutine
	if !none {
		rtn = in.routine(spec)
	}
	head := fmt.Sprintf("IoSetCompletionRoutine(Irp=%s, InvokeOnSuccess=%t, InvokeOnError=%t, InvokeOnCancel=%t)", in.irpName(i), onS, onE, onC)
	if none {
		head = fmt.Sprintf("IoSetCompletionRoutine(Irp=%s, CompletionRoutine=NULL, InvokeOnSuccess=%t, InvokeOnError=%t, InvokeOnCancel=%t)", in.irpName(i), onS, onE, onC)
	}
	in.call(head, func() string {
		in.io.IoSetCompletionRoutine(i, rtn, nil, onS, onE, onC)
		return ""
	})
}

// routine builds the completion routine of a spec.
func (in *Interp) routine(spec *routineSpec) irp.CompletionRoutine {
	return func(i *irp.IRP, _ any) nt.Status {
		var saw []string
		if spec.show["status"] {
			saw = append(saw, "status="+i.IoStatus.Status.String())
		}
		if spec.show["information"] {
			saw = append(saw, "information="+strconv.FormatUint(i.IoStatus.Information, 10))
		}
		if spec.show["pending"] {
			saw = append(saw, "pending_returned="+strconv.FormatBool(i.PendingReturned))
		}
		if spec.show["irql"] {
			saw = append(saw, "irql="+in.w.IRQL().String())
		}
		if spec.show["cancel"] {
			saw = append(saw, "cancel="+strconv.FormatBool(i.Cancel))
		}
		if extra := in.wskCompletion(i); extra != "" {
			saw = append(saw, extra)
		}
		s := strings.Join(saw, " ")
		if st := in.irps[i]; st != nil {
			st.seen = s
		}
		head := i.Name() + " completion routine"
		if s != "" {
			head += ": " + s
		}
		in.call(head, func() string {
			if spec.hasClose {
				in.call(fmt.Sprintf("WskCloseSocket(Socket=%s, Irp=%s)", spec.closeSock.Name(), in.irpName(spec.closeIRP)), func() string {
					return in.prov.WskCloseSocket(spec.closeSock, spec.closeIRP).String()
				})
			}
			for _, b := range spec.freePool {
				in.call(fmt.Sprintf("ExFreePool(P=%s)", in.poolName(b)), func() string {
					in.io.ExFreePool(b)
					return ""
				})
			}
			if spec.reuse {
				in.call(fmt.Sprintf("IoReuseIrp(Irp=%s, Iostatus=%s)", i.Name(), nt.STATUS_UNSUCCESSFUL), func() string {
					in.io.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
					return ""
				})
			}
			if spec.free {
				in.call(fmt.Sprintf("IoFreeIrp(Irp=%s)", i.Name()), func() string {
					in.io.IoFreeIrp(i)
					return ""
				})
			}
			return spec.ret.String()
		})
		return spec.ret
	}
}

// cmdCancelIRP calls IoCancelIrp and prints whether a cancel routine ran.
//
// Example: cancel-irp irp=irp1
func cmdCancelIRP(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("IoCancelIrp(Irp=%s)", in.irpName(i)), func() string {
		if in.io.IoCancelIrp(i) {
			return "TRUE"
		}
		return "FALSE"
	})
	return nil
}

// cmdCompleteRequest calls IoCompleteRequest on an IRP passed down to the
// driver, after setting IoStatus to status= and info=.
//
// Example: complete-request irp=req status=STATUS_SUCCESS info=0
func cmdCompleteRequest(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	st := a.status("status", nt.STATUS_SUCCESS)
	info := a.uint("info", 0)
	if a.err != nil {
		return nil
	}
	in.call(fmt.Sprintf("IoCompleteRequest(Irp=%s, Status=%s, Information=%d)", in.irpName(i), st, info), func() string {
		in.io.IoCompleteRequest(i, st, info)
		return ""
	})
	return nil
}

// cmdShowIRP prints an IRP's state, IoStatus and what its routine saw last.
//
// Example: irp irp=irp1
func cmdShowIRP(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	if a.err != nil {
		return nil
	}
	if i == nil {
		in.printf("NULL\n")
		return nil
	}
	in.printf("%s\n", in.describeIRP(i))
	return nil
}

func poolFlags(f uint64) string {
	var parts []string
	for _, x := range []struct {
		v uint64
		n string
	}{{irp.POOL_FLAG_UNINITIALIZED, "POOL_FLAG_UNINITIALIZED"}, {irp.POOL_FLAG_NON_PAGED, "POOL_FLAG_NON_PAGED"}, {irp.POOL_FLAG_PAGED, "POOL_FLAG_PAGED"}} {
		if f&x.v != 0 {
			parts = append(parts, x.n)
			f &^= x.v
		}
	}
	if f != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("0x%X", f))
	}
	return strings.Join(parts, "|")
}

// cmdAllocPool calls ExAllocatePool2. Any size may be asked for; a request
// beyond the pool budget returns NULL, as the real pool does.
//
// Example: alloc-pool name=buf size=64 tag=Wsks flags=POOL_FLAG_NON_PAGED
func cmdAllocPool(in *Interp, c *Command, a *args) error {
	name := a.name()
	size := a.uint("size", 0)
	if !a.has("size") && a.err == nil {
		a.fail("missing argument size=<bytes>")
	}
	tag := a.tag("tag", 0x736b7357)
	flags := a.uint("flags", irp.POOL_FLAG_NON_PAGED)
	if a.err != nil {
		return nil
	}
	var b *irp.Block
	in.call(fmt.Sprintf("ExAllocatePool2(Flags=%s, NumberOfBytes=%d, Tag=%s)", poolFlags(flags), size, irp.TagString(tag)), func() string {
		b = in.io.ExAllocatePool2(flags, size, tag)
		if b == nil {
			return "NULL"
		}
		if name != "" {
			return b.Name() + " (" + name + ")"
		}
		return b.Name()
	})
	if b == nil {
		return nil
	}
	in.pools = append(in.pools, b)
	return in.bind(b.Name(), b, name)
}

// cmdFreePool calls ExFreePoolWithTag when tag= is given, else ExFreePool.
//
// Example: free-pool pool=buf tag=Wsks
func cmdFreePool(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	withTag := a.has("tag")
	tag := a.tag("tag", 0)
	if a.err != nil {
		return nil
	}
	if withTag {
		in.call(fmt.Sprintf("ExFreePoolWithTag(P=%s, Tag=%s)", in.poolName(b), irp.TagString(tag)), func() string {
			in.io.ExFreePoolWithTag(b, tag)
			return ""
		})
		return nil
	}
	in.call(fmt.Sprintf("ExFreePool(P=%s)", in.poolName(b)), func() string {
		in.io.ExFreePool(b)
		return ""
	})
	return nil
}

// cmdWritePool writes bytes into a pool block the way driver code writes
// through a pointer (a write to a freed block is POOL-USE-AFTER-FREE; a write
// to a block lent to a pending call is caught when that call completes).
//
// Example: write-pool pool=buf off=0 hex=deadbeef
func cmdWritePool(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	off := a.uint("off", 0)
	data, ok := a.hexBytes("hex")
	if !ok && a.err == nil {
		a.fail("missing argument hex=<bytes>")
	}
	if a.err != nil {
		return nil
	}
	if b == nil {
		return fmt.Errorf("pool=NULL: writing through a NULL pointer is an access violation, not a scenario")
	}
	if off > b.Size() || uint64(len(data)) > b.Size()-off {
		return fmt.Errorf("%d bytes at offset %d do not fit in %s (%d bytes)", len(data), off, b.Name(), b.Size())
	}
	mem := b.Bytes()
	if mem == nil && b.Freed() {
		in.printf("%s is freed; nothing written\n", b.Name())
		return nil
	}
	copy(mem[off:], data)
	in.printf("%s[%d:%d] = %s\n", b.Name(), off, off+uint64(len(data)), hex.EncodeToString(data))
	return nil
}

// cmdReadPool prints bytes of a pool block in hex (len= defaults to the rest
// of the block, at most 256 bytes).
//
// Example: read-pool pool=buf off=0 len=4
func cmdReadPool(in *Interp, c *Command, a *args) error {
	b, _ := in.poolArg(a, "pool", true)
	off := a.uint("off", 0)
	n := a.uint("len", 0)
	if a.err != nil {
		return nil
	}
	if b == nil {
		return fmt.Errorf("pool=NULL: reading through a NULL pointer is an access violation, not a scenario")
	}
	if off > b.Size() {
		return fmt.Errorf("offset %d is past the end of %s (%d bytes)", off, b.Name(), b.Size())
	}
	if !a.has("len") {
		n = min(b.Size()-off, 256)
	}
	if n > b.Size()-off {
		return fmt.Errorf("%d bytes at offset %d do not fit in %s (%d bytes)", n, off, b.Name(), b.Size())
	}
	mem := b.Bytes()
	if mem == nil && b.Freed() {
		in.printf("%s is freed; nothing read\n", b.Name())
		return nil
	}
	in.printf("%s[%d:%d] = %s\n", b.Name(), off, off+n, hex.EncodeToString(mem[off:off+n]))
	return nil
}

// parseLend parses "pool1" (the whole block) or "pool1:off:len".
func (in *Interp) parseLend(a *args, v string) (lendRec, bool) {
	parts := strings.Split(v, ":")
	b, ok := in.poolByName(a, "lend", parts[0])
	if !ok {
		return lendRec{}, false
	}
	if b == nil {
		a.fail("lend=%s: cannot lend NULL", v)
		return lendRec{}, false
	}
	switch len(parts) {
	case 1:
		return lendRec{b: b, n: b.Size()}, true
	case 3:
		off, err1 := parseUint(parts[1])
		n, err2 := parseUint(parts[2])
		if err1 == nil && err2 == nil {
			return lendRec{b: b, off: off, n: n}, true
		}
	}
	a.fail("lend=%s: expected pool or pool:offset:length", v)
	return lendRec{}, false
}

// cmdProviderCall is a stand-in for a provider function that takes an IRP,
// written the way package wsk writes its calls: Submit the IRP (an unusable
// IRP returns STATUS_INVALID_PARAMETER), Lend each buffer (lend=(pool:off:len,
// ...)), then complete with status=/info= inline, pending (after the I/O
// manager's delay), choose (choice point scenario.provider.complete) or hold
// (STATUS_PENDING until provider-complete; cancelable sets a cancel routine
// that completes with STATUS_CANCELLED). It reaches the I/O manager's provider
// side before any real provider exists.
//
// Example: provider-call fn=WskSend irp=irp1 lend=(buf:0:16) status=STATUS_SUCCESS info=16 complete=inline
func cmdProviderCall(in *Interp, c *Command, a *args) error {
	fn := a.need("fn", "a function name")
	i, _ := in.irpArg(a, "irp", true)
	st := a.status("status", nt.STATUS_SUCCESS)
	info := a.uint("info", 0)
	mode := a.str("complete", "choose")
	cancelable := a.flag("cancelable", false)
	var lends []lendRec
	if v, ok := a.vals("lend"); ok {
		for _, l := range v {
			if r, ok := in.parseLend(a, l); ok {
				lends = append(lends, r)
			}
		}
	}
	if a.err != nil {
		return nil
	}
	if !validName(fn) {
		return fmt.Errorf("fn=%s: expected a function name", fn)
	}
	if st == nt.STATUS_PENDING {
		return fmt.Errorf("status=STATUS_PENDING: a completion status cannot be STATUS_PENDING; use complete=hold")
	}
	switch mode {
	case "inline", "pending", "choose", "hold":
	default:
		return fmt.Errorf("complete=%s: expected inline, pending, choose or hold", mode)
	}
	w := in.w
	in.call(fmt.Sprintf("%s(Irp=%s)", fn, in.irpName(i)), func() string {
		f := w.Begin(fn)
		if w.Tracing() {
			// The stand-in is no WSK function: the trace shows what it is, an
			// IRP handed to a driver below whose results the trace shows
			// (IoCallDriver; "Function" names what it stands in for, and
			// "Buffer"… the pool ranges lent to the IRP).
			fs := []sim.Field{sim.F("DeviceObject", sim.Bool(true)), sim.F("Irp", sim.Obj(nameIf(i))), sim.F("Function", sim.Str(fn))}
			for k, l := range lends {
				if k >= maxTracedLends || l.b == nil {
					break
				}
				key := "Buffer"
				if k > 0 {
					key += strconv.Itoa(k + 1)
				}
				fs = append(fs, sim.F(key, sim.LenAt(l.n, l.off, l.b.Name())))
			}
			tf := f
			tf.Fn = "IoCallDriver"
			w.TraceCall(tf, fs...)
		}
		if !in.io.Submit(i, fn) {
			w.Return(f, nt.STATUS_INVALID_PARAMETER)
			return nt.STATUS_INVALID_PARAMETER.String()
		}
		in.lends[i] = in.lends[i][:0]
		for _, l := range lends {
			if !in.io.Lend(i, l.b, l.off, l.n) {
				in.io.Complete(i, nt.STATUS_INVALID_PARAMETER, 0)
				w.Return(f, nt.STATUS_INVALID_PARAMETER)
				return nt.STATUS_INVALID_PARAMETER.String()
			}
			in.lends[i] = append(in.lends[i], l)
		}
		var r nt.Status
		switch mode {
		case "inline":
			in.io.Complete(i, st, info)
			r = st
		case "pending":
			in.io.CompleteLater(i, st, info, in.io.PendingDelay)
			r = nt.STATUS_PENDING
		case "choose":
			r = in.io.Finish(i, ChoiceProviderComplete, st, info)
		case "hold":
			in.io.MarkPending(i)
			if cancelable {
				in.io.SetCancelRoutine(i, func(i *irp.IRP) {
					if i.InFlight() {
						in.io.Complete(i, nt.STATUS_CANCELLED, 0)
					}
				})
			}
			r = nt.STATUS_PENDING
		}
		w.Return(f, r)
		return r.String()
	})
	return nil
}

func nameIf(i *irp.IRP) string {
	if i == nil {
		return ""
	}
	return i.Name()
}

// cmdProviderComplete completes an IRP the stand-in provider holds
// (provider-call complete=hold).
//
// Example: provider-complete irp=irp1 status=STATUS_SUCCESS info=16
func cmdProviderComplete(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	st := a.status("status", nt.STATUS_SUCCESS)
	info := a.uint("info", 0)
	if a.err != nil {
		return nil
	}
	if i == nil || !i.InFlight() {
		return fmt.Errorf("irp=%s: the provider holds no such IRP in flight", in.irpName(i))
	}
	if st == nt.STATUS_PENDING {
		return fmt.Errorf("status=STATUS_PENDING: a completion status cannot be STATUS_PENDING")
	}
	in.call(fmt.Sprintf("provider completes %s with %s/%d", i.Name(), st, info), func() string {
		in.io.Complete(i, st, info)
		return ""
	})
	return nil
}

// cmdProviderDeliver writes output bytes into a buffer lent to an IRP the
// stand-in provider holds, as a provider filling an output buffer; it checks
// the driver did not write the buffer meanwhile.
//
// Example: provider-deliver irp=irp1 pool=buf off=0 hex=c0ffee
func cmdProviderDeliver(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	b, _ := in.poolArg(a, "pool", true)
	off := a.uint("off", 0)
	data, ok := a.hexBytes("hex")
	if !ok && a.err == nil {
		a.fail("missing argument hex=<bytes>")
	}
	if a.err != nil {
		return nil
	}
	if i == nil || !i.InFlight() {
		return fmt.Errorf("irp=%s: the provider holds no such IRP in flight", in.irpName(i))
	}
	fits := false
	for _, l := range in.lends[i] {
		if l.b == b && off >= l.off && off-l.off <= l.n && uint64(len(data)) <= l.n-(off-l.off) {
			fits = true
		}
	}
	if !fits {
		return fmt.Errorf("%d bytes at offset %d of %s are outside every buffer lent to %s", len(data), off, in.poolName(b), i.Name())
	}
	n := in.io.Deliver(i, b, off, data)
	in.printf("provider wrote %d bytes into %s at %d\n", n, b.Name(), off)
	return nil
}

// cmdSetCancelRoutine models IoSetCancelRoutine by a driver that holds a
// passed-down IRP pending: the declared cancel routine completes the IRP with
// STATUS_CANCELLED (IoCompleteRequest); routine=none clears the routine, as a
// driver must before it completes the IRP itself.
//
// Example: set-cancel-routine irp=req
func cmdSetCancelRoutine(in *Interp, c *Command, a *args) error {
	i, _ := in.irpArg(a, "irp", true)
	none := false
	if r, ok := a.one("routine", "none or declared"); ok {
		switch r {
		case "none":
			none = true
		case "declared":
		default:
			a.fail("routine=%s: expected none (clear the routine) or declared", r)
		}
	}
	if a.err != nil {
		return nil
	}
	if i == nil {
		return fmt.Errorf("irp=NULL: IoSetCancelRoutine dereferences the IRP; that is an access violation, not a scenario")
	}
	// IoSetCancelRoutine is a DDI: traced as a call whose value is whether a
	// routine was set before (the trace does not follow the pointer).
	w := in.w
	f := w.Begin("IoSetCancelRoutine")
	if w.Tracing() {
		w.TraceCall(f, sim.F("Irp", sim.Str(i.Name())), sim.F("CancelRoutine", sim.Ptr(!none)))
	}
	defer w.ReturnValue(f, sim.Null())
	if none {
		in.io.SetCancelRoutine(i, nil)
		in.printf("IoSetCancelRoutine(Irp=%s, CancelRoutine=NULL)\n", i.Name())
		return nil
	}
	in.io.SetCancelRoutine(i, func(i *irp.IRP) {
		in.call(i.Name()+" cancel routine", func() string {
			in.call(fmt.Sprintf("IoCompleteRequest(Irp=%s, Status=STATUS_CANCELLED, Information=0)", i.Name()), func() string {
				in.io.IoCompleteRequest(i, nt.STATUS_CANCELLED, 0)
				return ""
			})
			return ""
		})
	})
	in.printf("IoSetCancelRoutine(Irp=%s, CancelRoutine=declared)\n", i.Name())
	return nil
}
