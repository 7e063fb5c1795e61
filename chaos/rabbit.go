package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// rabbitBroker is a RabbitMQ node of the harness's own: its node name,
// AMQP and distribution ports, directories and epmd (on a port of its
// own), from the rabbitmq-server scripts scripts/brokers.sh uses.
type rabbitBroker struct {
	dir                      string
	port, distPort, epmdPort int
	epmd, p                  *faultkit.Proc
}

func rabbitBin() (string, error) {
	if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); err == nil {
		return "/usr/lib/rabbitmq/bin", nil
	}
	if p, err := exec.LookPath("rabbitmq-server"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("amqp: rabbitmq-server not found (scripts/brokers.sh up rabbitmq installs it)")
}

func (b *rabbitBroker) env() []string {
	return []string{
		"HOME=" + filepath.Join(b.dir, "home"),
		"RABBITMQ_NODENAME=herald-chaos-" + strconv.Itoa(b.port) + "@localhost",
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(b.dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(b.dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(b.dir, "advanced.config"),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(b.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(b.dir, "log"),
		"RABBITMQ_PID_FILE=" + filepath.Join(b.dir, "rabbitmq.pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(b.dir, "enabled_plugins"),
		"RABBITMQ_ENABLED_PLUGINS=",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(b.port),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(b.distPort),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT=" + strconv.Itoa(b.epmdPort),
	}
}

func (b *rabbitBroker) start() error {
	bin, err := rabbitBin()
	if err != nil {
		return err
	}
	for _, d := range []string{"home", "mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(b.dir, d), 0o700); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users.guest = true\nlog.console = false\nlog.file.level = info\n", b.port)
	_ = os.WriteFile(filepath.Join(b.dir, "rabbitmq.conf"), []byte(conf), 0o600)
	_ = os.WriteFile(filepath.Join(b.dir, "rabbitmq-env.conf"), nil, 0o600)
	if b.epmd == nil {
		epmd, err := exec.LookPath("epmd")
		if err != nil {
			matches, _ := filepath.Glob("/usr/lib/erlang/erts-*/bin/epmd")
			if len(matches) == 0 {
				return fmt.Errorf("amqp: epmd not found (package erlang-base)")
			}
			epmd = matches[0]
		}
		logPath := filepath.Join(b.dir, "epmd.log")
		if b.epmd, err = faultkit.StartProc(logPath, nil, epmd, "-address", "127.0.0.1", "-port", strconv.Itoa(b.epmdPort)); err != nil {
			return err
		}
		if err := b.epmd.WaitReady("epmd", 10*time.Second, func() bool { return faultkit.PortOpen(addr(b.epmdPort)) }, logPath); err != nil {
			return err
		}
	}
	logPath := filepath.Join(b.dir, "server.out")
	p, err := faultkit.StartProc(logPath, b.env(), filepath.Join(bin, "rabbitmq-server"))
	if err != nil {
		return err
	}
	b.p = p
	return p.WaitReady("rabbitmq", 90*time.Second, func() bool { return faultkit.PortOpen(b.upstream()) }, logPath)
}

// kill SIGKILLs the node (the epmd stays, as on a host whose broker
// crashed).
func (b *rabbitBroker) kill() { b.p.Kill() }

// close stops the epmd too.
func (b *rabbitBroker) close() { b.p.Kill(); b.epmd.Kill() }

func (b *rabbitBroker) upstream() string { return addr(b.port) }
func (b *rabbitBroker) url(proxyAddr string) string {
	return "amqp://guest:guest@" + proxyAddr + "/"
}
