/*
 * wsktrace_rec.c - the recorder's kernel layer: it wraps what a WSK driver
 * receives and calls, and writes each observation through the encoding core
 * (wsktrace_core.c) as wsktrace v1 events (docs/wsktrace.md).
 *
 * Builds against the WDK, MinGW-w64's DDK plus Wine's ddk/wsk.h, or Wine's
 * headers (see wsktrace_ddk.h). With WSKTRACE_USERMODE it builds as ordinary
 * user-mode C for the recorder's own tests: the same code, linked with a fake
 * I/O manager and a fake WSK provider instead of the kernel.
 *
 * How the wrapping works (docs/recording.md):
 *  - WskCaptureProviderNPI hands the driver a copy of the provider dispatch
 *    table whose entries record and forward.
 *  - Every socket the driver gets (WskSocket, WskSocketConnect, WskAccept,
 *    WskAcceptEvent) is a small wrapper WSK_SOCKET whose Dispatch is a
 *    recording table of the socket's kind (basic, listen, connection,
 *    datagram); the wrapper holds the provider's socket.
 *  - When a WSK call takes an IRP, the completion routine the driver put in
 *    the IRP's next stack location is swapped for the recorder's, which
 *    writes the "complete" event and calls the driver's routine with its own
 *    context; the InvokeOn* flags are left as the driver set them.
 *  - A client dispatch table the driver passes (WskSocket's Dispatch,
 *    WskAccept's AcceptSocketDispatch, WskAcceptEvent's out dispatch) is
 *    swapped for a recording one; the socket context the provider sees is
 *    the wrapper, which holds the driver's context.
 */
#ifdef WSKTRACE_USERMODE
#include <stdarg.h>
#include "ntstatus.h"
#define WIN32_NO_STATUS
#include "windef.h"
#include "winbase.h"
#include "winternl.h"
#include "ddk/ntddk.h"
#include "ddk/wdm.h"
#define WSKTRACE_WINE_HEADERS 1
#else
#include <ntddk.h>
#endif

#include "wsktrace_rec.h"
#include "wsktrace_core.h"

/* ---- platform ---- */

#ifdef WSKTRACE_USERMODE
/* The fake kernel of the tests provides these. */
extern KIRQL WsktraceFakeIrql(void);
#define WT_IRQL() WsktraceFakeIrql()
static volatile long wt_spin;
void wt_plat_lock(unsigned long *state)
{
	*state = 0;
	while (__atomic_exchange_n(&wt_spin, 1, __ATOMIC_ACQUIRE))
		;
}
void wt_plat_unlock(unsigned long state)
{
	(void)state;
	__atomic_store_n(&wt_spin, 0, __ATOMIC_RELEASE);
}
static LONG wt_cas(LONG volatile *p, LONG x, LONG cmp) { return __sync_val_compare_and_swap(p, cmp, x); }
#else
#define WT_IRQL() KeGetCurrentIrql()
static KSPIN_LOCK wt_lock;
void wt_plat_lock(unsigned long *state)
{
	KIRQL old;
	KeAcquireSpinLock(&wt_lock, &old);
	*state = old;
}
void wt_plat_unlock(unsigned long state) { KeReleaseSpinLock(&wt_lock, (KIRQL)state); }
static LONG wt_cas(LONG volatile *p, LONG x, LONG cmp) { return InterlockedCompareExchange(p, x, cmp); }
#endif

#define WT_TAG 0x72746b57 /* 'Wktr' in memory order: "Wktr" */
#define STATUS_MPR ((NTSTATUS)0xC0000016L)

/* ---- wrappers' state ---- */

enum wt_op {
	OP_NONE,
	OP_CREATE, /* WskSocket, WskSocketConnect, WskAccept: Information is a new socket */
	OP_CONTROL,
	OP_RECEIVE,
	OP_GETLOCAL,
	OP_GETREMOTE,
	OP_RECVFROM,
	OP_CLOSE,
	OP_OTHER
};

typedef struct wt_sock {
	WSK_SOCKET Pub; /* what the driver holds; Pub.Dispatch is a recording table */
	PWSK_SOCKET Real;
	ULONG Flags;
	PVOID ClientContext;
	const void *ClientDispatch;
	LONG volatile InUse; /* 0 free, 1 in use, 2 closed */
} wt_sock;

typedef struct wt_irp {
	PIRP Irp;
	LONG volatile InUse;
	PIO_COMPLETION_ROUTINE Routine;
	PVOID Context;
	enum wt_op Op;
	wt_sock *Sock;    /* OP_CREATE: the wrapper for the new socket; OP_CLOSE: the socket */
	PSOCKADDR Local, Remote;
	PVOID OutBuf;
	SIZE_T OutSize;
	SIZE_T *OutRet;
	PWSK_BUF Buf;
	PULONG CtlLen, CtlFlags;
	PVOID CtlInfo;
} wt_irp;

static struct {
	wt_sock *socks;
	wt_irp *irps;
	ULONG nsocks, nirps;
	const WSK_PROVIDER_DISPATCH *real;
	WSK_PROVIDER_DISPATCH wrapped;
	char *buf;
	struct wt_obj *objs;
	char *stage;
	SIZE_T bufsize;
#ifndef WSKTRACE_USERMODE
	HANDLE file;
	PIO_WORKITEM work;
	LONG volatile work_queued;
#endif
} W;

static const WSK_PROVIDER_BASIC_DISPATCH wt_basic;
static const WSK_PROVIDER_LISTEN_DISPATCH wt_listen;
static const WSK_PROVIDER_CONNECTION_DISPATCH wt_conn;
static const WSK_PROVIDER_DATAGRAM_DISPATCH wt_dgram;
static const WSK_CLIENT_LISTEN_DISPATCH wt_client_listen;
static const WSK_CLIENT_CONNECTION_DISPATCH wt_client_conn;
static const WSK_CLIENT_DATAGRAM_DISPATCH wt_client_dgram;

static void wt_after_event(void);
static NTSTATUS NTAPI wt_completion(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx);

static wt_sock *sock_alloc(ULONG flags)
{
	ULONG i, pass;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < W.nsocks; i++) {
			/* First a never-used slot, then a closed socket's. */
			if (wt_cas(&W.socks[i].InUse, 1, pass == 0 ? 0 : 2) == (pass == 0 ? 0 : 2)) {
				wt_sock *s = &W.socks[i];
				s->Real = NULL;
				s->Flags = flags;
				s->ClientContext = NULL;
				s->ClientDispatch = NULL;
				switch (flags & (WSK_FLAG_LISTEN_SOCKET | WSK_FLAG_CONNECTION_SOCKET | WSK_FLAG_DATAGRAM_SOCKET)) {
				case WSK_FLAG_LISTEN_SOCKET:
					s->Pub.Dispatch = &wt_listen;
					break;
				case WSK_FLAG_CONNECTION_SOCKET:
					s->Pub.Dispatch = &wt_conn;
					break;
				case WSK_FLAG_DATAGRAM_SOCKET:
					s->Pub.Dispatch = &wt_dgram;
					break;
				default:
					s->Pub.Dispatch = &wt_basic;
				}
				return s;
			}
		}
	}
	wt_note("wsktrace-rec: socket wrapper table full; this socket is not recorded");
	return NULL;
}

static void sock_free(wt_sock *s, LONG to)
{
	if (s)
		s->InUse = to;
}

static int is_wrapped(const void *p)
{
	return W.socks && (const char *)p >= (const char *)W.socks && (const char *)p < (const char *)(W.socks + W.nsocks);
}

static wt_irp *irp_hook(PIRP irp, enum wt_op op)
{
	ULONG i;
	PIO_STACK_LOCATION sp;
	if (!irp)
		return NULL;
	sp = IoGetNextIrpStackLocation(irp);
	/* No routine: nothing to wrap (the replay reports IRP-NO-COMPLETION-ROUTINE). */
	if (!sp->CompletionRoutine)
		return NULL;
	if (sp->CompletionRoutine == wt_completion) {
		/* Hooked before and not completed since: resubmitted; reuse the slot. */
		wt_irp *st = (wt_irp *)sp->Context;
		st->Op = op;
		return st;
	}
	for (i = 0; i < W.nirps; i++) {
		if (wt_cas(&W.irps[i].InUse, 1, 0) == 0) {
			wt_irp *st = &W.irps[i];
			RtlZeroMemory(&st->Routine, sizeof *st - FIELD_OFFSET(wt_irp, Routine));
			st->Irp = irp;
			st->Routine = sp->CompletionRoutine;
			st->Context = sp->Context;
			st->Op = op;
			sp->CompletionRoutine = wt_completion;
			sp->Context = st;
			return st;
		}
	}
	wt_note("wsktrace-rec: IRP table full; this completion is not recorded");
	return NULL;
}

/* ---- small encoders ---- */

static int pool_of(const void *p, SIZE_T n) { return (int)wt_pool_holding(p, n); }

static void k_addr(struct wt_line *l, const char *k, const void *sa)
{
	wt_key(l, k);
	wt_addr(l, sa);
}

static void k_sock(struct wt_line *l, const char *k, PWSK_SOCKET s)
{
	wt_kname(l, k, WT_SOCK, s);
}

static void k_irp(struct wt_line *l, PIRP irp) { wt_kname(l, "Irp", WT_IRP, irp); }

static void k_irql(struct wt_line *l)
{
	if (WT_IRQL() >= DISPATCH_LEVEL)
		wt_kstr(l, "irql", "DISPATCH_LEVEL");
}

static void call_begin(struct wt_line *l, const char *fn)
{
	wt_begin(l, "call");
	wt_kstr(l, "fn", fn);
	k_irql(l);
	wt_open(l, "args");
}

static uint64_t call_end(struct wt_line *l)
{
	uint64_t seq;
	wt_close(l);
	seq = wt_commit(l, NULL, 0);
	wt_after_event();
	return seq;
}

static void ret_status(uint64_t call, NTSTATUS st)
{
	struct wt_line l;
	wt_begin(&l, "return");
	wt_ku64(&l, "call", call);
	wt_kstatus(&l, "status", (uint32_t)st);
	wt_commit(&l, NULL, 0);
	wt_after_event();
}

/* irp_call_done writes an IRP-based call's return; the IRP slot is the
 * completion's to release (see finish_create). */
static NTSTATUS irp_call_done(uint64_t seq, NTSTATUS st, wt_irp *h)
{
	(void)h;
	ret_status(seq, st);
	return st;
}

/* The bytes an MDL chain describes, when they are mapped (nonpaged pool or
 * mapped to system space); NULL otherwise. */
