// Package irp models the Windows I/O manager as a WSK client sees it: IRPs,
// completion routines, cancellation, and pool blocks whose lifetime is tied to
// the calls they are lent to. It catches every way a driver can misuse them and
// reports each as a violation of a rule with a stable ID (docs/rules.md), the
// way Driver Verifier would, but as data a test can read.
//
// A client's life with one IRP, as in the WSK echo sample (runnable as
// Example_oneIRP, which defines the provider p, its NPI and the routine):
//
//	w := sim.NewWorld(sim.Config{Seed: 1})
//	m := irp.NewManager(w)
//	i := m.IoAllocateIrp(1, false)                      // driver-owned, one stack location
//	m.IoSetCompletionRoutine(i, done, &seen, true, true, true)
//	st := npi.Dispatch.WskSocket(npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP,
//		nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i) // the provider Submits, Lends, Finishes
//	w.RunUntilIdle() // done ran inline (st is the final status) or now (st was STATUS_PENDING)
//	m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)             // before the next call
//	...
//	m.IoFreeIrp(i)                                      // when done with it
//
// In a Go test, wsktest.Env.Call does those steps for one call.
//
// The driver under test calls the Io* and Ex* methods. Providers (package wsk)
// use the provider side: Submit takes ownership of an IRP for a call, Lend lends
// a buffer range to it, Deliver fills an output buffer, and Finish completes the
// IRP inline or pending (a choice point), running the completion walk: the
// routine is invoked when its InvokeOn flags select it, at PASSIVE_LEVEL or
// DISPATCH_LEVEL (choice point irp.completion-irql), and a driver-allocated
// IRP's routine must return STATUS_MORE_PROCESSING_REQUIRED.
//
// What the model catches: double completion (bug check 0x44), completion with
// STATUS_PENDING, free, reuse or resubmission of an IRP in flight, use after
// free, no stack location left, a driver-allocated IRP submitted without a
// completion routine or without all three InvokeOn flags, a routine returning
// anything but STATUS_MORE_PROCESSING_REQUIRED, double free and use after free
// of pool, a pool block freed or written while lent to a pending call, a length
// past the end of a block, and IRPs and pool blocks leaked at world close.
//
// Nothing here allocates on the steady-state path (reuse, set routine, submit,
// complete inline): see BenchmarkIRPCycle and docs/performance.md.
package irp
