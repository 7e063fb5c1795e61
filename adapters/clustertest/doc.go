// Package clustertest runs Herald against three-node clusters of Kafka,
// RabbitMQ and NATS started by scripts/cluster.sh, and gives fault tests
// the means to find and kill nodes (Cluster).
//
// The tests need the cluster's environment:
//
//	eval "$(scripts/cluster.sh up | grep ^export)"
//	go test ./adapters/clustertest/
//
// (or make cluster-test). Without HERALD_CLUSTER_KAFKA, HERALD_CLUSTER_AMQP
// or HERALD_CLUSTER_NATS the matching tests skip, unless
// HERALD_REQUIRE_CLUSTER=1 makes a missing cluster a failure; -short
// skips them all. They kill and restart nodes: never point them at a
// cluster others are using.
package clustertest
