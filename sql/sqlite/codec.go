package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Times are stored as INTEGER microseconds since the Unix epoch: what
// Postgres keeps too, cheap to compare and index, and free of time-zone
// text. The store owns that precision: micros truncates finer times towards
// the past (time.Time.UnixMicro floors), exactly as the Postgres store does,
// so callers pass their clock's times as they are and read back
// t.Truncate(time.Microsecond) in UTC; parameters compared in SQL are
// truncated the same way. Nullable columns store the zero time as NULL; NOT
// NULL columns store it as its (negative) microsecond count, which reads
// back as the zero time.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// Lists of strings are stored as JSON arrays; "none" is "[]".

func encodeList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func decodeList(column, s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("column %s holds malformed JSON: %w", column, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
