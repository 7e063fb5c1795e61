package natsxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cleanupConns are the connections DeleteStreams uses, one per URL, kept
// for the test binary's life (a connection per test would cost more than
// the deletion).
var cleanupConns struct {
	sync.Mutex
	js map[string]jetstream.JetStream
}

// DeleteStreams deletes the JetStream streams names on the server at url
// (nothing when url is empty; a stream that is not there is no error),
// so that runs on a shared broker do not pile up streams. It is meant for
// tests' cleanups, which log its error rather than fail.
func DeleteStreams(ctx context.Context, url string, names ...string) error {
	if url == "" || len(names) == 0 {
		return nil
	}
	js, err := cleanupJetStream(url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	var errs []error
	for _, name := range names {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("delete stream %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// DeleteStreamsAfter deletes names on url (DeleteStreams) when t ends,
// logging an error on t.
func DeleteStreamsAfter(t testing.TB, url string, names ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteStreams(ctx, url, names...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
}

func cleanupJetStream(url string) (jetstream.JetStream, error) {
	cleanupConns.Lock()
	defer cleanupConns.Unlock()
	if js := cleanupConns.js[url]; js != nil {
		return js, nil
	}
	nc, err := nats.Connect(url, nats.Name("herald test cleanup"))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cleanupConns.js == nil {
		cleanupConns.js = map[string]jetstream.JetStream{}
	}
	cleanupConns.js[url] = js
	return js, nil
}
