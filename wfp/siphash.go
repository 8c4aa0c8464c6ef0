package wfp

import (
	"encoding/binary"
	"math/bits"
)

// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012), the MAC of the redirect-records blob. A keyed PRF with a 128-bit
// key: without the key, a valid tag for a new message cannot be produced
// with better than about 2^-128 probability per attempt (2^-64 for the
// 64-bit output), so a fuzzer never forges a blob. It is several times
// cheaper than HMAC-SHA256 on the short blobs the engine issues.
//
// sipState is the streaming form: write the message in any number of pieces,
// then sum64 or sum128. It never allocates.
type sipState struct {
	v0, v1, v2, v3 uint64
	tail           uint64 // pending bytes of the last partial word, little-endian
	ntail          uint   // how many (0..7)
	length         uint64 // message length so far
}

func (s *sipState) init(k0, k1 uint64, out128 bool) {
	s.v0 = k0 ^ 0x736f6d6570736575
	s.v1 = k1 ^ 0x646f72616e646f6d
	s.v2 = k0 ^ 0x6c7967656e657261
	s.v3 = k1 ^ 0x7465646279746573
	if out128 {
		s.v1 ^= 0xee
	}
	s.tail, s.ntail, s.length = 0, 0, 0
}

// sipRound is one SipRound (inlined by the compiler).
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

func (s *sipState) rounds(n int) {
	v0, v1, v2, v3 := s.v0, s.v1, s.v2, s.v3
	for ; n > 0; n-- {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	s.v0, s.v1, s.v2, s.v3 = v0, v1, v2, v3
}

// block compresses one 64-bit message word (c = 2 rounds).
func (s *sipState) block(m uint64) {
	v0, v1, v2, v3 := sipRound(s.v0, s.v1, s.v2, s.v3^m)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	s.v0, s.v1, s.v2, s.v3 = v0^m, v1, v2, v3
}

func (s *sipState) write(p []byte) {
	s.length += uint64(len(p))
	for s.ntail > 0 && len(p) > 0 {
		s.tail |= uint64(p[0]) << (8 * s.ntail)
		s.ntail++
		p = p[1:]
		if s.ntail == 8 {
			s.block(s.tail)
			s.tail, s.ntail = 0, 0
		}
	}
	// Whole words, with the state in registers.
	v0, v1, v2, v3 := s.v0, s.v1, s.v2, s.v3
	for len(p) >= 8 {
		m := binary.LittleEndian.Uint64(p)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3^m)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	s.v0, s.v1, s.v2, s.v3 = v0, v1, v2, v3
	for _, c := range p {
		s.tail |= uint64(c) << (8 * s.ntail)
		s.ntail++
	}
}

func (s *sipState) final() {
	s.block(s.length<<56 | s.tail)
}

// sum64 finishes a state initialised with out128 false (d = 4 rounds).
func (s *sipState) sum64() uint64 {
	s.final()
	s.v2 ^= 0xff
	s.rounds(4)
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

// sum128 finishes a state initialised with out128 true and writes the
// 16-byte tag (two little-endian words) to out.
func (s *sipState) sum128(out *[16]byte) {
	s.final()
	s.v2 ^= 0xee
	s.rounds(4)
	binary.LittleEndian.PutUint64(out[0:], s.v0^s.v1^s.v2^s.v3)
	s.v1 ^= 0xdd
	s.rounds(4)
	binary.LittleEndian.PutUint64(out[8:], s.v0^s.v1^s.v2^s.v3)
}
