# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # The attributes every matih.helm module shares, as community.general's attributes fragment does.
    # A module's own entries are merged over these, so it can add support and details.

    # matih.helm.attributes: descriptions of check_mode and diff_mode; the module gives support and details.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and predict the result, C(changed) included, without changing the release.
  diff_mode:
    description: Returns details on what changes (or would change, in check mode) when run in diff mode.
"""

    # matih.helm.attributes.check_mode_read_only: check_mode and diff_mode of a module that only reads.
    CHECK_MODE_READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode; the module only reads, so the result is the same.
    support: full
  diff_mode:
    description: The module changes nothing, so there is no diff.
    support: none
"""

    # matih.helm.attributes.platform
    PLATFORM = r"""
options: {}
attributes:
  platform:
    description: Runs on the managed node, where Helm is installed.
    support: full
    platforms: posix
"""

    # matih.helm.attributes.action_group
    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/matih.helm.helm) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - matih.helm.helm
"""
