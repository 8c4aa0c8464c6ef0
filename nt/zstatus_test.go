package nt

import (
	"bytes"
	"os"
	"testing"

	"github.com/wsksim/wsksim/nt/internal/statusgen"
)

// TestZStatusUpToDate regenerates zstatus.go in memory from statuses.txt
// and requires the checked-in file to match byte for byte.
func TestZStatusUpToDate(t *testing.T) {
	src, err := os.ReadFile("statuses.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := statusgen.Generate(src)
	if err != nil {
		t.Fatalf("statuses.txt does not generate: %v", err)
	}
	got, err := os.ReadFile("zstatus.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("zstatus.go is stale or hand-edited: run go generate ./nt")
	}
}

func TestStatusTableSortedAndIndexed(t *testing.T) {
	for i := 1; i < len(statusTable); i++ {
		if statusTable[i-1].status >= statusTable[i].status {
			t.Fatalf("statusTable not strictly ascending at %d: %v >= %v", i, statusTable[i-1].status, statusTable[i].status)
		}
	}
	if len(statusNameIndex) != len(statusTable) {
		t.Fatalf("statusNameIndex has %d entries, statusTable %d", len(statusNameIndex), len(statusTable))
	}
	seen := make([]bool, len(statusTable))
	for i, idx := range statusNameIndex {
		if seen[idx] {
			t.Fatalf("statusNameIndex repeats %d", idx)
		}
		seen[idx] = true
		if i > 0 && statusTable[statusNameIndex[i-1]].name >= statusTable[idx].name {
			t.Fatalf("statusNameIndex not sorted at %d", i)
		}
	}
}

// TestReferenceStatuses pins every NTSTATUS the reference (§1.3) and the
// brief require, with its exact value.
func TestReferenceStatuses(t *testing.T) {
	want := []struct {
		s    Status
		name string
		v    uint32
	}{
		{STATUS_SUCCESS, "STATUS_SUCCESS", 0x00000000},
		{STATUS_ALERTED, "STATUS_ALERTED", 0x00000101},
		{STATUS_TIMEOUT, "STATUS_TIMEOUT", 0x00000102},
		{STATUS_PENDING, "STATUS_PENDING", 0x00000103},
		{STATUS_EVENT_PENDING, "STATUS_EVENT_PENDING", 0x40000013},
		{STATUS_BUFFER_OVERFLOW, "STATUS_BUFFER_OVERFLOW", 0x80000005},
		{STATUS_UNSUCCESSFUL, "STATUS_UNSUCCESSFUL", 0xC0000001},
		{STATUS_NOT_IMPLEMENTED, "STATUS_NOT_IMPLEMENTED", 0xC0000002},
		{STATUS_ACCESS_VIOLATION, "STATUS_ACCESS_VIOLATION", 0xC0000005},
		{STATUS_INVALID_HANDLE, "STATUS_INVALID_HANDLE", 0xC0000008},
		{STATUS_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER", 0xC000000D},
		{STATUS_INVALID_DEVICE_REQUEST, "STATUS_INVALID_DEVICE_REQUEST", 0xC0000010},
		{STATUS_MORE_PROCESSING_REQUIRED, "STATUS_MORE_PROCESSING_REQUIRED", 0xC0000016},
		{STATUS_NO_MEMORY, "STATUS_NO_MEMORY", 0xC0000017},
		{STATUS_ACCESS_DENIED, "STATUS_ACCESS_DENIED", 0xC0000022},
		{STATUS_BUFFER_TOO_SMALL, "STATUS_BUFFER_TOO_SMALL", 0xC0000023},
		{STATUS_OBJECT_TYPE_MISMATCH, "STATUS_OBJECT_TYPE_MISMATCH", 0xC0000024},
		{STATUS_INTEGER_OVERFLOW, "STATUS_INTEGER_OVERFLOW", 0xC0000095},
		{STATUS_INSUFFICIENT_RESOURCES, "STATUS_INSUFFICIENT_RESOURCES", 0xC000009A},
		{STATUS_DEVICE_NOT_READY, "STATUS_DEVICE_NOT_READY", 0xC00000A3},
		{STATUS_IO_TIMEOUT, "STATUS_IO_TIMEOUT", 0xC00000B5},
		{STATUS_FILE_FORCED_CLOSED, "STATUS_FILE_FORCED_CLOSED", 0xC00000B6},
		{STATUS_NOT_SUPPORTED, "STATUS_NOT_SUPPORTED", 0xC00000BB},
		{STATUS_INTERNAL_ERROR, "STATUS_INTERNAL_ERROR", 0xC00000E5},
		{STATUS_INVALID_PARAMETER_1, "STATUS_INVALID_PARAMETER_1", 0xC00000EF},
		{STATUS_INVALID_PARAMETER_2, "STATUS_INVALID_PARAMETER_2", 0xC00000F0},
		{STATUS_INVALID_PARAMETER_3, "STATUS_INVALID_PARAMETER_3", 0xC00000F1},
		{STATUS_CANCELLED, "STATUS_CANCELLED", 0xC0000120},
		{STATUS_INVALID_CONNECTION, "STATUS_INVALID_CONNECTION", 0xC0000140},
		{STATUS_INVALID_ADDRESS, "STATUS_INVALID_ADDRESS", 0xC0000141},
		{STATUS_INVALID_DEVICE_STATE, "STATUS_INVALID_DEVICE_STATE", 0xC0000184},
		{STATUS_INVALID_BUFFER_SIZE, "STATUS_INVALID_BUFFER_SIZE", 0xC0000206},
		{STATUS_TOO_MANY_ADDRESSES, "STATUS_TOO_MANY_ADDRESSES", 0xC0000209},
		{STATUS_ADDRESS_ALREADY_EXISTS, "STATUS_ADDRESS_ALREADY_EXISTS", 0xC000020A},
		{STATUS_ADDRESS_CLOSED, "STATUS_ADDRESS_CLOSED", 0xC000020B},
		{STATUS_CONNECTION_DISCONNECTED, "STATUS_CONNECTION_DISCONNECTED", 0xC000020C},
		{STATUS_CONNECTION_RESET, "STATUS_CONNECTION_RESET", 0xC000020D},
		{STATUS_NOT_FOUND, "STATUS_NOT_FOUND", 0xC0000225},
		{STATUS_CONNECTION_REFUSED, "STATUS_CONNECTION_REFUSED", 0xC0000236},
		{STATUS_GRACEFUL_DISCONNECT, "STATUS_GRACEFUL_DISCONNECT", 0xC0000237},
		{STATUS_ADDRESS_ALREADY_ASSOCIATED, "STATUS_ADDRESS_ALREADY_ASSOCIATED", 0xC0000238},
		{STATUS_CONNECTION_ACTIVE, "STATUS_CONNECTION_ACTIVE", 0xC000023B},
		{STATUS_NETWORK_UNREACHABLE, "STATUS_NETWORK_UNREACHABLE", 0xC000023C},
		{STATUS_HOST_UNREACHABLE, "STATUS_HOST_UNREACHABLE", 0xC000023D},
		{STATUS_PORT_UNREACHABLE, "STATUS_PORT_UNREACHABLE", 0xC000023F},
		{STATUS_REQUEST_ABORTED, "STATUS_REQUEST_ABORTED", 0xC0000240},
		{STATUS_CONNECTION_ABORTED, "STATUS_CONNECTION_ABORTED", 0xC0000241},
		{STATUS_NOINTERFACE, "STATUS_NOINTERFACE", 0xC00002B9},
		{STATUS_FWP_NOT_FOUND, "STATUS_FWP_NOT_FOUND", 0xC0220008},
		{STATUS_FWP_INCOMPATIBLE_LAYER, "STATUS_FWP_INCOMPATIBLE_LAYER", 0xC0220014},
		{STATUS_REQUEST_NOT_ACCEPTED, "STATUS_REQUEST_NOT_ACCEPTED", 0xC00000D0},
		{STATUS_DATA_NOT_ACCEPTED, "STATUS_DATA_NOT_ACCEPTED", 0xC000021B},
		{STATUS_FWP_NULL_POINTER, "STATUS_FWP_NULL_POINTER", 0xC022001C},
		{STATUS_FWP_CANNOT_PEND, "STATUS_FWP_CANNOT_PEND", 0xC0220103},
	}
	for _, w := range want {
		if uint32(w.s) != w.v {
			t.Errorf("%s = %#08x, want %#08x", w.name, uint32(w.s), w.v)
		}
		if got := w.s.String(); got != w.name {
			t.Errorf("Status(%#08x).String() = %q, want %q", w.v, got, w.name)
		}
	}
	if n := len(AllStatuses()); n != len(want) {
		t.Errorf("AllStatuses has %d entries, this test pins %d: update the test with the new status", n, len(want))
	}
}
