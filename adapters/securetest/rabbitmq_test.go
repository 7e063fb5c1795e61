package securetest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// amqpVhost is the private node's vhost: app may do anything in it, ro
// may configure and read but not write (publish), noread may not read
// (bind a queue to an exchange, consume).
const amqpVhost = "herald-secure"

const (
	noReadUser     = "noread"
	noReadPassword = "s3cr3t-noread-Pa55word"
)

var rabbitNode once[string]

// secureRabbitMQ starts, once, a private RabbitMQ node (herald-tls@localhost)
// with only an amqps listener (client certificates verified when sent,
// not required) and users app and ro, and returns its address.
func secureRabbitMQ(t *testing.T) string {
	t.Helper()
	skipShort(t)
	addr, err := rabbitNode.get(startRabbitMQ)
	if err != nil {
		brokerUnavailable(t, err)
	}
	return addr
}

func rabbitBin() (string, error) {
	if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); err == nil {
		return "/usr/lib/rabbitmq/bin/rabbitmq-server", nil // Debian: the script itself, not the su wrapper
	}
	return exec.LookPath("rabbitmq-server")
}

// passwordHash is RabbitMQ's rabbit_password_hashing_sha256 of password:
// base64(salt + sha256(salt + password)), with a 4-byte salt.
func passwordHash(password string) string {
	salt := make([]byte, 4)
	_, _ = rand.Read(salt)
	sum := sha256.Sum256(append(append([]byte(nil), salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, sum[:]...))
}

func startRabbitMQ() (string, error) {
	bin, err := rabbitBin()
	if err != nil {
		return "", fmt.Errorf("rabbitmq-server not found (scripts/brokers.sh up rabbitmq installs it): %w", err)
	}
	dir := filepath.Join(workDir, "rabbitmq")
	for _, d := range []string{"home", "mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return "", err
		}
	}
	ports, err := freePorts(3) // amqps, Erlang distribution, epmd
	if err != nil {
		return "", err
	}
	if err := startEpmd(dir, ports[2]); err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	user := func(name, password string) map[string]any {
		return map[string]any{"name": name, "password_hash": passwordHash(password),
			"hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []string{}}
	}
	defs, err := json.Marshal(map[string]any{
		"users":  []any{user(appUser, appPassword), user(roUser, roPassword), user(noReadUser, noReadPassword)},
		"vhosts": []any{map[string]any{"name": amqpVhost}},
		"permissions": []any{
			map[string]any{"user": appUser, "vhost": amqpVhost, "configure": ".*", "write": ".*", "read": ".*"},
			map[string]any{"user": roUser, "vhost": amqpVhost, "configure": ".*", "write": "^$", "read": ".*"},
			map[string]any{"user": noReadUser, "vhost": amqpVhost, "configure": ".*", "write": ".*", "read": "^$"},
		},
	})
	if err != nil {
		return "", err
	}
	conf := fmt.Sprintf(`listeners.tcp = none
listeners.ssl.default = %s
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
loopback_users = none
log.console = false
log.file.level = info
load_definitions = %s
`, addr, tlsFiles.CA, tlsFiles.ServerCert, tlsFiles.ServerKey, filepath.Join(dir, "definitions.json"))
	files := map[string][]byte{"definitions.json": defs, "rabbitmq.conf": []byte(conf), "rabbitmq-env.conf": nil}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o600); err != nil {
			return "", err
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		fmt.Sprintf("RABBITMQ_NODENAME=herald-tls-%d@localhost", ports[0]), // unique: runs at once share epmd
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_ENABLED_PLUGINS=",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", ports[1]),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"ERL_EPMD_ADDRESS=127.0.0.1",
		fmt.Sprintf("ERL_EPMD_PORT=%d", ports[2]),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(dir, "startup.log"))
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return "", fmt.Errorf("rabbitmq-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = out.Close(); close(exited) }()
	pgid := cmd.Process.Pid
	atEnd(func() {
		// The rabbitmq-server script stops the node on SIGTERM; the
		// group holds the Erlang VM and its helpers.
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.After(90 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return addr, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("rabbitmq-server exited during startup (logs in %s): %s", dir, tailFile(filepath.Join(dir, "startup.log")))
		case <-deadline:
			return "", fmt.Errorf("rabbitmq-server: %s not open after 90s (logs in %s)", addr, dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startEpmd starts an epmd of the node's own on port, stopped by its PID
// at the end: the node registers there, not with the shared broker's
// epmd, and the Erlang VM does not start a daemon that would outlive the
// tests.
func startEpmd(dir string, port int) error {
	bin, err := exec.LookPath("epmd")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/erlang/erts-*/bin/epmd")
		if len(matches) == 0 {
			return fmt.Errorf("epmd not found (package erlang-base): %w", err)
		}
		bin = matches[0]
	}
	out, err := os.Create(filepath.Join(dir, "epmd.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-address", "127.0.0.1", "-port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("epmd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = out.Close(); close(exited) }()
	proc := cmd.Process
	atEnd(func() { _ = proc.Kill(); <-exited })
	deadline := time.After(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("epmd exited at startup: %s", tailFile(filepath.Join(dir, "epmd.log")))
		case <-deadline:
			return fmt.Errorf("epmd: 127.0.0.1:%d not open after 10s", port)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func amqpsURL(user, password, addr, query string) string {
	return fmt.Sprintf("amqps://%s:%s@%s/%s?%s", user, password, addr, amqpVhost, query)
}

func TestRabbitMQPasswordOverTLS(t *testing.T) {
	addr := secureRabbitMQ(t)
	l := newLogs()
	roundTrip(t, amqpsURL(appUser, appPassword, addr, "tls_ca="+tlsFiles.CA), "secure.amqp.password", l)
	l.check(t)
}

func TestRabbitMQClientCertificate(t *testing.T) {
	addr := secureRabbitMQ(t)
	l := newLogs()
	roundTrip(t, amqpsURL(appUser, appPassword, addr, fmt.Sprintf("tls_ca=%s&tls_cert=%s&tls_key=%s",
		tlsFiles.CA, tlsFiles.ClientCert, tlsFiles.ClientKey)), "secure.amqp.mtls", l)
	l.check(t)
}

func TestRabbitMQWrongCA(t *testing.T) {
	addr := secureRabbitMQ(t)
	l := newLogs()
	openFails(t, amqpsURL(appUser, appPassword, addr, "tls_ca="+tlsFiles.WrongCA), 5*time.Second, l,
		"herald/amqps: connect to "+addr, "TLS", "certificate signed by unknown authority", "tls_ca="+tlsFiles.WrongCA)
	l.check(t)
}

func TestRabbitMQWrongPassword(t *testing.T) {
	addr := secureRabbitMQ(t)
	l := newLogs()
	openFails(t, amqpsURL(appUser, badPassword, addr, "tls_ca="+tlsFiles.CA), 5*time.Second, l,
		"herald/amqps: connect to "+addr, `authentication failed for user "app" (check the password)`)
	l.check(t)
}

func TestRabbitMQMissingPermission(t *testing.T) {
	addr := secureRabbitMQ(t)
	publishDenied(t, amqpsURL(roUser, roPassword, addr, "tls_ca="+tlsFiles.CA), "orders",
		`herald/amqps: publish to "orders"`, "permission denied", `user "ro"`)
}

func TestRabbitMQMissingReadPermission(t *testing.T) {
	addr := secureRabbitMQ(t)
	l := newLogs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := subscriber.Open(ctx, amqpsURL(noReadUser, noReadPassword, addr, "tls_ca="+tlsFiles.CA),
		subscriber.WithLogger(l.log), subscriber.WithGroup("secure"))
	if err != nil {
		t.Fatalf("subscriber.Open: %v", err)
	}
	defer sub.Close()
	start := time.Now()
	err = sub.Subscribe(ctx, "orders", func(context.Context, *herald.Message) error { return nil })
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Subscribe returned nil, want a permission error; log:\n%s", l.sink)
	}
	t.Logf("Subscribe: error after %v: %v", took.Round(time.Millisecond), err)
	checkError(t, err, `subscribe to "orders"`, "permission denied", `user "noread"`)
	if took > 5*time.Second {
		t.Errorf("Subscribe: the error took %v, want under 5s", took)
	}
	l.check(t)
}
