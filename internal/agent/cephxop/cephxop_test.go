package cephxop

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// fakeCeph is a cluster's auth database and the parts of its maps the
// steps read, answering as Ceph 20.2.4 does. Each identity (the keyring a
// command runs with) authenticates only while its key is the entity's
// current or pending key.
type fakeCeph struct {
	t        *testing.T
	entities map[string]*fakeEntity
	versions map[string]map[string]int
	allowed  []string
	pref     string
	service  string
	rotating string // the type of the rotating service keys
	up       map[int]bool
	// label and live are each OSD's key in its BlueStore label and in the
	// running daemon; mgrLive the manager's.
	label, live map[string]string
	mgrLive     string
	// autoCommit: a daemon handed its pending key authenticates with it
	// at once, which makes it current (as Ceph does "on first use").
	autoCommit bool
	// fail makes the first command starting with this prefix fail.
	fail string
	// log is every command run, with the identity's key type.
	log []string
	seq int
}

type fakeEntity struct {
	key, pending string
	caps         map[string]string
}

func key(t ceph.KeyType, n int) string {
	seq := byte(n)
	k, err := ceph.NewCephxKey(constReader(seq), time.Unix(1700000000, 0), t)
	if err != nil {
		panic(err)
	}
	return k
}

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func newFake(t *testing.T) *fakeCeph {
	f := &fakeCeph{t: t, entities: map[string]*fakeEntity{},
		versions: map[string]map[string]int{
			"mon": {"ceph version 20.2.4 (7f79) tentacle (stable)": 3},
			"mgr": {"ceph version 20.2.4 (7f79) tentacle (stable)": 1},
			"osd": {"ceph version 20.2.4 (7f79) tentacle (stable)": 3},
		},
		allowed: []string{"aes", "aes256k"}, pref: "aes", service: "aes", rotating: "aes",
		up: map[int]bool{0: true, 1: true, 2: true}, label: map[string]string{}, live: map[string]string{}, autoCommit: true}
	for _, n := range []string{"client.admin", "client.reporter", "client.bootstrap-osd", "mgr.a", "osd.0", "osd.1", "osd.2",
		"client.bootstrap-mds", "client.bootstrap-mgr", "client.bootstrap-rbd", "client.bootstrap-rbd-mirror", "client.bootstrap-rgw"} {
		f.entities[n] = &fakeEntity{key: f.newKey(ceph.KeyTypeAES), caps: map[string]string{"mon": "profile " + n}}
	}
	f.entities["client.reporter"].caps = map[string]string{"mon": `allow command "status", allow command "osd dump"`}
	for _, n := range []string{"osd.0", "osd.1", "osd.2"} {
		f.label[n], f.live[n] = f.entities[n].key, f.entities[n].key
	}
	f.mgrLive = f.entities["mgr.a"].key
	return f
}

func (f *fakeCeph) newKey(t ceph.KeyType) string {
	f.seq++
	return key(t, f.seq)
}

// as returns the Ceph of the identity holding key k of client.admin.
func (f *fakeCeph) as(k string) Ceph {
	return func(_ context.Context, input []byte, words ...string) ([]byte, error) {
		return f.run(k, input, words...)
	}
}

func (f *fakeCeph) admin() Ceph { return f.as(f.entities["client.admin"].key) }