static const char *mdl_va(PMDL m)
{
	if (!m)
		return NULL;
	if (m->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
		return (const char *)m->MappedSystemVa;
	return NULL;
}

/* A WSK_BUF by its fields (spec additions): {"Mdl":"m1","Offset":0,"Length":N,"hex":...}. */
static void k_wskbuf(struct wt_line *l, const char *k, PWSK_BUF b, SIZE_T datalen, int withdata)
{
	const char *va;
	wt_key(l, k);
	if (!b) {
		wt_null(l);
		return;
	}
	wt_open(l, NULL);
	if (b->Mdl && b->Mdl->Next) {
		PMDL m;
		int n = 0;
		wt_key(l, "Mdl");
		wt_raw(l, "[");
		for (m = b->Mdl; m && n < 16; m = m->Next, n++) {
			if (n)
				wt_raw(l, ",");
			{
				uint32_t id = wt_find_obj(WT_MDL, m);
				if (id)
					wt_name(l, WT_MDL, id);
				else
					wt_str(l, "unrecorded-object");
			}
		}
		wt_raw(l, "]");
	} else {
		wt_kname(l, "Mdl", WT_MDL, b->Mdl);
	}
	wt_ku64(l, "Offset", b->Offset);
	wt_ku64(l, "Length", b->Length);
	va = mdl_va(b->Mdl);
	if (withdata && va && !b->Mdl->Next && datalen <= WT_HEX_MAX && b->Offset + datalen <= b->Mdl->ByteCount) {
		/* The hex field of a WSK_BUF: the bytes it carries. */
		const unsigned char *p = (const unsigned char *)va + b->Offset;
		SIZE_T i;
		static const char hx[] = "0123456789abcdef";
		char two[3];
		wt_key(l, "hex");
		wt_raw(l, "\"");
		two[2] = 0;
		for (i = 0; i < datalen; i++) {
			two[0] = hx[p[i] >> 4];
			two[1] = hx[p[i] & 15];
			wt_raw(l, two);
		}
		wt_raw(l, "\"");
	}
	wt_close(l);
}

static const char *ctl_name(ULONG code)
{
	switch (code) {
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS:
		return "SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS";
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT:
		return "SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT";
	case SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS:
		return "SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS";
	case SO_WSK_EVENT_CALLBACK:
		return "SO_WSK_EVENT_CALLBACK";
	}
	return NULL;
}

static void k_eventmask(struct wt_line *l, ULONG m)
{
	static const struct {
		ULONG v;
		const char *n;
	} ev[] = {{WSK_EVENT_SEND_BACKLOG, "WSK_EVENT_SEND_BACKLOG"}, {WSK_EVENT_RECEIVE, "WSK_EVENT_RECEIVE"},
		  {WSK_EVENT_DISCONNECT, "WSK_EVENT_DISCONNECT"},     {WSK_EVENT_RECEIVE_FROM, "WSK_EVENT_RECEIVE_FROM"},
		  {WSK_EVENT_ACCEPT, "WSK_EVENT_ACCEPT"},             {WSK_EVENT_DISABLE, "WSK_EVENT_DISABLE"}};
	char t[200];
	size_t n = 0, i, j;
	ULONG rest = m;
	for (i = 0; i < sizeof ev / sizeof ev[0]; i++) {
		if (m & ev[i].v) {
			if (n)
				t[n++] = '|';
			for (j = 0; ev[i].n[j]; j++)
				t[n++] = ev[i].n[j];
			rest &= ~ev[i].v;
		}
	}
	t[n] = 0;
	wt_key(l, "EventMask");
	if (rest || !n)
		wt_u64(l, m);
	else
		wt_str(l, t);
}

/* ---- the completion routine ---- */

static NTSTATUS NTAPI wt_completion(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx)
{
	wt_irp *st = (wt_irp *)ctx;
	struct wt_line l;
	struct wt_resv r;
	PIO_COMPLETION_ROUTINE routine = st->Routine;
	PVOID context = st->Context;
	NTSTATUS status = irp->IoStatus.Status, ret;
	ULONG_PTR info = irp->IoStatus.Information;
	int out = 0;

	wt_begin(&l, "complete");
	wt_kname(&l, "irp", WT_IRP, irp);
	wt_kstatus(&l, "status", (uint32_t)status);
	wt_key(&l, "information");
	if (st->Op == OP_CREATE && st->Sock) {
		if (NT_SUCCESS(status) && info) {
			/* The provider's new socket: the driver gets the wrapper. */
			st->Sock->Real = (PWSK_SOCKET)info;
			irp->IoStatus.Information = (ULONG_PTR)&st->Sock->Pub;
			wt_bindname(&l, WT_SOCK, wt_bind_obj(WT_SOCK, &st->Sock->Pub, 0));
		} else {
			sock_free(st->Sock, 0);
			wt_u64(&l, info);
		}
	} else {
		wt_u64(&l, info);
	}
#define OUT_OPEN() do { if (!out) { wt_open(&l, "out"); out = 1; } } while (0)
	switch (st->Op) {
	case OP_CREATE:
		if (NT_SUCCESS(status) && st->Local) {
			OUT_OPEN();
			k_addr(&l, "LocalAddress", st->Local);
		}
		if (NT_SUCCESS(status) && st->Remote) {
			OUT_OPEN();
			k_addr(&l, "RemoteAddress", st->Remote);
		}
		break;
	case OP_GETLOCAL:
		if (NT_SUCCESS(status)) {
			OUT_OPEN();
			k_addr(&l, "LocalAddress", st->Local);
		}
		break;
	case OP_GETREMOTE:
		if (NT_SUCCESS(status)) {
			OUT_OPEN();
			k_addr(&l, "RemoteAddress", st->Remote);
		}
		break;
	case OP_CONTROL:
		if (NT_SUCCESS(status) && st->OutBuf && info) {
			SIZE_T n = info < st->OutSize ? info : st->OutSize;
			OUT_OPEN();
			wt_key(&l, "OutputBuffer");
			wt_hexbuf(&l, st->OutBuf, n, 0);
		}
		if (st->OutRet) {
			OUT_OPEN();
			wt_ku64(&l, "OutputSizeReturned", *st->OutRet);
		}
		break;
	case OP_RECEIVE:
		if (NT_SUCCESS(status) && st->Buf) {
			OUT_OPEN();
			k_wskbuf(&l, "Buffer", st->Buf, info, 1);
		}
		break;
	case OP_RECVFROM:
		if (NT_SUCCESS(status)) {
			OUT_OPEN();
			if (st->Buf)
				k_wskbuf(&l, "Buffer", st->Buf, info, 1);
			if (st->Remote)
				k_addr(&l, "RemoteAddress", st->Remote);
			if (st->CtlLen)
				wt_ku64(&l, "ControlLength", *st->CtlLen);
			if (st->CtlInfo && st->CtlLen) {
				wt_key(&l, "ControlInfo");
				wt_hexbuf(&l, st->CtlInfo, *st->CtlLen, 0);
			}
			if (st->CtlFlags)
				wt_ku64(&l, "ControlFlags", *st->CtlFlags);
		}
		break;
	case OP_CLOSE:
		if (NT_SUCCESS(status) && st->Sock) {
			wt_kill_obj(WT_SOCK, &st->Sock->Pub);
			sock_free(st->Sock, 2);
		}
		break;
	default:
		break;
	}
#undef OUT_OPEN
	if (out)
		wt_close(&l);
	if (irp->PendingReturned)
		wt_kbool(&l, "pending_returned", 1);
	k_irql(&l);
	/* Room for ,"routine_returned":"0x........" (32 bytes) once the routine has run. */
	wt_commit(&l, &r, 32);
	/* The slot is free before the routine runs: it may reuse and resubmit the IRP. */
	IoGetNextIrpStackLocation(irp)->CompletionRoutine = routine;
	IoGetNextIrpStackLocation(irp)->Context = context;
	st->InUse = 0;
	ret = routine(dev, irp, context);
	if (ret != STATUS_MPR) {
		char t[40] = ",\"routine_returned\":\"0x00000000\"";
		static const char hx[] = "0123456789ABCDEF";
		int i;
		for (i = 0; i < 8; i++)
			t[30 - i] = hx[((ULONG)ret >> (4 * i)) & 15];
		wt_patch(&r, t);
	} else {
		wt_patch(&r, "");
	}
	wt_after_event();
	return ret;
}

/* ---- the provider dispatch ---- */

static void k_sockcommon(struct wt_line *l, PVOID ctx, const void *disp, PEPROCESS proc, PETHREAD thr,
			 PSECURITY_DESCRIPTOR sd, PIRP irp)
{
	wt_kptr(l, "SocketContext", ctx);
	wt_kptr(l, "Dispatch", disp);
	wt_kptr(l, "OwningProcess", proc);
	wt_kptr(l, "OwningThread", thr);
	wt_kptr(l, "SecurityDescriptor", sd);
	k_irp(l, irp);
}

static const void *client_table(ULONG flags)
{
	if (flags & WSK_FLAG_LISTEN_SOCKET)
		return &wt_client_listen;
	if (flags & WSK_FLAG_CONNECTION_SOCKET)
		return &wt_client_conn;
	if (flags & WSK_FLAG_DATAGRAM_SOCKET)
		return &wt_client_dgram;
	return NULL;
}

static void k_family(struct wt_line *l, ULONG v)
{
	wt_key(l, "AddressFamily");
	if (v == AF_INET)
		wt_str(l, "AF_INET");
	else if (v == AF_INET6)
		wt_str(l, "AF_INET6");
	else
		wt_u64(l, v);
}

static void k_socktype(struct wt_line *l, ULONG t, ULONG proto)
{
	wt_key(l, "SocketType");
	if (t == SOCK_STREAM)
		wt_str(l, "SOCK_STREAM");
	else if (t == SOCK_DGRAM)
		wt_str(l, "SOCK_DGRAM");
	else
		wt_u64(l, t);
	wt_key(l, "Protocol");
	if (proto == IPPROTO_TCP)
		wt_str(l, "IPPROTO_TCP");
	else if (proto == IPPROTO_UDP)
		wt_str(l, "IPPROTO_UDP");
	else
		wt_u64(l, proto);
}

static void k_sockflags(struct wt_line *l, ULONG f)
{
	wt_key(l, "Flags");
	switch (f) {
	case WSK_FLAG_BASIC_SOCKET:
		wt_str(l, "WSK_FLAG_BASIC_SOCKET");
		break;
	case WSK_FLAG_LISTEN_SOCKET:
		wt_str(l, "WSK_FLAG_LISTEN_SOCKET");
		break;
	case WSK_FLAG_CONNECTION_SOCKET:
		wt_str(l, "WSK_FLAG_CONNECTION_SOCKET");
		break;
	case WSK_FLAG_DATAGRAM_SOCKET:
		wt_str(l, "WSK_FLAG_DATAGRAM_SOCKET");
		break;
	default:
		wt_u64(l, f);
	}
}

/* finish_create writes a creation call's return. The wrapper socket and the
 * IRP slot belong to the completion from here on: the WSK subsystem always
 * completes the IRP it was given, also on failure (Wine's netio.sys too), so
 * only wt_completion releases them; a provider that returned an error
 * without completing would leave one slot of each in use, never a dangling
 * pointer. */
static NTSTATUS finish_create(uint64_t seq, NTSTATUS st, wt_irp *h, wt_sock *ws)
{
	(void)h;
	(void)ws;
	ret_status(seq, st);
	return st;
}

static NTSTATUS NTAPI wt_WskSocket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
				   ULONG Protocol, ULONG Flags, PVOID SocketContext, const void *Dispatch,
				   PEPROCESS OwningProcess, PETHREAD OwningThread,
				   SECURITY_DESCRIPTOR *SecurityDescriptor, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_sock *ws = (Flags & WSK_FLAG_STREAM_SOCKET) ? NULL : sock_alloc(Flags);
	wt_irp *h;
	call_begin(&l, "WskSocket");
	wt_kname(&l, "Client", WT_CLIENT, Client);
	k_family(&l, AddressFamily);
	k_socktype(&l, SocketType, Protocol);
	k_sockflags(&l, Flags);
	k_sockcommon(&l, SocketContext, Dispatch, OwningProcess, OwningThread, SecurityDescriptor, Irp);
	seq = call_end(&l);
	h = ws ? irp_hook(Irp, OP_CREATE) : NULL;
	if (h)
		h->Sock = ws;
	else if (ws) {
		sock_free(ws, 0);
		ws = NULL;
	}
	if (ws && Dispatch) {
		ws->ClientContext = SocketContext;
		ws->ClientDispatch = Dispatch;
		SocketContext = ws;
		Dispatch = client_table(Flags);
	}
	st = W.real->WskSocket(Client, AddressFamily, SocketType, Protocol, Flags, SocketContext, Dispatch,
			       OwningProcess, OwningThread, SecurityDescriptor, Irp);
	return finish_create(seq, st, h, ws);
}

