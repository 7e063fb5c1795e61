package main

import (
	"fmt"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/optnames"
)

// Values of consume -from.
const (
	fromBeginning = "beginning"
	fromNew       = "new"
)

// applyFrom sets the backend option that makes a new consumer start at
// the oldest retained message (beginning) or at the next one published
// (new), or says why the backend cannot. A group that already exists
// resumes where it stopped, whatever -from says.
func applyFrom(cfg *herald.Config, from string) error {
	if from == "" {
		return nil
	}
	// start is where a new group or a private reader starts, on every
	// backend that can replay (internal/optnames); its older names
	// (initial_offset, deliver) give way to it.
	set := func(k, v string) {
		if cfg.Options == nil {
			cfg.Options = herald.Options{}
		}
		for _, a := range optnames.Aliases {
			if a.New == k {
				delete(cfg.Options, a.Old)
			}
		}
		cfg.Options[k] = v
	}
	switch cfg.Scheme {
	case "kafka":
		// A new group or a private reader starts at start.
		if from == fromBeginning {
			set("start", "oldest")
		} else {
			set("start", "newest")
		}
		return nil
	case "nats", "embedded":
		if cfg.Options["mode"] == "core" {
			if from == fromBeginning {
				return fmt.Errorf("-from beginning: core NATS (mode=core) keeps no messages to replay; use JetStream (the default mode)")
			}
			return nil
		}
		if cfg.Group == "" {
			if from == fromBeginning {
				return fmt.Errorf("-from beginning on %s needs -group NAME: a private JetStream consumer sees new messages only, a new group starts at the oldest retained one", cfg.Scheme)
			}
			return nil // a private consumer starts with new messages
		}
		if from == fromBeginning {
			set("start", "oldest")
		} else {
			set("start", "newest")
		}
		return nil
	case "mem":
		if from == fromBeginning {
			return fmt.Errorf("-from beginning: mem keeps no history to replay: a subscriber gets the messages published after it subscribed")
		}
		return nil
	case "amqp", "amqps":
		if from == fromBeginning {
			return fmt.Errorf("-from beginning: RabbitMQ keeps no history to replay: a group's queue holds the messages published since it was first declared (consume -group NAME, without -from, reads them)")
		}
		if cfg.Group != "" {
			return fmt.Errorf("-from new with -group: RabbitMQ delivers what the group's queue holds; drop -from, or drop -group for new messages only")
		}
		return nil // a private subscriber sees new messages only
	}
	return fmt.Errorf("-from: not supported for the %q backend; drop -from", cfg.Scheme)
}
