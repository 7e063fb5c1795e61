// Package pgnotify is an outbox.Notifier for PostgreSQL: it LISTENs on the
// channel of an outbox table (the table's name: every commit that wrote
// to the table sends a NOTIFY on it) through a pgx connection of its own,
// and wakes the relay on every notification.
//
//	n, err := pgnotify.New("postgres://app@db/app", store.Table())
//	relay, err := store.NewRelay(pub, outbox.WithNotifier(n))
//	go relay.Run(ctx)
//	defer n.Close()
//
// The connection is opened on the first Wait and opened again, with
// backoff, whenever it is lost (the database restarted, the backend was
// terminated, a ping went unanswered); each failure is passed to
// WithOnError and logged, at warn once per outage. While it is down the
// relay is not woken by commits but still polls (outbox.WithPollInterval),
// so rows are relayed, later. Once the LISTEN is back, Wait returns (a
// wake-up), since notifications sent while nobody listened are lost.
//
// It is a module of its own, so that the outbox library's go.mod names no
// database driver.
package pgnotify
