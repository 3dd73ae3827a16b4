package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Opener is a host process that holds a device (or one of its partitions)
// open. Opens without O_EXCL (a raw-block PersistentVolume, a database on a
// raw device, a userspace storage engine) leave no other trace: no mount, no
// holder, and the exclusive-open test still succeeds.
type Opener struct {
	// PID is the process id as seen in the scanned /proc (the host's, with
	// hostPID).
	PID int
	// Command is /proc/PID/comm.
	Command string
	// Device is the kernel name of the disk or partition it holds.
	Device string
}

// String renders the opener for messages.
func (o Opener) String() string {
	return fmt.Sprintf("pid %d (%s) holds %s", o.PID, o.Command, o.Device)
}

// nodeKeys returns the keys that identify an inode for matching: its
// filesystem and inode number ("i:"), and for a block device node also its
// device number ("b:"). Fixture device nodes are regular files, so the
// inode key lets the same matching run on fixture trees.
func nodeKeys(st *unix.Stat_t) []string {
	keys := []string{fmt.Sprintf("i:%d:%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)}
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		keys = append(keys, fmt.Sprintf("b:%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	}
	return keys
}

// statKeys stats p (following links) and returns its keys, or nil.
func statKeys(p string) []string {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil
	}
	return nodeKeys(&st)
}

// deviceKeys maps every key of a disk's and its partitions' device numbers
// and device nodes to the kernel name it belongs to.
func (s Scanner) deviceKeys(d Device, parts []partInfo) map[string]string {
	keys := map[string]string{}
	if d.Major != 0 || d.Minor != 0 {
		keys[fmt.Sprintf("b:%d:%d", d.Major, d.Minor)] = d.KernelName
	}
	for _, k := range statKeys(s.path("dev", d.KernelName)) {
		keys[k] = d.KernelName
	}
	for _, p := range parts {
		if p.devNum != "" {
			keys["b:"+p.devNum] = p.name
		}
		for _, k := range statKeys(s.path("dev", p.name)) {
			keys[k] = p.name
		}
	}
	return keys
}

// procOpeners lists, per wanted key, the processes holding that inode
// open, from <root>/proc/*/fd. The scanner's own process is left out (it
// opens the devices it probes), as are other instances of this program and
// their blkid children (see below). An error is
// returned only when no other process's descriptors could be read at all:
// then nothing can be said about any device.
//
// Every descriptor whose target is a path is stat'ed (following the
// /proc magic link, so the inode is the one the process holds, whatever
// its mount namespace); sockets, pipes and anonymous inodes are skipped
// without a stat.
func (s Scanner) procOpeners(wanted map[string]bool) (map[string][]Opener, error) {
	procDir := s.path("proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", procDir, err)
	}
	self := os.Getpid()
	if l, err := os.Readlink(filepath.Join(procDir, "self")); err == nil {
		if n, err := strconv.Atoi(filepath.Base(l)); err == nil {
			self = n
		}
	}
	out := map[string][]Opener{}
	readable, denied := 0, 0
	var firstDenied error
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		fdDir := filepath.Join(procDir, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				denied++
				if firstDenied == nil {
					firstDenied = err
				}
			}
			// Otherwise the process exited meanwhile (or is a zombie).
			continue
		}
		readable++
		var comm string
		for _, fd := range fds {
			link := filepath.Join(fdDir, fd.Name())
			target, err := os.Readlink(link)
			// Sockets, pipes and anonymous inodes ("socket:[…]") are
			// never block devices.
			if err != nil || !strings.HasPrefix(target, "/") {
				continue
			}
			for _, k := range statKeys(link) {
				if !wanted[k] {
					continue
				}
				if comm == "" {
					comm = readComm(filepath.Join(procDir, e.Name()))
				}
				out[k] = append(out[k], Opener{PID: pid, Command: comm})
			}
		}
	}
	if readable == 0 && denied > 0 {
		return nil, fmt.Errorf("cannot tell which processes hold devices open: %w", firstDenied)
	}
	// Drop other scanners: processes running this same program (the
	// discovery agent and "agent prepare" both scan the host, and each
	// scan opens every device read-only for a moment) and blkid children
	// of this process or of such a process. What the program holds for
	// longer, it holds exclusively (prepare's protection of a disk), which
	// the exclusive-open check still reports.
	selfExe := readExe(filepath.Join(procDir, "self"))
	isScanner := func(pid int) bool {
		if pid == self {
			return true
		}
		exe := readExe(filepath.Join(procDir, strconv.Itoa(pid)))
		return selfExe != "" && exe == selfExe
	}
	for k, ops := range out {
		kept := ops[:0]
		for _, o := range ops {
			procPID := filepath.Join(procDir, strconv.Itoa(o.PID))
			if isScanner(o.PID) || (o.Command == "blkid" && isScanner(parentPID(procPID))) {
				continue
			}
			kept = append(kept, o)
		}
		if len(kept) == 0 {
			delete(out, k)
		} else {
			out[k] = kept
		}
	}
	return out, nil
}

// readExe returns the path of a process's executable as /proc shows it, or
// "" when it cannot be read (the process exited, or is a kernel thread).
func readExe(procPID string) string {
	exe, err := os.Readlink(filepath.Join(procPID, "exe"))
	if err != nil {
		return ""
	}
	return exe
}

// readComm returns a process's command name, or "?" if it exited.
func readComm(procPID string) string {
	b, err := os.ReadFile(filepath.Join(procPID, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// parentPID reads the parent pid from /proc/PID/stat, or -1.
func parentPID(procPID string) int {
	b, err := os.ReadFile(filepath.Join(procPID, "stat"))
	if err != nil {
		return -1
	}
	// The command is in parentheses and may contain spaces; the fields
	// after the last ')' are "state ppid …".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return n
}

// openersOf returns the processes holding any of a device's keys, one entry
// per process and held device, sorted by pid.
func openersOf(keys map[string]string, byKey map[string][]Opener) []Opener {
	seen := map[string]bool{}
	var out []Opener
	for k, name := range keys {
		for _, o := range byKey[k] {
			o.Device = name
			id := fmt.Sprintf("%d/%s", o.PID, name)
			if !seen[id] {
				seen[id] = true
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].PID != out[b].PID {
			return out[a].PID < out[b].PID
		}
		return out[a].Device < out[b].Device
	})
	return out
}

// loopBackingKeys identifies the file behind a loop device: from the
// kernel (LOOP_GET_STATUS64 gives the backing inode's device and number,
// whatever mount namespace set the loop up) and from stat of the
// backing_file path below the root (which also yields the device number
// when the backing file is a block device node, and is what works on
// fixture trees, whose nodes are regular files).
func (s Scanner) loopBackingKeys(d Device) []string {
	var keys []string
	node := s.path("dev", d.KernelName)
	if fd, err := unix.Open(node, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0); err == nil {
		if info, err := unix.IoctlLoopGetStatus64(fd); err == nil && (info.Device != 0 || info.Inode != 0) {
			keys = append(keys, fmt.Sprintf("i:%d:%d:%d", unix.Major(info.Device), unix.Minor(info.Device), info.Inode))
		}
		_ = unix.Close(fd)
	}
	if f := strings.TrimSuffix(d.LoopBackingFile, " (deleted)"); f != "" {
		keys = append(keys, statKeys(s.path(f))...)
	}
	sort.Strings(keys)
	return dedup(keys)
}

func dedup(sorted []string) []string {
	out := sorted[:0]
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}
