package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/embedded"
)

// served is a "herald serve" running in this process.
type served struct {
	url  string
	dir  string
	stop func() error  // cancels it and returns its error
	head string        // what it printed up to the URL
	rest *bytes.Buffer // what it printed after: read it after stop
}

// startServe runs serveCmd on dir and a free port and waits for the URL
// it prints.
func startServe(t *testing.T, dir string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	addr := freeAddr(t)
	go func() {
		err := serveCmd(ctx, []string{"-dir", dir, "-listen", addr}, pw)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	s := &served{rest: &bytes.Buffer{}, dir: dir}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		s.head += line + "\n"
		if u, ok := strings.CutPrefix(line, "export HERALD_URL="); ok {
			s.url = u
			break
		}
	}
	if s.url == "" {
		cancel()
		t.Fatalf("serve printed %q and no export line; err %v", s.head, <-done)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for sc.Scan() {
			s.rest.WriteString(sc.Text() + "\n")
		}
	}()
	var stopped bool
	s.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			<-copied
			return err
		case <-time.After(30 * time.Second):
			return errors.New("serve did not stop within 30s")
		}
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

func TestServeKeepsMessagesAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	s := startServe(t, dir)
	if !strings.HasPrefix(s.url, "nats://127.0.0.1:") || !strings.Contains(s.head, "NATS with JetStream on "+s.url) {
		t.Fatalf("serve printed %q", s.head)
	}
	// A second broker on the same directory is refused, naming the cause.
	if _, err := embedded.Listen(ctx, dir, freeAddr(t)); !errors.Is(err, embedded.ErrDirInUse) {
		t.Fatalf("second Listen on the directory = %v; want ErrDirInUse", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"publish", "-url", s.url, "-topic", "serve.t", "first"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := run(ctx, []string{"publish", "-url", s.url, "-topic", "serve.t", "second"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"consume", "-url", s.url, "-topic", "serve.t", "-group", "g", "-n", "1"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if !strings.Contains(out.String(), `payload="first"`) {
		t.Fatalf("consume printed %q; want the first message", out.String())
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stopping serve: %v", err)
	}
	if !strings.Contains(s.rest.String(), "herald serve: stopped") {
		t.Errorf("serve printed %q after the URL; want it to say it stopped", s.rest.String())
	}
	s2 := startServe(t, dir)
	out.Reset()
	if err := run(ctx, []string{"consume", "-url", s2.url, "-topic", "serve.t", "-group", "g", "-n", "1"}, nil, &out); err != nil {
		t.Fatalf("consume after restart: %v", err)
	}
	if !strings.Contains(out.String(), `payload="second"`) {
		t.Fatalf("after restart consume printed %q; want the second message, kept on disk", out.String())
	}
}

func TestServeErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "-listen", "nohost"}, "missing port"},
		{[]string{"serve", "-listen", ":4333"}, "the host is missing"},
		{[]string{"serve", "-listen", "127.0.0.1:99999"}, "not a number from 0 to 65535"},
		{[]string{"serve", "x"}, `unexpected arguments ["x"]`},
	} {
		err := run(ctx, append(tc.args, "-dir", t.TempDir()), nil, &bytes.Buffer{})
		if tc.args[1] == "x" {
			err = run(ctx, []string{"serve", "-dir", t.TempDir(), "x"}, nil, &bytes.Buffer{})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// writeFile writes a test file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
