// Package bench holds the operator's scale benchmark: 1,000 nodes with 12
// disks each on one test API server, the operator running as a separate
// process built from ./cmd, and the node agents, prepare Jobs, monitor and
// manager pods and the health reporter played by the scale mode of
// tests/framework/world (Ready Nodes with InternalIPs, agents reporting the
// Ceph version of the cluster's image). It prints figures (times, the ratio to a plain client doing
// the same writes, API writes during an idle resync, the operator's peak RSS
// and CPU time) and fails only on wrong results: missing or duplicate
// objects, a disk prepared twice, an OSD id on two Deployments.
//
// TestScale runs on demand, never by `make test`:
//
//	CEPH_OPERATOR_BENCH=1 go test ./tests/bench -run TestScale -v -timeout 60m
//
// TestBenchSmall runs the same benchmark at 10 nodes × 12 disks, ungated,
// so that `make test` (go test ./...) notices when the benchmark no longer
// runs to the end; it skips under -short. Neither test checks a figure.
//
// CEPH_OPERATOR_BENCH_NODES and CEPH_OPERATOR_BENCH_DISKS change the size
// (default 1000 and 12); CEPH_OPERATOR_BENCH_DIR keeps the operator's logs
// there instead of in a temporary directory; CEPH_OPERATOR_BENCH_PROFILE=1
// serves the operator's Go profiles on loopback and leaves there a CPU
// profile of provisioning, a heap profile taken after it and the heap
// profile taken nearest the operator's peak RSS.
package bench
