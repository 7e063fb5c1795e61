package nats_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// Every metadata entry, awkward keys and values included, and the
// payload round-trip, on JetStream and core NATS.
func TestRoundTripMetadata(t *testing.T) {
	for _, mode := range []string{"jetstream", "core"} {
		t.Run(mode, func(t *testing.T) {
			f := fixture(t, "", "mode="+mode)
			tp := topic(t)
			st := natsxtest.OpenStream(t, f.OpenSubscription(t, "", ""), tp, 4, nil)
			m := herald.NewMessage([]byte("hello\x00\xff"))
			herald.SetKey(m, "order-1")
			for k, v := range map[string]string{
				"plain":                   "v",
				"unicode-é":               "värde ✓",
				"with space":              " lead and trail ",
				"eq=colon:":               "a=b:c",
				"newline":                 "line1\nline2\r\nline3",
				"":                        "empty key",
				"empty":                   "",
				"Nats-Msg-Id":             "user value",
				"Herald-Enc-x":            "looks encoded",
				"_watermill_message_uuid": "x",
			} {
				m.Metadata.Set(k, v)
			}
			natsxtest.MustPublish(t, f.OpenTopic(t, ""), tp, m)
			d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
			st.Ack(d.Token)
			got := d.Msg
			if got.UUID != m.UUID || d.Key != "order-1" {
				t.Errorf("id %q key %q, want %q order-1", got.UUID, d.Key, m.UUID)
			}
			if string(got.Payload) != string(m.Payload) {
				t.Errorf("payload %q", got.Payload)
			}
			for k, v := range m.Metadata {
				if got.Metadata.Get(k) != v {
					t.Errorf("metadata %q = %q, want %q", k, got.Metadata.Get(k), v)
				}
			}
			if len(got.Metadata) != len(m.Metadata) {
				t.Errorf("metadata %v, want %v", got.Metadata, m.Metadata)
			}
		})
	}
}

// Streams of one subscription, and of subscriptions of one group,
// compete for the messages: each gets some, none gets one twice.
func TestStreamsCompete(t *testing.T) {
	for _, q := range []string{"", "mode=core"} {
		for _, group := range []string{"", "compete"} {
			t.Run(q+"/"+group, func(t *testing.T) {
				f := fixture(t, "", q)
				tp := topic(t)
				subs := []adapters.Subscription{f.OpenSubscription(t, group, "")}
				if group != "" {
					subs = append(subs, f.OpenSubscription(t, group, ""))
				}
				var streams []adapters.Stream
				for i := range 3 {
					streams = append(streams, natsxtest.OpenStream(t, subs[i%len(subs)], tp, 4, nil))
				}
				const n = 60
				natsxtest.MustPublish(t, f.OpenTopic(t, ""), tp, natsxtest.Numbered(n)...)
				var mu sync.Mutex
				seen := map[string]int{}
				per := make([]int, len(streams))
				var wg sync.WaitGroup
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for i, st := range streams {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]adapters.Received, 4)
						for {
							k, err := st.Receive(ctx, buf)
							if err != nil {
								return
							}
							mu.Lock()
							for _, d := range buf[:k] {
								seen[d.Msg.UUID]++
								per[i]++
								time.Sleep(5 * time.Millisecond) // let the others take some
								st.Ack(d.Token)
							}
							total := len(seen)
							mu.Unlock()
							if total == n {
								cancel()
							}
						}
					}()
				}
				wg.Wait()
				if len(seen) != n {
					t.Fatalf("%d of %d messages received", len(seen), n)
				}
				for id, c := range seen {
					if c != 1 {
						t.Errorf("message %s received %d times", id, c)
					}
				}
				for i, c := range per {
					if c == 0 {
						t.Errorf("stream %d got nothing: %v", i, per)
					}
				}
			})
		}
	}
}

