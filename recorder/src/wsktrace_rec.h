/*
 * wsktrace_rec.h - record a WSK driver's calls as a wsktrace v1 trace.
 *
 * In the driver's test build (docs/recording.md):
 *
 *     #include <ntddk.h>
 *     #define WSKTRACE_RECORD       // turn the call redirections on
 *     #include "wsktrace_rec.h"    // in place of <wsk.h>
 *
 * and compile recorder/wsktrace_rec.c and recorder/wsktrace_core.c with it.
 * Call WsktraceStart in DriverEntry before WskRegister, WsktraceStop in
 * DriverUnload after WskDeregister. Nothing else in the driver changes: the
 * macros below send WskRegister, WskCaptureProviderNPI, the IRP, pool, MDL
 * and FWPS calls through recording wrappers, and those wrap the provider's
 * dispatch tables, the driver's completion routines and its client dispatch
 * tables.
 */
#ifndef WSKTRACE_REC_H
#define WSKTRACE_REC_H

#include "wsktrace_ddk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* WsktraceStart begins a trace (PASSIVE_LEVEL). Source is the header's
 * "source" text. FilePath (e.g. L"\\??\\C:\\wsktrace.jsonl"), when not NULL,
 * is where WsktraceFlush writes; FlushDevice, when not NULL, lets the
 * recorder queue that flush as a work item whenever the buffer is half full.
 * BufferBytes is the trace buffer and ObjectSlots the name table, both
 * allocated here from nonpaged pool: the only allocations the recorder makes,
 * and a failure is returned, never hidden. */
NTSTATUS WsktraceStart(const char *Source, PCWSTR FilePath, PDEVICE_OBJECT FlushDevice,
		       SIZE_T BufferBytes, ULONG ObjectSlots);

/* WsktraceFlush writes the buffered lines to the file (PASSIVE_LEVEL only;
 * above it does nothing and returns STATUS_PENDING). */
NTSTATUS WsktraceFlush(void);

/* WsktraceDrain copies whole lines out for a user-mode tool (any IRQL up to
 * DISPATCH_LEVEL; the driver's IOCTL handler calls it). Returns bytes copied. */
SIZE_T WsktraceDrain(PVOID Out, SIZE_T OutBytes);

/* WsktraceStop flushes and frees (PASSIVE_LEVEL). */
void WsktraceStop(void);

/* What the world outside the driver did, for a harness that knows it: the
 * fields of an "env" event after "what" (JSON text), e.g.
 * WsktraceEnv("peer_connect", "\"to\":\"127.0.0.1:7001\",\"name\":\"p1\""). */
void WsktraceEnv(const char *What, const char *FieldsJson);
void WsktraceNote(const char *Text);

/* The recording wrappers. */
NTSTATUS NTAPI WsktraceWskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration);
NTSTATUS NTAPI WsktraceWskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout,
					      PWSK_PROVIDER_NPI WskProviderNpi);
void NTAPI WsktraceWskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration);
void NTAPI WsktraceWskDeregister(PWSK_REGISTRATION WskRegistration);

PIRP WsktraceIoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota);
void WsktraceIoReuseIrp(PIRP Irp, NTSTATUS Iostatus);
void WsktraceIoFreeIrp(PIRP Irp);
void WsktraceIoSetCompletionRoutine(PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine, PVOID Context,
				    BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel);
BOOLEAN WsktraceIoCancelIrp(PIRP Irp);

PVOID WsktraceExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
PVOID WsktraceExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
void WsktraceExFreePoolWithTag(PVOID P, ULONG Tag);
void WsktraceExFreePool(PVOID P);

PMDL WsktraceIoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota,
			   PIRP Irp);
void WsktraceMmBuildMdlForNonPagedPool(PMDL Mdl);
void WsktraceIoFreeMdl(PMDL Mdl);

#ifdef WSKTRACE_FWPS
NTSTATUS WsktraceFwpsRedirectHandleCreate0(const GUID *providerGuid, UINT32 flags, HANDLE *redirectHandle);
void WsktraceFwpsRedirectHandleDestroy0(HANDLE redirectHandle);
FWPS_CONNECTION_REDIRECT_STATE WsktraceFwpsQueryConnectionRedirectState0(HANDLE redirectRecords,
									 HANDLE redirectHandle,
									 void **redirectContext);
