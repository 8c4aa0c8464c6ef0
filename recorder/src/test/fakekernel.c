/*
 * fakekernel.c - a small user-mode stand-in for the I/O manager, the pool,
 * MDLs and a WSK provider, so the recorder's kernel layer (wsktrace_rec.c,
 * built with WSKTRACE_USERMODE) runs unchanged in a test program. It does
 * what the documented contract says a provider does for the calls the test
 * drivers make; it is not a model (the model is wsksim itself, which replays
 * what the recorder wrote).
 */
#include "fake.h"
#include "../wsktrace_ddk.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static KIRQL irql;
KIRQL WsktraceFakeIrql(void) { return irql; }

/* ---- I/O manager ---- */

static int live_irps;
int fake_live_irps(void) { return live_irps; }

PIRP WINAPI IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
	IRP *irp;
	(void)ChargeQuota;
	if (StackSize < 1)
		return NULL;
	irp = calloc(1, sizeof(IRP) + StackSize * sizeof(IO_STACK_LOCATION));
	if (!irp)
		return NULL;
	irp->Size = (USHORT)(sizeof(IRP) + StackSize * sizeof(IO_STACK_LOCATION));
	irp->StackCount = StackSize;
	irp->CurrentLocation = StackSize + 1;
	irp->Tail.Overlay.CurrentStackLocation = (IO_STACK_LOCATION *)(irp + 1) + StackSize;
	live_irps++;
	return irp;
}

void WINAPI IoFreeIrp(IRP *irp)
{
	/* A second free is the driver's bug; the fake only counts the first. */
	if (irp->Type == 0x7f)
		return;
	irp->Type = 0x7f;
	live_irps--;
	/* Not freed: the misuse test frees twice, and the memory must stay valid. */
}

void WINAPI IoReuseIrp(IRP *irp, NTSTATUS status)
{
	CCHAR n = irp->StackCount;
	memset(irp, 0, sizeof(IRP) + n * sizeof(IO_STACK_LOCATION));
	irp->Size = (USHORT)(sizeof(IRP) + n * sizeof(IO_STACK_LOCATION));
	irp->StackCount = n;
	irp->CurrentLocation = n + 1;
	irp->Tail.Overlay.CurrentStackLocation = (IO_STACK_LOCATION *)(irp + 1) + n;
	irp->IoStatus.Status = status;
}

static void complete(IRP *irp, NTSTATUS st, ULONG_PTR info, BOOLEAN pending)
{
	IO_STACK_LOCATION *sp = IoGetNextIrpStackLocation(irp);
	UCHAR want = st == STATUS_CANCELLED ? SL_INVOKE_ON_CANCEL : NT_SUCCESS(st) ? SL_INVOKE_ON_SUCCESS : SL_INVOKE_ON_ERROR;
	irp->IoStatus.Status = st;
	irp->IoStatus.Information = info;
	irp->PendingReturned = pending;
	if (sp->CompletionRoutine && (sp->Control & want))
		sp->CompletionRoutine(NULL, irp, sp->Context);
}

/* Pended IRPs wait here until fake_wait. */
static struct pend {
	IRP *irp;
	NTSTATUS st;
	ULONG_PTR info;
} pends[64];
static int npend, pend_mode;
void fake_set_pending(int p) { pend_mode = p; }

static NTSTATUS finish(IRP *irp, NTSTATUS st, ULONG_PTR info)
{
	if (pend_mode && npend < 64) {
		pends[npend].irp = irp;
		pends[npend].st = st;
		pends[npend].info = info;
		npend++;
		return STATUS_PENDING;
	}
	complete(irp, st, info, FALSE);
	return st;
}

void fake_wait(int dispatch)
{
	int i, n = npend;
	npend = 0;
	irql = dispatch ? DISPATCH_LEVEL : PASSIVE_LEVEL;
	for (i = 0; i < n; i++)
		complete(pends[i].irp, pends[i].st, pends[i].info, TRUE);
	irql = PASSIVE_LEVEL;
}

