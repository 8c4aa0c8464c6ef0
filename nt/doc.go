// Package nt holds the shared nouns of wsksim: NTSTATUS codes, IRQL levels
// and the Windows SDK/WDK constants (IOCTL codes, WSK flags, socket option
// names, WFP metadata and condition flags, Win32/Winsock error codes) that
// the rest of the model speaks in.
//
// Identifiers are spelled exactly as in the SDK and WDK headers
// (STATUS_PENDING, DISPATCH_LEVEL, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS,
// WskIoctl, ...) rather than in Go style, so that code, traces and the
// Microsoft documentation can be read side by side and grepped for the same
// names. Every constant's comment says where its value comes from: a
// header (SDK, WDK), golang.org/x/sys, microsoft/windows-rs, or the
// constant's Microsoft Learn page (the source keys are listed in consts.go).
//
// The NTSTATUS constants and their name table are generated from the
// curated list statuses.txt into zstatus.go; run "go generate ./nt" after
// editing the list. Name/value tables are sorted slices searched by binary
// search, so nothing here depends on map iteration order.
//
// nt is a leaf package: it imports only the standard library and nothing
// else in wsksim.
package nt
