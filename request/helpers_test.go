package request_test

import (
	"context"
	"testing"

	"github.com/heraldkit/herald/subscriber"
)

// prepareGroup creates group "g" of topic on the memory bus url (its
// messages wait for a member that never comes).
func prepareGroup(t *testing.T, url, topic string) {
	t.Helper()
	s, err := subscriber.Open(context.Background(), url, subscriber.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Prepare(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
}
