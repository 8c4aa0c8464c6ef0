package scenarios_test

import (
	"fmt"
	"strings"

	"github.com/wsksim/wsksim/scenarios"
)

// ExampleRun runs a three-command scenario: a driver frees an IRP twice.
func ExampleRun() {
	src := `alloc-irp name=op
----
IoAllocateIrp(StackSize=1, ChargeQuota=false) -> irp1 (op)

free-irp irp=op
----
IoFreeIrp(Irp=irp1)

free-irp irp=op
----
IoFreeIrp(Irp=irp1)

violations
----
IRP-USE-AFTER-FREE at seq 4 in IoFreeIrp [irp1]: IoFreeIrp on irp1 after IoFreeIrp (bug check 0xC9/0x20A)
`
	res, err := scenarios.Run("double-free.txt", strings.NewReader(src), scenarios.Options{Seed: 1})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%d commands, %d mismatches\n", res.Commands, len(res.Mismatches))
	for _, v := range res.Violations {
		fmt.Println(v.Rule)
	}
	// Output:
	// 4 commands, 0 mismatches
	// IRP-USE-AFTER-FREE
}
