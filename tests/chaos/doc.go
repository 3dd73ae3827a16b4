// Package chaos provisions OSDs on a complete local control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, as
// tests/e2e runs them) while it crashes and freezes the operator's leader,
// and checks that no disk ever gets a second writer.
//
// Fifty simulated nodes join in waves and disks are hot-plugged between
// disruptions, so there is always provisioning under way; at least two
// replicas of the operator binary run with leader election and short
// leases. Twenty times the leader is killed with SIGKILL at a random moment
// (a replacement replica starts at once), and twenty times it is frozen
// with SIGSTOP until another replica has taken the Lease, then thawed with
// SIGCONT: a thawed leader that still acts on what it knew before it froze
// is exactly the overlap that could prepare a disk twice.
//
// Throughout, the test watches the API server itself (its own watch on
// prepare Jobs and OSD Deployments, not the operator's cache) and records
// every object ever created. A Job's disks come from its devices
// annotation, an OSD Deployment's from its device-id annotation and its OSD
// id label; nothing depends on how Jobs are named or what arguments they
// carry. It prints, per disruption, the work in flight, how long the next
// leader took to take over and how long until the cluster converged (every
// blank disk has its OSD Deployment and OSDsProvisioned is True), and
// fails when any disk got a second prepare Job while an earlier one for it
// was still present, or after one for it had ended without failing (it was
// prepared already: a thawed leader acting on a plan made before it froze
// does this), or when any disk or OSD id got a second OSD Deployment.
// Times are printed, never asserted.
//
// It is heavy, so it runs only when asked:
//
//	make test-chaos
//
// or CEPH_OPERATOR_CHAOS=1 go test ./tests/chaos -v -count=1 -timeout 30m.
// CHAOS_SEED repeats a run's random choices (the seed is printed);
// CHAOS_NODES, CHAOS_KILLS and CHAOS_FREEZES change its size; CHAOS_DIR
// keeps the logs and the table there instead of in a temporary directory.
package chaos
