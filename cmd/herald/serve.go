package main

import (
	"context"
	"fmt"
	"io"

	"github.com/heraldkit/herald/adapters/embedded"
)

// defaultListen is where "herald serve" listens unless -listen says
// otherwise: this machine only, on a fixed port that examples can name.
const defaultListen = "127.0.0.1:4333"

// serveCmd runs the embedded broker (NATS + JetStream on a data
// directory) as a standalone server until ctx ends (SIGINT, SIGTERM).
func serveCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("serve")
	dir := fs.String("dir", "", "data directory (default: the embedded backend's, "+defaultDirText()+")")
	listen := fs.String("listen", defaultListen, "address to listen on, host:port (0.0.0.0:PORT opens it to the network)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	d := *dir
	if d == "" {
		var err error
		if d, err = embedded.DefaultDir(); err != nil {
			return fmt.Errorf("serve: no default data directory (%v); give one with -dir", err)
		}
	}
	l, err := embedded.Listen(ctx, d, *listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer l.Close()
	url := l.URL()
	fmt.Fprintf(stdout, "herald serve: NATS with JetStream on %s, data in %s\n", url, l.Dir())
	fmt.Fprintf(stdout, "export HERALD_URL=%s\n", url)
	<-ctx.Done()
	if err := l.Close(); err != nil {
		return fmt.Errorf("serve: stopping: %w", err)
	}
	fmt.Fprintln(stdout, "herald serve: stopped")
	return nil
}

// defaultDirText names the default data directory for the usage text.
func defaultDirText() string {
	d, err := embedded.DefaultDir()
	if err != nil {
		return "none here: " + err.Error()
	}
	return d
}
