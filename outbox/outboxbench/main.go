package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	_ "modernc.org/sqlite" // "sqlite"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/nats"
	_ "github.com/heraldkit/herald/adapters/rabbitmq"
	"github.com/heraldkit/herald/subscriber"
)

type config struct {
	n, writers, perTx, size, rounds int
	batch                           int
	deleteSent                      bool
	pacedN                          int
	pacedRate                       float64
	pgURL, brokerURL                string
	timeout                         time.Duration
	brokerPID, pgPID                int
}

// mode is how a case writes.
type mode int

const (
	flatOut mode = iota // -writers flat out, forwarding meanwhile
	drain               // -writers flat out first, then forwarding alone
	paced               // one writer at -paced-rate, forwarding meanwhile
)

// cases, in the order they run within a round.
var cases = []struct {
	name string
	mode mode
	open func(ctx context.Context, e env, name, topic string) (pipeline, error)
}{
	{"insert/pg", flatOut, insertCase},
	{"herald/pg", flatOut, heraldCase},
	{"watermill/pg", flatOut, watermillCase},
	{"drain-herald/pg", drain, heraldCase},
	{"drain-watermill/pg", drain, watermillCase},
	{"insert/sqlite", flatOut, insertCase},
	{"herald/sqlite", flatOut, heraldCase},
	{"drain-herald/sqlite", drain, heraldCase},
	{"paced-herald/pg", paced, heraldCase},
	{"paced-watermill/pg", paced, watermillCase},
	{"paced-herald/sqlite", paced, heraldCase},
}

// result is one run of one case.
type result struct {
	throughput float64 // messages handled (committed, for insert) per second
	writeRate  float64 // messages committed per second
	p50, p99   time.Duration
	maxPending int64
	// pending when half the messages, and all, were committed
	pendingHalf, pendingEnd int64
	dups                    int64
	// CPU time per message of this process (writers, relay, subscriber),
	// of the broker and of PostgreSQL (postmaster and backends), over
	// the case; zero where unknown
	cpuSelf, cpuBroker, cpuPG time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 20000, "messages per flat-out case")
	flag.IntVar(&cfg.writers, "writers", 4, "writer goroutines, flat out")
	flag.IntVar(&cfg.perTx, "per-tx", 1, "messages per transaction")
	flag.IntVar(&cfg.size, "size", 1024, "payload bytes")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds (cases interleaved within each)")
	flag.IntVar(&cfg.batch, "batch", 0, "the relay's window (outbox.WithBatch; 0: its default)")
	flag.BoolVar(&cfg.deleteSent, "delete-sent", false, "the relay deletes rows when sent (outbox.WithRetention(0)) instead of marking them")
	flag.IntVar(&cfg.pacedN, "paced-n", 1000, "messages per paced case")
	flag.Float64Var(&cfg.pacedRate, "paced-rate", 200, "messages/s of the paced writer")
	flag.StringVar(&cfg.pgURL, "pg", os.Getenv("HERALD_TEST_POSTGRES"), "PostgreSQL URL (default $HERALD_TEST_POSTGRES)")
	flag.StringVar(&cfg.brokerURL, "broker", cmp.Or(os.Getenv("HERALD_TEST_AMQP"), os.Getenv("HERALD_TEST_NATS")),
		"the broker's URL, amqp:// (RabbitMQ) or nats:// (JetStream) (default $HERALD_TEST_AMQP, else $HERALD_TEST_NATS)")
	flag.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "bound of one case")
	flag.IntVar(&cfg.brokerPID, "broker-pid", 0, "the broker's pid, to report its CPU per message (scripts/brokers.sh status)")
	flag.IntVar(&cfg.pgPID, "pg-pid", 0, "PostgreSQL's postmaster pid, to report the CPU of it and its backends per message")
	only := flag.String("cases", "", "comma-separated case names (default all)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run")
	flag.Parse()
	if cfg.pgURL == "" || cfg.brokerURL == "" {
		log.Fatal("outboxbench: -pg and -broker (or HERALD_TEST_POSTGRES, HERALD_TEST_AMQP) are needed: eval \"$(scripts/brokers.sh env)\"")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	e, cleanup, err := openEnv(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	var names []string
	for _, c := range cases {
		if *only == "" || slices.Contains(strings.Split(*only, ","), c.name) {
			names = append(names, c.name)
		}
	}
	results := map[string][]result{}
	for round := range cfg.rounds {
		for _, c := range cases {
			if !slices.Contains(names, c.name) {
				continue
			}
			r, err := runCase(ctx, e, c.name, c.mode, c.open)
			if err != nil {
				log.Fatalf("round %d, %s: %v", round+1, c.name, err)
			}
			log.Printf("round %d %-20s %8.0f msg/s (writers %8.0f/s)  p50 %-10v p99 %-10v max pending %6d (half %d, end %d)  dups %d",
				round+1, c.name, r.throughput, r.writeRate, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.maxPending, r.pendingHalf, r.pendingEnd, r.dups)
			results[c.name] = append(results[c.name], r)
		}
	}
	report(os.Stdout, cfg, names, results)
}

// openEnv opens the two databases.
func openEnv(ctx context.Context, cfg config) (env, func(), error) {
	pg, err := sql.Open("pgx", cfg.pgURL)
	if err != nil {
		return env{}, nil, err
	}
	pg.SetMaxIdleConns(16) // a service keeps its connections: database/sql keeps 2 idle by default and closes the rest
	if err := pg.PingContext(ctx); err != nil {
		return env{}, nil, fmt.Errorf("postgresql: %w", err)
	}
	dir, err := os.MkdirTemp("", "outboxbench-*")
	if err != nil {
		return env{}, nil, err
	}
	lite, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "bench.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return env{}, nil, err
	}
	return env{cfg: cfg, pg: pg, sqlite: lite}, func() { pg.Close(); lite.Close(); os.RemoveAll(dir) }, nil
}

