package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/internal/benchkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was printed
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// brokerEnv maps each broker to the variable that holds its URL.
var brokerEnv = []struct{ name, env string }{
	{"kafka", "HERALD_TEST_KAFKA"},
	{"amqp", "HERALD_TEST_AMQP"},
	{"nats", "HERALD_TEST_NATS"},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 500000, "messages per case run at 100 B and 1 KiB (Kafka and NATS; long enough that start-up is noise)")
	nSync := fs.Int("n-sync", 50000, "messages per run of the cases that publish synchronously (16 goroutines or 1 each waiting for its acknowledgement: "+
		"a few thousand msg/s on Kafka, so 50k already lasts 10-20 s; 0: as the others)")
	nAMQP := fs.Int("n-amqp", 50000, "messages per case run at 100 B and 1 KiB on RabbitMQ (0: -n)")
	pidsFlag := fs.String("broker-pids", "", "broker processes whose CPU time is measured per case, e.g. kafka=123,amqp=456,nats=789 (make bench-compare fills it from scripts/brokers.sh status)")
	nLarge := fs.Int("n-large", 5000, "messages per case run at sizes above 8 KiB")
	rounds := fs.Int("rounds", 3, "interleaved rounds (medians over them)")
	sizesFlag := fs.String("sizes", "100,1024,65536", "payload sizes in bytes, comma-separated (at least 16)")
	brokersFlag := fs.String("brokers", "", "brokers to run, comma-separated: kafka, amqp, nats (default: those whose HERALD_TEST_* is set)")
	casesFlag := fs.String("cases", "", "cases to run, comma-separated names or prefixes, e.g. native,herald-p16 (default: all)")
	out := fs.String("out", "", "write the markdown report (docs/performance.md) to this file")
	chart := fs.String("chart", "", "write the SVG chart of the ratios to this file")
	jsonOut := fs.Bool("json", false, "print the results as JSON instead of the text table")
	list := fs.Bool("list", false, "list the cases and exit")
	timeout := fs.Duration("timeout", 10*time.Minute, "limit for one run of one case")
	rssGrowth := fs.Bool("rss-growth", true, "add "+benchkit.NameHeraldB100C1x10+" (10x n, sizes up to 8 KiB) for the peak RSS growth ratio")
	keyed := fs.Bool("keyed", true, "add the Kafka cases "+benchkit.NameHeraldKeyedC1+" and "+benchkit.NameHeraldKeyedC8+" (one partition, 16 keys, 5 ms handler)")
	fs.DurationVar(&kafkaLinger, "kafka-linger", 0, "franz-go ProducerLinger of the native Kafka cases (franz-go's default is 10ms, which caps a 256-record window at about 25k msg/s)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (run one case with -cases to profile it alone)")
	keyedN := fs.Int("keyed-n", 2000, "messages of the keyed cases (at 1 KiB, or the first size without 1 KiB)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *n < 1 || *nLarge < 1 || *rounds < 1 || *keyedN < 1 || *nAMQP < 0 || *nSync < 0 {
		return fmt.Errorf("-n, -n-large, -rounds and -keyed-n must be at least 1, -n-amqp and -n-sync at least 0")
	}
	pids, err := parsePIDs(*pidsFlag)
	if err != nil {
		return err
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		return err
	}
	var brokers []broker
	wanted := splitList(*brokersFlag)
	for _, b := range wanted {
		if !slices.ContainsFunc(brokerEnv, func(e struct{ name, env string }) bool { return e.name == b }) {
			return fmt.Errorf("-brokers: unknown broker %q (allowed: kafka, amqp, nats)", b)
		}
	}
	for _, e := range brokerEnv {
		url := os.Getenv(e.env)
		switch {
		case len(wanted) > 0 && !slices.Contains(wanted, e.name):
			continue
		case url == "" && len(wanted) > 0:
			return fmt.Errorf("-brokers names %s but %s is empty (eval \"$(scripts/brokers.sh env)\")", e.name, e.env)
		case url == "":
			fmt.Fprintf(stderr, "bench: %s is empty: skipping %s\n", e.env, e.name)
			continue
		}
		brokers = append(brokers, broker{name: e.name, url: url})
	}
	if len(brokers) == 0 && !*list {
		return fmt.Errorf("no broker to run: set HERALD_TEST_KAFKA, HERALD_TEST_AMQP or HERALD_TEST_NATS (eval \"$(scripts/brokers.sh env)\")")
	}
	if *list && len(brokers) == 0 {
		for _, e := range brokerEnv {
			brokers = append(brokers, broker{name: e.name, url: placeholderURL(e.name)})
		}
	}
	nFor := func(size int) int {
		if size > 8<<10 {
			return *nLarge
		}
		return *n
	}
	nForBroker := func(broker string) func(size int) int {
		if broker != "amqp" || *nAMQP == 0 {
			return nFor
		}
		return func(size int) int {
			if size > 8<<10 {
				return *nLarge
			}
			return *nAMQP
		}
	}
	extra := extras{keyedSize: sizes[0]}
	if slices.Contains(sizes, 1024) {
		extra.keyedSize = 1024
	}
	if *rssGrowth {
		extra.growthN = func(broker string) func(size int) int {
			return func(size int) int {
				if size > 8<<10 {
					return 0
				}
				return 10 * nForBroker(broker)(size)
			}
		}
	}
	if *keyed {
		extra.keyedN = *keyedN
	}
	var cases []benchkit.Case
	for _, b := range brokers {
		cs, err := casesFor(b, extra)
		if err != nil {
			return err
		}
		for i := range cs {
			if cs[i].N != nil {
				continue
			}
			base := nForBroker(b.name)
			cs[i].N = base
			if *nSync > 0 && synchronous(cs[i].Name) {
				cs[i].N = func(size int) int { return min(base(size), *nSync) }
			}
		}
		cases = append(cases, cs...)
	}
	if filter := splitList(*casesFlag); len(filter) > 0 {
		cases = slices.DeleteFunc(cases, func(c benchkit.Case) bool {
			return !slices.ContainsFunc(filter, func(f string) bool { return strings.HasPrefix(c.Name, f) })
		})
		if len(cases) == 0 {
			return fmt.Errorf("-cases %q matches no case (see -list)", *casesFlag)
		}
	}
	if *list {
		for _, c := range cases {
			fmt.Fprintf(stdout, "%-6s %-20s %s\n", c.Broker, c.Name, c.Desc)
		}
		return nil
	}

	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	rn := benchkit.Runner{
		Rounds:     *rounds,
		Sizes:      sizes,
		N:          nFor,
		Timeout:    *timeout,
		Progress:   progressPrinter(stderr),
		BrokerPIDs: pids,
	}
	rep, runErr := rn.Run(ctx, cases)
	if rep == nil {
		return runErr
	}
	if ctx.Err() != nil {
		// Interrupted: print what was measured, but do not overwrite the
		// report files with a partial run.
		_ = rep.WriteText(stdout)
		return fmt.Errorf("interrupted; %s and %s left as they were: %w", orNone(*out, "-out"), orNone(*chart, "-chart"), runErr)
	}
	rep.Command = commandLine(args)
	rep.Notes = notes(*n, cmp.Or(*nAMQP, *n), cmp.Or(*nSync, *n), *nLarge)
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if *chart != "" {
		if err := writeFile(*chart, rep.WriteSVG); err != nil {
			return err
		}
	}
	if *out != "" {
		rel := ""
		if *chart != "" {
			rel = chartLink(*out, *chart)
		}
		tail, err := handWrittenTail(*out)
		if err != nil {
			return err
		}
		if err := writeFile(*out, func(w io.Writer) error {
			if err := rep.WriteMarkdown(w, rel); err != nil {
				return err
			}
			_, err := io.WriteString(w, tail)
			return err
		}); err != nil {
			return err
		}
	}
	return runErr
}

