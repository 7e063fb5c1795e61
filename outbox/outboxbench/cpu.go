package main

import (
	"time"

	"github.com/heraldkit/herald/internal/benchkit"
)

// cpuReading is the CPU time used so far by this process, the broker and
// PostgreSQL (its postmaster and backends), at the start of a case.
type cpuReading struct {
	cfg              config
	self, broker, pg time.Duration
	brokerOK, pgOK   bool
}

func startCPU(cfg config) cpuReading {
	r := cpuReading{cfg: cfg, self: benchkit.ProcessCPU()}
	r.broker, r.brokerOK = benchkit.PIDCPU(cfg.brokerPID)
	r.pg, r.pgOK = benchkit.TreeCPU(cfg.pgPID)
	return r
}

// perMessage is the CPU time each used since the reading, per message of
// n; zero where it could not be read.
func (r cpuReading) perMessage(n int) (self, broker, pg time.Duration) {
	per := func(d time.Duration) time.Duration { return d / time.Duration(max(n, 1)) }
	self = per(benchkit.ProcessCPU() - r.self)
	if b, ok := benchkit.PIDCPU(r.cfg.brokerPID); ok && r.brokerOK {
		broker = per(b - r.broker)
	}
	if p, ok := benchkit.TreeCPU(r.cfg.pgPID); ok && r.pgOK {
		pg = per(p - r.pg)
	}
	return self, broker, pg
}
