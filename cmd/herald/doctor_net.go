package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// dns resolves every broker's host name.
func (d *doctor) dns(ctx context.Context) (string, error) {
	var found []string
	for _, a := range d.addrs {
		host, _, _ := net.SplitHostPort(a)
		if net.ParseIP(host) != nil {
			found = append(found, host+" is an IP address")
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return "", err
		}
		found = append(found, fmt.Sprintf("%s -> %s", host, strings.Join(ips, " ")))
	}
	return strings.Join(found, "; "), nil
}

// tcp connects to every broker. One broker down of several is reported
// but does not fail the step: the clients use the others.
func (d *doctor) tcp(ctx context.Context) (string, error) {
	var ok, down []string
	var firstErr error
	for _, a := range d.addrs {
		start := time.Now()
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", a)
		if err != nil {
			down = append(down, a)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		c.Close()
		ok = append(ok, fmt.Sprintf("%s accepts connections (%s)", a, time.Since(start).Round(time.Microsecond)))
	}
	if len(ok) == 0 {
		return "", firstErr
	}
	detail := strings.Join(ok, "; ")
	if len(down) > 0 {
		detail += fmt.Sprintf("; NOT reachable: %s (%v)", strings.Join(down, ", "), firstErr)
	}
	return detail, nil
}
