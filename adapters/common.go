package adapters

import (
	"fmt"
	"strconv"

	"github.com/heraldkit/herald"
)

// Common holds the URL options that mean the same on every backend and
// are read by the facade, not by a driver.
type Common struct {
	// Prefetch is the consume window (subscriber.WithWindow), 0 when the
	// URL sets none.
	Prefetch int
}

// MaxPrefetch is the largest consume window.
const MaxPrefetch = 1 << 16

// SplitCommon takes the common options out of cfg.Options and returns
// cfg without them (the driver then validates the rest) and their
// values.
//
//   - prefetch: the consume window, 1 to MaxPrefetch. On Kafka the older
//     name "window" is accepted as an alias (until the next release).
//     On RabbitMQ "window" was the publish window: it is refused, with
//     the names that replace it.
func SplitCommon(cfg herald.Config) (herald.Config, Common, error) {
	var c Common
	if len(cfg.Options) == 0 {
		return cfg, c, nil
	}
	cfg = cfg.Clone()
	key, v, ok := "prefetch", cfg.Options["prefetch"], false
	if _, ok = cfg.Options["prefetch"]; ok {
		delete(cfg.Options, "prefetch")
	}
	if w, has := cfg.Options["window"]; has {
		switch cfg.Scheme {
		case "amqp", "amqps":
			return cfg, c, &herald.ConfigError{Key: "window", Value: w, Problem: "was RabbitMQ's publish window and is gone",
				Allowed: "publisher.WithAsyncWindow for the publish window, ?prefetch=N for the consume window"}
		case "kafka":
			if ok {
				return cfg, c, &herald.ConfigError{Key: "window", Value: w, Problem: "is the older name of prefetch, and both are set", Allowed: "prefetch only"}
			}
			key, v, ok = "window", w, true
			delete(cfg.Options, "window")
		}
	}
	if !ok {
		return cfg, c, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPrefetch {
		return cfg, c, &herald.ConfigError{Key: key, Value: v, Problem: "is not a window size", Allowed: fmt.Sprintf("an integer from 1 to %d", MaxPrefetch)}
	}
	c.Prefetch = n
	return cfg, c, nil
}
