package nt_test

import (
	"fmt"

	"github.com/wsksim/wsksim/nt"
)

// STATUS_PENDING passes NT_SUCCESS; code that must know whether an
// operation has finished compares against STATUS_PENDING explicitly.
func ExampleStatus_IsSuccess() {
	for _, s := range []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_PENDING, nt.STATUS_BUFFER_OVERFLOW, nt.STATUS_BUFFER_TOO_SMALL} {
		fmt.Printf("%-23s success=%-5v severity=%v\n", s, s.IsSuccess(), s.Severity())
	}
	// Output:
	// STATUS_SUCCESS          success=true  severity=Success
	// STATUS_PENDING          success=true  severity=Success
	// STATUS_BUFFER_OVERFLOW  success=false severity=Warning
	// STATUS_BUFFER_TOO_SMALL success=false severity=Error
}

func ExampleParseStatus() {
	s, err := nt.ParseStatus("0xc0000225")
	fmt.Println(s, err)
	_, err = nt.ParseStatus("STATUS_FOO")
	fmt.Println(err)
	// Output:
	// STATUS_NOT_FOUND <nil>
	// nt.ParseStatus: unknown NTSTATUS name "STATUS_FOO"
}

// MAKE_WSK_VERSION packs major.minor the way wsk.h does.
func Example_wskVersion() {
	fmt.Printf("%#x\n", nt.MAKE_WSK_VERSION(1, 0))
	// Output: 0x100
}
