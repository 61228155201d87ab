"""The local record of what a run created, so an interrupted run can still be torn down.

``build/integ/state.json`` (``--state-file``) holds the account and region, every stack the
run started to deploy (in deploy order) and the physical ids of the resources a stack
deletion may leave behind (read with ListStackResources before deleting). It is written
after every change; ``cfn-delivery integ --teardown-only`` reads it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

VERSION = 1


def default_path() -> Path:
    from .. import paths

    return paths.root() / "build" / "integ" / "state.json"


class State:
    def __init__(self, path, data=None):
        self.path = Path(path)
        self.data = data or {"version": VERSION, "account": None, "region": None, "stacks": [], "resources": []}

    # -- file ----------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "State":
        path = Path(path)
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise ValueError(f"{path}: unknown state version {data.get('version')!r}")
        return cls(path, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()

    # -- content -------------------------------------------------------------
    @property
    def account(self):
        return self.data.get("account")

    @property
    def region(self):
        return self.data.get("region")

    def bind(self, account: str, region: str) -> None:
        self.data["account"], self.data["region"] = account, region
        self.save()

    @property
    def stacks(self) -> list:
        """``[{"name", "env", "stack", "status"}]`` in deploy order."""
        return self.data["stacks"]

    @property
    def resources(self) -> list:
        """``[{"type", "id", "stack", "status"}]``: what teardown removes after the stacks."""
        return self.data["resources"]

    def add_stack(self, name: str, env: str = "", stack: str = "") -> None:
        """Record a stack before it is deployed (so a failed or interrupted create is torn down too)."""
        for entry in self.stacks:
            if entry["name"] == name:
                entry["status"] = "recorded"
                break
        else:
            self.stacks.append({"name": name, "env": env, "stack": stack, "status": "recorded"})
        self.save()

    def mark_stack(self, name: str, status: str) -> None:
        for entry in self.stacks:
            if entry["name"] == name:
                entry["status"] = status
        self.save()

    def add_resource(self, rtype: str, physical_id: str, stack: str = "") -> bool:
        for entry in self.resources:
            if entry["type"] == rtype and entry["id"] == physical_id:
                return False
        self.resources.append({"type": rtype, "id": physical_id, "stack": stack, "status": "recorded"})
        self.save()
        return True

    def mark_resource(self, rtype: str, physical_id: str, status: str) -> None:
        for entry in self.resources:
            if entry["type"] == rtype and entry["id"] == physical_id:
                entry["status"] = status
        self.save()

    def pending_stacks(self) -> list:
        return [s for s in self.stacks if s["status"] != "deleted"]

    def pending_resources(self) -> list:
        return [r for r in self.resources if r["status"] not in ("deleted", "gone")]
