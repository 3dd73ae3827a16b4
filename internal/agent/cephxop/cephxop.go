// Package cephxop is the `agent cephx` subcommand: the two steps that move
// an upgraded cluster's cephx keys from AES to AES-256 (aes256k), run by a
// short Job of the cluster reconciler (docs/design/0009). Each step only
// does what is left to do, so a step that is run again after a crash, a
// timeout or an operator restart finishes the work without repeating it.
//
//   - import: the keys the operator holds (mon., client.reporter,
//     client.bootstrap-osd, mgr.a and, last, client.admin) get the AES-256
//     keys the identity Secret has held since the cluster was created; each
//     keeps the capabilities Ceph has for it. The manager is told its new
//     key at once (`ceph tell mgr.a rotate-key`), so that it reconnects with
//     it; the other users read their keyring at each start, and the
//     operator then rolls them onto their AES-256 keyrings.
//   - finish: each OSD's key is replaced while the OSD runs: a pending key
//     (`ceph auth get-or-create-pending`) is written to the OSD's BlueStore
//     label (`rotate-stored-key`, where every activation reads it from) and
//     handed to the running daemon (`rotate-key`), which then uses it and
//     so makes it the current one. Ceph's own bootstrap users, which no
//     daemon of the operator uses, get new keys. Once no service entity has
//     an AES key, the monitors issue service tickets with AES-256; once no
//     entity at all has one, they stop accepting AES keys, and, when asked,
//     the rotating service keys are replaced at once.
//
// Both report their outcome as a JSON termination message and an exit
// code, as agent osd does.
package cephxop

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Steps.
const (
	StepImport = "import"
	StepFinish = "finish"
)

// Outcomes and exit codes: those of agent osd (a step never answers
// Never).
const (
	Done   = osdop.Done
	NotYet = osdop.NotYet
	Failed = osdop.Failed
)

// ExitCode is the exit code of outcome.
func ExitCode(outcome string) int { return osdop.ExitCode(outcome) }

// OutcomeOfExit is the outcome an exit code stands for, for a Job whose pod
// left no termination message.
func OutcomeOfExit(code int32) string { return osdop.OutcomeOfExit(code) }

// MinVersion is the oldest Ceph release the migration runs on: the first
// Tentacle release with AES-256 keys, `auth rotate`, pending keys and the
// daemons' rotate-key commands.
var MinVersion = ceph.Version{Major: 20, Minor: 2, Patch: 4}

