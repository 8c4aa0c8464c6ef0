package irp

import (
	"fmt"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// CompletionRoutine is an IoCompletion routine: it receives the IRP and the
// context given to IoSetCompletionRoutine, and returns
// STATUS_MORE_PROCESSING_REQUIRED or anything else (which lets completion go on
// to the I/O manager).
type CompletionRoutine func(irp *IRP, context any) nt.Status

// CancelRoutine is a driver-dispatch cancel routine (set by providers on IRPs
// they hold pending).
type CancelRoutine func(irp *IRP)

// IoStatusBlock is IO_STATUS_BLOCK.
type IoStatusBlock struct {
	Status      nt.Status
	Information uint64
}

type state uint8

const (
	stIdle     state = iota // owned by the driver: fresh, or completed back to it
	stInFlight              // owned by a WSK call
	stReturned              // handed back to the I/O manager (passed-down IRPs)
	stFreed
)

func (s state) String() string {
	return [...]string{"idle", "in flight", "returned to the I/O manager", "freed"}[s]
}

type lend struct {
	b      *Block
	off, n uint64
	snap   []byte
}

// IRP models the parts of an I/O request packet a WSK client and the WSK
// subsystem touch. The driver reads IoStatus and PendingReturned; everything
// else goes through Manager methods so that misuse is caught.
type IRP struct {
	// IoStatus is the final status and information, valid once the completion
	// routine runs.
	IoStatus IoStatusBlock
	// PendingReturned is TRUE when the call the IRP was given to returned
	// STATUS_PENDING.
	PendingReturned bool
	// Cancel is set by IoCancelIrp.
	Cancel bool

	m         *Manager
	num       int
	live      int // index in m.live, -1 when not there
	st        state
	owned     bool // allocated by the driver with IoAllocateIrp
	stackSize int
	curLoc    int // remaining stack locations
	needReuse bool
	allocSeq  uint64

	routine       CompletionRoutine
	routineCtx    any
	routineSet    bool
	onSuccess     bool
	onError       bool
	onCancel      bool
	cancelRtn     CancelRoutine
	submittedTo   string
	submitSeq     uint64
	submitGen     uint64 // counts submissions, so a stale pending completion is ignored
	pendStatus    nt.Status
	pendInfo      uint64
	pendScheduled bool // CompleteLater scheduled a completion not yet run
	lends         []lend
	traceInfoObj  string // information written as an object name in the trace
	traceOut      []sim.Field
}

// Name returns the IRP's display name ("irp1"), or "NULL" for a nil IRP.
func (i *IRP) Name() string {
	if i == nil {
		return "NULL"
	}
	return sim.Name("irp", i.num)
}

// DriverAllocated reports whether the driver allocated the IRP (IoAllocateIrp).
func (i *IRP) DriverAllocated() bool { return i != nil && i.owned }

// InFlight reports whether a WSK call owns the IRP now.
func (i *IRP) InFlight() bool { return i != nil && i.st == stInFlight }

// Freed reports whether IoFreeIrp ran on the IRP.
func (i *IRP) Freed() bool { return i != nil && i.st == stFreed }

// StackLocations returns how many stack locations remain for lower drivers.
func (i *IRP) StackLocations() int { return i.curLoc }

// String describes the IRP for reports.
func (i *IRP) String() string {
	if i == nil {
		return "NULL"
	}
	return fmt.Sprintf("%s(%s)", i.Name(), i.st)
}

// Manager is the I/O manager and the pool allocator of one world. Driver code
// calls its Io* and Ex* methods; providers (package wsk) use Submit, Lend,
// Complete and Finish.
type Manager struct {
	w         *sim.World
	live      []*IRP
	blocks    []*Block
	nextIRP   int
	poolBytes uint64
	// PoolBudget caps the total bytes of live pool blocks; an ExAllocatePool2
	// that would exceed it fails with NULL (as the real pool fails a huge
	// request). Default 256 MiB.
	PoolBudget uint64
	// PendingDelay is the virtual time after which a pended completion runs.
	PendingDelay sim.Time
}

// NewManager returns the I/O manager of world w and registers its leak checks.
//
// A nil world is a programming error in the Go code using the model, not bad
// input from the driver under test: NewManager panics with a message that says
// so, as every method of a Manager not made by NewManager does.
func NewManager(w *sim.World) *Manager {
	if w == nil {
		panic("irp.NewManager: nil world; make one with sim.NewWorld(sim.Config{...})")
	}
	m := &Manager{w: w, PoolBudget: 256 << 20, PendingDelay: 1000}
	w.OnClose(m.checkLeaks)
	return m
}

// World returns the world the manager lives in.
func (m *Manager) World() *sim.World { return m.w }

func (m *Manager) newIRP(stack int, owned bool) *IRP {
	m.nextIRP++
	i := &IRP{m: m, num: m.w.NextName("irp"), owned: owned, stackSize: stack, curLoc: stack, live: len(m.live), allocSeq: m.w.Seq()}
	m.live = append(m.live, i)
	return i
}

func (m *Manager) unlive(i *IRP) {
	if i.live < 0 {
		return
	}
	last := m.live[len(m.live)-1]
	m.live[i.live] = last
	last.live = i.live
	m.live = m.live[:len(m.live)-1]
	i.live = -1
}

// mine reports whether IRP i belongs to m. An IRP of another Manager (another
// simulated machine) is harness misuse, recorded with World.Misuse: acting on
// it would corrupt both managers' accounting.
func (m *Manager) mine(i *IRP, what string) bool {
	if i.m != m {
		m.w.Misuse("irp.Manager."+what, "%s belongs to another Manager (another world); the call was ignored", i.Name())
		return false
	}
	return true
}

// ---- driver-facing I/O manager routines ----

// IoAllocateIrp models IoAllocateIrp (IRQL <= DISPATCH_LEVEL): it returns a
// driver-owned IRP with stackSize stack locations, or nil when allocation
// fails (fault site "irp.alloc"). A StackSize below 1 or above 127 is
// IRP-BAD-STACK-SIZE and returns nil.
func (m *Manager) IoAllocateIrp(stackSize int, chargeQuota bool) *IRP {
	f := m.w.Begin("IoAllocateIrp")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("StackSize", sim.Int(uint64(int64(stackSize)))), sim.F("ChargeQuota", sim.Bool(chargeQuota)))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	var i *IRP
	switch {
	case stackSize < 1 || stackSize > 127:
		m.w.Violate(RuleBadStackSize, fmt.Sprintf("IoAllocateIrp(StackSize=%d): WSK needs at least one stack location and StackSize is a CCHAR", stackSize))
	case m.w.Fault(FaultIRPAlloc):
	default:
		i = m.newIRP(stackSize, true)
	}
	v := sim.Null()
	if i != nil && m.w.Tracing() {
		v = sim.Bind(i.Name()) // the name is formatted only for a trace
	}
	m.w.ReturnValue(f, v)
	return i
}