static NTSTATUS NTAPI wt_WskSocketConnect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
					  PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
					  PVOID SocketContext, const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
					  PEPROCESS OwningProcess, PETHREAD OwningThread,
					  SECURITY_DESCRIPTOR *SecurityDescriptor, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_sock *ws = sock_alloc(WSK_FLAG_CONNECTION_SOCKET);
	wt_irp *h;
	call_begin(&l, "WskSocketConnect");
	wt_kname(&l, "Client", WT_CLIENT, Client);
	k_socktype(&l, SocketType, Protocol);
	k_addr(&l, "LocalAddress", LocalAddress);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_ku64(&l, "Flags", Flags);
	k_sockcommon(&l, SocketContext, Dispatch, OwningProcess, OwningThread, SecurityDescriptor, Irp);
	seq = call_end(&l);
	h = ws ? irp_hook(Irp, OP_CREATE) : NULL;
	if (h)
		h->Sock = ws;
	else if (ws) {
		sock_free(ws, 0);
		ws = NULL;
	}
	if (ws && Dispatch) {
		ws->ClientContext = SocketContext;
		ws->ClientDispatch = Dispatch;
		SocketContext = ws;
		Dispatch = &wt_client_conn;
	}
	st = W.real->WskSocketConnect(Client, SocketType, Protocol, LocalAddress, RemoteAddress, Flags,
				      SocketContext, Dispatch, OwningProcess, OwningThread, SecurityDescriptor, Irp);
	return finish_create(seq, st, h, ws);
}

static NTSTATUS NTAPI wt_WskControlClient(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize, PVOID InputBuffer,
					  SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	call_begin(&l, "WskControlClient");
	wt_kname(&l, "Client", WT_CLIENT, Client);
	wt_ku64(&l, "ControlCode", ControlCode);
	wt_ku64(&l, "InputSize", InputSize);
	wt_key(&l, "InputBuffer");
	if (InputBuffer)
		wt_hexbuf(&l, InputBuffer, InputSize, pool_of(InputBuffer, InputSize));
	else
		wt_null(&l);
	wt_ku64(&l, "OutputSize", OutputSize);
	wt_key(&l, "OutputBuffer");
	if (OutputBuffer)
		wt_lenbuf(&l, OutputSize, pool_of(OutputBuffer, OutputSize));
	else
		wt_null(&l);
	wt_kptr(&l, "OutputSizeReturned", OutputSizeReturned);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_CONTROL);
	if (h) {
		h->OutBuf = OutputBuffer;
		h->OutSize = OutputSize;
		h->OutRet = OutputSizeReturned;
	}
	st = W.real->WskControlClient(Client, ControlCode, InputSize, InputBuffer, OutputSize, OutputBuffer,
				      OutputSizeReturned, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskGetAddressInfo(PWSK_CLIENT Client, PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
					   ULONG NameSpace, GUID *Provider, ADDRINFOEXW *Hints, ADDRINFOEXW **Result,
					   PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	call_begin(&l, "WskGetAddressInfo");
	wt_kname(&l, "Client", WT_CLIENT, Client);
	wt_key(&l, "NodeName");
	if (NodeName)
		wt_wstr(&l, (const uint16_t *)NodeName->Buffer, NodeName->Length / 2);
	else
		wt_null(&l);
	wt_key(&l, "ServiceName");
	if (ServiceName)
		wt_wstr(&l, (const uint16_t *)ServiceName->Buffer, ServiceName->Length / 2);
	else
		wt_null(&l);
	wt_ku64(&l, "NameSpace", NameSpace);
	wt_kptr(&l, "Provider", Provider);
	wt_kptr(&l, "Hints", Hints); /* the ADDRINFOEXW fields are not recorded */
	wt_kptr(&l, "Result", Result);
	wt_kptr(&l, "OwningProcess", OwningProcess);
	wt_kptr(&l, "OwningThread", OwningThread);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = W.real->WskGetAddressInfo(Client, NodeName, ServiceName, NameSpace, Provider, Hints, Result,
				       OwningProcess, OwningThread, Irp);
	return irp_call_done(seq, st, h);
}

static void NTAPI wt_WskFreeAddressInfo(PWSK_CLIENT Client, ADDRINFOEXW *AddrInfo)
{
	struct wt_line l;
	call_begin(&l, "WskFreeAddressInfo");
	wt_kname(&l, "Client", WT_CLIENT, Client);
	wt_kptr(&l, "AddrInfo", AddrInfo);
	call_end(&l);
	W.real->WskFreeAddressInfo(Client, AddrInfo);
}

/* ---- socket calls ---- */

#define REAL(ws) (((wt_sock *)(ws))->Real)
#define KIND(ws) (((wt_sock *)(ws))->Flags & (WSK_FLAG_LISTEN_SOCKET | WSK_FLAG_CONNECTION_SOCKET | WSK_FLAG_DATAGRAM_SOCKET))
#define RDISP(ws, T) ((const T *)REAL(ws)->Dispatch)

/* A socket call whose socket the recorder did not wrap (or a closed one)
 * still reaches the provider: the driver's logic does not change. */
static PWSK_SOCKET real_of(PWSK_SOCKET s) { return is_wrapped(s) && REAL(s) ? REAL(s) : s; }

static const WSK_PROVIDER_BASIC_DISPATCH *basic_of(PWSK_SOCKET s)
{
	return (const WSK_PROVIDER_BASIC_DISPATCH *)real_of(s)->Dispatch;
}


static NTSTATUS NTAPI wt_WskControlSocket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType, ULONG ControlCode,
					  ULONG Level, SIZE_T InputSize, PVOID InputBuffer, SIZE_T OutputSize,
					  PVOID OutputBuffer, SIZE_T *OutputSizeReturned, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	const char *cn = ctl_name(ControlCode);
	call_begin(&l, "WskControlSocket");
	k_sock(&l, "Socket", Socket);
	wt_kstr(&l, "RequestType", RequestType == WskSetOption ? "WskSetOption" : RequestType == WskGetOption ? "WskGetOption" : "WskIoctl");
	wt_key(&l, "ControlCode");
	if (cn)
		wt_str(&l, cn);
	else
		wt_u64(&l, ControlCode);
	wt_key(&l, "Level");
	if (Level == SOL_SOCKET)
		wt_str(&l, "SOL_SOCKET");
	else
		wt_u64(&l, Level);
	wt_ku64(&l, "InputSize", InputSize);
	wt_key(&l, "InputBuffer");
	if (!InputBuffer) {
		wt_null(&l);
	} else if (RequestType == WskSetOption && ControlCode == SO_WSK_EVENT_CALLBACK && InputSize >= sizeof(WSK_EVENT_CALLBACK_CONTROL)) {
		const WSK_EVENT_CALLBACK_CONTROL *c = (const WSK_EVENT_CALLBACK_CONTROL *)InputBuffer;
		wt_open(&l, NULL);
		wt_kstr(&l, "NpiId", "NPI_WSK_INTERFACE_ID");
		k_eventmask(&l, c->EventMask);
		wt_close(&l);
	} else {
		wt_hexbuf(&l, InputBuffer, InputSize, pool_of(InputBuffer, InputSize));
	}
	wt_ku64(&l, "OutputSize", OutputSize);
	wt_key(&l, "OutputBuffer");
	if (OutputBuffer)
		wt_lenbuf(&l, OutputSize, pool_of(OutputBuffer, OutputSize));
	else
		wt_null(&l);
	wt_kptr(&l, "OutputSizeReturned", OutputSizeReturned);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_CONTROL);
	if (h) {
		h->OutBuf = OutputBuffer;
		h->OutSize = OutputSize;
		h->OutRet = OutputSizeReturned;
	}
	st = basic_of(Socket)->WskControlSocket(real_of(Socket), RequestType, ControlCode, Level, InputSize, InputBuffer,
						 OutputSize, OutputBuffer, OutputSizeReturned, Irp);
	if (!Irp) {
		/* Without an IRP the call completes synchronously: its outputs are in the return. */
		struct wt_line r;
		wt_begin(&r, "return");
		wt_ku64(&r, "call", seq);
		wt_kstatus(&r, "status", (uint32_t)st);
		if (NT_SUCCESS(st) && OutputSizeReturned) {
			wt_open(&r, "out");
			wt_ku64(&r, "OutputSizeReturned", *OutputSizeReturned);
			if (OutputBuffer && *OutputSizeReturned) {
				wt_key(&r, "OutputBuffer");
				wt_hexbuf(&r, OutputBuffer, *OutputSizeReturned < OutputSize ? *OutputSizeReturned : OutputSize, 0);
			}
			wt_close(&r);
		}
		wt_commit(&r, NULL, 0);
		wt_after_event();
		return st;
	}
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskCloseSocket(PWSK_SOCKET Socket, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	call_begin(&l, "WskCloseSocket");
	k_sock(&l, "Socket", Socket);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_CLOSE);
	if (h && is_wrapped(Socket))
		h->Sock = (wt_sock *)Socket;
	st = basic_of(Socket)->WskCloseSocket(real_of(Socket), Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskBind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskBind");
	k_sock(&l, "Socket", Socket);
	k_addr(&l, "LocalAddress", LocalAddress);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	switch (KIND(Socket)) {
	case WSK_FLAG_LISTEN_SOCKET:
		st = ((const WSK_PROVIDER_LISTEN_DISPATCH *)rs->Dispatch)->WskBind(rs, LocalAddress, Flags, Irp);
		break;
	case WSK_FLAG_DATAGRAM_SOCKET:
		st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskBind(rs, LocalAddress, Flags, Irp);
		break;
	default:
		st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskBind(rs, LocalAddress, Flags, Irp);
	}
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskAccept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
				   const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, PSOCKADDR LocalAddress,
				   PSOCKADDR RemoteAddress, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	wt_sock *ws = sock_alloc(WSK_FLAG_CONNECTION_SOCKET);
	PWSK_SOCKET rs = real_of(ListenSocket);
	call_begin(&l, "WskAccept");
	k_sock(&l, "ListenSocket", ListenSocket);
	wt_ku64(&l, "Flags", Flags);
	wt_kptr(&l, "AcceptSocketContext", AcceptSocketContext);
	wt_kptr(&l, "AcceptSocketDispatch", AcceptSocketDispatch);
	wt_kptr(&l, "LocalAddress", LocalAddress);
	wt_kptr(&l, "RemoteAddress", RemoteAddress);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = ws ? irp_hook(Irp, OP_CREATE) : NULL;
	if (h) {
		h->Sock = ws;
		h->Local = LocalAddress;
		h->Remote = RemoteAddress;
	} else if (ws) {
		sock_free(ws, 0);
		ws = NULL;
	}
	if (ws && AcceptSocketDispatch) {
		ws->ClientContext = AcceptSocketContext;
		ws->ClientDispatch = AcceptSocketDispatch;
		AcceptSocketContext = ws;
		AcceptSocketDispatch = &wt_client_conn;
	}
	st = ((const WSK_PROVIDER_LISTEN_DISPATCH *)rs->Dispatch)->WskAccept(rs, Flags, AcceptSocketContext, AcceptSocketDispatch,
									    LocalAddress, RemoteAddress, Irp);
	return finish_create(seq, st, h, ws);
}

