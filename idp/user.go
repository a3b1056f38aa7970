package idp

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// NewUser validates name and password and returns the user to store.
func NewUser(name, password string, p argon2id.Params, now time.Time) (User, error) {
	if err := validName(name); err != nil {
		return User{}, fmt.Errorf("user name: %w", err)
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	h, err := HashPassword(password, p)
	if err != nil {
		return User{}, err
	}
	return User{ID: randomID(), Name: name, PasswordHash: h, CreatedAt: now, UpdatedAt: now}, nil
}

// validName accepts UTF-8 user names without control characters or spaces
// at the ends, so a name always means what it shows.
func validName(name string) error {
	if name == "" || len(name) > maxUsernameLen {
		return fmt.Errorf("must be 1 to %d bytes", maxUsernameLen)
	}
	if !utf8.ValidString(name) {
		return errors.New("must be valid UTF-8")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return errors.New("may not contain control characters")
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return errors.New("may not start or end with a space")
	}
	return nil
}
