package memory

import "github.com/heraldkit/herald"

// settings are the bus's URL options.
type settings struct {
	name   string
	buffer int
}

// defaultBuffer is how many messages a group queues before Send waits.
const defaultBuffer = 1024

func parse(cfg herald.Config) (settings, error) {
	r := cfg.OptionReader()
	s := settings{name: "default", buffer: r.Int("buffer", defaultBuffer, 1, 1<<20)}
	if err := r.Err(); err != nil {
		return s, err
	}
	switch {
	case len(cfg.Hosts) > 1:
		return s, &herald.ConfigError{Key: "hosts", Problem: "names more than one bus", Allowed: "mem:// or mem://name"}
	case len(cfg.Hosts) == 1:
		s.name = cfg.Hosts[0]
	}
	if cfg.Path != "" && cfg.Path != "/" {
		return s, &herald.ConfigError{Key: "path", Value: cfg.Path, Problem: "is not used by the memory bus", Allowed: "mem:// or mem://name"}
	}
	if cfg.Username != "" || cfg.Password != "" {
		return s, &herald.ConfigError{Key: "username", Problem: "credentials are not used by the memory bus", Allowed: "mem:// or mem://name"}
	}
	return s, nil
}
