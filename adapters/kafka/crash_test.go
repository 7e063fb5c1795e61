package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	envWMChild = "HERALD_KAFKA_WATERMARK_CHILD"
	envWMTopic = "HERALD_KAFKA_WATERMARK_TOPIC"
	envWMGroup = "HERALD_KAFKA_WATERMARK_GROUP"
)

// TestCrashKeepsUnfinished: a subscriber process (this test binary, run
// again) takes a window of records of one partition, finishes the later
// half, not the earlier, and is killed with SIGKILL after its commits had
// time to run. A new member of the group gets the earlier half again:
// the commit never passed an unfinished record. (A commit of the highest
// finished offset, as MarkCommitRecords does, loses them.)
func TestCrashKeepsUnfinished(t *testing.T) {
	if os.Getenv(envWMChild) == "1" {
		watermarkChild(t)
		return
	}
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("crashwm"), uniqueName("g")
	const n = 10
	pub := openPub(t, target)
	msgs := newMessages(n, "w")
	publish(t, pub, topic, msgs...)

	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashKeepsUnfinished$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), envWMChild+"=1", envWMTopic+"="+topic, envWMGroup+"="+group)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) == "SETTLED" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatal("the child did not settle its records")
	}
	adm := kadmClient(t, target)
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("committed before the kill: %v", offs)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	sub := openSub(t, withQuery(target, "group="+group+"&session_timeout=6s"))
	ch := subscribe(t, sub, topic)
	want := map[string]bool{}
	for _, m := range msgs[:n/2] {
		want[m.UUID] = true
	}
	deadline := time.After(60 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-ch:
			m.Ack()
			delete(want, m.UUID)
		case <-deadline:
			t.Fatalf("%d unfinished records never came back after the crash (lost)", len(want))
		}
	}
}

// watermarkChild receives the n records, acks the later half and waits
// for the group's commits to run (at most 1 s apart) before it says
// SETTLED and waits to be killed.
func watermarkChild(t *testing.T) {
	target := brokerURL(t)
	topic, group := os.Getenv(envWMTopic), os.Getenv(envWMGroup)
	s, err := adapters.OpenSubscriber(context.Background(), withQuery(target, "group="+group+"&partitions=1&session_timeout=6s"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.(adapters.StreamSubscriber).Stream(context.Background(), topic, 64)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	var got []adapters.Delivery
	buf := make([]adapters.Delivery, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(got) < n {
		k, err := st.Receive(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:k]...)
	}
	for _, d := range got[n/2:] {
		st.Ack(d)
	}
	time.Sleep(3 * time.Second) // commits run every second: give a wrong one the chance
	fmt.Println("SETTLED")
	time.Sleep(time.Minute)
}

func kadmClient(t *testing.T, target string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t, target)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
