package embedded_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
)

// The same message published to two subjects of one stream (a dead-letter
// copy on a stream that also captures {topic}.dlq) is stored twice; a
// resend to the same subject is still de-duplicated.
func TestSameMessageToTwoSubjectsOfOneStream(t *testing.T) {
	u := target(t.TempDir(), "stream=ALL")
	pub := openPub(t, u)
	tp := topic()
	m := herald.NewMessage([]byte("poison"))
	if err := pub.Publish(tp, m); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(tp+".dlq", m.Copy()); err != nil {
		t.Fatal(err)
	}
	var js jetstream.JetStream
	if !pub.(interface{ As(any) bool }).As(&js) {
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
	if err := pub.Publish(tp, m.Copy()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("stream holds %d messages after a resend to %q, want 2 (de-duplicated)", n, tp)
	}
}
