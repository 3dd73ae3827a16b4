// Package realdisk holds tests that run the discovery scanner and the node
// agent against real block devices: loop devices attached to sparse files
// in a temporary directory. They need root and /dev/loop-control and skip
// themselves otherwise; hack/install-node-tools.sh installs the host tools
// they call (losetup, mkfs.ext4, mount, lsblk, udevadm).
package realdisk
