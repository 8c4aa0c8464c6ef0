package nt

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// wsaio mirrors the ws2def.h _WSAIO* macros.
func wsaio(dir, class, code uint32) uint32 { return dir | class | code }

func TestIOCTLComposition(t *testing.T) {
	if IOC_INOUT != IOC_IN|IOC_OUT {
		t.Errorf("IOC_INOUT = %#x", IOC_INOUT)
	}
	if IOC_WSK != IOC_WS2|0x07000000 {
		t.Errorf("IOC_WSK = %#x", IOC_WSK)
	}
	tests := []struct {
		name string
		got  uint32
		want uint32
	}{
		{"SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS", SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, wsaio(IOC_IN, IOC_VENDOR, 220)},
		{"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT", SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, wsaio(IOC_IN, IOC_VENDOR, 221)},
		{"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS", SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, wsaio(IOC_IN, IOC_VENDOR, 222)},
		{"SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE", SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE, wsaio(IOC_OUT, IOC_VENDOR, 205)},
		{"SIO_ADDRESS_LIST_QUERY", SIO_ADDRESS_LIST_QUERY, wsaio(IOC_OUT, IOC_WS2, 22)},
		{"SIO_ADDRESS_LIST_CHANGE", SIO_ADDRESS_LIST_CHANGE, wsaio(IOC_VOID, IOC_WS2, 23)},
		{"SIO_ADDRESS_LIST_SORT", SIO_ADDRESS_LIST_SORT, wsaio(IOC_INOUT, IOC_WS2, 25)},
		{"SIO_WSK_SET_REMOTE_ADDRESS", SIO_WSK_SET_REMOTE_ADDRESS, wsaio(IOC_IN, IOC_WSK, 1)},
		{"SIO_WSK_REGISTER_EXTENSION", SIO_WSK_REGISTER_EXTENSION, wsaio(IOC_INOUT, IOC_WSK, 2)},
		{"SIO_WSK_QUERY_IDEAL_SEND_BACKLOG", SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, wsaio(IOC_OUT, IOC_WSK, 3)},
		{"SIO_WSK_QUERY_RECEIVE_BACKLOG", SIO_WSK_QUERY_RECEIVE_BACKLOG, wsaio(IOC_OUT, IOC_WSK, 4)},
		{"SIO_WSK_QUERY_INSPECT_ID", SIO_WSK_QUERY_INSPECT_ID, wsaio(IOC_OUT, IOC_WSK, 5)},
		{"SIO_WSK_SET_SENDTO_ADDRESS", SIO_WSK_SET_SENDTO_ADDRESS, wsaio(IOC_IN, IOC_WSK, 6)},
		{"SIO_WSK_SET_TCP_SILENT_MODE", SIO_WSK_SET_TCP_SILENT_MODE, wsaio(IOC_VOID, IOC_WSK, 7)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#08x, want %#08x", tt.name, tt.got, tt.want)
		}
	}
	// Decimal values as published by windows-rs / the reference table.
	for name, pair := range map[string][2]uint32{
		"SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS": {SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 2550137052},
		"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT": {SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 2550137053},
		"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS":   {SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 2550137054},
		"SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE":         {SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE, 1476395213},
		"SIO_ADDRESS_LIST_QUERY":                    {SIO_ADDRESS_LIST_QUERY, 1207959574},
		"SIO_ADDRESS_LIST_CHANGE":                   {SIO_ADDRESS_LIST_CHANGE, 671088663},
		"SIO_ADDRESS_LIST_SORT":                     {SIO_ADDRESS_LIST_SORT, 3355443225},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %d, want %d", name, pair[0], pair[1])
		}
	}
}

