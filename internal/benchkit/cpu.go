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

// processCPU is the user+system CPU time this process used so far (0
// where getrusage is not available).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the user+system CPU time of process pid so far, read from
// /proc/PID/stat; ok is false when it cannot be read (no /proc, no such
// process).
func pidCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command (field 2) is in parentheses and may
// hold spaces, so the fields are counted after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / clockTicks, true
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
	m.self = processCPU()
	m.brokerStart, m.brokerOK = pidCPU(m.broker)
}

func (m *cpuMeter) stop() {
	m.selfUsed = processCPU() - m.self
	if m.brokerOK {
		if end, ok := pidCPU(m.broker); ok {
			m.brkUsed, m.brkMeasured = end-m.brokerStart, true
		}
	}
}
