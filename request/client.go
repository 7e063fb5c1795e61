package request

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// DefaultTimeout bounds a request whose context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// Client sends requests and replies over one reply channel of its
// backend. It is safe for concurrent use; open one per process (or per
// backend) and share it.
type Client struct {
	scheme  string
	req     adapters.Requester
	caps    adapters.RequestCaps
	timeout time.Duration
	logger  *slog.Logger
	dropped atomic.Int64
	closed  atomic.Bool
}

// Option configures a Client.
type Option func(*options) error

type options struct {
	timeout time.Duration
	logger  *slog.Logger
}

// WithTimeout sets the timeout of a request whose context has no earlier
// deadline (default DefaultTimeout). It must be > 0.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("herald: request.WithTimeout: %v is not > 0", d)
		}
		o.timeout = d
		return nil
	}
}

// WithLogger sets the logger, also handed to the backend. The default
// (and nil) is herald.DefaultLogger().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}

// Open opens a client for target (a URL; "" reads HERALD_URL, as
// publisher.Open does). A backend without request/reply is refused with
// an error naming it.
func Open(ctx context.Context, target string, opts ...Option) (*Client, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, opts...)
}

// OpenConfig opens a client for cfg.
func OpenConfig(ctx context.Context, cfg herald.Config, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, logger: herald.DefaultLogger()}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	dcfg, _, err := adapters.SplitCommon(cfg.Clone())
	if err != nil {
		return nil, err
	}
	d, err := adapters.For(dcfg)
	if err != nil {
		return nil, err
	}
	caps := d.Capabilities(dcfg).Request
	if caps.Path == adapters.RequestNone {
		return nil, &herald.Error{Backend: cfg.Scheme, Op: "open requester", Kind: herald.KindInvalid,
			Err: errors.New("the backend has no request/reply (Capabilities.Request.Path is none); use mem, embedded, nats, amqp or kafka")}
	}
	r, err := d.OpenRequester(ctx, dcfg, adapters.Env{Logger: o.logger})
	if err != nil {
		return nil, errstyle.Wrap(err, cfg.Scheme, "open requester", "")
	}
	return &Client{scheme: cfg.Scheme, req: r, caps: caps, timeout: o.timeout, logger: o.logger}, nil
}

// Capabilities is what the client's backend declares about request/reply.
func (c *Client) Capabilities() adapters.RequestCaps { return c.caps }

// Dropped is the number of requests the client's responders dropped
// because their deadline had passed when they arrived.
func (c *Client) Dropped() int64 { return c.dropped.Load() }

// Close fails the requests waiting (herald.ErrClosed) and releases the
// reply channel. It is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.req.Close(ctx)
}

// As sets target to an underlying client object of the backend (see the
// driver's documentation) and reports whether it did.
func (c *Client) As(target any) bool { return c.req.As(target) }
