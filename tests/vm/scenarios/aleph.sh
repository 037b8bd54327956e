#!/bin/sh
# Runs in the test guest.  An Aleph node: bind --aleph and rollback --aleph
# restart the supervisor and confirm, through its /about/usage/system
# endpoint, that it lists the GPU handed over, or no longer lists the one
# given back; every way that can fail (exit 1, the hand-over staying); the
# --json document's "aleph" (confirmed true, false, null) and message codes;
# and check's aleph-vendor item for a VGA controller from a vendor aleph-vm
# does not know.  The supervisor is a stand-in: a fake systemctl in PATH starts a
# script that detects GPUs as aleph-vm's get_gpu_devices() does (class
# 0300/0302, on vfio-pci, vendor 10de/1002/8086 or it raises and ends) and
# serves a document of aleph-vm's shape with busybox httpd on 127.0.0.1.
# vh-vm-profile: aleph
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

ip link set lo up
# the profile's VGA controllers: D an ATI (1002), E a Cirrus (1013)
D="" E=""
for p in "$SYSPCI"/*; do
	case "$(cat "$p/class") $(cat "$p/vendor")" in
	"0x030000 0x1002") D=${p##*/} ;;
	"0x030000 0x1013") E=${p##*/} ;;
	esac
done
[ -n "$D" ] && [ -n "$E" ] || { vh_fail "the aleph profile's VGA controllers (D '$D', E '$E')"; vh_finish; }
DS=${D%.*} ES=${E%.*} AS=$GPU_A
vh_say "D $D (ati-vga), E $E (cirrus-vga), A $AS (class 0380)"

F=/run/fake-aleph
mkdir -p /etc/aleph-vm $F/bin
env_file() {	# GPU_SUPPORT
	printf '%s\n' "ALEPH_VM_ENABLE_GPU_SUPPORT=$1" ALEPH_VM_SUPERVISOR_HOST=0.0.0.0 \
		ALEPH_VM_SUPERVISOR_PORT=4021 >/etc/aleph-vm/supervisor.env
}
env_file True

cat >$F/supervisor <<'EOF'
#!/bin/sh
# aleph-vm's supervisor, as far as GPUs go: detect once at start, then serve.
. /etc/aleph-vm/supervisor.env
devs=""
if [ "$ALEPH_VM_ENABLE_GPU_SUPPORT" = True ]; then
	for p in /sys/bus/pci/devices/*; do
		class=$(cut -c3-6 "$p/class")
		case $class in 0300|0302) ;; *) continue ;; esac
		[ "$(readlink "$p/driver" 2>/dev/null | sed 's|.*/||')" = vfio-pci ] || continue
		ven=$(cut -c3- "$p/vendor")
		dev=$(cut -c3- "$p/device")
		case $ven in
		10de) name=NVIDIA ;;
		1002) name=AMD ;;
		8086) name=Intel ;;
		*) echo "ValueError: Device vendor not compatible ($ven)" >&2; exit 1 ;;
		esac
		a=${p##*/}
		devs="$devs${devs:+, }{\"vendor\": \"$name\", \"device_name\": \"Device $dev\", \"device_class\": \"$class\", \"pci_host\": \"${a#0000:}\", \"device_id\": \"$ven:$dev\", \"compatible\": false}"
	done
fi
mkdir -p /run/fake-aleph/www/about/usage
printf '{"cpu": {"count": 1}, "gpu": {"devices": [%s], "available_devices": [%s]}, "active": true}\n' \
	"$devs" "$devs" >/run/fake-aleph/www/about/usage/system
sleep 1		# the real one takes a while to start too
exec httpd -f -p "127.0.0.1:$ALEPH_VM_SUPERVISOR_PORT" -h /run/fake-aleph/www
EOF
cat >$F/bin/systemctl <<'EOF'
#!/bin/sh
# systemctl for aleph-vm-supervisor.service only, as its unit behaves
# (Restart=on-failure: a supervisor that ended on its own is "activating",
# waiting to be restarted).  /run/fake-aleph/mode: ok, down (does not come
# back), stale (the restart changes nothing), fails (try-restart fails).
F=/run/fake-aleph
echo "$*" >>$F/systemctl.log
running() { [ -f $F/pid ] && kill -0 "$(cat $F/pid)" 2>/dev/null; }
state() {
	if running; then echo active; elif [ -f $F/pid ]; then echo activating; else echo inactive; fi
}
start() {
	[ "$(cat $F/mode)" = down ] && return 0
	$F/supervisor >>$F/journal 2>&1 &
	echo $! >$F/pid
}
stop() {
	running && kill "$(cat $F/pid)"
	rm -f $F/pid
	while netstat -ltn 2>/dev/null | grep -q ':4021 '; do sleep 0.1; done
}
case "$1" in
is-active) s=$(state); echo "$s"; [ "$s" = active ] ;;
start) running || start ;;
stop) stop ;;
try-restart)
	case $(cat $F/mode) in
	stale) exit 0 ;;
	fails) echo "Job for aleph-vm-supervisor.service failed." >&2; exit 1 ;;
	esac
	case $(state) in active|activating) stop; start ;; esac ;;
