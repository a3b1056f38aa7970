package idp

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Limits of the profile fields.
const (
	maxEmailLen       = 254 // RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
	maxDisplayNameLen = 256
)

// ProfileUpdate changes a user's profile; nil fields are left as they are.
type ProfileUpdate struct {
	Email         *string // "" removes the address
	EmailVerified *bool
	DisplayName   *string // "" removes the name
}

// Check validates the values the update sets.
func (p ProfileUpdate) Check() error {
	if p.Email != nil {
		if err := checkEmail(*p.Email); err != nil {
			return fmt.Errorf("email: %w", err)
		}
	}
	if p.DisplayName != nil {
		if err := checkDisplayName(*p.DisplayName); err != nil {
			return fmt.Errorf("display name: %w", err)
		}
	}
	if p.EmailVerified != nil && *p.EmailVerified && p.Email != nil && *p.Email == "" {
		return errors.New("email: cannot be verified without an address")
	}
	return nil
}

// Apply returns u with the update applied. A new email address is not known
// to be verified: changing Email clears EmailVerified unless the update sets
// EmailVerified too, and a user without an address is never verified. The
// stores apply updates with this function.
func (p ProfileUpdate) Apply(u User) User {
	if p.Email != nil && *p.Email != u.Email {
		u.Email, u.EmailVerified = *p.Email, false
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if u.Email == "" {
		u.EmailVerified = false
	}
	if p.DisplayName != nil {
		u.DisplayName = *p.DisplayName
	}
	return u
}

// checkEmail accepts "" (no address) or one plain addr-spec (RFC 5322
// §3.4.1), such as alice@example.com: no display name, comments or
// surrounding space, since the value is served as the email claim as is.
func checkEmail(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxEmailLen {
		return fmt.Errorf("longer than %d bytes", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(s, "@") {
		return fmt.Errorf("%q is not a plain address such as alice@example.com", s)
	}
	return nil
}

// checkDisplayName accepts "" or printable UTF-8 without spaces at the ends;
// pages escape it, and logs and JSON quote it.
func checkDisplayName(s string) error {
	if len(s) > maxDisplayNameLen {
		return fmt.Errorf("longer than %d bytes", maxDisplayNameLen)
	}
	return checkText(s)
}

// checkText accepts "" or valid UTF-8 without control characters and
// without space at either end.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8")
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c < 0xa0 {
			return errors.New("may not contain control characters")
		}
	}
	if s != strings.TrimSpace(s) {
		return errors.New("may not start or end with a space")
	}
	return nil
}
