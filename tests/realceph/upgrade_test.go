package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// upgradeEnd is one end of TestRealCephUpgrade: a Ceph test image, the
// archive it is imported from and the Ceph version its daemons run.
type upgradeEnd struct {
	image, archive, version string
}

// upgradeEndFrom reads CEPH_UPGRADE_<end>_IMG, _ARCHIVE and _VERSION.
func upgradeEndFrom(end string) upgradeEnd {
	p := "CEPH_UPGRADE_" + end + "_"
	return upgradeEnd{image: os.Getenv(p + "IMG"), archive: os.Getenv(p + "ARCHIVE"), version: os.Getenv(p + "VERSION")}
}

// upgradeDaemons is how many Ceph daemons the upgraded cluster runs:
// multiNodes monitors and OSDs, and one manager.
const upgradeDaemons = 2*multiNodes + 1

// TestRealCephUpgrade upgrades real Ceph on three real nodes from one
// release to a newer one through spec.image (make test-real-upgrade:
// 18.2.7 to 20.2.4). A pool keeps three copies, one per node, while two
// readers (one connected librados client, and a new client per read) read
// its objects throughout; every read must succeed, and the longest ones
// are reported. The cluster must end with every daemon on the new
// version, require_osd_release raised, HEALTH_OK and the objects intact;
// from 18.2.7 to 20.2.4, HEALTH_OK but for the AES cephx keys 20.2.4
// reports as errors (ceph.KeyTypeChecks, which are reported and allowed,
// alone). Then spec.image set back to the old image must be refused,
// naming both versions, with no daemon changed. Last, on 20.2.4, the keys
// move to AES-256 (checkCephxMigration), and the cluster ends HEALTH_OK.
func TestRealCephUpgrade(t *testing.T) {
	gate.Env(t, gate.Real, "skipping: the real-node Ceph test runs with CEPH_OPERATOR_REAL=1 (make test-real-upgrade)")
	from, to := upgradeEndFrom("FROM"), upgradeEndFrom("TO")
	if from.archive == "" || to.archive == "" || from.image == "" || to.image == "" {
		t.Skip("skipping: the upgrade test needs CEPH_UPGRADE_FROM_{IMG,ARCHIVE,VERSION} and CEPH_UPGRADE_TO_{IMG,ARCHIVE,VERSION} (make test-real-upgrade sets them)")
	}
	toVersion, err := ceph.ParseVersion(to.version)
	if err != nil {
		t.Fatalf("CEPH_UPGRADE_TO_VERSION: %v", err)
	}
	failures.Lock()
	failures.msgs, failures.diagnoses = nil, nil
	failures.Unlock()
	summarizeFailures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()

	m := startNodes(t, ctx, multiNodes, from.archive, to.archive)
	c := m.c
	cc := m.createCluster(t, ctx, from.image)
	checkVersion(t, getCephCluster(t, ctx, c, cc), from.image, from.version)
	tl := startToolsOn(t, ctx, c, m.cluster, cc, m.nodeNames[0])
	defer tl.stop(c)
	objs := writeReplicated(t, ctx, tl)
	realnode.WaitFor(t, ctx, 5*time.Minute, "every placement group active+clean", func() error { return allClean(ctx, tl) })
	waitHealthy(t, ctx, c, cc, "on "+from.image)
	t.Logf("FIGURE before the upgrade: ceph versions %s", versionCounts(cephVersions(t, ctx, tl)))

	rp := startReaders(t, ctx, tl, objs)
	start := time.Now()
	setImage(t, ctx, c, cc, to.image)
	var last string
	var versions map[string]int
	realnode.WaitFor(t, ctx, 30*time.Minute, fmt.Sprintf("every daemon on Ceph %s", to.version), func() error {
		got := getCephCluster(t, ctx, c, cc)
		if p := upgradeProgress(got); p != last {
			t.Logf("upgrade +%.0fs: %s", time.Since(start).Seconds(), p)
			last = p
		}
		out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", tl.keyring, "--connect-timeout", "30", "versions", "--format", "json")
		if err != nil {
			return fmt.Errorf("ceph versions: %w", err)
		}
		if versions, err = parseVersions(out); err != nil {
			return err
		}
		if n := onVersion(versions, toVersion); n != upgradeDaemons {
			return fmt.Errorf("%d of %d daemons run Ceph %s: %s", n, upgradeDaemons, to.version, versionCounts(versions))
		}
		return nil
	})
	rolled := time.Since(start)
	// HEALTH_OK, but for the cephx keys: a cluster created before Ceph
	// 20.2.4 keeps its AES keys, which 20.2.4 reports as errors
	// (ceph.KeyTypeChecks) until they move to aes256k (last, below).
	// Those checks, and only those, are allowed here; any other check
	// fails the test.
	realnode.WaitFor(t, ctx, 10*time.Minute, "HEALTH_OK (but for the cephx key-type checks) after the upgrade", func() error {
		got := getCephCluster(t, ctx, c, cc)
		if p := upgradeProgress(got); p != last {
			t.Logf("upgrade +%.0fs: %s", time.Since(start).Seconds(), p)
			last = p
		}
		st := got.Status.Ceph
		if st == nil || (st.Health != cephv1alpha1.CephHealthOK && !ceph.OnlyKeyTypeChecks(st)) {
			return fmt.Errorf("every daemon runs Ceph %s, but Ceph's health is not HEALTH_OK: %+v", to.version, st)
		}
		return allClean(ctx, tl)
	})
	took := time.Since(start)
	readers := rp.end(t, ctx, tl, "during the upgrade", start)
	t.Logf("FIGURE upgrade %s -> %s: spec.image -> every daemon on %s: %.1fs; -> HEALTH_OK (but for the key-type checks), every PG active+clean: %.1fs; ceph versions %s",
		short(from.version), short(to.version), short(to.version), rolled.Seconds(), took.Seconds(), versionCounts(versions))
	t.Logf("FIGURE upgrade readers: %s", readers)

	got := getCephCluster(t, ctx, c, cc)
	checkVersion(t, got, to.image, to.version)
	var dump struct {
		Require string `json:"require_osd_release"`
	}
	if out := tl.admin(ctx, "osd", "dump", "--format", "json"); json.Unmarshal([]byte(out), &dump) != nil {
		errorf(t, "ceph osd dump: %s", out)
	} else {
		t.Logf("FIGURE after the upgrade: require_osd_release %s, health %s, checks %s", dump.Require, got.Status.Ceph.Health, checkList(got.Status.Ceph))
		if want, _ := ceph.ReleaseName(toVersion.Major); dump.Require != want {
			errorf(t, "require_osd_release is %q after the upgrade, want %q", dump.Require, want)
		}
	}
	if st := got.Status.Ceph; st.Health != cephv1alpha1.CephHealthOK {
		t.Logf("FIGURE before the cephx migration: the upgraded cluster is %s with only the cephx key-type checks %s", st.Health, checkList(st))
		if h := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephHealthy); h == nil || !strings.Contains(h.Message, "Only the cephx key type is at fault") {
			errorf(t, "CephHealthy does not say that only the key type is at fault: %+v", h)
		}
	}
	if err := readBack(ctx, tl, objs); err != nil {
		errorf(t, "objects after the upgrade: %v", err)
	}

	checkDowngradeRefused(t, ctx, c, cc, from, to)
	if !toVersion.Less(cephxop.MinVersion) {
		// The tools of the new release, as an application's librados
		// must be to read AES-256 keys.
		tl.stop(c)
		tl = startToolsOn(t, ctx, c, m.cluster, getCephCluster(t, ctx, c, cc), m.nodeNames[0])
		checkCephxMigration(t, ctx, c, cc, tl, objs)
	}
}