static NTSTATUS NTAPI wt_WskInspectComplete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID, WSK_INSPECT_ACTION Action,
					    PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(ListenSocket);
	call_begin(&l, "WskInspectComplete");
	k_sock(&l, "ListenSocket", ListenSocket);
	wt_kptr(&l, "InspectID", InspectID);
	wt_kstr(&l, "Action", Action == WskInspectAccept ? "WskInspectAccept" : "WskInspectReject");
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_LISTEN_DISPATCH *)rs->Dispatch)->WskInspectComplete(rs, InspectID, Action, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskGetLocalAddress(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskGetLocalAddress");
	k_sock(&l, "Socket", Socket);
	wt_kptr(&l, "LocalAddress", LocalAddress);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_GETLOCAL);
	if (h)
		h->Local = LocalAddress;
	switch (KIND(Socket)) {
	case WSK_FLAG_LISTEN_SOCKET:
		st = ((const WSK_PROVIDER_LISTEN_DISPATCH *)rs->Dispatch)->WskGetLocalAddress(rs, LocalAddress, Irp);
		break;
	case WSK_FLAG_DATAGRAM_SOCKET:
		st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskGetLocalAddress(rs, LocalAddress, Irp);
		break;
	default:
		st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskGetLocalAddress(rs, LocalAddress, Irp);
	}
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskGetRemoteAddress(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskGetRemoteAddress");
	k_sock(&l, "Socket", Socket);
	wt_kptr(&l, "RemoteAddress", RemoteAddress);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_GETREMOTE);
	if (h)
		h->Remote = RemoteAddress;
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskGetRemoteAddress(rs, RemoteAddress, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskConnect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskConnect");
	k_sock(&l, "Socket", Socket);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskConnect(rs, RemoteAddress, Flags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskConnectEx(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskConnectEx");
	k_sock(&l, "Socket", Socket);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	k_wskbuf(&l, "Buffer", Buffer, Buffer ? Buffer->Length : 0, 1);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskConnectEx(rs, RemoteAddress, Buffer, Flags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskSend(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskSend");
	k_sock(&l, "Socket", Socket);
	k_wskbuf(&l, "Buffer", Buffer, Buffer ? Buffer->Length : 0, 1);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskSend(rs, Buffer, Flags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskReceive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskReceive");
	k_sock(&l, "Socket", Socket);
	k_wskbuf(&l, "Buffer", Buffer, 0, 0);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_RECEIVE);
	if (h)
		h->Buf = Buffer;
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskReceive(rs, Buffer, Flags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskDisconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskDisconnect");
	k_sock(&l, "Socket", Socket);
	k_wskbuf(&l, "Buffer", Buffer, Buffer ? Buffer->Length : 0, 1);
	wt_ku64(&l, "Flags", Flags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskDisconnect(rs, Buffer, Flags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskRelease(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskRelease");
	k_sock(&l, "Socket", Socket);
	wt_kname(&l, "DataIndication", WT_DATAIND, DataIndication);
	seq = call_end(&l);
	wt_kill_obj(WT_DATAIND, DataIndication);
	st = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)rs->Dispatch)->WskRelease(rs, DataIndication);
	ret_status(seq, st);
	return st;
}

static NTSTATUS NTAPI wt_WskSendTo(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
				   ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskSendTo");
	k_sock(&l, "Socket", Socket);
	k_wskbuf(&l, "Buffer", Buffer, Buffer ? Buffer->Length : 0, 1);
	wt_ku64(&l, "Flags", Flags);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_ku64(&l, "ControlInfoLength", ControlInfoLength);
	wt_key(&l, "ControlInfo");
	if (ControlInfo)
		wt_hexbuf(&l, ControlInfo, ControlInfoLength, pool_of(ControlInfo, ControlInfoLength));
	else
		wt_null(&l);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskSendTo(rs, Buffer, Flags, RemoteAddress, ControlInfoLength,
									      ControlInfo, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskReceiveFrom(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
					PULONG ControlLength, PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskReceiveFrom");
	k_sock(&l, "Socket", Socket);
	k_wskbuf(&l, "Buffer", Buffer, 0, 0);
	wt_ku64(&l, "Flags", Flags);
	wt_kptr(&l, "RemoteAddress", RemoteAddress);
	wt_key(&l, "ControlLength");
	if (ControlLength)
		wt_u64(&l, *ControlLength);
	else
		wt_null(&l);
	wt_key(&l, "ControlInfo");
	if (ControlInfo && ControlLength)
		wt_lenbuf(&l, *ControlLength, pool_of(ControlInfo, *ControlLength));
	else
		wt_null(&l);
	wt_kptr(&l, "ControlFlags", ControlFlags);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_RECVFROM);
	if (h) {
		h->Buf = Buffer;
		h->Remote = RemoteAddress;
		h->CtlLen = ControlLength;
		h->CtlInfo = ControlInfo;
		h->CtlFlags = ControlFlags;
	}
	st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskReceiveFrom(rs, Buffer, Flags, RemoteAddress,
										   ControlLength, ControlInfo, ControlFlags, Irp);
	return irp_call_done(seq, st, h);
}

static NTSTATUS NTAPI wt_WskReleaseDatagrams(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskRelease");
	k_sock(&l, "Socket", Socket);
	wt_kname(&l, "DataIndication", WT_DATAIND, DatagramIndication);
	seq = call_end(&l);
	wt_kill_obj(WT_DATAIND, DatagramIndication);
	st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskRelease(rs, DatagramIndication);
	ret_status(seq, st);
	return st;
}

static NTSTATUS NTAPI wt_WskSendMessages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
					 PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	wt_irp *h;
	PWSK_BUF_LIST b;
	int n = 0;
	PWSK_SOCKET rs = real_of(Socket);
	call_begin(&l, "WskSendMessages");
	k_sock(&l, "Socket", Socket);
	wt_key(&l, "BufferList");
	wt_raw(&l, "[");
	for (b = BufferList; b && n < 64; b = b->Next, n++) {
		if (n)
			wt_raw(&l, ",");
		/* k_wskbuf writes a key; an array element has none, so write the object here. */
		wt_open(&l, NULL);
		wt_kname(&l, "Mdl", WT_MDL, b->Buffer.Mdl);
		wt_ku64(&l, "Offset", b->Buffer.Offset);
		wt_ku64(&l, "Length", b->Buffer.Length);
		wt_close(&l);
	}
	wt_raw(&l, "]");
	wt_ku64(&l, "Flags", Flags);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_ku64(&l, "ControlInfoLength", ControlInfoLength);
	wt_key(&l, "ControlInfo");
	if (ControlInfo)
		wt_hexbuf(&l, ControlInfo, ControlInfoLength, pool_of(ControlInfo, ControlInfoLength));
	else
		wt_null(&l);
	k_irp(&l, Irp);
	seq = call_end(&l);
	h = irp_hook(Irp, OP_OTHER);
	st = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)rs->Dispatch)->WskSendMessages(rs, BufferList, Flags, RemoteAddress,
										    ControlInfoLength, ControlInfo, Irp);
	return irp_call_done(seq, st, h);
}

static const WSK_PROVIDER_BASIC_DISPATCH wt_basic = {wt_WskControlSocket, wt_WskCloseSocket};
static const WSK_PROVIDER_LISTEN_DISPATCH wt_listen = {{wt_WskControlSocket, wt_WskCloseSocket},
						       wt_WskBind,
						       wt_WskAccept,
						       wt_WskInspectComplete,
						       wt_WskGetLocalAddress};
static const WSK_PROVIDER_CONNECTION_DISPATCH wt_conn = {{wt_WskControlSocket, wt_WskCloseSocket},
							 wt_WskBind,
							 wt_WskConnect,
							 wt_WskGetLocalAddress,
							 wt_WskGetRemoteAddress,
							 wt_WskSend,
							 wt_WskReceive,
							 wt_WskDisconnect,
							 wt_WskRelease,
							 wt_WskConnectEx,
							 NULL,
							 NULL};
static const WSK_PROVIDER_DATAGRAM_DISPATCH wt_dgram = {{wt_WskControlSocket, wt_WskCloseSocket},
							wt_WskBind,
							wt_WskSendTo,
							wt_WskReceiveFrom,
							wt_WskReleaseDatagrams,
							wt_WskGetLocalAddress,
							wt_WskSendMessages};

/* ---- event callbacks ---- */

static uint64_t cb_begin(struct wt_line *l, const char *fn)
{
	wt_begin(l, "callback");
	wt_kstr(l, "fn", fn);
	k_irql(l);
	wt_open(l, "args");
	return 0;
}

static uint64_t cb_end(struct wt_line *l) { return call_end(l); }

static void cb_return(uint64_t seq, NTSTATUS st, const char *outkey, SIZE_T outval, int hasout)
{
	struct wt_line l;
	wt_begin(&l, "callback_return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (hasout) {
		wt_open(&l, "out");
		wt_ku64(&l, outkey, outval);
		wt_close(&l);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
}

static void k_indications(struct wt_line *l, PWSK_DATA_INDICATION di)
{
	int n = 0;
	wt_key(l, "DataIndication");
	if (!di) {
		wt_null(l);
		return;
	}
	wt_open(l, NULL);
	wt_key(l, "bind");
	wt_name(l, WT_DATAIND, wt_bind_obj(WT_DATAIND, di, 0));
	wt_key(l, "buffers");
	wt_raw(l, "[");
	for (; di && n < 64; di = di->Next, n++) {
		const char *va = mdl_va(di->Buffer.Mdl);
		if (n)
			wt_raw(l, ",");
		if (va && !di->Buffer.Mdl->Next && di->Buffer.Offset + di->Buffer.Length <= di->Buffer.Mdl->ByteCount)
			wt_hexbuf(l, va + di->Buffer.Offset, di->Buffer.Length, 0);
		else
			wt_lenbuf(l, di->Buffer.Length, 0);
	}
	wt_raw(l, "]");
	wt_close(l);
}

static NTSTATUS NTAPI wt_WskAcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
					PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
					const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
	wt_sock *ls = (wt_sock *)SocketContext;
	wt_sock *as = AcceptSocket ? sock_alloc(WSK_FLAG_CONNECTION_SOCKET) : NULL;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	PWSK_SOCKET given = AcceptSocket;
	cb_begin(&l, "WskAcceptEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &ls->Pub);
	wt_ku64(&l, "Flags", Flags);
	k_addr(&l, "LocalAddress", LocalAddress);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_key(&l, "AcceptSocket");
	if (as) {
		as->Real = AcceptSocket;
		given = &as->Pub;
		wt_bindname(&l, WT_SOCK, wt_bind_obj(WT_SOCK, &as->Pub, 0));
	} else {
		wt_ptr(&l, AcceptSocket);
	}
	wt_kptr(&l, "AcceptSocketContext", AcceptSocketContext);
	wt_kptr(&l, "AcceptSocketDispatch", AcceptSocketDispatch);
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_LISTEN_DISPATCH *)ls->ClientDispatch)->WskAcceptEvent(
		ls->ClientContext, Flags, LocalAddress, RemoteAddress, given, AcceptSocketContext, AcceptSocketDispatch);
	if (as) {
		if (NT_SUCCESS(st)) {
			if (AcceptSocketDispatch && *AcceptSocketDispatch) {
				as->ClientContext = *AcceptSocketContext;
				as->ClientDispatch = *AcceptSocketDispatch;
				*AcceptSocketContext = as;
				*AcceptSocketDispatch = &wt_client_conn;
			}
		} else {
			wt_kill_obj(WT_SOCK, &as->Pub);
			sock_free(as, 0);
		}
	}
	cb_return(seq, st, NULL, 0, 0);
	return st;
}

static WSK_INSPECT_ACTION NTAPI wt_WskInspectEvent(PVOID SocketContext, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
						   PWSK_INSPECT_ID InspectID)
{
	wt_sock *ls = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	WSK_INSPECT_ACTION a;
	cb_begin(&l, "WskInspectEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &ls->Pub);
	k_addr(&l, "LocalAddress", LocalAddress);
	k_addr(&l, "RemoteAddress", RemoteAddress);
	wt_kptr(&l, "InspectID", InspectID);
	seq = cb_end(&l);
	a = ((const WSK_CLIENT_LISTEN_DISPATCH *)ls->ClientDispatch)->WskInspectEvent(ls->ClientContext, LocalAddress,
										       RemoteAddress, InspectID);
	{
		struct wt_line r;
		wt_begin(&r, "callback_return");
		wt_ku64(&r, "call", seq);
		wt_kstr(&r, "value", a == WskInspectAccept ? "WskInspectAccept" : a == WskInspectReject ? "WskInspectReject" : "WskInspectPend");
		wt_commit(&r, NULL, 0);
		wt_after_event();
	}
	return a;
}

static NTSTATUS NTAPI wt_WskAbortEvent(PVOID SocketContext, PWSK_INSPECT_ID InspectID)
{
	wt_sock *ls = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	cb_begin(&l, "WskAbortEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &ls->Pub);
	wt_kptr(&l, "InspectID", InspectID);
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_LISTEN_DISPATCH *)ls->ClientDispatch)->WskAbortEvent(ls->ClientContext, InspectID);
	cb_return(seq, st, NULL, 0, 0);
	return st;
}

static NTSTATUS NTAPI wt_WskReceiveEvent(PVOID SocketContext, ULONG Flags, PWSK_DATA_INDICATION DataIndication,
					 SIZE_T BytesIndicated, SIZE_T *BytesAccepted)
{
	wt_sock *s = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	cb_begin(&l, "WskReceiveEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &s->Pub);
	wt_ku64(&l, "Flags", Flags);
	k_indications(&l, DataIndication);
	wt_ku64(&l, "BytesIndicated", BytesIndicated);
	wt_kptr(&l, "BytesAccepted", BytesAccepted);
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_CONNECTION_DISPATCH *)s->ClientDispatch)->WskReceiveEvent(s->ClientContext, Flags, DataIndication,
											   BytesIndicated, BytesAccepted);
	if (st != STATUS_PENDING && DataIndication)
		wt_kill_obj(WT_DATAIND, DataIndication); /* not retained: no longer lent */
	cb_return(seq, st, "BytesAccepted", BytesAccepted ? *BytesAccepted : 0, BytesAccepted != NULL);
	return st;
}

static NTSTATUS NTAPI wt_WskDisconnectEvent(PVOID SocketContext, ULONG Flags)
{
	wt_sock *s = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	cb_begin(&l, "WskDisconnectEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &s->Pub);
	wt_ku64(&l, "Flags", Flags);
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_CONNECTION_DISPATCH *)s->ClientDispatch)->WskDisconnectEvent(s->ClientContext, Flags);
	cb_return(seq, st, NULL, 0, 0);
	return st;
}

static NTSTATUS NTAPI wt_WskSendBacklogEvent(PVOID SocketContext, SIZE_T IdealBacklogSize)
{
	wt_sock *s = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	cb_begin(&l, "WskSendBacklogEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &s->Pub);
	wt_ku64(&l, "IdealBacklogSize", IdealBacklogSize);
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_CONNECTION_DISPATCH *)s->ClientDispatch)->WskSendBacklogEvent(s->ClientContext, IdealBacklogSize);
	cb_return(seq, st, NULL, 0, 0);
	return st;
}

static NTSTATUS NTAPI wt_WskReceiveFromEvent(PVOID SocketContext, ULONG Flags, PWSK_DATAGRAM_INDICATION DataIndication)
{
	wt_sock *s = (wt_sock *)SocketContext;
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	PWSK_DATAGRAM_INDICATION d;
	int n = 0;
	cb_begin(&l, "WskReceiveFromEvent");
	wt_kname(&l, "SocketContext", WT_SOCK, &s->Pub);
	wt_ku64(&l, "Flags", Flags);
	wt_key(&l, "DataIndication");
	if (!DataIndication) {
		wt_null(&l);
	} else {
		wt_open(&l, NULL);
		wt_key(&l, "bind");
		wt_name(&l, WT_DATAIND, wt_bind_obj(WT_DATAIND, DataIndication, 0));
		wt_key(&l, "datagrams");
		wt_raw(&l, "[");
		for (d = DataIndication; d && n < 64; d = d->Next, n++) {
			const char *va = mdl_va(d->Buffer.Mdl);
			if (n)
				wt_raw(&l, ",");
			wt_open(&l, NULL);
			k_addr(&l, "RemoteAddress", d->RemoteAddress);
			wt_key(&l, "ControlInfo");
			if (d->ControlInfo)
				wt_hexbuf(&l, d->ControlInfo, d->ControlInfoLength, 0);
			else
				wt_null(&l);
			wt_key(&l, "Buffer");
			if (va && d->Buffer.Offset + d->Buffer.Length <= d->Buffer.Mdl->ByteCount)
				wt_hexbuf(&l, va + d->Buffer.Offset, d->Buffer.Length, 0);
			else
				wt_lenbuf(&l, d->Buffer.Length, 0);
			wt_close(&l);
		}
		wt_raw(&l, "]");
		wt_close(&l);
	}
	seq = cb_end(&l);
	st = ((const WSK_CLIENT_DATAGRAM_DISPATCH *)s->ClientDispatch)->WskReceiveFromEvent(s->ClientContext, Flags, DataIndication);
	if (st != STATUS_PENDING && DataIndication)
		wt_kill_obj(WT_DATAIND, DataIndication);
	cb_return(seq, st, NULL, 0, 0);
	return st;
}

/* The cast: Wine's wsk.h (8.0) declares PFN_WSK_ACCEPT_EVENT's AcceptSocketContext
 * as PVOID where the documented type (wsk/nc-wsk-pfn_wsk_accept_event) is
 * PVOID *; both are one pointer, so the call is the same. */
static const WSK_CLIENT_LISTEN_DISPATCH wt_client_listen = {(PFN_WSK_ACCEPT_EVENT)(void (*)(void))wt_WskAcceptEvent,
							    wt_WskInspectEvent, wt_WskAbortEvent};
static const WSK_CLIENT_CONNECTION_DISPATCH wt_client_conn = {wt_WskReceiveEvent, wt_WskDisconnectEvent, wt_WskSendBacklogEvent};
static const WSK_CLIENT_DATAGRAM_DISPATCH wt_client_dgram = {wt_WskReceiveFromEvent};

/* ---- registration ---- */

NTSTATUS NTAPI WsktraceWskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	char ver[12];
	USHORT v = WskClientNpi && WskClientNpi->Dispatch ? WskClientNpi->Dispatch->Version : 0;
	ver[0] = (char)('0' + ((v >> 8) % 10));
	ver[1] = '.';
	ver[2] = (char)('0' + ((v & 0xff) % 10));
	ver[3] = 0;
	call_begin(&l, "WskRegister");
	wt_open(&l, "WskClientNpi");
	wt_kstr(&l, "Version", ver);
	wt_close(&l);
	wt_key(&l, "WskRegistration");
	wt_bindname(&l, WT_REG, wt_bind_obj(WT_REG, WskRegistration, 0));
	seq = call_end(&l);
	st = WskRegister(WskClientNpi, WskRegistration);
	ret_status(seq, st);
	return st;
}