NTSTATUS WsktraceFwpsAcquireClassifyHandle0(void *classifyContext, UINT32 flags, UINT64 *classifyHandle);
void WsktraceFwpsReleaseClassifyHandle0(UINT64 classifyHandle);
NTSTATUS WsktraceFwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
						       PVOID *writableLayerData, FWPS_CLASSIFY_OUT0 *classifyOut);
void WsktraceFwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags);
NTSTATUS WsktraceFwpsPendClassify0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
				   FWPS_CLASSIFY_OUT0 *classifyOut);
void WsktraceFwpsCompleteClassify0(UINT64 classifyHandle, UINT32 flags, const FWPS_CLASSIFY_OUT0 *classifyOut);
NTSTATUS WsktraceFwpsQueryConnectionSioFormatRedirectRecords0(HANDLE redirectRecords, PVOID outputBuffer,
							       SIZE_T outputBufferLength, SIZE_T *bytesTransferred);
#endif

#ifdef WSKTRACE_RECORD
#define WskRegister(n, r) WsktraceWskRegister((n), (r))
#define WskCaptureProviderNPI(r, t, n) WsktraceWskCaptureProviderNPI((r), (t), (n))
#define WskReleaseProviderNPI(r) WsktraceWskReleaseProviderNPI(r)
#define WskDeregister(r) WsktraceWskDeregister(r)
#undef IoAllocateIrp
#define IoAllocateIrp(s, q) WsktraceIoAllocateIrp((s), (q))
#define IoReuseIrp(i, s) WsktraceIoReuseIrp((i), (s))
#define IoFreeIrp(i) WsktraceIoFreeIrp(i)
#define IoSetCompletionRoutine(i, r, c, s, e, x) WsktraceIoSetCompletionRoutine((i), (r), (c), (s), (e), (x))
#define IoCancelIrp(i) WsktraceIoCancelIrp(i)
#ifndef WSKTRACE_NO_EXALLOCATEPOOL2
#define ExAllocatePool2(f, n, t) WsktraceExAllocatePool2((f), (n), (t))
#endif
#undef ExAllocatePoolWithTag
#define ExAllocatePoolWithTag(p, n, t) WsktraceExAllocatePoolWithTag((p), (n), (t))
#define ExFreePoolWithTag(p, t) WsktraceExFreePoolWithTag((p), (t))
#undef ExFreePool
#define ExFreePool(p) WsktraceExFreePool(p)
#define IoAllocateMdl(v, l, s, q, i) WsktraceIoAllocateMdl((v), (l), (s), (q), (i))
#define MmBuildMdlForNonPagedPool(m) WsktraceMmBuildMdlForNonPagedPool(m)
#define IoFreeMdl(m) WsktraceIoFreeMdl(m)
#ifdef WSKTRACE_FWPS
#define FwpsRedirectHandleCreate0 WsktraceFwpsRedirectHandleCreate0
#define FwpsRedirectHandleDestroy0 WsktraceFwpsRedirectHandleDestroy0
#define FwpsQueryConnectionRedirectState0 WsktraceFwpsQueryConnectionRedirectState0
#define FwpsAcquireClassifyHandle0 WsktraceFwpsAcquireClassifyHandle0
#define FwpsReleaseClassifyHandle0 WsktraceFwpsReleaseClassifyHandle0
#define FwpsAcquireWritableLayerDataPointer0 WsktraceFwpsAcquireWritableLayerDataPointer0
#define FwpsApplyModifiedLayerData0 WsktraceFwpsApplyModifiedLayerData0
#define FwpsPendClassify0 WsktraceFwpsPendClassify0
#define FwpsCompleteClassify0 WsktraceFwpsCompleteClassify0
#define FwpsQueryConnectionSioFormatRedirectRecords0 WsktraceFwpsQueryConnectionSioFormatRedirectRecords0
#endif
#endif /* WSKTRACE_RECORD */

#ifdef __cplusplus
}
#endif
#endif