func (f *fakeCeph) run(k string, input []byte, words ...string) ([]byte, error) {
	cmd := strings.Join(words, " ")
	typ, _ := keyTypeName(k)
	f.log = append(f.log, typ+": "+cmd)
	a := f.entities["client.admin"]
	if k != a.key && k != a.pending || !slices.Contains(f.allowed, typ) {
		return nil, fmt.Errorf("ceph %s: exit status 1: [errno 13] RADOS permission denied (error connecting to the cluster)", cmd)
	}
	if f.fail != "" && strings.HasPrefix(cmd, f.fail) {
		f.fail = ""
		return nil, fmt.Errorf("ceph %s: exit status 1: Error EIO: injected", cmd)
	}
	switch {
	case cmd == "versions":
		return json.Marshal(f.versions)
	case cmd == "mon dump":
		type name struct {
			Name string `json:"name"`
		}
		var allowed []name
		for _, a := range f.allowed {
			allowed = append(allowed, name{a})
		}
		return json.Marshal(map[string]any{"auth_allowed_ciphers": allowed, "auth_preferred_cipher": name{f.pref}, "auth_service_cipher": name{f.service}})
	case strings.HasPrefix(cmd, "mon set "):
		switch words[2] {
		case "auth_allowed_ciphers":
			f.allowed = strings.Split(words[3], ",")
		case "auth_preferred_cipher":
			f.pref = words[3]
		case "auth_service_cipher":
			f.service = words[3]
		}
		return nil, nil
	case words[0] == "auth" && words[1] == "get":
		e := f.entities[words[2]]
		if e == nil {
			return nil, fmt.Errorf("ceph %s: exit status 2: Error ENOENT: failed to find %s in keyring", cmd, words[2])
		}
		return json.Marshal([]authInfo{{Entity: words[2], Key: e.key, Caps: e.caps}})
	case cmd == "auth import":
		in, err := ParseKeyring(string(input))
		if err != nil {
			return nil, fmt.Errorf("ceph %s: exit status 22: Error EINVAL: %w", cmd, err)
		}
		f.entities[in.Name] = &fakeEntity{key: in.Key, caps: in.Caps}
		return nil, nil
	case words[0] == "auth" && words[1] == "rotate":
		e := f.entities[words[2]]
		e.key = f.newKey(ceph.KeyTypeAES256K)
		return nil, nil
	case cmd == "auth dump-keys":
		var d dumpKeys
		for n, e := range f.entities {
			var s secret
			s.Entity.Type, s.Entity.ID, _ = strings.Cut(n, ".")
			s.Auth.Key.Type, _ = keyTypeName(e.key)
			d.Data.Secrets = append(d.Data.Secrets, s)
		}
		var rot rotating
		rot.Secrets.Keys = make([]rotatingKey, 1)
		rot.Secrets.Keys[0].Expiring.Key.Type = f.rotating
		d.Data.Rotating = append(d.Data.Rotating, rot)
		return json.Marshal(d)
	case cmd == "auth wipe-rotating-service-keys":
		f.rotating = f.service
		return nil, nil
	case cmd == "osd dump":
		type osd struct {
			ID int `json:"osd"`
			Up int `json:"up"`
		}
		var osds []osd
		for n := range f.label {
			id, _ := strconv.Atoi(strings.TrimPrefix(n, "osd."))
			up := 0
			if f.up[id] {
				up = 1
			}
			osds = append(osds, osd{id, up})
		}
		return json.Marshal(map[string]any{"osds": osds})
	case words[0] == "auth" && words[1] == "get-or-create-pending":
		e := f.entities[words[2]]
		if e.pending == "" {
			t := ceph.KeyTypeAES
			if f.pref == "aes256k" {
				t = ceph.KeyTypeAES256K
			}
			e.pending = f.newKey(t)
		}
		return json.Marshal([]authInfo{{Entity: words[2], Key: e.key, PendingKey: e.pending}})
	case words[0] == "auth" && words[1] == "commit-pending":
		e := f.entities[words[2]]
		if e.pending == "" {
			return nil, fmt.Errorf("ceph %s: exit status 2: Error ENOENT: no pending key", cmd)
		}
		e.key, e.pending = e.pending, ""
		return nil, nil
	case words[0] == "tell" && words[2] == "rotate-stored-key":
		id, _ := strconv.Atoi(strings.TrimPrefix(words[1], "osd."))
		if !f.up[id] {
			return nil, fmt.Errorf("ceph %s: exit status 1: problem getting command descriptions from %s", cmd, words[1])
		}
		f.label[words[1]] = string(input)
		return nil, nil
	case words[0] == "tell" && words[2] == "rotate-key":
		if words[1] == "mgr.a" {
			f.mgrLive = string(input)
			return nil, nil
		}
		id, _ := strconv.Atoi(strings.TrimPrefix(words[1], "osd."))
		if !f.up[id] {
			return nil, fmt.Errorf("ceph %s: exit status 1: problem getting command descriptions from %s", cmd, words[1])
		}
		f.live[words[1]] = string(input)
		if e := f.entities[words[1]]; f.autoCommit && e.pending == string(input) {
			e.key, e.pending = e.pending, ""
		}
		return nil, nil
	}
	f.t.Fatalf("unexpected command %q", cmd)
	return nil, nil
}

