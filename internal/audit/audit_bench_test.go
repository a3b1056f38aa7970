package audit

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func benchEmit(b *testing.B, l *Logger) {
	ctx := WithRequestID(context.Background(), "AbCdEfGhIjKlMnOp")
	e := Event{Name: TokenIssued, Actor: Client("svc"), Remote: "127.0.0.1", Attrs: []slog.Attr{
		slog.String("grant", "client_credentials"), slog.String("client_id", "svc"), slog.String("sub", "svc"),
		slog.String("jti", "q8yBtm4YwW1RkVg0HfsYNw"), slog.String("kid", "U_1Y0sbukjWZM97TRtyiCXiCbOBmqglrsj8tCDngRS0"),
		slog.Bool("refresh_token", false)}}
	b.ReportAllocs()
	for b.Loop() {
		l.Emit(ctx, e)
	}
}

func BenchmarkEmit(b *testing.B) {
	b.Run("discard", func(b *testing.B) { benchEmit(b, New(io.Discard)) })
	b.Run("file", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "audit.log"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		benchEmit(b, New(f))
	})
}