NTSTATUS NTAPI WsktraceWskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout,
					      PWSK_PROVIDER_NPI WskProviderNpi)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "WskCaptureProviderNPI");
	wt_kname(&l, "WskRegistration", WT_REG, WskRegistration);
	wt_key(&l, "WaitTimeout");
	if (WaitTimeout == WSK_INFINITE_WAIT)
		wt_str(&l, "WSK_INFINITE_WAIT");
	else if (WaitTimeout == WSK_NO_WAIT)
		wt_str(&l, "WSK_NO_WAIT");
	else
		wt_u64(&l, WaitTimeout);
	wt_kptr(&l, "WskProviderNpi", WskProviderNpi);
	seq = call_end(&l);
	st = WskCaptureProviderNPI(WskRegistration, WaitTimeout, WskProviderNpi);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (NT_SUCCESS(st) && WskProviderNpi) {
		uint32_t id = wt_find_obj(WT_CLIENT, WskProviderNpi->Client);
		wt_open(&l, "out");
		wt_open(&l, "WskProviderNpi");
		wt_key(&l, "Client");
		if (id)
			wt_name(&l, WT_CLIENT, id); /* captured again: the same client */
		else
			wt_bindname(&l, WT_CLIENT, wt_bind_obj(WT_CLIENT, WskProviderNpi->Client, 0));
		wt_close(&l);
		wt_close(&l);
		/* The driver gets the recording copy of the provider's table. */
		W.real = WskProviderNpi->Dispatch;
		W.wrapped.Version = W.real->Version;
		W.wrapped.Reserved = W.real->Reserved;
		W.wrapped.WskSocket = wt_WskSocket;
		W.wrapped.WskSocketConnect = wt_WskSocketConnect;
		W.wrapped.WskControlClient = wt_WskControlClient;
		W.wrapped.WskGetAddressInfo = wt_WskGetAddressInfo;
		W.wrapped.WskFreeAddressInfo = wt_WskFreeAddressInfo;
		W.wrapped.WskGetNameInfo = W.real->WskGetNameInfo; /* not recorded */
		WskProviderNpi->Dispatch = &W.wrapped;
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return st;
}

