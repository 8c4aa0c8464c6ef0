package irp_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
)

// rapidChooser answers every choice point with a rapid draw labelled by the
// choice point, so rapid shrinks choices along with the actions.
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Choose(label string, n int) int {
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

// irpMachine drives the IRP and pool lifecycle through random operations and
// checks, after each, that the violations recorded equal what the plain model
// (model_test.go) predicts.
type irpMachine struct{ h *harness }

var (
	genStatus   = rapid.SampledFrom([]nt.Status{nt.STATUS_SUCCESS, nt.STATUS_SUCCESS, nt.STATUS_CANCELLED, nt.STATUS_INVALID_PARAMETER, nt.STATUS_BUFFER_OVERFLOW})
	genFn       = rapid.SampledFrom([]string{"WskSend", "WskReceive", "WskControlSocket"})
	genSite     = rapid.SampledFrom([]string{irp.FaultIRPAlloc, irp.FaultPoolAlloc})
	genRoutineR = rapid.SampledFrom([]nt.Status{nt.STATUS_MORE_PROCESSING_REQUIRED, nt.STATUS_MORE_PROCESSING_REQUIRED, nt.STATUS_SUCCESS, nt.STATUS_INVALID_PARAMETER})
)

// pickIRP draws an IRP index, or -1 (NULL) now and then.
func (s *irpMachine) pickIRP(t *rapid.T) int {
	return rapid.IntRange(-1, len(s.h.irps)-1).Draw(t, "irp")
}

func (s *irpMachine) pickBlock(t *rapid.T) int {
	return rapid.IntRange(-1, len(s.h.blocks)-1).Draw(t, "block")
}

// pickLive draws a driver-allocated IRP that is not freed, skipping when none.
func (s *irpMachine) pickLive(t *rapid.T) int {
	var live []int
	for k, i := range s.h.irps {
		if !i.Freed() {
			live = append(live, k)
		}
	}
	if len(live) == 0 {
		t.Skip("no live IRP")
	}
	return rapid.SampledFrom(live).Draw(t, "live irp")
}

func (s *irpMachine) AllocIRP(t *rapid.T) {
	s.h.allocIRP(rapid.SampledFrom([]int{1, 1, 2, 0, 128}).Draw(t, "stack"))
}

func (s *irpMachine) PassedDownIRP(t *rapid.T) {
	s.h.passedDown(rapid.IntRange(0, 2).Draw(t, "stack locations"))
}

func (s *irpMachine) Reuse(t *rapid.T) { s.h.reuse(s.pickLive(t)) }

func (s *irpMachine) ReuseAny(t *rapid.T) { s.h.reuse(s.pickIRP(t)) }

func (s *irpMachine) SetRoutine(t *rapid.T) {
	k := s.pickIRP(t)
	if rapid.IntRange(0, 9).Draw(t, "nil routine") == 0 {
		s.h.setRoutine(k, nil)
		return
	}
	all := rapid.IntRange(0, 3).Draw(t, "all flags") > 0
	r := &routineSpec{onSuccess: all, onError: all, onCancel: all, ret: genRoutineR.Draw(t, "returns"),
		freeSelf: rapid.IntRange(0, 3).Draw(t, "free in routine") == 0}
	if !all {
		r.onSuccess, r.onError, r.onCancel = rapid.Bool().Draw(t, "on success"), rapid.Bool().Draw(t, "on error"), rapid.Bool().Draw(t, "on cancel")
	}
	s.h.setRoutine(k, r)
}

func (s *irpMachine) Submit(t *rapid.T) {
	k := s.pickIRP(t)
	var lends []lendSpec
	for n := rapid.IntRange(0, 2).Draw(t, "lends"); n > 0; n-- {
		lends = append(lends, lendSpec{
			blk: s.pickBlock(t),
			off: rapid.SampledFrom([]uint64{0, 0, 1, 8, 40, 1 << 63}).Draw(t, "off"),
			n:   rapid.SampledFrom([]uint64{0, 1, 4, 8, 16, 65, 1 << 63}).Draw(t, "n"),
		})
	}
	mode := rapid.SampledFrom([]int{modeFinish, modeFinish, modeHold}).Draw(t, "mode")
	s.h.submit(k, genFn.Draw(t, "fn"), lends, mode, rapid.Bool().Draw(t, "cancelable"), genStatus.Draw(t, "status"), 0)
}

func (s *irpMachine) PinFinish(t *rapid.T) {
	s.h.pin(choiceFinish, rapid.IntRange(-1, 1).Draw(t, "pin finish"))
}

func (s *irpMachine) PinIRQL(t *rapid.T) {
	s.h.pin(irp.ChoiceCompletionIRQL, rapid.IntRange(-1, 1).Draw(t, "pin irql"))
}

func (s *irpMachine) ProviderComplete(t *rapid.T) {
	s.h.providerComplete(rapid.SampledFrom(s.inFlight(t)).Draw(t, "in flight"), genStatus.Draw(t, "status"))
}

func (s *irpMachine) Step(t *rapid.T) { s.h.step() }

// inFlight lists the IRPs a call owns now, skipping when there is none.
func (s *irpMachine) inFlight(t *rapid.T) []int {
	var out []int
	for k, i := range s.h.irps {
		if i.InFlight() {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		t.Skip("nothing in flight")
	}
	return out
}

// Cycle is the loop of a correct WSK client on an IRP it holds: reuse it (if
// it allocated it), set the routine with all three flags, submit it.
func (s *irpMachine) Cycle(t *rapid.T) {
	var idle []int
	for k, i := range s.h.irps {
		if !i.Freed() && !i.InFlight() {
			idle = append(idle, k)
		}
	}
	if len(idle) == 0 {
		t.Skip("no idle IRP")
	}
	k := rapid.SampledFrom(idle).Draw(t, "idle irp")
	if s.h.irps[k].DriverAllocated() {
		s.h.reuse(k)
	}
	s.h.setRoutine(k, &routineSpec{onSuccess: true, onError: true, onCancel: true, ret: nt.STATUS_MORE_PROCESSING_REQUIRED})
	s.h.submit(k, genFn.Draw(t, "fn"), nil, rapid.IntRange(modeFinish, modeHold).Draw(t, "mode"),
		rapid.Bool().Draw(t, "cancelable"), genStatus.Draw(t, "status"), 0)
}

func (s *irpMachine) CancelInFlight(t *rapid.T) {
	s.h.cancel(rapid.SampledFrom(s.inFlight(t)).Draw(t, "in flight"))
}

func (s *irpMachine) FreeIRP(t *rapid.T) { s.h.freeIRP(s.pickIRP(t)) }

func (s *irpMachine) Cancel(t *rapid.T) { s.h.cancel(s.pickIRP(t)) }

func (s *irpMachine) CompleteRequest(t *rapid.T) {
	s.h.completeRequest(s.pickIRP(t), rapid.SampledFrom([]nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING}).Draw(t, "status"))
}

func (s *irpMachine) AllocPool(t *rapid.T) {
	s.h.allocPool(rapid.SampledFrom([]uint64{0, 1, 8, 8, 16, 40, 1 << 63}).Draw(t, "size"),
		rapid.SampledFrom([]uint32{tagWsks, 0x01020304}).Draw(t, "tag"))
}

func (s *irpMachine) FreePool(t *rapid.T) {
	s.h.freePool(s.pickBlock(t), rapid.IntRange(freePlain, freeTagWrong).Draw(t, "how"))
}

// DoubleFree frees a block that is already freed.
func (s *irpMachine) DoubleFree(t *rapid.T) {
	var freed []int
	for k, b := range s.h.blocks {
		if b.Freed() {
			freed = append(freed, k)
		}
	}
	if len(freed) == 0 {
		t.Skip("no freed block")
	}
	s.h.freePool(rapid.SampledFrom(freed).Draw(t, "freed block"), freePlain)
}

func (s *irpMachine) Write(t *rapid.T) {
	s.h.write(s.pickBlock(t), rapid.IntRange(0, 64).Draw(t, "pos"), rapid.Byte().Draw(t, "val"))
}

// WriteLent writes into a block some call has on loan.
func (s *irpMachine) WriteLent(t *rapid.T) {
	var lent []int
	for k, b := range s.h.blocks {
		if b.Lent() && !b.Freed() {
			lent = append(lent, k)
		}
	}
	if len(lent) == 0 {
		t.Skip("no lent block")
	}
	s.h.write(rapid.SampledFrom(lent).Draw(t, "lent block"), rapid.IntRange(0, 64).Draw(t, "pos"), rapid.Byte().Draw(t, "val"))
}

func (s *irpMachine) SetIRQL(t *rapid.T) {
	// Mostly back to PASSIVE_LEVEL, so that most calls are legal.
	s.h.setIRQL(rapid.SampledFrom([]nt.IRQL{0, 0, 0, nt.DISPATCH_LEVEL, nt.DISPATCH_LEVEL + 1}).Draw(t, "irql"))
}

func (s *irpMachine) FailNext(t *rapid.T) {
	s.h.failNext(genSite.Draw(t, "site"), rapid.IntRange(0, 2).Draw(t, "n"))
}

func (s *irpMachine) SetFaultRate(t *rapid.T) {
	s.h.setFaultRate(genSite.Draw(t, "site"), rapid.SampledFrom([]int{0, 0, 500, 1000}).Draw(t, "per mille"))
}

func (s *irpMachine) Check(t *rapid.T) { s.h.check(t) }

func TestIRPStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &irpMachine{h: newHarness(rapidChooser{t})}
		t.Repeat(rapid.StateMachineActions(s))
		s.h.close()
		s.h.check(t)
	})
}
