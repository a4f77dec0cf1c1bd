"""Run the collection's playbooks the way AWX runs a job: ansible-runner, a private data dir laid out
as AWX lays it out, extra variables written as AWX writes them, credentials injected as AWX injects them.

What AWX does (awx/main/tasks/jobs.py, awx/main/models/credential/, awx/main/utils/safe_yaml.py):

- ``env/extravars`` holds the job's extra variables as YAML. Every variable that does not come
  from the job template's own extra_vars (survey answers, launch-time variables) is tagged
  ``!unsafe``, so Jinja in an answer is never rendered (ALLOW_JINJA_IN_EXTRA_VARS=template, the
  default). AWX adds its ``awx_*``/``tower_*`` meta variables.
- Survey answers have the survey's types: text, textarea and multiplechoice give strings,
  integer and float numbers, multiselect a list of the chosen strings.
- The job type Check adds ``--check``, Show Changes ``--diff``; forks ``--forks N``; the
  verbosity 3 (Debug) ``-vvv``.
- The "OpenShift or Kubernetes API Bearer Token" credential sets K8S_AUTH_HOST, K8S_AUTH_API_KEY
  and K8S_AUTH_VERIFY_SSL ('True' with the CA written to a file under env/ named by
  K8S_AUTH_SSL_CA_CERT, else 'False').
- A custom credential type renders each ``file`` injector (``template.<label>``) with a sandboxed
  Jinja into a 0600 file under env/ whose path is ``tower.filename.<label>``, then each ``env``
  injector; inputs left empty are undefined (render as '').
"""

import base64
import json
import os
import shutil
import stat
import sys
import tempfile

import yaml
from jinja2 import sandbox

import playbook_runner

REPO_ROOT = playbook_runner.REPO_ROOT
AWX_DIR = os.path.join(REPO_ROOT, "extensions", "awx")
PROJECT_DIR = os.path.join(AWX_DIR, "project")


