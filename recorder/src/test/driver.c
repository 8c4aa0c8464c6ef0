/*
 * driver.c - small WSK drivers written the way kernel drivers are, built
 * with the recorder exactly as docs/recording.md says (WSKTRACE_RECORD and
 * wsktrace_rec.h), run against the fake kernel (fakekernel.c). Each
 * scenario writes one trace; recorder_test.go replays it with wsksim.
 *
 *   driver SCENARIO OUT.jsonl
 */
#include "fake.h"
#define WSKTRACE_RECORD
#include "../wsktrace_rec.h"
#include <stdio.h>
#include <string.h>

#define TAG 0x53706657 /* "WfpS" */

static WSK_REGISTRATION reg;
static WSK_PROVIDER_NPI prov;
static const WSK_CLIENT_DISPATCH client_dispatch = {0x0100, 0, NULL};
static volatile int done;

static NTSTATUS NTAPI on_done(PDEVICE_OBJECT d, PIRP irp, PVOID ctx)
{
	(void)d, (void)irp;
	*(volatile int *)ctx = 1;
	return STATUS_MORE_PROCESSING_REQUIRED;
}

static void prep(PIRP irp)
{
	IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
	done = 0;
	IoSetCompletionRoutine(irp, on_done, (PVOID)&done, TRUE, TRUE, TRUE);
}

/* wait is the driver's KeWaitForSingleObject: the fake completes what it pended. */
static NTSTATUS wait(PIRP irp, NTSTATUS st)
{
	if (st == STATUS_PENDING)
		fake_wait(0);
	return done ? irp->IoStatus.Status : st;
}

static void sa_in(SOCKADDR *sa, ULONG ip, USHORT port)
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

static int start_wsk(void)
{
	WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
	if (!NT_SUCCESS(WskRegister(&npi, &reg)))
		return -1;
	if (!NT_SUCCESS(WskCaptureProviderNPI(&reg, WSK_INFINITE_WAIT, &prov)))
		return -1;
	return 0;
}

static void stop_wsk(void)
{
	WskReleaseProviderNPI(&reg);
	WskDeregister(&reg);
}

static PWSK_SOCKET new_socket(PIRP irp, ULONG flags, PVOID ctx, const void *disp)
{
	NTSTATUS st;
	prep(irp);
	st = prov.Dispatch->WskSocket(prov.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, flags, ctx, disp, NULL, NULL, NULL, irp);
	st = wait(irp, st);
	return NT_SUCCESS(st) ? (PWSK_SOCKET)irp->IoStatus.Information : NULL;
}

static NTSTATUS close_socket(PIRP irp, PWSK_SOCKET s)
{
	prep(irp);
	return wait(irp, ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskCloseSocket(s, irp));
}

/* The redirect records a callout's connect redirection left on the connection
 * (opaque bytes: the replay compares them by identity, not content). */
static const unsigned char records[96] = {0x57, 0x46, 0x50, 0x52, 0x02, 0x00, 0x01, 0x00, 0x60};
static const unsigned char context[3] = {0xc0, 0xff, 0xee};

/* (a) a transparent proxy: accept the redirected connection, read its redirect
 * records (size probe, then the copy) and context, set the records on the
 * outbound socket before connecting to the original destination. */
