package resources

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
)

const testFSID = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"

// fakeTools are stand-ins for the Ceph tools the monitor's init script
// calls. Each logs its arguments to $TOOL_LOG. The fake ceph answers
// `mon getmap` as $FAKE_QUORUM says: "none" (no quorum: it fails as the
// real tool does after its connect timeout), or the text of the monitor map
// to write (which the fake monmaptool --print shows).
var fakeTools = map[string]string{
	"monmaptool": `#!/bin/sh
case "$1" in
--help)
  # Releases from 20 on know the monitor map's allowed ciphers.
  echo "usage: monmaptool [--print] [--create [--clobber] [--fsid uuid]]"
  if [ -n "$FAKE_KNOWS_CIPHERS" ]; then echo "        [--auth-allowed-ciphers <cipher1,cipher2,...>]"; fi
  exit 1 ;;
esac
echo "monmaptool $*" >>"$TOOL_LOG"
case "$1" in
--print) cat "$2" ;;
--create) for last; do :; done; echo "fsid $3" >"$last" ;;
esac
`,
	"ceph-mon": `#!/bin/sh
echo "ceph-mon $*" >>"$TOOL_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = "--mon-data" ]; then mkdir -p "$2"; echo rocksdb >"$2/kv_backend"; fi
  shift
done
`,
	"ceph": `#!/bin/sh
echo "ceph $*" >>"$TOOL_LOG"
if [ "$FAKE_QUORUM" = none ]; then
  echo "2026-11-29T15:00:00.000+0000 7f0000000000  0 monclient(hunting): authenticate timed out after 30" >&2
  echo "[errno 110] RADOS timed out (error connecting to the cluster)" >&2
  exit 1
fi
case "$*" in
*"mon remove "*)
  [ -z "$FAKE_REMOVE_FAILS" ] || { echo "Error EACCES: access denied" >&2; exit 13; }
  for last; do :; done
  echo "$last" >>"$TOOL_LOG.removed"
  echo "removing mon.$last at [v2:10.0.0.3:3300/0,v1:10.0.0.3:6789/0], there will be 2 monitors" >&2
  exit 0 ;;
esac
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then
    printf '%s\n' "$FAKE_QUORUM" >"$2"
    # A monitor removed before is no longer in the map.
    if [ -f "$TOOL_LOG.removed" ]; then
      while read -r gone; do grep -v " mon\.$gone\$" "$2" >"$2.tmp" || true; mv "$2.tmp" "$2"; done <"$TOOL_LOG.removed"
    fi
  fi
  shift
done
`,
	"chown": `#!/bin/sh
echo "chown $*" >>"$TOOL_LOG"
`,
}

// initRun is one run of the monitor init script.
type initRun struct {
	dir, data, termLog, toolLog string
	exit                        int
	output                      string
}

func (r initRun) tools() string {
	b, _ := os.ReadFile(r.toolLog)
	return string(b)
}

func (r initRun) termination() string {
	b, _ := os.ReadFile(r.termLog)
	return string(b)
}

// runMonInit runs the init container of monitor c's Deployment as built by
// MonDeployment, with its command, arguments and environment, against the
// fake tools and temporary directories. prepare may fill them first.
func runMonInit(t *testing.T, bootstrapFSID, quorum string, prepare func(data string)) initRun {
	t.Helper()
	return runMonInitEnv(t, bootstrapFSID, quorum, prepare)
}

// runMonInitEnv is runMonInit with more environment for the fake tools.
func runMonInitEnv(t *testing.T, bootstrapFSID, quorum string, prepare func(data string), extraEnv ...string) initRun {
	t.Helper()
	return runMonInitKeys(t, ceph.KeyTypeAES, bootstrapFSID, quorum, prepare, extraEnv...)
}

// runMonInitKeys is runMonInitEnv for a cluster whose keys are of type keys.
func runMonInitKeys(t *testing.T, keys ceph.KeyType, bootstrapFSID, quorum string, prepare func(data string), extraEnv ...string) initRun {
	t.Helper()
	return runMonInitOf(t, keys, testMons, 2, bootstrapFSID, quorum, prepare, extraEnv...)
}

