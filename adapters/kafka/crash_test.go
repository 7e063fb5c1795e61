package kafka

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	envWMChild = "HERALD_KAFKA_WATERMARK_CHILD"
	envWMTopic = "HERALD_KAFKA_WATERMARK_TOPIC"
	envWMGroup = "HERALD_KAFKA_WATERMARK_GROUP"
)

// TestCrashKeepsUnfinished: a consumer process (this test binary, run
// again) takes a window of records of one partition, settles the later
// half, not the earlier, and is killed with SIGKILL after its commits had
// time to run. A new member of the group gets the earlier half again:
// the commit never passed an unsettled record. (A commit of the highest
// settled offset, as MarkCommitRecords does, loses them.)
func TestCrashKeepsUnfinished(t *testing.T) {
	if os.Getenv(envWMChild) == "1" {
		watermarkChild(t)
		return
	}
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("crashwm"), uniqueName("g")
	const n = 10
	msgs := newMessages(n, "w")
	sendSync(t, openTopic(t, withQuery(target, "partitions=1")), topic, msgs...)

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
	t.Logf("committed before the kill: %+v", committed(t, target, group, topic))
	if err := cmd.Process.Kill(); err != nil { // the PID this test started
		t.Fatal(err)
	}
	_ = cmd.Wait()

	st := openStream(t, openSubscription(t, withQuery(target, "group="+group+"&session_timeout=6s")), topic, 64, nil)
	want := map[string]bool{}
	for _, m := range msgs[:n/2] {
		want[m.UUID] = true
	}
	for len(want) > 0 {
		r := receiveN(t, st, 1, 60*time.Second)[0]
		st.Ack(r.Token)
		delete(want, r.Msg.UUID)
	}
}

// watermarkChild receives the n records, settles the later half and
// waits for the group's commits to run before it says SETTLED and waits
// to be killed.
func watermarkChild(t *testing.T) {
	target := brokerURL(t)
	topic, group := os.Getenv(envWMTopic), os.Getenv(envWMGroup)
	st := openStream(t, openSubscription(t, withQuery(target, "group="+group+"&session_timeout=6s")), topic, 64, nil)
	const n = 10
	got := receiveN(t, st, n, 60*time.Second)
	for _, r := range got[n/2:] {
		st.Ack(r.Token)
	}
	time.Sleep(3 * time.Second) // commits run every 250 ms: give a wrong one the chance
	fmt.Println("SETTLED")
	time.Sleep(time.Minute)
}
