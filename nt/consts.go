package nt

import "strconv"

// Source keys used in the comments below:
//
//	[xsys]    golang.org/x/sys windows/types_windows.go and zerrors_windows.go
//	          (checked against v0.39.0, vendored by the Go toolchain).
//	[ws2def]  SDK shared/ws2def.h (text read through the public code index).
//	[winsock] SDK winsock2.h / winsock.h (public copies via the code index).
//	[wsk]     WDK km/wsk.h (public copies via the code index; the WSK_FLAG_*
//	          and Wsk* enum values also match wine-mirror/wine include/ddk/wsk.h).
//	[mstcpip] SDK mstcpip.h; numeric values also in microsoft/windows-rs
//	          crates/libs/sys/src/Windows/Win32/Networking/WinSock/mod.rs.
//	[ws2ipdef] SDK ws2ipdef.h; also windows-rs (as above).
//	[learn]   the constant's Microsoft Learn page: winsock-ioctls
//	          (https://learn.microsoft.com/windows/win32/winsock/winsock-ioctls)
//	          and the SIO_*_WFP_* pages for IOCTLs; the wsk.h DDI pages
//	          (https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/)
//	          for WSK values; metadata-field-identifiers and
//	          filtering-condition-flags
//	          (https://learn.microsoft.com/windows-hardware/drivers/network/)
//	          for WFP values.

// Winsock IOCTL composition bits. An IOCTL code is
// direction | class | code, as built by the _WSAIO/_WSAIOR/_WSAIOW/_WSAIORW
// macros of ws2def.h.
const (
	IOC_VOID   uint32 = 0x20000000 // No parameters. [ws2def]
	IOC_OUT    uint32 = 0x40000000 // Output buffer valid (_WSAIOR). [xsys][ws2def]
	IOC_IN     uint32 = 0x80000000 // Input buffer valid (_WSAIOW). [xsys][ws2def]
	IOC_INOUT  uint32 = 0xC0000000 // IOC_IN|IOC_OUT (_WSAIORW). [xsys][ws2def]
	IOC_WS2    uint32 = 0x08000000 // Winsock 2 defined class. [xsys][ws2def]
	IOC_VENDOR uint32 = 0x18000000 // Vendor-defined class (T==3). [xsys][ws2def]
	IOC_WSK    uint32 = 0x0F000000 // IOC_WS2|0x07000000: WSK-specific codes. [ws2def]
)

// WFP redirect IOCTLs (mstcpip.h). Both query codes are encoded with
// _WSAIOW although they return output: do not infer direction from the bits.
const (
	// SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE is _WSAIOR(IOC_VENDOR, 205). [mstcpip][learn]
	SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE uint32 = 0x580000CD
	// SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS is _WSAIOW(IOC_VENDOR, 220). [mstcpip][learn]
	SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS uint32 = 0x980000DC
	// SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT is _WSAIOW(IOC_VENDOR, 221). [mstcpip][learn]
	SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT uint32 = 0x980000DD
	// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS is _WSAIOW(IOC_VENDOR, 222). [mstcpip][learn]
	SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS uint32 = 0x980000DE
)

// Winsock 2 address-list IOCTLs (ws2def.h). WskControlSocket requires
// PASSIVE_LEVEL and a NULL IRP for SIO_ADDRESS_LIST_QUERY.
const (
	// SIO_ADDRESS_LIST_QUERY is _WSAIOR(IOC_WS2, 22). [ws2def]; windows-rs 1207959574.
	SIO_ADDRESS_LIST_QUERY uint32 = 0x48000016
	// SIO_ADDRESS_LIST_CHANGE is _WSAIO(IOC_WS2, 23). [ws2def]; windows-rs 671088663.
	SIO_ADDRESS_LIST_CHANGE uint32 = 0x28000017
	// SIO_ADDRESS_LIST_SORT is _WSAIORW(IOC_WS2, 25). [ws2def]; windows-rs 3355443225.
	SIO_ADDRESS_LIST_SORT uint32 = 0xC8000019
)

