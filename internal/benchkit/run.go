package benchkit

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// HeaderSize is how many payload bytes Run.Payload uses for its stamp:
// the send time (8 bytes) and the sequence number (8 bytes). Smaller
// payloads are sent as zeros and counted without latency or deduplication.
const HeaderSize = 16

// Run is one execution of a case: it hands out payloads, counts and times
// what the consumer received, and tells when all N arrived. Its methods
// are safe for concurrent use.
type Run struct {
	// N is how many messages the case publishes, Size their payload size.
	N, Size int

	epoch   time.Time // for monotonic send stamps
	seen    []uint32  // bitmap of received sequence numbers
	lat     []int64   // latency in ns of every stride-th sequence number, preallocated
	stride  uint64
	got     atomic.Int64
	dups    atomic.Int64
	done    chan struct{}
	endOnce sync.Once
	warm    chan struct{} // a warm-up message arrived (buffered 1)

	mu       sync.Mutex
	started  bool
	start    time.Time
	pubEnd   time.Time
	end      time.Time
	memStart runtime.MemStats
	memEnd   runtime.MemStats
	measured bool
	rss      *rssSampler
	cpu      cpuMeter
}

// maxLatSamples bounds the latencies a run keeps: every message's up to
// this many, else every stride-th (by sequence number). A latency per
// message (8 bytes) would make the harness's own memory grow with n and
// show in the peak RSS that is meant to show Herald's.
const maxLatSamples = 1 << 16

// NewRun returns a Run for n messages of size bytes.
func NewRun(n, size int) *Run {
	stride := max(1, (n+maxLatSamples-1)/maxLatSamples)
	return &Run{
		N:      n,
		Size:   size,
		epoch:  time.Now(),
		seen:   make([]uint32, (n+31)/32),
		lat:    make([]int64, (n+stride-1)/stride),
		stride: uint64(stride),
		done:   make(chan struct{}),
		warm:   make(chan struct{}, 1),
	}
}

// now returns nanoseconds since the run's epoch on the monotonic clock.
func (r *Run) now() int64 { return int64(time.Since(r.epoch)) }

// Payload returns a fresh payload of r.Size bytes for message seq
// (0 <= seq < N), stamped with the current time. Each call allocates:
// clients may hold the buffer until the broker acknowledged it.
func (r *Run) Payload(seq int) []byte {
	p := make([]byte, r.Size)
	r.Stamp(p, seq)
	return p
}

// Stamp writes the current time and seq into p's first HeaderSize bytes
// (nothing when p is shorter).
func (r *Run) Stamp(p []byte, seq int) {
	if len(p) < HeaderSize {
		return
	}
	binary.LittleEndian.PutUint64(p[0:8], uint64(r.now()))
	binary.LittleEndian.PutUint64(p[8:16], uint64(seq))
}

// WarmUp publishes warm-up payloads with send, outside the timed part,
// one at a time, until WarmUpStreak in a row came back within
// WarmUpRoundTrip each (resending after a second without one): that proves
// the subscription is live and settled (a group joined and done
// rebalancing, a consumer created) before Start. Received recognises the
// warm-up payloads and does not count them.
//
// Payloads shorter than HeaderSize carry no sequence number, so there is
// no warm-up for them: WarmUp returns nil at once.
func (r *Run) WarmUp(ctx context.Context, send func(ctx context.Context, payload []byte) error) error {
	if r.Size < HeaderSize {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, WarmUpTimeout)
	defer cancel()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	streak := 0
	for streak < WarmUpStreak {
		select { // drop a late arrival of an earlier warm-up message
		case <-r.warm:
		default:
		}
		sent := time.Now()
		if err := send(ctx, r.Payload(r.N)); err != nil {
			return fmt.Errorf("warm-up publish: %w", err)
		}
		t.Reset(time.Second)
		select {
		case <-r.warm:
			if time.Since(sent) <= WarmUpRoundTrip {
				streak++
			} else {
				streak = 0
			}
		case <-t.C:
			streak = 0
		case <-ctx.Done():
			return fmt.Errorf("warm-up: no %d quick round trips in a row within %v: %w", WarmUpStreak, WarmUpTimeout, ctx.Err())
		}
	}
	return nil
}

