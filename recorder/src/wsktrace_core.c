/*
 * wsktrace_core.c - the recorder's encoding core (see wsktrace_core.h).
 * Pure C99: no kernel headers, no allocation, no library calls.
 */
#include "wsktrace_core.h"

/* The lock is the platform's: wsktrace_rec.c defines these with a KSPIN_LOCK
 * in the kernel (raising to DISPATCH_LEVEL) and with an atomic spin lock in
 * user mode. */
extern void wt_plat_lock(unsigned long *state);
extern void wt_plat_unlock(unsigned long state);

static const char *const kind_prefix[WT_KINDS] = {"irp", "s", "b", "m", "reg", "cl", "rh", "ch", "ld", "di"};

/* TAIL is kept free for the overflow note and event. */
#define TAIL 400

static struct {
	char *buf;
	size_t size, used;
	struct wt_obj *objs;
	size_t nobjs;
	uint32_t next_id[WT_KINDS];
	uint64_t seq;
	int lost;
	uint64_t lost_events;
	struct {
		int used;
		size_t off, len;
	} resv[WT_MAX_RESV];
} g;

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void mcopy(char *d, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		d[i] = s[i];
}

/* ---- line building ---- */

static void put(struct wt_line *l, const char *s, size_t n)
{
	if (l->overflow || l->len + n > sizeof l->buf - 1) {
		l->overflow = 1;
		return;
	}
	mcopy(l->buf + l->len, s, n);
	l->len += n;
}

static void putc_(struct wt_line *l, char c) { put(l, &c, 1); }

static void put_u64(struct wt_line *l, uint64_t v)
{
	char t[24];
	int i = 24;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(l, t + i, (size_t)(24 - i));
}

static void put_hex(struct wt_line *l, uint64_t v, int digits)
{
	static const char hx[] = "0123456789ABCDEF";
	char t[16];
	int i;
	for (i = digits - 1; i >= 0; i--) {
		t[i] = hx[v & 15];
		v >>= 4;
	}
	put(l, t, (size_t)digits);
}

void wt_begin(struct wt_line *l, const char *ev)
{
	l->len = 0;
	l->overflow = 0;
	put(l, "\"ev\":\"", 6);
	put(l, ev, slen(ev));
	putc_(l, '"');
	l->first = 0;
}

void wt_key(struct wt_line *l, const char *key)
{
	if (!l->first)
		putc_(l, ',');
	l->first = 0;
	putc_(l, '"');
	put(l, key, slen(key));
	put(l, "\":", 2);
}

void wt_open(struct wt_line *l, const char *key)
{
	if (key)
		wt_key(l, key);
	putc_(l, '{');
	l->first = 1;
}

void wt_close(struct wt_line *l)
{
	putc_(l, '}');
	l->first = 0;
}

void wt_raw(struct wt_line *l, const char *s) { put(l, s, slen(s)); }

static void put_esc(struct wt_line *l, unsigned c)
{
	if (c == '"' || c == '\\') {
		putc_(l, '\\');
		putc_(l, (char)c);
	} else if (c < 0x20 || c == 0x7f) {
		put(l, "\\u00", 4);
		put_hex(l, c, 2);
	} else {
		putc_(l, (char)c);
	}
}

void wt_str(struct wt_line *l, const char *s)
{
	putc_(l, '"');
	if (s) {
		for (; *s; s++) {
			unsigned c = (unsigned char)*s;
			/* Bytes >= 0x80 are escaped as code points U+0080..U+00FF, so the
			 * line stays valid UTF-8 whatever the driver passes. */
			if (c >= 0x80) {
				put(l, "\\u00", 4);
				put_hex(l, c, 2);
			} else {
				put_esc(l, c);
			}
		}
	}
	putc_(l, '"');
}

void wt_wstr(struct wt_line *l, const uint16_t *s, size_t n)
{
	size_t i;
	putc_(l, '"');
	for (i = 0; s && i < n; i++) {
		unsigned c = s[i];
		if (c >= 0x80) {
			/* \uXXXX, surrogates included: JSON's own UTF-16 escape. */
			put(l, "\\u", 2);
			put_hex(l, c, 4);
		} else {
			put_esc(l, c);
		}
	}
	putc_(l, '"');
}

