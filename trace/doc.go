// Package trace reads, replays and converts wsktrace v1: the JSON Lines
// format in which a real driver's test harness records, on Windows, every
// call it makes to the WSK, I/O manager and WFP functions, each return,
// each IRP completion and the environment's events (docs/wsktrace.md; its
// JSON Schema is docs/wsktrace.schema.json, from Schema). wsksim writes the
// same format for its own runs (sim.Config.Trace), and every trace the
// model writes replays with the model's own verdict.
//
// Replay is the reference oracle behind `wsksim replay` (docs/oracle.md):
// it drives a fresh model with the trace's calls, answers the model's
// choice points with what the trace shows, and returns a Report whose
// Verdict says whether every observed return and completion is allowed
// (Conforms), where the first one is not (Diverges, with the line, the
// call, what was observed and what the model allows), whether the driver
// broke contract rules although every outcome was allowed (Violations), or
// that the trace cannot be used (Unusable, with line and column). Where the
// contract leaves a point open (a policy, docs/policies.md), Replay tries
// the options the trace needs and reports which one it took; Options.Pins
// and Options.Profile fix them instead.
//
//	f, _ := os.Open("driver.wsktrace.jsonl")
//	rep, err := trace.Replay(f, trace.Options{})
//	if err != nil { ... }          // the input could not be read
//	rep.WriteText(os.Stdout)       // or WriteJSON
//	os.Exit(rep.ExitCode())        // 0 conforms, 1 diverges, 2 unusable, 3 violations
//
// Replay streams: memory is bounded by the parser's limits whatever the
// trace's length (MaxLineBytes per line, and bounds on open calls and live
// names). Parser and ParseAll read events without replaying them; Convert
// turns a trace into a scenario file (docs/scenarios.md) whose choice
// points are pinned to what the trace shows, so a recorded run becomes a
// regression test.
package trace