// Result is the termination message of agent cephx.
type Result struct {
	Step    string `json:"step"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
	// Changed counts the entities whose key this run replaced.
	Changed int `json:"changed,omitempty"`
	// Left counts the entities that still have an AES key (finish).
	Left int `json:"left,omitempty"`
}

// Encode renders r as the termination message, at most 4096 bytes.
func Encode(r Result) []byte {
	r.Message = shorten(r.Message, 3500)
	out, _ := json.Marshal(r)
	return out
}

// Ceph runs one ceph command (the words, with --format json) and returns
// its standard output; input, when not nil, is given as `-i -`.
type Ceph func(ctx context.Context, input []byte, words ...string) ([]byte, error)

// Entity is one key the operator holds: the entity's name, its AES-256 key
// and the capabilities the operator gave it, from the identity Secret.
type Entity struct {
	Name string
	Key  string
	// Caps are used only for an entity Ceph does not list (mon. in a
	// cluster created before Ceph kept it in its database); one it lists
	// keeps the capabilities it has, which an administrator may have
	// changed.
	Caps map[string]string
}

// ParseKeyring reads a keyring holding one entity, as ceph-authtool and the
// operator write them.
func ParseKeyring(text string) (Entity, error) {
	var e Entity
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			if e.Name != "" {
				return Entity{}, fmt.Errorf("the keyring holds more than one entity (%s, %s)", e.Name, line)
			}
			e.Name = strings.TrimSuffix(strings.TrimPrefix(line, "["), "]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || e.Name == "" {
				return Entity{}, fmt.Errorf("cannot read keyring line %q", shorten(line, 80))
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			switch {
			case k == "key":
				e.Key = v
			case strings.HasPrefix(k, "caps "):
				if e.Caps == nil {
					e.Caps = map[string]string{}
				}
				e.Caps[strings.TrimSpace(strings.TrimPrefix(k, "caps "))] = v
			}
		}
	}
	if e.Name == "" || e.Key == "" {
		return Entity{}, fmt.Errorf("the keyring names no entity with a key")
	}
	t, err := ceph.ValidateCephxKey(e.Key)
	switch {
	case err != nil:
		return Entity{}, fmt.Errorf("the key of %s: %w", e.Name, err)
	case t != ceph.KeyTypeAES256K:
		return Entity{}, fmt.Errorf("the key of %s is not an AES-256 key but of type %s", e.Name, t)
	}
	return e, nil
}

// MgrEntity is the manager's entity, which is told its new key while it
// runs.
const MgrEntity = "mgr.a"

// AdminEntity is the administrator's entity, imported last: once its key
// changed, only the new keyring reaches the monitors.
const AdminEntity = "client.admin"

// Import gives the entities the operator holds their AES-256 keys. cur runs
// as client.admin with the keyring the operator mounts now, next with the
// AES-256 one; entities must end with client.admin. A run after a run that
// changed client.admin finds the new keyring working and is done.
func Import(ctx context.Context, cur, next Ceph, entities []Entity) Result {
	res := Result{Step: StepImport}
	if len(entities) == 0 || entities[len(entities)-1].Name != AdminEntity {
		res.Outcome, res.Message = Failed, "the entities to import must end with "+AdminEntity
		return res
	}
	admin := entities[len(entities)-1]
	if _, err := cur(ctx, nil, "versions"); err != nil {
		// The current keyring no longer works: a run before this one
		// changed client.admin, the last step.
		if key, nerr := entityKey(ctx, next, AdminEntity); nerr == nil && key == admin.Key {
			res.Outcome, res.Message = Done, "client.admin already has its AES-256 key: every key the operator holds was replaced"
			return res
		}
		res.Outcome, res.Message = Failed, err.Error()
		return res
	}
	if why, err := oldDaemons(ctx, cur); err != nil || why != "" {
		res.Outcome, res.Message = NotYet, why
		if err != nil {
			res.Outcome, res.Message = Failed, err.Error()
		}
		return res
	}
	if err := allowAES256K(ctx, cur); err != nil {
		res.Outcome, res.Message = Failed, err.Error()
		return res
	}
	var did []string
	for _, e := range entities {
		changed, err := importKey(ctx, cur, e)
		if err != nil {
			res.Outcome, res.Message = Failed, fmt.Sprintf("%s (done before it: %s)", err, listOrNone(did))
			return res
		}
		if !changed {
			continue
		}
		res.Changed++
		did = append(did, e.Name)
		if e.Name == MgrEntity {
			// Best effort: a manager that is down, or that misses it,
			// starts with the new keyring after the operator rolls it.
			if _, err := cur(ctx, []byte(e.Key), "tell", e.Name, "rotate-key"); err != nil {
				did[len(did)-1] += " (not told at once: " + shorten(err.Error(), 200) + ")"
			}
		}
	}
	key, err := entityKey(ctx, next, AdminEntity)
	if err != nil || key != admin.Key {
		res.Outcome, res.Message = Failed, fmt.Sprintf("client.admin's new keyring does not reach the monitors after the import: %v", err)
		return res
	}
	res.Outcome = Done
	res.Message = fmt.Sprintf("AES-256 keys given to %s; every key the operator holds is AES-256", listOrNone(did))
	return res
}

// importKey gives entity e its key, keeping the capabilities Ceph has for
// it (or, for an entity Ceph does not list, e.Caps). It reports whether
// the key changed.
func importKey(ctx context.Context, run Ceph, e Entity) (bool, error) {
	out, err := run(ctx, nil, "auth", "get", e.Name)
	caps := e.Caps
	switch {
	case err != nil && !notFound(err):
		return false, fmt.Errorf("reading %s: %w", e.Name, err)
	case err == nil:
		info, perr := parseAuthGet(out)
		if perr != nil {
			return false, fmt.Errorf("reading %s: %w", e.Name, perr)
		}
		if info.Key == e.Key {
			return false, nil
		}
		caps = info.Caps
	}
	if _, err := run(ctx, []byte(keyring(e.Name, e.Key, caps)), "auth", "import"); err != nil {
		return false, fmt.Errorf("importing the AES-256 key of %s: %w", e.Name, err)
	}
	return true, nil
}

// authInfo is one entity of `ceph auth get`.
type authInfo struct {
	Entity     string            `json:"entity"`
	Key        string            `json:"key"`
	PendingKey string            `json:"pending_key"`
	Caps       map[string]string `json:"caps"`
}

func parseAuthGet(out []byte) (authInfo, error) {
	var list []authInfo
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 1 {
		return authInfo{}, fmt.Errorf("cannot read `ceph auth get`: %q", shorten(string(out), 200))
	}
	return list[0], nil
}

// entityKey is name's current key.
func entityKey(ctx context.Context, run Ceph, name string) (string, error) {
	out, err := run(ctx, nil, "auth", "get", name)
	if err != nil {
		return "", err
	}
	info, err := parseAuthGet(out)
	return info.Key, err
}

// notFound reports whether err is Ceph's "no such entity" (ENOENT).
func notFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ENOENT")
}

// keyring renders a keyring with key and every capability in caps, in a
// stable order.
func keyring(entity, key string, caps map[string]string) string {
	out := fmt.Sprintf("[%s]\n\tkey = %s\n", entity, key)
	names := make([]string, 0, len(caps))
	for n := range caps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out += fmt.Sprintf("\tcaps %s = %q\n", n, caps[n])
	}
	return out
}

// versionOf finds the version in a `ceph versions` key.
var versionOf = regexp.MustCompile(`ceph version (\d+\.\d+\.\d+)`)

// oldDaemons says which daemons run a release before MinVersion ("" when
// none does), from `ceph versions`.
func oldDaemons(ctx context.Context, run Ceph) (string, error) {
	out, err := run(ctx, nil, "versions")
	if err != nil {
		return "", err
	}
	var byType map[string]map[string]int
	if err := json.Unmarshal(out, &byType); err != nil {
		return "", fmt.Errorf("cannot read `ceph versions`: %q", shorten(string(out), 200))
	}
	var old []string
	for typ, versions := range byType {
		if typ == "overall" {
			continue
		}
		for v, n := range versions {
			m := versionOf.FindStringSubmatch(v)
			if m == nil {
				return "", fmt.Errorf("no Ceph version in %q", shorten(v, 200))
			}
			parsed, err := ceph.ParseVersion(m[1])
			if err != nil {
				return "", err
			}
			if parsed.Less(MinVersion) {
				old = append(old, fmt.Sprintf("%d %s on %s", n, typ, m[1]))
			}
		}
	}
	if len(old) == 0 {
		return "", nil
	}
	sort.Strings(old)
	return fmt.Sprintf("every daemon must run Ceph %s or later first; %s", MinVersion.Number(), strings.Join(old, ", ")), nil
}

// monAuth is the cephx part of `ceph mon dump`.
type monAuth struct {
	Allowed []struct {
		Name string `json:"name"`
	} `json:"auth_allowed_ciphers"`
	Preferred struct {
		Name string `json:"name"`
	} `json:"auth_preferred_cipher"`
	Service struct {
		Name string `json:"name"`
	} `json:"auth_service_cipher"`
}

func (m monAuth) allowed() []string {
	var out []string
	for _, a := range m.Allowed {
		out = append(out, a.Name)
	}
	return out
}

func readMonAuth(ctx context.Context, run Ceph) (monAuth, error) {
	out, err := run(ctx, nil, "mon", "dump")
	if err != nil {
		return monAuth{}, err
	}
	var m monAuth
	if err := json.Unmarshal(out, &m); err != nil {
		return monAuth{}, fmt.Errorf("cannot read `ceph mon dump`: %q", shorten(string(out), 200))
	}
	return m, nil
}

// allowAES256K makes the monitors accept AES-256 keys (an upgraded
// cluster's do already) and create them by default.
func allowAES256K(ctx context.Context, run Ceph) error {
	m, err := readMonAuth(ctx, run)
	if err != nil {
		return err
	}
	if allowed := m.allowed(); !slices.Contains(allowed, aes256k) {
		if _, err := run(ctx, nil, "mon", "set", "auth_allowed_ciphers", strings.Join(append(allowed, aes256k), ",")); err != nil {
			return err
		}
	}
	if m.Preferred.Name != aes256k {
		if _, err := run(ctx, nil, "mon", "set", "auth_preferred_cipher", aes256k); err != nil {
			return err
		}
	}
	return nil
}

const aes256k = "aes256k"

// BuiltinUsers are the users Ceph's monitors create for deployment tools
// (ceph-deploy, cephadm's predecessors): no daemon of the operator uses
// them, so finish gives them new keys that nobody needs to learn.
var BuiltinUsers = []string{
	"client.bootstrap-mds", "client.bootstrap-mgr", "client.bootstrap-rbd",
	"client.bootstrap-rbd-mirror", "client.bootstrap-rgw",
}

// FinishOptions tune finish.
type FinishOptions struct {
	// MaxOSDs bounds the OSD keys one run replaces (each takes three
	// commands); the rest are left for the next run.
	MaxOSDs int
	// ReplaceRotating wipes the rotating service keys at the end, so that
	// the monitors make AES-256 ones at once instead of within three
	// service ticket lifetimes.
	ReplaceRotating bool
}

// secret is one entity of `ceph auth dump-keys`.
type secret struct {
	Entity struct {
		Type string `json:"type_str"`
		ID   string `json:"id"`
	} `json:"entity"`
	Auth struct {
		Key struct {
			Type string `json:"type_str"`
		} `json:"key"`
	} `json:"auth"`
}

func (s secret) name() string {
	if s.Entity.Type == "mon" && s.Entity.ID == "" {
		return "mon."
	}
	return s.Entity.Type + "." + s.Entity.ID
}

// rotating is one service's rotating keys in `ceph auth dump-keys`.
type rotating struct {
	Entity struct {
		Type string `json:"type_str"`
	} `json:"entity"`
	Secrets struct {
		Keys []rotatingKey `json:"keys"`
	} `json:"secrets"`
}

type rotatingKey struct {
	Expiring struct {
		Key struct {
			Type string `json:"type_str"`
		} `json:"key"`
	} `json:"expiring_key"`
}

type dumpKeys struct {
	Data struct {
		Secrets  []secret   `json:"secrets"`
		Rotating []rotating `json:"rotating_secrets"`
	} `json:"data"`
}

// KeyTypes reads `ceph auth dump-keys --format json`: each entity's key
// type ("aes", "aes256k"), and whether a rotating service key is not
// AES-256.
func KeyTypes(out []byte) (map[string]string, bool, error) {
	var d dumpKeys
	if err := json.Unmarshal(out, &d); err != nil || len(d.Data.Secrets) == 0 {
		return nil, false, fmt.Errorf("cannot read `ceph auth dump-keys`: %q", shorten(string(out), 200))
	}
	types := make(map[string]string, len(d.Data.Secrets))
	for _, s := range d.Data.Secrets {
		types[s.name()] = s.Auth.Key.Type
	}
	old := false
	for _, r := range d.Data.Rotating {
		for _, k := range r.Secrets.Keys {
			if k.Expiring.Key.Type != aes256k {
				old = true
			}
		}
	}
	return types, old, nil
}

// aesEntities lists the entities whose key is not AES-256, and whether a
// rotating service key is.
func aesEntities(ctx context.Context, run Ceph) ([]string, bool, error) {
	out, err := run(ctx, nil, "auth", "dump-keys")
	if err != nil {
		return nil, false, err
	}
	types, rotating, err := KeyTypes(out)
	if err != nil {
		return nil, false, err
	}
	var names []string
	for n, t := range types {
		if t != aes256k {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, rotating, nil
}

// serviceEntity reports whether name is a daemon's entity.
func serviceEntity(name string) bool {
	for _, p := range []string{"mon.", "mgr.", "osd.", "mds."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Finish replaces the keys that are left, then makes the monitors issue
// and accept AES-256 only. ceph runs as client.admin with its AES-256
// keyring.
func Finish(ctx context.Context, run Ceph, opts FinishOptions) Result {
	res := Result{Step: StepFinish}
	fail := func(err error) Result {
		res.Outcome, res.Message = Failed, err.Error()
		return res
	}
	if why, err := oldDaemons(ctx, run); err != nil || why != "" {
		if err != nil {
			return fail(err)
		}
		res.Outcome, res.Message = NotYet, why
		return res
	}
	// The pending keys Ceph makes for the OSDs are of its preferred type.
	if err := allowAES256K(ctx, run); err != nil {
		return fail(err)
	}
	left, _, err := aesEntities(ctx, run)
	if err != nil {
		return fail(err)
	}
	up, err := upOSDs(ctx, run)
	if err != nil {
		return fail(err)
	}
	var waiting, foreign, notes []string
	osds := 0
	for _, name := range left {
		switch {
		case strings.HasPrefix(name, "osd."):
			id, err := strconv.Atoi(strings.TrimPrefix(name, "osd."))
			if err != nil || !up[id] {
				waiting = append(waiting, name)
				continue
			}
			if opts.MaxOSDs > 0 && osds >= opts.MaxOSDs {
				continue
			}
			osds++
			if err := rotateOSD(ctx, run, name); err != nil {
				notes = append(notes, fmt.Sprintf("%s: %s", name, shorten(err.Error(), 300)))
				continue
			}
			res.Changed++
		case slices.Contains(BuiltinUsers, name):
			if _, err := run(ctx, nil, "auth", "rotate", name, "--key_type", aes256k); err != nil {
				notes = append(notes, fmt.Sprintf("%s: %s", name, shorten(err.Error(), 300)))
				continue
			}
			res.Changed++
		default:
			foreign = append(foreign, name)
		}
	}
	left, rotating, err := aesEntities(ctx, run)
	if err != nil {
		return fail(err)
	}
	res.Left = len(left)
	m, err := readMonAuth(ctx, run)
	if err != nil {
		return fail(err)
	}
	if !slices.ContainsFunc(left, serviceEntity) && m.Service.Name != aes256k {
		if _, err := run(ctx, nil, "mon", "set", "auth_service_cipher", aes256k); err != nil {
			return fail(err)
		}
	}
	if len(left) > 0 {
		var why []string
		if res.Changed > 0 {
			why = append(why, fmt.Sprintf("replaced %d keys", res.Changed))
		}
		if len(waiting) > 0 {
			why = append(why, fmt.Sprintf("waiting for %s to be up, to replace its key while it runs", listSome(waiting)))
		}
		if len(foreign) > 0 {
			why = append(why, fmt.Sprintf("%s still %s an AES key: the operator does not hold it and will not replace it, "+
				"since its users would be locked out. Replace it (ceph auth rotate <entity> --key_type aes256k) and give its users the new key, "+
				"or remove it (ceph auth rm <entity>); the monitors keep accepting AES keys until then", listSome(foreign), hasOrHave(foreign)))
		}
		if len(notes) > 0 {
			why = append(why, "failed: "+strings.Join(notes, "; "))
		}
		if rest := len(left) - len(waiting) - len(foreign); rest > 0 && len(notes) == 0 {
			why = append(why, fmt.Sprintf("%d more to replace in the next run", rest))
		}
		res.Outcome, res.Message = NotYet, fmt.Sprintf("%d entities still have an AES key: %s", len(left), strings.Join(why, "; "))
		return res
	}
	if allowed := m.allowed(); len(allowed) != 1 || allowed[0] != aes256k {
		if _, err := run(ctx, nil, "mon", "set", "auth_allowed_ciphers", aes256k); err != nil {
			return fail(err)
		}
	}
	res.Outcome = Done
	res.Message = "every entity has an AES-256 key and the monitors accept AES-256 keys only"
	if res.Changed > 0 {
		res.Message = fmt.Sprintf("replaced %d keys; %s", res.Changed, res.Message)
	}
	switch {
	case rotating && opts.ReplaceRotating:
		if _, err := run(ctx, nil, "auth", "wipe-rotating-service-keys"); err != nil {
			return fail(fmt.Errorf("%s, but replacing the rotating service keys failed: %w", res.Message, err))
		}
		res.Message += "; the rotating service keys were replaced"
	case rotating:
		res.Message += "; the monitors replace their AES rotating service keys as each expires (within three times auth_service_ticket_ttl, 3 h by default)"
	}
	return res
}

// upOSDs are the ids of the OSDs the OSD map says are up.
func upOSDs(ctx context.Context, run Ceph) (map[int]bool, error) {
	out, err := run(ctx, nil, "osd", "dump")
	if err != nil {
		return nil, err
	}
	var d struct {
		OSDs []struct {
			ID int `json:"osd"`
			Up int `json:"up"`
		} `json:"osds"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("cannot read `ceph osd dump`: %q", shorten(string(out), 200))
	}
	up := map[int]bool{}
	for _, o := range d.OSDs {
		if o.Up == 1 {
			up[o.ID] = true
		}
	}
	return up, nil
}

