package jws

import "encoding/binary"

// b64Table maps the base64url alphabet (RFC 4648 §5) to its six-bit values;
// every other byte maps to 0xFF, which has the top bits that no value has.
var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// EncodedLen is the length of n bytes in unpadded base64url.
func EncodedLen(n int) int { return (n*8 + 5) / 6 }

// DecodedLen is the decoded length of n unpadded base64url characters, or -1
// when no encoding has that length.
func DecodedLen(n int) int {
	if n%4 == 1 {
		return -1
	}
	return n/4*3 + n%4*6/8
}

// Decode decodes unpadded base64url (RFC 7515 §2) from src into dst, which
// must hold DecodedLen(len(src)) bytes, and returns the decoded length. It is
// strict: padding, line breaks, any byte outside the alphabet and non-zero
// trailing bits are rejected, so one value has exactly one encoding. It does
// not allocate.
func Decode(dst []byte, src string) (int, bool) {
	n := DecodedLen(len(src))
	if n < 0 || len(dst) < n {
		return 0, false
	}
	dst = dst[:n]
	di := 0
	// Eight characters make six bytes; a value of 0xFF in any of them sets
	// the top bits of the OR and fails the block.
	for len(src) >= 8 && len(dst)-di >= 8 {
		var v uint64
		var or byte
		for j := range 8 {
			c := b64Table[src[j]]
			or |= c
			v = v<<6 | uint64(c)
		}
		if or&0xC0 != 0 {
			return 0, false
		}
		binary.BigEndian.PutUint64(dst[di:], v<<16) // writes two bytes of slack, overwritten next
		di += 6
		src = src[8:]
	}
	for len(src) >= 4 {
		a, b, c, d := b64Table[src[0]], b64Table[src[1]], b64Table[src[2]], b64Table[src[3]]
		if (a|b|c|d)&0xC0 != 0 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[di], dst[di+1], dst[di+2] = byte(v>>16), byte(v>>8), byte(v)
		di += 3
		src = src[4:]
	}
	switch len(src) {
	case 2:
		a, b := b64Table[src[0]], b64Table[src[1]]
		// 12 bits make one byte; the last four must be zero.
		if (a|b)&0xC0 != 0 || b&0x0F != 0 {
			return 0, false
		}
		dst[di] = a<<2 | b>>4
		di++
	case 3:
		a, b, c := b64Table[src[0]], b64Table[src[1]], b64Table[src[2]]
		// 18 bits make two bytes; the last two must be zero.
		if (a|b|c)&0xC0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[di], dst[di+1] = byte(v>>10), byte(v>>2)
		di += 2
	}
	return di, true
}
