"""The execution environment, checked without a container engine (gate `ee` of hack/test.sh).

1. The collection as ansible-builder sees it: the built tarball carries meta/execution-environment.yml
   and its requirements file, and `ansible-builder introspect` of the installed tarball returns our
   Python requirements (less the ones ansible-builder always leaves out).
2. The sample, extensions/ee/: `ansible-builder create` on a copy of it with the freshly built
   tarball beside it, as its header tells a user to do, then the generated Containerfile and build
   context: the base image and Python 3.12, ansible-core and ansible-runner, both collections in
   the galaxy requirements (matih.helm from the tarball in the context, of galaxy.yml's version),
   the Python requirements the build's own introspection finds in the context's collection, and the
   Helm step (the version the project tests, pinned sha256 values, run after the system packages).
3. The Helm step's script for real, on this machine, against a local copy of Helm's archive: it
   installs with the right sha256 and refuses a wrong or an empty one.

Prints one line per check and exits 1 when any failed.
"""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

import yaml
from ansible_builder._target_scripts.introspect import EXCLUDE_REQUIREMENTS
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "extensions", "ee")
BIN = os.path.dirname(sys.executable)
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
failures = []


def check(condition, what, detail=""):
    print("%s: %s%s" % ("ok" if condition else "FAIL", what, "" if condition or not detail else " (%s)" % detail))
    if not condition:
        failures.append(what)
    return condition


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def tool(name):
    return os.path.join(BIN, name)


def requirement_lines(path):
    lines = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return lines


def from_matih(lines):
    """The requirement strings that an introspection attributes to matih.helm."""
    marker = "# from collection matih.helm"
    return sorted(line.split(marker)[0].strip() for line in lines if line.endswith(marker))


def galaxy_yml():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def stage(containerfile, name):
    """The lines of one build stage (`FROM ... AS name` up to the next FROM)."""
    lines, inside = [], False
    for line in containerfile.splitlines():
        if line.startswith("FROM "):
            inside = line.endswith(" AS " + name)
            continue
        if inside:
            lines.append(line)
    return lines


def bootstrap_helm3_version():
    with open(os.path.join(ROOT, "hack", "bootstrap.sh"), encoding="utf-8") as handle:
        return re.search(r"^HELM3_VERSION=(\S+)", handle.read(), re.M).group(1)


