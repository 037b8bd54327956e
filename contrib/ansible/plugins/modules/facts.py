#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vfio-handover contributors
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: facts
short_description: A host's GPUs, their drivers and IOMMU groups, the pre-flight and what is persisted, as facts
version_added: "1.0.0"
description:
  - Reads, through C(vfio-handover --json) (format 2), the host's GPUs with every function, its
    driver, IOMMU group and state (C(list)); the pre-flight items with their fixes (C(check));
    and the GPU functions persisted for the next boot (C(/etc/vfio-handover/devices.conf), as
    C(persist --dry-run) reads it).
  - Sets the fact C(vfio_handover), for conditionals and reports. Never changes anything.
author:
  - vfio-handover contributors (!UNKNOWN)
requirements:
  - vfio-handover 0.1.0 or later on the managed host
options:
  gpus:
    description:
      - The GPUs the pre-flight checks, as vfio-handover selectors (C(01:00), C(10de:27b0), ...);
        default every GPU.
    type: list
    elements: str
    default: []
  all:
    description:
      - List every PCI slot of the host (C(list --all)), not only the GPUs.
    type: bool
    default: false
  check:
    description:
      - Run the pre-flight (C(vfio-handover check)). It needs root to look for processes that hold
        a GPU.
    type: bool
    default: true
  kernel:
    description:
      - The kernel release the pre-flight checks vfio-pci for (C(--kernel)); default the running one.
    type: str
  timeout:
    description:
      - Limit in seconds for each kernel step (C(--timeout)).
    type: int
  binary:
    description:
      - The vfio-handover program, a name looked up in C(PATH) and C(/usr/sbin), or a path.
    type: path
    default: vfio-handover
  root:
    description:
      - Prefix for every configuration and state path (C(--root)).
    type: path
  sysfs:
    description:
      - Read the PCI tree from this directory instead of C(/sys) (C(--sysfs)).
    type: path
attributes:
  check_mode:
    support: full
    description: It only reads.
  diff_mode:
    support: none
    description: It changes nothing.
  facts:
    support: full
    description: Sets C(vfio_handover).
seealso:
  - module: vfio_handover.gpu.handover
'''

EXAMPLES = r'''
- name: Read the GPUs of the host
  vfio_handover.gpu.facts:
  become: true

- name: Fail the host when the pre-flight of its GPUs fails
  ansible.builtin.assert:
    that: vfio_handover.check.summary.fail == 0
    fail_msg: "{{ vfio_handover.check.failed | map(attribute='fix') | join('; ') }}"

- name: Report the GPUs on vfio-pci
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ vfio_handover.gpus_on_vfio | join(', ') }}"
'''

RETURN = r'''
ansible_facts:
  description: The fact C(vfio_handover).
  returned: always
  type: complex
  contains:
    vfio_handover:
      description: What vfio-handover reads of the host.
      type: complex
      contains:
        version:
          description: The tool's version.
          type: str
          sample: 0.1.0
        iommu_enabled:
          description: The kernel made IOMMU groups.
          type: bool
        iommu_groups:
          description: How many.
          type: int
        slots:
          description: The GPUs (or every slot with C(all)), as C(list --json) gives them, each
            C(slot), C(display), C(model) and C(functions) (the tool's function objects, with
            C(driver), C(iommu_group), C(state)).
          type: list
          elements: dict
        functions:
          description: Every function of those slots, by address, each C(driver), C(iommu_group),
            C(state) (C(vfio), C(stub), C(unbound), C(host), C(absent)), C(slot) and the ids.
          type: dict
        gpus_on_vfio:
          description: The slots with a display function whose every function is on vfio-pci.
          type: list
          elements: str
          sample: ["0000:01:00"]
        gpus_on_host:
          description: The slots with a display function not wholly on vfio-pci.
          type: list
          elements: str
        check:
          description: The pre-flight (C(check --json)) C(summary) (C(pass), C(warn), C(fail)),
            C(items) (each C(status), C(check), C(title), C(device), C(message), C(fix)),
            C(failed) (the items that failed) and C(ok); null without C(check).
          type: dict
        persisted:
          description: The functions persisted for the next boot, each C(address), C(id),
            C(subsystem), C(physical_slot), C(path), C(present), C(driver).
          type: list
          elements: dict
        persisted_gpus:
          description: The slots of the persisted functions.
          type: list
          elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vfio_handover.gpu.plugins.module_utils.vfio_handover import (
    COMMON_ARGS, Tool, ToolError, message_text)


def main():
    argument_spec = dict(
        gpus=dict(type='list', elements='str', default=[]),
        all=dict(type='bool', default=False),
        check=dict(type='bool', default=True),
        kernel=dict(type='str'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    tool = Tool(module)

    def run(command, selectors=(), ok=(0,), **kw):
        try:
            doc = tool.run(command, selectors, **kw)
        except ToolError as e:
            module.fail_json(msg=str(e))
        if doc['exit_status'] not in ok:
            module.fail_json(msg='vfio-handover %s failed (exit status %d): %s'
                             % (command, doc['exit_status'], message_text(doc) or 'no message'),
                             exit_status=doc['exit_status'], document=doc)
        return doc

    facts = {}
    version = run('--version')
    facts['version'] = version.get('version')

    listing = run('list', extra=['--all'] if p['all'] else [])
    facts['iommu_enabled'] = listing.get('iommu_enabled')
    facts['iommu_groups'] = listing.get('iommu_groups')
    facts['slots'] = listing.get('slots') or []
    facts['functions'] = {}
    facts['gpus_on_vfio'] = []
    facts['gpus_on_host'] = []
    for slot in facts['slots']:
        fns = slot.get('functions') or []
        for f in fns:
            facts['functions'][f['address']] = f
        if slot.get('display'):
            on_vfio = fns and all(f.get('state') == 'vfio' for f in fns)
            facts['gpus_on_vfio' if on_vfio else 'gpus_on_host'].append(slot['slot'])

    facts['check'] = None
    if p['check']:
        # exit 1: an item failed, which is what the caller asks about
        doc = run('check', p['gpus'], ok=(0, 1), kernel=p['kernel'])
        items = doc.get('items') or []
        facts['check'] = {
            'ok': doc.get('ok'),
            'summary': doc.get('summary'),
            'items': items,
            'failed': [i for i in items if i.get('status') == 'fail'],
            'messages': doc.get('messages') or [],
        }

    # persist with no selector, dry run: what devices.conf holds (exit 2,
    # missing-selector, when nothing is persisted)
    doc = run('persist', dry_run=True, no_initramfs=True, ok=(0, 2))
    if doc['exit_status'] == 2 and [m.get('code') for m in doc.get('messages') or []] != ['missing-selector']:
        module.fail_json(msg='vfio-handover persist --dry-run failed: %s' % message_text(doc), document=doc)
    persisted = []
    for f in doc.get('functions') or []:
        persisted.append(dict((k, f.get(k)) for k in (
            'address', 'slot', 'id', 'subsystem', 'physical_slot', 'path', 'present', 'driver',
            'state', 'iommu_group')))
    facts['persisted'] = persisted
    facts['persisted_gpus'] = sorted(set(f['slot'] for f in persisted if f.get('slot')))

    module.exit_json(changed=False, ansible_facts={'vfio_handover': facts})


if __name__ == '__main__':
    main()
