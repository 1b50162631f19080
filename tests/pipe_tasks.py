"""Task classes for tests/test_pipe.py (a real module, so luigi can import them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import luigi
import numpy as np
import pandas as pd

import dsdt.api as api
from dsdt.pipe import PipeTask

#: class name -> number of pipe_run calls (tests reset it).
RUNS: dict[str, int] = {}


def _count(task: PipeTask) -> None:
    RUNS[type(task).__name__] = RUNS.get(type(task).__name__, 0) + 1


def load(day: str) -> pd.DataFrame:
    """A fake loader."""
    return pd.DataFrame({"day": [day] * 3, "x": [1.0, 2.0, 3.0]})


class Model:
    """A fake model."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def save(self, path: str) -> None:
        Path(path).write_text(str(self.weight))


def fit(clean: pd.DataFrame, labels: Any) -> Model:
    """A fake fit."""
    return Model(float(clean["x"].sum()) + len(labels))


class Clean(PipeTask):
    """The user story's first task."""

    day = luigi.Parameter()

    def pipe_run(self) -> pd.DataFrame:
        _count(self)
        return load(self.day)


class Train(PipeTask):
    """The user story's root."""

    day = luigi.Parameter()
    lr = luigi.FloatParameter(default=0.1)

    def pipe_requires(self) -> None:
        self.add_dependency("clean", Clean, {"day": self.day})
        self.add_external_dependency("labels", api.BundleWrapperTask, {"name": "labels"})

    def pipe_run(self, clean: pd.DataFrame, labels: Any) -> dict[str, Any]:
        _count(self)
        path = self.create_output_file("model.bin")
        fit(clean, labels).save(path.path)
        return {"model": path, "auc": 0.91}


class A(PipeTask):
    """A leaf with an int param."""

    n = luigi.IntParameter(default=1)
    force_me = luigi.BoolParameter(default=False, significant=False)

    def pipe_requires(self) -> None:
        if self.force_me:
            self.mark_force()

    def pipe_run(self) -> int:
        _count(self)
        return self.n


class B(PipeTask):
    """Another leaf."""

    n = luigi.IntParameter(default=2)

    def pipe_run(self) -> int:
        _count(self)
        return self.n * 10


class Sum(PipeTask):
    """Depends on A as x and B as y (or swapped)."""

    swap = luigi.BoolParameter(default=False)
    force_a = luigi.BoolParameter(default=False, significant=False)

    def pipe_requires(self) -> None:
        a, b = ("y", "x") if self.swap else ("x", "y")
        self.add_dependency(a, A, {"force_me": self.force_a})
        self.add_dependency(b, B, {})

    def pipe_run(self, x: int, y: int) -> dict[str, Any]:
        _count(self)
        return {"x": x, "y": y, "uuid_x": self.get_bundle_uuid("x"),
                "tags_x": self.get_tags("x")}


class OnlyB(PipeTask):
    """Depends on B alone."""

    def pipe_requires(self) -> None:
        self.add_dependency("b", B, {})

    def pipe_run(self, b: int) -> int:
        _count(self)
        return b + 1


class Top(PipeTask):
    """Depends on Sum and OnlyB."""

    def pipe_requires(self) -> None:
        self.add_dependency("s", Sum, {})
        self.add_dependency("o", OnlyB, {})

    def pipe_run(self, s: dict[str, Any], o: int) -> int:
        _count(self)
        return s["x"] + o


class Value(PipeTask):
    """Returns the value of the ``kind`` param (every supported type)."""

    kind = luigi.Parameter()

    def pipe_run(self) -> Any:
        values: dict[str, Any] = {
            "int": 3, "float": 2.5, "str": "hi", "bool": True, "none": None, "bytes": b"\x00b",
            "list": [1, "a", None], "tuple": (1, 2), "dict": {"a": 1, "b": "s", "c": [1]},
            "set": {1, 2}, "nested": {"a": {"b": [1, {"c": 2}]}},
            "df": pd.DataFrame({"a": [1, 2]}, index=[5, 6]),
            "series": pd.Series([1.5, 2.5], name="s"), "array": np.arange(6).reshape(2, 3),
        }
        if self.kind == "file":
            t = self.create_output_file("f.txt")
            Path(t.path).write_text("file")
            return t
        if self.kind == "files":
            ts = self.create_output_file({"a": "a.txt", "b": "sub/b.txt"})
            for k, t in ts.items():
                Path(t.path).write_text(k)
            return ts
        if self.kind == "dir":
            d = self.create_output_dir("out")
            (Path(d) / "x.txt").write_text("x")
            assert Path(d).parent == Path(self.get_output_dir())
            return [str(Path(d) / "x.txt")]
        return values[self.kind]


class Echo(PipeTask):
    """Receives a Value and returns it unchanged."""

    kind = luigi.Parameter()

    def pipe_requires(self) -> None:
        self.add_dependency("v", Value, {"kind": self.kind})

    def pipe_run(self, v: Any) -> Any:
        return v


class Fails(PipeTask):
    """Writes a managed file, then raises."""

    def pipe_requires(self) -> None:
        self.add_dependency("a", A, {})

    def pipe_run(self, a: int) -> int:
        Path(self.create_output_file("half.txt").path).write_text("half")
        raise RuntimeError("boom")