void wt_u64(struct wt_line *l, uint64_t v)
{
	if (v > ((uint64_t)1 << 53)) {
		put(l, "\"0x", 3);
		put_hex(l, v, 16);
		putc_(l, '"');
		return;
	}
	put_u64(l, v);
}

void wt_i64(struct wt_line *l, int64_t v)
{
	if (v < 0) {
		putc_(l, '-');
		put_u64(l, (uint64_t)0 - (uint64_t)v);
		return;
	}
	wt_u64(l, (uint64_t)v);
}

void wt_bool(struct wt_line *l, int v) { wt_raw(l, v ? "true" : "false"); }
void wt_null(struct wt_line *l) { wt_raw(l, "null"); }
void wt_ptr(struct wt_line *l, const void *p) { wt_raw(l, p ? "true" : "null"); }

static const struct {
	uint32_t v;
	const char *n;
} statuses[] = {
	{0x00000000u, "STATUS_SUCCESS"},
	{0x00000103u, "STATUS_PENDING"},
	{0x80000005u, "STATUS_BUFFER_OVERFLOW"},
	{0xC0000001u, "STATUS_UNSUCCESSFUL"},
	{0xC000000Du, "STATUS_INVALID_PARAMETER"},
	{0xC0000010u, "STATUS_INVALID_DEVICE_REQUEST"},
	{0xC0000016u, "STATUS_MORE_PROCESSING_REQUIRED"},
	{0xC0000022u, "STATUS_ACCESS_DENIED"},
	{0xC0000023u, "STATUS_BUFFER_TOO_SMALL"},
	{0xC000009Au, "STATUS_INSUFFICIENT_RESOURCES"},
	{0xC00000BBu, "STATUS_NOT_SUPPORTED"},
	{0xC0000120u, "STATUS_CANCELLED"},
	{0xC0000184u, "STATUS_INVALID_DEVICE_STATE"},
	{0xC000020Cu, "STATUS_CONNECTION_DISCONNECTED"},
	{0xC000020Du, "STATUS_CONNECTION_RESET"},
	{0xC0000225u, "STATUS_NOT_FOUND"},
	{0xC0000236u, "STATUS_CONNECTION_REFUSED"},
	{0xC000023Cu, "STATUS_NETWORK_UNREACHABLE"},
	{0xC000023Du, "STATUS_HOST_UNREACHABLE"},
	{0xC0000241u, "STATUS_CONNECTION_ABORTED"},
	{0xC000020Au, "STATUS_ADDRESS_ALREADY_EXISTS"},
};

void wt_status(struct wt_line *l, uint32_t st)
{
	size_t i;
	for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		if (statuses[i].v == st) {
			wt_str(l, statuses[i].n);
			return;
		}
	}
	put(l, "\"0x", 3);
	put_hex(l, st, 8);
	putc_(l, '"');
}

static void pool_field(struct wt_line *l, int pool_id)
{
	if (pool_id > 0) {
		put(l, ",\"pool\":", 8);
		wt_name(l, WT_POOL, (uint32_t)pool_id);
	}
}

void wt_hexbuf(struct wt_line *l, const void *p, size_t n, int pool_id)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;
	if (!p || n > WT_HEX_MAX) {
		wt_lenbuf(l, n, pool_id);
		return;
	}
	put(l, "{\"hex\":\"", 8);
	for (i = 0; i < n; i++) {
		static const char hx[] = "0123456789abcdef";
		putc_(l, hx[b[i] >> 4]);
		putc_(l, hx[b[i] & 15]);
	}
	putc_(l, '"');
	pool_field(l, pool_id);
	putc_(l, '}');
}

void wt_lenbuf(struct wt_line *l, uint64_t n, int pool_id)
{
	put(l, "{\"len\":", 7);
	wt_u64(l, n);
	pool_field(l, pool_id);
	putc_(l, '}');
}

/* SOCKADDR: the family is a little-endian USHORT at offset 0; the port and
 * the address are in network order (SOCKADDR_IN, SOCKADDR_IN6, ws2def.h /
 * ws2ipdef.h). AF_INET is 2, AF_INET6 is 23 on Windows. */