static int proxy(void)
{
	PIRP irp;
	PWSK_SOCKET ls, in, out;
	SOCKADDR local, la, ra, any, orig;
	SIZE_T n = 0, m = 0;
	PVOID recbuf, ctxbuf;
	NTSTATUS st;
	const WSK_PROVIDER_CONNECTION_DISPATCH *cd;

	if (start_wsk())
		return 1;
	irp = IoAllocateIrp(1, FALSE);
	WsktraceEnv("peer_listen", "\"addr\":\"198.51.100.7:443\"");
	ls = new_socket(irp, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
	sa_in(&local, 0x7f000001, 9000);
	fake_set_pending(1);
	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskBind(ls, &local, 0, irp));
	fake_set_pending(0);
	if (!NT_SUCCESS(st))
		return 1;

	WsktraceEnv("redirected_connect", "\"name\":\"app1\",\"from\":\"192.0.2.10:50000\",\"original\":\"198.51.100.7:443\","
					  "\"to\":\"127.0.0.1:9000\",\"handle\":\"H1\",\"context\":{\"hex\":\"c0ffee\"},\"target_pid\":4");
	fake_redirected_connection(9000, records, sizeof records, context, sizeof context, 0xC000020A, 50000);

	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskAccept(ls, 0, NULL, NULL, &la, &ra, irp));
	if (!NT_SUCCESS(st))
		return 1;
	in = (PWSK_SOCKET)irp->IoStatus.Information;

	/* Size probe, pended to show a completion at DISPATCH_LEVEL too. */
	fake_set_pending(1);
	prep(irp);
	st = ((const WSK_PROVIDER_BASIC_DISPATCH *)in->Dispatch)->WskControlSocket(
		in, WskIoctl, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, NULL, 0, NULL, &n, irp);
	if (st == STATUS_PENDING)
		fake_wait(1);
	fake_set_pending(0);
	if (irp->IoStatus.Status != STATUS_BUFFER_TOO_SMALL || n == 0)
		return 1;
	recbuf = ExAllocatePool2(POOL_FLAG_NON_PAGED, n, TAG);
	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_BASIC_DISPATCH *)in->Dispatch)->WskControlSocket(
			       in, WskIoctl, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, NULL, n, recbuf, &n, irp));
	if (!NT_SUCCESS(st))
		return 1;
	ctxbuf = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TAG);
	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_BASIC_DISPATCH *)in->Dispatch)->WskControlSocket(
			       in, WskIoctl, SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 0, 0, NULL, 64, ctxbuf, &m, irp));
	if (!NT_SUCCESS(st))
		return 1;

	out = new_socket(irp, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
	cd = (const WSK_PROVIDER_CONNECTION_DISPATCH *)out->Dispatch;
	prep(irp);
	st = wait(irp, cd->Basic.WskControlSocket(out, WskIoctl, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, n, recbuf, 0,
						  NULL, NULL, irp));
	if (!NT_SUCCESS(st))
		return 1;
	sa_in(&any, 0, 0);
	prep(irp);
	wait(irp, cd->WskBind(out, &any, 0, irp));
	sa_in(&orig, 0xC6336407, 443);
	prep(irp);
	st = wait(irp, cd->WskConnect(out, &orig, 0, irp));
	if (!NT_SUCCESS(st))
		return 1;
	close_socket(irp, out);
	close_socket(irp, in);
	close_socket(irp, ls);
	ExFreePool(recbuf);
	ExFreePool(ctxbuf);
	IoFreeIrp(irp);
	stop_wsk();
	return 0;
}

/* (b) a driver bug: the IRP is freed twice. */
static int misuse(void)
{
	PIRP irp = IoAllocateIrp(1, FALSE);
	IoFreeIrp(irp);
	IoFreeIrp(irp);
	return 0;
}

/* (b2) more driver bugs: a completion routine that returns STATUS_SUCCESS for
 * the driver's own IRP, and a socket, the provider NPI and the registration
 * left behind. */
static NTSTATUS NTAPI done_wrong(PDEVICE_OBJECT d, PIRP irp, PVOID ctx)
{
	(void)d, (void)irp;
	*(volatile int *)ctx = 1;
	return STATUS_SUCCESS;
}

