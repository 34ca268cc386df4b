#!/usr/bin/env python3
"""Checks the Kubernetes base offline: validate.py DIR [RENDERED]

RENDERED is `kubectl kustomize DIR` output, where kubectl exists. Without it, the base is
rendered here the way kustomize renders this one (its resources, then a ConfigMap and a
Secret from the generators). Every document is validated against Kubernetes' own schemas
(kubernetes-validate, strict: unknown fields are errors), then the parts that must agree
are checked: the worker count in both Jobs, the Indexed completion mode, the Service's
selector and port, the mounts. Prints what it checked; exits 1 on the first problem."""
import base64, os, sys

import kubernetes_validate
import yaml

K8S = "1.33.0"


def render(base):
    with open(os.path.join(base, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    docs = []
    for r in k["resources"]:
        with open(os.path.join(base, r)) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    for g in k.get("configMapGenerator", []):
        data = {}
        for spec in g["files"]:
            key, _, path = spec.rpartition("=") if "=" in spec else (spec, "", spec)
            with open(os.path.join(base, path)) as f:
                data[key or path] = f.read()
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data})
    for g in k.get("secretGenerator", []):
        data = {}
        for spec in g["files"]:
            key, _, path = spec.partition("=") if "=" in spec else (spec, "", spec)
            with open(os.path.join(base, path or key), "rb") as f:
                data[key] = base64.b64encode(f.read()).decode()
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": g["name"]}, "type": "Opaque", "data": data})
    return docs


def fail(msg):
    print(f"deploy/kubernetes: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    base = sys.argv[1]
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        how = "rendered by kubectl kustomize"
    else:
        docs = render(base)
        how = "rendered by validate.py (no kubectl)"
    for d in docs:
        try:
            kubernetes_validate.validate(d, K8S, strict=True)
        except kubernetes_validate.ValidationError as e:
            fail(f"{d['kind']} {d['metadata']['name']}: {e.message} at {'.'.join(map(str, e.path))}")
    by = {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0] if d["kind"] in ("ConfigMap", "Secret") else d["metadata"]["name"]): d for d in docs}
    ctl = by.get(("Job", "swarm-controller")) or fail("no controller Job")
    workers = by.get(("Job", "swarm-workers")) or fail("no worker Job")
    svc = by.get(("Service", "swarm-controller")) or fail("no controller Service")
    ws = workers["spec"]
    if ws.get("completionMode") != "Indexed":
        fail("the worker Job must be Indexed (its completion index is the worker's segment)")
    c = ctl["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    n = int(env.get("WORKERS", "0"))
    if not (n == ws["completions"] == ws["parallelism"]):
        fail(f"the controller waits for {n} workers but the worker Job runs completions={ws['completions']}, parallelism={ws['parallelism']}")
    labels = ctl["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
        fail("the Service's selector does not select the controller's pod")
    w = ws["template"]["spec"]["containers"][0]
    target = w["args"][w["args"].index("--controller") + 1]
    host, port = target.rsplit(":", 1)
    if host != svc["metadata"]["name"] or int(port) not in [p["port"] for p in svc["spec"]["ports"]]:
        fail(f"the workers reach {target}, which is not the Service")
    if "--token-file" not in c["args"] or "--token-file" not in w["args"]:
        fail("controller and workers must both use the token (--token-file)")
    print(f"deploy/kubernetes: {len(docs)} documents valid for Kubernetes {K8S} ({how}); {n} workers agree")


main()