// runCase runs one case once: a subscriber on a fresh topic, the
// pipeline, the writers; it returns once every message was handled.
func runCase(ctx context.Context, e env, name string, m mode, open func(context.Context, env, string, string) (pipeline, error)) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.timeout)
	defer cancel()
	n := e.cfg.n
	if m == paced {
		n = e.cfg.pacedN
	}
	tr := newTracker(n)
	topic := "obench." + freshName(strings.NewReplacer("/", "_", "-", "_").Replace(name))
	p, err := open(ctx, e, name, topic)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	if p.relays {
		stopSub, err := subscribe(ctx, e.cfg.brokerURL, topic, tr)
		if err != nil {
			return result{}, err
		}
		defer stopSub()
	}
	runtime.GC()
	sctx, stopSample := context.WithCancel(ctx)
	defer stopSample()
	go tr.sample(sctx)
	if m != drain && p.start != nil {
		p.start()
	}
	start := time.Now()
	cpu := startCPU(e.cfg)
	if m == paced {
		err = writePaced(ctx, p.commit, tr, e.cfg.pacedRate)
	} else {
		err = writeFlatOut(ctx, p.commit, tr, e.cfg.writers, e.cfg.perTx)
	}
	if err != nil {
		return result{}, err
	}
	wrote := time.Duration(tr.lastCommit.Load() - start.UnixNano())
	if m == drain { // the throughput of forwarding alone, from here
		start = time.Now()
		p.start()
	}
	r := result{writeRate: float64(n) / wrote.Seconds()}
	if !p.relays {
		r.throughput = r.writeRate
		r.cpuSelf, r.cpuBroker, r.cpuPG = cpu.perMessage(n)
		return r, nil
	}
	select {
	case <-tr.all:
	case <-ctx.Done():
		return result{}, fmt.Errorf("%d of %d messages handled within %v", tr.nHandled.Load(), n, e.cfg.timeout)
	}
	stopSample()
	lat := tr.latencies()
	r.throughput = float64(n) / time.Duration(tr.lastHandled()-start.UnixNano()).Seconds()
	r.p50, r.p99 = quantile(lat, 0.50), quantile(lat, 0.99)
	r.maxPending = tr.maxPending.Load()
	r.dups = tr.dups.Load()
	r.pendingHalf, r.pendingEnd = tr.pendingHalf.Load(), tr.pendingEnd.Load()
	r.cpuSelf, r.cpuBroker, r.cpuPG = cpu.perMessage(n)
	return r, nil
}

// writeFlatOut runs writers goroutines committing perTx messages per
// transaction until every message is committed.
func writeFlatOut(ctx context.Context, commit commitFunc, tr *tracker, writers, perTx int) error {
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
		errs = make(chan error, writers)
	)
	for range writers {
		wg.Go(func() {
			idxs := make([]int, 0, perTx)
			for {
				mu.Lock()
				first := next
				next = min(next+perTx, tr.n)
				last := next
				mu.Unlock()
				if first >= tr.n {
					return
				}
				idxs = idxs[:0]
				for i := first; i < last; i++ {
					idxs = append(idxs, i)
				}
				if err := commit(ctx, idxs); err != nil {
					errs <- err
					return
				}
				tr.commit(idxs)
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs)
}

// writePaced commits one message per transaction at rate per second.
func writePaced(ctx context.Context, commit commitFunc, tr *tracker, rate float64) error {
	start := time.Now()
	for i := range tr.n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		if err := commit(ctx, []int{i}); err != nil {
			return err
		}
		tr.commit([]int{i})
	}
	return nil
}

// subscribe consumes topic with a Herald subscriber (its defaults) into
// tr; the returned function stops it and deletes the topic's stream.
func subscribe(ctx context.Context, url, topic string, tr *tracker) (func(), error) {
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("obench"))
	if err != nil {
		return nil, err
	}
	if err := sub.Prepare(ctx, topic); err != nil {
		sub.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sub.Subscribe(sctx, topic, func(_ context.Context, m *herald.Message) error { tr.handle(m.Payload); return nil }) //nolint:errcheck // ends with sctx
	}()
	return func() {
		cancel()
		<-done
		sub.Close()
		if strings.HasPrefix(url, "nats") {
			deleteStreamOf(url, topic)
		} else {
			deleteQueue(url, topic, "obench")
		}
	}, nil
}

// deleteQueue deletes the RabbitMQ exchange of topic and the group's
// queue (Herald's names: the exchange is the topic, the queue
// "<topic>.<group>").
func deleteQueue(url, topic, group string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		log.Printf("deleting the queue of %s: %v", topic, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	defer ch.Close()
	if _, err := ch.QueueDelete(topic+"."+group, false, false, false); err != nil {
		log.Printf("deleting queue %s.%s: %v", topic, group, err)
		return
	}
	ch.ExchangeDelete(topic, false, false) //nolint:errcheck // best effort
}

// deleteStreamOf deletes the JetStream stream of subject, so that the
// runs do not fill the shared NATS.
func deleteStreamOf(url, subject string) {
	nc, err := nats.Connect(url)
	if err != nil {
		log.Printf("deleting the stream of %s: %v", subject, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if name, err := js.StreamNameBySubject(ctx, subject); err == nil {
		if err := js.DeleteStream(ctx, name); err != nil {
			log.Printf("deleting stream %s: %v", name, err)
		}
	}
}
