package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Freshness returns the remaining freshness lifetime of a response with
// header h: Cache-Control max-age less Age (RFC 9111 §4.2.1, §5.1);
// no-cache and no-store mean zero, and no usable max-age means def.
func Freshness(h http.Header, def time.Duration) time.Duration {
	maxAge := -1
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
					maxAge = n
				}
			}
		}
	}
	if maxAge < 0 {
		return def
	}
	if age, err := strconv.Atoi(h.Get("Age")); err == nil && age > 0 {
		maxAge = max(0, maxAge-age)
	}
	return time.Duration(min(maxAge, 1<<31)) * time.Second
}