void wt_addr(struct wt_line *l, const void *sa)
{
	const unsigned char *b = (const unsigned char *)sa;
	unsigned fam, port;
	int i;
	if (!b) {
		wt_null(l);
		return;
	}
	fam = (unsigned)b[0] | (unsigned)b[1] << 8;
	port = (unsigned)b[2] << 8 | b[3];
	putc_(l, '"');
	if (fam == 2) {
		for (i = 0; i < 4; i++) {
			if (i)
				putc_(l, '.');
			put_u64(l, b[4 + i]);
		}
	} else if (fam == 23) {
		static const char hx[] = "0123456789abcdef";
		/* Full form, no :: compression: the replay parses any valid form. */
		putc_(l, '[');
		for (i = 0; i < 8; i++) {
			unsigned w = (unsigned)b[8 + 2 * i] << 8 | b[9 + 2 * i];
			int d, started = 0;
			if (i)
				putc_(l, ':');
			for (d = 12; d >= 0; d -= 4) {
				unsigned nib = (w >> d) & 15;
				if (nib || started || d == 0) {
					putc_(l, hx[nib]);
					started = 1;
				}
			}
		}
		putc_(l, ']');
	} else {
		/* Not an address the format knows: the replay names the line. */
		put(l, "family-", 7);
		put_u64(l, fam);
	}
	putc_(l, ':');
	put_u64(l, port);
	putc_(l, '"');
}

void wt_name(struct wt_line *l, int kind, uint32_t id)
{
	const char *p = (kind >= 0 && kind < WT_KINDS) ? kind_prefix[kind] : "x";
	putc_(l, '"');
	put(l, p, slen(p));
	put_u64(l, id);
	putc_(l, '"');
}

void wt_bindname(struct wt_line *l, int kind, uint32_t id)
{
	put(l, "{\"bind\":", 8);
	wt_name(l, kind, id);
	putc_(l, '}');
}

void wt_kstr(struct wt_line *l, const char *k, const char *s) { wt_key(l, k); wt_str(l, s); }
void wt_ku64(struct wt_line *l, const char *k, uint64_t v) { wt_key(l, k); wt_u64(l, v); }
void wt_kbool(struct wt_line *l, const char *k, int v) { wt_key(l, k); wt_bool(l, v); }
void wt_kptr(struct wt_line *l, const char *k, const void *p) { wt_key(l, k); wt_ptr(l, p); }
void wt_kstatus(struct wt_line *l, const char *k, uint32_t st) { wt_key(l, k); wt_status(l, st); }

void wt_kname(struct wt_line *l, const char *k, int kind, const void *p)
{
	uint32_t id = p ? wt_find_obj(kind, p) : 0;
	wt_key(l, k);
	if (id)
		wt_name(l, kind, id);
	else if (p)
		wt_str(l, "unrecorded-object"); /* an unbound name: the replay says where */
	else
		wt_null(l);
}

/* ---- the buffer ---- */

/* append copies n bytes at the end of the buffer; the caller holds the lock
 * and has checked the room. */
static void append(const char *s, size_t n)
{
	mcopy(g.buf + g.used, s, n);
	g.used += n;
}

