package natsx

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// inProcess starts an in-process NATS server (with JetStream on a
// temporary directory when js) and returns a connection to it; both end
// with the test.
func inProcess(t testing.TB, js bool) *nats.Conn {
	t.Helper()
	o := &server.Options{DontListen: true, NoLog: true, NoSigs: true}
	if js {
		o.JetStream, o.StoreDir = true, t.TempDir()
	}
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
