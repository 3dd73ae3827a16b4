// Package uevent reads the kernel's uevents (NETLINK_KOBJECT_UEVENT): the
// discovery agent rescans its node's disks when a block device appears,
// changes or goes. It is a package of its own, without Kubernetes
// dependencies, so that its parser is fuzzed in a small test binary.
package uevent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Event is one kernel object event as broadcast on the
// NETLINK_KOBJECT_UEVENT socket: "add@/devices/…" followed by NUL-separated
// KEY=VALUE pairs.
type Event struct {
	// Action is add, remove, change, move, online, offline, bind or unbind.
	Action string
	// DevPath is the sysfs path of the object, without the /sys prefix.
	DevPath string
	// Subsystem is the kernel subsystem, "block" for block devices.
	Subsystem string
	// DevName is the device node name below /dev, e.g. "sdb" or "loop3".
	DevName string
	// DevType is "disk" or "partition" for block devices.
	DevType string
	// Seqnum is the kernel's event sequence number, 0 if absent.
	Seqnum uint64
	// Env holds every KEY=VALUE pair of the message.
	Env map[string]string
}

// maxSize bounds a message; the kernel's own limit is 2048 bytes of
// environment plus the header, so anything longer is not a kernel uevent.
const maxSize = 64 * 1024

// errNotKernelUevent marks messages that are well-formed but come from udevd
// (the "libudev" binary format) rather than from the kernel.
var errNotKernelUevent = errors.New("not a kernel uevent")

// Parse parses one kernel uevent datagram. The header "action@devpath"
// must agree with the ACTION and DEVPATH pairs when those are present,
// because a message that contradicts itself cannot be trusted to name the
// right device. Messages in udevd's binary format are rejected: the agent
// listens to the kernel group only.
func Parse(msg []byte) (Event, error) {
	if len(msg) == 0 {
		return Event{}, errors.New("empty uevent")
	}
	if len(msg) > maxSize {
		return Event{}, fmt.Errorf("uevent of %d bytes exceeds %d", len(msg), maxSize)
	}
	if bytes.HasPrefix(msg, []byte("libudev\x00")) {
		return Event{}, errNotKernelUevent
	}
	fields := bytes.Split(bytes.TrimRight(msg, "\x00"), []byte{0})
	header := string(fields[0])
	action, devPath, ok := strings.Cut(header, "@")
	if !ok || action == "" || devPath == "" || strings.Contains(header, "=") {
		return Event{}, fmt.Errorf("uevent header %q is not action@devpath", truncate(header, 64))
	}
	ev := Event{Action: action, DevPath: devPath, Env: map[string]string{}}
	for _, f := range fields[1:] {
		if len(f) == 0 {
			continue
		}
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			return Event{}, fmt.Errorf("uevent field %q is not KEY=VALUE", truncate(string(f), 64))
		}
		ev.Env[k] = v
	}
	if a, ok := ev.Env["ACTION"]; ok && a != action {
		return Event{}, fmt.Errorf("uevent header action %q disagrees with ACTION=%q", action, truncate(a, 64))
	}
	if p, ok := ev.Env["DEVPATH"]; ok && p != devPath {
		return Event{}, fmt.Errorf("uevent header path %q disagrees with DEVPATH=%q", truncate(devPath, 64), truncate(p, 64))
	}
	ev.Subsystem = ev.Env["SUBSYSTEM"]
	ev.DevName = ev.Env["DEVNAME"]
	ev.DevType = ev.Env["DEVTYPE"]
	if s, ok := ev.Env["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Event{}, fmt.Errorf("uevent SEQNUM %q is not a number", truncate(s, 64))
		}
		ev.Seqnum = n
	}
	return ev, nil
}

// AffectsBlockDevices reports whether the event can change the node's disk
// inventory: an add, remove or change of a block device or partition.
// Other actions (bind, online, …) and other subsystems are noise here.
func (e Event) AffectsBlockDevices() bool {
	if e.Subsystem != "block" {
		return false
	}
	switch e.Action {
	case "add", "remove", "change":
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Listener delivers kernel uevents. It is an interface so the agent's
// loop can be tested without a netlink socket.
type Listener interface {
	// Listen sends every parsed uevent to events until ctx is done, then
	// returns nil. It returns an error at once if it cannot start (for
	// example without the privilege to open the socket) and later only if
	// receiving fails for good.
	Listen(ctx context.Context, events chan<- Event) error
}

// NetlinkListener is the real Listener: a NETLINK_KOBJECT_UEVENT
// socket bound to the kernel's multicast group 1.
type NetlinkListener struct {
	// ReceiveBufferBytes sizes the socket's receive buffer so that a burst
	// (a whole JBOD appearing) is not dropped; 0 means 4 MiB.
	ReceiveBufferBytes int
}

// Listen implements Listener.
func (l NetlinkListener) Listen(ctx context.Context, events chan<- Event) error {
	f, err := l.open()
	if err != nil {
		return err
	}
	// Closing the file unblocks the pending Read: the socket is
	// non-blocking and registered with Go's poller by os.NewFile.
	stop := context.AfterFunc(ctx, func() { _ = f.Close() })
	defer func() {
		if stop() {
			_ = f.Close()
		}
	}()
	buf := make([]byte, maxSize)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The kernel dropped events because we were slow; a
				// synthetic change makes the agent rescan, which
				// catches up with whatever was lost.
				if !send(ctx, events, Event{Action: "change", Subsystem: "block", DevPath: "(overflow)"}) {
					return nil
				}
				continue
			}
			return fmt.Errorf("receiving kernel uevents: %w", err)
		}
		ev, err := Parse(buf[:n])
		if err != nil {
			// One unparsable datagram is not a reason to stop listening.
			continue
		}
		if !send(ctx, events, ev) {
			return nil
		}
	}
}

// open creates and binds the socket.
func (l NetlinkListener) open() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("opening kernel uevent socket: %w", err)
	}
	size := l.ReceiveBufferBytes
	if size <= 0 {
		size = 4 << 20
	}
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN; fall back to the capped option.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("binding kernel uevent socket: %w", err)
	}
	return os.NewFile(uintptr(fd), "uevent"), nil
}

func send(ctx context.Context, events chan<- Event, ev Event) bool {
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
