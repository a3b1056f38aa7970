package main

import (
	"strings"
	"testing"
	"time"
)

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"EXAMPLE_WEB_CLIENT_SECRET": "s3cret", "EXAMPLE_WEB_REFRESH_MARGIN": "5s", "EXAMPLE_WEB_API": "http://env"}
	var stderr strings.Builder
	c, err := parseFlags([]string{"--api", "http://flag"}, func(k string) string { return env[k] }, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.clientSecret != "s3cret" || c.margin != 5*time.Second || c.api != "http://flag" || c.sessionTTL != 12*time.Hour {
		t.Errorf("config %+v: want the secret and margin from the environment, the flag over the environment", c)
	}
	if _, err := parseFlags(nil, func(k string) string { return map[string]string{"EXAMPLE_WEB_REFRESH_MARGIN": "soon"}[k] }, &stderr); err == nil || !strings.Contains(err.Error(), "EXAMPLE_WEB_REFRESH_MARGIN") {
		t.Errorf("a bad duration in the environment: %v", err)
	}
	err = run(t.Context(), []string{"--log-level", "loud"}, func(string) string { return "" }, nil, nil, &stderr)
	if err == nil || !strings.Contains(err.Error(), "log-level") {
		t.Errorf("bad --log-level: %v", err)
	}
	err = run(t.Context(), []string{"--listen", "127.0.0.1:0", "--url", "ftp://x"}, func(string) string { return "" }, nil, nil, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--url") {
		t.Errorf("an ftp --url: %v", err)
	}
}
