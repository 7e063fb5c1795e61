package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// Scheme is the URL scheme this package registers.
const Scheme = "embedded"

func init() { adapters.Register(Scheme, Adapter{}) }

// Adapter opens publishers and subscribers on an in-process NATS server;
// it is registered for the "embedded" scheme.
type Adapter struct{}

var (
	_ adapters.Adapter   = Adapter{}
	_ adapters.Validator = Adapter{}
)

type settings struct {
	dir    string
	server serverOptions
	js     natsx.Settings
}

var windowsDrive = regexp.MustCompile(`^/[A-Za-z]:`)

func parse(cfg herald.Config) (*settings, error) {
	const allowed = "embedded:///absolute/dir, embedded://?dir=relative/dir, or embedded:// for the default directory"
	r := cfg.OptionReader()
	if len(cfg.Hosts) > 0 {
		r.Fail("hosts", cfg.Hosts[0], "is not used by the embedded broker (a path needs three slashes)", allowed)
	}
	if cfg.Username != "" || cfg.Password != "" {
		r.Fail("username", "", "is not used by the embedded broker", allowed)
	}
	s := &settings{}
	dirOpt := r.String("dir", "")
	path := cfg.Path
	if runtime.GOOS == "windows" && windowsDrive.MatchString(path) {
		path = path[1:]
	}
	switch {
	case path != "" && dirOpt != "":
		r.Fail("dir", dirOpt, "is set together with a path in the URL", allowed)
	case dirOpt != "":
		s.dir = dirOpt
	case path != "":
		s.dir = path
	default:
		d, err := DefaultDir()
		if err != nil {
			r.Fail("dir", "", "has no default here ("+err.Error()+")", allowed)
		}
		s.dir = d
	}
	if s.dir != "" {
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			r.Fail("dir", s.dir, "cannot be made absolute: "+err.Error(), allowed)
		}
		s.dir = abs
	}
	s.server.logs = r.Bool("log", false)
	switch v := r.String("sync", ""); v {
	case "", "default":
	case "always":
		s.server.syncAlways = true
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > time.Hour {
			r.Fail("sync", v, "is neither always nor a duration from 10ms to 1h", "always, default (2m), or a duration such as 1s")
		}
		s.server.syncInterval = d
	}
	s.js = natsx.ReadSettings(r)
	if s.js.Replicas == natsx.ReplicasAuto {
		s.js.Replicas = 1 // one server
	}
	if s.js.Replicas != 1 {
		r.Fail("replicas", fmt.Sprint(s.js.Replicas), "is more than the single embedded server can hold", "1")
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks cfg without starting anything.
func (Adapter) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Publisher returns the publish side on the directory's server, starting
// the server if this process does not run it yet.
func (Adapter) Publisher(ctx context.Context, cfg herald.Config) (message.Publisher, error) {
	s, in, nc, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p, err := natsx.NewPublisher(nc, s.js, natsx.Options{Scheme: Scheme, OnClose: in.release, As: in.as, Logger: adapters.Logger(ctx)})
	if err != nil {
		nc.Close()
		in.release()
		return nil, err
	}
	return p, nil
}

// Subscriber returns the consume side on the directory's server;
// cfg.Group is the consumer group ("" for a private consumer).
func (Adapter) Subscriber(ctx context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, in, nc, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sub, err := natsx.NewSubscriber(nc, s.js, cfg.Group, natsx.Options{Scheme: Scheme, OnClose: in.release, As: in.as, Logger: adapters.Logger(ctx)})
	if err != nil {
		nc.Close()
		in.release()
		return nil, err
	}
	return sub, nil
}

func open(ctx context.Context, cfg herald.Config) (*settings, *instance, *nats.Conn, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("herald/embedded: open %s: %w", s.dir, err)
	}
	in, err := acquire(ctx, s.dir, s.server)
	if err != nil {
		return nil, nil, nil, err
	}
	nc, err := nats.Connect("",
		nats.InProcessServer(in),
		nats.Name("herald-embedded"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
	)
	if err != nil {
		in.release()
		return nil, nil, nil, fmt.Errorf("herald/embedded: connecting to the in-process server: %w", err)
	}
	return s, in, nc, nil
}
