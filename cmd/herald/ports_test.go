package main

import (
	"net"
	"strconv"
	"testing"
)

// This package's tests listen only on 127.0.0.1 ports 14000-14099 (the
// range given to the CLI's tests on shared machines).
const portLow, portHigh = 14000, 14099

// freeAddr returns a 127.0.0.1 address in the range that nothing listens
// on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	for p := portLow; p <= portHigh; p++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatalf("no free port in 127.0.0.1:%d-%d", portLow, portHigh)
	return ""
}

// freePort is freeAddr's port.
func freePort(t *testing.T) int {
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}
