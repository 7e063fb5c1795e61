package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// A bad table name is a configuration error naming the option, before
// any I/O (the *sql.DB here has no driver behind it).
func TestBadTableName(t *testing.T) {
	db := &sql.DB{}
	for _, name := range []string{"", "Orders", "1x", "a-b", "a;drop table x", "x." + strings.Repeat("a", 10), strings.Repeat("a", 49)} {
		_, err := outbox.New(context.Background(), db, outbox.PostgreSQL, outbox.WithTable(name))
		var ce *herald.ConfigError
		if !errors.As(err, &ce) || ce.Key != "outbox.WithTable" {
			t.Errorf("WithTable(%q): %v; want a ConfigError naming outbox.WithTable", name, err)
		}
		_, err = outbox.NewInbox(context.Background(), db, outbox.SQLite, "g", outbox.WithInboxTable(name))
		if !errors.As(err, &ce) || ce.Key != "outbox.WithInboxTable" {
			t.Errorf("WithInboxTable(%q): %v; want a ConfigError naming outbox.WithInboxTable", name, err)
		}
	}
	if _, err := outbox.New(context.Background(), db, outbox.Dialect{}); !errors.Is(err, herald.ErrInvalidConfig) {
		t.Errorf("zero Dialect: %v", err)
	}
}

// A negative inbox retention is a configuration error naming the option.
func TestBadInboxRetention(t *testing.T) {
	_, err := outbox.NewInbox(context.Background(), &sql.DB{}, outbox.SQLite, "g", outbox.WithInboxRetention(-time.Second))
	var ce *herald.ConfigError
	if !errors.As(err, &ce) || ce.Key != "outbox.WithInboxRetention" {
		t.Fatalf("WithInboxRetention(-1s): %v; want a ConfigError naming it", err)
	}
}
