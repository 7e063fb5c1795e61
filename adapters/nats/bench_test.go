package nats_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// BenchmarkStreamPath measures the driver alone against the shared
// broker (see natsxtest.StreamPath); Herald as users run it, beside the
// native clients, is measured by bench/ (make bench-compare).
//
//	go test ./adapters/nats -run '^$' -bench StreamPath -benchtime 20000x
func BenchmarkStreamPath(b *testing.B) { natsxtest.StreamPath(b, fixture(b, "", "")) }
