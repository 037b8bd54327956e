#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vfio-handover contributors
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: handover
short_description: Hand a host's GPUs over to vfio-pci, or give them back, live and for the next boot
version_added: "1.0.0"
description:
  - A thin layer over the C(vfio-handover) command line and its C(--json) machine contract
    (format 2, C(/usr/share/doc/vfio-handover/json.md)).
  - With C(state=vfio) it runs C(vfio-handover persist) (the boot configuration) and then
    C(vfio-handover bind) (the running kernel); with C(state=host), C(vfio-handover rollback)
    and then C(vfio-handover unpersist). C(live) and C(persistent) choose which of the two.
  - Every function of each selected GPU (display, audio, USB-C, UCSI) moves together, journaled,
    verified by reading the driver and modalias back, undone on any failure.
  - Whether the task changed something is the tool's own C(changed). Under check mode every
    command runs with C(--dry-run) and the task reports the tool's C(planned) changes; a planned
    file is counted as a change only when its content differs from the file's.
  - A safety refusal (exit status 3), a failure that could not be undone (exit status 4) or any
    other non-zero exit status fails the task, with the tool's message and its fix.
  - Persisting refreshes the initramfs only when a file changed (the tool itself refreshes it on
    every C(persist)).
author:
  - vfio-handover contributors (!UNKNOWN)
requirements:
  - vfio-handover 0.1.0 or later on the managed host (the C(vfio-handover) package)
  - root on the managed host (become)
options:
  gpus:
    description:
      - The GPUs, as vfio-handover selectors, each naming whole GPUs (every function of the slot).
      - C(0000:01:00.0), C(01:00.0) (domain 0000), C(01:00) (the slot), or C(10de:27b0) (every
        device with that vendor:device id).
      - Required with C(state=vfio). With C(state=host) and no GPUs, everything journaled is
        given back and everything persisted is removed.
    type: list
    elements: str
    default: []
  state:
    description:
      - C(vfio) hands the GPUs over to vfio-pci; C(host) gives them back to their host drivers.
    type: str
    choices: [vfio, host]
    default: vfio
  persistent:
    description:
      - Also write (C(vfio)) or remove (C(host)) the boot configuration, so the next boot does
        the same (C(persist) / C(unpersist)).
      - A GPU named with C(state=host) that is not persisted is left alone.
    type: bool
    default: true
  live:
    description:
      - Change the running kernel (C(bind) / C(rollback)).
      - C(false) only writes the boot configuration, to build an image (with C(root)) or to take
        effect at the next boot.
    type: bool
    default: true
  aleph:
    description:
      - The host is an Aleph.im compute resource node.
      - C(persist) also sets C(ALEPH_VM_ENABLE_GPU_SUPPORT=True) in
        C(/etc/aleph-vm/supervisor.env), and C(unpersist) puts the previous line back.
      - With C(aleph_restart), C(bind) and C(rollback) also restart C(aleph-vm-supervisor) and wait
        until it lists (or no longer lists) the GPUs.
    type: bool
    default: false
  aleph_restart:
    description:
      - With C(aleph), let C(bind) and C(rollback) restart the supervisor and wait for its
        confirmation (C(--aleph)).
      - C(false) leaves the restart to the caller, for instance a handler that restarts it once
        for the whole play (what the role the role C(vfio_handover.gpu.node) does).
    type: bool
    default: true
  force:
    description:
      - Go past the boot-VGA and device-in-use refusals of C(bind) (C(--force)). The other
        refusals (a foreign device in the IOMMU group, a disk or network interface in use, the
        IOMMU off) are never passed.
    type: bool
    default: false
  timeout:
    description:
      - Limit in seconds for each kernel step (C(--timeout)); the tool's default is 10.
    type: int
  driver:
    description:
      - The VFIO driver each function goes to, now and at every boot (C(--driver) of C(bind) and
        C(persist)).
      - C(vfio-pci), the tool's default; C(auto), the VFIO variant driver made for the device
        (such as C(nvgrace_gpu_vfio_pci) for a GH200) when the kernel has one, else vfio-pci; or a
        variant driver's name, which the tool refuses when it is not made for the device.
      - Giving the GPUs back (C(state=host)) needs none, as the journal and the boot
        configuration say which driver each function is on.
    type: str
  initramfs:
    description:
      - Refresh the initramfs when the boot configuration changed (C(update-initramfs) or
        C(dracut)). C(false) passes C(--no-initramfs).
      - Under C(root) other than C(/), the tool never runs it; it says which command to run in a
        chroot.
    type: bool
    default: true
  kernel:
    description:
      - The kernel release the next boot runs, for the boot configuration (C(--kernel));
        default the newest under C(root), or the running one.
    type: str
  binary:
    description:
      - The vfio-handover program, a name looked up in C(PATH) and C(/usr/sbin), or a path.
    type: path
    default: vfio-handover
  root:
    description:
      - Prefix for every configuration and state path (C(--root)), to build an image or to test.
    type: path
  sysfs:
    description:
      - Read the PCI tree from this directory instead of C(/sys) (C(--sysfs)), a captured tree,
        for tests.
    type: path