// rotateOSD replaces a running OSD's key: a pending key (the same one
// again when a run before this one made it) goes into its BlueStore label
// first, where its next activation reads it, then to the running daemon,
// whose next authentication with it makes it the current key.
func rotateOSD(ctx context.Context, run Ceph, name string) error {
	out, err := run(ctx, nil, "auth", "get-or-create-pending", name)
	if err != nil {
		return err
	}
	info, err := parseAuthGet(out)
	if err != nil {
		return err
	}
	t, err := keyTypeName(info.PendingKey)
	switch {
	case err != nil:
		return fmt.Errorf("the pending key Ceph made for %s: %w", name, err)
	case t != aes256k:
		return fmt.Errorf("the pending key Ceph made for %s is of type %s, not AES-256: the monitors prefer %s", name, t, t)
	}
	if _, err := run(ctx, []byte(info.PendingKey), "tell", name, "rotate-stored-key"); err != nil {
		return fmt.Errorf("writing the new key to its BlueStore label: %w", err)
	}
	if _, err := run(ctx, []byte(info.PendingKey), "tell", name, "rotate-key"); err != nil {
		return fmt.Errorf("handing the new key to the running OSD: %w", err)
	}
	key, err := entityKey(ctx, run, name)
	if err != nil {
		return err
	}
	if key == info.PendingKey {
		return nil
	}
	// The OSD has not authenticated with it yet.
	if _, err := run(ctx, nil, "auth", "commit-pending", name); err != nil {
		if key, kerr := entityKey(ctx, run, name); kerr == nil && key == info.PendingKey {
			return nil
		}
		return fmt.Errorf("making the new key current: %w", err)
	}
	return nil
}

// keyTypeName names the type of a key.
func keyTypeName(key string) (string, error) {
	t, err := ceph.ValidateCephxKey(key)
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

func hasOrHave(names []string) string {
	if len(names) == 1 {
		return "has"
	}
	return "have"
}

// listSome lists names, at most ten of them.
func listSome(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:10], ", "), len(names)-10)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return listSome(names)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