// The topic's stream is looked up once per topic, not per message, and
// a stream named after the topic is created when none captures it.
func TestProvisionOnce(t *testing.T) {
	f := fixture(t, "", "")
	tp := f.OpenTopic(t, "")
	var nc *nats.Conn
	if !tp.As(&nc) {
		t.Fatal("As(*nats.Conn) failed")
	}
	name := topic(t)
	natsxtest.MustPublish(t, tp, name, natsxtest.Numbered(1)...)
	api, err := nc.SubscribeSync("$JS.API.>")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Unsubscribe()
	natsxtest.MustPublish(t, tp, name, natsxtest.Numbered(20)...)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The subscription sees every client's API requests (other tests and
	// processes share the server): count those answered to this
	// connection's reply inboxes.
	inbox := nc.NewRespInbox()
	inbox = inbox[:strings.LastIndexByte(inbox, '.')+1]
	ours := 0
	for n, _, _ := api.Pending(); n > 0; n-- {
		m, err := api.NextMsg(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(m.Reply, inbox) {
			ours++
			t.Logf("request %s from this connection", m.Subject)
		}
	}
	if ours != 0 {
		t.Errorf("%d JetStream API requests for 20 messages to a known topic, want 0", ours)
	}
	_, js := rawConn(t)
	if s, err := js.StreamNameBySubject(context.Background(), name); err != nil || s != natsx.StreamName(name) {
		t.Errorf("stream %q (%v), want %q", s, err, natsx.StreamName(name))
	}
}

// stream=NAME puts every topic in one stream, adding subjects as used.
func TestSharedStream(t *testing.T) {
	stream := "herald_test_shared_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f := fixture(t, "", "stream="+stream+"&storage=memory")
	_, js := rawConn(t)
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	a, b := topic(t), topic(t)
	sa := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", ""), a, 4, nil)
	sb := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", ""), b, 4, nil)
	tp := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, tp, a, herald.NewMessage([]byte("a")))
	natsxtest.MustPublish(t, tp, b, herald.NewMessage([]byte("b")))
	if d := natsxtest.ReceiveN(t, sa, 1, 10*time.Second)[0]; string(d.Msg.Payload) != "a" {
		t.Errorf("topic a got %q", d.Msg.Payload)
	}
	if d := natsxtest.ReceiveN(t, sb, 1, 10*time.Second)[0]; string(d.Msg.Payload) != "b" {
		t.Errorf("topic b got %q", d.Msg.Payload)
	}
	info, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if subj := info.CachedInfo().Config.Subjects; len(subj) != 2 {
		t.Errorf("subjects %v, want the two topics", subj)
	}
}

// provision=false creates nothing: Send and Open to a topic no stream
// captures fail with ErrInvalid, at once.
func TestProvisionFalse(t *testing.T) {
	f := fixture(t, "", "provision=false")
	name := topic(t)
	start := time.Now()
	err := natsxtest.Publish(context.Background(), f.OpenTopic(t, ""), name, herald.NewMessage(nil))
	if !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("Send with provision=false: %v, want ErrInvalid", err)
	}
	_, err = f.OpenSubscription(t, "g", "").Open(context.Background(), name, adapters.StreamOptions{Window: 1, Status: func(error) {}})
	if !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("Open with provision=false: %v, want ErrInvalid", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
	_, js := rawConn(t)
	if _, err := js.StreamNameBySubject(context.Background(), name); err == nil {
		t.Error("a stream was created")
	}
}

// TestAs: the escape hatch reaches the connection, and JetStream in
// JetStream mode.
func TestAs(t *testing.T) {
	for _, q := range []string{"", "mode=core"} {
		f := fixture(t, "", q)
		for _, v := range []interface{ As(any) bool }{f.OpenTopic(t, ""), f.OpenSubscription(t, "", "")} {
			var nc *nats.Conn
			if !v.As(&nc) || nc == nil || !nc.IsConnected() {
				t.Errorf("%T As(*nats.Conn) failed", v)
			}
			var js jetstream.JetStream
			if got := v.As(&js); got != (q == "") {
				t.Errorf("%T As(jetstream.JetStream) = %v in mode %q", v, got, q)
			}
			var nope *int
			if v.As(&nope) {
				t.Errorf("%T As(**int) = true", v)
			}
		}
	}
}