// operatorKeys are the AES-256 keys of the identity Secret.
func (f *fakeCeph) operatorKeys() []Entity {
	var out []Entity
	for _, n := range []string{"mon.", "client.reporter", "client.bootstrap-osd", "mgr.a", "client.admin"} {
		out = append(out, Entity{Name: n, Key: f.newKey(ceph.KeyTypeAES256K), Caps: map[string]string{"mon": "secret caps of " + n}})
	}
	return out
}

func TestImportGivesTheOperatorsKeysAndKeepsCaps(t *testing.T) {
	f := newFake(t)
	f.entities["client.reporter"].caps["osd"] = "allow r widened by an admin"
	oldAdmin := f.entities["client.admin"].key
	keys := f.operatorKeys()
	res := Import(context.Background(), f.as(oldAdmin), f.as(keys[4].Key), keys)
	if res.Outcome != Done || res.Changed != 5 {
		t.Fatalf("Import = %+v, want Done with 5 changed", res)
	}
	for _, k := range keys {
		e := f.entities[k.Name]
		if e == nil || e.key != k.Key {
			t.Errorf("%s has key %v, want the Secret's", k.Name, e)
		}
	}
	if got := f.entities["client.reporter"].caps; got["osd"] != "allow r widened by an admin" || got["mon"] != `allow command "status", allow command "osd dump"` {
		t.Errorf("client.reporter's caps are %v, want those Ceph had", got)
	}
	if got := f.entities["mon."].caps; got["mon"] != "secret caps of mon." {
		t.Errorf("mon., which Ceph did not list, has caps %v, want the Secret's", got)
	}
	if f.mgrLive != keys[3].Key {
		t.Error("the running manager was not told its new key")
	}
	if f.pref != "aes256k" || !slices.Equal(f.allowed, []string{"aes", "aes256k"}) {
		t.Errorf("ciphers: preferred %s, allowed %v; want aes256k and aes,aes256k", f.pref, f.allowed)
	}
	// client.admin is the last import its old keyring runs.
	var imports []int
	for i, l := range f.log {
		if strings.HasSuffix(l, "auth import") {
			imports = append(imports, i)
		}
	}
	last := imports[len(imports)-1]
	for _, l := range f.log[last+1:] {
		if strings.HasPrefix(l, "aes: ") {
			t.Errorf("the old admin keyring ran %q after client.admin's import", l)
		}
	}

	// Run again (a Job retried after it finished): nothing changes.
	n := len(f.log)
	res = Import(context.Background(), f.as(oldAdmin), f.as(keys[4].Key), keys)
	if res.Outcome != Done || res.Changed != 0 {
		t.Fatalf("second Import = %+v, want Done with nothing changed", res)
	}
	for _, l := range f.log[n:] {
		if strings.Contains(l, "import") || strings.Contains(l, "mon set") {
			t.Errorf("the second run changed something: %q", l)
		}
	}
}

func TestImportWaitsForEveryDaemonOnTentacle(t *testing.T) {
	f := newFake(t)
	f.versions["osd"] = map[string]int{"ceph version 20.2.4 (7f79) tentacle (stable)": 2, "ceph version 18.2.7 (6b0e) reef (stable)": 1}
	keys := f.operatorKeys()
	res := Import(context.Background(), f.admin(), f.as(keys[4].Key), keys)
	if res.Outcome != NotYet || !strings.Contains(res.Message, "1 osd on 18.2.7") || !strings.Contains(res.Message, "20.2.4") {
		t.Fatalf("Import = %+v, want NotYet naming the old OSD and the release needed", res)
	}
	for _, l := range f.log {
		if strings.Contains(l, "import") || strings.Contains(l, "mon set") {
			t.Errorf("changed something while a daemon runs 18.2.7: %q", l)
		}
	}
}

