/*
 * wsktrace_core.h - the recorder's encoding core: pure C, no kernel headers.
 *
 * It turns what the kernel layer (wsktrace_rec.c) observes into wsktrace v1
 * JSON Lines (docs/wsktrace.md): it names objects (irp1, s1, b1, ...), binds
 * each name where the object first appears, numbers every event from one
 * global sequence and appends the lines to one fixed-size buffer. It never
 * allocates: the caller hands it all its memory at wt_init. A line that does
 * not fit, or an object the name table cannot hold, is not dropped silently:
 * recording stops and the trace ends with a note and an "overflow" event,
 * which `wsksim replay` refuses as unusable (exit 2) at that line.
 *
 * Every function is safe at any IRQL up to DISPATCH_LEVEL and on several
 * processors at once: the buffer, the sequence and the name table are
 * guarded by one lock that wsktrace_platform.h provides (a KSPIN_LOCK in the
 * kernel, an atomic spin lock in user mode).
 */
#ifndef WSKTRACE_CORE_H
#define WSKTRACE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Object kinds, each with its own name prefix and counter. */
enum wt_kind {
	WT_IRP = 0, /* irp1 */
	WT_SOCK,    /* s1 */
	WT_POOL,    /* b1 */
	WT_MDL,     /* m1 */
	WT_REG,     /* reg1 */
	WT_CLIENT,  /* cl1 */
	WT_RHANDLE, /* rh1: FWPS redirect handle */
	WT_CHANDLE, /* ch1: FWPS classify handle */
	WT_LDATA,   /* ld1: writable layer data */
	WT_DATAIND, /* di1: a data indication lent to the driver */
	WT_KINDS
};

/* wt_obj is one slot of the name table. */
struct wt_obj {
	const void *ptr;
	uint64_t size; /* pool blocks: bytes, to find the block holding a pointer */
	uint32_t id;
	uint8_t kind;
	uint8_t live;
};

/* WT_LINE_MAX bounds one event line; WT_HEX_MAX bounds the bytes a buffer
 * value carries as hex (longer buffers are written as {"len":N}). */
#define WT_LINE_MAX 2048
#define WT_HEX_MAX 384
#define WT_MAX_RESV 32

/* wt_line is one event being built (on the caller's stack). */
struct wt_line {
	char buf[WT_LINE_MAX];
	size_t len;
	int overflow;
	int first; /* no field written yet at the current nesting level */
};

/* wt_resv is space a line left for a field written later (the value a
 * completion routine returned). */
struct wt_resv {
	int slot; /* -1: nothing reserved */
	size_t off, len;
};

/* wt_init hands the core its memory: buf (bufsize bytes) for the trace and
 * objs (nobjs slots) for the name table. source is the header's "source".
 * Returns 0, or -1 when the memory is too small to hold even the header. */
int wt_init(char *buf, size_t bufsize, struct wt_obj *objs, size_t nobjs, const char *source);

/* wt_shutdown forgets the memory wt_init was given (recording stops). */
void wt_shutdown(void);

/* wt_drain copies out up to outsize bytes of complete lines and removes them
 * from the buffer; it never splits a line. Returns the bytes copied. */
size_t wt_drain(char *out, size_t outsize);

/* wt_lost reports whether recording stopped (buffer or name table full). */
int wt_lost(void);

/* wt_pending_bytes reports how many bytes wait in the buffer. */
size_t wt_pending_bytes(void);

/* Building a line. */
void wt_begin(struct wt_line *l, const char *ev);
void wt_key(struct wt_line *l, const char *key);   /* ,"key": */
void wt_open(struct wt_line *l, const char *key);  /* ,"key":{  (key NULL: a bare {) */
void wt_close(struct wt_line *l);                  /* } */
void wt_raw(struct wt_line *l, const char *s);
void wt_str(struct wt_line *l, const char *s);     /* a JSON string */
void wt_wstr(struct wt_line *l, const uint16_t *s, size_t n); /* UTF-16 as a JSON string */
void wt_u64(struct wt_line *l, uint64_t v);
void wt_i64(struct wt_line *l, int64_t v);
void wt_bool(struct wt_line *l, int v);
void wt_null(struct wt_line *l);
void wt_ptr(struct wt_line *l, const void *p);     /* true / null */
void wt_status(struct wt_line *l, uint32_t st);    /* SDK name or "0x%08X" */
void wt_hexbuf(struct wt_line *l, const void *p, size_t n, int pool_id); /* {"hex":..} or {"len":N}, with "pool" */
void wt_lenbuf(struct wt_line *l, uint64_t n, int pool_id);
void wt_addr(struct wt_line *l, const void *sockaddr); /* "ip:port" or null */
void wt_name(struct wt_line *l, int kind, uint32_t id);  /* "irp3" */
void wt_bindname(struct wt_line *l, int kind, uint32_t id); /* {"bind":"irp3"} */

/* Helpers for a key followed by a value. */
void wt_kstr(struct wt_line *l, const char *k, const char *s);
void wt_ku64(struct wt_line *l, const char *k, uint64_t v);
void wt_kbool(struct wt_line *l, const char *k, int v);
void wt_kptr(struct wt_line *l, const char *k, const void *p);
void wt_kstatus(struct wt_line *l, const char *k, uint32_t st);
void wt_kname(struct wt_line *l, const char *k, int kind, const void *p); /* the object's name, or null */

/* wt_commit takes the next sequence number, writes the line to the buffer
 * and returns its seq (0 when recording has stopped). With r non-NULL it
 * also leaves reslen bytes before the closing brace for wt_patch. */
uint64_t wt_commit(struct wt_line *l, struct wt_resv *r, size_t reslen);

/* wt_patch fills a reservation with s (at most its length; the rest stays
 * spaces, which JSON allows). */
void wt_patch(struct wt_resv *r, const char *s);

/* The name table. Returns the id, 0 when there is none. */
uint32_t wt_bind_obj(int kind, const void *ptr, uint64_t size); /* a new name for ptr */
uint32_t wt_find_obj(int kind, const void *ptr);                /* the latest name, live or not */
void wt_kill_obj(int kind, const void *ptr);                    /* freed: keep the name for use-after-free */
uint32_t wt_pool_holding(const void *p, uint64_t len);          /* the live pool block holding [p, p+len) */
uint32_t wt_pool_at(const void *p, uint64_t len, uint64_t *off); /* the same, and p's offset in it */

/* wt_note writes a note event. */
void wt_note(const char *text);

#ifdef __cplusplus
}
#endif
#endif
