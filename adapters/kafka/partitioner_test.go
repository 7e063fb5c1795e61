package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/xdg-go/scram"
)

// TestMurmur2 uses the vectors of Kafka's own UtilsTest.testMurmur2.
func TestMurmur2(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestSCRAMClient runs a SCRAM-SHA-512 conversation against xdg-go's
// server, as a broker would.
func TestSCRAMClient(t *testing.T) {
	kf := scram.KeyFactors{Salt: "salty", Iters: 4096}
	ref, err := scram.SHA512.NewClient("alice", secretPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ref.GetStoredCredentialsWithError(kf)
	if err != nil {
		t.Fatal(err)
	}
	server, err := scram.SHA512.NewServer(func(user string) (scram.StoredCredentials, error) { return stored, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, password := range []string{secretPassword, "wrong"} {
		conv := server.NewConversation()
		set := settings{sasl: saslSCRAMSHA512, username: "alice", password: password}
		sess, first, err := set.saslMechanism().Authenticate(context.Background(), "k1:9092")
		if err != nil {
			t.Fatal(err)
		}
		msg, done := string(first), false
		for !done && err == nil {
			var challenge string
			if challenge, err = conv.Step(msg); err != nil {
				break
			}
			var next []byte
			done, next, err = sess.Challenge([]byte(challenge))
			msg = string(next)
		}
		if ok := err == nil && conv.Valid(); ok != (password == secretPassword) {
			t.Errorf("password %q: authenticated %v (err %v)", password, ok, err)
		}
	}
}

// TestFranzPartitionerMatchesMurmur2: the producer's partitioner puts a
// keyed record where Kafka's Java client does.
func TestFranzPartitionerMatchesMurmur2(t *testing.T) {
	tp := newPartitioner().ForTopic("t").(kgo.TopicBackupPartitioner)
	for i := 0; i < 200; i++ {
		key := []byte(fmt.Sprintf("key-%d", i))
		for _, n := range []int{1, 3, 6, 12} {
			want := int(murmur2(key)&0x7fffffff) % n
			if got := tp.PartitionByBackup(&kgo.Record{Key: key}, n, nil); got != want {
				t.Fatalf("key %q, %d partitions: partition %d; want %d", key, n, got, want)
			}
		}
	}
}

// murmur2 is, for the tests, the 32-bit MurmurHash2 variant of Kafka's
// org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c).
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := len(data)
	h := uint32(seed) ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
