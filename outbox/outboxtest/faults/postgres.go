package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/heraldkit/herald/internal/faultkit"
)

// PGBinDir finds initdb and pg_ctl as scripts/brokers.sh does:
// $HERALD_PG_BIN, else /usr/lib/postgresql/15/bin, any
// /usr/lib/postgresql/*/bin, else the PATH (Debian's postgresql-15 keeps
// them out of the PATH).
func PGBinDir() (string, error) {
	ok := func(d string) bool {
		for _, b := range []string{"initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("HERALD_PG_BIN"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("HERALD_PG_BIN=%s holds no initdb and pg_ctl", d)
	}
	dirs := []string{"/usr/lib/postgresql/15/bin"}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range append(dirs, more...) {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb and pg_ctl not found (scripts/brokers.sh up postgres installs postgresql-15; or set HERALD_PG_BIN)")
}

// postgres is a PostgreSQL server of the suite's own: initdb into a
// directory of its own, its own port, started and stopped with pg_ctl.
// Stopping is -m immediate: the postmaster SIGQUITs every server process
// and exits without a checkpoint, so the next start runs crash recovery,
// as after a crash. Commits are synchronous (synchronous_commit=on: a
// commit returns once its WAL is written); fsync is off, which only
// matters when the machine itself crashes, not a process.
type postgres struct {
	bin  string
	dir  string // holds data/ and postgres.log
	port int
	cred *syscall.Credential // the postgres user's, when run as root
}

func newPostgres(bin, dir string) (*postgres, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &postgres{bin: bin, dir: dir, port: port}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The postgres user must reach dir through its parents.
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
					return nil, err
				}
			}
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := p.run("initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return p, nil
}

func (p *postgres) data() string { return filepath.Join(p.dir, "data") }
func (p *postgres) log() string  { return filepath.Join(p.dir, "postgres.log") }

// DSN is the server's URL for pgx.
func (p *postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// run runs a PostgreSQL program (as the postgres user when root).
func (p *postgres) run(prog string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// start starts the server and returns once it accepts connections.
func (p *postgres) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=on -c max_connections=100", p.port, p.data())
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", p.log(), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, faultkit.TailFile(p.log(), 20))
	}
	return nil
}

// stopImmediate stops the server with pg_ctl -m immediate and returns
// once it exited.
func (p *postgres) stopImmediate() error {
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	return nil
}

// close stops the server for good: pg_ctl, else SIGKILL to the postmaster
// of this data directory (its PID from postmaster.pid, checked against
// /proc).
func (p *postgres) close() {
	if p == nil {
		return
	}
	if p.stopImmediate() == nil {
		return
	}
	b, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 1 {
		return
	}
	if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cl), p.data()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