void NTAPI WsktraceWskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration)
{
	struct wt_line l;
	call_begin(&l, "WskReleaseProviderNPI");
	wt_kname(&l, "WskRegistration", WT_REG, WskRegistration);
	call_end(&l);
	WskReleaseProviderNPI(WskRegistration);
}

void NTAPI WsktraceWskDeregister(PWSK_REGISTRATION WskRegistration)
{
	struct wt_line l;
	call_begin(&l, "WskDeregister");
	wt_kname(&l, "WskRegistration", WT_REG, WskRegistration);
	call_end(&l);
	WskDeregister(WskRegistration);
	wt_kill_obj(WT_REG, WskRegistration);
}

/* ---- IRPs ---- */

PIRP WsktraceIoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
	struct wt_line l;
	uint64_t seq;
	PIRP irp;
	call_begin(&l, "IoAllocateIrp");
	wt_key(&l, "StackSize");
	wt_i64(&l, StackSize);
	wt_kbool(&l, "ChargeQuota", ChargeQuota);
	seq = call_end(&l);
	irp = IoAllocateIrp(StackSize, ChargeQuota);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_key(&l, "value");
	if (irp)
		wt_bindname(&l, WT_IRP, wt_bind_obj(WT_IRP, irp, 0));
	else
		wt_null(&l);
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return irp;
}

void WsktraceIoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
	struct wt_line l;
	call_begin(&l, "IoReuseIrp");
	k_irp(&l, Irp);
	wt_kstatus(&l, "Iostatus", (uint32_t)Iostatus);
	call_end(&l);
	IoReuseIrp(Irp, Iostatus);
}

void WsktraceIoFreeIrp(PIRP Irp)
{
	struct wt_line l;
	call_begin(&l, "IoFreeIrp");
	k_irp(&l, Irp);
	call_end(&l);
	wt_kill_obj(WT_IRP, Irp);
	IoFreeIrp(Irp);
}

void WsktraceIoSetCompletionRoutine(PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine, PVOID Context,
				    BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel)
{
	struct wt_line l;
	call_begin(&l, "IoSetCompletionRoutine");
	k_irp(&l, Irp);
	wt_kptr(&l, "CompletionRoutine", (const void *)(ULONG_PTR)CompletionRoutine);
	wt_kptr(&l, "Context", Context);
	wt_kbool(&l, "InvokeOnSuccess", InvokeOnSuccess);
	wt_kbool(&l, "InvokeOnError", InvokeOnError);
	wt_kbool(&l, "InvokeOnCancel", InvokeOnCancel);
	call_end(&l);
	IoSetCompletionRoutine(Irp, CompletionRoutine, Context, InvokeOnSuccess, InvokeOnError, InvokeOnCancel);
}

BOOLEAN WsktraceIoCancelIrp(PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	BOOLEAN r;
	call_begin(&l, "IoCancelIrp");
	k_irp(&l, Irp);
	seq = call_end(&l);
	r = IoCancelIrp(Irp);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kbool(&l, "value", r);
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return r;
}

/* ---- pool ---- */

static void pool_return(uint64_t seq, PVOID p, SIZE_T n)
{
	struct wt_line l;
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_key(&l, "value");
	if (p)
		wt_bindname(&l, WT_POOL, wt_bind_obj(WT_POOL, p, n));
	else
		wt_null(&l);
	wt_commit(&l, NULL, 0);
	wt_after_event();
}

/* WSKTRACE_NO_EXALLOCATEPOOL2 leaves this wrapper out for kernels that do not
 * export ExAllocatePool2 (before Windows 10 2004; Wine 8). */
#ifndef WSKTRACE_NO_EXALLOCATEPOOL2
PVOID WsktraceExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
	struct wt_line l;
	uint64_t seq;
	PVOID p;
	call_begin(&l, "ExAllocatePool2");
	wt_ku64(&l, "Flags", Flags);
	wt_ku64(&l, "NumberOfBytes", NumberOfBytes);
	wt_ku64(&l, "Tag", Tag);
	seq = call_end(&l);
	p = ExAllocatePool2(Flags, NumberOfBytes, Tag);
	pool_return(seq, p, NumberOfBytes);
	return p;
}
#endif

PVOID WsktraceExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
	struct wt_line l;
	uint64_t seq;
	PVOID p;
	call_begin(&l, "ExAllocatePoolWithTag");
	wt_key(&l, "PoolType");
	if (PoolType == NonPagedPool)
		wt_str(&l, "NonPagedPool");
	else if (PoolType == PagedPool)
		wt_str(&l, "PagedPool");
	else if ((int)PoolType == 512)
		wt_str(&l, "NonPagedPoolNx");
	else
		wt_u64(&l, (uint64_t)PoolType);
	wt_ku64(&l, "NumberOfBytes", NumberOfBytes);
	wt_ku64(&l, "Tag", Tag);
	seq = call_end(&l);
	p = ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
	pool_return(seq, p, NumberOfBytes);
	return p;
}

void WsktraceExFreePoolWithTag(PVOID P, ULONG Tag)
{
	struct wt_line l;
	call_begin(&l, "ExFreePoolWithTag");
	wt_kname(&l, "P", WT_POOL, P);
	wt_ku64(&l, "Tag", Tag);
	call_end(&l);
	wt_kill_obj(WT_POOL, P);
	ExFreePoolWithTag(P, Tag);
}

void WsktraceExFreePool(PVOID P)
{
	struct wt_line l;
	call_begin(&l, "ExFreePool");
	wt_kname(&l, "P", WT_POOL, P);
	call_end(&l);
	wt_kill_obj(WT_POOL, P);
	ExFreePool(P);
}

/* ---- MDLs ---- */

PMDL WsktraceIoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp)
{
	struct wt_line l;
	uint64_t seq;
	PMDL m;
	uint64_t off = 0;
	uint32_t pool = wt_pool_at(VirtualAddress, Length, &off);
	call_begin(&l, "IoAllocateMdl");
	wt_key(&l, "VirtualAddress");
	if (pool) {
		/* A pointer into driver memory: the block and the offset. */
		wt_open(&l, NULL);
		wt_key(&l, "pool");
		wt_name(&l, WT_POOL, pool);
		wt_ku64(&l, "offset", off);
		wt_close(&l);
	} else {
		wt_ptr(&l, VirtualAddress);
	}
	wt_ku64(&l, "Length", Length);
	wt_kbool(&l, "SecondaryBuffer", SecondaryBuffer);
	wt_kbool(&l, "ChargeQuota", ChargeQuota);
	k_irp(&l, Irp);
	seq = call_end(&l);
	m = IoAllocateMdl(VirtualAddress, Length, SecondaryBuffer, ChargeQuota, Irp);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_key(&l, "value");
	if (m)
		wt_bindname(&l, WT_MDL, wt_bind_obj(WT_MDL, m, 0));
	else
		wt_null(&l);
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return m;
}

