package wfp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"

	"github.com/wsksim/wsksim/nt"
)

// The redirect-records blob (semantics reference §9.2, policy P-SIZE).
//
// The real format is opaque and undocumented; this one is the model's. All
// integers are little-endian.
//
//	offset size field
//	0      4    magic "WFPR"
//	4      1    version (2; version 1 used HMAC-SHA256)
//	5      1    flags (bit 0: padded)
//	6      2    hop count n (1..MaxHops)
//	8      4    total length of the blob, MAC included
//	12     4    padding length p
//	16     16   MAC: SipHash-2-4-128(key, blob[0:16] || blob[32:])
//	32     64*n hops, oldest first
//	32+64n p    padding (zero bytes; P-SIZE over-1KiB / over-2KiB)
//
// A hop is
//
//	0  4  redirect handle id (engine-wide, 1-based)
//	4  4  localRedirectTargetPID the connection was redirected to
//	8  8  filter id of the filter that redirected
//	16 1  family of the original destination: 4 or 6
//	17 1  reserved, 0
//	18 2  original destination port
//	20 16 original destination address (IPv4 in the first 4 bytes)
//	36 8  flow id of the redirected connection (the store's key for its context)
//	44 20 reserved, 0
//
// The redirect context is not in the blob: SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT
// returns it from the record store.
const (
	recordsMagic   = "WFPR"
	recordsVersion = RecordsVersion
	headerSize     = 32
	hopSize        = 64
	macSize        = 16
	flagPadded     = 1

	// MaxHops bounds the redirect history one connection can carry. A
	// connection that would be redirected a (MaxHops+1)-th time is blocked by
	// the engine (and WFP-PROXY-LOOP names the chain).
	MaxHops = 16

	// MaxRecordsSize is the largest blob the engine ever issues or accepts:
	// 4 KiB. It covers MaxHops hops (32 + 16*64 = 1056 bytes) and the padded
	// sizes of policy P-SIZE (over-1KiB: at least 1040 bytes, over-2KiB: at
	// least 2064 bytes). A larger blob was not issued by this engine; it fails
	// the integrity check (STATUS_ACCESS_DENIED) unless its own length fields
	// are inconsistent first.
	MaxRecordsSize = 4096

	padTarget1K = 1040 // > 1 KiB: defeats the documented "about 1 KB" first guess
	padTarget2K = 2064 // > 2 KiB: defeats Envoy's fixed 2048-byte buffer
)

// RecordsVersion is the version byte (offset 4) of the records blobs this
// engine issues and accepts: 2 since the MAC is SipHash-2-4-128 (1 was
// HMAC-SHA256). Tools that hand-craft blobs (scenario records-forge) use it.
const RecordsVersion = 2

// Hop is one redirection in a connection's history, as the blob records it.
type Hop struct {
	HandleID  uint32         // redirect handle (engine-wide id; see Engine.HandleName)
	TargetPID uint32         // localRedirectTargetPID of the redirect
	FilterID  uint64         // filter whose callout redirected
	Original  netip.AddrPort // destination before this redirect
	Flow      FlowID         // the redirected connection: the record store keeps its context
}

// history is a decoded blob held without allocation.
type history struct {
	n    int
	hops [MaxHops]Hop
}

func (h *history) slice() []Hop { return h.hops[:h.n] }

// codec holds the MAC key (128 bits, derived from the world seed) and the
// scratch tag, so that neither encoding nor verification allocates.
type codec struct {
	k0, k1 uint64
	sum    [macSize]byte
}

func newCodec(seed uint64) *codec {
	var k [8 + 32]byte
	copy(k[8:], "wsksim wfp redirect-records key2")
	binary.LittleEndian.PutUint64(k[:8], seed)
	key := sha256.Sum256(k[:])
	return &codec{k0: binary.LittleEndian.Uint64(key[0:]), k1: binary.LittleEndian.Uint64(key[8:])}
}

// tag computes the MAC of blob (whose length is at least headerSize) into c.sum.
func (c *codec) tag(blob []byte) []byte {
	var s sipState
	s.init(c.k0, c.k1, true)
	s.write(blob[:16])
	s.write(blob[headerSize:])
	s.sum128(&c.sum)
	return c.sum[:]
}

// encodedSize is the blob size for n hops under padding target pad (0: none).
func encodedSize(n, pad int) int {
	sz := headerSize + hopSize*n
	if sz < pad {
		sz = pad
	}
	return sz
}

