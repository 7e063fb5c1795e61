package pgnotify_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// privatePG is a PostgreSQL of the test's own (initdb in a temporary
// directory, its own port), so that the test may stop and start it
// without touching the shared one. Its process is stopped by the PID it
// was started with.
type privatePG struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cred *syscall.Credential // the postgres user's, when running as root
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd exited
}

// pgBinDir finds initdb and postgres as scripts/brokers.sh does: Debian's
// /usr/lib/postgresql/*/bin, else PATH.
func pgBinDir() (string, bool) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = append([]string{"/usr/lib/postgresql/15/bin"}, dirs...)
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, true
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), isExec(filepath.Join(filepath.Dir(p), "postgres"))
	}
	return "", false
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// startPrivatePG initdbs and starts a private PostgreSQL; the test skips
// when the binaries are missing (fails under HERALD_REQUIRE_BROKERS=1).
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no PostgreSQL")
	}
	bin, ok := pgBinDir()
	if !ok {
		msg := "initdb/postgres not found (apt-get install postgresql-15, or scripts/brokers.sh up postgres)"
		if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1)")
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "herald-pgnotify-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &privatePG{t: t, bin: bin, dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// freePort is a TCP port nobody listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// url is the connection string of the private PostgreSQL.
func (p *privatePG) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start starts the server and waits until it accepts connections.
func (p *privatePG) start() {
	t := p.t
	t.Helper()
	log, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	p.cmd = exec.Command(filepath.Join(p.bin, "postgres"), "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) { cmd.Wait(); close(exit) }(p.cmd, p.exit) //nolint:errcheck // stopped on purpose
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.url())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-p.exit:
			b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
			t.Fatalf("postgres exited: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres not ready after 30s: %v", err)
		}
	}
}

// stop shuts the server down (SIGINT: fast shutdown, every client
// disconnected) by the PID it started, and waits until it exited.
func (p *privatePG) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // it may have exited
	select {
	case <-p.exit:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck
		<-p.exit
	}
	p.cmd = nil
}
