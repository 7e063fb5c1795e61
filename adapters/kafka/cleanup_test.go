package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain deletes, once every test has ended, the topics and groups the
// tests named (uniqueName) on the shared broker, so that runs do not pile
// them up: thousands of leftover topics slowed Kafka's start and ended in
// an OutOfMemoryError. Not at each test's cleanup: a topic deleted while
// the test's clients are still open (cleanups run last-in first-out) is
// created again by them (auto.create.topics.enable=true).
func TestMain(m *testing.M) {
	code := m.Run()
	names.Lock()
	all := names.list
	names.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := deleteAll(ctx, all, all); err != nil {
		fmt.Fprintf(os.Stderr, "kafka tests: cleanup: %v\n", err)
	}
	cancel()
	os.Exit(code)
}

// names are the names uniqueName gave.
var names struct {
	sync.Mutex
	list []string
}

// uniqueName is a fresh topic or group name, deleted (as both) after the
// tests (TestMain).
func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "." + hex.EncodeToString(b[:])
	remember(name)
	return name
}

// remember has TestMain delete topics and groups named ns.
func remember(ns ...string) {
	names.Lock()
	names.list = append(names.list, ns...)
	names.Unlock()
}

// cleanupAdmin is the admin client deleteAll uses, on HERALD_TEST_KAFKA
// (nil when it is not set).
var cleanupAdmin = sync.OnceValue(func() *kadm.Client {
	u, err := url.Parse(os.Getenv("HERALD_TEST_KAFKA"))
	if err != nil || u.Host == "" {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(u.Host, ",")...))
	if err != nil {
		return nil
	}
	return kadm.NewClient(cl)
})

// deleteAll deletes topics and consumer groups on the shared broker; one
// that is not there is no error.
func deleteAll(ctx context.Context, topics, groups []string) error {
	adm := cleanupAdmin()
	if adm == nil || len(topics)+len(groups) == 0 {
		return nil
	}
	ts, err := adm.DeleteTopics(ctx, topics...)
	errs := []error{err}
	for _, r := range ts {
		errs = append(errs, unless(r.Err, kerr.UnknownTopicOrPartition, "delete topic "+r.Topic))
	}
	gs, err := adm.DeleteGroups(ctx, groups...)
	errs = append(errs, err)
	for _, r := range gs {
		errs = append(errs, unless(r.Err, kerr.GroupIDNotFound, "delete group "+r.Group))
	}
	return errors.Join(errs...)
}

// unless is err, prefixed with what, unless it is nil or absent.
func unless(err, absent error, what string) error {
	if err == nil || errors.Is(err, absent) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
