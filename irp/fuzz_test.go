package irp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
)

// FuzzIRPOps decodes its input as a program of IRP and pool operations, runs it
// on the implementation and on the plain model of model_test.go, and fails
// when the two disagree: a violation the model does not predict (or one it
// predicts that is missing), a different IRP or block state, or a panic.
//
// Byte format. A cursor reads the input one byte at a time; past the end it
// reads 0. Choice points (Finish inline or pending, the completion IRQL, a
// fault site at a rate) are answered from the same cursor, one byte taken
// modulo n (two bytes, big-endian, when n > 256), so choices interleave with
// the operations. Each operation is an opcode byte, taken modulo 17, and its
// operands:
//
//	op  operation               operands
//	 0  IoAllocateIrp           s: StackSize [1 2 0 128 1 3 127 -1][s%8]
//	 1  passed-down IRP         n: stack locations n%3
//	 2  IoReuseIrp              i
//	 3  IoSetCompletionRoutine  i f: bits 0-2 InvokeOnSuccess/Error/Cancel; bit 3 NULL routine;
//	                            bits 4-5 the routine returns [MORE_PROCESSING_REQUIRED,
//	                            MORE_PROCESSING_REQUIRED, SUCCESS, INVALID_PARAMETER]; bit 6 the
//	                            routine frees its IRP
//	 4  provider call           i f m s k {b o n}*(k%3): fn [WskSend WskReceive WskControlSocket][f%3];
//	                            m bit 0: hold it pending (MarkPending) instead of Finish, bit 1:
//	                            set a cancel routine; status [SUCCESS CANCELLED INVALID_PARAMETER
//	                            BUFFER_OVERFLOW][s%4]; each lend: block b, offset o, length n
//	                            (the byte's value; 255 means 1<<63)
//	 5  provider Complete       i s: status as above (only when the IRP is in flight)
//	 6  Step                    (runs the next pending completion)
//	 7  IoFreeIrp               i
//	 8  ExAllocatePool2         z t: size [0 1 8 16 40 64 65 1<<63][z%8] (the budget is 64),
//	                            tag ['Wsks' 0x01020304][t%2]
//	 9  free a pool block       b h: [ExFreePool, ExFreePoolWithTag with its tag, with another][h%3]
//	10  write a block           b p v: block[p % size] = v
//	11  IoCancelIrp             i
//	12  IoCompleteRequest       i s: [SUCCESS PENDING][s%2]
//	13  set the IRQL            l: l%4
//	14  FailNext                x n: site [irp.alloc pool.alloc][x%2], count n%3
//	15  SetFaultRate            x r: site as above, per mille [0 500 1000][r%3]
//	16  pin a choice            c: [unpin, inline, pending][c%6] for Finish when c%6 < 3, else
//	                            [unpin, PASSIVE_LEVEL, DISPATCH_LEVEL][c%6-3] for the completion IRQL
//
// i selects an IRP: i % (IRPs so far + 1), the last value meaning NULL; b
// selects a pool block the same way. At most 256 operations run; then the
// world closes and the leak checks are compared too.
//
// The committed corpus in testdata/fuzz/FuzzIRPOps is fuzzSeeds below, one
// file per seed named for what it exercises; TestFuzzSeeds keeps them equal
// (WSKSIM_WRITE_FUZZ_CORPUS=1 rewrites them).
func FuzzIRPOps(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.prog) // see fuzzSeeds: one per rule family
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, data)
	})
}

const (
	opAllocIRP = iota
	opPassedDown
	opReuse
	opSetRoutine
	opCall
	opProviderComplete
	opStep
	opFreeIRP
	opAllocPool
	opFreePool
	opWrite
	opCancel
	opCompleteRequest
	opSetIRQL
	opFailNext
	opSetFaultRate
	opPin
	numOps
)

// Operand values the seeds use.
const (
	rtAll    = 0x07 // all three InvokeOn flags, returns MORE_PROCESSING_REQUIRED
	rtRetOK  = 0x20 // returns STATUS_SUCCESS
	rtFree   = 0x40 // frees its IRP
	mHold    = 1
	mCancel  = 2
	pinInl   = 1
	pinPend  = 2
	pinIRQL0 = 4
	huge     = 255
)

