package realnode

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sysproc "github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

// proc is a process the harness started, as recorded in the state file. The
// start time tells it apart from a later process that reuses the PID, so
// teardown never signals a process it did not start.
//
// tests/framework/controlplane's processes live and die with the Go process
// that started them; these outlive `cluster-up`, so they are started
// detached (proc.StartDetached) and found again through the state file.
type proc struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Args []string `json:"args"`
	// StartTime is field 22 of /proc/PID/stat (clock ticks since boot).
	StartTime uint64 `json:"startTime"`
	Log       string `json:"log"`
}

// startDetached starts bin in its own session, with output appended to
// logPath, and returns without waiting for it. With wrap set (nsenter and
// its arguments, ending in "--"), bin runs in the namespaces wrap enters
// (nsenter execs bin, so the recorded PID is bin's). extra are passed as
// file descriptors 3, 4, ...
func startDetached(name string, wrap []string, bin string, args, env []string, extra []*os.File, logPath string) (proc, error) {
	cmd := append(append(append([]string{}, wrap...), bin), args...)
	// Its own session: a Ctrl-C of `make cluster-up` or of a test does not
	// reach it; only teardown stops it.
	pid, startTime, err := sysproc.StartDetached(sysproc.Options{Name: name, Bin: mustLookPath(cmd[0]), Args: cmd[1:], Env: env, ExtraFiles: extra, LogPath: logPath, Append: true})
	p := proc{Name: name, PID: pid, Args: cmd, Log: logPath, StartTime: startTime}
	return p, err
}

// role is what a recorded process is: its name without the node it runs
// for ("kubelet@realnode-2" is a kubelet).
func (p proc) role() string {
	r, _, _ := strings.Cut(p.Name, "@")
	return r
}

// alive tells whether the recorded process still runs (a zombie does not).
func (p proc) alive() bool {
	st, err := sysproc.ReadStat(p.PID)
	return err == nil && st.StartTime == p.StartTime && st.State != 'Z'
}

// stop sends SIGTERM, waits up to grace, then SIGKILL, and reaps the
// process when it is a child of this one (in a test).
func (p proc) stop(grace time.Duration) {
	if !p.alive() {
		reap(p.PID)
		return
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(p, grace) {
		return
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	waitGone(p, 10*time.Second)
}

func waitGone(p proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		reap(p.PID)
		if !p.alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reap collects pid's exit status if it is this process's child; otherwise
// it does nothing.
func reap(pid int) { _, _ = syscall.Wait4(pid, nil, syscall.WNOHANG, nil) }

// state is what a running cluster records in Options.Dir/state.json: the
// processes to stop, and what the machine looked like before, so teardown
// restores exactly that.
type state struct {
	Node string `json:"node"`
	// Nodes is how many nodes the cluster has (0 in a state written
	// before clusters had several: one).
	Nodes     int       `json:"nodes,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	LogDir    string    `json:"logDir"`
	Procs     []proc    `json:"procs"`
	// Sysctls the kubelet and the pod network may change, as they were.
	Sysctls map[string]string `json:"sysctls"`
	// Chains lists, per "command table" (e.g. "iptables nat"), the chains
	// that existed before the cluster started.
	Chains map[string][]string `json:"chains"`
	// CreatedDirs are the hostDirs that did not exist before.
	CreatedDirs []string `json:"createdDirs"`
}

func readState(path string) (*state, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &s, nil
}

func (s *state) write(path string) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// descendants returns every process below pid, deepest first.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := sysproc.ReadStat(n); err == nil {
			children[st.PPID] = append(children[st.PPID], n)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			walk(c)
			out = append(out, c)
		}
	}
	walk(pid)
	return out
}

// processesMentioning returns the PIDs whose command line contains needle
// (a path unique to this cluster, such as its containerd socket).
func processesMentioning(needle string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(raw), needle) {
			if st, err := sysproc.ReadStat(n); err == nil && st.State != 'Z' {
				out = append(out, n)
			}
		}
	}
	return out
}