/* seqprefix writes {"seq":N, for the current g.seq into t. */
static size_t seqprefix(char *t, uint64_t seq)
{
	char d[24];
	int i = 24;
	size_t n = 0;
	mcopy(t, "{\"seq\":", 7);
	n = 7;
	do {
		d[--i] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	mcopy(t + n, d + i, (size_t)(24 - i));
	n += (size_t)(24 - i);
	t[n++] = ',';
	return n;
}

/* stop ends recording: a note and an overflow event go into the TAIL room
 * that every other write leaves free. Lock held. */
static void stop_recording(const char *why)
{
	char t[TAIL];
	size_t n;
	const char *note = "\"ev\":\"note\",\"text\":\"wsktrace-rec: recording stopped: ";
	const char *rest = "; every later event is lost and the trace is incomplete\"}\n";
	if (g.lost)
		return;
	g.lost = 1;
	n = seqprefix(t, ++g.seq);
	mcopy(t + n, note, slen(note));
	n += slen(note);
	mcopy(t + n, why, slen(why));
	n += slen(why);
	mcopy(t + n, rest, slen(rest));
	n += slen(rest);
	if (g.used + n <= g.size)
		append(t, n);
	n = seqprefix(t, ++g.seq);
	mcopy(t + n, "\"ev\":\"overflow\"}\n", 17);
	n += 17;
	if (g.used + n <= g.size)
		append(t, n);
}

uint64_t wt_commit(struct wt_line *l, struct wt_resv *r, size_t reslen)
{
	unsigned long st;
	char pre[40];
	size_t pn, need, i;
	uint64_t seq = 0;
	int slot = -1;

	if (r)
		r->slot = -1;
	wt_plat_lock(&st);
	if (!g.buf || g.lost) {
		g.lost_events++;
		wt_plat_unlock(st);
		return 0;
	}
	if (l->overflow) {
		stop_recording("an event line was longer than WT_LINE_MAX");
		g.lost_events++;
		wt_plat_unlock(st);
		return 0;
	}
	if (r) {
		for (i = 0; i < WT_MAX_RESV; i++) {
			if (!g.resv[i].used) {
				slot = (int)i;
				break;
			}
		}
		if (slot < 0)
			reslen = 0; /* no slot: the field is left at its default */
	} else {
		reslen = 0;
	}
	pn = seqprefix(pre, g.seq + 1);
	need = pn + l->len + reslen + 2;
	if (g.used + need + TAIL > g.size) {
		stop_recording("the trace buffer is full (drain it more often or make it larger)");
		g.lost_events++;
		wt_plat_unlock(st);
		return 0;
	}
	seq = ++g.seq;
	append(pre, pn);
	append(l->buf, l->len);
	if (r && slot >= 0) {
		g.resv[slot].used = 1;
		g.resv[slot].off = g.used;
		g.resv[slot].len = reslen;
		r->slot = slot;
		r->off = g.used;
		r->len = reslen;
		for (i = 0; i < reslen; i++)
			g.buf[g.used++] = ' ';
	}
	append("}\n", 2);
	wt_plat_unlock(st);
	return seq;
}

void wt_patch(struct wt_resv *r, const char *s)
{
	unsigned long st;
	size_t n, i;
	if (!r || r->slot < 0)
		return;
	wt_plat_lock(&st);
	n = slen(s);
	if (n > g.resv[r->slot].len)
		n = g.resv[r->slot].len;
	for (i = 0; i < n; i++)
		g.buf[g.resv[r->slot].off + i] = s[i];
	g.resv[r->slot].used = 0;
	r->slot = -1;
	wt_plat_unlock(st);
}

int wt_init(char *buf, size_t bufsize, struct wt_obj *objs, size_t nobjs, const char *source)
{
	unsigned long st;
	struct wt_line *l;
	/* The header is built in the buffer's own memory, at its end. */
	if (!buf || bufsize < 2 * TAIL + sizeof(struct wt_line) || !objs || nobjs == 0)
		return -1;
	l = (struct wt_line *)(void *)(buf + bufsize - sizeof(struct wt_line));
	l->len = 0;
	l->overflow = 0;
	put(l, "{\"wsktrace\":1,\"source\":", 23);
	wt_str(l, source ? source : "wsktrace-rec");
	put(l, "}\n", 2);
	if (l->overflow)
		return -1;
	wt_plat_lock(&st);
	g.buf = buf;
	g.size = bufsize - sizeof(struct wt_line);
	g.used = 0;
	g.objs = objs;
	g.nobjs = nobjs;
	{
		size_t i;
		for (i = 0; i < nobjs; i++) {
			objs[i].ptr = 0;
			objs[i].id = 0;
			objs[i].live = 0;
		}
		for (i = 0; i < WT_KINDS; i++)
			g.next_id[i] = 0;
		for (i = 0; i < WT_MAX_RESV; i++)
			g.resv[i].used = 0;
	}
	g.seq = 0;
	g.lost = 0;
	g.lost_events = 0;
	mcopy(g.buf, l->buf, l->len);
	g.used = l->len;
	wt_plat_unlock(st);
	return 0;
}

void wt_shutdown(void)
{
	unsigned long st;
	wt_plat_lock(&st);
	g.buf = 0;
	g.objs = 0;
	g.nobjs = 0;
	g.used = 0;
	wt_plat_unlock(st);
}

size_t wt_drain(char *out, size_t outsize)
{
	unsigned long st;
	size_t limit, n, i, o = 0;
	wt_plat_lock(&st);
	if (!g.buf) {
		wt_plat_unlock(st);
		return 0;
	}
	limit = g.used;
	/* Never hand out a line whose reserved field is not written yet. */
	for (i = 0; i < WT_MAX_RESV; i++) {
		if (g.resv[i].used && g.resv[i].off < limit)
			limit = g.resv[i].off;
	}
	if (limit > outsize)
		limit = outsize;
	/* Whole lines only. */
	n = limit;
	while (n > 0 && g.buf[n - 1] != '\n')
		n--;
	/* Copy out, leaving out the spaces a reservation left unused: our lines
	 * have no other whitespace right before the closing "}\n". */
	for (i = 0, o = 0; i < n; i++) {
		if (g.buf[i] == ' ') {
			size_t j = i;
			while (j < n && g.buf[j] == ' ')
				j++;
			if (j + 1 < n && g.buf[j] == '}' && g.buf[j + 1] == '\n') {
				i = j - 1;
				continue;
			}
		}
		out[o++] = g.buf[i];
	}
	for (i = n; i < g.used; i++)
		g.buf[i - n] = g.buf[i];
	g.used -= n;
	for (i = 0; i < WT_MAX_RESV; i++) {
		if (g.resv[i].used)
			g.resv[i].off -= n;
	}
	wt_plat_unlock(st);
	return o;
}

int wt_lost(void) { return g.lost; }
size_t wt_pending_bytes(void) { return g.used; }

/* ---- the name table ---- */

uint32_t wt_bind_obj(int kind, const void *ptr, uint64_t size)
{
	unsigned long st;
	size_t i, slot = (size_t)-1, dead = (size_t)-1;
	uint32_t id = 0;
	if (kind < 0 || kind >= WT_KINDS)
		return 0;
	wt_plat_lock(&st);
	if (!g.objs || g.lost) {
		wt_plat_unlock(st);
		return 0;
	}
	for (i = 0; i < g.nobjs; i++) {
		if (g.objs[i].id && g.objs[i].kind == kind && g.objs[i].ptr == ptr) {
			slot = i; /* the address is reused: the new object gets a new name */
			break;
		}
		if (!g.objs[i].id && slot == (size_t)-1)
			slot = i;
		if (g.objs[i].id && !g.objs[i].live && dead == (size_t)-1)
			dead = i;
	}
	if (slot == (size_t)-1)
		slot = dead; /* reclaim a freed object's name */
	if (slot == (size_t)-1) {
		stop_recording("the object name table is full (give WsktraceStart more slots)");
	} else {
		id = ++g.next_id[kind];
		g.objs[slot].ptr = ptr;
		g.objs[slot].size = size;
		g.objs[slot].id = id;
		g.objs[slot].kind = (uint8_t)kind;
		g.objs[slot].live = 1;
	}
	wt_plat_unlock(st);
	return id;
}

uint32_t wt_find_obj(int kind, const void *ptr)
{
	unsigned long st;
	size_t i;
	uint32_t id = 0;
	wt_plat_lock(&st);
	for (i = 0; g.objs && i < g.nobjs; i++) {
		if (g.objs[i].id && g.objs[i].kind == kind && g.objs[i].ptr == ptr) {
			id = g.objs[i].id;
			break;
		}
	}
	wt_plat_unlock(st);
	return id;
}

void wt_kill_obj(int kind, const void *ptr)
{
	unsigned long st;
	size_t i;
	wt_plat_lock(&st);
	for (i = 0; g.objs && i < g.nobjs; i++) {
		if (g.objs[i].id && g.objs[i].kind == kind && g.objs[i].ptr == ptr) {
			g.objs[i].live = 0;
			break;
		}
	}
	wt_plat_unlock(st);
}

uint32_t wt_pool_holding(const void *p, uint64_t len) { return wt_pool_at(p, len, 0); }

uint32_t wt_pool_at(const void *p, uint64_t len, uint64_t *off)
{
	unsigned long st;
	size_t i;
	uint32_t id = 0;
	const char *c = (const char *)p;
	if (!p)
		return 0;
	wt_plat_lock(&st);
	for (i = 0; g.objs && i < g.nobjs; i++) {
		const char *b = (const char *)g.objs[i].ptr;
		if (g.objs[i].id && g.objs[i].live && g.objs[i].kind == WT_POOL && c >= b &&
		    (uint64_t)(c - b) + len <= g.objs[i].size) {
			id = g.objs[i].id;
			if (off)
				*off = (uint64_t)(c - b);
			break;
		}
	}
	wt_plat_unlock(st);
	return id;
}

void wt_note(const char *text)
{
	struct wt_line l;
	wt_begin(&l, "note");
	wt_kstr(&l, "text", text);
	wt_commit(&l, 0, 0);
}
