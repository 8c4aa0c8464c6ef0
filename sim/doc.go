// Package sim is the deterministic world every other wsksim package lives in.
//
// A World owns the things that must never vary between two runs with the same
// seed and the same inputs:
//
//   - the virtual clock and the event queue, ordered by (virtual time, sequence);
//   - every freedom the Windows contract allows, each a named choice point
//     answered by one Chooser (a seeded PRNG by default; rapid draws, fuzz bytes
//     or a replayed trace plug in through the same interface);
//   - fault injection at named sites (allocation failures and so on);
//   - the verifier: a table of rules with stable IDs, each with a source and the
//     nearest real bug check, and per-rule actions (record, halt or off);
//   - the trace recorder, which writes what happened as wsktrace v1 JSON lines.
//
// A typical life: NewWorld(Config{Seed: 1}); subsystems (package irp, wfp, wsk)
// are built on it and register their leak checks with OnClose; the driver under
// test calls their functions, each of which brackets itself with Begin/Return so
// that violations and trace events carry the sequence number of the call; the
// harness runs the queue with Step, RunUntilIdle or Advance; Close runs the leak
// checks; Violations lists everything the verifier saw.
//
// The package starts no goroutines, reads no wall clock, uses no global random
// source and performs no I/O except writing the trace to the io.Writer it is given.
package sim