// NewPassedDownIrp returns an IRP the I/O manager (or a higher driver) handed
// the driver under test in a dispatch routine: the driver owns it until it
// completes it with IoCompleteRequest, must never free it, and may give it to a
// WSK function if a stack location remains.
func (m *Manager) NewPassedDownIrp(stackLocations int) (*IRP, error) {
	if stackLocations < 0 || stackLocations > 127 {
		return nil, fmt.Errorf("irp.NewPassedDownIrp: stackLocations %d outside 0..127", stackLocations)
	}
	i := m.newIRP(stackLocations, false)
	// The I/O manager handing the IRP over is the world acting, so it is an
	// env event (wsksim's extension irp_dispatch, docs/wsktrace.md) that
	// names the IRP for the calls that follow; its seq is taken traced or
	// not.
	if m.w.Tracing() {
		m.w.TraceEnv("irp_dispatch", sim.F("irp", sim.Str(i.Name())), sim.F("stack_locations", sim.Int(uint64(stackLocations))))
	} else {
		m.w.NextSeq()
	}
	return i, nil
}

// checkUse reports use after free and a NULL IRP; it returns false when the IRP
// cannot be used.
func (m *Manager) checkUse(i *IRP, what string) bool {
	if i == nil {
		m.w.Violate(RuleNullIRP, what+" with a NULL IRP")
		return false
	}
	if !m.mine(i, what) {
		return false
	}
	if i.st == stFreed {
		m.w.Violate(RuleUseAfterFree, what+" on "+i.Name()+" after IoFreeIrp", i.Name())
		return false
	}
	return true
}

// IoFreeIrp models IoFreeIrp (IRQL <= DISPATCH_LEVEL).
func (m *Manager) IoFreeIrp(i *IRP) {
	f := m.w.Begin("IoFreeIrp")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("Irp", sim.Obj(nameOrEmpty(i))))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if m.checkUse(i, "IoFreeIrp") {
		switch {
		case !i.owned:
			m.w.Violate(RuleFreeForeign, "IoFreeIrp on "+i.Name()+", which the driver did not allocate", i.Name())
		case i.st == stInFlight:
			m.w.Violate(RuleFreeInFlight, "IoFreeIrp on "+i.Name()+" while "+i.submittedTo+" still owns it", i.Name())
		default:
			i.st = stFreed
			m.unlive(i)
		}
	}
	m.w.ReturnVoid(f)
}

// IoReuseIrp models IoReuseIrp (IRQL <= DISPATCH_LEVEL): it reinitialises a
// driver-allocated IRP, clearing its completion routine, cancel state and
// stack, and sets IoStatus.Status.
func (m *Manager) IoReuseIrp(i *IRP, status nt.Status) {
	f := m.w.Begin("IoReuseIrp")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("Irp", sim.Obj(nameOrEmpty(i))), sim.F("Iostatus", sim.Status(status)))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if m.checkUse(i, "IoReuseIrp") {
		switch {
		case i.st == stInFlight:
			m.w.Violate(RuleReuseInFlight, "IoReuseIrp on "+i.Name()+" while "+i.submittedTo+" still owns it", i.Name())
		case !i.owned:
			m.w.Violate(RuleFreeForeign, "IoReuseIrp on "+i.Name()+", which the driver did not allocate (IoReuseIrp is for IRPs from IoAllocateIrp)", i.Name())
		default:
			i.reset(status)
		}
	}
	m.w.ReturnVoid(f)
}

