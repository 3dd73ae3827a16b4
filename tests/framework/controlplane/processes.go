package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

// stopGrace is how long a control-plane process has to exit after SIGTERM.
const stopGrace = 10 * time.Second

// start runs bin with args, logging to <dir>/<name>.log, in its own process
// group, so a Ctrl-C of the demo reaches the demo, which then stops the
// processes in order.
func start(dir, name, bin string, args ...string) (*proc.Process, error) {
	return proc.Start(proc.Options{Name: name, Bin: bin, Args: args, LogPath: filepath.Join(dir, name+".log"), Group: true})
}

// startControllers starts kube-controller-manager, kube-scheduler and kwok
// against the API server, all talking to loopback only. certDir holds the
// API server's service-account signing key; extra holds flags to add, by
// process name.
func (c *ControlPlane) startControllers(binDir, certDir string, extra map[string][]string) error {
	caFile := filepath.Join(c.Dir, "ca.crt")
	if err := os.WriteFile(caFile, c.Config.CAData, 0o644); err != nil {
		return fmt.Errorf("writing CA: %w", err)
	}
	specs := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--service-account-private-key-file=" + filepath.Join(certDir, "sa-signer.key"),
			"--root-ca-file=" + caFile,
			"--use-service-account-credentials=false",
			// Simulated nodes have nothing to evict; a slow test machine
			// should not see them tainted and emptied.
			"--node-monitor-grace-period=5m",
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=0",
		}},
		{"kwok", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--manage-all-nodes=true",
			// Simulated pod addresses are data, never dialled; should one
			// be, it lands on loopback.
			"--cidr=127.200.0.0/16",
			"--node-ip=127.0.0.1",
			"--server-address=127.0.0.1:0",
			"--config=" + filepath.Join(binDir, "kwok-stages.yaml"),
		}},
	}
	for _, s := range specs {
		p, err := start(c.Dir, s.name, filepath.Join(binDir, s.name), append(s.args, extra[s.name]...)...)
		if err != nil {
			return err
		}
		c.procs = append(c.procs, p)
	}
	// A bad flag or port makes a process exit at once; say so instead of
	// letting the caller wait for pods that never come.
	time.Sleep(time.Second)
	for _, p := range c.procs {
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited at start; see %s", p.Name, p.LogPath)
		default:
		}
	}
	return nil
}