// checkCephxMigration moves the upgraded cluster's cephx keys to AES-256
// (spec.security.cephx: keyType aes256k, rotatingServiceKeys Replace) while
// two readers read the objects as an application would, with its own
// user, which already has an AES-256 key; none of their reads may fail. A
// second user with an AES key, which the operator does not hold, must hold
// the last step back (the monitors keep accepting AES keys) and be named
// in the condition; once the test removes it, the migration ends with
// every entity AES-256, the monitors accepting no other type, and
// HEALTH_OK. An OSD restarted afterwards must come back up, as its
// activation reads its new key from its BlueStore label, and the old AES
// admin key must be refused.
func checkCephxMigration(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, tl *tools, objs testObjects) {
	reader := tl.admin(ctx, "auth", "get-or-create", "client.reader", "mon", "allow r", "osd", "allow r pool=idtest", "--key_type", "aes256k")
	if _, err := tl.run(ctx, []byte(reader), "sh", "-c", "cat > /tmp/reader.keyring"); err != nil {
		t.Fatal(err)
	}
	tl.admin(ctx, "auth", "get-or-create", "client.legacy", "mon", "allow r", "--key_type", "aes")
	tl.reader, tl.readerKeyring = "client.reader", "/tmp/reader.keyring"
	if err := readBack(ctx, tl, objs); err != nil {
		t.Fatalf("reading as client.reader: %v", err)
	}
	rp := startReaders(t, ctx, tl, objs)
	start := time.Now()
	got := getCephCluster(t, ctx, c, cc)
	got.Spec.Security.Cephx = cephv1alpha1.CephxSpec{KeyType: cephv1alpha1.CephxKeyTypeAES256K, RotatingServiceKeys: cephv1alpha1.RotatingServiceKeysReplace}
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	var last string
	progress := func(got *cephv1alpha1.CephCluster) *metav1.Condition {
		m := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephxKeysMigrated)
		if m != nil && m.Message != last {
			t.Logf("cephx migration +%.0fs: %s: %s", time.Since(start).Seconds(), m.Reason, m.Message)
			last = m.Message
		}
		return m
	}
	realnode.WaitFor(t, ctx, 15*time.Minute, "the migration held back by client.legacy", func() error {
		m := progress(getCephCluster(t, ctx, c, cc))
		if m == nil || m.Status != metav1.ConditionFalse || !strings.Contains(m.Message, "client.legacy still has an AES key") {
			return fmt.Errorf("CephxKeysMigrated = %+v", m)
		}
		return nil
	})
	held := time.Since(start)
	// client.admin has its AES-256 key by now.
	tl.keyring = adminAES256Keyring
	var dump struct {
		Allowed []struct {
			Name string `json:"name"`
		} `json:"auth_allowed_ciphers"`
	}
	if out := tl.admin(ctx, "mon", "dump", "--format", "json"); json.Unmarshal([]byte(out), &dump) != nil || len(dump.Allowed) != 2 {
		errorf(t, "the monitors' allowed ciphers while client.legacy has an AES key: %s, want aes and aes256k", out)
	}
	tl.admin(ctx, "auth", "rm", "client.legacy")
	realnode.WaitFor(t, ctx, 10*time.Minute, "the migration done", func() error {
		m := progress(getCephCluster(t, ctx, c, cc))
		if m == nil || m.Status != metav1.ConditionTrue {
			return fmt.Errorf("CephxKeysMigrated = %+v", m)
		}
		return nil
	})
	migrated := time.Since(start)
	realnode.WaitFor(t, ctx, 10*time.Minute, "HEALTH_OK after the migration", func() error {
		st := getCephCluster(t, ctx, c, cc).Status.Ceph
		if st == nil || st.Health != cephv1alpha1.CephHealthOK {
			return fmt.Errorf("Ceph's health after the migration: %+v", st)
		}
		return allClean(ctx, tl)
	})
	healthy := time.Since(start)
	readers := rp.end(t, ctx, tl, "during the cephx key migration", start)
	t.Logf("FIGURE cephx migration to aes256k: keyType set -> held back by client.legacy (AES): %.1fs; -> CephxKeysMigrated True after its removal: %.1fs; -> HEALTH_OK, every PG active+clean: %.1fs",
		held.Seconds(), migrated.Seconds(), healthy.Seconds())
	t.Logf("FIGURE cephx migration readers (client.reader, AES-256): %s", readers)

	out := tl.admin(ctx, "auth", "dump-keys", "--format", "json")
	entities, _, err := cephxop.KeyTypes([]byte(out))
	if err != nil {
		errorf(t, "%v", err)
	}
	types := map[string]int{}
	for name, typ := range entities {
		types[typ]++
		if typ != "aes256k" {
			errorf(t, "%s has a key of type %s after the migration", name, typ)
		}
	}
	if out := tl.admin(ctx, "mon", "dump", "--format", "json"); json.Unmarshal([]byte(out), &dump) != nil || len(dump.Allowed) != 1 || dump.Allowed[0].Name != "aes256k" {
		errorf(t, "the monitors' allowed ciphers after the migration: %s, want aes256k alone", out)
	}
	t.Logf("FIGURE after the migration: key types %v, allowed ciphers %v", types, dump.Allowed)
	if out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", adminKeyring, "--connect-timeout", "20", "status"); err == nil {
		errorf(t, "the old AES admin key still reaches the monitors: %s", out)
	}
	if err := checkPodKeyrings(ctx, c, cc, ceph.KeyTypeAES256K); err != nil {
		errorf(t, "after the migration: %v", err)
	}

	// An OSD restarted now activates with the key in its label.
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("OSD pods: %v", err)
	}
	osd := pods.Items[0]
	restart := time.Now()
	if err := c.Delete(ctx, &osd); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "the restarted OSD up and HEALTH_OK", func() error {
		var now corev1.PodList
		if err := c.List(ctx, &now, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD, resources.OSDIDLabel: osd.Labels[resources.OSDIDLabel]}); err != nil {
			return err
		}
		if len(now.Items) != 1 || now.Items[0].UID == osd.UID {
			return fmt.Errorf("OSD %s: %s", osd.Labels[resources.OSDIDLabel], realnode.PodSummary(now.Items))
		}
		var stat struct {
			Up int `json:"num_up_osds"`
			N  int `json:"num_osds"`
		}
		if out := tl.admin(ctx, "osd", "stat", "--format", "json"); json.Unmarshal([]byte(out), &stat) != nil || stat.Up != stat.N {
			return fmt.Errorf("ceph osd stat: %s", out)
		}
		return allClean(ctx, tl)
	})
	t.Logf("FIGURE OSD %s restarted after the migration: up again, every PG active+clean after %.1fs", osd.Labels[resources.OSDIDLabel], time.Since(restart).Seconds())
	if err := readBack(ctx, tl, objs); err != nil {
		errorf(t, "objects after the migration: %v", err)
	}
}

