#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of hooks/kubernetes/ that need no cluster (k8s_manifests.sh runs this).

Usage: k8s_manifests.py KUBE_DIR HOOKS_D_DIR USWAP_HOOK USWAP_SHIM SCRATCH_DIR

- every YAML file parses, and every document has apiVersion, kind and metadata.name;
- the DaemonSet copies the binaries to a hostPath /usr/local/bin and the hooks.d files to a
  hostPath /etc/containers/oci/hooks.d, and the hook.path of both hooks.d files in its
  ConfigMap is the first one's uswap-hook; the files are hooks/hooks.d/*.in with that path;
- its init container's script, run on a scratch tree (each volume and the image's /uswap
  mapped to a directory of SCRATCH_DIR, this build's binaries in the image), installs the
  binaries and the hooks.d files there, twice in a row (an upgrade);
- the Containerfile builds static programs into the paths the script and the pod use;
- the pod example's annotations pass uswap-hook's parser, and a percentage target comes with
  a memory limit.

Exit status 0 pass, 1 fail (a "FAIL: ..." line).
"""
import json
import os
import shutil
import stat
import subprocess
import sys

import yaml

BIN_DIR = "/usr/local/bin"
HOOKS_DIR = "/etc/containers/oci/hooks.d"
IMAGE_DIR = "/uswap"
HOOKS_FILES = ("uswap-createRuntime.json", "uswap-poststop.json")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def note(msg):
    print("# " + msg)


def load_manifests(kdir):
    docs = {}
    for name in sorted(os.listdir(kdir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(kdir, name), encoding="utf-8") as f:
            try:
                found = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                fail(f"{name} is not valid YAML: {e}")
        for d in found:
            if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
                fail(f"{name}: a document without apiVersion or kind")
            if not (d.get("metadata") or {}).get("name"):
                fail(f"{name}: a {d['kind']} without metadata.name")
        note(f"{name}: {', '.join(d['kind'] for d in found)}")
        docs[name] = found
    return docs


def only(docs, name, kind):
    found = [d for d in docs.get(name, []) if d["kind"] == kind]
    if len(found) != 1:
        fail(f"{name}: expected one {kind}, found {len(found)}")
    return found[0]


def host_volume(spec, path):
    """The name of the hostPath volume of path."""
    names = [v["name"] for v in spec.get("volumes", [])
             if (v.get("hostPath") or {}).get("path") == path]
    if len(names) != 1:
        fail(f"the DaemonSet has {len(names)} hostPath volumes for {path}, not one")
    return names[0]


def check_hooks_files(cm, hook_path, hooksd_dir):
    data = cm.get("data") or {}
    if sorted(data) != sorted(HOOKS_FILES):
        fail(f"ConfigMap {cm['metadata']['name']} holds {sorted(data)}, not {HOOKS_FILES}")
    for name in HOOKS_FILES:
        try:
            got = json.loads(data[name])
        except json.JSONDecodeError as e:
            fail(f"{name} in the ConfigMap is not JSON: {e}")
        if got.get("hook", {}).get("path") != hook_path:
            fail(f"{name} runs {got.get('hook', {}).get('path')!r}, but the DaemonSet installs "
                 f"the hook as {hook_path}")
        with open(os.path.join(hooksd_dir, name + ".in"), encoding="utf-8") as f:
            want = json.loads(f.read().replace("@USWAP_HOOK_PATH@", hook_path))
        if got != want:
            fail(f"{name} in the ConfigMap differs from hooks/hooks.d/{name}.in")
    note(f"hooks.d files run {hook_path}, as hooks/hooks.d/*.in")


def run_install(init, spec, cm, scratch, hook_bin, shim_bin):
    """Run the init container's script on a scratch tree; return volume name -> directory."""
    cmd = init.get("command") or []
    if len(cmd) != 3 or cmd[0] != "/bin/sh" or not cmd[1].startswith("-"):
        fail(f"the init container's command is not /bin/sh -c SCRIPT: {cmd!r}")
    script = cmd[2]
    image = os.path.join(scratch, "image")
    os.makedirs(image)
    shutil.copy(hook_bin, os.path.join(image, "uswap-hook"))
    shutil.copy(shim_bin, os.path.join(image, "uswap-shim"))
    script = script.replace(IMAGE_DIR + "/", image + "/")
    dirs = {}
    mounts = sorted(init.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
    for m in mounts:
        d = os.path.join(scratch, "vol-" + m["name"])
        os.makedirs(d)
        dirs[m["name"]] = d
        script = script.replace(m["mountPath"], d)
    config = [v["name"] for v in spec["volumes"]
              if (v.get("configMap") or {}).get("name") == cm["metadata"]["name"]]
    if len(config) != 1 or config[0] not in dirs:
        fail("the init container does not mount the hooks.d ConfigMap")
    for name, text in cm["data"].items():
        with open(os.path.join(dirs[config[0]], name), "w", encoding="utf-8") as f:
            f.write(text)
    for attempt in ("install", "upgrade"):
        r = subprocess.run(["/bin/sh", cmd[1], script], capture_output=True, text=True,
                           check=False)
        if r.returncode != 0:
            fail(f"the install script failed ({attempt}, exit {r.returncode}): "
                 f"{r.stderr.strip()}")
    return dirs


def check_installed(dirs, bin_vol, hooks_vol, cm, hook_bin, shim_bin):
    for name, src in (("uswap-hook", hook_bin), ("uswap-shim", shim_bin)):
        path = os.path.join(dirs[bin_vol], name)
        if not os.path.isfile(path) or not os.stat(path).st_mode & stat.S_IXUSR:
            fail(f"the install script left no executable {name} in the {bin_vol} volume")
        with open(path, "rb") as a, open(src, "rb") as b:
            if a.read() != b.read():
                fail(f"{name} installed differs from the image's")
    for name in HOOKS_FILES:
        path = os.path.join(dirs[hooks_vol], name)
        with open(path, encoding="utf-8") as f:
            if f.read() != cm["data"][name]:
                fail(f"{name} installed differs from the ConfigMap's")
    for d in (dirs[bin_vol], dirs[hooks_vol]):
        extra = [n for n in os.listdir(d) if n.startswith(".")]
        if extra:
            fail(f"the install script left {extra} behind")
    note("install script: binaries and hooks.d files in place, twice, nothing left behind")


def check_containerfile(kdir, pod):
    with open(os.path.join(kdir, "Containerfile"), encoding="utf-8") as f:
        text = f.read()
    wanted = ["-DUSWAP_STATIC=ON", IMAGE_DIR + "/uswap-hook", IMAGE_DIR + "/uswap-shim"]
    wanted += [c["command"][0] for c in pod["spec"]["containers"]]
    missing = [w for w in wanted if w not in text]
    if missing:
        fail(f"the Containerfile does not mention {missing}")
    note("Containerfile builds static programs into " + IMAGE_DIR)


def check_pod(pod, hook_bin, scratch):
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    if ann.get("io.uswap.enabled") != "true":
        fail("the pod example is not annotated io.uswap.enabled: \"true\" (a string)")
    if str(ann.get("io.uswap.target", "")).endswith("%"):
        for c in pod["spec"]["containers"]:
            if not ((c.get("resources") or {}).get("limits") or {}).get("memory"):
                fail(f"container {c['name']}: a percentage target needs a memory limit")

    def hook(annotations):
        state = {"ociVersion": "1.0.2", "id": "k8s-pod-example", "status": "creating",
                 "pid": os.getpid(), "bundle": scratch, "annotations": annotations}
        return subprocess.run([hook_bin, "--run-dir", os.path.join(scratch, "run"),
                               "--store-root", os.path.join(scratch, "store"), "poststart"],
                              input=json.dumps(state), capture_output=True, text=True,
                              check=False)

    r = hook(ann)
    if r.returncode != 0:
        fail(f"uswap-hook refuses the pod example's annotations: {r.stderr.strip()}")
    bad = dict(ann, **{"io.uswap.targt": "50%"})
    if hook(bad).returncode == 0:
        fail("uswap-hook accepted a misspelt annotation: this check proves nothing")
    note(f"pod example annotations {ann} pass uswap-hook")


def main():
    if len(sys.argv) != 6:
        fail("usage: k8s_manifests.py KUBE_DIR HOOKS_D_DIR USWAP_HOOK USWAP_SHIM SCRATCH")
    kdir, hooksd_dir, hook_bin, shim_bin, scratch = sys.argv[1:]
    docs = load_manifests(kdir)
    ds = only(docs, "uswap-daemonset.yaml", "DaemonSet")
    cm = only(docs, "uswap-daemonset.yaml", "ConfigMap")
    pod = only(docs, "pod-example.yaml", "Pod")
    if cm["metadata"].get("namespace") != ds["metadata"].get("namespace"):
        fail("the ConfigMap and the DaemonSet are in different namespaces")
    spec = ds["spec"]["template"]["spec"]
    inits = [c for c in spec.get("initContainers", []) if c["name"] == "install"]
    if len(inits) != 1:
        fail("the DaemonSet has no init container named install")
    bin_vol = host_volume(spec, BIN_DIR)
    hooks_vol = host_volume(spec, HOOKS_DIR)
    check_hooks_files(cm, BIN_DIR + "/uswap-hook", hooksd_dir)
    dirs = run_install(inits[0], spec, cm, scratch, hook_bin, shim_bin)
    for vol in (bin_vol, hooks_vol):
        if vol not in dirs:
            fail(f"the init container does not mount the {vol} volume")
    check_installed(dirs, bin_vol, hooks_vol, cm, hook_bin, shim_bin)
    check_containerfile(kdir, pod)
    check_pod(pod, hook_bin, scratch)
    print("PASS: Kubernetes manifests parse, install what their hooks.d files run, and the "
          "pod example's annotations are valid")


if __name__ == "__main__":
    main()