func TestImportFailureLeavesTheAdminKey(t *testing.T) {
	f := newFake(t)
	oldAdmin := f.entities["client.admin"].key
	keys := f.operatorKeys()
	f.fail = "auth import" // the first import, mon.'s
	res := Import(context.Background(), f.as(oldAdmin), f.as(keys[4].Key), keys)
	if res.Outcome != Failed || !strings.Contains(res.Message, "mon.") {
		t.Fatalf("Import = %+v, want Failed naming mon.", res)
	}
	if f.entities["client.admin"].key != oldAdmin {
		t.Fatal("client.admin changed although an earlier import failed")
	}
	// The retry finishes the work.
	res = Import(context.Background(), f.as(oldAdmin), f.as(keys[4].Key), keys)
	if res.Outcome != Done || res.Changed != 5 {
		t.Fatalf("retry = %+v, want Done with 5 changed", res)
	}
}

func TestImportNeedsAdminLast(t *testing.T) {
	f := newFake(t)
	keys := f.operatorKeys()
	res := Import(context.Background(), f.admin(), f.admin(), keys[:4])
	if res.Outcome != Failed || len(f.log) != 0 {
		t.Fatalf("Import without client.admin last = %+v after %v, want Failed before any command", res, f.log)
	}
}

func TestParseKeyring(t *testing.T) {
	k := key(ceph.KeyTypeAES256K, 7)
	e, err := ParseKeyring(ceph.Keyring("client.reporter", k, map[string]string{"mon": `allow command "status", allow command "osd dump"`}))
	if err != nil || e.Name != "client.reporter" || e.Key != k || e.Caps["mon"] != `allow command "status", allow command "osd dump"` {
		t.Fatalf("ParseKeyring = %+v, %v", e, err)
	}
	if _, err := ParseKeyring(ceph.Keyring("client.admin", key(ceph.KeyTypeAES, 7), nil)); err == nil {
		t.Error("an AES key was accepted")
	}
	if _, err := ParseKeyring(ceph.Keyring("a", k, nil) + ceph.Keyring("b", k, nil)); err == nil {
		t.Error("a keyring of two entities was accepted")
	}
	if _, err := ParseKeyring("key = " + k + "\n"); err == nil {
		t.Error("a key without an entity was accepted")
	}
}

func migrated(f *fakeCeph) {
	for _, n := range []string{"mon.", "client.reporter", "client.bootstrap-osd", "mgr.a", "client.admin"} {
		f.entities[n] = &fakeEntity{key: f.newKey(ceph.KeyTypeAES256K)}
	}
	f.pref = "aes256k"
}

func TestFinishReplacesWhatIsLeftAndClosesTheDoor(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprintf("replace rotating %v", replace), func(t *testing.T) {
			f := newFake(t)
			migrated(f)
			res := Finish(context.Background(), f.admin(), FinishOptions{MaxOSDs: 64, ReplaceRotating: replace})
			if res.Outcome != Done || res.Changed != 8 || res.Left != 0 {
				t.Fatalf("Finish = %+v, want Done with 8 changed", res)
			}
			for n, e := range f.entities {
				if typ, _ := keyTypeName(e.key); typ != "aes256k" {
					t.Errorf("%s still has an %s key", n, typ)
				}
				if strings.HasPrefix(n, "osd.") && (f.label[n] != e.key || f.live[n] != e.key) {
					t.Errorf("%s: label %q and running daemon %q differ from its key %q", n, f.label[n], f.live[n], e.key)
				}
			}
			if f.service != "aes256k" || !slices.Equal(f.allowed, []string{"aes256k"}) {
				t.Errorf("service cipher %s, allowed %v; want aes256k only", f.service, f.allowed)
			}
			if (f.rotating == "aes256k") != replace {
				t.Errorf("rotating keys are %s with ReplaceRotating %v", f.rotating, replace)
			}
			if !replace && !strings.Contains(res.Message, "as each expires") {
				t.Errorf("message %q does not say the rotating keys expire by themselves", res.Message)
			}
		})
	}
}

func TestFinishCommitsAPendingKeyTheOSDHasNotUsed(t *testing.T) {
	f := newFake(t)
	migrated(f)
	f.autoCommit = false
	f.pref = "aes" // set back by hand: pending keys would be AES ones
	res := Finish(context.Background(), f.admin(), FinishOptions{})
	if res.Outcome != Done {
		t.Fatalf("Finish = %+v", res)
	}
	if e := f.entities["osd.1"]; e.pending != "" || e.key != f.label["osd.1"] {
		t.Errorf("osd.1: key %q pending %q label %q", e.key, e.pending, f.label["osd.1"])
	}
}