func TestWSKConstants(t *testing.T) {
	if v := MAKE_WSK_VERSION(1, 0); v != 0x100 {
		t.Errorf("MAKE_WSK_VERSION(1,0) = %#x, want 0x100", v)
	}
	if v := MAKE_WSK_VERSION(2, 0xAB); v != 0x2AB {
		t.Errorf("MAKE_WSK_VERSION(2,0xAB) = %#x, want 0x2ab", v)
	}
	if WSK_MAJOR_VERSION(0x2AB) != 2 || WSK_MINOR_VERSION(0x2AB) != 0xAB {
		t.Error("WSK_MAJOR_VERSION/WSK_MINOR_VERSION do not invert MAKE_WSK_VERSION")
	}
	if WskSetOption != 0 || WskGetOption != 1 || WskIoctl != 2 || WskControlMax != 3 {
		t.Error("WSK_CONTROL_SOCKET_TYPE values wrong")
	}
	if WskIoctl.String() != "WskIoctl" || ControlSocketType(9).String() != "ControlSocketType(9)" {
		t.Errorf("ControlSocketType.String: %q, %q", WskIoctl, ControlSocketType(9))
	}
	if SO_WSK_SECURITY != 0x4001 || SO_WSK_EVENT_CALLBACK != 0x4002 {
		t.Errorf("SO_WSK_* = %#x, %#x", SO_WSK_SECURITY, SO_WSK_EVENT_CALLBACK)
	}
	exclusive := SO_EXCLUSIVEADDRUSE
	if exclusive != 0xFFFFFFFB || int32(exclusive) != -5 {
		t.Errorf("SO_EXCLUSIVEADDRUSE = %#x", SO_EXCLUSIVEADDRUSE)
	}
	if WSK_INFINITE_WAIT != MAXULONG || MAXULONG != 0xFFFFFFFF {
		t.Error("WSK_INFINITE_WAIT/MAXULONG wrong")
	}
}

func TestWinErrorString(t *testing.T) {
	for e, want := range map[WinError]string{
		ERROR_INSUFFICIENT_BUFFER: "ERROR_INSUFFICIENT_BUFFER",
		WSA_OPERATION_ABORTED:     "WSA_OPERATION_ABORTED",
		WSA_IO_PENDING:            "WSA_IO_PENDING",
		WSAEINTR:                  "WSAEINTR",
		WSAEACCES:                 "WSAEACCES",
		WSAEFAULT:                 "WSAEFAULT",
		WSAEINVAL:                 "WSAEINVAL",
		WSAEINPROGRESS:            "WSAEINPROGRESS",
		WSAENOTSOCK:               "WSAENOTSOCK",
		WSAEMSGSIZE:               "WSAEMSGSIZE",
		WSAENOPROTOOPT:            "WSAENOPROTOOPT",
		WSAEOPNOTSUPP:             "WSAEOPNOTSUPP",
		WSAENETDOWN:               "WSAENETDOWN",
		WSAENOTCONN:               "WSAENOTCONN",
		WinError(0):               "WinError(0)",
		WinError(10060):           "WinError(10060)",
	} {
		if got := e.String(); got != want {
			t.Errorf("WinError(%d).String() = %q, want %q", uint32(e), got, want)
		}
	}
	for i := 1; i < len(winErrorNames); i++ {
		if winErrorNames[i-1].code >= winErrorNames[i].code {
			t.Fatalf("winErrorNames not sorted at %d", i)
		}
	}
}

func TestConstantTableSortedUnique(t *testing.T) {
	for i := 1; i < len(constantTable); i++ {
		if constantTable[i-1].name >= constantTable[i].name {
			t.Fatalf("constantTable not strictly sorted (or duplicate) at %d: %q >= %q", i, constantTable[i-1].name, constantTable[i].name)
		}
	}
	for _, e := range constantTable {
		v, ok := LookupConstant(e.name)
		if !ok || v != e.value {
			t.Errorf("LookupConstant(%q) = %d, %v; want %d, true", e.name, v, ok, e.value)
		}
	}
	for _, name := range []string{"", "AF_INET7", "wskioctl", "STATUS_PENDING", "ZZZ"} {
		if v, ok := LookupConstant(name); ok {
			t.Errorf("LookupConstant(%q) = %d, true; want not found", name, v)
		}
	}
	if v, _ := LookupConstant("SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS"); v != 0x980000DE {
		t.Errorf("LookupConstant(SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) = %#x", v)
	}
	if v, _ := LookupConstant("DISPATCH_LEVEL"); v != 2 {
		t.Errorf("LookupConstant(DISPATCH_LEVEL) = %d", v)
	}
}

// TestConstantTableCoversFiles requires every exported constant declared
// in consts.go and irql.go to be resolvable by LookupConstant.
func TestConstantTableCoversFiles(t *testing.T) {
	fset := token.NewFileSet()
	for _, file := range []string{"consts.go", "irql.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if !id.IsExported() {
						continue
					}
					n++
					if _, ok := LookupConstant(id.Name); !ok {
						t.Errorf("%s: constant %s missing from constantTable", file, id.Name)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: found no constants; parser test is broken", file)
		}
	}
}
