#!/usr/bin/env python3
"""Writes an OCI image archive (for `ctr images import`) of one executable file.

    oci_image.py FILE PATH_IN_IMAGE NAME OUT.tar

The image is linux/amd64, one uncompressed layer holding FILE at PATH_IN_IMAGE, entrypoint that
path; index.json names it NAME (docker.io/NAME) for containerd.
"""
import hashlib, io, json, sys, tarfile

file, path, name, out = sys.argv[1:5]

def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data

layer_io = io.BytesIO()
with tarfile.open(fileobj=layer_io, mode="w") as layer:
    info = layer.gettarinfo(file, arcname=path.lstrip("/"))
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755
    with open(file, "rb") as f:
        layer.addfile(info, f)
layer_digest, layer_data = blob(layer_io.getvalue())
config = {
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": [path]},
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
}
config_digest, config_data = blob(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": config_digest, "size": len(config_data)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest, "size": len(layer_data)}],
}
manifest_digest, manifest_data = blob(json.dumps(manifest).encode())
index = {
    "schemaVersion": 2,
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": len(manifest_data),
        "annotations": {"io.containerd.image.name": f"docker.io/{name}",
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
    }],
}

def add(archive, arcname, data):
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))

with tarfile.open(out, "w") as archive:
    add(archive, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add(archive, "index.json", json.dumps(index).encode())
    for digest, data in [(layer_digest, layer_data), (config_digest, config_data),
                         (manifest_digest, manifest_data)]:
        add(archive, "blobs/sha256/" + digest.split(":")[1], data)