attributes:
  check_mode:
    support: full
    description: Every command runs with C(--dry-run); the task reports what the tool plans.
  diff_mode:
    support: full
    description: The driver of every function before and after, and the boot files' content.
notes:
  - Needs root on the managed host (C(become=true)).
  - C(state=vfio) writes the boot configuration first and then hands the GPUs over, as the tool's
    guide prescribes for Aleph nodes. If the live hand-over is refused, the boot configuration
    stays written and the task fails saying so; run again with C(state=host) to remove it.
  - Runs of the tool on different GPUs of one host may run at once; the tool locks per IOMMU group.
seealso:
  - module: vfio_handover.gpu.facts
'''

EXAMPLES = r'''
- name: Hand two GPUs over to vfio-pci now and at every boot
  vfio_handover.gpu.handover:
    gpus: ["01:00", "02:00"]
  become: true

- name: Give every RTX 4000 Ada back to the host, now and for the next boot
  vfio_handover.gpu.handover:
    gpus: ["10de:27b0"]
    state: host
  become: true

- name: Write the boot configuration into an image being built, without touching the kernel
  vfio_handover.gpu.handover:
    gpus: ["0000:41:00.0"]
    live: false
    root: /srv/images/node
    sysfs: /srv/captures/node-sys

- name: A GH200 to the VFIO variant driver made for it (nvgrace_gpu_vfio_pci), now and at boot
  vfio_handover.gpu.handover:
    gpus: ["0009:01:00"]
    driver: auto
  become: true

- name: An Aleph node, the supervisor restarted by a handler once for the play
  vfio_handover.gpu.handover:
    gpus: "{{ aleph_gpus }}"
    aleph: true
    aleph_restart: false
  become: true
  notify: Restart the Aleph supervisor
'''

RETURN = r'''
changed:
  description: The tool's C(changed) of any command run; under check mode, whether its C(planned)
    changes would change a binding or a file.
  returned: always
  type: bool
state:
  description: The state asked for.
  returned: always
  type: str
  sample: vfio
commands:
  description: The vfio-handover commands run, in order (C(--dry-run) under check mode).
  returned: always
  type: list
  elements: str
  sample: [persist, bind]
documents:
  description: The tool's JSON document of each command, by command (doc/json.md, format 2).
    C(unpersist) is absent when none of the GPUs named is persisted.
  returned: always
  type: dict
  sample: {"bind": {"command": "bind", "ok": true, "exit_status": 0, "changed": true, "outcome": "done"}}
functions:
  description: Every function of the GPUs, with its driver before and after (planned after, under
    check mode).
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The PCI address.
      type: str
      sample: "0000:01:00.0"
    driver_before:
      description: The driver it had before the task; null when unbound.
      type: str
    driver:
      description: The driver it has after the task (under check mode, would have); null when unbound.
      type: str
    iommu_group:
      description: Its IOMMU group.
      type: int
files:
  description: The boot configuration files the tool wrote, found as it would write them, or
    removed (its C(files)); under check mode, those it would write, edit or remove.
  returned: always
  type: list
  elements: str
  sample: ["/etc/vfio-handover/devices.conf", "/etc/modprobe.d/vfio-handover.conf"]
planned:
  description: Under check mode, every change the tool plans (C(action), C(path), C(value),
    C(module), C(command)), the commands' in turn; empty otherwise.
  returned: always
  type: list
  elements: dict
warnings_from_tool:
  description: The tool's warnings (C(messages) of level warning), each C(code), C(text), C(fix).
  returned: always
  type: list
  elements: dict
initramfs:
  description: The initramfs refresh of the last persist or unpersist (C(builder), C(command),
    C(result), C(exit_status)); null when none ran.
  returned: always
  type: dict
msg:
  description: On failure, the tool's messages with their fixes.
  returned: failure
  type: str
  sample: "refused: 0000:01:00.0 is the boot VGA device (fix: pass --force on a headless host)"
