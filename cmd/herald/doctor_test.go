package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// doctorOutput is what one check printed, as JSON and as text.
type doctorOutput struct {
	rep        doctorReport
	err        error
	json, text string
}

// doctorRun runs "herald doctor -json" and "herald doctor" on url at the
// same time (a refused RabbitMQ login takes 3 s) and returns both.
func doctorRun(t *testing.T, url string, flags ...string) doctorOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var js, text bytes.Buffer
	var terr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		terr = run(ctx, append([]string{"doctor", "-timeout", "10s", "-url", url}, flags...), nil, &text)
	}()
	err := run(ctx, append([]string{"doctor", "-json", "-timeout", "10s", "-url", url}, flags...), nil, &js)
	<-done
	var rep doctorReport
	if jerr := json.Unmarshal(js.Bytes(), &rep); jerr != nil {
		t.Fatalf("doctor -json printed %q: %v", js.String(), jerr)
	}
	if (err == nil) != (terr == nil) {
		t.Errorf("doctor -json err %v, text err %v; want the same verdict", err, terr)
	}
	return doctorOutput{rep: rep, err: err, json: js.String(), text: text.String()}
}

// stepStatus returns the status of the named step.
func stepStatus(rep doctorReport, name string) string {
	for _, s := range rep.Steps {
		if s.Name == name {
			return s.Status
		}
	}
	return "missing"
}

// wantGood checks a report of a configuration that works.
func wantGood(t *testing.T, url string) {
	t.Helper()
	o := doctorRun(t, url)
	rep, err, text := o.rep, o.err, o.text
	if err != nil || !rep.OK || rep.Problem != "" {
		t.Fatalf("doctor %s = %v, report %+v\n%s", url, err, rep, text)
	}
	if got := stepStatus(rep, "roundtrip"); got != statusOK {
		t.Errorf("roundtrip step %s; want ok", got)
	}
	if !strings.Contains(text, "verdict: ok: ") {
		t.Errorf("text report %q has no ok verdict", text)
	}
}

// wantBad checks a report that fails at step with problem code.
func wantBad(t *testing.T, url, step, code string, flags ...string) doctorOutput {
	t.Helper()
	o := doctorRun(t, url, flags...)
	rep, err, text := o.rep, o.err, o.text
	if err == nil || rep.OK || rep.Problem != code || stepStatus(rep, step) != statusFail {
		t.Fatalf("doctor %s = %v, problem %q, step %s %s; want problem %q at step %s\n%s", url, err, rep.Problem, step, stepStatus(rep, step), code, step, text)
	}
	for _, s := range rep.Steps {
		if s.Status == statusFail && s.Fix == "" {
			t.Errorf("failed step %s has no fix", s.Name)
		}
	}
	if exitCode(err, nil, &bytes.Buffer{}) != 1 || !strings.Contains(text, "verdict: FAIL ("+code+")") || !strings.Contains(text, "fix: ") {
		t.Errorf("text report %q, exit %d; want a FAIL verdict, a fix and exit code 1", text, exitCode(err, nil, &bytes.Buffer{}))
	}
	return o
}

func TestDoctorGoodEmbedded(t *testing.T) { wantGood(t, "embedded://"+t.TempDir()) }
func TestDoctorGoodMem(t *testing.T)      { wantGood(t, "mem://doctor") }
func TestDoctorGoodKafka(t *testing.T)    { wantGood(t, adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")) }
func TestDoctorGoodAMQP(t *testing.T)     { wantGood(t, adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")) }
func TestDoctorGoodNATS(t *testing.T)     { wantGood(t, adaptertest.BrokerURL(t, "HERALD_TEST_NATS")) }

func TestDoctorUnknownOption(t *testing.T) {
	rep := wantBad(t, "nats://127.0.0.1:4222?bogus=1", "config", problemConfig).rep
	if !strings.Contains(rep.Steps[0].Detail, `key "bogus"`) {
		t.Errorf("config step %q does not name the option", rep.Steps[0].Detail)
	}
}

func TestDoctorStoppedBroker(t *testing.T) {
	addr := freeAddr(t) // a port nobody listens on
	for _, scheme := range []string{"kafka://", "amqp://guest:guest@", "nats://"} {
		wantBad(t, scheme+addr, "tcp", problemUnreachable)
	}
}

func TestDoctorDirInUse(t *testing.T) {
	s := startServe(t, t.TempDir())
	wantBad(t, "embedded://"+s.dir, "auth", problemDirInUse)
}

func TestDoctorWrongPasswordAMQP(t *testing.T) {
	good := adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")
	const secret = "n0t-the-Passw0rd"
	u, err := url.Parse(good)
	if err != nil {
		t.Fatalf("HERALD_TEST_AMQP: %v", err)
	}
	user := "guest" // Herald's default when the URL names no user
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, secret)
	bad := u.String()
	wantNoSecret(t, secret, wantBad(t, bad, "auth", problemAuth))
}

func TestDoctorWrongPasswordNATS(t *testing.T) {
	addr := natsServer(t, nil)
	const secret = "wr0ng-secret"
	wantNoSecret(t, secret, wantBad(t, "nats://app:"+secret+"@"+addr, "auth", problemAuth))
}

// wantNoSecret checks that neither the text nor the JSON report shows the
// password.
func wantNoSecret(t *testing.T, secret string, o doctorOutput) {
	t.Helper()
	for name, out := range map[string]string{"json": o.json, "text": o.text, "error": o.err.Error()} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s output shows the password: %s", name, out)
		}
	}
	if !strings.Contains(o.text, "REDACTED") || !strings.Contains(o.json, "REDACTED") {
		t.Errorf("the output %q, %q does not show the redacted password", o.text, o.json)
	}
}

func TestDoctorTLSMismatch(t *testing.T) {
	for _, tc := range []struct{ env, from, to string }{
		{"HERALD_TEST_KAFKA", "kafka://", "kafka://"},
		{"HERALD_TEST_AMQP", "amqp://", "amqps://"},
		{"HERALD_TEST_NATS", "nats://", "nats://"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			u := strings.Replace(adaptertest.BrokerURL(t, tc.env), tc.from, tc.to, 1)
			if tc.from == tc.to {
				sep := "?"
				if strings.Contains(u, "?") {
					sep = "&"
				}
				u += sep + "tls=true"
			}
			for _, s := range wantBad(t, u, "tls", problemTLS).rep.Steps {
				if s.Name == "tls" && !strings.Contains(s.Fix, "TLS") && !strings.Contains(s.Fix, "amqp://") {
					t.Errorf("tls fix %q does not say what to change", s.Fix)
				}
			}
		})
	}
}

func TestDoctorConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/herald.yaml"
	writeFile(t, file, "url: embedded://"+dir+"/data\n")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"doctor", "-config", file}, nil, &out); err != nil {
		t.Fatalf("doctor -config: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(from -config "+file+")") {
		t.Errorf("doctor printed %q; want the file named as the source", out.String())
	}
	t.Setenv("HERALD_CONFIG", file)
	out.Reset()
	if err := run(context.Background(), []string{"doctor"}, nil, &out); err != nil || !strings.Contains(out.String(), "(from HERALD_CONFIG=") {
		t.Errorf("doctor with HERALD_CONFIG = %v, printed %q", err, out.String())
	}
}

func TestDoctorJSONFields(t *testing.T) {
	o := wantBad(t, "mem://x?nope=1", "config", problemConfig)
	var raw map[string]any
	if err := json.Unmarshal([]byte(o.json), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"target", "source", "ok", "problem", "verdict", "steps"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("doctor -json has no field %q: %s", k, o.json)
		}
	}
	steps, _ := raw["steps"].([]any)
	if len(steps) != 8 {
		t.Fatalf("doctor -json has %d steps; want 8: %s", len(steps), o.json)
	}
	first, _ := steps[0].(map[string]any)
	for _, k := range []string{"name", "status", "detail", "fix", "ms"} {
		if _, ok := first[k]; !ok {
			t.Errorf("a failed step has no field %q: %v", k, first)
		}
	}
	var names []string
	for _, s := range o.rep.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "config,dns,tcp,tls,auth,consume,publish,roundtrip" {
		t.Errorf("steps %s", got)
	}
}

func TestDoctorUnknownHost(t *testing.T) {
	// .invalid never resolves (RFC 2606).
	wantBad(t, "kafka://no-such-host.invalid:9092", "dns", problemDNS)
}

// natsServer starts a NATS server with JetStream and one user app:pw
// with perm, and returns its address.
func natsServer(t *testing.T, perm *server.Permissions) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: freePort(t), NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{{Username: "app", Password: "pw", Permissions: perm}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	return srv.Addr().String()
}

func TestDoctorPermissionNATS(t *testing.T) {
	denyPub := natsServer(t, &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{probeTopic}}})
	// JetStream: the denied publish is never acknowledged; the server's
	// -ERR names the cause.
	o := wantBad(t, "nats://app:pw@"+denyPub, "publish", problemPermission, "-timeout", "2s")
	if !strings.Contains(o.text, "Permissions Violation for Publish") {
		t.Errorf("report %s does not show the server's refusal", o.text)
	}
	// Core NATS does not answer a publish: the round trip after it brings
	// the -ERR.
	wantBad(t, "nats://app:pw@"+denyPub+"?mode=core", "publish", problemPermission, "-timeout", "2s")
	denySub := natsServer(t, &server.Permissions{Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{probeTopic}}})
	wantBad(t, "nats://app:pw@"+denySub+"?mode=core", "consume", problemPermission, "-timeout", "2s")
}

// TestDoctorOlderOptionNames: an option under its older name works, and
// the config step says which name replaces it.
func TestDoctorOlderOptionNames(t *testing.T) {
	addr := natsServer(t, nil)
	o := doctorRun(t, "nats://app:pw@"+addr+"?name=svc&deliver=new")
	if !o.rep.OK {
		t.Fatalf("doctor with older option names: %v\n%s", o.err, o.text)
	}
	detail := o.rep.Steps[0].Detail
	for _, want := range []string{"name is the older name of client_id", "deliver is the older name of start", "deliver=new is start=newest", "until the next release"} {
		if !strings.Contains(detail, want) {
			t.Errorf("config step %q does not say %q", detail, want)
		}
	}
}
