"""docker-py (the Docker SDK for Python) against wharf's API service: run by docker_py.rs with
DOCKER_HOST pointing at the service, REGISTRY at a test registry and CONTEXT at a build
context. Any failed assertion exits non-zero with its message."""
import os
import time

import docker

client = docker.from_env()
assert client.ping() is True

# Attached: the output comes back; a non-zero exit raises ContainerError with stderr.
out = client.containers.run("hello:1", ["a", "b"], remove=True)
assert b"hello from wasm\narg[0]=/hello.wasm\narg[1]=a\narg[2]=b\n" in out, out
try:
    client.containers.run("exit3:1", remove=True)
    raise AssertionError("exit 3 did not raise")
except docker.errors.ContainerError as e:
    assert e.exit_status == 3, e

# Detached: logs, wait, stop, remove.
started = time.time()
box = client.containers.run(
    "sleep:1", detach=True, name="pysleep", environment={"A": "B"}, labels={"x": "y"}
)
for _ in range(200):
    if b"sleeping" in box.logs():
        break
    time.sleep(0.05)
assert b"sleeping" in box.logs(), box.logs()
listed = client.containers.list(all=True, filters={"label": "x=y"})
assert [c.name for c in listed] == ["pysleep"], listed
box.reload()
assert box.attrs["Config"]["Env"] == ["A=B"], box.attrs["Config"]
box.stop(timeout=1)
assert box.wait()["StatusCode"] == 143
box.remove(v=True)
assert not client.containers.list(all=True, filters={"name": "pysleep"})

# Images: build (the id from "Successfully built"), list, pull.
image, lines = client.images.build(path=os.environ["CONTEXT"], tag="pybuilt:1", rm=True)
assert "pybuilt:1" in image.tags, image.tags
assert any("Successfully built" in line.get("stream", "") for line in lines)
assert any("pybuilt:1" in i.tags for i in client.images.list())
remote = os.environ["REGISTRY"] + "/py/hello"
client.images.get("hello:1").tag(remote, "3")
for line in client.images.push(remote, tag="3", stream=True, decode=True):
    assert "error" not in line, line
client.images.remove(remote + ":3")
pulled = client.images.pull(remote, tag="3")
assert remote + ":3" in pulled.tags, pulled.tags

# Events up to a time end by themselves.
until = time.time() + 1
events = list(client.events(since=started, until=until, decode=True))
actions = [(e["Type"], e["Action"]) for e in events if e.get("Actor", {}).get("Attributes", {}).get("name") == "pysleep"]
assert ("container", "create") in actions and ("container", "die") in actions, actions
assert all("status" in e and "id" in e for e in events if e["Type"] == "container")
print("docker-py ok")