def survey(name):
    with open(os.path.join(AWX_DIR, "surveys", name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def credential_type(name="helm_kubeconfig"):
    with open(os.path.join(AWX_DIR, "credential_types", name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def survey_answers(spec, answers):
    """The extra variables AWX passes for a survey: each answer (checked against its question the way
    AWX validates a launch), and the default of every question left unanswered."""
    variables = {}
    for question in spec["spec"]:
        name, kind = question["variable"], question["type"]
        if name not in answers:
            if question.get("default") not in (None, ""):
                default = question["default"]
                variables[name] = default.splitlines() if kind == "multiselect" else default
            elif question["required"]:
                raise ValueError("survey question %r is required" % name)
            continue
        value = answers[name]
        choices = question.get("choices", "")
        choices = choices.splitlines() if isinstance(choices, str) else choices
        if kind in ("text", "textarea", "password"):
            assert isinstance(value, str), "%s: AWX passes a %s answer as a string" % (name, kind)
            assert question.get("min", 0) <= len(value) <= question.get("max", 1024), "%s: %r is out of min/max" % (name, value)
        elif kind == "multiplechoice":
            assert value in choices, "%s: %r is not one of %s" % (name, value, choices)
        elif kind == "multiselect":
            assert isinstance(value, list) and all(item in choices for item in value), "%s: %r not from %s" % (name, value, choices)
        elif kind == "integer":
            assert isinstance(value, int)
        variables[name] = value
    return variables


class _UnsafeDumper(yaml.SafeDumper):
    """AWX's SafeStringDumper: every string, key or value, becomes ``!unsafe``."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def awx_extravars_yaml(variables, template_vars=None):
    """AWX's safe_dump: template_vars (the job template's own extra_vars) stay plain; everything
    else is written with every string tagged ``!unsafe``."""
    template_vars = template_vars or {}
    parts = []
    for key, value in variables.items():
        dumper = yaml.SafeDumper if key in template_vars and template_vars[key] == value else _UnsafeDumper
        parts.append(yaml.dump({key: value}, Dumper=dumper, default_flow_style=False, allow_unicode=True))
    return "".join(parts)


def awx_meta_vars(job_id, template_name):
    meta = {}
    for prefix in ("awx", "tower"):
        meta.update({prefix + "_job_id": job_id, prefix + "_job_template_name": template_name,
                     prefix + "_job_launch_type": "manual", prefix + "_user_name": "admin"})
    return meta


def bearer_token_env(private_data_dir, host, token, ca_pem=None, verify_ssl=True):
    """AWX's injector of the "OpenShift or Kubernetes API Bearer Token" credential."""
    env = {"K8S_AUTH_HOST": host, "K8S_AUTH_API_KEY": token}
    if verify_ssl and ca_pem:
        env["K8S_AUTH_VERIFY_SSL"] = "True"
        handle, path = tempfile.mkstemp(dir=_env_dir(private_data_dir))
        with os.fdopen(handle, "w") as stream:
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
            stream.write(ca_pem)
        env["K8S_AUTH_SSL_CA_CERT"] = path
    else:
        env["K8S_AUTH_VERIFY_SSL"] = "False"
    return env


class _Namespace:
    pass


def kubeconfig_credential_env(private_data_dir, kubeconfig_path):
    """The collection's "Helm kubeconfig (matih.helm)" credential holding the kubeconfig at ``kubeconfig_path``,
    its CA file embedded (the credential holds one YAML text, with no file beside it), injected as AWX does."""
    with open(kubeconfig_path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    entry = config["clusters"][0]["cluster"]
    if "certificate-authority" in entry:
        with open(entry.pop("certificate-authority"), "rb") as handle:
            entry["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    return custom_credential_env(private_data_dir, credential_type(), {"kubeconfig": yaml.safe_dump(config)})


def custom_credential_env(private_data_dir, definition, inputs):
    """A custom credential type's injectors rendered as AWX renders them; returns the environment."""
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    unknown = set(inputs) - set(fields)
    assert not unknown, "inputs %s are not fields of %s" % (sorted(unknown), definition["name"])
    missing = [name for name in definition["inputs"].get("required", []) if not inputs.get(name)]
    assert not missing, "required inputs missing: %s" % missing
    tower = _Namespace()
    namespace = {"tower": tower}
    for name, value in inputs.items():
        if isinstance(value, bool) or len(value):
            namespace[name] = value
    jinja = sandbox.ImmutableSandboxedEnvironment()
    for label, template in definition["injectors"].get("file", {}).items():
        data = jinja.from_string(template).render(**namespace)
        _handle, path = tempfile.mkstemp(dir=_env_dir(private_data_dir))
        os.close(_handle)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split(".", 1)[1], path)
    return {name: jinja.from_string(template).render(**namespace)
            for name, template in definition["injectors"].get("env", {}).items()}


def _env_dir(private_data_dir):
    path = os.path.join(str(private_data_dir), "env")
    os.makedirs(path, exist_ok=True)
    return path


def base_env(home, helm_dir, **extra):
    """The job's environment apart from its credentials: Helm and ansible on PATH (as in an
    execution environment), no kubeconfig and no K8S_AUTH_* of the test run, an empty HOME."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("K8S_AUTH_", "HELM_")) and name not in ("KUBECONFIG", "ANSIBLE_STDOUT_CALLBACK")}
    env.update(PATH=os.pathsep.join([str(helm_dir), os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
               HOME=str(home), ANSIBLE_COLLECTIONS_PATH=playbook_runner.collections_path(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=os.path.join(str(home), "ansible-tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    env.update(extra)
    return env


class Job:
    """One AWX job: a private data dir with the project, an inventory with localhost, the extra
    variables file, and the credential environment; ``run`` runs it with ansible-runner."""

    def __init__(self, directory, playbook, template_name, answers, survey_name=None, template_vars=None,
                 job_type="run", diff_mode=False, forks=None, verbosity=0, credential_env=None):
        # pylint: disable=too-many-arguments
        self.directory = directory
        self.playbook = playbook
        shutil.copytree(PROJECT_DIR, os.path.join(str(directory), "project"), dirs_exist_ok=True)
        inventory = os.path.join(str(directory), "inventory")
        os.makedirs(inventory, exist_ok=True)
        with open(os.path.join(inventory, "hosts"), "w", encoding="utf-8") as stream:
            # localhost without ansible_connection, as an AWX inventory may have it: the playbooks'
            # connection: local must keep Ansible from trying SSH (nothing listens on port 22 here)
            stream.write("localhost ansible_python_interpreter=%s\n" % sys.executable)
        variables = dict(awx_meta_vars(42, template_name), **(template_vars or {}))
        variables.update(survey_answers(survey(survey_name), answers) if survey_name else answers)
        self.extravars_text = awx_extravars_yaml(variables, template_vars)
        with open(os.path.join(_env_dir(directory), "extravars"), "w", encoding="utf-8") as stream:
            stream.write(self.extravars_text)
        self.cmdline = (["--check"] if job_type == "check" else []) + (["--diff"] if diff_mode else [])
        self.cmdline += ["--forks", str(forks)] if forks else []
        self.cmdline += ["-" + "v" * verbosity] if verbosity else []
        self.credential_env = dict(credential_env or {})
        self.result = None

    def run(self, env):
        import ansible_runner  # pylint: disable=import-outside-toplevel  # only the AWX tests need it

        self.result = ansible_runner.run(
            private_data_dir=str(self.directory), playbook=self.playbook,
            envvars=dict(env, **self.credential_env), cmdline=" ".join(self.cmdline) or None,
            quiet=True, timeout=600)
        return self

    @property
    def events(self):
        return list(self.result.events)

    @property
    def stats(self):
        stats = [event for event in self.events if event["event"] == "playbook_on_stats"]
        assert len(stats) == 1, "no single stats event (status %s):\n%s" % (self.result.status, self.output())
        return stats[0]["event_data"]

    def task_results(self, task_name):
        return [event["event_data"].get("res", {}) for event in self.events
                if event["event"].startswith("runner_on_") and event["event_data"].get("task") == task_name]

    def output(self):
        return "\n".join(event.get("stdout", "") for event in self.events)[-15000:]
