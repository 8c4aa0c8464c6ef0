/* fake.h - the fake kernel and WSK provider the recorder's user-mode tests
 * link instead of ntoskrnl and netio (see fakekernel.c). */
#ifndef WSKTRACE_FAKE_H
#define WSKTRACE_FAKE_H
#include <stdarg.h>
#include "ntstatus.h"
#define WIN32_NO_STATUS
#include "windef.h"
#include "winbase.h"
#include "winternl.h"
#include "ddk/ntddk.h"
#include "ddk/wdm.h"
#define WSKTRACE_WINE_HEADERS 1

/* The provider completes a call inline, or pends it until fake_wait. */
void fake_set_pending(int pending);
/* fake_wait completes every pended IRP (at DISPATCH_LEVEL when dispatch). */
void fake_wait(int dispatch);
/* A connection redirected to the listener bound at port lport arrives. */
void fake_redirected_connection(USHORT lport, const unsigned char *records, size_t nrec, const unsigned char *ctx,
				size_t nctx, ULONG from_ip, USHORT from_port);
/* A peer sends data on the last accepted connection (a receive event when enabled). */
void fake_peer_send(const char *data);
/* fake_set_connect_classify: fn runs as the callout's classifyFn at every WskConnect. */
void fake_set_connect_classify(void (*fn)(HANDLE records));
/* Counts of what the fake kernel still holds, for the test's own checks. */
int fake_live_irps(void);
#endif
