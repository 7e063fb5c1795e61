package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ url, key, want string }{
		{"embedded://data/dir", "hosts", "three slashes"},
		{"embedded:///tmp/x?dir=y", "dir", "together with a path"},
		{"embedded://u:p@/tmp/x", "username", "not used"},
		{"embedded:///tmp/x?replicas=3", "replicas", "single embedded server"},
		{"embedded:///tmp/x?sync=sometimes", "sync", "always"},
		{"embedded:///tmp/x?log=loud", "log", "not a boolean"},
		{"embedded:///tmp/x?ack_wait=forever", "ack_wait", "not a duration"},
		{"embedded:///tmp/x?token=abc", "token", "not a known option"},
		{"embedded:///tmp/x?nak_delay=3s", "nak_delay", "not an option any more"},
		{"embedded:///tmp/x?publish_timeout=3s", "publish_timeout", "not an option any more"},
		{"embedded:///tmp/x?max_pending=8", "max_pending", "not an option any more"},
		{"embedded:///tmp/x?close_timeout=1s", "close_timeout", "not an option any more"},
		{"embedded:///tmp/x?prefetch=0", "prefetch", "not a window size"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cfg, err := herald.ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = adapters.For(cfg)
			var ce *herald.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("%s: err = %v, want a *herald.ConfigError", tc.url, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("key %q", tc.key)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %q does not name key %q and %q", tc.url, err, tc.key, tc.want)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

// TestDefaultAndRelativeDir: embedded:// uses DefaultDir (here under
// XDG_DATA_HOME); ?dir= is relative to the working directory.
func TestDefaultAndRelativeDir(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	d, err := embedded.DefaultDir()
	if err != nil || d != filepath.Join(xdg, "herald", "embedded") {
		t.Fatalf("DefaultDir() = %q, %v", d, err)
	}
	open := func(u string) adapters.Topic {
		cfg, err := herald.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := embedded.Driver{}.OpenTopic(context.Background(), cfg, natsxtest.Env())
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	p := open("embedded://")
	if _, err := os.Stat(filepath.Join(d, embedded.LockFile)); err != nil {
		t.Errorf("default dir not used: %v", err)
	}
	_ = p.Close(context.Background())

	t.Chdir(t.TempDir())
	p = open("embedded://?dir=rel/data")
	if _, err := os.Stat(filepath.Join("rel", "data", embedded.LockFile)); err != nil {
		t.Errorf("relative dir not used: %v", err)
	}
	_ = p.Close(context.Background())
}

// TestSharedServer: separate Opens on one directory share one server,
// which stops with its last user; a message crosses between them.
func TestSharedServer(t *testing.T) {
	dir := t.TempDir()
	f := fixture(dir, "")
	pub := openTopic(t, f, "")
	sub := openSubscription(t, f, "g", "")
	var s1, s2 *server.Server
	if !pub.As(&s1) || !sub.As(&s2) || s1 == nil || s1 != s2 {
		t.Fatalf("servers %p and %p: not shared", s1, s2)
	}
	if running, refs := embedded.Running(dir); !running || refs != 2 {
		t.Fatalf("running=%v refs=%d, want true 2", running, refs)
	}
	tp := topic()
	st := natsxtest.OpenStream(t, sub, tp, 8, nil)
	ids := publishN(t, pub, tp, 3, "shared")
	if got := receiveIDs(t, st, 3, 10*time.Second); !equal(got, ids) {
		t.Fatalf("got %v want %v", got, ids)
	}
	_ = pub.Close(context.Background())
	_ = pub.Close(context.Background()) // idempotent: must not drop a second reference
	if running, refs := embedded.Running(dir); !running || refs != 1 {
		t.Fatalf("after one close: running=%v refs=%d, want true 1", running, refs)
	}
	if err := pub.Send(context.Background(), tp, herald.NewMessage(nil), adapters.SendOptions{}, func(error) {}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Send after close: %v, want ErrClosed", err)
	}
	_ = sub.Close(context.Background())
	if running, _ := embedded.Running(dir); running {
		t.Fatal("server still running after the last close")
	}
	if s1.Running() {
		t.Fatal("nats-server still running")
	}
	if _, err := sub.Open(context.Background(), tp, adapters.StreamOptions{Window: 1, Status: func(error) {}}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Open after close: %v, want ErrClosed", err)
	}
}
