/*
 * wsktrace_ddk.h - what the recorder needs from the WDK that a header set
 * may lack, declared from the documented signatures. Include it after
 * <ntddk.h> (or <wdm.h>) and in place of <wsk.h>.
 *
 * Three header sets are known:
 *  - the WDK: everything is there; set WSKTRACE_HAVE_WDK and this file only
 *    includes <wsk.h> and <fwpsk.h>.
 *  - MinGW-w64's DDK (Debian mingw-w64-x86-64-dev) plus Wine's ddk/wsk.h
 *    (Debian libwine-dev): MinGW has no winsock types in kernel mode and no
 *    wsk.h/fwpsk.h; Wine's wsk.h covers the WSK v1 dispatch tables.
 *  - Wine's own headers (windef.h, winternl.h, ddk/wdm.h, ddk/wsk.h), as Wine
 *    builds its kernel tests (dlls/ntoskrnl.exe/tests/driver_netio.c).
 *
 * Sources, all Microsoft Learn (learn.microsoft.com/windows-hardware/drivers/ddi/):
 *  wdm/nf-wdm-exallocatepool2 (ExAllocatePool2, POOL_FLAGS),
 *  wsk/ns-wsk-_wsk_event_callback_control, wsk/ns-wsk-_wsk_client_datagram_dispatch,
 *  wsk/nc-wsk-pfn_wsk_receive_from_event, wsk/nc-wsk-pfn_wsk_control_client,
 *  fwpsk/nf-fwpsk-fwpsredirecthandlecreate0, fwpsk/nf-fwpsk-fwpsredirecthandledestroy0,
 *  fwpsk/nf-fwpsk-fwpsqueryconnectionredirectstate0, fwpsk/nf-fwpsk-fwpsacquireclassifyhandle0,
 *  fwpsk/nf-fwpsk-fwpsreleaseclassifyhandle0, fwpsk/nf-fwpsk-fwpsacquirewritablelayerdatapointer0,
 *  fwpsk/nf-fwpsk-fwpsapplymodifiedlayerdata0, fwpsk/nf-fwpsk-fwpspendclassify0,
 *  fwpsk/nf-fwpsk-fwpscompleteclassify0,
 *  fwpsk/nf-fwpsk-fwpsqueryconnectionsioformatredirectrecords0;
 *  ws2def.h's SOCKADDR and WSACMSGHDR (win32/api/ws2def/ns-ws2def-sockaddr,
 *  ns-ws2def-wsacmsghdr); mstcpip.h's SIO_*_WFP_CONNECTION_REDIRECT_* codes.
 */
#ifndef WSKTRACE_DDK_H
#define WSKTRACE_DDK_H

#ifdef WSKTRACE_HAVE_WDK
#include <wsk.h>
#ifdef WSKTRACE_FWPS
#include <fwpsk.h>
#endif
typedef SOCKADDR_STORAGE WSKTRACE_SOCKADDR_STORAGE;
#else

#if !defined(_WS2DEF_) && !defined(WSKTRACE_WINE_HEADERS)
/* MinGW's DDK: no winsock types in kernel mode. Keep Wine's wsk.h from
 * pulling in the user-mode winsock2.h and give it the types it uses. */
#define _WS2DEF_
#define _WINSOCK2API_
#define _MSWSOCK_
typedef USHORT ADDRESS_FAMILY;
typedef struct sockaddr {
	ADDRESS_FAMILY sa_family;
	CHAR sa_data[14];
} SOCKADDR, *PSOCKADDR;
typedef struct _WSACMSGHDR {
	SIZE_T cmsg_len;
	INT cmsg_level;
	INT cmsg_type;
} WSACMSGHDR, CMSGHDR, *PCMSGHDR;
typedef struct addrinfoexW ADDRINFOEXW, *PADDRINFOEXW;
typedef struct _SECURITY_DESCRIPTOR SECURITY_DESCRIPTOR;
#define WSKTRACE_MINGW_DDK 1
#endif

#ifdef WSKTRACE_WINE_HEADERS
#include "ddk/wsk.h"
#else
#include <wsk.h>
#endif

/* ExAllocatePool2 (Windows 10 2004+): neither MinGW nor Wine declares it. */
#ifndef POOL_FLAG_NON_PAGED
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
#endif

/* WSK pieces Wine's wsk.h (8.0) does not have. */
#ifndef SO_WSK_EVENT_CALLBACK
#define WSK_SO_BASE 0x4000
#define SO_WSK_SECURITY (WSK_SO_BASE + 1)
#define SO_WSK_EVENT_CALLBACK (WSK_SO_BASE + 2)
#define WSK_EVENT_SEND_BACKLOG 0x00000010
#define WSK_EVENT_RECEIVE 0x00000040
#define WSK_EVENT_DISCONNECT 0x00000080
#define WSK_EVENT_RECEIVE_FROM 0x00000100
#define WSK_EVENT_ACCEPT 0x00000200
#define WSK_EVENT_DISABLE 0x80000000
#define WSK_FLAG_AT_DISPATCH_LEVEL 0x00000008
typedef struct _WSK_EVENT_CALLBACK_CONTROL {
	const GUID *NpiId;
	ULONG EventMask;
} WSK_EVENT_CALLBACK_CONTROL, *PWSK_EVENT_CALLBACK_CONTROL;
typedef NTSTATUS(NTAPI *PFN_WSK_RECEIVE_FROM_EVENT)(PVOID SocketContext, ULONG Flags,
						  PWSK_DATAGRAM_INDICATION DataIndication);