// WarmUpStreak and WarmUpRoundTrip say when Run.WarmUp considers a
// subscription settled.
var (
	WarmUpStreak    = 3
	WarmUpRoundTrip = 250 * time.Millisecond
)

// WarmUpTimeout bounds Run.WarmUp.
var WarmUpTimeout = 90 * time.Second

// Start marks the beginning of the timed part: call it right before the
// first publish, after every connection, topic and subscription is ready.
func (r *Run) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	runtime.ReadMemStats(&r.memStart)
	r.rss = startRSS()
	r.cpu.start()
	r.start = time.Now()
}

// Published marks the moment the last publish returned.
func (r *Run) Published() {
	r.mu.Lock()
	if r.pubEnd.IsZero() {
		r.pubEnd = time.Now()
	}
	r.mu.Unlock()
}

// Received records a consumed payload. It returns false for a duplicate
// or a payload that is not from this run.
func (r *Run) Received(p []byte) bool {
	if len(p) < HeaderSize {
		return r.count() // no stamp: count only
	}
	seq := binary.LittleEndian.Uint64(p[8:16])
	if seq >= uint64(r.N) {
		if seq == uint64(r.N) {
			select {
			case r.warm <- struct{}{}:
			default:
			}
		}
		return false
	}
	bit := uint32(1) << (seq % 32)
	if atomic.OrUint32(&r.seen[seq/32], bit)&bit != 0 {
		r.dups.Add(1)
		return false
	}
	if seq%r.stride == 0 {
		r.lat[seq/r.stride] = r.now() - int64(binary.LittleEndian.Uint64(p[0:8]))
	}
	return r.count()
}

func (r *Run) count() bool {
	if r.got.Add(1) == int64(r.N) {
		r.finish()
	}
	return true
}

// finish records the end of the run once.
func (r *Run) finish() {
	r.endOnce.Do(func() {
		end := time.Now()
		r.mu.Lock()
		r.end = end
		if r.pubEnd.IsZero() {
			r.pubEnd = end // a consumer finished before the publisher noticed
		}
		r.mu.Unlock()
		close(r.done)
	})
}

// Done is closed when all N messages were received.
func (r *Run) Done() <-chan struct{} { return r.done }

// Got is how many distinct messages were received so far.
func (r *Run) Got() int64 { return r.got.Load() }

// Wait blocks until all N messages were received or ctx ends, and then
// stops the measurement (allocations, RSS).
func (r *Run) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		r.stopMeasuring()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("received %d of %d messages: %w", r.got.Load(), r.N, ctx.Err())
	}
}

func (r *Run) stopMeasuring() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.measured || !r.started {
		return
	}
	r.measured = true
	r.cpu.stop()
	runtime.ReadMemStats(&r.memEnd)
	if r.rss != nil {
		r.rss.stop()
	}
}

// Publish publishes all N messages from workers goroutines, each call of
// send covering batch consecutive sequence numbers [from, to). It calls
// Start before and Published after, and returns the first error.
func (r *Run) Publish(ctx context.Context, workers, batch int, send func(ctx context.Context, from, to int) error) error {
	if workers < 1 || batch < 1 {
		return fmt.Errorf("benchkit: workers and batch must be at least 1, got %d and %d", workers, batch)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	r.Start()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(batch))) - batch
				if from >= r.N {
					return
				}
				if err := send(ctx, from, min(from+batch, r.N)); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	r.Published()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// sample returns the figures of a finished run.
func (r *Run) sample() Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Sample{Duplicates: r.dups.Load()}
	if r.end.IsZero() || r.start.IsZero() {
		return s
	}
	n := float64(r.N)
	s.PublishRate = n / r.pubEnd.Sub(r.start).Seconds()
	s.E2ERate = n / r.end.Sub(r.start).Seconds()
	if r.memEnd.Mallocs >= r.memStart.Mallocs {
		s.AllocsPerMsg = float64(r.memEnd.Mallocs-r.memStart.Mallocs) / n
	}
	if r.rss != nil {
		s.PeakRSS = r.rss.peak()
	}
	s.CPUPerMsg = float64(r.cpu.selfUsed.Microseconds()) / n
	if r.cpu.brkMeasured {
		s.BrokerCPUPerMsg = float64(r.cpu.brkUsed.Microseconds()) / n
	}
	if r.Size >= HeaderSize {
		s.P50, s.P95, s.P99 = percentiles(r.lat)
	}
	return s
}
