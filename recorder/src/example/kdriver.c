/*
 * kdriver.c - a minimal WSK kernel driver built with the recorder, as
 * docs/recording.md describes: the three lines marked "wsktrace" are all
 * the recorder asks of a driver. It opens a listening socket, binds it to
 * 127.0.0.1 (any port), closes it, and writes the trace to C:\wsktrace.jsonl.
 * recorder_test.go loads it under Wine, whose netio.sys is a real WSK
 * provider over host sockets, and replays the trace.
 */
#include <ntddk.h>
#define WSKTRACE_RECORD          /* wsktrace */
#include "../wsktrace_rec.h"     /* wsktrace (in place of <wsk.h>) */

static WSK_REGISTRATION reg;
static const WSK_CLIENT_DISPATCH client_dispatch = {0x0100, 0, NULL};

static NTSTATUS NTAPI on_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx)
{
	(void)dev;
	(void)irp;
	KeSetEvent((PKEVENT)ctx, IO_NO_INCREMENT, FALSE);
	return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS call_wait(PIRP irp, KEVENT *ev, NTSTATUS st)
{
	if (st == STATUS_PENDING) {
		KeWaitForSingleObject(ev, Executive, KernelMode, FALSE, NULL);
		st = irp->IoStatus.Status;
	}
	return st;
}

static void NTAPI unload(PDRIVER_OBJECT drv)
{
	(void)drv;
	WsktraceStop(); /* wsktrace: flush and close the trace */
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING path)
{
	WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
	WSK_PROVIDER_NPI prov;
	SOCKADDR local;
	unsigned char *b = (unsigned char *)&local;
	KEVENT ev;
	PIRP irp;
	PWSK_SOCKET s = NULL;
	NTSTATUS st;

	(void)path;
	drv->DriverUnload = unload;
	st = WsktraceStart("kdriver", L"\\??\\C:\\wsktrace.jsonl", NULL, 1 << 20, 1024); /* wsktrace */
	if (!NT_SUCCESS(st))
		return st;
	st = WskRegister(&npi, &reg);
	if (!NT_SUCCESS(st))
		return st;
	st = WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &prov);
	if (NT_SUCCESS(st)) {
		irp = IoAllocateIrp(1, FALSE);
		if (irp) {
			KeInitializeEvent(&ev, SynchronizationEvent, FALSE);
			IoSetCompletionRoutine(irp, on_done, &ev, TRUE, TRUE, TRUE);
			st = call_wait(irp, &ev,
				       prov.Dispatch->WskSocket(prov.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
								WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL, irp));
			if (NT_SUCCESS(st)) {
				s = (PWSK_SOCKET)irp->IoStatus.Information;
				RtlZeroMemory(&local, sizeof local);
				b[0] = AF_INET;
				b[4] = 127;
				b[7] = 1;
				IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
				IoSetCompletionRoutine(irp, on_done, &ev, TRUE, TRUE, TRUE);
				call_wait(irp, &ev, ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)->WskBind(s, &local, 0, irp));
				IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
				IoSetCompletionRoutine(irp, on_done, &ev, TRUE, TRUE, TRUE);
				call_wait(irp, &ev, ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskCloseSocket(s, irp));
			}
			IoFreeIrp(irp);
		}
		WskReleaseProviderNPI(&reg);
	}
	WskDeregister(&reg);
	WsktraceFlush();
	return STATUS_SUCCESS;
}
