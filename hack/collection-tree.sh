#!/usr/bin/env bash
# ansible-test only works inside .../ansible_collections/<namespace>/<name>/. Mirror the tracked
# and untracked-but-not-ignored files there (outside the source tree, so nothing lints the copy)
# and print the path. A copy rather than a symlink: ansible-test resolves symlinks to the real path.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${MATIH_COLLECTION_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/matih.helm-tree}
dest=$root/ansible_collections/matih/helm
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | python3 -c '
import os, shutil, sys
dest = sys.argv[1]
wanted = {p for p in sys.stdin.read().split("\0") if p and os.path.isfile(p)}
keep_prefixes = ("tests/output/", ".git/")
for base, dirs, files in os.walk(dest):
    for name in files:
        rel = os.path.relpath(os.path.join(base, name), dest)
        if rel not in wanted and not rel.startswith(keep_prefixes):
            os.remove(os.path.join(dest, rel))
for rel in wanted:
    target = os.path.join(dest, rel)
    src_stat = os.stat(rel)
    try:
        dst_stat = os.stat(target)
        if dst_stat.st_size == src_stat.st_size and dst_stat.st_mtime == src_stat.st_mtime:
            continue
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(rel, target)
' "$dest"
# ansible-test lists files through git when it can; a minimal repo keeps its file list exact
if [ ! -d "$dest/.git" ]; then git -C "$dest" init -q; fi
git -C "$dest" add -A >/dev/null 2>&1
echo "$dest"