// WSK-specific IOCTLs (wsk.h, "IOCTL codes specific to WSK").
const (
	// SIO_WSK_SET_REMOTE_ADDRESS is _WSAIOW(IOC_WSK, 0x1). [wsk]
	SIO_WSK_SET_REMOTE_ADDRESS uint32 = 0x8F000001
	// SIO_WSK_REGISTER_EXTENSION is _WSAIORW(IOC_WSK, 0x2). [wsk]
	SIO_WSK_REGISTER_EXTENSION uint32 = 0xCF000002
	// SIO_WSK_QUERY_IDEAL_SEND_BACKLOG is _WSAIOR(IOC_WSK, 0x3). [wsk]
	SIO_WSK_QUERY_IDEAL_SEND_BACKLOG uint32 = 0x4F000003
	// SIO_WSK_QUERY_RECEIVE_BACKLOG is _WSAIOR(IOC_WSK, 0x4). [wsk]
	SIO_WSK_QUERY_RECEIVE_BACKLOG uint32 = 0x4F000004
	// SIO_WSK_QUERY_INSPECT_ID is _WSAIOR(IOC_WSK, 0x5). [wsk]
	SIO_WSK_QUERY_INSPECT_ID uint32 = 0x4F000005
	// SIO_WSK_SET_SENDTO_ADDRESS is _WSAIOW(IOC_WSK, 0x6). [wsk]
	SIO_WSK_SET_SENDTO_ADDRESS uint32 = 0x8F000006
	// SIO_WSK_SET_TCP_SILENT_MODE is _WSAIO(IOC_WSK, 0x7). [wsk]
	SIO_WSK_SET_TCP_SILENT_MODE uint32 = 0x2F000007
)

// WSK socket-level options (wsk.h, level SOL_SOCKET).
const (
	WSK_SO_BASE           uint32 = 0x4000          // Base of WSK-specific SOL_SOCKET options. [ws2def]
	SO_WSK_SECURITY       uint32 = WSK_SO_BASE + 1 // 0x4001. [wsk]
	SO_WSK_EVENT_CALLBACK uint32 = WSK_SO_BASE + 2 // 0x4002: enable/disable event callbacks. [wsk]
)

// WSK_EVENT_* masks for WSK_EVENT_CALLBACK_CONTROL.EventMask used with
// SO_WSK_EVENT_CALLBACK. [wsk]
const (
	WSK_EVENT_SEND_BACKLOG uint32 = 0x00000010 // Connection and listen sockets.
	WSK_EVENT_RECEIVE      uint32 = 0x00000040 // Connection and listen sockets.
	WSK_EVENT_DISCONNECT   uint32 = 0x00000080 // Connection and listen sockets.
	WSK_EVENT_RECEIVE_FROM uint32 = 0x00000100 // Datagram sockets.
	WSK_EVENT_ACCEPT       uint32 = 0x00000200 // Listen sockets.
	WSK_EVENT_DISABLE      uint32 = 0x80000000 // OR-ed in to disable the named event.
)

// ControlSocketType is WSK_CONTROL_SOCKET_TYPE, the RequestType argument
// of WskControlSocket. [wsk][learn]
type ControlSocketType uint32

// WSK_CONTROL_SOCKET_TYPE values (implicit C enum numbering). [wsk][learn]
const (
	WskSetOption  ControlSocketType = 0 // Set a socket option.
	WskGetOption  ControlSocketType = 1 // Get a socket option.
	WskIoctl      ControlSocketType = 2 // Socket IOCTL.
	WskControlMax ControlSocketType = 3 // Upper bound; not a valid request type.
)

var controlSocketTypeNames = [...]string{"WskSetOption", "WskGetOption", "WskIoctl", "WskControlMax"}

