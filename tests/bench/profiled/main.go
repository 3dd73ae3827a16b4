// Command profiled runs the operator's manager exactly as `ceph-operator
// manager` does, and writes a CPU profile of the whole run to the file named
// by $BENCH_CPUPROFILE, and a heap profile next to it (<file>.heap) on
// SIGUSR1, which the benchmark sends when the operator holds everything. The scale
// benchmark builds it instead of ./cmd when CEPH_OPERATOR_BENCH_PROFILE is
// set, to find where the operator spends its time.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ceph-operator/ceph-operator/internal/manager"
)

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) < 2 || os.Args[1] != "manager" {
		fmt.Fprintln(os.Stderr, "usage: profiled manager [flags]")
		return 2
	}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	opts := manager.DefaultOptions()
	opts.BindFlags(fs)
	config.RegisterFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(os.Args[2:]); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("profiled")

	path := os.Getenv("BENCH_CPUPROFILE")
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			log.Error(err, "Creating CPU profile")
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error(err, "Starting CPU profile")
			return 1
		}
		defer pprof.StopCPUProfile()
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				if f, err := os.Create(path + ".heap"); err == nil {
					runtime.GC()
					_ = pprof.WriteHeapProfile(f)
					_ = f.Close()
				}
			}
		}()
	}
	cfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Loading Kubernetes client configuration")
		return 1
	}
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		log.Error(err, "Setting up the manager")
		return 1
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Running the manager")
		return 1
	}
	return 0
}
