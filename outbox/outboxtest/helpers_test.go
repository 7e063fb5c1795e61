package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	_ "modernc.org/sqlite"             // "sqlite"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/memory"
	_ "github.com/heraldkit/herald/adapters/nats"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
)

// database is one database the tests run on.
type database struct {
	name    string
	dialect outbox.Dialect
	open    func(t *testing.T) *sql.DB // a new handle on the same database
}

// databases are PostgreSQL and SQLite; each test gets its own tables.
func databases() []database {
	return []database{
		{"postgresql", outbox.PostgreSQL, func(t *testing.T) *sql.DB {
			t.Helper()
			return openDB(t, "pgx", adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES"))
		}},
		{"sqlite", outbox.SQLite, nil},
	}
}

// forEach runs fn on each database, with open returning handles on one
// fresh database (SQLite) or the shared one (PostgreSQL), and a table
// name unique to the test.
func forEach(t *testing.T, fn func(t *testing.T, d database, table string)) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			if d.open == nil {
				path := filepath.Join(t.TempDir(), "outbox.db")
				d.open = func(t *testing.T) *sql.DB {
					t.Helper()
					return openDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
				}
			}
			fn(t, d, tableName())
		})
	}
}

// forEachStore is forEach with the database opened and a store on the
// fresh table.
func forEachStore(t *testing.T, fn func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string)) {
	forEach(t, func(t *testing.T, d database, table string) {
		db := d.open(t)
		fn(t, d, db, newStore(t, db, d.dialect, table), table)
	})
}

// numbered is messages first to first+n-1, each with its number as ID
// and key(number) as key ("" for none).
func numbered(first, n int, key func(i int) string) []*herald.Message {
	var ms []*herald.Message
	for i := first; i < first+n; i++ {
		ms = append(ms, msg(strconv.Itoa(i), key(i)))
	}
	return ms
}

