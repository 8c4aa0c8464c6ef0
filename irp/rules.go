package irp

import "github.com/wsksim/wsksim/sim"

// Rule IDs enforced by this package. docs/rules.md lists them with sources.
const (
	RuleDoubleComplete    = "IRP-DOUBLE-COMPLETE"
	RuleCompletePending   = "IRP-COMPLETE-PENDING"
	RuleFreeInFlight      = "IRP-FREE-IN-FLIGHT"
	RuleReuseInFlight     = "IRP-REUSE-IN-FLIGHT"
	RuleResubmitInFlight  = "IRP-RESUBMIT-IN-FLIGHT"
	RuleResubmitNoReuse   = "IRP-RESUBMIT-WITHOUT-REUSE"
	RuleUseAfterFree      = "IRP-USE-AFTER-FREE"
	RuleNoStackLocation   = "IRP-NO-STACK-LOCATION"
	RuleNoRoutine         = "IRP-NO-COMPLETION-ROUTINE"
	RuleInvokeFlags       = "IRP-INVOKE-FLAGS"
	RuleRoutineReturn     = "IRP-ROUTINE-RETURN"
	RuleFreeForeign       = "IRP-FREE-FOREIGN"
	RuleCompleteOwn       = "IRP-COMPLETE-DRIVER-ALLOCATED"
	RuleCompleteNotOwned  = "IRP-COMPLETE-NOT-OWNED"
	RuleCompleteCancelSet = "IRP-COMPLETE-CANCEL-ROUTINE-SET"
	RuleLeak              = "IRP-LEAK"
	RuleNullIRP           = "IRP-NULL"
	RuleBadStackSize      = "IRP-BAD-STACK-SIZE"
	RulePoolDoubleFree    = "POOL-DOUBLE-FREE"
	RulePoolUseAfterFree  = "POOL-USE-AFTER-FREE"
	RulePoolFreeWhileLent = "POOL-FREE-WHILE-LENT"
	RulePoolTagMismatch   = "POOL-TAG-MISMATCH"
	RulePoolLeak          = "POOL-LEAK"
	RulePoolNull          = "POOL-NULL"
	RuleBufWriteWhileLent = "BUF-WRITE-WHILE-LENT"
	RuleBufOverrun        = "BUF-OVERRUN"
)

const (
	docIRPs      = "https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions"
	docAlloc     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioallocateirp"
	docFree      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iofreeirp"
	docReuse     = "https://learn.microsoft.com/windows-hardware/drivers/kernel/reusing-irps"
	docSetComp   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iosetcompletionroutine"
	docIoComp    = "https://learn.microsoft.com/windows-hardware/drivers/kernel/implementing-an-iocompletion-routine"
	doc0x44      = "https://learn.microsoft.com/windows-hardware/drivers/debugger/bug-check-0x44--multiple-irp-complete-requests"
	doc0xC9      = "https://learn.microsoft.com/windows-hardware/drivers/debugger/bug-check-0xc9--driver-verifier-iomanager-violation"
	docIOVerif   = "https://learn.microsoft.com/windows-hardware/drivers/devtest/i-o-verification"
	docCtrl      = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_control_socket"
	docPool2     = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exallocatepool2"
	docFreeTag   = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exfreepoolwithtag"
	doc0xC2      = "https://learn.microsoft.com/windows-hardware/drivers/debugger/bug-check-0xc2--bad-pool-caller"
	doc0xC4      = "https://learn.microsoft.com/windows-hardware/drivers/debugger/bug-check-0xc4--driver-verifier-detected-violation"
	docCompleteR = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iocompleterequest"
)