BOOLEAN WINAPI IoCancelIrp(IRP *irp)
{
	int i;
	for (i = 0; i < npend; i++) {
		if (pends[i].irp == irp) {
			pends[i] = pends[--npend];
			complete(irp, STATUS_CANCELLED, 0, TRUE);
			return TRUE;
		}
	}
	return FALSE;
}

/* ---- pool and MDLs ---- */

PVOID NTAPI ExAllocatePool2(POOL_FLAGS flags, SIZE_T n, ULONG tag)
{
	(void)flags;
	(void)tag;
	return calloc(1, n ? n : 1);
}
PVOID WINAPI ExAllocatePoolWithTag(POOL_TYPE t, SIZE_T n, ULONG tag)
{
	(void)t;
	(void)tag;
	return calloc(1, n ? n : 1);
}
void WINAPI ExFreePoolWithTag(PVOID p, ULONG tag)
{
	(void)tag;
	free(p);
}
void WINAPI ExFreePool(PVOID p) { free(p); }

PMDL WINAPI IoAllocateMdl(PVOID va, ULONG len, BOOLEAN secondary, BOOLEAN charge, IRP *irp)
{
	MDL *m = calloc(1, sizeof(MDL));
	(void)secondary;
	(void)charge;
	(void)irp;
	if (!m)
		return NULL;
	m->StartVa = va;
	m->ByteCount = len;
	return m;
}
void WINAPI MmBuildMdlForNonPagedPool(MDL *m)
{
	m->MappedSystemVa = m->StartVa;
	m->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}
void WINAPI IoFreeMdl(MDL *m) { free(m); }

/* ---- the WSK provider ---- */

typedef struct fsock {
	WSK_SOCKET s;
	ULONG flags;
	USHORT port;
	PVOID ctx;
	const void *disp;
	ULONG events;
	unsigned char rec[128], cx[64];
	size_t nrec, ncx;
	ULONG peer_ip;
	USHORT peer_port;
	struct fsock *queued; /* listen: the connection waiting for WskAccept */
} fsock;

static const WSK_PROVIDER_LISTEN_DISPATCH p_listen;
static const WSK_PROVIDER_CONNECTION_DISPATCH p_conn;
static const WSK_PROVIDER_BASIC_DISPATCH p_basic;
static fsock *listeners[8];
static fsock *last_conn;
static long the_client_storage[4]; /* WSK_CLIENT is opaque */

static fsock *new_sock(ULONG flags)
{
	fsock *f = calloc(1, sizeof *f);
	f->flags = flags;
	f->s.Dispatch = flags & WSK_FLAG_LISTEN_SOCKET ? (const void *)&p_listen
			: flags & WSK_FLAG_CONNECTION_SOCKET ? (const void *)&p_conn
							     : (const void *)&p_basic;
	return f;
}

static void put_addr(SOCKADDR *sa, ULONG ip, USHORT port)
{
	unsigned char *b = (unsigned char *)sa;
	memset(b, 0, 16);
	b[0] = AF_INET;
	b[2] = (unsigned char)(port >> 8);
	b[3] = (unsigned char)port;
	b[4] = (unsigned char)(ip >> 24);
	b[5] = (unsigned char)(ip >> 16);
	b[6] = (unsigned char)(ip >> 8);
	b[7] = (unsigned char)ip;
}

static USHORT port_of(const SOCKADDR *sa) { return (USHORT)(((const unsigned char *)sa)[2] << 8 | ((const unsigned char *)sa)[3]); }

static NTSTATUS WINAPI p_WskSocket(WSK_CLIENT *c, ADDRESS_FAMILY af, USHORT type, ULONG proto, ULONG flags, void *ctx,
				   const void *disp, PEPROCESS proc, PETHREAD thr, SECURITY_DESCRIPTOR *sd, IRP *irp)
{
	fsock *f = new_sock(flags);
	(void)c, (void)af, (void)type, (void)proto, (void)proc, (void)thr, (void)sd;
	f->ctx = ctx;
	f->disp = disp;
	return finish(irp, STATUS_SUCCESS, (ULONG_PTR)f);
}

