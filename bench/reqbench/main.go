// Command reqbench measures request/reply: latency (p50, p99) and
// requests/s of request.Request against a request.Responder on each
// backend, with 1 and 16 requesters at once, beside nats.go's own
// nc.Request (a plain nc.Subscribe responder) on NATS.
//
//	eval "$(scripts/brokers.sh env | grep ^export)"
//	cd bench && go run ./reqbench -d 3s
//
// Each case runs for -d after 50 warm-up requests, on a fresh topic; the
// responder subscribes in a group with 16 workers and echoes a 100 B
// payload.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

type payload struct {
	Data string `json:"data"`
}

func main() {
	d := flag.Duration("d", 3*time.Second, "duration of each case")
	conc := flag.String("c", "1,16", "requesters at once, comma-separated")
	only := flag.String("only", "", "run only the backends whose name contains this (e.g. nats)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var cs []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bad -c:", s)
			os.Exit(2)
		}
		cs = append(cs, n)
	}
	targets := []struct{ name, url string }{{"mem", "mem://reqbench"}, {"embedded", "embedded://" + tempDir()}}
	if u := os.Getenv("HERALD_TEST_NATS"); u != "" {
		targets = append(targets, struct{ name, url string }{"nats core", withQuery(u, "mode=core")},
			struct{ name, url string }{"nats jetstream", withQuery(u, "storage=memory")})
	}
	if u := os.Getenv("HERALD_TEST_AMQP"); u != "" {
		targets = append(targets, struct{ name, url string }{"amqp", u})
	}
	if u := os.Getenv("HERALD_TEST_KAFKA"); u != "" {
		targets = append(targets, struct{ name, url string }{"kafka", u})
	}
	fmt.Printf("| backend | requesters | p50 | p99 | requests/s |\n|---|---:|---:|---:|---:|\n")
	for _, t := range targets {
		if !strings.Contains(t.name, *only) {
			continue
		}
		for _, c := range cs {
			r, err := herald(t.url, c, *d)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s c=%d: %v\n", t.name, c, err)
				continue
			}
			fmt.Printf("| %s | %d | %s |\n", t.name, c, r)
		}
		if t.name == "nats core" {
			for _, c := range cs {
				r, err := native(os.Getenv("HERALD_TEST_NATS"), c, *d)
				if err != nil {
					fmt.Fprintf(os.Stderr, "nats native c=%d: %v\n", c, err)
					continue
				}
				fmt.Printf("| nats.go nc.Request (native) | %d | %s |\n", c, r)
			}
		}
	}
}

func tempDir() string {
	d, err := os.MkdirTemp("", "reqbench")
	if err != nil {
		panic(err)
	}
	return d
}

func withQuery(u, q string) string {
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

// result is one case's figures.
type result struct {
	lat []time.Duration
	d   time.Duration
}

func (r result) String() string {
	slices.Sort(r.lat)
	if len(r.lat) == 0 {
		return "- | - | 0"
	}
	p := func(q float64) time.Duration { return r.lat[int(q*float64(len(r.lat)-1))] }
	return fmt.Sprintf("%v | %v | %.0f", p(0.50).Round(time.Microsecond), p(0.99).Round(time.Microsecond), float64(len(r.lat))/r.d.Seconds())
}

// drive runs fn from c goroutines for d (after 50 warm-up calls) and
// records each call's latency.
func drive(c int, d time.Duration, fn func() error) (result, error) {
	for range 50 {
		if err := fn(); err != nil {
			return result{}, err
		}
	}
	var mu sync.Mutex
	var all []time.Duration
	var first error
	end := time.Now().Add(d)
	begin := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := fn(); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{lat: all, d: time.Since(begin)}, first
}

var seq int

// herald measures request.Request against a request.Responder on url.
func herald(url string, c int, d time.Duration) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq++
	topic := fmt.Sprintf("reqbench-%d-%d", time.Now().UnixNano(), seq)
	rc, err := request.Open(ctx, url)
	if err != nil {
		return result{}, err
	}
	defer rc.Close()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("reqbench"), subscriber.WithConcurrency(16),
		subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		return result{}, err
	}
	defer sub.Close()
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, topic, request.Responder(rc, func(_ context.Context, p payload) (payload, error) { return p, nil }))
	}()
	select {
	case <-ready:
	case err := <-done:
		return result{}, err
	}
	cl, err := request.Open(ctx, url, request.WithTimeout(10*time.Second))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	p := payload{Data: strings.Repeat("x", 100)}
	return drive(c, d, func() error {
		_, err := request.Request[payload, payload](ctx, cl, topic, p)
		return err
	})
}

// native measures nats.go's nc.Request against nc.Subscribe + Respond.
func native(url string, c int, d time.Duration) (result, error) {
	rs, err := nats.Connect(url)
	if err != nil {
		return result{}, err
	}
	defer rs.Close()
	subj := fmt.Sprintf("reqbench.native.%d", time.Now().UnixNano())
	if _, err := rs.QueueSubscribe(subj, "reqbench", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return result{}, err
	}
	if err := rs.Flush(); err != nil {
		return result{}, err
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return result{}, err
	}
	defer nc.Close()
	data := []byte(`{"data":"` + strings.Repeat("x", 100) + `"}`)
	return drive(c, d, func() error {
		_, err := nc.Request(subj, data, 10*time.Second)
		return err
	})
}
