package kafka

import (
	"math/rand/v2"
	"sync"

	"github.com/IBM/sarama"
)

// NewKeyPartitioner is the sarama.PartitionerConstructor Herald's producer
// uses. A record with a key goes to partition
// (murmur2(key) & 0x7fffffff) % partitions, the formula of the Java
// client's default partitioner (also librdkafka's "murmur2_random" and
// franz-go's Sticky Key partitioner), so Herald, Kafka Streams, Java and
// most other clients put a given key on the same partition. Records without
// a key stick to one partition for about 16 KiB, then move to another
// chosen at random (the Java client's "uniform sticky" behaviour, KIP-794):
// concurrent publishes then share batches instead of scattering into one
// small batch per partition.
//
// Use it to keep per-key order when another Sarama producer writes to the
// same topics: config.Producer.Partitioner = kafka.NewKeyPartitioner.
func NewKeyPartitioner(topic string) sarama.Partitioner {
	return &keyPartitioner{sticky: -1}
}

// stickyBytes is how much keyless data goes to one partition before the
// partitioner moves on (the Java client's default batch.size).
const stickyBytes = 16 << 10

type keyPartitioner struct {
	mu     sync.Mutex
	sticky int32 // partition for keyless records; -1: none yet
	filled int   // bytes sent to it
}

// Partition implements sarama.Partitioner.
func (p *keyPartitioner) Partition(msg *sarama.ProducerMessage, numPartitions int32) (int32, error) {
	if msg.Key == nil {
		return p.stickyPartition(msg, numPartitions), nil
	}
	key, err := msg.Key.Encode()
	if err != nil {
		return -1, err
	}
	return int32(murmur2(key)&0x7fffffff) % numPartitions, nil
}

func (p *keyPartitioner) stickyPartition(msg *sarama.ProducerMessage, numPartitions int32) int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sticky < 0 || p.sticky >= numPartitions || p.filled >= stickyBytes {
		next := rand.Int32N(numPartitions)
		if numPartitions > 1 && next == p.sticky {
			next = (next + 1 + rand.Int32N(numPartitions-1)) % numPartitions
		}
		p.sticky, p.filled = next, 0
	}
	if msg.Value != nil {
		p.filled += msg.Value.Length()
	}
	p.filled += 64 // record overhead, so empty records move on too
	return p.sticky
}

// RequiresConsistency implements sarama.Partitioner.
func (*keyPartitioner) RequiresConsistency() bool { return true }

// MessageRequiresConsistency implements sarama.DynamicConsistencyPartitioner:
// only keyed records must always go to the same partition.
func (*keyPartitioner) MessageRequiresConsistency(msg *sarama.ProducerMessage) bool {
	return msg.Key != nil
}

// murmur2 is the 32-bit MurmurHash2 variant of Kafka's
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
