// Command herald runs a local broker, checks a configuration, and
// publishes, consumes and benchmarks messages on any Herald backend from
// the command line. See README.md in this directory.
//
//	herald serve                               # a local broker for several processes
//	herald doctor -url amqp://user:pass@host:5672/
//	echo '{"id":1}' | herald publish -topic orders.created -key order-1
//	herald consume -topic orders.created -group audit -format json -n 10
//	herald bench   -topic bench -n 20000 -size 1024
//	herald schemes
//
// Every command but serve takes -url (default: $HERALD_URL or
// $HERALD_CONFIG, else the embedded broker), read as the library reads it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/all"
)

const usage = `herald: a local broker, a configuration check, and messages from the command line.

Usage:
  herald serve   [flags]             run a local broker (embedded NATS + JetStream) for several processes
  herald doctor  [flags]             check a configuration step by step: DNS, TCP, TLS, auth, a probe round trip
  herald publish [flags] [payload]   publish the payload, or one message per line of stdin
  herald consume [flags]             print consumed messages (text or JSON lines)
  herald bench   [flags]             measure publish and end-to-end throughput and latency
  herald schemes                     list the registered backends

Run "herald <command> -h" for a command's flags. -url defaults to $HERALD_URL
(or the file in $HERALD_CONFIG), else the embedded broker. Errors go to stderr;
the exit code is 1 on failure, 2 on a usage error.
`

// usageError marks mistakes in the command line (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout)
	os.Exit(exitCode(err, secretsOf(os.Args[1:]), os.Stderr))
}

// exitCode prints err to stderr, without the secrets, and returns the
// process's exit code.
func exitCode(err error, hide secrets, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.Is(err, flag.ErrHelp) {
		return 0 // -h: the flags were printed
	}
	msg := hide.scrub(err.Error())
	if !strings.HasPrefix(msg, "herald") {
		msg = "herald: " + msg
	}
	fmt.Fprintln(stderr, msg)
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stdout)
	case "doctor":
		return doctorCmd(ctx, args[1:], stdout)
	case "publish", "pub":
		return publishCmd(ctx, args[1:], stdin, stdout)
	case "consume", "sub":
		return consumeCmd(ctx, args[1:], stdout)
	case "bench":
		return benchCmd(ctx, args[1:], stdout)
	case "schemes":
		for _, s := range adapters.Schemes() {
			fmt.Fprintln(stdout, s)
		}
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return usagef("unknown command %q", args[0])
}

// newFlagSet returns a flag set whose parse errors are usage errors.
func newFlagSet(name string) *flagSet {
	return &flagSet{flag.NewFlagSet("herald "+name, flag.ContinueOnError)}
}

// newFlags returns a flag set with the -url flag every client command
// takes.
func newFlags(name string) (*flagSet, *string) {
	fs := newFlagSet(name)
	url := fs.String("url", "", "backend URL (default $HERALD_URL or $HERALD_CONFIG, else the embedded broker)")
	return fs, url
}

// flagSet is a flag.FlagSet whose Parse returns usage errors.
type flagSet struct{ *flag.FlagSet }

// Parse parses args; a bad flag is a usage error, -h is flag.ErrHelp.
func (fs *flagSet) Parse(args []string) error {
	err := fs.FlagSet.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}