*) echo "fake systemctl: $*" >&2; exit 2 ;;
esac
EOF
chmod +x $F/supervisor $F/bin/systemctl
PATH=$F/bin:$PATH
export PATH
mode() { echo "$1" >$F/mode; }
mode ok
systemctl start aleph-vm-supervisor.service
vh_check "the fake supervisor answers" vh_wait 5 wget -q -O /dev/null http://127.0.0.1:4021/about/usage/system
URL=http://127.0.0.1:4021/about/usage/system
# the --json document's "aleph" object of the last run, on one line
aleph_of() { printf '%s\n' "$VH_OUT" | sed -n '/^  "aleph": {/,/^  }/p' | tr -d ' \n'; }

# --- bind --aleph: restarted, and it lists the GPU ---------------------------
: >$F/systemctl.log
vh_run 0 "$VH_BIN" -v --aleph bind "$DS"
vh_eq "D on vfio-pci" "$(vh_driver "$D")" vfio-pci
vh_eq "systemctl asked, then restarted, no shell" "$(cat $F/systemctl.log | tr '\n' ';')" \
	"is-active aleph-vm-supervisor.service;try-restart aleph-vm-supervisor.service;"
vh_out_has "the supervisor was asked until it answered" 'asked the supervisor ([2-9]|[0-9][0-9]+) times'
vh_out_has "it sees the GPU" "restarted aleph-vm-supervisor.service: it answers at $URL and sees 1 GPU:"
vh_out_has "as aleph-vm lists it" "^vfio-handover:   $D AMD Device [0-9a-f]+ \[1002:[0-9a-f]+\]: no model, not compatible, available$"
vh_out_has "not compatible: said" "sees $D but not as compatible"

# --- rollback --aleph: it no longer lists it ---------------------------------
vh_run 0 "$VH_BIN" --aleph rollback "$DS"
vh_eq "D back on no driver" "$(vh_driver "$D")" none
vh_out_has "it sees no GPU" "it answers at $URL and sees 0 GPUs$"

# --- --json: one document, ok, and what the supervisor saw -------------------
vh_run 0 "$VH_BIN" --json --aleph bind "$DS"
vh_out_has "bind --json ok" '"ok": true'
vh_eq "bind --json: aleph confirmed, it lists D" "$(aleph_of)" \
	"\"aleph\":{\"supervisor_url\":\"$URL\",\"restarted\":true,\"confirmed\":true,\"gpus\":[\"$D\"],\"display_functions\":[\"$D\"]}"
vh_out_has "bind --json: not compatible, as a warning with its code" '"code": "supervisor-incompatible"'
vh_run 0 "$VH_BIN" --json --aleph rollback "$DS"
vh_out_has "rollback --json ok" '"ok": true'
vh_eq "rollback --json: aleph confirmed, it lists nothing" "$(aleph_of)" \
	"\"aleph\":{\"supervisor_url\":\"$URL\",\"restarted\":true,\"confirmed\":true,\"gpus\":[],\"display_functions\":[\"$D\"]}"

# --- GPU support off: it answers, lists nothing; exit 1, the hand-over stays --
env_file False
vh_run 1 "$VH_BIN" --json --aleph bind "$DS"
vh_out_has "not listed, and why" "^vfio-handover: the Aleph supervisor answers but does not list $D \(it sees 0 GPUs\): ALEPH_VM_ENABLE_GPU_SUPPORT is False in /etc/aleph-vm/supervisor.env, so the supervisor looks for no GPU; the hand-over stays: the GPUs are on vfio-pci$"
vh_out_has "the fix, and the way back" "^vfio-handover:   run vfio-handover persist --aleph $DS, then systemctl restart aleph-vm-supervisor; or give the GPU back: vfio-handover rollback --aleph $DS$"
vh_out_has "--json: its code" '"code": "supervisor-not-listed"'
vh_out_has "--json: the hand-over is done" '"outcome": "done"'
vh_out_has "--json: and changed" '"changed": true'
vh_eq "--json: aleph not confirmed, it lists nothing" "$(aleph_of)" \
	"\"aleph\":{\"supervisor_url\":\"$URL\",\"restarted\":true,\"confirmed\":false,\"gpus\":[],\"display_functions\":[\"$D\"]}"