void WsktraceMmBuildMdlForNonPagedPool(PMDL Mdl)
{
	struct wt_line l;
	call_begin(&l, "MmBuildMdlForNonPagedPool");
	wt_kname(&l, "MemoryDescriptorList", WT_MDL, Mdl);
	call_end(&l);
	MmBuildMdlForNonPagedPool(Mdl);
}

void WsktraceIoFreeMdl(PMDL Mdl)
{
	struct wt_line l;
	call_begin(&l, "IoFreeMdl");
	wt_kname(&l, "Mdl", WT_MDL, Mdl);
	call_end(&l);
	wt_kill_obj(WT_MDL, Mdl);
	IoFreeMdl(Mdl);
}

/* ---- FWPS (callout drivers; build with WSKTRACE_FWPS and fwpkclnt) ---- */

#ifdef WSKTRACE_FWPS
/* Which ALE redirect layer a classify is at. The recorder does not wrap the
 * classifyFn; it learns the layer from the "classify" event the harness
 * writes there (WsktraceEnv), on that thread, and carries it to the classify
 * handle, so FwpsApplyModifiedLayerData0 knows whether the layer data is an
 * FWPS_CONNECT_REQUEST0 or an FWPS_BIND_REQUEST0. */
enum { LAYER_OTHER = 0, LAYER_CONNECT, LAYER_BIND };
#define WT_FWPS_SLOTS 16
struct wt_fwslot {
	const void *key; /* a thread, a classify handle, or layer data */
	int layer;
	unsigned char snap[sizeof(FWPS_CONNECT_REQUEST0)]; /* layer data: as the callout got it */
};
static struct wt_fwslot fw_thread[WT_FWPS_SLOTS], fw_handle[WT_FWPS_SLOTS], fw_data[WT_FWPS_SLOTS];

#ifdef WSKTRACE_USERMODE
static const void *cur_thread(void) { return (const void *)1; }
#else
/* PsGetCurrentThreadId, not KeGetCurrentThread: MinGW's inline reading of gs
 * trips GCC 12's -Warray-bounds at -O2. */
static const void *cur_thread(void) { return (const void *)PsGetCurrentThreadId(); }
#endif

static int fw_find(struct wt_fwslot *t, const void *key, int make)
{
	int i, free_ = -1;
	unsigned long st;
	wt_plat_lock(&st);
	for (i = 0; i < WT_FWPS_SLOTS; i++) {
		if (t[i].key == key) {
			wt_plat_unlock(st);
			return i;
		}
		if (!t[i].key && free_ < 0)
			free_ = i;
	}
	if (make && free_ >= 0)
		t[free_].key = key;
	wt_plat_unlock(st);
	return make ? free_ : -1;
}

static void fw_note_classify(const char *fields)
{
	const char *p;
	int layer = LAYER_OTHER, i;
	if (!fields)
		return;
	for (p = fields; *p; p++) {
		const char *a = "FWPS_LAYER_ALE_CONNECT_REDIRECT_V", *b = "FWPS_LAYER_ALE_BIND_REDIRECT_V";
		int j;
		for (j = 0; a[j] && p[j] == a[j]; j++)
			;
		if (!a[j]) {
			layer = LAYER_CONNECT;
			break;
		}
		for (j = 0; b[j] && p[j] == b[j]; j++)
			;
		if (!b[j]) {
			layer = LAYER_BIND;
			break;
		}
	}
	i = fw_find(fw_thread, cur_thread(), 1);
	if (i >= 0)
		fw_thread[i].layer = layer;
}

static int differs(const void *a, const void *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	size_t i;
	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return 1;
	return 0;
}

static const char *const redirect_states[] = {"FWPS_CONNECTION_NOT_REDIRECTED", "FWPS_CONNECTION_REDIRECTED_BY_SELF",
					      "FWPS_CONNECTION_REDIRECTED_BY_OTHER",
					      "FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF"};

NTSTATUS WsktraceFwpsRedirectHandleCreate0(const GUID *providerGuid, UINT32 flags, HANDLE *redirectHandle)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "FwpsRedirectHandleCreate0");
	wt_kptr(&l, "providerGuid", providerGuid);
	wt_ku64(&l, "flags", flags);
	wt_kptr(&l, "redirectHandle", redirectHandle);
	seq = call_end(&l);
	st = FwpsRedirectHandleCreate0(providerGuid, flags, redirectHandle);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (NT_SUCCESS(st) && redirectHandle) {
		wt_open(&l, "out");
		wt_key(&l, "redirectHandle");
		wt_bindname(&l, WT_RHANDLE, wt_bind_obj(WT_RHANDLE, *redirectHandle, 0));
		wt_close(&l);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return st;
}

void WsktraceFwpsRedirectHandleDestroy0(HANDLE redirectHandle)
{
	struct wt_line l;
	call_begin(&l, "FwpsRedirectHandleDestroy0");
	wt_kname(&l, "redirectHandle", WT_RHANDLE, redirectHandle);
	call_end(&l);
	wt_kill_obj(WT_RHANDLE, redirectHandle);
	FwpsRedirectHandleDestroy0(redirectHandle);
}

FWPS_CONNECTION_REDIRECT_STATE WsktraceFwpsQueryConnectionRedirectState0(HANDLE redirectRecords, HANDLE redirectHandle,
									 void **redirectContext)
{
	struct wt_line l;
	uint64_t seq;
	FWPS_CONNECTION_REDIRECT_STATE r;
	call_begin(&l, "FwpsQueryConnectionRedirectState0");
	wt_kptr(&l, "redirectRecords", redirectRecords);
	wt_kname(&l, "redirectHandle", WT_RHANDLE, redirectHandle);
	wt_kptr(&l, "redirectContext", redirectContext);
	seq = call_end(&l);
	r = FwpsQueryConnectionRedirectState0(redirectRecords, redirectHandle, redirectContext);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_key(&l, "value");
	if ((unsigned)r < 4)
		wt_str(&l, redirect_states[r]);
	else
		wt_u64(&l, (uint64_t)r);
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return r;
}

NTSTATUS WsktraceFwpsAcquireClassifyHandle0(void *classifyContext, UINT32 flags, UINT64 *classifyHandle)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "FwpsAcquireClassifyHandle0");
	wt_kptr(&l, "classifyContext", classifyContext);
	wt_ku64(&l, "flags", flags);
	wt_kptr(&l, "classifyHandle", classifyHandle);
	seq = call_end(&l);
	st = FwpsAcquireClassifyHandle0(classifyContext, flags, classifyHandle);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (NT_SUCCESS(st) && classifyHandle) {
		int t = fw_find(fw_thread, cur_thread(), 0), hslot = fw_find(fw_handle, (const void *)(ULONG_PTR)*classifyHandle, 1);
		if (hslot >= 0)
			fw_handle[hslot].layer = t >= 0 ? fw_thread[t].layer : LAYER_OTHER;
		wt_open(&l, "out");
		wt_key(&l, "classifyHandle");
		wt_bindname(&l, WT_CHANDLE, wt_bind_obj(WT_CHANDLE, (const void *)(ULONG_PTR)*classifyHandle, 0));
		wt_close(&l);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return st;
}

void WsktraceFwpsReleaseClassifyHandle0(UINT64 classifyHandle)
{
	struct wt_line l;
	call_begin(&l, "FwpsReleaseClassifyHandle0");
	wt_kname(&l, "classifyHandle", WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	call_end(&l);
	wt_kill_obj(WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	{
		int i = fw_find(fw_handle, (const void *)(ULONG_PTR)classifyHandle, 0);
		if (i >= 0)
			fw_handle[i].key = NULL;
	}
	FwpsReleaseClassifyHandle0(classifyHandle);
}

NTSTATUS WsktraceFwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags,
						       PVOID *writableLayerData, FWPS_CLASSIFY_OUT0 *classifyOut)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "FwpsAcquireWritableLayerDataPointer0");
	wt_kname(&l, "classifyHandle", WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	wt_ku64(&l, "filterId", filterId);
	wt_ku64(&l, "flags", flags);
	wt_kptr(&l, "writableLayerData", writableLayerData);
	wt_kptr(&l, "classifyOut", classifyOut);
	seq = call_end(&l);
	st = FwpsAcquireWritableLayerDataPointer0(classifyHandle, filterId, flags, writableLayerData, classifyOut);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (NT_SUCCESS(st) && writableLayerData && *writableLayerData) {
		int h = fw_find(fw_handle, (const void *)(ULONG_PTR)classifyHandle, 0);
		int d = fw_find(fw_data, *writableLayerData, 1);
		if (d >= 0) {
			fw_data[d].layer = h >= 0 ? fw_handle[h].layer : LAYER_OTHER;
			if (fw_data[d].layer == LAYER_CONNECT)
				RtlCopyMemory(fw_data[d].snap, *writableLayerData, sizeof(FWPS_CONNECT_REQUEST0));
			else if (fw_data[d].layer == LAYER_BIND)
				RtlCopyMemory(fw_data[d].snap, *writableLayerData, sizeof(FWPS_BIND_REQUEST0));
		}
		wt_open(&l, "out");
		wt_key(&l, "writableLayerData");
		wt_bindname(&l, WT_LDATA, wt_bind_obj(WT_LDATA, *writableLayerData, 0));
		wt_close(&l);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return st;
}

/* What the callout wrote into its FWPS_CONNECT_REQUEST0 / FWPS_BIND_REQUEST0
 * is written as connectRequest / bindRequest (docs/wsktrace.md) when it
 * differs from what the layer data held when the callout took it. Without a
 * "classify" event on that thread the layer is unknown and nothing is
 * decoded: the replay then applies the layer data unchanged. */
void WsktraceFwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags)
{
	struct wt_line l;
	int d = modifiedLayerData ? fw_find(fw_data, modifiedLayerData, 0) : -1;
	call_begin(&l, "FwpsApplyModifiedLayerData0");
	wt_kname(&l, "classifyHandle", WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	wt_kname(&l, "modifiedLayerData", WT_LDATA, modifiedLayerData);
	wt_ku64(&l, "flags", flags);
	if (d >= 0 && fw_data[d].layer == LAYER_CONNECT &&
	    differs(fw_data[d].snap, modifiedLayerData, sizeof(FWPS_CONNECT_REQUEST0))) {
		const FWPS_CONNECT_REQUEST0 *c = (const FWPS_CONNECT_REQUEST0 *)modifiedLayerData;
		const FWPS_CONNECT_REQUEST0 *o = (const FWPS_CONNECT_REQUEST0 *)(const void *)fw_data[d].snap;
		wt_open(&l, "connectRequest");
		if (differs(&o->localAddressAndPort, &c->localAddressAndPort, sizeof c->localAddressAndPort))
			k_addr(&l, "localAddressAndPort", &c->localAddressAndPort);
		k_addr(&l, "remoteAddressAndPort", &c->remoteAddressAndPort);
		wt_ku64(&l, "localRedirectTargetPID", c->localRedirectTargetPID);
		wt_kname(&l, "localRedirectHandle", WT_RHANDLE, c->localRedirectHandle);
		wt_key(&l, "localRedirectContext");
		if (c->localRedirectContext)
			wt_hexbuf(&l, c->localRedirectContext, c->localRedirectContextSize,
				  pool_of(c->localRedirectContext, c->localRedirectContextSize));
		else
			wt_null(&l);
		wt_close(&l);
	} else if (d >= 0 && fw_data[d].layer == LAYER_BIND &&
		   differs(fw_data[d].snap, modifiedLayerData, sizeof(FWPS_BIND_REQUEST0))) {
		const FWPS_BIND_REQUEST0 *b = (const FWPS_BIND_REQUEST0 *)modifiedLayerData;
		wt_open(&l, "bindRequest");
		k_addr(&l, "localAddressAndPort", &b->localAddressAndPort);
		wt_ku64(&l, "portReservationToken", b->portReservationToken);
		wt_close(&l);
	}
	call_end(&l);
	if (d >= 0)
		fw_data[d].key = NULL;
	wt_kill_obj(WT_LDATA, modifiedLayerData);
	FwpsApplyModifiedLayerData0(classifyHandle, modifiedLayerData, flags);
}

NTSTATUS WsktraceFwpsQueryConnectionSioFormatRedirectRecords0(HANDLE redirectRecords, PVOID outputBuffer,
							       SIZE_T outputBufferLength, SIZE_T *bytesTransferred)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "FwpsQueryConnectionSioFormatRedirectRecords0");
	wt_kptr(&l, "RedirectRecords", redirectRecords);
	wt_key(&l, "OutputBuffer");
	if (outputBuffer)
		wt_lenbuf(&l, outputBufferLength, pool_of(outputBuffer, outputBufferLength));
	else
		wt_null(&l);
	wt_ku64(&l, "OutputBufferLength", outputBufferLength);
	wt_kptr(&l, "BytesTransferred", bytesTransferred);
	seq = call_end(&l);
	st = FwpsQueryConnectionSioFormatRedirectRecords0(redirectRecords, outputBuffer, outputBufferLength, bytesTransferred);
	wt_begin(&l, "return");
	wt_ku64(&l, "call", seq);
	wt_kstatus(&l, "status", (uint32_t)st);
	if (NT_SUCCESS(st) && bytesTransferred) {
		wt_open(&l, "out");
		wt_ku64(&l, "BytesTransferred", *bytesTransferred);
		if (outputBuffer) {
			wt_key(&l, "OutputBuffer");
			wt_hexbuf(&l, outputBuffer, *bytesTransferred < outputBufferLength ? *bytesTransferred : outputBufferLength, 0);
		}
		wt_close(&l);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
	return st;
}

