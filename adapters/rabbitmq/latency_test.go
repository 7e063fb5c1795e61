package rabbitmq

import (
	"net"
	"net/url"
	"testing"
	"time"
)

// withLatency returns target rewritten to go through a local TCP proxy
// that delays every byte by oneWay in each direction (a round trip of
// 2*oneWay) without limiting bandwidth, to measure settings that matter
// on a real network rather than on loopback.
func withLatency(tb testing.TB, target string, oneWay time.Duration) string {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	upstream := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := net.Dial("tcp", upstream)
				if err != nil {
					_ = c.Close()
					return
				}
				go delayCopy(s, c, oneWay)
				delayCopy(c, s, oneWay)
			}()
		}
	}()
	u.Host = ln.Addr().String()
	return u.String()
}

// delayCopy copies src to dst, each chunk oneWay after it was read.
func delayCopy(dst, src net.Conn, oneWay time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(oneWay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	for range q { // let the reader goroutine finish
	}
}
