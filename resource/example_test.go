package resource_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rotor-idp/rotor/resource"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

func Example() {
	// In a test: a Rotor issuer on loopback. In production Issuer is Rotor's
	// URL, such as https://id.example.com.
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

	mux := http.NewServeMux()
	mux.Handle("GET /schedules", v.Authenticate(resource.RequireScope("read")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := resource.ClaimsFrom(r.Context())
			fmt.Fprintf(w, "schedules of %s", c.Subject)
		}))))

	for _, token := range []string{iss.Token(), "", "not-a-token"} {
		req := httptest.NewRequest("GET", "/schedules", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		line := fmt.Sprintf("%d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
		fmt.Println(strings.TrimSpace(line))
	}
	// Output:
	// 200 "" schedules of user-1
	// 401 "Bearer"
	// 401 "Bearer error=\"invalid_token\", error_description=\"the access token is invalid\"" {"error":"invalid_token"}
}

func ExampleVerifier_Verify() {
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

	token := iss.Token(resourcetest.WithAlg(resourcetest.EdDSA), resourcetest.WithClaims(func(c *resourcetest.Claims) {
		c.Subject = "alice"
		c.Scope = "schedules:read"
	}))
	c, err := v.Verify(context.Background(), token)
	fmt.Println(c.Subject, c.Scopes(), err)
	// Output: alice [schedules:read] <nil>
}