static NTSTATUS WINAPI p_Control(WSK_SOCKET *s, WSK_CONTROL_SOCKET_TYPE t, ULONG code, ULONG level, SIZE_T insz, void *in,
				 SIZE_T outsz, void *out, SIZE_T *ret, IRP *irp)
{
	fsock *f = (fsock *)s;
	(void)level;
	if (t == WskSetOption && code == SO_WSK_EVENT_CALLBACK) {
		f->events = ((const WSK_EVENT_CALLBACK_CONTROL *)in)->EventMask;
		return irp ? finish(irp, STATUS_SUCCESS, 0) : STATUS_SUCCESS;
	}
	if (t == WskIoctl && (code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS || code == SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)) {
		const unsigned char *b = code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS ? f->rec : f->cx;
		size_t n = code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS ? f->nrec : f->ncx;
		if (ret)
			*ret = n;
		if (outsz < n)
			return finish(irp, STATUS_BUFFER_TOO_SMALL, 0);
		memcpy(out, b, n);
		return finish(irp, STATUS_SUCCESS, n);
	}
	if (t == WskIoctl && code == SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) {
		if (insz > sizeof f->rec)
			return finish(irp, STATUS_INVALID_PARAMETER, 0);
		memcpy(f->rec, in, insz);
		f->nrec = insz;
		return finish(irp, STATUS_SUCCESS, 0);
	}
	return finish(irp, STATUS_NOT_SUPPORTED, 0);
}

