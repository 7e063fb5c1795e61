package embedded_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/embedded"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	adaptertest.Run(t, adaptertest.Suite{
		Target: target(dir, ""),
		Features: adaptertest.Features{
			Durable:       true,
			Redelivery:    true,
			OrderedPerKey: true,
			SingleProcess: true,
			MaxPayload:    embedded.MaxPayload - 64<<10,
		},
		SharedStreamTarget: target(dir, "stream=ALL"), // one stream captures every topic and its .dlq
		Restart: func(t *testing.T) {
			if err := embedded.Restart(dir); err != nil {
				t.Fatal(err)
			}
		},
	})
}
