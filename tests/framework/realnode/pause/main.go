// Command pause is the real node's pod sandbox image: the first process of
// every pod, which holds the pod's namespaces and does nothing else. Like
// Kubernetes' own pause it reaps the zombies it inherits as PID 1 and exits
// on SIGINT or SIGTERM. It is built statically and packed as an image by
// tests/framework/realnode, since there is no registry to pull one from.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
