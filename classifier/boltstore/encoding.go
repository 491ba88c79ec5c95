package boltstore

import (
	"encoding/binary"
	"hash/fnv"
	"time"
)

// The on-disk values, compact because the token table is most of the file:
//
//	token_blocks: key 8-byte big-endian lowest hash the block may hold ->
//	          its tokens in hash order, 18 bytes each: hash uint64,
//	          spam uint32, ham uint32, day uint16 (see blocks.go)
//	messages: key 16 bytes of the digest  -> class byte (1 spam), uint16 day,
//	          then the top 32 bits of its token hashes, 4 bytes each, sorted
//	          (none once pruned): half the size of whole hashes, and a
//	          prefix still finds its token (see learner.resolve)
//	meta:     version, totals (spam, ham as uint64), token_count, listed
//
// A day is counted from 1970-01-01 (UTC), which fits 16 bits until 2149.

type tokenValue struct {
	spam, ham uint32
	day       uint16
}

type messageValue struct {
	spam     bool
	day      uint16
	prefixes []uint32
}

func decodeMessage(v []byte) (messageValue, bool) {
	if len(v) < 3 || (len(v)-3)%4 != 0 {
		return messageValue{}, false
	}
	m := messageValue{spam: v[0] == 1, day: binary.BigEndian.Uint16(v[1:3])}
	rest := v[3:]
	m.prefixes = make([]uint32, len(rest)/4)
	for i := range m.prefixes {
		m.prefixes[i] = binary.BigEndian.Uint32(rest[4*i:])
	}
	return m, true
}

func encodeMessage(m messageValue) []byte {
	b := make([]byte, 3, 3+4*len(m.prefixes))
	if m.spam {
		b[0] = 1
	}
	binary.BigEndian.PutUint16(b[1:3], m.day)
	for _, p := range m.prefixes {
		b = binary.BigEndian.AppendUint32(b, p)
	}
	return b
}

func hashToken(t string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t))
	return h.Sum64()
}

func putKey(b []byte, h uint64) { binary.BigEndian.PutUint64(b, h) }

func key(h uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), h) }

func putUint64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func getUint64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func dayOf(t time.Time) uint16 {
	d := t.Unix() / 86400
	switch {
	case d < 0:
		return 0
	case d > 0xffff:
		return 0xffff
	}
	return uint16(d)
}
