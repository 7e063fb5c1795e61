package securetest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// nkeySeed is the seed of the nkey user, once the NATS servers started.
var nkeySeed string

// natsEnv is the pair of secured NATS servers of the run.
type natsEnv struct {
	addr, mtlsAddr string
	nkeyFile       string
}

var natsServers once[*natsEnv]

// secureNATS starts, once, two in-process NATS servers with JetStream:
// one with TLS (server certificate only), users app and ro (ro may not
// publish to orders.>) and an nkey user; one that also requires client
// certificates signed by the test CA.
func secureNATS(t *testing.T) *natsEnv {
	t.Helper()
	skipShort(t)
	env, err := natsServers.get(startNATS)
	if err != nil {
		brokerUnavailable(t, err)
	}
	return env
}

func startNATS() (*natsEnv, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "nats")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := &natsEnv{nkeyFile: filepath.Join(dir, "user.nk")}
	if err := os.WriteFile(env.nkeyFile, seed, 0o600); err != nil {
		return nil, err
	}
	nkeySeed = string(seed)

	users := []*server.User{
		{Username: appUser, Password: appPassword},
		{Username: roUser, Password: roPassword, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"orders", "orders.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{">"}},
		}},
	}
	start := func(port int, mtls bool) (string, error) {
		tc, err := tlsFiles.ServerTLS(mtls)
		if err != nil {
			return "", err
		}
		opts := &server.Options{
			ServerName: fmt.Sprintf("herald-secure-%d", port),
			Host:       "127.0.0.1", Port: port,
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprint(port)),
			NoLog: true, NoSigs: true,
			TLSConfig: tc, TLSVerify: mtls, TLSTimeout: 5,
			Users: users,
			Nkeys: []*server.NkeyUser{{Nkey: pub}},
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			return "", fmt.Errorf("nats-server on 127.0.0.1:%d: %w", port, err)
		}
		srv.Start()
		atEnd(func() { srv.Shutdown(); srv.WaitForShutdown() })
		if !srv.ReadyForConnections(20 * time.Second) {
			return "", fmt.Errorf("nats-server on 127.0.0.1:%d: not ready after 20s", port)
		}
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	if env.addr, err = start(ports[0], false); err != nil {
		return nil, err
	}
	if env.mtlsAddr, err = start(ports[1], true); err != nil {
		return nil, err
	}
	return env, nil
}

func TestNATSPasswordOverTLS(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	roundTrip(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s", appUser, appPassword, env.addr, tlsFiles.CA), "secure.nats.password", l)
	l.check(t)
}

func TestNATSNkeyOverTLS(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	roundTrip(t, fmt.Sprintf("nats://%s?tls_ca=%s&nkey=%s", env.addr, tlsFiles.CA, env.nkeyFile), "secure.nats.nkey", l)
	l.check(t)
}

func TestNATSClientCertificate(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	roundTrip(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s&tls_cert=%s&tls_key=%s", appUser, appPassword, env.mtlsAddr,
		tlsFiles.CA, tlsFiles.ClientCert, tlsFiles.ClientKey), "secure.nats.mtls", l)
	l.check(t)
}

func TestNATSWrongCA(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	openFails(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s", appUser, appPassword, env.addr, tlsFiles.WrongCA), 5*time.Second, l,
		"herald/nats: connect to", env.addr, "certificate signed by unknown authority", "tls_ca="+tlsFiles.WrongCA)
	l.check(t)
}

func TestNATSClientCertificateFromWrongCA(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	openFails(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s&tls_cert=%s&tls_key=%s", appUser, appPassword, env.mtlsAddr,
		tlsFiles.CA, tlsFiles.WrongClientCert, tlsFiles.WrongClientKey), 5*time.Second, l,
		"herald/nats: connect to", env.mtlsAddr, "TLS", "client certificate", "tls_cert="+tlsFiles.WrongClientCert)
	l.check(t)
}

func TestNATSNoClientCertificate(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	openFails(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s", appUser, appPassword, env.mtlsAddr, tlsFiles.CA), 5*time.Second, l,
		"herald/nats: connect to", env.mtlsAddr, "TLS", "client certificate")
	l.check(t)
}

func TestNATSWrongPassword(t *testing.T) {
	env := secureNATS(t)
	l := newLogs()
	openFails(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s", appUser, badPassword, env.addr, tlsFiles.CA), 5*time.Second, l,
		"herald/nats: connect to", env.addr, `authentication failed for user "app"`)
	l.check(t)
}

func TestNATSWrongNkey(t *testing.T) {
	env := secureNATS(t)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	file := filepath.Join(t.TempDir(), "other.nk")
	if err := os.WriteFile(file, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	l := newLogs()
	err = openFails(t, fmt.Sprintf("nats://%s?tls_ca=%s&nkey=%s", env.addr, tlsFiles.CA, file), 5*time.Second, l,
		"herald/nats: connect to", env.addr, "authentication failed", "nkey")
	if err != nil && containsAny(err.Error(), string(seed)) {
		t.Errorf("error holds the nkey seed")
	}
	l.check(t)
}

func TestNATSMissingPermission(t *testing.T) {
	env := secureNATS(t)
	publishDenied(t, fmt.Sprintf("nats://%s:%s@%s?tls_ca=%s", roUser, roPassword, env.addr, tlsFiles.CA), "orders.created",
		`herald/nats: publish to "orders.created"`, "permission denied", `user "ro"`)
}