def check_collection(work, tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    with open(os.path.join(ROOT, "meta", "execution-environment.yml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    python_file = (meta.get("dependencies") or {}).get("python")
    check(isinstance(python_file, str), "meta/execution-environment.yml names its Python requirements as a file",
          "dependencies.python is %r; ansible-builder joins it to the collection path" % (python_file,))
    if not isinstance(python_file, str):
        return
    check({"meta/execution-environment.yml", python_file} <= names,
          "the collection tarball carries meta/execution-environment.yml and %s" % python_file,
          "build_ignore must not drop them")
    installed = os.path.join(work, "installed")
    # --force: with matih.helm on ANSIBLE_COLLECTIONS_PATH (the gates put the mirror there) it installs nothing
    run([tool("ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", installed, tarball])
    result = subprocess.run([tool("ansible-builder"), "introspect", "--sanitize", installed],
                            check=False, capture_output=True, text=True)
    if not check(result.returncode == 0, "ansible-builder introspect reads the installed collection",
                 (result.stderr or result.stdout).strip().splitlines()[-1:] or "no output"):
        return
    found = from_matih(yaml.safe_load(result.stdout).get("python") or [])
    ours = requirement_lines(os.path.join(ROOT, python_file))
    expected = sorted(line for line in ours if Requirement(line).name.lower() not in EXCLUDE_REQUIREMENTS)
    # PyYAML alone is excluded (ansible-core brings it): then matih.helm adds nothing, rightly
    check(found == expected,
          "ansible-builder introspect finds matih.helm's Python requirements %s" % expected,
          "found %s" % found)


def check_sample(work, tarball):
    ee_dir = os.path.join(work, "ee")
    shutil.copy(tarball, ee_dir)
    context = os.path.join(work, "context")
    result = subprocess.run([tool("ansible-builder"), "create", "-f", os.path.join(ee_dir, "execution-environment.yml"),
                             "-c", context, "--output-filename", "Containerfile"],
                            check=False, capture_output=True, text=True)
    if not check(result.returncode == 0, "ansible-builder create accepts extensions/ee/execution-environment.yml",
                 (result.stderr or result.stdout).strip()[-500:]):
        return
    with open(os.path.join(ee_dir, "execution-environment.yml"), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    with open(os.path.join(context, "Containerfile"), encoding="utf-8") as handle:
        containerfile = handle.read()
    build = os.path.join(context, "_build")

    base_image = definition["images"]["base_image"]["name"]
    check('ARG EE_BASE_IMAGE="%s"' % base_image in containerfile and "FROM $EE_BASE_IMAGE AS base" in containerfile,
          "the Containerfile builds on %s" % base_image)
    pycmd = re.search(r'^ARG PYCMD="([^"]*)"', containerfile, re.M)
    check(pycmd and re.search(r"python3\.12$", pycmd.group(1)), "the EE's Python is 3.12",
          "PYCMD is %s" % (pycmd and pycmd.group(1)))
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M)
    refs = refs.group(1).split() if refs else []
    core = [ref for ref in refs if Requirement(ref).name == "ansible-core"]
    check(core and Requirement(core[0]).specifier and "ansible-runner" in [Requirement(ref).name for ref in refs],
          "the base stage installs a pinned range of ansible-core and ansible-runner", "ANSIBLE_INSTALL_REFS %s" % refs)

    # galaxy: both collections, matih.helm from the tarball the context carries
    galaxy_stage = stage(containerfile, "galaxy")
    check(any("ansible-galaxy collection install" in line and "-r requirements.yml" in line for line in galaxy_stage),
          "the galaxy stage installs the collections of requirements.yml")
    with open(os.path.join(build, "requirements.yml"), encoding="utf-8") as handle:
        collections = {entry["name"]: entry for entry in yaml.safe_load(handle)["collections"]}
    galaxy = galaxy_yml()
    wanted_core = galaxy["dependencies"]["kubernetes.core"]
    core_entry = collections.get("kubernetes.core") or {}
    check(core_entry.get("version") == wanted_core,
          "requirements.yml installs kubernetes.core %s, the range of galaxy.yml" % wanted_core,
          "it says %r" % core_entry.get("version"))
    files = [entry for entry in collections.values() if entry.get("type") == "file"]
    expected_name = "matih-helm-%s.tar.gz" % galaxy["version"]
    in_context = os.path.join(build, files[0]["name"]) if files else ""
    check(len(files) == 1 and os.path.basename(in_context) == expected_name and os.path.isfile(in_context),
          "requirements.yml installs matih.helm from %s, in the build context" % expected_name,
          "file entries %s" % [entry["name"] for entry in files])
    if not os.path.isfile(in_context):
        return
    with tarfile.open(in_context) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    check((manifest["namespace"], manifest["name"], manifest["version"]) == ("matih", "helm", galaxy["version"]),
          "the context's tarball is matih.helm %s" % galaxy["version"], "MANIFEST.json says %s" % manifest)

    # python: what the build's introspection (the context's own script) finds in the collection
    builder_stage = stage(containerfile, "builder")
    introspect_line = [line for line in builder_stage if "/output/scripts/introspect.py introspect" in line]
    check(introspect_line and "RUN /output/scripts/assemble" in builder_stage,
          "the builder stage introspects the installed collections and assembles their requirements")
    from_context = os.path.join(work, "from-context")
    run([tool("ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", from_context, in_context])
    written = os.path.join(work, "introspected-requirements.txt")
    argv = [sys.executable, os.path.join(build, "scripts", "introspect.py"), "introspect", from_context,
            "--write-pip", written, "--write-bindep", os.path.join(work, "introspected-bindep.txt")]
    if os.path.isfile(os.path.join(build, "requirements.txt")):
        argv.append("--user-pip=%s" % os.path.join(build, "requirements.txt"))
    result = subprocess.run(argv, check=False, capture_output=True, text=True)
    found = from_matih(requirement_lines_raw(written)) if os.path.isfile(written) else []
    declared = sorted(Requirement(line).name.lower()
                      for line in requirement_lines(os.path.join(ROOT, "meta", "ee-requirements.txt")))
    wanted = [name for name in declared if name not in EXCLUDE_REQUIREMENTS]
    check(result.returncode == 0 and sorted(Requirement(line).name.lower() for line in found) == wanted,
          "the build's introspection of the context's matih.helm adds its Python requirements (%s)"
          % (", ".join(wanted) or "none beyond ansible-core's: %s" % ", ".join(declared)),
          "found %s%s" % (found, (result.stderr or result.stdout).strip().splitlines()[-1:]))

    # Helm: downloaded in the final stage, after the system packages (tar, gzip) are in
    final_stage = stage(containerfile, "final")
    args = dict(re.findall(r"^ARG (HELM_[A-Z0-9_]+)=(\S*)$", "\n".join(final_stage), re.M))
    helm3 = bootstrap_helm3_version()
    check(args.get("HELM_VERSION") == helm3, "the EE installs Helm %s, the version the suite runs on" % helm3,
          "HELM_VERSION is %r" % args.get("HELM_VERSION"))
    for arch in ("AMD64", "ARM64"):
        value = args.get("HELM_SHA256_" + arch, "")
        check(re.fullmatch(r"[0-9a-f]{64}", value), "the Helm sha256 for linux-%s is pinned" % arch.lower(),
              "HELM_SHA256_%s is %r" % (arch, value))
    run_line = [i for i, line in enumerate(final_stage) if line.startswith("RUN ") and "install-helm.sh" in line]
    bindep_line = [i for i, line in enumerate(final_stage) if "install-from-bindep" in line]
    check(run_line and bindep_line and run_line[0] > bindep_line[0]
          and any(line.startswith("COPY _build/helm/install-helm.sh ") for line in final_stage),
          "the final stage runs install-helm.sh from the context after the system packages")
    script = os.path.join(build, "helm", "install-helm.sh")
    with open(script, encoding="utf-8") as handle:
        text = handle.read()
    check(re.search(r"^\(cd .*sha256sum -c -\)$", text, re.M) and "https://get.helm.sh" in text,
          "install-helm.sh downloads from get.helm.sh and checks the archive with sha256sum -c")
    check_helm_script(work, script, helm3)


def requirement_lines_raw(path):
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def check_helm_script(work, script, version):
    arch = ARCHES.get(platform.machine())
    helm = os.path.join(ROOT, ".cache", "helm", "v" + version, "helm")
    if not check(arch and os.access(helm, os.X_OK), "a Helm %s binary for this machine to try install-helm.sh with"
                 % version, "%s on %s (hack/bootstrap.sh fetches it)" % (helm, platform.machine())):
        return
    mirror = os.path.join(work, "mirror")
    os.makedirs(mirror)
    archive_path = os.path.join(mirror, "helm-v%s-linux-%s.tar.gz" % (version, arch))
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(helm, arcname="linux-%s/helm" % arch)
    digest = run(["sha256sum", archive_path]).stdout.split()[0]
    env_base = dict(os.environ, HELM_VERSION=version, HELM_BASE_URL="file://" + mirror)
    key = "HELM_SHA256_" + arch.upper()

    def attempt(name, sha256):
        dest = os.path.join(work, "bin-" + name)
        os.makedirs(dest)
        result = subprocess.run(["sh", script, dest], env=dict(env_base, **{key: sha256}),
                                check=False, capture_output=True, text=True)
        return result, os.path.exists(os.path.join(dest, "helm"))

    result, installed = attempt("right", digest)
    check(result.returncode == 0 and installed, "install-helm.sh installs Helm %s when the sha256 matches" % version,
          (result.stderr or result.stdout).strip())
    result, installed = attempt("wrong", "0" * 64)
    check(result.returncode != 0 and not installed and "FAILED" in result.stdout + result.stderr,
          "install-helm.sh refuses an archive whose sha256 differs, before installing anything",
          "rc %s, installed %s" % (result.returncode, installed))
    result, installed = attempt("empty", "")
    check(result.returncode != 0 and not installed and key in result.stderr,
          "install-helm.sh refuses to run without a sha256", "rc %s: %s" % (result.returncode, result.stderr.strip()))


def main():
    work = tempfile.mkdtemp(prefix="matih-ee-")
    try:
        ee_dir = os.path.join(work, "ee")
        os.makedirs(ee_dir)
        # the sample's own files only: neither a tarball nor a build context a user made there
        listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "extensions/ee"],
                     cwd=ROOT).stdout.split()
        for path in listed:
            if os.path.dirname(path) == "extensions/ee" and not path.endswith(".tar.gz"):
                shutil.copy(os.path.join(ROOT, path), ee_dir)
        out = os.path.join(work, "dist")
        run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", out, ROOT], cwd=ROOT)
        tarball = os.path.join(out, os.listdir(out)[0])
        check_collection(work, tarball)
        check_sample(work, tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ee: %s" % ("%d check(s) failed: %s" % (len(failures), "; ".join(failures)) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
