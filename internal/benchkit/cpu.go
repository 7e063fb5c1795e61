package benchkit

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// needs cgo).
const clockTicks = 100

// ProcessCPU is the user+system CPU time this process used so far (0
// where getrusage is not available).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PIDCPU is the user+system CPU time of process pid so far, read from
// /proc/PID/stat; ok is false when it cannot be read (no /proc, no such
// process).
func PIDCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	st, ok := parseStat(b)
	return st.cpu, ok
}

// TreeCPU is the user+system CPU time of process pid and of its
// children so far: its own, that of its children still running (one
// level: a PostgreSQL postmaster's backends) and that of the children it
// waited for (cutime and cstime), read from /proc; ok is false when pid's
// cannot be read.
func TreeCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	st, ok := parseStat(b)
	if !ok {
		return 0, false
	}
	total := st.cpu + st.children
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		c, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if cs, ok := parseStat(c); ok && cs.ppid == pid {
			total += cs.cpu
		}
	}
	return total, true
}

// stat is what TreeCPU reads of a /proc/PID/stat line.
type stat struct {
	ppid          int
	cpu, children time.Duration // utime+stime, cutime+cstime
}

// parseStat reads the parent (field 4), utime and stime (14, 15) and
// cutime and cstime (16, 17) of a /proc/PID/stat line. The command
// (field 2) is in parentheses and may hold spaces, so the fields are
// counted after its last ')'.
func parseStat(line []byte) (stat, bool) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return stat{}, false
	}
	f := bytes.Fields(line[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return stat{}, false
	}
	var v [5]int64
	for j, k := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseInt(string(f[k]), 10, 64)
		if err != nil {
			return stat{}, false
		}
		v[j] = n
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return stat{ppid: int(v[0]), cpu: tick(v[1] + v[2]), children: tick(v[3] + v[4])}, true
}

// cpuMeter measures the CPU time of this process and of a broker process
// over the timed part of a run.
type cpuMeter struct {
	broker            int // pid, 0: unknown
	self, brokerStart time.Duration
	brokerOK          bool
	selfUsed, brkUsed time.Duration
	brkMeasured       bool
}

func (m *cpuMeter) start() {
	m.self = ProcessCPU()
	m.brokerStart, m.brokerOK = PIDCPU(m.broker)
}

func (m *cpuMeter) stop() {
	m.selfUsed = ProcessCPU() - m.self
	if m.brokerOK {
		if end, ok := PIDCPU(m.broker); ok {
			m.brkUsed, m.brkMeasured = end-m.brokerStart, true
		}
	}
}