type broker struct{ name, url string }

// startCPUProfile starts the CPU profile written to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// orNone names a file flag's value for a message.
func orNone(path, flag string) string {
	if path == "" {
		return "(no " + flag + ")"
	}
	return path
}

func placeholderURL(name string) string {
	return map[string]string{"kafka": "kafka://127.0.0.1:9092", "amqp": "amqp://guest:guest@127.0.0.1:5672/", "nats": "nats://127.0.0.1:4222"}[name]
}

// extras configure the optional cases.
type extras struct {
	growthN   func(broker string) func(size int) int // nil: no RSS growth case
	keyedN    int                                    // 0: no keyed cases
	keyedSize int
}

// casesFor returns every case of a broker, in run order.
func casesFor(b broker, x extras) ([]benchkit.Case, error) {
	var cases []benchkit.Case
	var err error
	var cleanup func(ctx context.Context, topic, group string) error
	switch b.name {
	case "kafka":
		cases, cleanup, err = kafkaCases(b.url)
	case "amqp":
		cases, cleanup, err = amqpCases(b.url)
	case "nats":
		cases, cleanup, err = natsCases(b.url)
	default:
		return nil, fmt.Errorf("unknown broker %q", b.name)
	}
	if err != nil {
		return nil, err
	}
	cases = append(cases, benchkit.HeraldCases(b.name, b.url, cleanup)...)
	if x.growthN != nil {
		cases = append(cases, benchkit.HeraldCase(benchkit.HeraldOptions{
			Broker: b.name, Name: benchkit.NameHeraldB100C1x10, Target: b.url, Batch: 100, Cleanup: cleanup, N: x.growthN(b.name),
			Desc: "as " + benchkit.NameHeraldB100C1 + " with ten times the messages (peak RSS growth)",
		}))
	}
	if x.keyedN > 0 && b.name == "kafka" {
		keyedN := func(size int) int {
			if size == x.keyedSize {
				return x.keyedN
			}
			return 0
		}
		for _, c := range []struct {
			name string
			conc int
		}{{benchkit.NameHeraldKeyedC1, 1}, {benchkit.NameHeraldKeyedC8, 8}} {
			cases = append(cases, benchkit.HeraldCase(benchkit.HeraldOptions{
				Broker: b.name, Name: c.name, Target: withQuery(b.url, "partitions=1"), Batch: 100, Concurrency: c.conc,
				Keys: 16, HandlerDelay: 5 * time.Millisecond, Cleanup: cleanup, N: keyedN,
				Desc: fmt.Sprintf("Herald on a topic of one partition (partitions=1): Publish of 100 messages with 16 keys per call; subscriber.WithConcurrency(%d); the handler takes 5 ms", c.conc),
			}))
		}
	}
	return cases, nil
}

