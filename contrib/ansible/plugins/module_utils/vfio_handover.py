# -*- coding: utf-8 -*-
# Copyright: vfio-handover contributors
# GNU General Public License v2.0 or later (see COPYING or https://www.gnu.org/licenses/gpl-2.0.txt)
"""Runs vfio-handover with --json and reads its one document (doc/json.md,
format 2).  Shared by the handover and facts modules: nothing here decides
what changed; that is the tool's ``changed``, or under check mode the tool's
own ``planned`` changes, compared with the files they name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

FORMAT_VERSION = 2

# The options each command takes (vfio-handover help COMMAND): passing one
# to a command that does not take it is a usage error (exit 2).
TAKES_TIMEOUT = ('bind', 'rollback', 'persist', 'unpersist', 'apply', 'check', 'verify')
TAKES_FORCE = ('bind', 'apply')
TAKES_ALEPH = ('bind', 'rollback', 'persist', 'unpersist')
TAKES_INITRAMFS = ('persist', 'unpersist')
TAKES_KERNEL = ('persist', 'unpersist', 'check')
TAKES_DRIVER = ('bind', 'persist', 'apply')

COMMON_ARGS = dict(
    binary=dict(type='path', default='vfio-handover'),
    root=dict(type='path'),
    sysfs=dict(type='path'),
    timeout=dict(type='int'),
)

BLOCK_BEGIN = '# BEGIN vfio-handover'
BLOCK_END = '# END vfio-handover'


class ToolError(Exception):
    """A run that printed no readable document."""


def message_text(doc):
    """The document's errors (else its warnings) as one line each, with the
    fix the tool gives; what a failed task says."""
    msgs = doc.get('messages') or []
    errors = [m for m in msgs if m.get('level') == 'error'] or msgs
    lines = []
    for m in errors:
        line = m.get('text') or m.get('code') or 'failed'
        if m.get('fix'):
            line += ' (fix: %s)' % m['fix']
        lines.append(line)
    for r in doc.get('refusals') or []:
        line = 'refused: %s' % r.get('message')
        if r.get('fix'):
            line += ' (fix: %s)' % r['fix']
        if line not in lines and r.get('message') not in [m.get('text') for m in errors]:
            lines.append(line)
    return '; '.join(lines)


class Tool(object):
    """vfio-handover on one host, with the module's root, sysfs and timeout."""

    def __init__(self, module):
        self.module = module
        p = module.params
        binary = p['binary']
        if os.sep not in binary:
            binary = module.get_bin_path(binary, required=True, opt_dirs=['/usr/sbin', '/sbin', '/usr/local/sbin'])
        self.binary = binary
        # absolute, so that the paths the tool names are too
        self.root = os.path.abspath(p['root']) if p.get('root') else None
        self.sysfs = os.path.abspath(p['sysfs']) if p.get('sysfs') else None
        self.timeout = p.get('timeout')
        self.runs = []

    def root_is_host(self):
        return self.root in (None, '/')

    def argv(self, command, selectors=(), dry_run=False, force=False, aleph=False,
             no_initramfs=False, kernel=None, driver=None, extra=()):
        argv = [self.binary, command, '--json']
        if command.startswith('-'):
            return argv
        if dry_run:
            argv.append('--dry-run')
        if self.sysfs:
            argv += ['--sysfs', self.sysfs]
        if self.root:
            argv += ['--root', self.root]
        if self.timeout is not None and command in TAKES_TIMEOUT:
            argv += ['--timeout', str(self.timeout)]
        if force and command in TAKES_FORCE:
            argv.append('--force')
        if aleph and command in TAKES_ALEPH:
            argv.append('--aleph')
        if no_initramfs and command in TAKES_INITRAMFS:
            argv.append('--no-initramfs')
        if kernel and command in TAKES_KERNEL:
            argv += ['--kernel', kernel]
        if driver and command in TAKES_DRIVER:
            argv += ['--driver', driver]
        argv += list(extra)
        # selectors last, after "--" would be safer, but a selector is parsed
        # strictly by the tool (anything else is exit 2)
        argv += list(selectors)
        return argv

    def run(self, command, selectors=(), **kw):
        """Run one command; return its document.  Raises ToolError when the
        tool printed no single document of format 2."""
        argv = self.argv(command, selectors, **kw)
        rc, out, err = self.module.run_command(argv, environ_update={'LC_ALL': 'C'})
        self.runs.append({'argv': argv, 'rc': rc, 'stderr': err})
        doc = parse_document(out, rc, err, argv)
        return doc


def parse_document(out, rc, err, argv):
    text = out.strip()
    if not text:
        raise ToolError('%s printed no JSON document (exit status %d): %s'
                        % (' '.join(argv), rc, err.strip() or 'no message'))
    try:
        doc, end = json.JSONDecoder().raw_decode(text)
    except ValueError as e:
        raise ToolError('%s printed no readable JSON document (%s): %s' % (' '.join(argv), e, text[:200]))
    if text[end:].strip():
        raise ToolError('%s printed more than one JSON document' % ' '.join(argv))
    if not isinstance(doc, dict) or doc.get('format_version') != FORMAT_VERSION:
        raise ToolError('%s printed a document of format %r; this collection reads format %d'
                        % (' '.join(argv), doc.get('format_version') if isinstance(doc, dict) else None,
                           FORMAT_VERSION))
    if doc.get('exit_status') != rc:
        raise ToolError('%s exited %d but its document says %r' % (' '.join(argv), rc, doc.get('exit_status')))
    return doc


def read_text(path):
    """A file's content, or None where there is none."""
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


def block_of(text):
    """The lines inside vfio-handover's managed block of TEXT, or None."""
    if text is None:
        return None
    inside = None
    for line in text.splitlines(True):
        if inside is None:
            if line.startswith(BLOCK_BEGIN):
                inside = []
        elif line.startswith(BLOCK_END):
            return ''.join(inside)
        else:
            inside.append(line)
    return None


def setting_of(text, key):
    """The last KEY=VALUE line of an env file, or None."""
    found = None
    for line in (text or '').splitlines():
        s = line.strip()
        if s.startswith(key + '='):
            found = s
    return found


def file_change(entry, current):
    """Would the planned file change ENTRY change a file whose content is
    CURRENT (None: no such file)?  Returns (changes, after-text)."""
    action, value = entry.get('action'), entry.get('value')
    if action == 'write-file':
        return current != value, value
    if action == 'remove-file':
        return current is not None, None
    if action == 'edit-file':
        if value is None:
            # unpersist: a block or setting cut from a user's file
            return current is not None, '(vfio-handover\'s block or setting cut from this file)\n'
        if '\n' not in value.strip() and '=' in value and BLOCK_BEGIN not in value:
            # a KEY=VALUE setting (supervisor.env): set only where the file exists
            if current is None:
                return False, None
            key = value.split('=', 1)[0]
            if setting_of(current, key) == value.strip():
                return False, current
            return True, current.rstrip('\n') + '\n' + value.strip() + '\n' if current else value.strip() + '\n'
        # a managed block
        if block_of(current) == value:
            return False, current
        return True, (current or '') + BLOCK_BEGIN + '\n' + value + BLOCK_END + '\n'
    return False, None


def planned_file_paths(doc):
    return [p['path'] for p in doc.get('planned') or []
            if p.get('action') in ('write-file', 'edit-file', 'remove-file') and p.get('path')]
