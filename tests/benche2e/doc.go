// Package benche2e is the operator's scale run on a complete local control
// plane (tests/framework/controlplane: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok): N simulated nodes with 12 disks each, the real
// discovery agent of every node running in one in-process fleet
// (simnode.Fleet), the operator binary as a separate process with the
// bundle's RBAC and leader election, prepare Jobs run by the Job controller
// and completed by kwok, OSD Deployments made available by kwok.
//
// For each size it prints the time from the last Node registered to every
// OSD Deployment available, the operator's API requests by verb (from the
// API server's flow-control metrics, attributed by FlowSchemas that match
// only the operator's ServiceAccount; see operatorproc.InstallRequestCounter),
// its peak RSS and CPU time, and the same for two forced full resyncs with
// nothing to do: every Node labelled, and the operator restarted. It fails
// only on wrong results, never on a time.
//
// It is run on demand, never by `make test`:
//
//	CEPH_OPERATOR_BENCH_E2E=1 go test ./tests/benche2e -run TestScaleE2E -v -timeout 180m
//
// (or `make bench-e2e`). BENCH_E2E_NODES lists the sizes (default
// "100,1000"); BENCH_E2E_DISKS the disks per node (default 12);
// BENCH_E2E_DIR keeps the logs there instead of in a temporary directory;
// CEPH_OPERATOR_BENCH_PROFILE=1 leaves there too the operator's heap
// profile taken nearest its peak RSS.
package benche2e
