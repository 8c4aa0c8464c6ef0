// Package scenarios is wsksim's scenario language: small text files, in the
// cockroachdb/datadriven style of etcd raft's testdata, that state a behaviour
// of the contract in a few readable lines and the model's answer below each
// command. The same files are the regression suite (scenarios/testdata/, embedded
// in the wsksim binary) and the documentation by example.
//
// A file is a sequence of commands, each followed by "----" and its expected
// output:
//
//	# A comment says what the file shows and its source.
//	alloc-irp name=op
//	----
//	IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1 (op)
//
// Commands reach every public operation: the world (seed, pin, policy,
// rule-action, fault, step, run, advance, irql, violations, close, trace), IRPs
// and pool, WSK registration, sockets and every WSK call including
// WskControlSocket with any arguments, scripted peers, WFP callouts with declared
// behaviours, redirect policies and records. docs/scenarios.md lists every
// command with an example; each command's implementation carries an Example:
// line in its doc comment.
//
// Run parses and runs one file and reports every mismatch; a malformed file
// fails with "file:line: message". Suite returns the embedded built-in suite.
// `wsksim run` runs it from the command line, and `wsksim run --rewrite`
// rewrites expected output.
package scenarios