func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("%s: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tableName is a fresh outbox table name.
func tableName() string { return fmt.Sprintf("ob_%x", rand.Uint64()) }

// newStore opens the outbox of table in db.
func newStore(t *testing.T, db *sql.DB, d outbox.Dialect, table string) *outbox.Store {
	t.Helper()
	s, err := outbox.New(context.Background(), db, d, outbox.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dropOutbox drops the tables and functions of outbox table on PostgreSQL.
func dropOutbox(db *sql.DB, table string) {
	db.Exec("DROP TABLE IF EXISTS " + table + ", " + table + "_delayed, " + table + "_migrations")                 //nolint:errcheck // cleanup
	db.Exec("DROP FUNCTION IF EXISTS " + table + "_notify(), " + table + "_claim(text, bigint, integer, integer)") //nolint:errcheck // cleanup
}

// write publishes msgs to topic in one committed transaction.
func write(t *testing.T, db *sql.DB, s *outbox.Store, topic string, msgs ...*herald.Message) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, tx, topic, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// msg is a message with payload p and key (none when "").
func msg(p, key string) *herald.Message {
	m := herald.NewMessage([]byte(p))
	m.Metadata.Set("x-test", "v-"+p)
	if key != "" {
		herald.SetKey(m, key)
	}
	return m
}

// probe is a backend ("probe://NAME") that records every send: which
// messages are in flight at once, per ID and per key, in what order the
// messages of a key were sent. Its broker acknowledges each message after
// a short random delay, so that sends overlap.
type probe struct {
	mu        sync.Mutex
	inflight  map[string]int // per ID
	keyFlight map[string]int // per key
	sends     map[string]int // per ID: how many times sent
	byKey     map[string][]string
	payloads  map[string]string
	firstAt   map[string]time.Time // per payload: when it was first sent
	maxID     int                  // most sends of one ID in flight at once
	maxKey    int                  // most sends of one key in flight at once
	total     int
	changed   chan struct{} // closed and replaced at every answer
	// beforeAck, when set, runs before the k-th acknowledgement (1-based).
	beforeAck func(k int)
	fail      func(m *herald.Message) error
	// ackDelay, when set, is the broker's round trip instead of a random
	// one below 300 µs: a slow broker.
	ackDelay time.Duration
}

var (
	probesMu sync.Mutex
	probes   = map[string]*probe{}
)

func init() { adapters.Register("probe", probeDriver{}) }

// newProbe registers a probe and returns it with its URL.
func newProbe(t *testing.T) (*probe, string) {
	p := &probe{inflight: map[string]int{}, keyFlight: map[string]int{}, sends: map[string]int{},
		byKey: map[string][]string{}, payloads: map[string]string{}, firstAt: map[string]time.Time{}, changed: make(chan struct{})}
	name := fmt.Sprintf("p%x", rand.Uint64())
	probesMu.Lock()
	probes[name] = p
	probesMu.Unlock()
	t.Cleanup(func() { probesMu.Lock(); delete(probes, name); probesMu.Unlock() })
	return p, "probe://" + name
}

// publisher opens a publisher on target.
func openPublisher(t *testing.T, target string, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	pub, err := publisher.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub
}

type probeDriver struct{}

func (probeDriver) Validate(herald.Config) error                     { return nil }
func (probeDriver) Capabilities(herald.Config) adapters.Capabilities { return adapters.Capabilities{} }
func (probeDriver) OpenTopic(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Topic, error) {
	probesMu.Lock()
	defer probesMu.Unlock()
	name := ""
	if len(cfg.Hosts) > 0 {
		name = cfg.Hosts[0]
	}
	p := probes[name]
	if p == nil {
		return nil, fmt.Errorf("no probe %q", name)
	}
	return probeTopic{p}, nil
}
func (probeDriver) OpenSubscription(context.Context, herald.Config, adapters.Env) (adapters.Subscription, error) {
	return nil, fmt.Errorf("probe: no subscriptions")
}

type probeTopic struct{ p *probe }

func (pt probeTopic) Send(_ context.Context, _ string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	if o != (adapters.SendOptions{}) {
		return fmt.Errorf("probe: no delayed delivery, no properties")
	}
	p := pt.p
	id, key := herald.ID(m), herald.Key(m)
	p.mu.Lock()
	p.inflight[id]++
	p.maxID = max(p.maxID, p.inflight[id])
	if key != "" {
		p.keyFlight[key]++
		p.maxKey = max(p.maxKey, p.keyFlight[key])
		p.byKey[key] = append(p.byKey[key], string(m.Payload))
	}
	p.payloads[id] = string(m.Payload)
	if _, ok := p.firstAt[string(m.Payload)]; !ok {
		p.firstAt[string(m.Payload)] = time.Now()
	}
	var err error
	if p.fail != nil {
		err = p.fail(m)
	}
	delay := p.ackDelay
	if delay == 0 {
		delay = time.Duration(rand.IntN(300)) * time.Microsecond // the broker's round trip
	}
	p.mu.Unlock()
	go func() {
		time.Sleep(delay)
		p.mu.Lock()
		p.inflight[id]--
		if key != "" {
			p.keyFlight[key]--
		}
		if err == nil {
			p.sends[id]++
			p.total++
		}
		k, hook := p.total, p.beforeAck
		p.mu.Unlock()
		if err == nil && hook != nil {
			hook(k)
		}
		done(err)
		p.mu.Lock()
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}()
	return nil
}
func (probeTopic) Close(context.Context) error { return nil }
func (probeTopic) As(any) bool                 { return false }

// waitDistinct waits until n IDs were acknowledged.
func (p *probe) waitDistinct(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		got, ch := len(p.sends), p.changed
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d of %d messages acknowledged after %v", got, n, within)
		}
	}
}

// duplicates is how many acknowledged sends were of an ID sent before.
func (p *probe) duplicates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total - len(p.sends)
}

// pgNotifier is an outbox.Notifier on a pgx connection: LISTEN on the
// table's channel, WaitForNotification.
type pgNotifier struct{ conn *pgx.Conn }

func newPGNotifier(t *testing.T, table string) *pgNotifier {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "LISTEN "+table); err != nil {
		t.Fatal(err)
	}
	return &pgNotifier{conn: conn}
}

func (n *pgNotifier) Wait(ctx context.Context) error {
	_, err := n.conn.WaitForNotification(ctx)
	return err
}

func (probeDriver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, fmt.Errorf("probe: no requester")
}
