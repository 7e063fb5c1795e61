// Package orderpb is the Protocol Buffers message of package protobuf's
// tests, example and benchmark (generated from order.proto).
package orderpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative order.proto
