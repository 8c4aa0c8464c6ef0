package nt

import (
	"fmt"
	"strconv"
	"strings"
)

// IRQL is an interrupt request level (KIRQL). Levels compare numerically:
// PASSIVE_LEVEL < APC_LEVEL < DISPATCH_LEVEL (kernel/managing-hardware-priorities.md).
type IRQL uint8

// IRQL values from wdm.h (x86/x64); see reference §1.4.
const (
	PASSIVE_LEVEL  IRQL = 0 // Threads run here; paged code and waits allowed.
	APC_LEVEL      IRQL = 1 // Asynchronous procedure calls masked.
	DISPATCH_LEVEL IRQL = 2 // Thread dispatch and DPCs masked; no paging, no waits.
)

var irqlNames = [...]string{"PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"}

// String returns the SDK name of l, or "IRQL(n)" for a level without a name
// here.
func (l IRQL) String() string {
	if int(l) < len(irqlNames) {
		return irqlNames[l]
	}
	return "IRQL(" + strconv.Itoa(int(l)) + ")"
}

// ParseIRQL parses an SDK level name ("DISPATCH_LEVEL") or the fallback
// form "IRQL(n)" produced by String, with n a decimal number 0–255.
func ParseIRQL(s string) (IRQL, error) {
	for i, n := range irqlNames {
		if s == n {
			return IRQL(i), nil
		}
	}
	if inner, ok := strings.CutPrefix(s, "IRQL("); ok {
		if num, ok := strings.CutSuffix(inner, ")"); ok {
			if v, err := strconv.ParseUint(num, 10, 8); err == nil {
				return IRQL(v), nil
			}
		}
		return 0, fmt.Errorf("nt.ParseIRQL: invalid IRQL %q: want IRQL(n) with n in 0..255", s)
	}
	return 0, fmt.Errorf("nt.ParseIRQL: unknown IRQL name %q", s)
}
