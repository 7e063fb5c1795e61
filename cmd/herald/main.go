// Command herald publishes, consumes and benchmarks messages on any Herald
// backend from the command line.
//
//	herald publish -topic orders.created -key order-1 -header source=cli '{"id":1}'
//	herald consume -topic orders.created -group audit -n 10
//	herald bench   -topic bench -n 20000 -size 1024
//	herald schemes
//
// Every command takes -url (default: $HERALD_URL, else the embedded
// broker).
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

	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/all"
)

const usage = `herald: publish, consume and benchmark messages on any Herald backend.

Usage:
  herald publish [flags] [payload]   publish one message (payload from stdin when omitted)
  herald consume [flags]             print consumed messages
  herald bench   [flags]             measure publish and end-to-end throughput
  herald schemes                     list the registered backends

Run "herald <command> -h" for a command's flags. -url defaults to $HERALD_URL,
else the embedded broker.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			msg := err.Error()
			if !strings.HasPrefix(msg, "herald") {
				msg = "herald: " + msg
			}
			fmt.Fprintln(os.Stderr, msg)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
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
	return fmt.Errorf("unknown command %q", args[0])
}

// newFlags returns a flag set with the -url flag every command takes.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	url := fs.String("url", "", "backend URL (default $HERALD_URL, else the embedded broker)")
	return fs, url
}
