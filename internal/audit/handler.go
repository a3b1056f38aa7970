package audit

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// lineHandler is a slog.Handler that writes each record as one JSON line
// with a single write: the same document slog.JSONHandler writes ("time",
// "level", "msg", then the attributes, groups as dotted keys), built by
// appending into a pooled buffer. Audit events sit on the token endpoint's
// hot path, and slog.JSONHandler's reflection-driven encoding cost more
// than the rest of a client_credentials request.
type lineHandler struct {
	out    *lineOut
	level  slog.Leveler
	prefix string // group prefix ("a.b.") for keys
	pre    []byte // attributes from WithAttrs, encoded, each with a leading comma
}

// lineOut hands complete lines to a writer goroutine, so that a request
// never waits for the audit log's write: lines are appended to a buffer
// under a mutex (they never interleave), and the writer writes the whole
// buffer at most flushDelay after its first line, so that a busy server
// makes one write per batch instead of one per event. Past maxPending bytes
// the request writes the batch itself (backpressure instead of unbounded
// memory). Flush and Close write what is pending.
type lineOut struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
	kick    chan struct{} // a batch is pending
	idle    *sync.Cond    // signalled when a batch has been written
	writing bool
	closed  bool
	stop    chan struct{} // closed by close
	done    chan struct{}
}

const (
	maxPending = 1 << 20
	flushDelay = 10 * time.Millisecond
)

func newLineOut(w io.Writer) *lineOut {
	o := &lineOut{w: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	o.idle = sync.NewCond(&o.mu)
	go o.run()
	return o
}

func (o *lineOut) write(line []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		_, err := o.w.Write(line)
		return err
	}
	o.pending = append(o.pending, line...)
	if len(o.pending) > maxPending {
		return o.flushLocked()
	}
	select {
	case o.kick <- struct{}{}:
	default:
	}
	return nil
}

// run writes each batch flushDelay after its first line, until Close.
func (o *lineOut) run() {
	defer close(o.done)
	t := time.NewTimer(flushDelay)
	t.Stop()
	for {
		select {
		case <-o.kick:
		case <-o.stop:
			return
		}
		t.Reset(flushDelay)
		select {
		case <-t.C:
		case <-o.stop:
			t.Stop()
			return
		}
		o.mu.Lock()
		_ = o.flushLocked()
		o.mu.Unlock()
	}
}

// flushLocked writes the pending batch; o.mu is held, and released while
// the write runs (one writer at a time).
func (o *lineOut) flushLocked() error {
	for o.writing {
		o.idle.Wait()
	}
	if len(o.pending) == 0 {
		return nil
	}
	batch := o.pending
	o.pending = nil
	o.writing = true
	o.mu.Unlock()
	_, err := o.w.Write(batch)
	o.mu.Lock()
	o.writing = false
	o.idle.Broadcast()
	if o.pending == nil && cap(batch) <= maxPending {
		o.pending = batch[:0] // reuse the buffer
	}
	return err
}

// flush writes everything pending.
func (o *lineOut) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flushLocked()
}

// close flushes and stops the writer; later lines are written directly.
func (o *lineOut) close() error {
	o.mu.Lock()
	err := o.flushLocked()
	if !o.closed {
		o.closed = true
		close(o.stop)
	}
	o.mu.Unlock()
	<-o.done
	return err
}

func newLineHandler(w io.Writer, level slog.Leveler) *lineHandler {
	return &lineHandler{out: newLineOut(w), level: level}
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	b = append(b, h.pre...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	b = append(b, '}', '\n')
	err := h.out.write(b)
	if cap(b) <= 16<<10 {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// emit writes an audit event as Logger.Emit's slog path would, without
// building a slog.Record: the same line, for a fraction of the
// allocations, on the token endpoint's hot path.
func (h *lineHandler) emit(ctx context.Context, e Event, outcome string) {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"log":"audit","event":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"actor":`...)
	b = appendString(b, e.Actor.Type)
	if e.Actor.ID != "" {
		b = append(b, `,"actor_id":`...)
		b = appendString(b, e.Actor.ID)
	}
	b = append(b, `,"outcome":`...)
	b = appendString(b, outcome)
	if e.Remote != "" {
		b = append(b, `,"remote_addr":`...)
		b = appendString(b, e.Remote)
	}
	if id := RequestID(ctx); id != "" {
		b = append(b, `,"request_id":`...)
		b = appendString(b, id)
	}
	for _, a := range e.Attrs {
		b = appendAttr(b, "", a)
	}
	b = append(b, '}', '\n')
	_ = h.out.write(b)
	if cap(b) <= 16<<10 {
		*bp = b
		linePool.Put(bp)
	}
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		h2.pre = appendAttr(h2.pre, h.prefix, a)
	}
	return &h2
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr appends `,"key":value`; a group's attributes get dotted keys.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			b = appendAttr(b, p, g)
		}
		return b
	}
	b = append(b, ',')
	b = appendString(b, prefix+a.Key)
	b = append(b, ':')
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	j, err := json.Marshal(v.Any())
	if err != nil {
		return appendString(b, "!ERROR:"+err.Error())
	}
	return append(b, j...)
}

// appendString appends s as a JSON string: printable ASCII other than the
// quote, the backslash and the HTML characters is copied as is, anything
// else goes through encoding/json (which also replaces invalid UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