vh_eq "D stays on vfio-pci" "$(vh_driver "$D")" vfio-pci
env_file True
vh_run 0 "$VH_BIN" --aleph rollback "$DS"
vh_eq "D given back" "$(vh_driver "$D")" none

# --- a display controller aleph-vm does not offer (class 0380) ----------------
vh_run 1 "$VH_BIN" --aleph bind "$(vh_short "$AS")"
vh_out_has "0380: not listed, and why" "is a display controller of class 0380, and aleph-vm offers only VGA \(0300\) and 3D \(0302\) controllers"
vh_eq "A stays on vfio-pci" "$(vh_driver "$AS.0")" vfio-pci
vh_run 0 "$VH_BIN" --aleph rollback "$(vh_short "$AS")"
vh_eq "A back on bochs-drm" "$(vh_driver "$AS.0")" bochs-drm

# --- a vendor aleph-vm does not know: its detection raises, no answer ---------
vh_run 1 "$VH_BIN" --aleph --timeout 3 bind "$ES"
vh_out_has "no answer" "the Aleph supervisor did not answer at $URL within 3 s of its restart \(last try: Connection refused\); the hand-over stays"
vh_out_has "the cause named" "^vfio-handover: $E \[1013:[0-9a-f]+\] is a display controller on vfio-pci from a vendor aleph-vm does not know.*; give it back: vfio-handover rollback --aleph $ES$"
vh_check "the stand-in raised as aleph-vm does" grep -q 'ValueError: Device vendor not compatible (1013)' $F/journal
vh_run 1 "$VH_BIN" check "$DS"
vh_out_has "check: FAIL for E" "^FAIL  aleph-vendor +$E +$E \[1013:[0-9a-f]+\] is a display controller on vfio-pci from a vendor aleph-vm does not know"
vh_run 0 "$VH_BIN" --aleph rollback "$ES"
vh_out_has "E given back: the supervisor, waiting to restart, is restarted" "it answers at $URL and sees 0 GPUs$"
vh_run 0 "$VH_BIN" check "$DS"
vh_out_has "check: no unknown vendor now" "^PASS  aleph-vendor +host +no display controller on vfio-pci from a vendor aleph-vm does not know"

# --- not running: not restarted, nothing to confirm with (exit 0) ------------
systemctl stop aleph-vm-supervisor.service
: >$F/systemctl.log
vh_run 0 "$VH_BIN" --json --aleph bind "$DS"
vh_out_has "not running: said" "aleph-vm-supervisor.service is inactive: not restarted"
vh_out_has "not running: a warning with its code" '"code": "supervisor-not-running"'
vh_eq "not running: aleph not asked" "$(aleph_of)" \
	"\"aleph\":{\"supervisor_url\":\"$URL\",\"restarted\":false,\"confirmed\":null,\"gpus\":null,\"display_functions\":[\"$D\"]}"
vh_eq "only asked" "$(cat $F/systemctl.log)" "is-active aleph-vm-supervisor.service"
systemctl start aleph-vm-supervisor.service
vh_run 0 "$VH_BIN" --aleph rollback "$DS"

# --- it does not come back: exit 1 within --timeout, the hand-over stays ------
mode down
T0=$(vh_now_ns)
vh_run 1 "$VH_BIN" --aleph --timeout 2 bind "$DS"
MS=$(vh_ms_since "$T0")
vh_check "gave up after --timeout (${MS} ms)" test "$MS" -lt 6000
vh_out_has "no answer: what to look at" "journalctl -u aleph-vm-supervisor; a supervisor slow to start needs a larger --timeout"
vh_eq "D stays on vfio-pci" "$(vh_driver "$D")" vfio-pci
mode ok
systemctl start aleph-vm-supervisor.service
vh_run 0 "$VH_BIN" --aleph rollback "$DS"

# --- the restart fails ----------------------------------------------------------
mode fails
vh_run 1 "$VH_BIN" --aleph bind "$DS"
vh_out_has "systemctl's failure" "systemctl try-restart aleph-vm-supervisor.service failed \(status 1\); the hand-over stays"
mode ok
vh_run 0 "$VH_BIN" --aleph rollback "$DS"

# --- an answer that did not change: it still lists the GPU given back ----------
vh_run 0 "$VH_BIN" --aleph bind "$DS"
mode stale
vh_run 1 "$VH_BIN" --aleph rollback "$DS"
vh_out_has "still listed" "the Aleph supervisor still lists $D after its restart; the give-back stays: the GPUs are on their host drivers"
vh_eq "D given back all the same" "$(vh_driver "$D")" none
mode ok

systemctl stop aleph-vm-supervisor.service
rm -rf /etc/aleph-vm
vh_finish
