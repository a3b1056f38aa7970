package resourcetest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rotor-idp/rotor/resource"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// A rotation as Rotor performs it: the next key is published first, then
// signs; a revoked key leaves the JWKS.
func ExampleIssuer() {
	iss := resourcetest.Start()
	defer iss.Close()
	v, err := resource.New(resource.Config{
		Issuer:   iss.URL(),
		Audience: resourcetest.Audience,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	ctx := context.Background()

	old := iss.Current(resourcetest.RS256)
	next := iss.NewKey(resourcetest.RS256)
	iss.Publish(next)
	v.Refresh(ctx) // what the background refresh does within max-age
	iss.SetCurrent(next)
	_, err = v.Verify(ctx, iss.Token())
	fmt.Println("token from the new key:", err)

	oldToken := iss.Token(resourcetest.WithKey(old))
	iss.Unpublish(old)
	v.Refresh(ctx)
	_, err = v.Verify(ctx, oldToken)
	fmt.Println("token from the revoked key rejected:", errors.Is(err, resource.ErrInvalidToken))
	// Output:
	// token from the new key: <nil>
	// token from the revoked key rejected: true
}
