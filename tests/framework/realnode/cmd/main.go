// Command cmd starts and stops the real node of tests/framework/realnode; `make
// cluster-up` and `make cluster-down` run it as root:
//
//	go run ./tests/framework/realnode/cmd up [-nodes N] start N nodes, default 1 (or report the running cluster)
//	go run ./tests/framework/realnode/cmd down [-purge] stop and clean up (-purge also drops imported images)
//	go run ./tests/framework/realnode/cmd status        exit 0 when the node is up
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "the node's directory (default <repo>/bin/realnode)")
	purge := fs.Bool("purge", false, "down: also remove the imported images")
	nodes := fs.Int("nodes", 1, "up: how many nodes")
	_ = fs.Parse(os.Args[2:])
	o := realnode.Options{Dir: *dir, Nodes: *nodes, Log: os.Stdout}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	switch os.Args[1] {
	case "up":
		c, err := realnode.Up(ctx, o)
		if err != nil {
			fail(err)
		}
		if c.AlreadyRunning {
			fmt.Printf("realnode: already up (%d node(s), logs in %s)\n", len(c.Nodes), c.LogDir)
		} else {
			fmt.Printf("realnode: up in %.0fs\n", time.Since(start).Seconds())
		}
		fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
		for _, n := range c.Nodes {
			fmt.Printf("node %s (%s): images: make images-import CONTAINERD_ADDRESS=%s; shell: nsenter --net=%s", n.Name, n.IP, n.ContainerdSocket, n.Netns)
			if n.Mntns != "" {
				fmt.Printf(" --mount=%s", n.Mntns)
			}
			fmt.Println()
		}
	case "down":
		if err := realnode.Down(ctx, o); err != nil {
			fail(err)
		}
		if *purge {
			if err := realnode.PurgeImages(o); err != nil {
				fail(err)
			}
		}
		fmt.Printf("realnode: down in %.0fs\n", time.Since(start).Seconds())
	case "status":
		c, err := realnode.Load(ctx, o)
		if err != nil {
			fail(err)
		}
		fmt.Printf("realnode: up (node %s, KUBECONFIG=%s, logs in %s)\n", c.Node, c.Kubeconfig, c.LogDir)
	default:
		usage()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "realnode:", err)
	os.Exit(1)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: realnode up [-nodes N]|down [-purge]|status [-dir DIR]")
	os.Exit(2)
}