static int leaks(void)
{
	PIRP irp;
	PWSK_SOCKET s;
	SOCKADDR any;
	if (start_wsk())
		return 1;
	irp = IoAllocateIrp(1, FALSE);
	s = new_socket(irp, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
	sa_in(&any, 0, 0);
	IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
	done = 0;
	IoSetCompletionRoutine(irp, done_wrong, (PVOID)&done, TRUE, TRUE, TRUE);
	fake_set_pending(1);
	((const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch)->WskBind(s, &any, 0, irp);
	fake_wait(0);
	fake_set_pending(0);
	return done ? 0 : 1;
}

/* (f) a callout that looks at a connection at ALE_CONNECT_REDIRECT and lets it
 * go on unchanged (it takes the writable layer data and applies it as it was). */
static int callout(void)
{
	HANDLE h;
	UINT64 ch;
	PVOID ld;
	FWPS_CLASSIFY_OUT0 co;
	static const GUID provider = {0x5c8c9b3a, 0x1, 0x2, {0, 1, 2, 3, 4, 5, 6, 7}};
	memset(&co, 0, sizeof co);
	if (!NT_SUCCESS(FwpsRedirectHandleCreate0(&provider, 0, &h)))
		return 1;
	WsktraceEnv("peer_listen", "\"addr\":\"198.51.100.7:443\"");
	WsktraceEnv("peer_connect", "\"to\":\"198.51.100.7:443\",\"name\":\"peer1\",\"from\":\"0.0.0.0:0\"");
	/* What the engine passed the classifyFn; a real harness knows it from its classifyFn. */
	WsktraceEnv("classify", "\"layer\":\"FWPS_LAYER_ALE_CONNECT_REDIRECT_V4\",\"callout\":\"C1\",\"filter\":65537,"
				"\"local\":\"10.0.0.1:49152\",\"remote\":\"198.51.100.7:443\",\"protocol\":\"IPPROTO_TCP\","
				"\"flags\":0,\"currentMetadataValues\":32,\"processId\":1000,\"rights\":1");
	if (FwpsQueryConnectionRedirectState0(NULL, h, NULL) != FWPS_CONNECTION_NOT_REDIRECTED)
		return 1;
	if (!NT_SUCCESS(FwpsAcquireClassifyHandle0(&co, 0, &ch)))
		return 1;
	if (!NT_SUCCESS(FwpsAcquireWritableLayerDataPointer0(ch, 65537, 0, &ld, &co)))
		return 1;
	FwpsApplyModifiedLayerData0(ch, ld, 0);
	FwpsReleaseClassifyHandle0(ch);
	WsktraceEnv("classify_return", "\"callout\":\"C1\",\"filter\":65537,\"actionType\":\"FWP_ACTION_PERMIT\",\"rights\":0,\"flags\":0");
	FwpsRedirectHandleDestroy0(h);
	return 0;
}

/* (g) a callout and its proxy in one driver: the callout redirects a
 * connection to the driver's own listener; the proxy accepts it, copies its
 * redirect records to its outbound socket and connects to the original
 * destination, where the callout sees its own records and leaves it alone. */
static HANDLE cp_handle;
static int cp_noset;

/* cp_classify is the callout's classifyFn at ALE_CONNECT_REDIRECT: a connection
 * it has not redirected yet goes to the proxy listening at 127.0.0.1:9000. */
static void cp_classify(HANDLE recs, const char *classify)
{
	UINT64 ch;
	PVOID ld;
	FWPS_CLASSIFY_OUT0 co;
	FWPS_CONNECT_REQUEST0 *cr;
	FWPS_CONNECTION_REDIRECT_STATE s;
	WsktraceEnv("classify", classify);
	memset(&co, 0, sizeof co);
	s = FwpsQueryConnectionRedirectState0(recs, cp_handle, NULL);
	if (s == FWPS_CONNECTION_REDIRECTED_BY_SELF || s == FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF) {
		WsktraceEnv("classify_return", "\"callout\":\"C1\",\"filter\":65537,\"actionType\":\"FWP_ACTION_PERMIT\",\"rights\":1,\"flags\":0");
		return;
	}
	if (!NT_SUCCESS(FwpsAcquireClassifyHandle0(&co, 0, &ch)))
		return;
	if (NT_SUCCESS(FwpsAcquireWritableLayerDataPointer0(ch, 65537, 0, &ld, &co))) {
		cr = (FWPS_CONNECT_REQUEST0 *)ld;
		cr->remoteAddressAndPort.ss_family = AF_INET;
		memcpy(cr->remoteAddressAndPort.ss_pad, "\x23\x28\x7f\x00\x00\x01", 6); /* port 9000, 127.0.0.1 */
		cr->localRedirectTargetPID = 4;
		cr->localRedirectHandle = cp_handle;
		FwpsApplyModifiedLayerData0(ch, ld, 0);
	}
	FwpsReleaseClassifyHandle0(ch);
	WsktraceEnv("classify_return", "\"callout\":\"C1\",\"filter\":65537,\"actionType\":\"FWP_ACTION_PERMIT\",\"rights\":0,\"flags\":0");
	/* The engine sends the connection to the listener. */
	fake_redirected_connection(9000, records, sizeof records, NULL, 0, 0x7f000001, 49152);
}

static void cp_outbound_classify(HANDLE recs)
{
	if (recs)
		cp_classify(recs, "\"layer\":\"FWPS_LAYER_ALE_CONNECT_REDIRECT_V4\",\"callout\":\"C1\",\"filter\":65537,"
				  "\"local\":\"10.0.0.1:49153\",\"remote\":\"198.51.100.7:443\",\"protocol\":\"IPPROTO_TCP\","
				  "\"flags\":2097152,\"currentMetadataValues\":1073741856,\"processId\":4,\"rights\":1,\"redirectRecords\":1");
	else
		cp_classify(recs, "\"layer\":\"FWPS_LAYER_ALE_CONNECT_REDIRECT_V4\",\"callout\":\"C1\",\"filter\":65537,"
				  "\"local\":\"10.0.0.1:49153\",\"remote\":\"198.51.100.7:443\",\"protocol\":\"IPPROTO_TCP\","
				  "\"flags\":0,\"currentMetadataValues\":32,\"processId\":4,\"rights\":1");
}

static int callproxy(void)
{
	static const GUID provider = {0x5c8c9b3a, 0x1, 0x2, {0, 1, 2, 3, 4, 5, 6, 7}};
	PIRP irp;
	PWSK_SOCKET ls, in, out;
	SOCKADDR local, la, ra, any, orig;
	SIZE_T n = 0;
	PVOID recbuf;
	NTSTATUS st;
	const WSK_PROVIDER_CONNECTION_DISPATCH *cd;

	if (start_wsk())
		return 1;
	irp = IoAllocateIrp(1, FALSE);
	if (!NT_SUCCESS(FwpsRedirectHandleCreate0(&provider, 0, &cp_handle)))
		return 1;
	WsktraceEnv("peer_listen", "\"addr\":\"198.51.100.7:443\"");
	ls = new_socket(irp, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
	sa_in(&local, 0x7f000001, 9000);
	prep(irp);
	wait(irp, ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskBind(ls, &local, 0, irp));

	/* An application connects to 198.51.100.7:443; the callout's classifyFn runs. */
	WsktraceEnv("peer_connect", "\"to\":\"198.51.100.7:443\",\"name\":\"peer1\",\"from\":\"0.0.0.0:0\"");
	cp_classify(NULL, "\"layer\":\"FWPS_LAYER_ALE_CONNECT_REDIRECT_V4\",\"callout\":\"C1\",\"filter\":65537,"
			  "\"local\":\"10.0.0.1:49152\",\"remote\":\"198.51.100.7:443\",\"protocol\":\"IPPROTO_TCP\","
			  "\"flags\":0,\"currentMetadataValues\":32,\"processId\":1000,\"rights\":1");

	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch)->WskAccept(ls, 0, NULL, NULL, &la, &ra, irp));
	if (!NT_SUCCESS(st))
		return 1;
	in = (PWSK_SOCKET)irp->IoStatus.Information;
	recbuf = ExAllocatePool2(POOL_FLAG_NON_PAGED, 4096, TAG);
	prep(irp);
	st = wait(irp, ((const WSK_PROVIDER_BASIC_DISPATCH *)in->Dispatch)->WskControlSocket(
			       in, WskIoctl, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, NULL, 4096, recbuf, &n, irp));
	if (!NT_SUCCESS(st))
		return 1;
	out = new_socket(irp, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
	cd = (const WSK_PROVIDER_CONNECTION_DISPATCH *)out->Dispatch;
	if (!cp_noset) {
		prep(irp);
		st = wait(irp, cd->Basic.WskControlSocket(out, WskIoctl, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, n, recbuf,
							  0, NULL, NULL, irp));
		if (!NT_SUCCESS(st))
			return 1;
	}
	sa_in(&any, 0, 0);
	prep(irp);
	wait(irp, cd->WskBind(out, &any, 0, irp));
	sa_in(&orig, 0xC6336407, 443);
	fake_set_connect_classify(cp_outbound_classify);
	prep(irp);
	st = wait(irp, cd->WskConnect(out, &orig, 0, irp));
	fake_set_connect_classify(NULL);
	if (!NT_SUCCESS(st))
		return 1;
	close_socket(irp, out);
	close_socket(irp, in);
	close_socket(irp, ls);
	ExFreePool(recbuf);
	FwpsRedirectHandleDestroy0(cp_handle);
	IoFreeIrp(irp);
	stop_wsk();
	return 0;
}

/* (c) a client that sends from pool memory through an MDL. */
static int mdlclient(void)
{
	PIRP irp;
	PWSK_SOCKET s;
	SOCKADDR any, dst;
	char *buf;
	PMDL mdl;
	WSK_BUF wb;
	const WSK_PROVIDER_CONNECTION_DISPATCH *cd;
	if (start_wsk())
		return 1;
	irp = IoAllocateIrp(1, FALSE);
	WsktraceEnv("peer_listen", "\"addr\":\"198.51.100.7:80\"");
	s = new_socket(irp, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
	cd = (const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch;
	sa_in(&any, 0, 0);
	prep(irp);
	wait(irp, cd->WskBind(s, &any, 0, irp));
	sa_in(&dst, 0xC6336407, 80);
	prep(irp);
	wait(irp, cd->WskConnect(s, &dst, 0, irp));
	buf = ExAllocatePoolWithTag(NonPagedPool, 16, TAG);
	memcpy(buf, "hello", 5);
	mdl = IoAllocateMdl(buf, 16, FALSE, FALSE, NULL);
	MmBuildMdlForNonPagedPool(mdl);
	wb.Mdl = mdl;
	wb.Offset = 0;
	wb.Length = 5;
	prep(irp);
	wait(irp, cd->WskSend(s, &wb, 0, irp));
	close_socket(irp, s);
	IoFreeMdl(mdl);
	ExFreePoolWithTag(buf, TAG);
	IoFreeIrp(irp);
	stop_wsk();
	return 0;
}

/* (d) a server that takes connections and data through event callbacks. */
static PWSK_SOCKET accepted;
static char got[64];

static NTSTATUS NTAPI srv_receive(PVOID ctx, ULONG flags, PWSK_DATA_INDICATION di, SIZE_T n, SIZE_T *taken)
{
	(void)ctx, (void)flags;
	if (di && di->Buffer.Mdl && n < sizeof got)
		memcpy(got, (char *)di->Buffer.Mdl->MappedSystemVa + di->Buffer.Offset, n);
	*taken = n;
	return STATUS_SUCCESS;
}
static NTSTATUS NTAPI srv_disconnect(PVOID ctx, ULONG flags)
{
	(void)ctx, (void)flags;
	return STATUS_SUCCESS;
}
static const WSK_CLIENT_CONNECTION_DISPATCH srv_conn = {srv_receive, srv_disconnect, NULL};

static NTSTATUS NTAPI srv_accept(PVOID ctx, ULONG flags, PSOCKADDR la, PSOCKADDR ra, PWSK_SOCKET s, PVOID *sctx,
				 const WSK_CLIENT_CONNECTION_DISPATCH **sdisp)
{
	(void)ctx, (void)flags, (void)la, (void)ra;
	if (!s)
		return STATUS_SUCCESS;
	accepted = s;
	*sctx = &accepted;
	*sdisp = &srv_conn;
	return STATUS_SUCCESS;
}
static const WSK_CLIENT_LISTEN_DISPATCH srv_listen = {(PFN_WSK_ACCEPT_EVENT)(void (*)(void))srv_accept, NULL, NULL};

static int server(void)
{
	PIRP irp;
	PWSK_SOCKET ls;
	SOCKADDR local;
	WSK_EVENT_CALLBACK_CONTROL ctl = {NULL, WSK_EVENT_ACCEPT};
	static int srvctx;
	const WSK_PROVIDER_LISTEN_DISPATCH *ld;
	if (start_wsk())
		return 1;
	irp = IoAllocateIrp(1, FALSE);
	ls = new_socket(irp, WSK_FLAG_LISTEN_SOCKET, &srvctx, &srv_listen);
	ld = (const WSK_PROVIDER_LISTEN_DISPATCH *)ls->Dispatch;
	sa_in(&local, 0x7f000001, 7001);
	prep(irp);
	wait(irp, ld->WskBind(ls, &local, 0, irp));
	ld->Basic.WskControlSocket(ls, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof ctl, &ctl, 0, NULL, NULL, NULL);
	WsktraceEnv("peer_connect", "\"to\":\"127.0.0.1:7001\",\"name\":\"peer1\",\"from\":\"127.0.0.1:49152\"");
	fake_redirected_connection(7001, NULL, 0, NULL, 0, 0x7f000001, 49152);
	WsktraceEnv("peer_send", "\"conn\":\"peer1\",\"data\":{\"hex\":\"68656c6c6f\"}");
	fake_peer_send("hello");
	if (!accepted || strcmp(got, "hello") != 0)
		return 1;
	close_socket(irp, accepted);
	close_socket(irp, ls);
	IoFreeIrp(irp);
	stop_wsk();
	return 0;
}

/* (e) more events than the buffer holds, never drained: the trace must say so. */
static int overflow(void)
{
	int i;
	for (i = 0; i < 1000; i++)
		IoFreeIrp(IoAllocateIrp(1, FALSE));
	return 0;
}

int main(int argc, char **argv)
{
	static char out[1 << 16];
	const char *name;
	FILE *f;
	size_t n;
	int rc;
	if (argc != 3) {
		fprintf(stderr, "usage: driver proxy|misuse|leaks|callout|callproxy|callproxy-noset|mdlclient|server|overflow OUT.jsonl\n");
		return 2;
	}
	name = argv[1];
	if (!NT_SUCCESS(WsktraceStart(name, NULL, NULL, strcmp(name, "overflow") ? 1 << 20 : 16384, 1024))) {
		fprintf(stderr, "driver: WsktraceStart failed\n");
		return 1;
	}
	if (!strcmp(name, "proxy"))
		rc = proxy();
	else if (!strcmp(name, "misuse"))
		rc = misuse();
	else if (!strcmp(name, "leaks"))
		rc = leaks();
	else if (!strcmp(name, "callout"))
		rc = callout();
	else if (!strcmp(name, "callproxy"))
		rc = callproxy();
	else if (!strcmp(name, "callproxy-noset")) {
		cp_noset = 1;
		rc = callproxy();
	}
	else if (!strcmp(name, "mdlclient"))
		rc = mdlclient();
	else if (!strcmp(name, "server"))
		rc = server();
	else if (!strcmp(name, "overflow"))
		rc = overflow();
	else {
		fprintf(stderr, "driver: unknown scenario %s\n", name);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "driver: scenario %s failed\n", name);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f)
		return 1;
	while ((n = WsktraceDrain(out, sizeof out)) > 0)
		fwrite(out, 1, n, f);
	fclose(f);
	WsktraceStop();
	return 0;
}
