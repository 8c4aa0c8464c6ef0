// Package deptest holds the import rules of wsksim as a test (in the manner of
// tailscale's tstest/deptest): nt imports only the standard library; sim only
// nt and the standard library; irp and wfp never import each other; the core
// packages (nt, sim, irp, wfp, wsk) never depend on testing, testify or rapid
// outside their tests, and never on scenarios, trace, fuzz or cmd.
//
// The package has no code of its own; see deptest_test.go.
package deptest