static NTSTATUS WINAPI p_Close(WSK_SOCKET *s, IRP *irp)
{
	int i;
	for (i = 0; i < 8; i++)
		if (listeners[i] == (fsock *)s)
			listeners[i] = NULL;
	if (last_conn == (fsock *)s)
		last_conn = NULL;
	free(s);
	return finish(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS WINAPI p_Bind(WSK_SOCKET *s, SOCKADDR *a, ULONG flags, IRP *irp)
{
	fsock *f = (fsock *)s;
	int i;
	(void)flags;
	f->port = port_of(a);
	if (f->flags & WSK_FLAG_LISTEN_SOCKET)
		for (i = 0; i < 8; i++)
			if (!listeners[i]) {
				listeners[i] = f;
				break;
			}
	return finish(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS WINAPI p_Accept(WSK_SOCKET *s, ULONG flags, void *ctx, const WSK_CLIENT_CONNECTION_DISPATCH *disp,
				SOCKADDR *local, SOCKADDR *remote, IRP *irp)
{
	fsock *l = (fsock *)s, *c = l->queued;
	(void)flags;
	if (!c)
		return finish(irp, STATUS_INVALID_DEVICE_STATE, 0);
	l->queued = NULL;
	c->ctx = ctx;
	c->disp = disp;
	if (local)
		put_addr(local, 0x7f000001, l->port);
	if (remote)
		put_addr(remote, c->peer_ip, c->peer_port);
	last_conn = c;
	return finish(irp, STATUS_SUCCESS, (ULONG_PTR)c);
}

static void (*connect_classify)(HANDLE records);
void fake_set_connect_classify(void (*fn)(HANDLE records)) { connect_classify = fn; }

static NTSTATUS WINAPI p_Connect(WSK_SOCKET *s, SOCKADDR *a, ULONG flags, IRP *irp)
{
	fsock *f = (fsock *)s;
	(void)a, (void)flags;
	/* The connect passes ALE_CONNECT_REDIRECT: the callout's classifyFn runs,
	 * with the records the socket carries. */
	if (connect_classify)
		connect_classify(f->nrec ? (HANDLE)f->rec : NULL);
	return finish(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS WINAPI p_Send(WSK_SOCKET *s, WSK_BUF *b, ULONG flags, IRP *irp)
{
	(void)s, (void)flags;
	return finish(irp, STATUS_SUCCESS, b->Length);
}

static NTSTATUS WINAPI p_Disconnect(WSK_SOCKET *s, WSK_BUF *b, ULONG flags, IRP *irp)
{
	(void)s, (void)b, (void)flags;
	return finish(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS WINAPI p_Release(WSK_SOCKET *s, WSK_DATA_INDICATION *d)
{
	(void)s, (void)d;
	return STATUS_SUCCESS;
}

static const WSK_PROVIDER_BASIC_DISPATCH p_basic = {p_Control, p_Close};
static const WSK_PROVIDER_LISTEN_DISPATCH p_listen = {{p_Control, p_Close}, p_Bind, p_Accept, NULL, NULL};
static const WSK_PROVIDER_CONNECTION_DISPATCH p_conn = {{p_Control, p_Close}, p_Bind, p_Connect, NULL, NULL, p_Send,
							NULL, p_Disconnect, p_Release, NULL, NULL, NULL};
static const WSK_PROVIDER_DISPATCH p_disp = {0x0100, 0, p_WskSocket, NULL, NULL, NULL, NULL, NULL};

NTSTATUS WINAPI WskRegister(WSK_CLIENT_NPI *npi, WSK_REGISTRATION *reg)
{
	(void)npi;
	memset(reg, 0, sizeof *reg);
	return STATUS_SUCCESS;
}
NTSTATUS WINAPI WskCaptureProviderNPI(WSK_REGISTRATION *reg, ULONG wait, WSK_PROVIDER_NPI *npi)
{
	(void)reg, (void)wait;
	npi->Client = (WSK_CLIENT *)the_client_storage;
	npi->Dispatch = &p_disp;
	return STATUS_SUCCESS;
}
void WINAPI WskReleaseProviderNPI(WSK_REGISTRATION *reg) { (void)reg; }
void WINAPI WskDeregister(WSK_REGISTRATION *reg) { (void)reg; }

void fake_redirected_connection(USHORT lport, const unsigned char *records, size_t nrec, const unsigned char *ctx,
				size_t nctx, ULONG from_ip, USHORT from_port)
{
	int i;
	for (i = 0; i < 8; i++) {
		fsock *l = listeners[i];
		fsock *c;
		if (!l || l->port != lport)
			continue;
		c = new_sock(WSK_FLAG_CONNECTION_SOCKET);
		memcpy(c->rec, records, nrec);
		c->nrec = nrec;
		memcpy(c->cx, ctx, nctx);
		c->ncx = nctx;
		c->peer_ip = from_ip;
		c->peer_port = from_port;
		if ((l->events & WSK_EVENT_ACCEPT) && l->disp) {
			/* The accept event: the client takes the socket or refuses it. */
			SOCKADDR la, ra;
			PVOID actx = NULL;
			const WSK_CLIENT_CONNECTION_DISPATCH *adisp = NULL;
			NTSTATUS st;
			put_addr(&la, 0x7f000001, l->port);
			put_addr(&ra, from_ip, from_port);
			st = ((PFN_WSK_ACCEPT_EVENT)((const WSK_CLIENT_LISTEN_DISPATCH *)l->disp)->WskAcceptEvent)(
				l->ctx, 0, &la, &ra, &c->s, (void *)&actx, &adisp);
			if (st == STATUS_SUCCESS) {
				c->ctx = actx;
				c->disp = adisp;
				c->events = adisp ? WSK_EVENT_RECEIVE : 0;
				last_conn = c;
			} else {
				free(c);
			}
		} else {
			l->queued = c;
		}
		return;
	}
	fprintf(stderr, "fake: no listener on port %u\n", lport);
}

void fake_peer_send(const char *data)
{
	fsock *c = last_conn;
	WSK_DATA_INDICATION di;
	MDL m;
	SIZE_T accepted = 0;
	if (!c || !c->disp || !(c->events & WSK_EVENT_RECEIVE))
		return;
	memset(&di, 0, sizeof di);
	memset(&m, 0, sizeof m);
	m.MappedSystemVa = (PVOID)data;
	m.StartVa = (PVOID)data;
	m.ByteCount = (ULONG)strlen(data);
	m.MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL;
	di.Buffer.Mdl = &m;
	di.Buffer.Length = strlen(data);
	((const WSK_CLIENT_CONNECTION_DISPATCH *)c->disp)->WskReceiveEvent(c->ctx, 0, &di, strlen(data), &accepted);
}

/* ---- the WFP callout API, as much as the callout test driver uses ---- */

static int handles, classify_handles;

NTSTATUS NTAPI FwpsRedirectHandleCreate0(const GUID *providerGuid, UINT32 flags, HANDLE *redirectHandle)
{
	(void)providerGuid, (void)flags;
	*redirectHandle = (HANDLE)(ULONG_PTR)(0x1000 + ++handles);
	return STATUS_SUCCESS;
}
void NTAPI FwpsRedirectHandleDestroy0(HANDLE redirectHandle) { (void)redirectHandle; }
FWPS_CONNECTION_REDIRECT_STATE NTAPI FwpsQueryConnectionRedirectState0(HANDLE redirectRecords, HANDLE redirectHandle,
								      void **redirectContext)
{
	(void)redirectHandle;
	if (redirectContext)
		*redirectContext = NULL;
	/* The fake has one callout: records on a connection are its own. */
	return redirectRecords ? FWPS_CONNECTION_REDIRECTED_BY_SELF : FWPS_CONNECTION_NOT_REDIRECTED;
}
NTSTATUS NTAPI FwpsAcquireClassifyHandle0(void *classifyContext, UINT32 flags, UINT64 *classifyHandle)
{
	(void)classifyContext, (void)flags;
	*classifyHandle = 0x2000 + ++classify_handles;
	return STATUS_SUCCESS;
}
void NTAPI FwpsReleaseClassifyHandle0(UINT64 classifyHandle) { (void)classifyHandle; }
static unsigned char layer_data[512];
NTSTATUS NTAPI FwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
						      PVOID *writableLayerData, FWPS_CLASSIFY_OUT0 *classifyOut)
{
	(void)classifyHandle, (void)filterId, (void)flags, (void)classifyOut;
	/* What the engine would hand a connect-redirect callout: the connection
	 * from 10.0.0.1:49152 to 198.51.100.7:443. */
	memset(layer_data, 0, sizeof layer_data);
	{
		FWPS_CONNECT_REQUEST0 *c = (FWPS_CONNECT_REQUEST0 *)layer_data;
		put_addr((SOCKADDR *)&c->localAddressAndPort, 0x0A000001, 49152);
		put_addr((SOCKADDR *)&c->remoteAddressAndPort, 0xC6336407, 443);
	}
	*writableLayerData = layer_data;
	return STATUS_SUCCESS;
}
void NTAPI FwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags)
{
	(void)classifyHandle, (void)modifiedLayerData, (void)flags;
}
NTSTATUS NTAPI FwpsPendClassify0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags, FWPS_CLASSIFY_OUT0 *classifyOut)
{
	(void)classifyHandle, (void)filterId, (void)flags, (void)classifyOut;
	return STATUS_SUCCESS;
}
void NTAPI FwpsCompleteClassify0(UINT64 classifyHandle, UINT32 flags, const FWPS_CLASSIFY_OUT0 *classifyOut)
{
	(void)classifyHandle, (void)flags, (void)classifyOut;
}
NTSTATUS NTAPI FwpsQueryConnectionSioFormatRedirectRecords0(HANDLE redirectRecords, PVOID outputBuffer,
							     SIZE_T outputBufferLength, SIZE_T *bytesTransferred)
{
	(void)redirectRecords, (void)outputBuffer, (void)outputBufferLength;
	*bytesTransferred = 0;
	return STATUS_NOT_SUPPORTED;
}
