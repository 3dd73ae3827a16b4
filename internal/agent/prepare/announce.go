package prepare

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
)

// Announce tells the node that the disks this run may have written
// changed: it writes "change" to the sysfs uevent file of each target whose
// result is Prepared or Failed, and the kernel sends a block "change"
// uevent for it. The node's discovery agent rescans on block uevents, so
// the new BlueStore label reaches the DiskInventory right after the prepare
// instead of waiting for the operator to see the Job finish and ask for a
// rescan (spec.rescanRequest, which stays as the fallback when an uevent
// is lost). A Refused target was not touched and is not announced.
//
// Nothing here decides anything: the scan the uevent causes reads the
// disk, and the disk's label is what the operator acts on. Failures are
// logged and otherwise ignored. It returns the kernel names announced.
func Announce(log logr.Logger, rootDir string, results []Result) []string {
	var done []string
	seen := map[string]bool{}
	for _, r := range results {
		if r.Outcome != OutcomePrepared && r.Outcome != OutcomeFailed {
			continue
		}
		name, err := kernelName(rootDir, r.Path)
		if err != nil {
			log.Info("Could not announce the disk's change; the agent rescans when the operator asks", "device", r.Path, "reason", err.Error())
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if err := writeUevent(filepath.Join(root(rootDir), "sys", "block", name, "uevent")); err != nil {
			log.Info("Could not announce the disk's change; the agent rescans when the operator asks", "device", r.Path, "kernelName", name, "reason", err.Error())
			continue
		}
		done = append(done, name)
	}
	if len(done) > 0 {
		log.Info("Announced the prepared disks' change to the node", "kernelNames", done)
	}
	return done
}

// writeUevent writes "change" to a sysfs uevent file, which makes the
// kernel emit that uevent for the device. The file must exist: creating
// one would announce nothing.
func writeUevent(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("change"); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
