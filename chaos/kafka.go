package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// kafkaBroker is a Kafka broker (KRaft, broker and controller in one
// process) from the jars scripts/brokers.sh installs, with two listeners:
// INTERNAL for itself, EXTERNAL advertising the proxy's port, so that
// every client connection goes through the proxy.
type kafkaBroker struct {
	dir                     string
	port, extPort, ctrlPort int
	advertised              int
	libs                    string
	formatted               bool
	p                       *faultkit.Proc
}

func (b *kafkaBroker) prepare() error {
	version := os.Getenv("HERALD_KAFKA_VERSION")
	if version == "" {
		version = "4.4.0"
	}
	b.libs = filepath.Join(faultkit.CacheDir(), "kafka-"+version, "libs")
	if _, err := os.Stat(filepath.Join(b.libs, ".complete")); err != nil {
		return fmt.Errorf("kafka: no jars in %s (scripts/brokers.sh up kafka installs them)", b.libs)
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[3]d
listeners=INTERNAL://127.0.0.1:%[1]d,EXTERNAL://127.0.0.1:%[2]d,CONTROLLER://127.0.0.1:%[3]d
advertised.listeners=INTERNAL://127.0.0.1:%[1]d,EXTERNAL://127.0.0.1:%[4]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
log.dirs=%[5]s/data
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
`, b.port, b.extPort, b.ctrlPort, b.advertised, b.dir)
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
			return err
		}
	}
	format := exec.Command("java", "-Dlog4j2.configurationFile="+filepath.Join(b.dir, "log4j2.properties"),
		"-cp", b.libs+"/*", "kafka.tools.StorageTool", "format", "-t", "aGVyYWxkLWNoYW9zLXQ",
		"-c", filepath.Join(b.dir, "server.properties"), "--ignore-formatted")
	if out, err := format.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka: storage format: %v\n%s", err, out)
	}
	b.formatted = true
	return nil
}

func (b *kafkaBroker) start() error {
	if !b.formatted {
		if err := b.prepare(); err != nil {
			return err
		}
	}
	logPath := filepath.Join(b.dir, "kafka.log")
	if _, err := os.Stat(logPath); err == nil {
		_ = os.Rename(logPath, logPath+".prev") // the ready check looks for this run's line
	}
	p, err := faultkit.StartProc(filepath.Join(b.dir, "kafka.out"), nil, "java", "-Xms128m", "-Xmx384m",
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dlog4j2.configurationFile="+filepath.Join(b.dir, "log4j2.properties"),
		"-cp", b.libs+"/*", "kafka.Kafka", filepath.Join(b.dir, "server.properties"))
	if err != nil {
		return err
	}
	b.p = p
	return p.WaitReady("kafka", 120*time.Second, func() bool {
		return faultkit.FileContains(logPath, "Kafka Server started") && faultkit.PortOpen(b.upstream())
	}, logPath)
}

func (b *kafkaBroker) kill()            { b.p.Kill() }
func (b *kafkaBroker) upstream() string { return addr(b.extPort) }
func (b *kafkaBroker) url(proxyAddr string) string {
	return "kafka://" + proxyAddr
}