class Base(PipeTask):
    """Declares a param that subclasses inherit."""

    alpha = luigi.IntParameter(default=1)


class Child(Base):
    """Has only the inherited param."""

    def pipe_run(self) -> int:
        return self.alpha


class Other(Base):
    """Same params as Child, different class."""

    def pipe_run(self) -> int:
        return self.alpha


class Tagged(PipeTask):
    """Names itself and tags its bundle."""

    def pipe_requires(self) -> None:
        self.set_bundle_name("tagged_out")

    def pipe_run(self) -> str:
        self.add_tags({"made_by": "tagged"})
        self.mark_transient()
        return "t"


class UsesExternal(PipeTask):
    """Depends on an external bundle chosen by human name or uuid."""

    ext_uuid = luigi.Parameter(default="")

    def pipe_requires(self) -> None:
        if self.ext_uuid:
            self.add_external_dependency("e", api.BundleWrapperTask, {}, uuid=self.ext_uuid)
        else:
            self.add_external_dependency("e", api.BundleWrapperTask, {}, human_name="labels")

    def pipe_run(self, e: Any) -> Any:
        _count(self)
        return {"e": e, "uuid": self.get_bundle_uuid("e")}


class BadDeps(PipeTask):
    """Declares the same arg twice, or params that are not a dict."""

    mode = luigi.Parameter()

    def pipe_requires(self) -> None:
        if self.mode == "dup":
            self.add_dependency("a", A, {})
            self.add_dependency("a", B, {})
        else:
            self.add_dependency("a", A, [("n", 1)])  # type: ignore[arg-type]


class Leaf(PipeTask):
    """An independent leaf that records the process it ran in."""

    i = luigi.IntParameter()

    def pipe_run(self) -> dict[str, int]:
        import os
        import time

        time.sleep(0.05)
        return {"i": self.i, "square": self.i * self.i, "pid": os.getpid()}


class Fan(PipeTask):
    """Depends on ``width`` independent leaves."""

    width = luigi.IntParameter(default=6)

    def pipe_requires(self) -> None:
        for i in range(self.width):
            self.add_dependency(f"leaf{i}", Leaf, {"i": i})

    def pipe_run(self, **leaves: dict[str, int]) -> dict[str, Any]:
        _count(self)
        return {"total": sum(v["square"] for v in leaves.values()),
                "pids": sorted({v["pid"] for v in leaves.values()})}


class RemoteOut(PipeTask):
    """Writes a file and a directory straight to the remote (or reports why it cannot)."""

    probe = luigi.BoolParameter(default=False)

    def pipe_requires(self) -> None:
        self.add_dependency("a", A, {})

    def pipe_run(self, a: int) -> Any:
        from dsdt.errors import UsageError

        try:
            f = self.create_remote_output_file("out/r.txt")
            d = self.create_remote_output_dir("parts")
        except UsageError as e:
            if self.probe:
                return str(e)
            raise
        with f.open("w") as out:  # an S3Target or a LocalTarget, as in Disdat
            out.write("remote file")
        _write(d + "/p0.txt", "part 0")
        return {"file": f, "dir": d}


def _write(url: str, text: str) -> None:
    if url.startswith("s3://"):
        import boto3

        bucket, _, key = url[5:].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
    else:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        Path(url).write_text(text)


class DynLeaf(PipeTask):
    """A leaf that dynamic tasks yield; depends statically on A."""

    p = luigi.IntParameter(default=1)

    def pipe_requires(self) -> None:
        self.add_dependency("a", A, {})

    def pipe_run(self, a: int) -> int:
        _count(self)
        return a + self.p * 100


class DynParent(PipeTask):
    """Yields one dynamic dependency (DynLeaf with its ``p``) and uses its data."""

    p = luigi.IntParameter(default=1)

    def pipe_requires(self) -> None:
        self.add_dependency("b", B, {})

    def pipe_run(self, b: int) -> Any:
        _count(self)
        leaf = yield self.yield_dependency("leaf", DynLeaf, {"p": self.p})
        return {"leaf": leaf, "b": b, "uuid": self.get_bundle_uuid("leaf"),
                "tags": self.get_tags("leaf")}


class DynTwo(PipeTask):
    """Yields two dynamic dependencies, one after the other."""

    def pipe_run(self) -> Any:
        _count(self)
        one = yield self.yield_dependency("one", DynLeaf, {"p": 1})
        two = yield self.yield_dependency("two", DynLeaf, {"p": 2})
        return one + two


class DynUpper(PipeTask):
    """A static root above a dynamic task (the dynamic task is planned as a static one)."""

    def pipe_requires(self) -> None:
        self.add_dependency("parent", DynParent, {"p": 3})

    def pipe_run(self, parent: Any) -> Any:
        _count(self)
        return parent["leaf"]


class Described(PipeTask):
    """Parameters of several luigi types, one with a description (for apply --help)."""

    day = luigi.DateParameter(description="The day to load, as YYYY-MM-DD.")
    n = luigi.IntParameter(default=3)
    name_part = luigi.Parameter(default="x")

    def pipe_run(self) -> int:
        _count(self)
        return self.n


class NotATask:
    """A class that is no PipeTask (apply refuses it)."""