var fuzzSeeds = []struct {
	name string
	prog []byte
	want []string // rules the program must show (nil: none at all)
}{
	// Completing a passed-down IRP twice.
	{"double-complete", []byte{opPassedDown, 1, opCompleteRequest, 0, 0, opCompleteRequest, 0, 0}, []string{irp.RuleDoubleComplete}},
	// Freeing a block a pending call still has, then letting the call complete.
	{"free-while-lent", []byte{opPin, pinPend, opPin, pinIRQL0, opAllocPool, 2, 0, opAllocIRP, 0, opSetRoutine, 0, rtAll,
		opCall, 0, 0, 0, 0, 1, 0, 0, 8, opFreePool, 0, 0, opStep, opFreeIRP, 0}, []string{irp.RulePoolFreeWhileLent}},
	// Writing a block a pending call still has.
	{"write-while-lent", []byte{opPin, pinPend, opPin, pinIRQL0, opAllocPool, 2, 0, opAllocIRP, 0, opSetRoutine, 0, rtAll,
		opCall, 0, 0, 0, 0, 1, 0, 2, 4, opWrite, 0, 3, 9, opStep, opFreeIRP, 0, opFreePool, 0, 0}, []string{irp.RuleBufWriteWhileLent}},
	// Lending more than the block holds, and a huge offset.
	{"overrun", []byte{opPin, pinInl, opPin, pinIRQL0, opAllocPool, 2, 0, opAllocIRP, 0, opSetRoutine, 0, rtAll,
		opCall, 0, 0, 0, 0, 1, 0, 4, 5, opReuse, 0, opSetRoutine, 0, rtAll, opCall, 0, 0, 0, 0, 1, 0, huge, huge,
		opFreeIRP, 0, opFreePool, 0, 1}, []string{irp.RuleBufOverrun}},
	// Pool double free, use after free, tag mismatch, NULL.
	{"pool-misuse", []byte{opAllocPool, 2, 0, opFreePool, 0, 2, opFreePool, 0, 0, opWrite, 0, 0, 1, opFreePool, 1, 0},
		[]string{irp.RulePoolTagMismatch, irp.RulePoolDoubleFree, irp.RulePoolUseAfterFree, irp.RulePoolNull}},
	// IRP use after free and a NULL IRP.
	{"irp-use-after-free", []byte{opAllocIRP, 0, opFreeIRP, 0, opFreeIRP, 0, opCancel, 1}, []string{irp.RuleUseAfterFree, irp.RuleNullIRP}},
	// A routine of a driver-allocated IRP that returns STATUS_SUCCESS.
	{"routine-return", []byte{opPin, pinInl, opPin, pinIRQL0, opAllocIRP, 0, opSetRoutine, 0, rtAll | rtRetOK, opCall, 0, 0, 0, 0, 0, opFreeIRP, 0},
		[]string{irp.RuleRoutineReturn}},
	// A passed-down IRP handed back by its routine, then given to a call again.
	{"passed-down-returned", []byte{opPin, pinInl, opPin, pinIRQL0, opPassedDown, 1, opSetRoutine, 0, rtAll | rtRetOK, opCall, 0, 0, 0, 0, 0, opCall, 0, 1, 0, 0, 0},
		[]string{irp.RuleUseAfterFree}},
	// Submitting without a routine, with partial flags, without reuse, in flight; freeing and reusing in flight.
	{"submit-misuse", []byte{opPin, pinPend, opPin, pinIRQL0, opAllocIRP, 0, opCall, 0, 0, 0, 0, 0, opStep, opSetRoutine, 0, 0x03, opCall, 0, 0, 0, 0, 0,
		opCall, 0, 0, 0, 0, 0, opFreeIRP, 0, opReuse, 0, opStep, opFreeIRP, 0},
		[]string{irp.RuleNoRoutine, irp.RuleResubmitNoReuse, irp.RuleInvokeFlags, irp.RuleResubmitInFlight, irp.RuleFreeInFlight, irp.RuleReuseInFlight}},
	// A cancelable pending call cancelled; the routine frees the IRP.
	{"cancel", []byte{opPin, pinPend, opPin, pinIRQL0, opAllocIRP, 0, opSetRoutine, 0, rtAll | rtFree, opCall, 0, 0, mCancel, 0, 0, opCancel, 0, opStep}, nil},
	// The regression the state machine found: a pended submission ended by
	// the provider, the IRP reused and held by a second call, and the first
	// timer must not complete it.
	{"stale-pending-completion", []byte{opPin, pinPend, opPin, pinIRQL0, opAllocIRP, 0, opSetRoutine, 0, rtAll, opCall, 0, 0, 0, 0, 0,
		opProviderComplete, 0, 1, opReuse, 0, opSetRoutine, 0, rtAll, opCall, 0, 1, mHold, 0, 0, opStep, opProviderComplete, 0, 0, opFreeIRP, 0}, nil},
	// Leaks found at close, and a forced allocation failure.
	{"leak", []byte{opFailNext, 0, 1, opAllocIRP, 0, opAllocIRP, 0, opAllocPool, 3, 0, opAllocPool, 7, 0}, []string{irp.RuleLeak, irp.RulePoolLeak}},
	// Calls above DISPATCH_LEVEL.
	{"irql-above-max", []byte{opSetIRQL, 3, opAllocIRP, 0, opSetIRQL, 0, opFreeIRP, 0}, []string{"IRQL-ABOVE-MAX"}},
	// IoCompleteRequest with STATUS_PENDING, on its own IRP, while in flight.
	{"complete-request-misuse", []byte{opPin, pinPend, opPin, pinIRQL0, opPassedDown, 1, opCompleteRequest, 0, 1, opAllocIRP, 0, opCompleteRequest, 1, 0,
		opSetRoutine, 0, rtAll, opCall, 0, 0, 0, 0, 0, opCompleteRequest, 0, 0, opStep, opCompleteRequest, 0, 0, opFreeIRP, 1},
		[]string{irp.RuleCompletePending, irp.RuleCompleteOwn, irp.RuleCompleteNotOwned}},
}