func init() {
	sim.RegisterRules(
		sim.Rule{ID: RuleDoubleComplete, Statement: "An IRP is completed a second time while it is already completed.", Source: doc0x44, BugCheck: "0x44", Test: "irp.TestRules/" + RuleDoubleComplete},
		sim.Rule{ID: RuleCompletePending, Statement: "IoCompleteRequest is called with IoStatus.Status == STATUS_PENDING.", Source: doc0xC9, BugCheck: "0xC9/0x06", Test: "irp.TestRules/" + RuleCompletePending},
		sim.Rule{ID: RuleFreeInFlight, Statement: "IoFreeIrp is called on an IRP that a WSK function still owns (submitted, not yet completed).", Source: docFree, BugCheck: "0xC9/0x20A", Test: "irp.TestRules/" + RuleFreeInFlight},
		sim.Rule{ID: RuleReuseInFlight, Statement: "IoReuseIrp is called on an IRP that is still in flight.", Source: docReuse, BugCheck: "0xC9/0x20B", Test: "irp.TestRules/" + RuleReuseInFlight},
		sim.Rule{ID: RuleResubmitInFlight, Statement: "An IRP is passed to a WSK function while an earlier call still owns it.", Source: docIRPs, BugCheck: "0xC9/0x20B", Test: "irp.TestRules/" + RuleResubmitInFlight},
		sim.Rule{ID: RuleResubmitNoReuse, Statement: "A completed driver-allocated IRP is passed to a WSK function again without IoReuseIrp first.", Source: docIRPs, BugCheck: "0xC9/0x20D", Test: "irp.TestRules/" + RuleResubmitNoReuse},
		sim.Rule{ID: RuleUseAfterFree, Statement: "An IRP is used (submitted, reused, freed, cancelled, given a routine) after IoFreeIrp, or a passed-down IRP after IoCompleteRequest handed it back to the I/O manager (which may have freed it).", Source: docFree + "; " + docCompleteR, BugCheck: "0xC9/0x20A", Test: "irp.TestRules/" + RuleUseAfterFree},
		sim.Rule{ID: RuleNoStackLocation, Statement: "An IRP with no stack location left for the WSK subsystem is passed to a WSK function (it needs at least one).", Source: docIRPs, BugCheck: "0x35 (NO_MORE_IRP_STACK_LOCATIONS)", Test: "irp.TestRules/" + RuleNoStackLocation},
		sim.Rule{ID: RuleNoRoutine, Statement: "A driver-allocated IRP is passed to a WSK function without a completion routine set for this submission.", Source: docIRPs, BugCheck: "", Test: "irp.TestRules/" + RuleNoRoutine},
		sim.Rule{ID: RuleInvokeFlags, Statement: "A driver-allocated IRP's completion routine is set without all three of InvokeOnSuccess, InvokeOnError and InvokeOnCancel.", Source: docIRPs, BugCheck: "", Test: "irp.TestRules/" + RuleInvokeFlags},
		sim.Rule{ID: RuleRoutineReturn, Statement: "The completion routine of a driver-allocated IRP returns something other than STATUS_MORE_PROCESSING_REQUIRED, so the I/O manager would go on to complete and free an IRP it does not own.", Source: docIRPs, BugCheck: "0xC9/0x20C", Test: "irp.TestRules/" + RuleRoutineReturn},
		sim.Rule{ID: RuleFreeForeign, Statement: "IoFreeIrp is called on an IRP the driver did not allocate (one passed down by the I/O manager or a higher driver).", Source: docIRPs, BugCheck: "0xC9/0x02", Test: "irp.TestRules/" + RuleFreeForeign},
		sim.Rule{ID: RuleCompleteOwn, Statement: "IoCompleteRequest is called on an IRP the driver allocated with IoAllocateIrp; such an IRP must be freed (or reused), not completed back to the I/O manager.", Source: docAlloc, BugCheck: "0xC9/0x20C", Test: "irp.TestRules/" + RuleCompleteOwn},
		sim.Rule{ID: RuleCompleteNotOwned, Statement: "IoCompleteRequest is called on an IRP the driver does not currently own (in flight in a WSK call, or already handed back to the I/O manager).", Source: docCompleteR, BugCheck: "0x44", Test: "irp.TestRules/" + RuleCompleteNotOwned},
		sim.Rule{ID: RuleCompleteCancelSet, Statement: "IoCompleteRequest is called while the IRP still has a cancel routine set.", Source: doc0xC9, BugCheck: "0xC9/0x07", Test: "irp.TestRules/" + RuleCompleteCancelSet},
		sim.Rule{ID: RuleLeak, Statement: "An IRP allocated with IoAllocateIrp is never freed before the world closes.", Source: docAlloc, BugCheck: "0xC4/0x62", Test: "irp.TestRules/" + RuleLeak},
		sim.Rule{ID: RuleNullIRP, Statement: "A NULL IRP is passed where the function requires an IRP.", Source: docIRPs, BugCheck: "0x3B (access violation)", Test: "irp.TestRules/" + RuleNullIRP},
		sim.Rule{ID: RuleBadStackSize, Statement: "IoAllocateIrp is called with a StackSize below 1 (WSK needs one stack location) or above 127 (StackSize is a CCHAR).", Source: docIRPs, BugCheck: "", Test: "irp.TestRules/" + RuleBadStackSize},
		sim.Rule{ID: RulePoolDoubleFree, Statement: "A pool block is freed twice.", Source: doc0xC2, BugCheck: "0xC2/0x07", Test: "irp.TestRules/" + RulePoolDoubleFree},
		sim.Rule{ID: RulePoolUseAfterFree, Statement: "A pool block is read, written or passed to a call after it was freed.", Source: doc0xC4, BugCheck: "0xC4 (special pool) / 0xD5", Test: "irp.TestRules/" + RulePoolUseAfterFree},
		sim.Rule{ID: RulePoolFreeWhileLent, Statement: "A pool block is freed while a pending WSK call still uses it; buffers must stay valid until the IRP completes.", Source: docCtrl, BugCheck: "0xD5 (use after free by the provider)", Test: "irp.TestRules/" + RulePoolFreeWhileLent},
		sim.Rule{ID: RulePoolTagMismatch, Statement: "ExFreePoolWithTag is called with a tag other than the one the block was allocated with.", Source: docFreeTag, BugCheck: "0xC2/0x0A", Test: "irp.TestRules/" + RulePoolTagMismatch},
		sim.Rule{ID: RulePoolLeak, Statement: "A pool block is never freed before the world closes.", Source: doc0xC4, BugCheck: "0xC4/0x62", Test: "irp.TestRules/" + RulePoolLeak},
		sim.Rule{ID: RulePoolNull, Statement: "A NULL pool block is passed to ExFreePool or ExFreePoolWithTag.", Source: docFreeTag, BugCheck: "0xC2/0x46", Test: "irp.TestRules/" + RulePoolNull},
		sim.Rule{ID: RuleBufWriteWhileLent, Statement: "The driver writes a buffer while a pending call has it on loan (detected when the IRP completes, even for writes through a plain Go slice).", Source: docCtrl, BugCheck: "", Test: "irp.TestRules/" + RuleBufWriteWhileLent},
		sim.Rule{ID: RuleBufOverrun, Statement: "A call is given a buffer length larger than the block that holds it (the provider would read or write past its end).", Source: docCtrl, BugCheck: "0xC1 (special pool overrun) / 0x50", Test: "irp.TestRules/" + RuleBufOverrun},
	)
	sim.RegisterFaultSite(sim.FaultSite{Name: FaultIRPAlloc, Doc: "IoAllocateIrp returns NULL"})
	sim.RegisterFaultSite(sim.FaultSite{Name: FaultPoolAlloc, Doc: "ExAllocatePool2 returns NULL"})
	sim.RegisterChoice(sim.ChoicePoint{Label: ChoiceCompletionIRQL, Options: []string{"PASSIVE_LEVEL", "DISPATCH_LEVEL"},
		Doc: "the IRQL a completion routine runs at: <= DISPATCH_LEVEL, in an arbitrary thread (implementing-an-iocompletion-routine)"})
}

// Fault sites and choice points of this package.
const (
	FaultIRPAlloc        = "irp.alloc"
	FaultPoolAlloc       = "pool.alloc"
	ChoiceCompletionIRQL = "irp.completion-irql"
)
