package embedded_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// The same message published to two subjects of one stream (a dead-letter
// copy on a stream that also captures {topic}.dlq) is stored twice; a
// resend to the same subject is still de-duplicated.
func TestSameMessageToTwoSubjectsOfOneStream(t *testing.T) {
	pub := fixture(t.TempDir(), "stream=ALL").OpenTopic(t, "")
	tp := topic()
	m := herald.NewMessage([]byte("poison"))
	natsxtest.MustPublish(t, pub, tp, m)
	natsxtest.MustPublish(t, pub, tp+".dlq", m.Copy())
	var js jetstream.JetStream
	if !pub.As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	count := func() uint64 {
		t.Helper()
		st, err := js.Stream(context.Background(), "ALL")
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}
	if n := count(); n != 2 {
		t.Fatalf("stream holds %d messages after publishing one message to %q and to %q, want 2", n, tp, tp+".dlq")
	}
	// A retry of the same message to the same subject is de-duplicated.
	natsxtest.MustPublish(t, pub, tp, m.Copy())
	if n := count(); n != 2 {
		t.Fatalf("stream holds %d messages after a resend to %q, want 2 (de-duplicated)", n, tp)
	}
}
