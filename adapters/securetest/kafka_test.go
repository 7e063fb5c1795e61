package securetest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// kafkaDeniedTopic exists on the private broker; user ro may describe
// and read it, not write to it.
const kafkaDeniedTopic = "orders"

var kafkaBroker once[string]

// secureKafka starts, once, a private Kafka broker (KRaft) whose client
// listener is SASL_SSL: SCRAM-SHA-512, client certificates required, ACLs
// (StandardAuthorizer; app is a super user, ro may only read "orders").
// It returns the SASL_SSL address.
func secureKafka(t *testing.T) string {
	t.Helper()
	skipShort(t)
	addr, err := kafkaBroker.get(startKafka)
	if err != nil {
		brokerUnavailable(t, err)
	}
	return addr
}

func kafkaLibs() (string, error) {
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
		return "", fmt.Errorf("no Kafka jars in %s (scripts/brokers.sh up kafka installs them)", libs)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", errors.New("java not found")
	}
	return libs, nil
}

func startKafka() (string, error) {
	libs, err := kafkaLibs()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(workDir, "kafka")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ports, err := freePorts(3) // SASL_SSL, internal PLAINTEXT, controller
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	internal := fmt.Sprintf("127.0.0.1:%d", ports[1])
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[3]d
listeners=SASL_SSL://%[1]s,INTERNAL://%[2]s,CONTROLLER://127.0.0.1:%[3]d
advertised.listeners=SASL_SSL://%[1]s,INTERNAL://%[2]s
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=%[5]s
ssl.truststore.type=PEM
ssl.truststore.location=%[6]s
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:%[7]s
allow.everyone.if.no.acl.found=false
log.dirs=%[4]s/data
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
`, addr, internal, ports[2], dir, tlsFiles.ServerBundle, tlsFiles.CA, appUser)
	log4j := fmt.Sprintf(`status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = %s/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
`, dir)
	for name, text := range map[string]string{"server.properties": props, "log4j2.properties": log4j} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return "", err
		}
	}
	log4jArg := "-Dlog4j2.configurationFile=" + filepath.Join(dir, "log4j2.properties")
	format := exec.Command("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", log4jArg,
		"-cp", libs+"/*", "kafka.tools.StorageTool", "format", "-t", "aGVyYWxkLXNlY3VyZS10ZXN0",
		"-c", filepath.Join(dir, "server.properties"), "--ignore-formatted",
		"--add-scram", fmt.Sprintf("SCRAM-SHA-512=[name=%s,password=%s]", appUser, appPassword),
		"--add-scram", fmt.Sprintf("SCRAM-SHA-512=[name=%s,password=%s]", roUser, roPassword))
	if out, err := format.CombinedOutput(); err != nil {
		return "", fmt.Errorf("kafka-storage format: %v\n%s", err, out)
	}

	cmd := exec.Command("java", "-Xms128m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", log4jArg,
		"-cp", libs+"/*", "kafka.Kafka", filepath.Join(dir, "server.properties"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(dir, "kafka.out"))
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return "", fmt.Errorf("kafka: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = out.Close(); close(exited) }()
	proc := cmd.Process
	atEnd(func() {
		_ = proc.Kill() // by the PID started here; the data dir is thrown away
		<-exited
	})
	deadline := time.After(90 * time.Second)
	for {
		logText, _ := os.ReadFile(filepath.Join(dir, "kafka.log"))
		if strings.Contains(string(logText), "Kafka Server started") {
			break
		}
		select {
		case <-exited:
			return "", fmt.Errorf("kafka exited during startup (logs in %s):\n%s", dir, tailFile(filepath.Join(dir, "kafka.log")))
		case <-deadline:
			return "", fmt.Errorf("kafka not started after 90s (logs in %s)", dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := kafkaACLs(internal); err != nil {
		return "", err
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("kafka started but %s is not open: %w", addr, err)
	}
	_ = c.Close()
	return addr, nil
}

// kafkaACLs creates topic "orders" and lets ro describe and read it,
// through the internal listener (ANONYMOUS, a super user).
func kafkaACLs(internal string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(internal))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, kafkaDeniedTopic); err != nil {
		return fmt.Errorf("create topic %s: %w", kafkaDeniedTopic, err)
	}
	acl := kadm.NewACLs().Allow("User:"+roUser).AllowHosts().
		Topics(kafkaDeniedTopic).Groups("secure").
		Operations(kadm.OpDescribe, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := adm.CreateACLs(ctx, acl)
	if err != nil {
		return fmt.Errorf("create ACLs: %w", err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("create ACL: %w", r.Err)
		}
	}
	return nil
}

func kafkaURL(user, password, addr, query string) string {
	return fmt.Sprintf("kafka://%s:%s@%s?sasl=scram-sha-512&%s", user, password, addr, query)
}

// clientTLS are the TLS options of a client the broker accepts.
func clientTLS(ca string) string {
	return fmt.Sprintf("tls_ca=%s&tls_cert=%s&tls_key=%s", ca, tlsFiles.ClientCert, tlsFiles.ClientKey)
}

func TestKafkaSCRAMOverTLS(t *testing.T) {
	addr := secureKafka(t)
	l := newLogs()
	roundTrip(t, kafkaURL(appUser, appPassword, addr, clientTLS(tlsFiles.CA)), "secure.kafka.scram", l)
	l.check(t)
}

func TestKafkaWrongCA(t *testing.T) {
	addr := secureKafka(t)
	l := newLogs()
	openFails(t, kafkaURL(appUser, appPassword, addr, clientTLS(tlsFiles.WrongCA)), 5*time.Second, l,
		"herald/kafka:", addr, "TLS", "certificate signed by unknown authority", "tls_ca="+tlsFiles.WrongCA)
	l.check(t)
}

func TestKafkaNoClientCertificate(t *testing.T) {
	addr := secureKafka(t)
	l := newLogs()
	openFails(t, kafkaURL(appUser, appPassword, addr, "tls_ca="+tlsFiles.CA), 5*time.Second, l,
		"herald/kafka:", addr, "TLS", "client certificate")
	l.check(t)
}

func TestKafkaWrongPassword(t *testing.T) {
	addr := secureKafka(t)
	l := newLogs()
	openFails(t, kafkaURL(appUser, badPassword, addr, clientTLS(tlsFiles.CA)), 5*time.Second, l,
		"herald/kafka:", addr, `authentication failed for user "app" (check the password`)
	l.check(t)
}

func TestKafkaMissingPermission(t *testing.T) {
	addr := secureKafka(t)
	publishDenied(t, kafkaURL(roUser, roPassword, addr, clientTLS(tlsFiles.CA)), kafkaDeniedTopic,
		`herald/kafka: publish to "orders"`, "permission denied", `user "ro"`)
}

// Without the idempotent producer (no cluster ACL involved) the refusal is
// the topic's.
func TestKafkaMissingTopicPermission(t *testing.T) {
	addr := secureKafka(t)
	publishDenied(t, kafkaURL(roUser, roPassword, addr, clientTLS(tlsFiles.CA)+"&idempotent=false"), kafkaDeniedTopic,
		`herald/kafka: publish to "orders"`, "permission denied", `user "ro"`, "WRITE")
}

// A group the user may not join: Subscribe fails at once, naming it.
func TestKafkaMissingGroupPermission(t *testing.T) {
	addr := secureKafka(t)
	l := newLogs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := subscriber.Open(ctx, kafkaURL(roUser, roPassword, addr, clientTLS(tlsFiles.CA)),
		subscriber.WithLogger(l.log), subscriber.WithGroup("not-allowed"))
	if err != nil {
		t.Fatalf("subscriber.Open: %v", err)
	}
	defer sub.Close()
	start := time.Now()
	err = sub.Subscribe(ctx, kafkaDeniedTopic, func(context.Context, *herald.Message) error { return nil })
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Subscribe returned nil, want a permission error; log:\n%s", l.sink)
	}
	t.Logf("Subscribe: error after %v: %v", took.Round(time.Millisecond), err)
	checkError(t, err, `subscribe to "orders"`, "permission denied", `user "ro"`, "group")
	if took > 5*time.Second {
		t.Errorf("Subscribe: the error took %v, want under 5s", took)
	}
	l.check(t)
}
