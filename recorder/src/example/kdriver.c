/*
 * kdriver.c - a small WSK kernel driver built with the recorder, as
 * docs/recording.md describes: the lines marked "wsktrace" are all the
 * recorder asks of a driver. It listens on 127.0.0.1:47211, connects a
 * second socket to itself, accepts that connection, closes all three
 * sockets, and writes the trace to C:\wsktrace.jsonl.
 *
 * recorder_test.go loads it under Wine, whose netio.sys is a WSK provider
 * over host sockets (completions arrive on Wine's worker threads), and
 * replays the trace.
 */
#include <ntddk.h>
#define WSKTRACE_RECORD          /* wsktrace */
#include "../wsktrace_rec.h"     /* wsktrace (in place of <wsk.h>) */

#define PORT 47211

static WSK_REGISTRATION reg;
static const WSK_CLIENT_DISPATCH client_dispatch = {0x0100, 0, NULL};

static NTSTATUS NTAPI on_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx)
{
	(void)dev;
	(void)irp;
	KeSetEvent((PKEVENT)ctx, IO_NO_INCREMENT, FALSE);
	return STATUS_MORE_PROCESSING_REQUIRED;
}

/* prep readies a driver-allocated IRP for the next WSK call. */
static void prep(PIRP irp, KEVENT *ev)
{
	KeClearEvent(ev);
	IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
	IoSetCompletionRoutine(irp, on_done, ev, TRUE, TRUE, TRUE);
}

/* wait waits for the completion of a call that returned st. */
static NTSTATUS wait(PIRP irp, KEVENT *ev, NTSTATUS st)
{
	if (st == STATUS_PENDING) {
		KeWaitForSingleObject(ev, Executive, KernelMode, FALSE, NULL);
		st = irp->IoStatus.Status;
	}
	return st;
}

static void sockaddr_in(SOCKADDR *sa, ULONG ip, USHORT port)
{
	unsigned char *b = (unsigned char *)sa;
	RtlZeroMemory(sa, sizeof *sa);
	b[0] = AF_INET;
	b[2] = (unsigned char)(port >> 8);
	b[3] = (unsigned char)port;
	b[4] = (unsigned char)(ip >> 24);
	b[5] = (unsigned char)(ip >> 16);
	b[6] = (unsigned char)(ip >> 8);
	b[7] = (unsigned char)ip;
}

static PWSK_SOCKET new_socket(const WSK_PROVIDER_NPI *prov, PIRP irp, KEVENT *ev, ULONG flags)
{
	NTSTATUS st;
	prep(irp, ev);
	st = wait(irp, ev, prov->Dispatch->WskSocket(prov->Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, flags, NULL, NULL,
						     NULL, NULL, NULL, irp));
	return NT_SUCCESS(st) ? (PWSK_SOCKET)irp->IoStatus.Information : NULL;
}

static void close_socket(PWSK_SOCKET s, PIRP irp, KEVENT *ev)
{
	if (!s)
		return;
	prep(irp, ev);
	wait(irp, ev, ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskCloseSocket(s, irp));
}

static void run(const WSK_PROVIDER_NPI *prov)
{
	KEVENT ea, eb;
	PIRP ia = IoAllocateIrp(1, FALSE), ib = IoAllocateIrp(1, FALSE);
	PWSK_SOCKET ls = NULL, cs = NULL, as = NULL;
	SOCKADDR addr, la, ra;
	NTSTATUS acc;

	KeInitializeEvent(&ea, NotificationEvent, FALSE);
	KeInitializeEvent(&eb, NotificationEvent, FALSE);
	if (!ia || !ib)
		goto out;
	ls = new_socket(prov, ia, &ea, WSK_FLAG_LISTEN_SOCKET);
	cs = new_socket(prov, ib, &eb, WSK_FLAG_CONNECTION_SOCKET);
	if (!ls || !cs)
		goto out;
	sockaddr_in(&addr, 0x7f000001, PORT);
	prep(ia, &ea);
	if (!NT_SUCCESS(wait(ia, &ea, ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskBind(ls, &addr, 0, ia))))
		goto out;
	/* The accept is left pending while the other socket connects. */
	prep(ia, &ea);
	acc = ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskAccept(ls, 0, NULL, NULL, &la, &ra, ia);
	sockaddr_in(&addr, 0, 0);
	prep(ib, &eb);
	wait(ib, &eb, ((const WSK_PROVIDER_CONNECTION_DISPATCH *)cs->Dispatch)->WskBind(cs, &addr, 0, ib));
	sockaddr_in(&addr, 0x7f000001, PORT);
	prep(ib, &eb);
	wait(ib, &eb, ((const WSK_PROVIDER_CONNECTION_DISPATCH *)cs->Dispatch)->WskConnect(cs, &addr, 0, ib));
	if (NT_SUCCESS(wait(ia, &ea, acc)))
		as = (PWSK_SOCKET)ia->IoStatus.Information;
out:
	close_socket(as, ia, &ea);
	close_socket(cs, ib, &eb);
	close_socket(ls, ia, &ea);
	if (ia)
		IoFreeIrp(ia);
	if (ib)
		IoFreeIrp(ib);
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
	NTSTATUS st;

	(void)path;
	drv->DriverUnload = unload;
	st = WsktraceStart("kdriver: listen, connect to itself, accept, close", L"\\??\\C:\\wsktrace.jsonl", NULL, 1 << 20,
			   1024); /* wsktrace */
	if (!NT_SUCCESS(st))
		return st;
	st = WskRegister(&npi, &reg);
	if (!NT_SUCCESS(st))
		return st;
	if (NT_SUCCESS(WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &prov))) {
		run(&prov);
		WskReleaseProviderNPI(&reg);
	}
	WskDeregister(&reg);
	WsktraceFlush();
	return STATUS_SUCCESS;
}