// withQuery adds a query parameter to a URL.
func withQuery(target, kv string) string {
	if strings.Contains(target, "?") {
		return target + "&" + kv
	}
	return target + "?" + kv
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil || v < benchkit.HeaderSize {
			return nil, fmt.Errorf("-sizes: %q is not a size in bytes of at least %d", f, benchkit.HeaderSize)
		}
		sizes = append(sizes, v)
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("-sizes: no size given")
	}
	return sizes, nil
}

// commandLine is how the run was started, for the report.
func commandLine(args []string) string {
	if c := os.Getenv("HERALD_BENCH_COMMAND"); c != "" {
		return c // set by make bench-compare
	}
	return strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
}

// chartLink returns the chart's path relative to the markdown file.
func chartLink(md, chart string) string {
	rel, err := filepath.Rel(filepath.Dir(md), chart)
	if err != nil {
		return chart
	}
	return filepath.ToSlash(rel)
}

// keepMarker starts the hand-written part of the markdown report, which
// a new run keeps.
const keepMarker = "<!-- Hand-written from here on: make bench-compare keeps what follows. -->"

// handWrittenTail returns the part of an existing report from keepMarker
// on ("" when the file or the marker is missing).
func handWrittenTail(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, tail, ok := strings.Cut(string(b), keepMarker)
	if !ok {
		return "", nil
	}
	return keepMarker + tail, nil
}

// writeFile writes through a temporary file, so a failed run does not
// leave half a report.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bench-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progressPrinter prints one line per finished case run.
func progressPrinter(w io.Writer) func(benchkit.Progress) {
	return func(p benchkit.Progress) {
		if !p.Finished {
			return
		}
		if p.Err != nil {
			fmt.Fprintf(w, "round %d/%d  %-5s %-16s %6d B  FAILED: %v\n", p.Round, p.Rounds, p.Case.Broker, p.Case.Name, p.Size, p.Err)
			return
		}
		fmt.Fprintf(w, "round %d/%d  %-5s %-16s %6d B  publish %8.0f msg/s  e2e %8.0f msg/s  p99 %v  %.1f allocs/msg\n",
			p.Round, p.Rounds, p.Case.Broker, p.Case.Name, p.Size, p.Sample.PublishRate, p.Sample.E2ERate,
			p.Sample.P99.Round(10*time.Microsecond), p.Sample.AllocsPerMsg)
	}
}

// parsePIDs reads -broker-pids: broker=pid pairs, comma-separated.
func parsePIDs(s string) (map[string]int, error) {
	pids := map[string]int{}
	for _, f := range splitList(s) {
		name, v, ok := strings.Cut(f, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil || pid <= 0 || !slices.ContainsFunc(brokerEnv, func(e struct{ name, env string }) bool { return e.name == name }) {
			return nil, fmt.Errorf("-broker-pids: %q is not broker=pid (brokers: kafka, amqp, nats; pid a positive number)", f)
		}
		pids[name] = pid
	}
	return pids, nil
}

// synchronous reports whether a case publishes synchronously (each
// publisher waiting for its acknowledgement): those run -n-sync messages.
func synchronous(name string) bool {
	switch name {
	case benchkit.NameNativeSync16, benchkit.NameNativeSync16Headers, benchkit.NameWatermill,
		benchkit.NameHeraldP1, benchkit.NameHeraldP16C1, benchkit.NameHeraldP16C8:
		return true
	}
	return false
}