typedef struct _WSK_CLIENT_DATAGRAM_DISPATCH {
	PFN_WSK_RECEIVE_FROM_EVENT WskReceiveFromEvent;
} WSK_CLIENT_DATAGRAM_DISPATCH, *PWSK_CLIENT_DATAGRAM_DISPATCH;
#endif

#ifndef PASSIVE_LEVEL
#define PASSIVE_LEVEL 0
#endif
#ifndef DISPATCH_LEVEL
#define DISPATCH_LEVEL 2
#endif

#ifndef SOL_SOCKET
#define SOL_SOCKET 0xffff
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 23
#endif
#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#endif

#ifndef SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS 0x980000DC
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT 0x980000DD
#define SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS 0x980000DE
#endif

/* The FWPS calls a callout driver makes around a redirect (fwpsk.h); only
 * the parts the recorder touches. FWPS_CONNECTION_REDIRECT_STATE is an enum. */
#ifndef WSKTRACE_HAVE_FWPSK
typedef enum FWPS_CONNECTION_REDIRECT_STATE_ {
	FWPS_CONNECTION_NOT_REDIRECTED = 0,
	FWPS_CONNECTION_REDIRECTED_BY_SELF = 1,
	FWPS_CONNECTION_REDIRECTED_BY_OTHER = 2,
	FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF = 3,
	FWPS_CONNECTION_REDIRECT_STATE_MAX
} FWPS_CONNECTION_REDIRECT_STATE;
typedef struct FWPS_CLASSIFY_OUT0_ {
	UINT32 actionType;
	UINT64 outContext;
	UINT64 filterId;
	UINT32 rights;
	UINT32 flags;
	UINT32 reserved;
} FWPS_CLASSIFY_OUT0;
/* FWPS_CONNECT_REQUEST0 (fwpsk/ns-fwpsk-fwps_connect_request0, the Windows 8
 * layout with the local-redirect fields) and FWPS_BIND_REQUEST0
 * (fwpsk/ns-fwpsk-fwps_bind_request0): the writable layer data at
 * ALE_CONNECT_REDIRECT and ALE_BIND_REDIRECT. */
typedef struct _WSKTRACE_SOCKADDR_STORAGE {
	USHORT ss_family;
	CHAR ss_pad[126];
} WSKTRACE_SOCKADDR_STORAGE;
typedef struct FWPS_CONNECT_REQUEST0_ {
	WSKTRACE_SOCKADDR_STORAGE localAddressAndPort;
	WSKTRACE_SOCKADDR_STORAGE remoteAddressAndPort;
	UINT64 portReservationToken;
	ULONG localRedirectTargetPID; /* DWORD */
	struct FWPS_CONNECT_REQUEST0_ *previousVersion;
	UINT64 modifierFilterId;
	struct FWPS_CONNECT_REQUEST0_ *next;
	void *localRedirectHandle;
	void *localRedirectContext;
	SIZE_T localRedirectContextSize;
} FWPS_CONNECT_REQUEST0;
typedef struct FWPS_BIND_REQUEST0_ {
	WSKTRACE_SOCKADDR_STORAGE localAddressAndPort;
	UINT64 portReservationToken;
	struct FWPS_BIND_REQUEST0_ *previousVersion;
	UINT64 modifierFilterId;
	struct FWPS_BIND_REQUEST0_ *next;
} FWPS_BIND_REQUEST0;
NTSTATUS NTAPI FwpsRedirectHandleCreate0(const GUID *providerGuid, UINT32 flags, HANDLE *redirectHandle);
void NTAPI FwpsRedirectHandleDestroy0(HANDLE redirectHandle);
FWPS_CONNECTION_REDIRECT_STATE NTAPI FwpsQueryConnectionRedirectState0(HANDLE redirectRecords,
								      HANDLE redirectHandle,
								      void **redirectContext);
NTSTATUS NTAPI FwpsAcquireClassifyHandle0(void *classifyContext, UINT32 flags, UINT64 *classifyHandle);
void NTAPI FwpsReleaseClassifyHandle0(UINT64 classifyHandle);
NTSTATUS NTAPI FwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
						      PVOID *writableLayerData, FWPS_CLASSIFY_OUT0 *classifyOut);
void NTAPI FwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags);
NTSTATUS NTAPI FwpsPendClassify0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
				  FWPS_CLASSIFY_OUT0 *classifyOut);
void NTAPI FwpsCompleteClassify0(UINT64 classifyHandle, UINT32 flags, const FWPS_CLASSIFY_OUT0 *classifyOut);
NTSTATUS NTAPI FwpsQueryConnectionSioFormatRedirectRecords0(HANDLE redirectRecords, PVOID outputBuffer,
							     SIZE_T outputBufferLength, SIZE_T *bytesTransferred);
#endif

#endif /* WSKTRACE_HAVE_WDK */
#endif
