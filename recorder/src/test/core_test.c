/*
 * core_test.c - the encoding core on several threads at once: writers
 * commit lines (some with a reservation patched later) and bind names while
 * a drainer empties the buffer. Prints the trace; recorder_test.go parses it
 * and checks that every line is there, whole, in strictly increasing seq.
 *
 *   core_test THREADS EVENTS_PER_THREAD
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "../wsktrace_core.h"

static volatile long spin;
void wt_plat_lock(unsigned long *state)
{
	*state = 0;
	while (__atomic_exchange_n(&spin, 1, __ATOMIC_ACQUIRE))
		;
}
void wt_plat_unlock(unsigned long state)
{
	(void)state;
	__atomic_store_n(&spin, 0, __ATOMIC_RELEASE);
}

static int per;
static volatile int writers_left;

static void *writer(void *arg)
{
	long id = (long)arg;
	int i;
	char obj[1];
	for (i = 0; i < per; i++) {
		struct wt_line l;
		struct wt_resv r;
		char text[64];
		snprintf(text, sizeof text, "thread %ld event %d \x01 \xc3\xa9 \"q\"", id, i);
		wt_begin(&l, "note");
		wt_kstr(&l, "text", text);
		if (i % 3 == 0) {
			wt_commit(&l, &r, 40);
			wt_patch(&r, "");
		} else {
			wt_commit(&l, NULL, 0);
		}
		wt_bind_obj(WT_POOL, obj + 0 * i, 1);
		wt_kill_obj(WT_POOL, obj);
	}
	__atomic_sub_fetch(&writers_left, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static char out[1 << 16];

static void *drainer(void *arg)
{
	size_t n;
	(void)arg;
	while (__atomic_load_n(&writers_left, __ATOMIC_SEQ_CST) > 0) {
		n = wt_drain(out, sizeof out);
		fwrite(out, 1, n, stdout);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static char buf[1 << 22];
	static struct wt_obj objs[64];
	pthread_t t[16], d;
	int n, i;
	size_t k;
	if (argc != 3)
		return 2;
	n = atoi(argv[1]);
	per = atoi(argv[2]);
	if (n < 1 || n > 16)
		return 2;
	if (wt_init(buf, sizeof buf, objs, 64, "core_test") != 0)
		return 1;
	writers_left = n;
	pthread_create(&d, NULL, drainer, NULL);
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, writer, (void *)(long)i);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_join(d, NULL);
	while ((k = wt_drain(out, sizeof out)) > 0)
		fwrite(out, 1, k, stdout);
	return wt_lost() ? 1 : 0;
}
