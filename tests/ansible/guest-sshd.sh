# tests/ansible/guest-sshd.sh: the QEMU guest as a fleet host (run by
# tests/ansible/test-ansible-vm.sh through tests/vm/guest.sh).  Brings up
# the NIC at 0000:00:15.0 (QEMU's user network, 10.0.2.15, a port of the
# host's loopback forwarded to its 22), starts Debian's dropbear with the
# run's throwaway key, says VH-SSH-READY, and waits until the host, done
# with its playbooks, writes an exit status into /run/vh-ansible-done.
. /vh-lib.sh

nic=0000:00:15.0
if=""
for n in /sys/class/net/*; do
	[ "$(basename "$(readlink -f "$n/device" 2>/dev/null)")" = $nic ] && if=$(basename "$n")
done
[ -n "$if" ] || { echo "guest-sshd: no network interface on $nic"; ls -l /sys/class/net; exit 1; }
vh_dmesg_mark
ip link set lo up
ip link set "$if" up
ip addr add 10.0.2.15/24 dev "$if"
mkdir -p /etc/dropbear /root/.ssh
chmod 700 /root /root/.ssh
/usr/sbin/dropbear -R -s -p 22 -P /run/dropbear.pid || { echo "guest-sshd: dropbear did not start"; exit 1; }
echo "VH-SSH-READY $if GPU A $GPU_A GPU B $GPU_B"

# the host ends the run; without it, give up after 25 minutes
i=0
while [ ! -s /run/vh-ansible-done ] && [ $i -lt 1500 ]; do
	sleep 1
	i=$((i + 1))
done
[ -s /run/vh-ansible-done ] || { echo "guest-sshd: the host never said it was done"; exit 1; }
rc=$(cat /run/vh-ansible-done)
vh_dmesg_clean "the playbooks' hand-overs"
[ "$VH_FAILS" -eq 0 ] || rc=1
exit "$rc"