// checkPodKeyrings reports an error unless every keyring the cluster's
// Deployments mount from the identity Secret is of type want.
func checkPodKeyrings(ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, want ceph.KeyType) error {
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(namespace)); err != nil {
		return err
	}
	n := 0
	for _, d := range deps.Items {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret == nil || v.Secret.SecretName != resources.IdentitySecretName(cc) {
				continue
			}
			for _, it := range v.Secret.Items {
				n++
				if want == ceph.KeyTypeAES256K && !strings.Contains(it.Key, ".aes256k.") || want == ceph.KeyTypeAES && strings.Contains(it.Key, ".aes256k.") {
					return fmt.Errorf("Deployment %s mounts %s, not a keyring of type %s", d.Name, it.Key, want)
				}
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("no Deployment mounts a keyring")
	}
	return nil
}

// checkDowngradeRefused sets spec.image back to the old image: the
// operator must refuse it (CephVersionSupported False, reason
// CephDowngradeRefused, naming both versions) and change no daemon, then
// accept the new image again.
func checkDowngradeRefused(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, from, to upgradeEnd) {
	before := daemonState(t, ctx, c)
	start := time.Now()
	setImage(t, ctx, c, cc, from.image)
	var refused *metav1.Condition
	realnode.WaitFor(t, ctx, 3*time.Minute, "the downgrade refused", func() error {
		got := getCephCluster(t, ctx, c, cc)
		refused = meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported)
		if refused == nil || refused.Status != metav1.ConditionFalse || refused.Reason != cephv1alpha1.ReasonCephDowngradeRefused {
			return fmt.Errorf("CephVersionSupported = %+v", refused)
		}
		return nil
	})
	t.Logf("FIGURE downgrade to %s refused after %.1fs: %s", from.image, time.Since(start).Seconds(), refused.Message)
	for _, v := range []string{short(from.version), short(to.version)} {
		if !strings.Contains(refused.Message, v) {
			errorf(t, "the refusal does not name Ceph %s: %s", v, refused.Message)
		}
	}
	// Give a wrong operator time to act on it.
	time.Sleep(30 * time.Second)
	if after := daemonState(t, ctx, c); !maps.Equal(after, before) {
		errorf(t, "daemons changed after a refused downgrade:\nbefore %v\nafter  %v", before, after)
	}
	if got := getCephCluster(t, ctx, c, cc); got.Status.DaemonImage == nil || got.Status.DaemonImage.Image != to.image {
		errorf(t, "status.daemonImage after a refused downgrade: %+v, want %s", got.Status.DaemonImage, to.image)
	}
	setImage(t, ctx, c, cc, to.image)
	realnode.WaitFor(t, ctx, 3*time.Minute, "the new image accepted again", func() error {
		got := getCephCluster(t, ctx, c, cc)
		if !meta.IsStatusConditionTrue(got.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported) {
			return fmt.Errorf("conditions %s", conditionSummary(got))
		}
		return nil
	})
	if after := daemonState(t, ctx, c); !maps.Equal(after, before) {
		errorf(t, "daemons changed after spec.image went back to the image they run:\nbefore %v\nafter  %v", before, after)
	}
}

