package controlplane

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is a control-plane process started by this package.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs bin with args, logging to <dir>/<name>.log.
func start(dir, name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so a Ctrl-C of the demo reaches the demo, which
	// then stops the processes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = log.Close(); close(p.done) }()
	return p, nil
}

// stop asks the process to terminate and kills it after a grace period.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
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
		case <-p.done:
			return fmt.Errorf("%s exited at start; see %s", p.name, filepath.Join(c.Dir, p.name+".log"))
		default:
		}
	}
	return nil
}
