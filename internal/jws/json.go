package jws

import "unicode/utf8"

// The JOSE header and the claims set are each "a completely valid JSON
// object" in UTF-8 (RFC 7515 §5.2 steps 3-4, RFC 7519 §7.2 steps 9-10). The
// scanner below checks exactly that (RFC 8259) in one pass without
// allocating, and walks the members of the top-level object with two rules
// of its own:
//
//   - a member name may not repeat: RFC 7515 §4 and RFC 7519 §4 let a
//     parser either reject duplicates or take the last one, and taking the
//     last one lets two parsers see two different tokens;
//   - a member name may not contain an escape: "\u0061lg" is "alg" to one
//     parser and an unknown member to a careless one. Rotor never escapes a
//     name, so one name has one spelling.
//
// Both rules apply to the top-level object only; nested values (a jwk
// header, a custom claim) are checked for validity and skipped.

// maxDepth bounds nesting as encoding/json does. The size bounds on tokens
// keep real inputs far below it.
const maxDepth = 10000

// span is a half-open byte range [start, end) of the input.
type span struct{ start, end int }

// walkObject checks that b is one JSON object (with optional surrounding
// whitespace) and calls member, in order, with the spans of each top-level
// member's name (without its quotes; never escaped) and value. It returns
// false if b is not valid JSON, not an object, repeats or escapes a member
// name, or if member returns false. It passes spans rather than slices so
// that b, often a stack buffer, does not escape through the callback.
func walkObject(b []byte, member func(name, value span) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	var seen names
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end, escaped, ok := scanString(b, i)
		if !ok || escaped {
			return false
		}
		name := span{i + 1, end - 1}
		if seen.dup(b, name) {
			return false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vEnd, ok := scanValue(b, i, 1)
		if !ok || !member(name, span{i, vEnd}) {
			return false
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// names remembers member names to find a repeat: a linear search over the
// first few (a Rotor header has three members, its claims about ten), a map
// beyond, so that a hostile object of many tiny members costs linear time.
// It keeps spans, not slices, so that the input does not escape.
type names struct {
	few  [16]span
	n    int
	many map[string]struct{}
}

// dup reports whether b[name] was seen before, and remembers it.
func (s *names) dup(b []byte, name span) bool {
	key := b[name.start:name.end]
	if s.many != nil {
		if _, ok := s.many[string(key)]; ok {
			return true
		}
		s.many[string(key)] = struct{}{}
		return false
	}
	for _, prev := range s.few[:s.n] {
		if string(b[prev.start:prev.end]) == string(key) {
			return true
		}
	}
	if s.n < len(s.few) {
		s.few[s.n] = name
		s.n++
		return false
	}
	s.many = make(map[string]struct{}, 2*len(s.few))
	for _, prev := range s.few {
		s.many[string(b[prev.start:prev.end])] = struct{}{}
	}
	s.many[string(key)] = struct{}{}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanValue checks the JSON value starting at b[i] (RFC 8259 §3) and returns
// the index just past it.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return i, false
		}
		return scanContainer(b, i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false
}

// scanContainer checks the object or array opening at b[i].
func scanContainer(b []byte, i, depth int) (int, bool) {
	object := b[i] == '{'
	closer := byte(']')
	if object {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		if object {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			end, _, ok := scanString(b, i)
			if !ok {
				return i, false
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
		end, ok := scanValue(b, i, depth)
		if !ok {
			return i, false
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closer:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// scanString checks the string opening at b[i] (RFC 8259 §7): no raw
// control characters, only the defined escapes, and valid UTF-8 (RFC 8259
// §8.1; a parser that replaced bad bytes with U+FFFD would let two byte
// strings mean one value). It returns the index just past the closing quote
// and whether the string holds an escape.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); {
		// Most bytes are plain ASCII that needs nothing: skip them first.
		for i < len(b) && plainString[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, escaped, false
				}
				i += 6
			default:
				return i, escaped, false
			}
		case c < 0x20:
			return i, escaped, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, escaped, false
			}
			i += size
		}
	}
	return i, escaped, false
}

// plainString marks the bytes that stand for themselves inside a JSON
// string: ASCII, not a control character, not '"' or '\\'.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber checks the number starting at b[i] (RFC 8259 §6):
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