// encode appends the blob for hops to dst.
func (c *codec) encode(dst []byte, hops []Hop, pad int) []byte {
	n := len(hops)
	total := encodedSize(n, pad)
	start := len(dst)
	dst = append(dst, make([]byte, total)...)
	b := dst[start:]
	copy(b, recordsMagic)
	b[4] = recordsVersion
	padLen := total - headerSize - hopSize*n
	if padLen > 0 {
		b[5] = flagPadded
	}
	binary.LittleEndian.PutUint16(b[6:], uint16(n))
	binary.LittleEndian.PutUint32(b[8:], uint32(total))
	binary.LittleEndian.PutUint32(b[12:], uint32(padLen))
	for i, h := range hops {
		e := b[headerSize+hopSize*i:]
		binary.LittleEndian.PutUint32(e[0:], h.HandleID)
		binary.LittleEndian.PutUint32(e[4:], h.TargetPID)
		binary.LittleEndian.PutUint64(e[8:], h.FilterID)
		a := h.Original.Addr()
		if a.Is4() {
			e[16] = 4
			a4 := a.As4()
			copy(e[20:24], a4[:])
		} else {
			e[16] = 6
			a16 := a.As16()
			copy(e[20:36], a16[:])
		}
		binary.LittleEndian.PutUint16(e[18:], h.Original.Port())
		binary.LittleEndian.PutUint64(e[36:], uint64(h.Flow))
	}
	copy(b[16:32], c.tag(b))
	return dst
}

// verify checks blob completely (lengths, MAC, structure) without decoding
// the hops, and returns the hop count. The statuses are those of
// Engine.CheckRecords. It never allocates and trusts no length field: every
// length is checked against len(blob) in 64-bit arithmetic first. A blob
// verify accepts always decodes.
func (c *codec) verify(blob []byte) (nt.Status, int) {
	if len(blob) < headerSize {
		return nt.STATUS_INVALID_PARAMETER, 0 // truncated (P-MISMATCH)
	}
	if string(blob[:4]) != recordsMagic || blob[4] != recordsVersion || blob[5]&^flagPadded != 0 {
		return nt.STATUS_ACCESS_DENIED, 0 // not a blob of ours: forged or corrupted (P-ACC)
	}
	n := uint64(binary.LittleEndian.Uint16(blob[6:]))
	total := uint64(binary.LittleEndian.Uint32(blob[8:]))
	padLen := uint64(binary.LittleEndian.Uint32(blob[12:]))
	need := headerSize + hopSize*n + padLen
	if need > 0xFFFFFFFF {
		return nt.STATUS_INTEGER_OVERFLOW, 0 // internal lengths overflow a ULONG (P-OVF (c))
	}
	if need != total || total != uint64(len(blob)) {
		return nt.STATUS_INVALID_PARAMETER, 0 // length mismatch or truncation (P-MISMATCH)
	}
	if subtle.ConstantTimeCompare(c.tag(blob), blob[16:32]) != 1 {
		return nt.STATUS_ACCESS_DENIED, 0 // integrity check failed (P-ACC (c))
	}
	// Authentic from here on; still check the structure, so that a key
	// collision or an engine bug cannot make decode index out of range.
	if n == 0 || n > MaxHops || (padLen > 0) != (blob[5]&flagPadded != 0) {
		return nt.STATUS_ACCESS_DENIED, 0
	}
	for i := 0; i < int(n); i++ {
		if f := blob[headerSize+hopSize*i+16]; f != 4 && f != 6 {
			return nt.STATUS_ACCESS_DENIED, 0
		}
	}
	return nt.STATUS_SUCCESS, int(n)
}

// lastTarget returns the localRedirectTargetPID of the newest hop of a blob
// verify accepted with n hops.
func lastTarget(blob []byte, n int) uint32 {
	return binary.LittleEndian.Uint32(blob[headerSize+hopSize*(n-1)+4:])
}

// decode verifies blob and, on success, fills h. The statuses are those of
// Engine.CheckRecords. It never allocates.
func (c *codec) decode(blob []byte, h *history) nt.Status {
	h.n = 0
	st, n := c.verify(blob)
	if st != nt.STATUS_SUCCESS {
		return st
	}
	for i := 0; i < n; i++ {
		e := blob[headerSize+hopSize*i:]
		var orig netip.AddrPort
		port := binary.LittleEndian.Uint16(e[18:])
		if e[16] == 4 {
			orig = netip.AddrPortFrom(netip.AddrFrom4([4]byte(e[20:24])), port)
		} else {
			orig = netip.AddrPortFrom(netip.AddrFrom16([16]byte(e[20:36])), port)
		}
		h.hops[i] = Hop{
			HandleID:  binary.LittleEndian.Uint32(e[0:]),
			TargetPID: binary.LittleEndian.Uint32(e[4:]),
			FilterID:  binary.LittleEndian.Uint64(e[8:]),
			Original:  orig,
			Flow:      FlowID(binary.LittleEndian.Uint64(e[36:])),
		}
	}
	h.n = n
	return nt.STATUS_SUCCESS
}