// String returns the WDK enumerator name, or "ControlSocketType(n)".
func (t ControlSocketType) String() string {
	if uint64(t) < uint64(len(controlSocketTypeNames)) {
		return controlSocketTypeNames[t]
	}
	return "ControlSocketType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// WSK socket category flags, the Flags argument of WskSocket. [wsk][learn]
const (
	WSK_FLAG_BASIC_SOCKET      uint32 = 0x00000000
	WSK_FLAG_LISTEN_SOCKET     uint32 = 0x00000001
	WSK_FLAG_CONNECTION_SOCKET uint32 = 0x00000002
	WSK_FLAG_DATAGRAM_SOCKET   uint32 = 0x00000004
	WSK_FLAG_STREAM_SOCKET     uint32 = 0x00000008 // Windows 10 1703+.
)

// WaitTimeout values for WskCaptureProviderNPI. [wsk][learn]
const (
	WSK_NO_WAIT       uint32 = 0          // Fail with STATUS_DEVICE_NOT_READY instead of waiting.
	WSK_INFINITE_WAIT uint32 = 0xFFFFFFFF // Wait until the provider is ready.
)

// MAXULONG is the largest ULONG. [ntdef.h]
const MAXULONG uint32 = 0xFFFFFFFF

// MAKE_WSK_VERSION builds a WSK version number:
// ((USHORT)(Mj << 8) | (USHORT)(Mn & 0xff)). [wsk][learn]
func MAKE_WSK_VERSION(major, minor uint8) uint16 {
	return uint16(major)<<8 | uint16(minor)
}

// WSK_MAJOR_VERSION extracts the major part of a WSK version. [wsk]
func WSK_MAJOR_VERSION(v uint16) uint8 { return uint8(v >> 8) }

// WSK_MINOR_VERSION extracts the minor part of a WSK version. [wsk]
func WSK_MINOR_VERSION(v uint16) uint8 { return uint8(v) }

// Address families (ADDRESS_FAMILY, a USHORT). [xsys]
const (
	AF_INET  uint16 = 2
	AF_INET6 uint16 = 23
)

// Socket types (the USHORT SocketType argument of WskSocket). [xsys]
const (
	SOCK_STREAM uint16 = 1
	SOCK_DGRAM  uint16 = 2
)

// Protocols and option levels (ULONG Protocol / Level arguments). [xsys]
const (
	IPPROTO_IP   uint32 = 0
	IPPROTO_TCP  uint32 = 6
	IPPROTO_UDP  uint32 = 17
	IPPROTO_IPV6 uint32 = 41
	SOL_SOCKET   uint32 = 0xFFFF
)

// Socket options (ULONG ControlCode of WskSetOption/WskGetOption).
const (
	SO_REUSEADDR uint32 = 4 // [xsys]
	// SO_EXCLUSIVEADDRUSE is ((int)(~SO_REUSEADDR)) = -5, i.e. 0xFFFFFFFB as a ULONG. [winsock]
	SO_EXCLUSIVEADDRUSE uint32 = ^SO_REUSEADDR
	// IPV6_V6ONLY (level IPPROTO_IPV6) = 27. [xsys]
	IPV6_V6ONLY uint32 = 27
	// IP_WFP_REDIRECT_RECORDS is the cmsg_type carrying redirect records for UDP. [ws2ipdef][learn]
	IP_WFP_REDIRECT_RECORDS uint32 = 60
	// IP_WFP_REDIRECT_CONTEXT is the cmsg_type carrying the redirect context for UDP. [ws2ipdef][learn]
	IP_WFP_REDIRECT_CONTEXT uint32 = 70
)

// FWPS_METADATA_FIELD_* bits of FWPS_INCOMING_METADATA_VALUES0.currentMetadataValues
// (fwpsk.h; network/metadata-field-identifiers.md). [learn]
const (
	FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID uint32 = 0x10000000
	FWPS_METADATA_FIELD_ORIGINAL_DESTINATION      uint32 = 0x20000000
	FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE    uint32 = 0x40000000
)

// FWP_CONDITION_FLAG_* bits of the FWPS_FIELD_*_FLAGS condition
// (network/filtering-condition-flags.md). [learn]
const (
	FWP_CONDITION_FLAG_IS_REAUTHORIZE               uint32 = 0x00000004
	FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED     uint32 = 0x00100000
	FWP_CONDITION_FLAG_IS_PROXY_CONNECTION          uint32 = 0x00200000
	FWP_CONDITION_FLAG_IS_HONORING_POLICY_AUTHORIZE uint32 = 0x02000000
)

// FWP_E_NOT_FOUND is the user-mode WFP HRESULT for "object does not exist"
// (kernel counterpart STATUS_FWP_NOT_FOUND). [xsys]; win32 FWP/wfp-error-codes.md.
const FWP_E_NOT_FOUND uint32 = 0x80320008

// WinError is a Win32 / Winsock error code (the value WSAGetLastError or
// GetLastError reports in user mode).
type WinError uint32

// Win32 / Winsock error codes. [xsys]; meanings in win32
// WinSock/windows-sockets-error-codes-2.md.
const (
	ERROR_INSUFFICIENT_BUFFER WinError = 122   // The data area passed is too small.
	WSA_OPERATION_ABORTED     WinError = 995   // = ERROR_OPERATION_ABORTED: overlapped operation aborted.
	WSA_IO_PENDING            WinError = 997   // = ERROR_IO_PENDING: overlapped I/O will complete later.
	WSAEINTR                  WinError = 10004 // Interrupted function call.
	WSAEACCES                 WinError = 10013 // Permission denied.
	WSAEFAULT                 WinError = 10014 // Bad address.
	WSAEINVAL                 WinError = 10022 // Invalid argument.
	WSAEINPROGRESS            WinError = 10036 // Operation now in progress.
	WSAENOTSOCK               WinError = 10038 // Socket operation on nonsocket.
	WSAEMSGSIZE               WinError = 10040 // Message too long.
	WSAENOPROTOOPT            WinError = 10042 // Bad protocol option.
	WSAEOPNOTSUPP             WinError = 10045 // Operation not supported.
	WSAENETDOWN               WinError = 10050 // Network is down.
	WSAENOTCONN               WinError = 10057 // Socket is not connected.
)

// winErrorNames is sorted by value.
var winErrorNames = [...]struct {
	code WinError
	name string
}{
	{ERROR_INSUFFICIENT_BUFFER, "ERROR_INSUFFICIENT_BUFFER"},
	{WSA_OPERATION_ABORTED, "WSA_OPERATION_ABORTED"},
	{WSA_IO_PENDING, "WSA_IO_PENDING"},
	{WSAEINTR, "WSAEINTR"},
	{WSAEACCES, "WSAEACCES"},
	{WSAEFAULT, "WSAEFAULT"},
	{WSAEINVAL, "WSAEINVAL"},
	{WSAEINPROGRESS, "WSAEINPROGRESS"},
	{WSAENOTSOCK, "WSAENOTSOCK"},
	{WSAEMSGSIZE, "WSAEMSGSIZE"},
	{WSAENOPROTOOPT, "WSAENOPROTOOPT"},
	{WSAEOPNOTSUPP, "WSAEOPNOTSUPP"},
	{WSAENETDOWN, "WSAENETDOWN"},
	{WSAENOTCONN, "WSAENOTCONN"},
}

// String returns the SDK name of e (995 and 997 use their WSA_ spellings),
// or "WinError(n)" for a code without a name here.
func (e WinError) String() string {
	lo, hi := 0, len(winErrorNames)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if winErrorNames[mid].code < e {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(winErrorNames) && winErrorNames[lo].code == e {
		return winErrorNames[lo].name
	}
	return "WinError(" + strconv.FormatUint(uint64(e), 10) + ")"
}

// constantTable maps every named constant of this file, and the IRQL
// names, to its value, sorted by name for LookupConstant. NTSTATUS names
// are resolved by ParseStatus instead.
var constantTable = [...]struct {
	name  string
	value uint64
}{
	{"AF_INET", uint64(AF_INET)},
	{"AF_INET6", uint64(AF_INET6)},
	{"APC_LEVEL", uint64(APC_LEVEL)},
	{"DISPATCH_LEVEL", uint64(DISPATCH_LEVEL)},
	{"ERROR_INSUFFICIENT_BUFFER", uint64(ERROR_INSUFFICIENT_BUFFER)},
	{"FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID", uint64(FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID)},
	{"FWPS_METADATA_FIELD_ORIGINAL_DESTINATION", uint64(FWPS_METADATA_FIELD_ORIGINAL_DESTINATION)},
	{"FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE", uint64(FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE)},
	{"FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED", uint64(FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED)},
	{"FWP_CONDITION_FLAG_IS_HONORING_POLICY_AUTHORIZE", uint64(FWP_CONDITION_FLAG_IS_HONORING_POLICY_AUTHORIZE)},
	{"FWP_CONDITION_FLAG_IS_PROXY_CONNECTION", uint64(FWP_CONDITION_FLAG_IS_PROXY_CONNECTION)},
	{"FWP_CONDITION_FLAG_IS_REAUTHORIZE", uint64(FWP_CONDITION_FLAG_IS_REAUTHORIZE)},
	{"FWP_E_NOT_FOUND", uint64(FWP_E_NOT_FOUND)},
	{"IOC_IN", uint64(IOC_IN)},
	{"IOC_INOUT", uint64(IOC_INOUT)},
	{"IOC_OUT", uint64(IOC_OUT)},
	{"IOC_VENDOR", uint64(IOC_VENDOR)},
	{"IOC_VOID", uint64(IOC_VOID)},
	{"IOC_WS2", uint64(IOC_WS2)},
	{"IOC_WSK", uint64(IOC_WSK)},
	{"IPPROTO_IP", uint64(IPPROTO_IP)},
	{"IPPROTO_IPV6", uint64(IPPROTO_IPV6)},
	{"IPPROTO_TCP", uint64(IPPROTO_TCP)},
	{"IPPROTO_UDP", uint64(IPPROTO_UDP)},
	{"IPV6_V6ONLY", uint64(IPV6_V6ONLY)},
	{"IP_WFP_REDIRECT_CONTEXT", uint64(IP_WFP_REDIRECT_CONTEXT)},
	{"IP_WFP_REDIRECT_RECORDS", uint64(IP_WFP_REDIRECT_RECORDS)},
	{"MAXULONG", uint64(MAXULONG)},
	{"PASSIVE_LEVEL", uint64(PASSIVE_LEVEL)},
	{"SIO_ADDRESS_LIST_CHANGE", uint64(SIO_ADDRESS_LIST_CHANGE)},
	{"SIO_ADDRESS_LIST_QUERY", uint64(SIO_ADDRESS_LIST_QUERY)},
	{"SIO_ADDRESS_LIST_SORT", uint64(SIO_ADDRESS_LIST_SORT)},
	{"SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE", uint64(SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE)},
	{"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT", uint64(SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)},
	{"SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS", uint64(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)},
	{"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS", uint64(SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS)},
	{"SIO_WSK_QUERY_IDEAL_SEND_BACKLOG", uint64(SIO_WSK_QUERY_IDEAL_SEND_BACKLOG)},
	{"SIO_WSK_QUERY_INSPECT_ID", uint64(SIO_WSK_QUERY_INSPECT_ID)},
	{"SIO_WSK_QUERY_RECEIVE_BACKLOG", uint64(SIO_WSK_QUERY_RECEIVE_BACKLOG)},
	{"SIO_WSK_REGISTER_EXTENSION", uint64(SIO_WSK_REGISTER_EXTENSION)},
	{"SIO_WSK_SET_REMOTE_ADDRESS", uint64(SIO_WSK_SET_REMOTE_ADDRESS)},
	{"SIO_WSK_SET_SENDTO_ADDRESS", uint64(SIO_WSK_SET_SENDTO_ADDRESS)},
	{"SIO_WSK_SET_TCP_SILENT_MODE", uint64(SIO_WSK_SET_TCP_SILENT_MODE)},
	{"SOCK_DGRAM", uint64(SOCK_DGRAM)},
	{"SOCK_STREAM", uint64(SOCK_STREAM)},
	{"SOL_SOCKET", uint64(SOL_SOCKET)},
	{"SO_EXCLUSIVEADDRUSE", uint64(SO_EXCLUSIVEADDRUSE)},
	{"SO_REUSEADDR", uint64(SO_REUSEADDR)},
	{"SO_WSK_EVENT_CALLBACK", uint64(SO_WSK_EVENT_CALLBACK)},
	{"SO_WSK_SECURITY", uint64(SO_WSK_SECURITY)},
	{"WSAEACCES", uint64(WSAEACCES)},
	{"WSAEFAULT", uint64(WSAEFAULT)},
	{"WSAEINPROGRESS", uint64(WSAEINPROGRESS)},
	{"WSAEINTR", uint64(WSAEINTR)},
	{"WSAEINVAL", uint64(WSAEINVAL)},
	{"WSAEMSGSIZE", uint64(WSAEMSGSIZE)},
	{"WSAENETDOWN", uint64(WSAENETDOWN)},
	{"WSAENOPROTOOPT", uint64(WSAENOPROTOOPT)},
	{"WSAENOTCONN", uint64(WSAENOTCONN)},
	{"WSAENOTSOCK", uint64(WSAENOTSOCK)},
	{"WSAEOPNOTSUPP", uint64(WSAEOPNOTSUPP)},
	{"WSA_IO_PENDING", uint64(WSA_IO_PENDING)},
	{"WSA_OPERATION_ABORTED", uint64(WSA_OPERATION_ABORTED)},
	{"WSK_EVENT_ACCEPT", uint64(WSK_EVENT_ACCEPT)},
	{"WSK_EVENT_DISABLE", uint64(WSK_EVENT_DISABLE)},
	{"WSK_EVENT_DISCONNECT", uint64(WSK_EVENT_DISCONNECT)},
	{"WSK_EVENT_RECEIVE", uint64(WSK_EVENT_RECEIVE)},
	{"WSK_EVENT_RECEIVE_FROM", uint64(WSK_EVENT_RECEIVE_FROM)},
	{"WSK_EVENT_SEND_BACKLOG", uint64(WSK_EVENT_SEND_BACKLOG)},
	{"WSK_FLAG_BASIC_SOCKET", uint64(WSK_FLAG_BASIC_SOCKET)},
	{"WSK_FLAG_CONNECTION_SOCKET", uint64(WSK_FLAG_CONNECTION_SOCKET)},
	{"WSK_FLAG_DATAGRAM_SOCKET", uint64(WSK_FLAG_DATAGRAM_SOCKET)},
	{"WSK_FLAG_LISTEN_SOCKET", uint64(WSK_FLAG_LISTEN_SOCKET)},
	{"WSK_FLAG_STREAM_SOCKET", uint64(WSK_FLAG_STREAM_SOCKET)},
	{"WSK_INFINITE_WAIT", uint64(WSK_INFINITE_WAIT)},
	{"WSK_NO_WAIT", uint64(WSK_NO_WAIT)},
	{"WSK_SO_BASE", uint64(WSK_SO_BASE)},
	{"WskControlMax", uint64(WskControlMax)},
	{"WskGetOption", uint64(WskGetOption)},
	{"WskIoctl", uint64(WskIoctl)},
	{"WskSetOption", uint64(WskSetOption)},
}

// LookupConstant returns the value of a named constant of this package
// (IOCTL codes, IOC_* bits, WSK flags and event masks, AF_/SOCK_/IPPROTO_/
// SOL_/SO_/IP_/IPV6_ names, Wsk* control types, WSK_NO_WAIT and
// WSK_INFINITE_WAIT, MAXULONG, FWPS_/FWP_ flags, Win32/Winsock error codes
// and IRQL names), for parsing symbolic traces. Names are case-sensitive,
// spelled as in the SDK. NTSTATUS names are parsed by ParseStatus.
func LookupConstant(name string) (uint64, bool) {
	lo, hi := 0, len(constantTable)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if constantTable[mid].name < name {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(constantTable) && constantTable[lo].name == name {
		return constantTable[lo].value, true
	}
	return 0, false
}

// ConstantNames returns every name LookupConstant resolves, sorted.
func ConstantNames() []string {
	out := make([]string, len(constantTable))
	for i, c := range constantTable {
		out[i] = c.name
	}
	return out
}
