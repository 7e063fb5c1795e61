// Package faults is the outbox's fault suite (issue 16, item 5): writers
// commit (and roll back) transactions that publish through outbox.Store
// while relay processes (this binary run again, RunRelayIfChild) forward
// the rows to NATS JetStream on a nats-server of the suite's own, and a
// consumer counts every message by ID. Each case injects one kind of
// fault: a relay SIGKILLed mid-batch and started again, the database
// (a PostgreSQL of the suite's own) stopped with pg_ctl -m immediate and
// started again, the broker SIGKILLed and started again, two or three
// relays on one table with kills, transactions rolled back among the
// committed ones.
//
// For each case and database it reports committed messages lost (must be
// 0), rolled-back messages published (must be 0), duplicates and the time
// to catch up after the fault ended, as a markdown table or JSON.
// cmd/outbox-faults is the command (make outbox-faults); the package's
// test runs a short subset (make test). docs/reliability.md ("Outbox
// faults") has the figures and what each case does. What it shares with
// the broker fault suite, chaos/ (processes, child processes, the
// command's output), is internal/faultkit.
package faults