func TestFinishWaitsForADownOSD(t *testing.T) {
	f := newFake(t)
	migrated(f)
	f.up[2] = false
	res := Finish(context.Background(), f.admin(), FinishOptions{})
	if res.Outcome != NotYet || res.Left != 1 || !strings.Contains(res.Message, "waiting for osd.2 to be up") {
		t.Fatalf("Finish = %+v, want NotYet waiting for osd.2", res)
	}
	if f.service != "aes" || !slices.Contains(f.allowed, "aes") {
		t.Errorf("service cipher %s, allowed %v, while osd.2 still has an AES key", f.service, f.allowed)
	}
	// Half-done before (a run that stopped after the label): the same
	// pending key is used, and the OSD comes up and is finished.
	f.up[2] = true
	f.entities["osd.2"].pending = f.newKey(ceph.KeyTypeAES256K)
	pending := f.entities["osd.2"].pending
	res = Finish(context.Background(), f.admin(), FinishOptions{})
	if res.Outcome != Done || f.entities["osd.2"].key != pending || f.label["osd.2"] != pending {
		t.Fatalf("Finish = %+v; osd.2 key %q label %q, want the pending key %q", res, f.entities["osd.2"].key, f.label["osd.2"], pending)
	}
}

func TestFinishLeavesForeignClientsAndAES(t *testing.T) {
	f := newFake(t)
	migrated(f)
	f.entities["client.app"] = &fakeEntity{key: f.newKey(ceph.KeyTypeAES)}
	appKey := f.entities["client.app"].key
	res := Finish(context.Background(), f.admin(), FinishOptions{ReplaceRotating: true})
	if res.Outcome != NotYet || res.Left != 1 || !strings.Contains(res.Message, "client.app still has an AES key") {
		t.Fatalf("Finish = %+v, want NotYet naming client.app", res)
	}
	if f.entities["client.app"].key != appKey {
		t.Error("the operator replaced a key it does not hold")
	}
	if f.service != "aes256k" {
		t.Errorf("service cipher %s: every service entity is AES-256, it should be too", f.service)
	}
	if !slices.Contains(f.allowed, "aes") || f.rotating != "aes" {
		t.Errorf("allowed %v, rotating %s: AES must stay accepted while client.app has an AES key", f.allowed, f.rotating)
	}
}

func TestFinishBoundsTheOSDsOfOneRun(t *testing.T) {
	f := newFake(t)
	migrated(f)
	res := Finish(context.Background(), f.admin(), FinishOptions{MaxOSDs: 2})
	if res.Outcome != NotYet || res.Left != 1 || !strings.Contains(res.Message, "1 more to replace in the next run") {
		t.Fatalf("Finish = %+v, want NotYet with one OSD left for the next run", res)
	}
	if res = Finish(context.Background(), f.admin(), FinishOptions{MaxOSDs: 2}); res.Outcome != Done {
		t.Fatalf("second Finish = %+v, want Done", res)
	}
}

func TestFinishReportsAFailedOSD(t *testing.T) {
	f := newFake(t)
	migrated(f)
	f.fail = "tell osd.0 rotate-stored-key"
	res := Finish(context.Background(), f.admin(), FinishOptions{})
	if res.Outcome != NotYet || !strings.Contains(res.Message, "osd.0: writing the new key to its BlueStore label") {
		t.Fatalf("Finish = %+v, want NotYet naming osd.0's failure", res)
	}
	if e := f.entities["osd.0"]; e.key == f.label["osd.0"] && strings.HasPrefix(e.key, "Ag") {
		t.Error("osd.0's key changed although its label was not written")
	}
}

func TestEncodeFitsTheTerminationMessage(t *testing.T) {
	out := Encode(Result{Step: StepFinish, Outcome: NotYet, Message: strings.Repeat("x", 10000)})
	if len(out) > 4096 {
		t.Fatalf("%d bytes", len(out))
	}
}