func (i *IRP) reset(status nt.Status) {
	i.IoStatus = IoStatusBlock{Status: status}
	i.PendingReturned = false
	i.Cancel = false
	i.curLoc = i.stackSize
	i.needReuse = false
	i.routine, i.routineCtx, i.routineSet = nil, nil, false
	i.onSuccess, i.onError, i.onCancel = false, false, false
	i.cancelRtn = nil
}

// IoSetCompletionRoutine models IoSetCompletionRoutine (IRQL <= DISPATCH_LEVEL)
// for the stack location the next call will use.
func (m *Manager) IoSetCompletionRoutine(i *IRP, routine CompletionRoutine, context any, invokeOnSuccess, invokeOnError, invokeOnCancel bool) {
	f := m.w.Begin("IoSetCompletionRoutine")
	if m.w.Tracing() {
		fs := []sim.Field{sim.F("Irp", sim.Obj(nameOrEmpty(i)))}
		if routine == nil {
			// A NULL routine (CompletionRoutine defaults to non-NULL).
			fs = append(fs, sim.F("CompletionRoutine", sim.Null()))
		}
		fs = append(fs, sim.F("InvokeOnSuccess", sim.Bool(invokeOnSuccess)),
			sim.F("InvokeOnError", sim.Bool(invokeOnError)), sim.F("InvokeOnCancel", sim.Bool(invokeOnCancel)))
		m.w.TraceCall(f, fs...)
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if m.checkUse(i, "IoSetCompletionRoutine") {
		switch i.st {
		case stInFlight:
			m.w.Violate(RuleResubmitInFlight, "IoSetCompletionRoutine on "+i.Name()+" while "+i.submittedTo+" still owns it", i.Name())
		case stReturned:
			m.w.Violate(RuleUseAfterFree, "IoSetCompletionRoutine on "+i.Name()+" after it was completed back to the I/O manager", i.Name())
		default:
			i.routine, i.routineCtx, i.routineSet = routine, context, routine != nil
			i.onSuccess, i.onError, i.onCancel = invokeOnSuccess, invokeOnError, invokeOnCancel
		}
	}
	m.w.ReturnVoid(f)
}

// IoCancelIrp models IoCancelIrp (IRQL <= DISPATCH_LEVEL): it sets Cancel and,
// if a cancel routine is set, clears it, calls it and returns true.
func (m *Manager) IoCancelIrp(i *IRP) bool {
	f := m.w.Begin("IoCancelIrp")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("Irp", sim.Obj(nameOrEmpty(i))))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	ok := false
	if m.checkUse(i, "IoCancelIrp") {
		if i.st == stReturned {
			m.w.Violate(RuleUseAfterFree, "IoCancelIrp on "+i.Name()+" after it was completed back to the I/O manager", i.Name())
		} else {
			i.Cancel = true
			if rtn := i.cancelRtn; rtn != nil && i.st == stInFlight {
				i.cancelRtn = nil
				ok = true
				rtn(i)
			}
		}
	}
	m.w.ReturnValue(f, sim.Bool(ok))
	return ok
}

// IoCompleteRequest models IoCompleteRequest for an IRP the driver owns because
// it was passed down to it (see NewPassedDownIrp). It runs the completion walk
// with IoStatus as the driver set it.
func (m *Manager) IoCompleteRequest(i *IRP, status nt.Status, information uint64) {
	f := m.w.Begin("IoCompleteRequest")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("Irp", sim.Obj(nameOrEmpty(i))), sim.F("Status", sim.Status(status)), sim.F("Information", sim.Int(information)))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	if m.checkUse(i, "IoCompleteRequest") {
		switch {
		case i.owned:
			m.w.Violate(RuleCompleteOwn, "IoCompleteRequest on "+i.Name()+", which the driver allocated; free or reuse it instead", i.Name())
		case i.st == stReturned:
			m.w.Violate(RuleDoubleComplete, "IoCompleteRequest on "+i.Name()+", which was already completed back to the I/O manager", i.Name())
		case i.st != stIdle:
			m.w.Violate(RuleCompleteNotOwned, "IoCompleteRequest on "+i.Name()+" while it is "+i.st.String(), i.Name())
		case status == nt.STATUS_PENDING:
			m.w.Violate(RuleCompletePending, "IoCompleteRequest on "+i.Name()+" with STATUS_PENDING", i.Name())
		case i.cancelRtn != nil:
			m.w.Violate(RuleCompleteCancelSet, "IoCompleteRequest on "+i.Name()+" with a cancel routine still set", i.Name())
		default:
			i.IoStatus = IoStatusBlock{Status: status, Information: information}
			i.st = stReturned
			m.unlive(i)
		}
	}
	m.w.ReturnVoid(f)
}

func nameOrEmpty(i *IRP) string {
	if i == nil {
		return ""
	}
	return i.Name()
}
