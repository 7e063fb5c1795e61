package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/embedded"
)

// runMainEnv makes the test binary run main() instead of the tests, so
// tests can start "herald" as a real process.
const runMainEnv = "HERALD_CLI_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// heraldCmd returns the command that runs this binary as herald with args.
func heraldCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := heraldCmd(ctx, "serve", "-dir", dir, "-listen", freeAddr(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	url := ""
	for url == "" && sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "export HERALD_URL="); ok {
			url = u
		}
	}
	if url == "" {
		_ = cmd.Process.Kill()
		t.Fatalf("serve printed no URL; stderr %q", stderr.String())
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"publish", "-url", url, "-topic", "sig.t", "kept"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM; stderr %q", err, stderr.String())
	}
	if !strings.Contains(rest.String(), "herald serve: stopped") {
		t.Errorf("serve printed %q after SIGTERM; want it to say it stopped", rest.String())
	}
	// The directory is free again and holds the message.
	l, err := embedded.Listen(ctx, dir, freeAddr(t))
	if errors.Is(err, embedded.ErrDirInUse) || err != nil {
		t.Fatalf("Listen after serve stopped: %v", err)
	}
	defer l.Close()
	out.Reset()
	if err := run(ctx, []string{"consume", "-url", l.URL(), "-topic", "sig.t", "-group", "g", "-n", "1"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if !strings.Contains(out.String(), `payload="kept"`) {
		t.Errorf("consume printed %q; want the message published before SIGTERM", out.String())
	}
}

func TestExitCodesAndStderr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"nope"}, 2, `herald: unknown command "nope"`},
		{[]string{"consume", "-url", "amqp://u:Hidden-pw1@127.0.0.1:1/", "-topic", "t", "-format", "x"}, 2, `-format "x"`},
		{[]string{"publish", "-url", "bogus://u:Hidden-pw2@h", "-topic", "t", "x"}, 1, "registered schemes"},
		{[]string{"schemes"}, 0, ""},
		{[]string{"publish", "-h"}, 0, "-topic"},
		{[]string{}, 2, "no command given"},
	} {
		cmd := heraldCmd(ctx, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) || strings.Contains(stderr.String()+stdout.String(), "Hidden-pw") {
			t.Errorf("herald %q: exit %d, stderr %q; want exit %d, %q on stderr and no password", tc.args, code, stderr.String(), tc.code, tc.stderr)
		}
		if tc.code != 0 && strings.Contains(stdout.String(), tc.stderr) {
			t.Errorf("herald %q printed the error on stdout", tc.args)
		}
	}
}
