// Command udevdb keeps a udev database for the real node on a machine
// without a udev daemon: for every block device the kernel shows in
// /sys/class/block (whole disks and partitions, loop devices included) it
// keeps an entry <dir>/b<major>:<minor>, as the daemon would, and removes
// the entries it made once their device is gone. The entries are empty,
// which is a valid record that says nothing about the device: tools that
// refuse a device without a record (ceph-volume from Ceph 20 does) accept
// it, and the operator's discovery, which reads what a record says, learns
// nothing from it and relies on its own probes.
//
// It looks again on every block uevent the kernel sends and, should one be
// missed, once a second. The harness (tests/framework/realnode) mounts a
// tmpfs of its own on /run/udev for the node's lifetime and runs this
// program on its data directory; it never writes the machine's own
// database.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	dir := flag.String("dir", "", "the udev database's data directory to keep (e.g. /run/udev/data)")
	sysBlock := flag.String("sys", "/sys/class/block", "where the kernel lists block devices")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: udevdb -dir <udev data directory>")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	events := make(chan struct{}, 1)
	if err := watchUevents(events); err != nil {
		// Polling alone still keeps the database, a second late at most.
		log.Printf("no uevents (%v); looking once a second", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	made := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := syncEntries(*sysBlock, *dir, made); err != nil {
			log.Print(err)
		}
		select {
		case <-stop:
			return
		case <-events:
		case <-tick.C:
		}
	}
}

// syncEntries makes an entry for every device in sysBlock that has none and
// removes the entries in made whose device is gone.
func syncEntries(sysBlock, dir string, made map[string]bool) error {
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "dev"))
		if err != nil {
			continue // gone meanwhile
		}
		want["b"+strings.TrimSpace(string(raw))] = e.Name()
	}
	var errs []error
	for entry, name := range want {
		p := filepath.Join(dir, entry)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		switch {
		case errors.Is(err, fs.ErrExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("entry of %s: %w", name, err))
		default:
			errs = append(errs, f.Close())
			made[entry] = true
			log.Printf("%s: entry %s", name, entry)
		}
	}
	for entry := range made {
		if _, ok := want[entry]; !ok {
			if err := os.Remove(filepath.Join(dir, entry)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			delete(made, entry)
			log.Printf("removed entry %s: its device is gone", entry)
		}
	}
	return errors.Join(errs...)
}

// watchUevents signals events (without blocking) on every block uevent the
// kernel broadcasts.
func watchUevents(events chan<- struct{}) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		_ = unix.Close(fd)
		return err
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
					// ENOBUFS: events were lost; look anyway.
					notify(events)
					continue
				}
				log.Printf("reading uevents: %v", err)
				return
			}
			if strings.Contains(string(buf[:n]), "\x00SUBSYSTEM=block\x00") {
				notify(events)
			}
		}
	}()
	return nil
}

func notify(events chan<- struct{}) {
	select {
	case events <- struct{}{}:
	default:
	}
}
