// Package appdb opens the database of an example service: a SQLite file
// (modernc.org/sqlite, no cgo) by default, or PostgreSQL (pgx's stdlib
// driver) for a postgres:// URL, with the outbox dialect that goes with
// it and, on PostgreSQL, a LISTEN notifier that wakes the outbox relay at
// each commit (outbox/pgnotify).
package appdb