// cursor reads the program and answers choice points from the same bytes.
type cursor struct {
	data []byte
	pos  int
}

func (c *cursor) next() int {
	if c.pos >= len(c.data) {
		return 0
	}
	c.pos++
	return int(c.data[c.pos-1])
}

func (c *cursor) Choose(label string, n int) int {
	v := c.next()
	if n > 256 {
		v = v<<8 | c.next()
	}
	return v % n
}

var (
	fuzzStack    = []int{1, 2, 0, 128, 1, 3, 127, -1}
	fuzzFn       = []string{"WskSend", "WskReceive", "WskControlSocket"}
	fuzzStatus   = []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_CANCELLED, nt.STATUS_INVALID_PARAMETER, nt.STATUS_BUFFER_OVERFLOW}
	fuzzRet      = []nt.Status{nt.STATUS_MORE_PROCESSING_REQUIRED, nt.STATUS_MORE_PROCESSING_REQUIRED, nt.STATUS_SUCCESS, nt.STATUS_INVALID_PARAMETER}
	fuzzSize     = []uint64{0, 1, 8, 16, 40, 64, 65, 1 << 63}
	fuzzTag      = []uint32{tagWsks, 0x01020304}
	fuzzSite     = []string{irp.FaultIRPAlloc, irp.FaultPoolAlloc}
	fuzzRate     = []int{0, 500, 1000}
	fuzzPinLabel = []string{choiceFinish, irp.ChoiceCompletionIRQL}
)

func (c *cursor) irp(h *harness) int {
	if k := c.next() % (len(h.irps) + 1); k < len(h.irps) {
		return k
	}
	return -1
}

func (c *cursor) block(h *harness) int {
	if k := c.next() % (len(h.blocks) + 1); k < len(h.blocks) {
		return k
	}
	return -1
}

func (c *cursor) size() uint64 {
	if v := c.next(); v != 255 {
		return uint64(v)
	}
	return 1 << 63
}

