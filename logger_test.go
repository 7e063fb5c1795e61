package herald_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
)

// DefaultLogger writes warn and above to whatever slog.Default() is at
// the time of the record, keeping attributes and groups.
func TestDefaultLoggerWarnsThroughSlogDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	defer slog.SetDefault(old)
	l := herald.DefaultLogger().With("backend", "kafka").WithGroup("g")
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Info("quiet")
	l.Warn("loud", "topic", "orders")
	out := buf.String()
	if strings.Contains(out, "quiet") {
		t.Errorf("an info record got through: %q", out)
	}
	if !strings.Contains(out, "msg=loud backend=kafka g.topic=orders") {
		t.Errorf("warn record = %q; want it with its attributes and group", out)
	}
}
