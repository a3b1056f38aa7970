package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdownDrainsInFlight sends SIGTERM while a token request is
// inside its handler: the request completes, then the process exits cleanly.
func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient("svc", "--scopes", "read", "--audience", "https://api.example")
	r := e.deploy.Serve("drain")

	u, _ := url.Parse(r.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials"
	req, _ := http.NewRequest(http.MethodPost, r.URL+"/oauth2/token", nil)
	req.SetBasicAuth("svc", secret)
	// Expect: 100-continue makes the server say when the handler starts to
	// read the body: from then on the request is in flight.
	head := "POST /oauth2/token HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: " + req.Header.Get("Authorization") +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nExpect: 100-continue\r\n\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	_, _ = br.ReadString('\n') // blank line after the interim response

	r.Signal(syscall.SIGTERM)
	r.WaitOutput(t, regexp.MustCompile(`rotor shutting down`), 10*time.Second)
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request cut off by shutdown: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request: %d", resp.StatusCode)
	}
	if err := r.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("rotor exited with %v after draining", err)
	}
}