func decodeOp(h *harness, c *cursor) {
	switch c.next() % numOps {
	case opAllocIRP:
		h.allocIRP(fuzzStack[c.next()%8])
	case opPassedDown:
		h.passedDown(c.next() % 3)
	case opReuse:
		h.reuse(c.irp(h))
	case opSetRoutine:
		k, f := c.irp(h), c.next()
		if f&8 != 0 {
			h.setRoutine(k, nil)
			break
		}
		h.setRoutine(k, &routineSpec{onSuccess: f&1 != 0, onError: f&2 != 0, onCancel: f&4 != 0, ret: fuzzRet[f>>4&3], freeSelf: f&0x40 != 0})
	case opCall:
		k, fn, m, st := c.irp(h), fuzzFn[c.next()%3], c.next(), fuzzStatus[c.next()%4]
		var lends []lendSpec
		for n := c.next() % 3; n > 0; n-- {
			lends = append(lends, lendSpec{blk: c.block(h), off: c.size(), n: c.size()})
		}
		mode := modeFinish
		if m&1 != 0 {
			mode = modeHold
		}
		h.submit(k, fn, lends, mode, m&2 != 0, st, 0)
	case opProviderComplete:
		h.providerComplete(c.irp(h), fuzzStatus[c.next()%4])
	case opStep:
		h.step()
	case opFreeIRP:
		h.freeIRP(c.irp(h))
	case opAllocPool:
		h.allocPool(fuzzSize[c.next()%8], fuzzTag[c.next()%2])
	case opFreePool:
		h.freePool(c.block(h), c.next()%3)
	case opWrite:
		b, p, v := c.block(h), c.next(), byte(c.next())
		h.write(b, p, v)
	case opCancel:
		h.cancel(c.irp(h))
	case opCompleteRequest:
		h.completeRequest(c.irp(h), []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING}[c.next()%2])
	case opSetIRQL:
		h.setIRQL(nt.IRQL(c.next() % 4))
	case opFailNext:
		h.failNext(fuzzSite[c.next()%2], c.next()%3)
	case opSetFaultRate:
		h.setFaultRate(fuzzSite[c.next()%2], fuzzRate[c.next()%3])
	case opPin:
		v := c.next() % 6
		h.pin(fuzzPinLabel[v/3], v%3-1)
	}
}

// runProgram runs data as described at FuzzIRPOps, checking the model after
// every operation and after the leak checks.
func runProgram(t fataler, data []byte) *harness {
	t.Helper()
	c := &cursor{data: data}
	h := newHarness(c)
	for n := 0; n < 256 && c.pos < len(data); n++ {
		decodeOp(h, c)
		h.check(t)
	}
	h.close()
	h.check(t)
	return h
}

func corpusFile(prog []byte) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", prog)
}

// TestFuzzSeeds runs every seed, checks it shows the rules its name promises,
// and keeps testdata/fuzz/FuzzIRPOps equal to the seed table.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzIRPOps")
	write := os.Getenv("WSKSIM_WRITE_FUZZ_CORPUS") == "1"
	for _, s := range fuzzSeeds {
		t.Run(s.name, func(t *testing.T) {
			h := runProgram(t, s.prog)
			var got []string
			for _, v := range h.w.Violations() {
				if !slices.Contains(got, v.Rule) {
					got = append(got, v.Rule)
				}
			}
			for _, r := range s.want {
				if !slices.Contains(got, r) {
					t.Errorf("seed %s: rule %s not shown; violations %v", s.name, r, h.w.Violations())
				}
			}
			if s.want == nil && len(got) > 0 {
				t.Errorf("seed %s: want no violations, got %v", s.name, h.w.Violations())
			}
			path := filepath.Join(dir, s.name)
			if write {
				if err := os.WriteFile(path, []byte(corpusFile(s.prog)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (WSKSIM_WRITE_FUZZ_CORPUS=1 writes the corpus)", err)
			}
			if string(b) != corpusFile(s.prog) {
				t.Errorf("%s is not the seed (WSKSIM_WRITE_FUZZ_CORPUS=1 rewrites it):\n%s", path, b)
			}
		})
	}
}