// runMonInitOf runs the init container of monitor mons[i]'s Deployment.
func runMonInitOf(t *testing.T, keys ceph.KeyType, mons []monplan.Mon, i int, bootstrapFSID, quorum string, prepare func(data string), extraEnv ...string) initRun {
	t.Helper()
	dep := MonDeployment(testCluster(), Images{Operator: "op:1"}, keys, testFSID, mons, i)
	ic := dep.Spec.Template.Spec.InitContainers[0]
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, script := range fakeTools {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := initRun{dir: dir, data: filepath.Join(dir, "mon-c"), termLog: filepath.Join(dir, "termination-log"), toolLog: filepath.Join(dir, "tools.log")}
	if err := os.MkdirAll(r.data, 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrapDir := filepath.Join(dir, "bootstrap")
	if err := os.MkdirAll(bootstrapDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if bootstrapFSID != "" {
		rec := MonBootstrap(testCluster(), bootstrapFSID, "2026-11-29T12:00:00Z", "a,b")
		for k, v := range rec.Data {
			if err := os.WriteFile(filepath.Join(bootstrapDir, k), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if prepare != nil {
		prepare(r.data)
	}
	override := map[string]string{
		"MON_DATA": r.data, "BOOTSTRAP_DIR": bootstrapDir, "KEYRING": filepath.Join(dir, "keyring"),
		"TERMINATION_LOG": r.termLog, "JOIN_TIMEOUT": "1",
	}
	env := append([]string{"PATH=" + bin + ":/usr/bin:/bin", "TOOL_LOG=" + r.toolLog, "FAKE_QUORUM=" + quorum}, extraEnv...)
	for _, e := range ic.Env {
		v := e.Value
		if o, ok := override[e.Name]; ok {
			v = o
		}
		env = append(env, e.Name+"="+v)
	}
	cmd := exec.Command(ic.Command[0], ic.Args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	r.output = string(out)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func storeCreated(r initRun) bool {
	_, err := os.Stat(filepath.Join(r.data, "kv_backend"))
	return err == nil
}

func TestMonInitBeforeBootstrapCreatesTheStore(t *testing.T) {
	for name, record := range map[string]string{"no record": "", "record of another FSID": "99999999-8888-4777-8666-555555555555"} {
		t.Run(name, func(t *testing.T) {
			r := runMonInit(t, record, "none", nil)
			if r.exit != 0 || !storeCreated(r) {
				t.Fatalf("exit %d, store created %v\n%s", r.exit, storeCreated(r), r.output)
			}
			tools := r.tools()
			if !strings.Contains(tools, "monmaptool --create --fsid "+testFSID+" --addv a [v2:10.0.0.1:3300,v1:10.0.0.1:6789] --addv b") ||
				!strings.Contains(tools, "ceph-mon --mkfs -i c") || strings.Contains(tools, "getmap") {
				t.Errorf("tools called:\n%s", tools)
			}
		})
	}
}

// TestMonInitAllowsTheOperatorsKeyType: a cluster with AES-128 cephx keys,
// which every release reads: a monitor map made by a release that also has
// AES-256 keys (20 on) allows only those unless told, and its monitors
// would refuse every key of the cluster.
func TestMonInitAllowsTheOperatorsKeyType(t *testing.T) {
	for name, knows := range map[string]bool{"release 20 on": true, "older release": false} {
		t.Run(name, func(t *testing.T) {
			var env []string
			if knows {
				env = append(env, "FAKE_KNOWS_CIPHERS=1")
			}
			r := runMonInitEnv(t, "", "none", nil, env...)
			if r.exit != 0 || !storeCreated(r) {
				t.Fatalf("exit %d, store created %v\n%s", r.exit, storeCreated(r), r.output)
			}
			tools := r.tools()
			allowed := strings.Contains(tools, "monmaptool --create --fsid "+testFSID+" --auth-allowed-ciphers aes,aes256k --addv a ")
			if allowed != knows || (!knows && strings.Contains(tools, "cipher")) {
				t.Errorf("monmaptool knows allowed ciphers: %v; tools called:\n%s", knows, tools)
			}
		})
	}
}

// TestMonInitKeepsAES256Only: a cluster created with AES-256 keys keeps
// the monitor map a release of 20 on makes, which allows only those: AES-128
// keys are reported as insecure there.
func TestMonInitKeepsAES256Only(t *testing.T) {
	r := runMonInitKeys(t, ceph.KeyTypeAES256K, "", "none", nil, "FAKE_KNOWS_CIPHERS=1")
	if r.exit != 0 || !storeCreated(r) {
		t.Fatalf("exit %d, store created %v\n%s", r.exit, storeCreated(r), r.output)
	}
	tools := r.tools()
	if !strings.Contains(tools, "monmaptool --create --fsid "+testFSID+" --addv a ") || strings.Contains(tools, "cipher") {
		t.Errorf("tools called:\n%s", tools)
	}
}

func TestMonInitLeavesAnExistingStore(t *testing.T) {
	r := runMonInit(t, testFSID, "none", func(data string) {
		if err := os.WriteFile(filepath.Join(data, "kv_backend"), []byte("rocksdb\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if r.exit != 0 || r.tools() != "" {
		t.Errorf("exit %d, tools called %q\n%s", r.exit, r.tools(), r.output)
	}
}

// TestMonInitAfterBootstrapWithoutQuorumCreatesNothing is the loss of the
// only monitor's store (or of a majority's): the store is not made again.
func TestMonInitAfterBootstrapWithoutQuorumCreatesNothing(t *testing.T) {
	r := runMonInit(t, testFSID, "none", nil)
	if r.exit != MonStoreMissingExitCode {
		t.Errorf("exit %d, want %d\n%s", r.exit, MonStoreMissingExitCode, r.output)
	}
	if storeCreated(r) || strings.Contains(r.tools(), "ceph-mon") || strings.Contains(r.tools(), "--create") {
		t.Errorf("a store was created after bootstrap without a quorum; tools:\n%s", r.tools())
	}
	if entries, _ := os.ReadDir(r.data); len(entries) != 0 {
		t.Errorf("the store directory is not left empty: %v", entries)
	}
	msg := r.termination()
	for _, want := range []string{MonStoreMissingPrefix, "monitor c on node node-a", "/var/lib/ceph-operator/storage/ceph/" + testFSID + "/mon-c",
		"RADOS timed out", "restore", "from a backup", "OSDs"} {
		if !strings.Contains(msg, want) {
			t.Errorf("termination message lacks %q:\n%s", want, msg)
		}
	}
	if !strings.HasPrefix(msg, MonStoreMissingPrefix) || len(msg) > 4096 {
		t.Errorf("termination message does not start with %q or exceeds 4096 bytes: %d", MonStoreMissingPrefix, len(msg))
	}
	if strings.Contains(msg, "7f0000000000") {
		t.Errorf("termination message carries a log line's timestamp: %s", msg)
	}
}

func TestMonInitAfterBootstrapJoinsTheQuorum(t *testing.T) {
	monmap := "epoch 3\nfsid " + testFSID + "\n0: [v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0] mon.a\n1: [v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0] mon.b\n2: [v2:10.0.0.1:3301/0,v1:10.0.0.1:6790/0] mon.c"
	r := runMonInit(t, testFSID, monmap, nil)
	if r.exit != 0 || !storeCreated(r) {
		t.Fatalf("exit %d, store created %v\n%s", r.exit, storeCreated(r), r.output)
	}
	tools := r.tools()
	if !strings.Contains(tools, "ceph --conf /etc/ceph/ceph.conf --name client.admin") || !strings.Contains(tools, "mon getmap -o") ||
		strings.Contains(tools, "--create") || !strings.Contains(tools, "ceph-mon --mkfs -i c --monmap") {
		t.Errorf("tools called:\n%s", tools)
	}
}

func TestMonInitAfterBootstrapRefusesAWrongMap(t *testing.T) {
	for name, monmap := range map[string]string{
		"another cluster": "epoch 3\nfsid 99999999-8888-4777-8666-555555555555\n2: [v2:10.0.0.1:3301/0] mon.c",
		"monitor removed": "epoch 4\nfsid " + testFSID + "\n0: [v2:10.0.0.1:3300/0] mon.a\n1: [v2:10.0.0.2:3300/0] mon.cc",
	} {
		t.Run(name, func(t *testing.T) {
			r := runMonInit(t, testFSID, monmap, nil)
			if r.exit != MonStoreMissingExitCode || storeCreated(r) || strings.Contains(r.tools(), "ceph-mon") {
				t.Errorf("exit %d, store created %v; tools:\n%s\n%s", r.exit, storeCreated(r), r.tools(), r.output)
			}
			if !strings.HasPrefix(r.termination(), MonStoreMissingPrefix) {
				t.Errorf("termination message %q", r.termination())
			}
		})
	}
}

func TestMonInitAfterBootstrapLeavesAnIncompleteStore(t *testing.T) {
	r := runMonInit(t, testFSID, "epoch 1\nfsid "+testFSID+"\n2: [v2:10.0.0.1:3301/0] mon.c", func(data string) {
		if err := os.MkdirAll(filepath.Join(data, "store.db"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	if r.exit != MonStoreMissingExitCode || r.tools() != "" {
		t.Errorf("exit %d; tools:\n%s\n%s", r.exit, r.tools(), r.output)
	}
	if !strings.Contains(r.termination(), "incomplete store (store.db") {
		t.Errorf("termination message %q", r.termination())
	}
	if _, err := os.Stat(filepath.Join(r.data, "store.db")); err != nil {
		t.Errorf("the incomplete store was touched: %v", err)
	}
}

// TestMgrWithoutOperatorImageOrToken: the manager's pod carries neither the
// operator's image (an operator upgrade must not restart it) nor an API
// token.
func TestMgrWithoutOperatorImageOrToken(t *testing.T) {
	const op = "op:1"
	pod := MgrDeployment(testCluster(), Images{Operator: op}, ceph.KeyTypeAES).Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the manager's pod automounts the service-account token")
	}
	for _, c := range append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...) {
		if c.Image == op {
			t.Errorf("container %s runs the operator image", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if m.MountPath == serviceAccountDir {
				t.Errorf("container %s mounts a token", c.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.Projected != nil || v.EmptyDir != nil {
			t.Errorf("volume %s: the manager needs no projected token or copied binary", v.Name)
		}
	}
}

// TestReporterTokenOnlyInReporter checks that the reporter's pod mounts the
// API token into the reporter container alone, and that the reporter runs
// as the ceph user, not root.
func TestReporterTokenOnlyInReporter(t *testing.T) {
	pod := ReporterDeployment(testCluster(), Images{Operator: "op:1"}, ceph.KeyTypeAES, cephv1alpha1.CephUser{}).Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod automounts the service-account token into every container")
	}
	var tokenVolume string
	for _, v := range pod.Volumes {
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					tokenVolume = v.Name
				}
			}
		}
	}
	if tokenVolume == "" {
		t.Fatal("no projected token volume")
	}
	for _, c := range append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...) {
		mounted := false
		for _, m := range c.VolumeMounts {
			if m.Name == tokenVolume || m.MountPath == serviceAccountDir {
				mounted = true
			}
		}
		if mounted != (c.Name == "reporter") {
			t.Errorf("container %s: token mounted = %v", c.Name, mounted)
		}
		if c.Name == "reporter" {
			sc := c.SecurityContext
			if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
				sc.RunAsGroup == nil || *sc.RunAsGroup == 0 {
				t.Errorf("reporter security context %+v: not the ceph user", sc)
			}
		}
	}
}

// TestReporterRunsAsImageCephUser checks that the reporter runs as the
// user it is given, and as CephUID, never root, when given none.
func TestReporterRunsAsImageCephUser(t *testing.T) {
	for _, tc := range []struct {
		name     string
		user     cephv1alpha1.CephUser
		uid, gid int64
	}{
		{"the image's", cephv1alpha1.CephUser{UID: 64045, GID: 64046}, 64045, 64046},
		{"none", cephv1alpha1.CephUser{}, CephUID, CephUID},
		{"root uid", cephv1alpha1.CephUser{UID: 0, GID: 64045}, CephUID, CephUID},
		{"root gid", cephv1alpha1.CephUser{UID: 64045, GID: 0}, CephUID, CephUID},
	} {
		var sc *corev1.SecurityContext
		for _, c := range ReporterDeployment(testCluster(), Images{Operator: "op:1"}, ceph.KeyTypeAES, tc.user).Spec.Template.Spec.Containers {
			if c.Name == "reporter" {
				sc = c.SecurityContext
			}
		}
		if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil || *sc.RunAsUser != tc.uid || *sc.RunAsGroup != tc.gid {
			t.Errorf("%s: reporter security context %+v, want uid %d gid %d", tc.name, sc, tc.uid, tc.gid)
		}
	}
}

func TestMonBootstrapGolden(t *testing.T) {
	golden(t, "mon-bootstrap", MonBootstrap(testCluster(), testFSID, "2026-11-29T12:00:00Z", "a,b"))
}

// TestMonQuorumProbe runs the monitor's readiness command against a
// stand-in ceph tool that answers mon_status as a monitor in each state
// does: ready only as the leader or a peon of the quorum.
func TestMonQuorumProbe(t *testing.T) {
	dir := t.TempDir()
	for state, ready := range map[string]bool{"leader": true, "peon": true, "probing": false, "electing": false, "synchronizing": false, "": false} {
		answer := `{"name":"b","rank":1,"state":"` + state + `","election_epoch":12,"quorum":[0,1,2]}`
		if state == "" {
			answer = "" // the socket is not there yet
		}
		script := "#!/bin/sh\n[ \"$1 $2 $3\" = '--admin-daemon /var/run/ceph/ceph-mon.b.asok mon_status' ] || exit 2\n" +
			"[ -n '" + answer + "' ] || { echo 'admin_socket: exception' >&2; exit 22; }\n" +
			"cat <<'EOF'\n" + strings.ReplaceAll(answer, `","`, "\",\n  \"") + "\nEOF\n"
		if err := os.WriteFile(filepath.Join(dir, "ceph"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", MonQuorumProbe("b"))
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		err := cmd.Run()
		if (err == nil) != ready {
			t.Errorf("state %q: probe error %v, want ready=%v", state, err, ready)
		}
	}
}

// TestMonPreStop runs the monitor's preStop command against stand-in sleep
// and ceph tools: it waits, then leaves the quorum through the monitor's
// own admin socket when it is in it (and only then: a monitor out of the
// quorum calls no election), and succeeds even when the socket does not
// answer.
func TestMonPreStop(t *testing.T) {
	for _, tc := range []struct {
		state string // what mon_status says; "" when the socket fails
		exit  bool   // whether it leaves the quorum
	}{{"leader", true}, {"peon", true}, {"electing", false}, {"probing", false}, {"", false}} {
		dir := t.TempDir()
		log := filepath.Join(dir, "log")
		answer := `{"name":"b","state":"` + tc.state + `"}`
		if tc.state == "" {
			answer = ""
		}
		for name, script := range map[string]string{
			"sleep": "#!/bin/sh\necho \"sleep $*\" >> " + log + "\n",
			"ceph": "#!/bin/sh\necho \"ceph $*\" >> " + log + "\n" +
				"case \"$3\" in mon_status) [ -n '" + answer + "' ] || exit 22; echo '" + answer + "' ;; quorum) echo 'stopped responding to quorum, initiated new election' ;; esac\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("sh", "-c", MonPreStop("b"))
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("state %q: preStop %v, output %q; want success and no output", tc.state, err, out)
		}
		got, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("sleep %d\nceph --admin-daemon /var/run/ceph/ceph-mon.b.asok mon_status\n", MonLeaveDelaySeconds)
		if tc.exit {
			want += "ceph --admin-daemon /var/run/ceph/ceph-mon.b.asok quorum exit\n"
		}
		if string(got) != want {
			t.Errorf("state %q: preStop ran\n%s\nwant\n%s", tc.state, got, want)
		}
	}
	d := MonDeployment(testCluster(), Images{Operator: "op:1"}, ceph.KeyTypeAES, testFSID, testMons, 1)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil ||
		!slices.Equal(c.Lifecycle.PreStop.Exec.Command, []string{"sh", "-c", MonPreStop(testMons[1].Name)}) {
		t.Errorf("monitor container lifecycle %+v, want the preStop of its own monitor", c.Lifecycle)
	}
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil && *g <= MonLeaveDelaySeconds+5 {
		t.Errorf("grace period %d s leaves the preStop no time", *g)
	}
}

// replacedMons is testMons after monitor c was replaced by d on another
// node (monplan.Failover).
func replacedMons() []monplan.Mon {
	mons := slices.Clone(testMons)
	mons[2] = monplan.Mon{Name: "d", Node: "node-d", IP: "10.0.0.4", PortV2: 3300, PortV1: 6789, Replaces: "c"}
	return mons
}

// TestMonInitOfAReplacement: a monitor added in place of a failed one
// removes that one from the quorum's map, then makes its store from the
// map (which does not list it) and joins; with the failed one already
// removed (a restart), it does not remove anything again.
func TestMonInitOfAReplacement(t *testing.T) {
	monmap := "epoch 3\nfsid " + testFSID + "\n0: [v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0] mon.a\n1: [v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0] mon.b\n2: [v2:10.0.0.3:3300/0,v1:10.0.0.3:6789/0] mon.c"
	r := runMonInitOf(t, ceph.KeyTypeAES, replacedMons(), 2, testFSID, monmap, nil)
	if r.exit != 0 || !storeCreated(r) {
		t.Fatalf("exit %d, store created %v\n%s\ntools:\n%s", r.exit, storeCreated(r), r.output, r.tools())
	}
	tools := r.tools()
	remove := strings.Index(tools, "mon remove c")
	mkfs := strings.Index(tools, "ceph-mon --mkfs -i d --monmap")
	if remove < 0 || mkfs < remove || strings.Count(tools, "mon getmap") != 2 || strings.Contains(tools, "--create") {
		t.Errorf("want getmap, mon remove c, getmap again, then mkfs of d; tools called:\n%s", tools)
	}

	already := "epoch 4\nfsid " + testFSID + "\n0: [v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0] mon.a\n1: [v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0] mon.b"
	r = runMonInitOf(t, ceph.KeyTypeAES, replacedMons(), 2, testFSID, already, nil)
	if r.exit != 0 || !storeCreated(r) || strings.Contains(r.tools(), "mon remove") {
		t.Errorf("failed monitor already removed: exit %d, store %v; tools:\n%s", r.exit, storeCreated(r), r.tools())
	}
}

// TestMonInitOfAReplacementRefuses: a replacement makes no store when it
// cannot remove the monitor it replaces, when no quorum answers, or before
// the cluster's bootstrap is recorded (it would start a cluster of its
// own); each is reported as a missing store.
func TestMonInitOfAReplacementRefuses(t *testing.T) {
	monmap := "epoch 3\nfsid " + testFSID + "\n0: [v2:10.0.0.1:3300/0] mon.a\n1: [v2:10.0.0.2:3300/0] mon.b\n2: [v2:10.0.0.3:3300/0] mon.c"
	for name, run := range map[string]func() initRun{
		"remove refused": func() initRun {
			return runMonInitOf(t, ceph.KeyTypeAES, replacedMons(), 2, testFSID, monmap, nil, "FAKE_REMOVE_FAILS=1")
		},
		"no quorum":        func() initRun { return runMonInitOf(t, ceph.KeyTypeAES, replacedMons(), 2, testFSID, "none", nil) },
		"not bootstrapped": func() initRun { return runMonInitOf(t, ceph.KeyTypeAES, replacedMons(), 2, "", monmap, nil) },
	} {
		r := run()
		if r.exit != MonStoreMissingExitCode || storeCreated(r) || strings.Contains(r.tools(), "ceph-mon") {
			t.Errorf("%s: exit %d, store created %v; tools:\n%s\n%s", name, r.exit, storeCreated(r), r.tools(), r.output)
		}
		if !strings.HasPrefix(r.termination(), MonStoreMissingPrefix) {
			t.Errorf("%s: termination message %q", name, r.termination())
		}
	}
}

// TestMonDeploymentOfAReplacement: a replacement binds its own address
// (it is not in the initial map) and tells its init container which
// monitor it replaces; a monitor of the bootstrap has neither.
func TestMonDeploymentOfAReplacement(t *testing.T) {
	d := MonDeployment(testCluster(), Images{Operator: "op:1"}, ceph.KeyTypeAES, testFSID, replacedMons(), 2)
	pod := d.Spec.Template.Spec
	if !slices.Contains(pod.Containers[0].Args, "--public-addrv") || !slices.Contains(pod.Containers[0].Args, replacedMons()[2].AddrVec()) {
		t.Errorf("replacement's args %v lack --public-addrv %s", pod.Containers[0].Args, replacedMons()[2].AddrVec())
	}
	if !slices.Contains(pod.InitContainers[0].Env, corev1.EnvVar{Name: "MON_REPLACES", Value: "c"}) {
		t.Errorf("replacement's init env %v lacks MON_REPLACES=c", pod.InitContainers[0].Env)
	}
	if d.Spec.Template.Spec.Affinity == nil || !strings.Contains(fmt.Sprint(d.Spec.Template.Spec.Affinity), "node-d") {
		t.Errorf("replacement not pinned to its node: %v", d.Spec.Template.Spec.Affinity)
	}
	b := MonDeployment(testCluster(), Images{Operator: "op:1"}, ceph.KeyTypeAES, testFSID, replacedMons(), 0).Spec.Template.Spec
	if slices.Contains(b.Containers[0].Args, "--public-addrv") || slices.ContainsFunc(b.InitContainers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "MON_REPLACES" }) {
		t.Errorf("a monitor of the bootstrap got a replacement's settings: %v %v", b.Containers[0].Args, b.InitContainers[0].Env)
	}
}
