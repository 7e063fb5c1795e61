package kafka

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// privateBroker is a Kafka broker (KRaft, broker and controller) of the
// test's own, started from the jars scripts/brokers.sh installs, on free
// ports with its own data directory, so a test can kill and restart it
// without touching the shared broker.
type privateBroker struct {
	t        *testing.T
	dir      string
	libs     string // the Kafka jars
	port     int
	ctrlPort int
	cmd      *exec.Cmd
	exited   chan struct{}
}

// startPrivateBroker starts one. Like the shared broker tests it needs
// HERALD_TEST_KAFKA (the jars are there when the shared broker runs): it
// skips without it, and fails when the broker cannot start under
// HERALD_REQUIRE_BROKERS=1.
func startPrivateBroker(t *testing.T) *privateBroker {
	t.Helper()
	brokerURL(t)
	if testing.Short() {
		t.Skip("starts a Kafka broker of its own (about 30 s): not with -short")
	}
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf("private Kafka broker: "+format, args...)
		if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cache := os.Getenv("HERALD_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "herald")
	}
	version := os.Getenv("HERALD_KAFKA_VERSION")
	if version == "" {
		version = "4.4.0"
	}
	libs := filepath.Join(cache, "kafka-"+version, "libs")
	if _, err := os.Stat(filepath.Join(libs, ".complete")); err != nil {
		fail("no Kafka jars in %s (scripts/brokers.sh up kafka installs them)", libs)
	}
	if _, err := exec.LookPath("java"); err != nil {
		fail("java not found")
	}
	b := &privateBroker{t: t, dir: t.TempDir(), libs: libs, port: freePort(t), ctrlPort: freePort(t)}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%[3]s/data
num.network.threads=2
num.io.threads=2
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`, b.port, b.ctrlPort, b.dir)
	log4j := fmt.Sprintf(`status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = %s/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
`, b.dir)
	for name, text := range map[string]string{"server.properties": props, "log4j2.properties": log4j} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	format := exec.Command("java", "-Dlog4j2.configurationFile="+filepath.Join(b.dir, "log4j2.properties"),
		"-cp", libs+"/*", "kafka.tools.StorageTool", "format", "-t", "aGVyYWxkLXByaXZhdGUtdA",
		"-c", filepath.Join(b.dir, "server.properties"), "--ignore-formatted")
	if out, err := format.CombinedOutput(); err != nil {
		fail("storage format: %v\n%s", err, out)
	}
	b.start()
	return b
}

// start launches the broker and waits until it accepts Kafka requests.
func (b *privateBroker) start() {
	t := b.t
	t.Helper()
	logFile := filepath.Join(b.dir, "kafka.log")
	if _, err := os.Stat(logFile); err == nil {
		_ = os.Rename(logFile, logFile+".prev") // started() looks for this run's line
	}
	b.cmd = exec.Command("java", "-Xms128m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dlog4j2.configurationFile="+filepath.Join(b.dir, "log4j2.properties"),
		"-cp", b.libs+"/*", "kafka.Kafka", filepath.Join(b.dir, "server.properties"))
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(b.dir, "kafka.out"))
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("private Kafka broker: %v", err)
	}
	b.exited = make(chan struct{})
	cmd, exited := b.cmd, b.exited
	go func() { _ = cmd.Wait(); _ = out.Close(); close(exited) }()
	t.Cleanup(b.kill)
	deadline := time.Now().Add(90 * time.Second)
	for !b.started() {
		select {
		case <-exited:
			logTail, _ := os.ReadFile(filepath.Join(b.dir, "kafka.log"))
			t.Fatalf("private Kafka broker exited during startup:\n%s", tail(string(logTail), 30))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("private Kafka broker not ready after 90s")
		}
	}
}

func (b *privateBroker) started() bool {
	log, _ := os.ReadFile(filepath.Join(b.dir, "kafka.log"))
	if !strings.Contains(string(log), "Kafka Server started") {
		return false
	}
	c, err := net.DialTimeout("tcp", b.addr(), time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

// kill stops the broker with SIGKILL (by the PID this test started) and
// waits for it to exit. It is idempotent.
func (b *privateBroker) kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.exited:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.exited
}

func (b *privateBroker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

func (b *privateBroker) url() string { return "kafka://" + b.addr() }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
