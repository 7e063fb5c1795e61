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
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, _, err := adapters.Resolve(tc.url)
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
	p := openPub(t, "embedded://")
	if _, err := os.Stat(filepath.Join(d, embedded.LockFile)); err != nil {
		t.Errorf("default dir not used: %v", err)
	}
	_ = p.Close()

	t.Chdir(t.TempDir())
	p = openPub(t, "embedded://?dir=rel/data")
	if _, err := os.Stat(filepath.Join("rel", "data", embedded.LockFile)); err != nil {
		t.Errorf("relative dir not used: %v", err)
	}
	_ = p.Close()
}

// TestSharedServer: separate Opens on one directory share one server,
// which stops with its last user; a message crosses between them.
func TestSharedServer(t *testing.T) {
	dir := t.TempDir()
	type aser interface{ As(any) bool }
	pub := openPubNoCleanup(t, target(dir, ""))
	sub := openSubNoCleanup(t, target(dir, ""))
	var s1, s2 *server.Server
	if !pub.(aser).As(&s1) || !sub.(aser).As(&s2) || s1 == nil || s1 != s2 {
		t.Fatalf("servers %p and %p: not shared", s1, s2)
	}
	if running, refs := embedded.Running(dir); !running || refs != 2 {
		t.Fatalf("running=%v refs=%d, want true 2", running, refs)
	}
	tp := topic()
	ch := subscribe(t, sub, tp)
	ids := publishN(t, pub, tp, 3, "shared")
	if got := receive(t, ch, 3, 10*time.Second); !equal(got, ids) {
		t.Fatalf("got %v want %v", got, ids)
	}
	_ = pub.Close()
	_ = pub.Close() // idempotent: must not drop a second reference
	if running, refs := embedded.Running(dir); !running || refs != 1 {
		t.Fatalf("after one close: running=%v refs=%d, want true 1", running, refs)
	}
	if err := pub.Publish(tp, herald.NewMessage(nil)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("publish after close: %v, want ErrClosed", err)
	}
	_ = sub.Close()
	if running, _ := embedded.Running(dir); running {
		t.Fatal("server still running after the last close")
	}
	if s1.Running() {
		t.Fatal("nats-server still running")
	}
	if _, err := sub.Subscribe(context.Background(), tp); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("subscribe after close: %v, want ErrClosed", err)
	}
}
