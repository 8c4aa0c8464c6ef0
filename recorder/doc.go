// Package recorder holds the wsktrace recorder: C sources a Windows driver's
// test build links to write wsktrace v1 traces of its WSK, IRP, pool, MDL and
// FWPS calls (docs/recording.md). The package itself has no Go API; its tests
// build the recorder with the host C compiler, run small drivers against a
// fake kernel, and replay every trace they write with package trace, so the
// recorder and the oracle cannot drift apart. They also compile the kernel
// layer with the MinGW-w64 cross compiler when it is installed.
package recorder