// short is a Debian package version's upstream part ("20.2.4+ds-2" ->
// "20.2.4").
func short(v string) string {
	if p, err := ceph.ParseVersion(v); err == nil {
		return p.Number()
	}
	return v
}

func getCephCluster(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster) *cephv1alpha1.CephCluster {
	t.Helper()
	got := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
		t.Fatal(err)
	}
	return got
}

// setImage sets the CephCluster's spec.image.
func setImage(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, image string) {
	t.Helper()
	got := getCephCluster(t, ctx, c, cc)
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Image = image
	if err := c.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
}

// upgradeProgress is what the status says of a rollout: the accepted
// image, the conditions that are not True, the OSDs updated and Ceph's
// health.
func upgradeProgress(cc *cephv1alpha1.CephCluster) string {
	var parts []string
	if d := cc.Status.DaemonImage; d != nil {
		parts = append(parts, "daemonImage "+d.Version)
	}
	for _, x := range cc.Status.Conditions {
		if x.Status != metav1.ConditionTrue {
			parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", x.Type, x.Status, x.Reason, x.Message))
		}
	}
	parts = append(parts, fmt.Sprintf("osds updated %d", cc.Status.OSDs.Updated))
	if st := cc.Status.Ceph; st != nil {
		parts = append(parts, fmt.Sprintf("%s %s", st.Health, checkList(st)))
	}
	return strings.Join(parts, "; ")
}

// cephVersions is `ceph versions`' overall count of daemons per version.
func cephVersions(t *testing.T, ctx context.Context, tl *tools) map[string]int {
	t.Helper()
	v, err := parseVersions([]byte(tl.admin(ctx, "versions", "--format", "json")))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parseVersions(out []byte) (map[string]int, error) {
	var v struct {
		Overall map[string]int `json:"overall"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("ceph versions: %w: %s", err, out)
	}
	return v.Overall, nil
}

// onVersion counts the daemons running exactly version want.
func onVersion(versions map[string]int, want ceph.Version) int {
	n := 0
	for v, count := range versions {
		if p, err := ceph.ParseVersion(v); err == nil && p == want {
			n += count
		}
	}
	return n
}

// versionCounts says "<count>× <version>" for each version, sorted.
func versionCounts(versions map[string]int) string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(versions)) {
		parts = append(parts, fmt.Sprintf("%d× %s", versions[v], short(v)))
	}
	return strings.Join(parts, ", ")
}
