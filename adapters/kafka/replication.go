package kafka

import (
	"context"
	"strconv"

	"github.com/heraldkit/herald"
)

// Values of settings.replicationFactor and settings.minInsyncReplicas
// besides a count.
const (
	// replicationAuto: decided when the topic is created, from the number
	// of brokers (see clusterReplication).
	replicationAuto = 0
	// replicationBroker: the broker's own default (not sent).
	replicationBroker = -1
)

// clusterBrokers is the number of brokers from which Herald replicates
// the topics it creates (replication factor 3, min.insync.replicas 2)
// when replicas and min_insync_replicas are "auto".
const clusterBrokers = 3

// replicationOption reads "auto" (the default), -1 (the broker's
// brokerKey) or a count from 1 to 32767.
func replicationOption(r *herald.OptionReader, key, brokerKey string) int {
	allowed := "auto (3 on a cluster of 3 or more brokers, else the broker's " + brokerKey + "), -1 (the broker's " + brokerKey + ") or an integer from 1 to 32767"
	if key == "min_insync_replicas" {
		allowed = "auto (2 when the topic gets 3 or more replicas, else the broker's " + brokerKey + "), -1 (the broker's " + brokerKey + ") or an integer from 1 to 32767"
	}
	raw := r.String(key, "auto")
	if raw == "auto" {
		return replicationAuto
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n == 0 || n < -1 || n > 32767 {
		r.Fail(key, raw, "is not a valid value", allowed)
		return replicationAuto
	}
	return n
}

// topicReplication returns the replication factor to create a topic with
// (-1: the broker's default) and its min.insync.replicas (nil: the
// broker's default). With "auto", a cluster that lists 3 or more brokers
// gets replication factor 3 and min.insync.replicas 2, so that an
// acknowledged record (acks=all) is on at least two brokers and a topic
// keeps accepting writes while one broker is down; a smaller cluster gets
// the broker's defaults. The metadata lists the live brokers only: a
// topic created while a 3-broker cluster has a broker down gets the
// broker defaults.
func (a *admin) topicReplication(ctx context.Context) (int16, *string, error) {
	rf, minISR := a.set.replicationFactor, a.set.minInsyncReplicas
	if rf == replicationAuto {
		rf = replicationBroker
		md, err := a.adm.BrokerMetadata(ctx)
		if err != nil {
			return 0, nil, err
		}
		if len(md.Brokers) >= clusterBrokers {
			rf = clusterBrokers
		}
	}
	if minISR == replicationAuto {
		minISR = replicationBroker
		if rf >= clusterBrokers {
			minISR = clusterBrokers - 1
		}
	}
	if minISR == replicationBroker {
		return rf, nil, nil
	}
	v := strconv.Itoa(minISR)
	return rf, &v, nil
}