exit_status:
  description: On failure, the exit status of the command that failed (1 failed and restored,
    2 bad usage, 3 refused, 4 failed and not restored, 5 not permitted).
  returned: failure
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vfio_handover.gpu.plugins.module_utils.vfio_handover import (
    COMMON_ARGS, Tool, ToolError, message_text, read_text, file_change)


class Handover(object):

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.tool = Tool(module)
        self.check = module.check_mode
        self.results = {}
        self.commands = []
        self.changed = False
        self.planned = []
        self.files = []
        self.file_diffs = []
        self.warnings = []
        self.initramfs = None

    # ---- running the tool

    def run(self, command, selectors, **kw):
        kw.setdefault('dry_run', self.check)
        try:
            doc = self.tool.run(command, selectors, **kw)
        except ToolError as e:
            self.fail(str(e))
        for m in doc.get('messages') or []:
            if m.get('level') == 'warning':
                w = {'command': command, 'code': m.get('code'), 'text': m.get('text'), 'fix': m.get('fix')}
                if w not in self.warnings:
                    self.warnings.append(w)
        return doc

    def record(self, command, doc):
        self.commands.append(command)
        self.results[command] = doc
        if doc.get('exit_status') != 0:
            self.changed = self.changed or bool(doc.get('changed'))
            self.fail('vfio-handover %s failed (exit status %d, %s): %s'
                      % (command, doc['exit_status'], doc.get('outcome', 'error'),
                         message_text(doc) or 'no message'), exit_status=doc['exit_status'])

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, changed=self.changed, **dict(self.result(), **extra))

    # ---- the boot configuration

    def files_now(self, paths):
        return dict((path, read_text(path)) for path in paths)

    def note_file_diffs(self, before, after):
        for path in sorted(set(before) | set(after)):
            b, a = before.get(path), after.get(path)
            if b != a:
                self.file_diffs.append({'before_header': path, 'after_header': path,
                                        'before': b or '', 'after': a or ''})

    def planned_files(self, doc):
        """Check mode: which of the planned file changes would change a file."""
        changes = False
        for entry in doc.get('planned') or []:
            path = entry.get('path')
            if entry.get('action') not in ('write-file', 'edit-file', 'remove-file') or not path:
                continue
            current = read_text(path)
            differs, after = file_change(entry, current)
            if differs:
                changes = True
                self.files.append(path)
                self.file_diffs.append({'before_header': path, 'after_header': path,
                                        'before': current or '', 'after': after or ''})
        return changes

    def boot_config(self, command, selectors):
        no_initramfs = not self.p['initramfs']
        common = dict(aleph=self.p['aleph'], kernel=self.p['kernel'], driver=self.p['driver'])
        if command == 'unpersist' and selectors:
            selectors = self.persisted_selectors(selectors, common)
            if not selectors:
                return
        if self.check:
            doc = self.run(command, selectors, no_initramfs=no_initramfs, **common)
            self.record(command, doc)
            self.planned += doc.get('planned') or []
            if self.planned_files(doc):
                self.changed = True
            return
        before = {}
        if self.module._diff:
            plan = self.run(command, selectors, dry_run=True, no_initramfs=True, **common)
            if plan.get('exit_status') == 0:
                before = self.files_now(p['path'] for p in plan.get('planned') or [] if p.get('path'))
        # persist refreshes the initramfs whenever it runs: only once a file changed
        first_no_initramfs = no_initramfs or command == 'persist'
        doc = self.run(command, selectors, no_initramfs=first_no_initramfs, **common)
        self.record(command, doc)
        self.files = list(doc.get('files') or [])
        self.initramfs = doc.get('initramfs')
        if doc.get('changed'):
            self.changed = True
            if command == 'persist' and not no_initramfs and self.tool.root_is_host():
                again = self.run(command, selectors, no_initramfs=False, **common)
                self.record(command, again)
                self.results[command] = dict(again, changed=True)
                self.initramfs = again.get('initramfs')
        if before:
            self.note_file_diffs(before, self.files_now(list(before) + self.files))

    def persisted_selectors(self, selectors, common):
        """unpersist names only persisted GPUs (a selector that matches
        nothing persisted is exit 2): keep the selectors that do, as the
        tool itself matches them."""
        doc = self.run('unpersist', selectors, dry_run=True, no_initramfs=True, **common)
        if doc.get('exit_status') == 0:
            return selectors
        codes = [m.get('code') for m in doc.get('messages') or []]
        if doc.get('exit_status') != 2 or 'no-such-device' not in codes:
            self.record('unpersist', doc)
        kept = []
        for sel in selectors:
            one = self.run('unpersist', [sel], dry_run=True, no_initramfs=True, **common)
            if one.get('exit_status') == 0:
                kept.append(sel)
            elif [m.get('code') for m in one.get('messages') or []] != ['no-such-device']:
                self.record('unpersist', one)
        return kept

    # ---- the running kernel

    def kernel_change(self, command, selectors):
        aleph = self.p['aleph'] and self.p['aleph_restart']
        doc = self.run(command, selectors, force=self.p['force'], aleph=aleph,
                       driver=self.p['driver'])
        self.record(command, doc)
        if self.check:
            planned = doc.get('planned') or []
            self.planned += planned
            if planned:
                self.changed = True
        elif doc.get('changed'):
            self.changed = True
        return doc

    # ---- the whole task

    def functions(self):
        """Every function with its driver before and after, from bind's or
        rollback's functions (planned after, under check mode)."""
        live = self.results.get('bind') or self.results.get('rollback')
        out = []
        if live is None:
            doc = self.results.get('persist') or {}
            for f in doc.get('functions') or []:
                out.append({'address': f.get('address'), 'driver_before': f.get('driver'),
                            'driver': f.get('driver'), 'iommu_group': f.get('iommu_group')})
            return out
        planned = live.get('planned') or []
        for f in live.get('functions') or []:
            addr = f.get('address')
            after = f.get('driver')
            before = f.get('driver_before')
            if self.check:
                before = f.get('driver')
                if live.get('command') == 'bind':
                    after = 'vfio-pci'
                else:
                    after = rollback_target(planned, addr, f)
            out.append({'address': addr, 'driver_before': before, 'driver': after,
                        'iommu_group': f.get('iommu_group')})
        return out

    def result(self):
        functions = self.functions()
        res = dict(state=self.p['state'], commands=self.commands, documents=self.results,
                   functions=functions, files=self.files, planned=self.planned,
                   warnings_from_tool=self.warnings, initramfs=self.initramfs)
        if self.module._diff:
            diff = []
            moved = [f for f in functions if f['driver_before'] != f['driver']]
            if moved:
                diff.append({'before_header': 'drivers', 'after_header': 'drivers',
                             'before': ''.join('%s %s\n' % (f['address'], f['driver_before'] or '(none)')
                                               for f in moved),
                             'after': ''.join('%s %s\n' % (f['address'], f['driver'] or '(none)')
                                              for f in moved)})
            diff += self.file_diffs
            res['diff'] = diff
        return res

    def main(self):
        gpus = self.p['gpus']
        if self.p['state'] == 'vfio':
            if not gpus:
                self.module.fail_json(msg='gpus is required with state vfio: name the GPUs to hand over')
            if self.p['persistent']:
                self.boot_config('persist', gpus)
            if self.p['live']:
                self.kernel_change('bind', gpus)
        else:
            if self.p['live']:
                self.kernel_change('rollback', gpus)
            if self.p['persistent']:
                self.boot_config('unpersist', gpus)
        res = self.result()
        for w in self.warnings:
            fix = ' (fix: %s)' % w['fix'] if w.get('fix') else ''
            self.module.warn('vfio-handover %s: %s%s' % (w['command'], w['text'], fix))
        self.module.exit_json(changed=self.changed, **res)


def rollback_target(planned, address, function):
    """The driver a planned rollback gives ADDRESS back to: the driver whose
    bind it writes ADDRESS to; else the kernel's pick after the probe."""
    for p in planned:
        path = p.get('path') or ''
        if p.get('action') == 'write' and p.get('value') == address and path.endswith('/bind') \
                and '/drivers/' in path:
            return path.rsplit('/', 2)[-2]
    if any(p.get('action') == 'write' and p.get('value') == address for p in planned):
        return '(host driver)'
    return function.get('driver')


def main():
    argument_spec = dict(
        gpus=dict(type='list', elements='str', default=[]),
        state=dict(type='str', choices=['vfio', 'host'], default='vfio'),
        persistent=dict(type='bool', default=True),
        live=dict(type='bool', default=True),
        aleph=dict(type='bool', default=False),
        aleph_restart=dict(type='bool', default=True),
        force=dict(type='bool', default=False),
        driver=dict(type='str'),
        initramfs=dict(type='bool', default=True),
        kernel=dict(type='str'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    Handover(module).main()


if __name__ == '__main__':
    main()