NTSTATUS WsktraceFwpsPendClassify0(UINT64 classifyHandle, UINT64 filterId, UINT32 flags, FWPS_CLASSIFY_OUT0 *classifyOut)
{
	struct wt_line l;
	uint64_t seq;
	NTSTATUS st;
	call_begin(&l, "FwpsPendClassify0");
	wt_kname(&l, "classifyHandle", WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	wt_ku64(&l, "filterId", filterId);
	wt_ku64(&l, "flags", flags);
	wt_kptr(&l, "classifyOut", classifyOut);
	seq = call_end(&l);
	st = FwpsPendClassify0(classifyHandle, filterId, flags, classifyOut);
	ret_status(seq, st);
	return st;
}

void WsktraceFwpsCompleteClassify0(UINT64 classifyHandle, UINT32 flags, const FWPS_CLASSIFY_OUT0 *classifyOut)
{
	struct wt_line l;
	call_begin(&l, "FwpsCompleteClassify0");
	wt_kname(&l, "classifyHandle", WT_CHANDLE, (const void *)(ULONG_PTR)classifyHandle);
	wt_ku64(&l, "flags", flags);
	wt_kptr(&l, "classifyOut", classifyOut);
	if (classifyOut) {
		wt_ku64(&l, "actionType", classifyOut->actionType);
		wt_ku64(&l, "rights", classifyOut->rights);
	}
	call_end(&l);
	FwpsCompleteClassify0(classifyHandle, flags, classifyOut);
}
#endif /* WSKTRACE_FWPS */

/* ---- starting, stopping, draining ---- */

void WsktraceEnv(const char *What, const char *FieldsJson)
{
	struct wt_line l;
#ifdef WSKTRACE_FWPS
	if (What && What[0] == 'c' && What[1] == 'l' && What[2] == 'a' && What[3] == 's' && What[4] == 's' &&
	    What[5] == 'i' && What[6] == 'f' && What[7] == 'y' && What[8] == 0)
		fw_note_classify(FieldsJson);
#endif
	wt_begin(&l, "env");
	wt_kstr(&l, "what", What);
	if (FieldsJson && FieldsJson[0]) {
		wt_raw(&l, ",");
		wt_raw(&l, FieldsJson);
	}
	wt_commit(&l, NULL, 0);
	wt_after_event();
}

void WsktraceNote(const char *Text) { wt_note(Text); }

SIZE_T WsktraceDrain(PVOID Out, SIZE_T OutBytes) { return wt_drain((char *)Out, OutBytes); }

#ifdef WSKTRACE_USERMODE
/* The tests allocate with the fake kernel's pool. */
static PVOID plat_alloc(SIZE_T n) { return ExAllocatePool2(POOL_FLAG_NON_PAGED, n, WT_TAG); }
static void plat_free(PVOID p) { ExFreePoolWithTag(p, WT_TAG); }
static void wt_after_event(void) {}
NTSTATUS WsktraceFlush(void) { return STATUS_SUCCESS; }
#else
static PVOID plat_alloc(SIZE_T n)
{
	PVOID p = ExAllocatePoolWithTag(NonPagedPool, n, WT_TAG);
	if (p)
		RtlZeroMemory(p, n);
	return p;
}
static void plat_free(PVOID p) { ExFreePoolWithTag(p, WT_TAG); }

NTSTATUS WsktraceFlush(void)
{
	IO_STATUS_BLOCK iosb;
	SIZE_T n;
	NTSTATUS st = STATUS_SUCCESS;
	if (KeGetCurrentIrql() != PASSIVE_LEVEL)
		return STATUS_PENDING;
	if (!W.file || !W.stage)
		return STATUS_INVALID_DEVICE_STATE;
	while ((n = wt_drain(W.stage, W.bufsize)) > 0) {
		st = ZwWriteFile(W.file, NULL, NULL, NULL, &iosb, W.stage, (ULONG)n, NULL, NULL);
		if (!NT_SUCCESS(st))
			break;
	}
	return st;
}

static void NTAPI flush_work(PDEVICE_OBJECT dev, PVOID ctx)
{
	(void)dev;
	(void)ctx;
	WsktraceFlush();
	InterlockedExchange(&W.work_queued, 0);
}

/* wt_after_event queues a flush when the buffer is half full. */
static void wt_after_event(void)
{
	if (W.work && W.file && wt_pending_bytes() > W.bufsize / 2 && wt_cas(&W.work_queued, 1, 0) == 0)
		IoQueueWorkItem(W.work, flush_work, DelayedWorkQueue, NULL);
}
#endif

NTSTATUS WsktraceStart(const char *Source, PCWSTR FilePath, PDEVICE_OBJECT FlushDevice, SIZE_T BufferBytes,
		       ULONG ObjectSlots)
{
	ULONG n = ObjectSlots ? ObjectSlots : 1024;
	if (BufferBytes < 16384)
		BufferBytes = 16384;
	W.bufsize = BufferBytes;
	W.nsocks = n / 4 + 1;
	W.nirps = n / 4 + 1;
	W.buf = (char *)plat_alloc(BufferBytes);
	W.stage = (char *)plat_alloc(BufferBytes);
	W.objs = (struct wt_obj *)plat_alloc(n * sizeof(struct wt_obj));
	W.socks = (wt_sock *)plat_alloc(W.nsocks * sizeof(wt_sock));
	W.irps = (wt_irp *)plat_alloc(W.nirps * sizeof(wt_irp));
	if (!W.buf || !W.stage || !W.objs || !W.socks || !W.irps) {
		WsktraceStop();
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	RtlZeroMemory(W.socks, W.nsocks * sizeof(wt_sock));
	RtlZeroMemory(W.irps, W.nirps * sizeof(wt_irp));
#ifndef WSKTRACE_USERMODE
	KeInitializeSpinLock(&wt_lock);
	if (FilePath) {
		UNICODE_STRING us;
		OBJECT_ATTRIBUTES oa;
		IO_STATUS_BLOCK iosb;
		NTSTATUS st;
		RtlInitUnicodeString(&us, FilePath);
		InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
		st = ZwCreateFile(&W.file, FILE_APPEND_DATA | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
				  FILE_SHARE_READ, FILE_OVERWRITE_IF, FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
		if (!NT_SUCCESS(st)) {
			W.file = NULL;
			WsktraceStop();
			return st;
		}
	}
	if (FlushDevice)
		W.work = IoAllocateWorkItem(FlushDevice);
#else
	(void)FilePath;
	(void)FlushDevice;
#endif
	if (wt_init(W.buf, BufferBytes, W.objs, n, Source) != 0) {
		WsktraceStop();
		return STATUS_INVALID_PARAMETER;
	}
	return STATUS_SUCCESS;
}

void WsktraceStop(void)
{
#ifndef WSKTRACE_USERMODE
	if (W.file) {
		WsktraceFlush();
		ZwClose(W.file);
		W.file = NULL;
	}
	if (W.work) {
		IoFreeWorkItem(W.work);
		W.work = NULL;
	}
#endif
	/* The core must not touch the buffer once it is freed. */
	wt_shutdown();
	if (W.buf)
		plat_free(W.buf);
	if (W.stage)
		plat_free(W.stage);
	if (W.objs)
		plat_free(W.objs);
	if (W.socks)
		plat_free(W.socks);
	if (W.irps)
		plat_free(W.irps);
	W.buf = W.stage = NULL;
	W.objs = NULL;
	W.socks = NULL;
	W.irps = NULL;
}
