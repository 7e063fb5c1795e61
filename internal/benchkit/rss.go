package benchkit

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rssInterval is how often the resident set is sampled during a case.
const rssInterval = 10 * time.Millisecond

// rssSampler keeps the highest VmRSS seen while it runs.
type rssSampler struct {
	max  atomic.Uint64
	quit chan struct{}
	wg   sync.WaitGroup
}

// startRSS starts sampling; where /proc/self/status cannot be read (not
// Linux) it samples nothing and peak reports 0.
func startRSS() *rssSampler {
	s := &rssSampler{quit: make(chan struct{})}
	v, ok := readRSS()
	if !ok {
		close(s.quit)
		return s
	}
	s.max.Store(v)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(rssInterval)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				if v, ok := readRSS(); ok && v > s.max.Load() {
					s.max.Store(v)
				}
			}
		}
	}()
	return s
}

// stop ends sampling, taking one last sample.
func (s *rssSampler) stop() {
	select {
	case <-s.quit:
		return
	default:
	}
	close(s.quit)
	s.wg.Wait()
	if v, ok := readRSS(); ok && v > s.max.Load() {
		s.max.Store(v)
	}
}

// peak is the highest resident set seen, in bytes (0: unknown).
func (s *rssSampler) peak() uint64 { return s.max.Load() }

// readRSS returns VmRSS from /proc/self/status in bytes.
func readRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return parseVmRSS(b)
}

// parseVmRSS finds the "VmRSS:   1234 kB" line of a /proc status file.
func parseVmRSS(status []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		f := bytes.Fields(line[len("VmRSS:"):])
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}
