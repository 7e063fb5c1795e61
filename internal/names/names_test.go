package names

import (
	"flag"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var seedFlag = flag.Uint64("names.seed", 0, "seed of the random names (0: from the clock)")

// fragments are what the random inputs are made of: every separator,
// escape, marker and prefix of the encodings, unicode, bytes brokers
// refuse, and plain text.
var fragments = []string{
	"a", "b", "Z", "0", "9", "-", "_", ".", "%", "%2E", "%25", "%2", "%private-", "private-", ".%h", "%h",
	"__", "_-", "_x", "_5F", "_2E", "_p", "herald_p", "herald", "x", "é", "日本", "🙂", " ", "\t", "/", "\\", "*", ">",
	"\x00", "\x7f", "\xff", "amq.", "orders", "eu.billing", "..", "a.b", "a_b",
}

// randomString returns a string of random fragments, now and then a long
// one (past every broker's limit).
func randomString(rng *rand.Rand) string {
	var b strings.Builder
	n := rng.IntN(8)
	if rng.IntN(10) == 0 {
		n = 40 + rng.IntN(200)
	}
	for range n {
		b.WriteString(fragments[rng.IntN(len(fragments))])
	}
	return b.String()
}

func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -names.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

// namespace records which input each derived name came from.
type namespace struct {
	t    *testing.T
	what string
	seen map[string]string
}

func newNamespace(t *testing.T, what string) *namespace {
	return &namespace{t: t, what: what, seen: map[string]string{}}
}

func (ns *namespace) add(name, input string) {
	ns.t.Helper()
	if prev, dup := ns.seen[name]; dup && prev != input {
		ns.t.Fatalf("%s %q is derived from both %s and %s", ns.what, name, prev, input)
	}
	ns.seen[name] = input
}

func pair(a, b string) string { return strconv.Quote(a) + "/" + strconv.Quote(b) }

// TestInjective: random topics, groups and ids, separators, escapes,
// markers, unicode and long ones included, never share a queue, a
// stream or a consumer, and every name is valid for its broker.
func TestInjective(t *testing.T) {
	rng := newRand(t)
	queues := newNamespace(t, "queue")
	streams := newNamespace(t, "stream")
	consumers := newNamespace(t, "consumer")
	ids := []string{"01jabcdefghjkmnpqrstvwxyz0", "1", "2", "p1", "x"}
	for range 30000 {
		topic, group := randomString(rng), randomString(rng)
		id := ids[rng.IntN(len(ids))]
		if group != "" && utf8.ValidString(topic) && utf8.ValidString(group) && topic != "" && !strings.HasPrefix(topic, "amq.") {
			q := Queue(topic, group)
			queues.add(q, "group "+pair(topic, group))
			if !ValidAMQP(q) {
				t.Fatalf("Queue%s = %q: not a valid RabbitMQ queue name", pair(topic, group), q)
			}
			p := PrivateQueue(topic, id)
			queues.add(p, "private "+pair(topic, id))
			if !ValidAMQP(p) {
				t.Fatalf("PrivateQueue%s = %q: invalid", pair(topic, id), p)
			}
		}
		if topic != "" { // topics are never empty
			streams.add(Stream(topic), "topic "+strconv.Quote(topic))
			checkJetStream(t, Stream(topic), "topic "+strconv.Quote(topic))
		}
		if topic == "" || group == "" {
			continue // neither is ever empty where a consumer is named
		}
		for name, input := range map[string]string{
			Consumer(group, topic, false):       "group " + pair(group, topic),
			Consumer(group, "", true):           "group " + strconv.Quote(group) + " (own stream)",
			PrivateConsumer(id, topic, false):   "private " + pair(id, topic),
			PrivateConsumer(id, "", true):       "private " + strconv.Quote(id) + " (own stream)",
			Consumer(group+"\x01", topic, true): "group " + strconv.Quote(group+"\x01") + " (own stream)",
		} {
			consumers.add(name, input)
			checkJetStream(t, name, input)
		}
	}
}

func checkJetStream(t *testing.T, name, input string) {
	t.Helper()
	if !ValidJetStream(name) || strings.ContainsAny(name, ".*>/\\ \t\r\n") {
		t.Fatalf("%s gives %q: not a valid JetStream name", input, name)
	}
}

// TestDecode: every name within the limit splits back into the inputs
// it came from (which proves the encoding injective, not only on the
// inputs tried).
func TestDecode(t *testing.T) {
	rng := newRand(t)
	for range 20000 {
		topic, group := randomString(rng), randomString(rng)
		if q := Queue(topic, group); len(topic)+1+len(amqp.part(group)) <= MaxAMQP && group != "" {
			gotT, gotG, private, ok := decodeQueue(q)
			if !ok || private || gotT != topic || gotG != group {
				t.Fatalf("Queue%s = %q decodes to %q, %q (private %v, ok %v)", pair(topic, group), q, gotT, gotG, private, ok)
			}
		}
		if q := PrivateQueue(topic, "id1"); len(topic)+len(".%private-id1") <= MaxAMQP {
			gotT, gotID, private, ok := decodeQueue(q)
			if !ok || !private || gotT != topic || gotID != "id1" {
				t.Fatalf("PrivateQueue(%q) = %q decodes to %q, %q", topic, q, gotT, gotID)
			}
		}
		if c := Consumer(group, topic, false); len(jetstream.part(group)+jsPairSep+jetstream.part(topic)) <= MaxJetStream {
			parts, private, ok := decodeConsumer(c)
			if !ok || private || len(parts) != 2 || parts[0] != group || parts[1] != topic {
				t.Fatalf("Consumer%s = %q decodes to %q (private %v, ok %v)", pair(group, topic), c, parts, private, ok)
			}
		}
		if c := PrivateConsumer("id1", topic, false); len(jsPrivate+"id1"+jsPairSep+jetstream.part(topic)) <= MaxJetStream {
			parts, private, ok := decodeConsumer(c)
			if !ok || !private || len(parts) != 2 || parts[0] != "id1" || parts[1] != topic {
				t.Fatalf("PrivateConsumer(%q) = %q decodes to %q", topic, c, parts)
			}
		}
	}
}

// decodeQueue splits a RabbitMQ queue name at its last ".".
func decodeQueue(q string) (topic, rest string, private, ok bool) {
	i := strings.LastIndexByte(q, '.')
	if i < 0 {
		return "", "", false, false
	}
	topic, rest = q[:i], q[i+1:]
	if id, isPrivate := strings.CutPrefix(rest, amqpPrivate); isPrivate {
		return topic, id, true, true
	}
	var b strings.Builder
	for j := 0; j < len(rest); j++ {
		if rest[j] != '%' {
			b.WriteByte(rest[j])
			continue
		}
		if j+2 >= len(rest) || !isHex(rest[j+1]) || !isHex(rest[j+2]) {
			return "", "", false, false
		}
		n, _ := strconv.ParseUint(rest[j+1:j+3], 16, 8)
		b.WriteByte(byte(n))
		j += 2
	}
	return topic, b.String(), false, true
}

// decodeConsumer reads a JetStream consumer name token by token.
func decodeConsumer(c string) (parts []string, private, ok bool) {
	if rest, isPrivate := strings.CutPrefix(c, jsPrivate); isPrivate {
		id, topic, found := strings.Cut(rest, jsPairSep)
		if !found {
			return []string{id}, true, true
		}
		t, ok := decodePart(topic)
		return []string{id, t}, true, ok
	}
	var b strings.Builder
	for i := 0; i < len(c); {
		switch {
		case c[i] != '_':
			b.WriteByte(c[i])
			i++
		case i+1 < len(c) && c[i+1] == '_':
			b.WriteByte('.')
			i += 2
		case i+1 < len(c) && c[i+1] == '-':
			parts = append(parts, b.String())
			b.Reset()
			i += 2
		case i+2 < len(c) && isHex(c[i+1]) && isHex(c[i+2]):
			n, _ := strconv.ParseUint(c[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 3
		default:
			return nil, false, false
		}
	}
	return append(parts, b.String()), false, true
}

func decodePart(s string) (string, bool) {
	parts, _, ok := decodeConsumer(s)
	return strings.Join(parts, "\x00sep"), ok && len(parts) == 1
}

// TestStable: every name is the one earlier versions derived (see
// legacy_test.go), on random inputs and on the cases of their tests.
func TestStable(t *testing.T) {
	rng := newRand(t)
	inputs := []string{"", "orders", "orders.eu", "eu.billing", "100%", "a_b", "a.b", "ü.x/y z", strings.Repeat("é", 120),
		strings.Repeat("x", 200), strings.Repeat("x", 199) + "y", strings.Repeat("g.", 120), strings.Repeat("_", 120), string(make([]byte, 500))}
	for range 20000 {
		inputs = append(inputs, randomString(rng))
	}
	for i, topic := range inputs {
		group := inputs[(i*7+3)%len(inputs)]
		if group != "" {
			if got, want := Queue(topic, group), legacyQueueName(topic, group, ""); got != want {
				t.Fatalf("Queue%s = %q, earlier versions %q", pair(topic, group), got, want)
			}
		}
		if got, want := PrivateQueue(topic, "01jabc"), legacyQueueName(topic, "", "01jabc"); got != want {
			t.Fatalf("PrivateQueue(%q) = %q, earlier versions %q", topic, got, want)
		}
		if got, want := Stream(topic), legacyStreamName(topic); got != want {
			t.Fatalf("Stream(%q) = %q, earlier versions %q", topic, got, want)
		}
		for _, dedicated := range []bool{true, false} {
			if got, want := Consumer(group, topic, dedicated), legacyGroupConsumerName(group, topic, dedicated); got != want {
				t.Fatalf("Consumer%s = %q, earlier versions %q", pair(group, topic), got, want)
			}
			if got, want := PrivateConsumer("p1", topic, dedicated), legacyPrivateConsumerName("p1", topic, dedicated); got != want {
				t.Fatalf("PrivateConsumer(%q) = %q, earlier versions %q", topic, got, want)
			}
		}
	}
}

// TestReadable: the common cases keep readable names.
func TestReadable(t *testing.T) {
	for got, want := range map[string]string{
		Queue("orders", "billing"):                      "orders.billing",
		Queue("orders.eu", "billing"):                   "orders.eu.billing",
		Queue("orders", "eu.billing"):                   "orders.eu%2Ebilling",
		Queue("orders", "100%"):                         "orders.100%25",
		PrivateQueue("orders", "01j"):                   "orders.%private-01j",
		Stream("orders.created"):                        "orders__created",
		Stream("a-b_C9"):                                "a-b_5FC9",
		Stream("ü.x/y z"):                               "_C3_BC__x_2Fy_20z",
		Consumer("billing-eu", "orders.created", false): "billing-eu_-orders__created",
		Consumer("billing", "", true):                   "billing",
		PrivateConsumer("01j", "orders", false):         "herald_p01j_-orders",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestLong: names over the limits are shortened to the limit with the
// marker, cut on a boundary (whole UTF-8 characters, whole escapes).
func TestLong(t *testing.T) {
	q := Queue(strings.Repeat("é", 120), strings.Repeat("x", 200))
	if len(q) > MaxAMQP || !utf8.ValidString(q) || !strings.Contains(q, ".%h") {
		t.Errorf("long queue %q: %d bytes", q, len(q))
	}
	s := Stream(strings.Repeat("ü", 100))
	if len(s) > MaxJetStream || !strings.Contains(s, "_x") {
		t.Errorf("long stream %q: %d bytes", s, len(s))
	}
	if head, _, _ := strings.Cut(s, "_x"); len(head)%3 != 0 {
		t.Errorf("long stream %q cut inside an escape", s)
	}
}

// FuzzNames: two different inputs never share a name; every name is
// valid.
func FuzzNames(f *testing.F) {
	f.Add("orders", "eu.billing", "orders.eu", "billing")
	f.Add("a_b", "c", "a", "b_c")
	f.Add(strings.Repeat("x", 300), "g", strings.Repeat("x", 300), "h")
	f.Fuzz(func(t *testing.T, t1, g1, t2, g2 string) {
		if t1 == t2 && g1 == g2 {
			return
		}
		if Consumer(g1, t1, false) == Consumer(g2, t2, false) {
			t.Fatalf("Consumer%s and Consumer%s share %q", pair(g1, t1), pair(g2, t2), Consumer(g1, t1, false))
		}
		if t1 == t2 && g1 != g2 && Consumer(g1, "", true) == Consumer(g2, "", true) {
			t.Fatalf("groups %q and %q share a consumer", g1, g2)
		}
		if t1 != t2 && Stream(t1) == Stream(t2) {
			t.Fatalf("topics %q and %q share a stream", t1, t2)
		}
		if g1 != "" && g2 != "" && Queue(t1, g1) == Queue(t2, g2) {
			t.Fatalf("Queue%s and Queue%s share %q", pair(t1, g1), pair(t2, g2), Queue(t1, g1))
		}
		checkJetStream(t, Consumer(g1, t1, false), "fuzz")
		checkJetStream(t, Stream(t1), "fuzz")
		if utf8.ValidString(t1) && utf8.ValidString(g1) && t1 != "" && g1 != "" && !strings.HasPrefix(t1, "amq.") && !ValidAMQP(Queue(t1, g1)) {
			t.Fatalf("Queue%s = %q is invalid", pair(t1, g1), Queue(t1, g1))
		}
	})
}
