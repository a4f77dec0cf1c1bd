# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Name of the Helm release.
      - Validated before Helm runs, as Helm requires, lowercase letters, digits, C(-) and C(.),
        starting and ending with a letter or digit, at most 53 characters.
      - C(release_name) is kubernetes.core.helm's alias for it.
    type: str
    required: true
    aliases: [ release_name ]
  release_namespace:
    description:
      - Kubernetes namespace of the release.
      - Validated before Helm runs as a Kubernetes namespace name (DNS-1123 label, at most 63
        characters).
    type: str
    required: true
    aliases: [ namespace ]
"""
