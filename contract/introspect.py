"""goarq contract export: describe an arq app's job functions as a goarq contract.

Run by `goarq contract export` with the user's Python (embedded in the goarq
binary, fed on stdin):

    python - SETTINGS

SETTINGS is the dotted path arq's CLI takes (app.worker.WorkerSettings). The
program imports it, reads its functions and cron jobs with `inspect` and
`typing.get_type_hints`, and prints the contract as JSON on stdout (schema:
contract/doc.go in goarq). It never builds an arq Worker, and while it runs
an audit hook refuses every network connection and every process start, so
that an app whose import would reach Redis fails the export instead.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import importlib
import inspect
import json
import math
import os
import sys
import types
import typing
import uuid

SCHEMA = "goarq-contract"
VERSION = 1

# arq's Worker defaults (arq/worker.py), for settings that do not set them
ARQ_DEFAULTS = {"job_timeout": 300.0, "keep_result": 3600.0, "max_tries": 5, "keep_result_forever": False}


class ExportError(Exception):
    pass


def _audit(event: str, args: tuple[typing.Any, ...]) -> None:
    if event == "socket.connect":
        raise ExportError(f"importing the app tried to connect to {args[1]!r}: "
                          "goarq contract export imports it without network; move the connection out of import time")
    if event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork"):
        raise ExportError(f"importing the app tried to start a process ({event}): "
                          "goarq contract export imports it without starting anything")


def import_string(path: str) -> typing.Any:
    module_path, _, name = path.strip().rpartition(".")
    if not module_path:
        raise ExportError(f"{path!r} is not a dotted path (module.WorkerSettings)")
    module = importlib.import_module(module_path)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ExportError(f"module {module_path!r} has no attribute {name!r}") from None


def setting(settings: typing.Any, name: str, default: typing.Any = None) -> typing.Any:
    # arq reads a settings class's own attributes only (arq.worker.get_kwargs)
    if isinstance(settings, dict):
        return settings.get(name, default)
    return vars(settings).get(name, default)


def seconds(v: typing.Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    return float(v)


def serializer_name(ser: typing.Any) -> str:
    if ser is None:
        return "pickle"
    try:
        out = ser({"a": 1})
    except Exception:
        return "custom"
    if isinstance(out, str):
        out = out.encode()
    if out[:1] == b"\x80":
        return "pickle"
    if out[:1] == b"{":
        return "json"
    if out[:1] == b"\x81":
        return "msgpack"
    return "custom"


class Describer:
    def __init__(self) -> None:
        self.models: dict[str, dict[str, typing.Any]] = {}

    # ---- types ----
    def type_of(self, t: typing.Any) -> dict[str, typing.Any]:
        if t is inspect.Parameter.empty or t is typing.Any or t is object:
            return {"kind": "any"}
        if t is None or t is type(None):
            return {"kind": "none"}
        if isinstance(t, str):  # an annotation get_type_hints could not resolve
            return {"kind": "any"}
        origin = typing.get_origin(t)
        args = typing.get_args(t)
        if origin is typing.Annotated:
            return self.type_of(args[0])
        if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
            rest = [a for a in args if a is not type(None)]
            inner = self.type_of(rest[0]) if len(rest) == 1 else {"kind": "union", "items": [self.type_of(a) for a in rest]}
            if len(rest) < len(args):
                return {"kind": "optional", "of": inner}
            return inner
        if origin is typing.Literal:
            return {"kind": "literal", "values": [enc(a)[0] for a in args]}
        if origin in (list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable):
            return {"kind": "list", "of": self.type_of(args[0]) if args else {"kind": "any"}}
        if origin in (set, collections.abc.Set, collections.abc.MutableSet):
            return {"kind": "set", "of": self.type_of(args[0]) if args else {"kind": "any"}}
        if origin is frozenset:
            return {"kind": "frozenset", "of": self.type_of(args[0]) if args else {"kind": "any"}}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"kind": "tuple", "of": self.type_of(args[0])}
            if args == ((),):
                return {"kind": "tuple", "items": []}
            if not args:
                return {"kind": "tuple", "of": {"kind": "any"}}
            return {"kind": "tuple", "items": [self.type_of(a) for a in args]}
        if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
            k, v = (args + (typing.Any, typing.Any))[:2] if args else (typing.Any, typing.Any)
            return {"kind": "dict", "key": self.type_of(k), "value": self.type_of(v)}
        if origin is not None:
            return {"kind": "any"}
        simple = {bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes", bytearray: "bytes",
                  datetime.datetime: "datetime", datetime.date: "date", datetime.time: "time",
                  datetime.timedelta: "timedelta", decimal.Decimal: "decimal", uuid.UUID: "uuid",
                  list: "list", dict: "dict", set: "set", frozenset: "frozenset", tuple: "tuple"}
        if t in simple:
            kind = simple[t]
            if kind in ("list", "set", "frozenset", "tuple"):
                return {"kind": kind, "of": {"kind": "any"}}
            if kind == "dict":
                return {"kind": "dict", "key": {"kind": "any"}, "value": {"kind": "any"}}
            return {"kind": kind}
        if isinstance(t, type):
            ref = self.model(t)
            if ref is not None:
                return {"kind": "model", "ref": ref}
            return {"kind": "class", "ref": f"{t.__module__}.{t.__qualname__}"}
        return {"kind": "any"}

    # ---- models ----
    def model(self, cls: type) -> str | None:
        ref = f"{cls.__module__}.{cls.__qualname__}"
        if ref in self.models:
            return ref
        kind = model_kind(cls)
        if kind is None:
            return None
        m: dict[str, typing.Any] = {"ref": ref, "module": cls.__module__, "class": cls.__qualname__, "kind": kind}
        self.models[ref] = m  # before the fields: a model may refer to itself
        if kind == "enum":
            members = [(name, member) for name, member in cls.__members__.items() if member.name == name]
            values = [member.value for _, member in members]
            base = "any"
            if issubclass(cls, int) or values and all(type(v) is int for v in values):
                base = "int"
            elif issubclass(cls, str) or values and all(type(v) is str for v in values):
                base = "str"
            m["base"] = base
            m["flag"] = issubclass(cls, enum.Flag)
            m["members"] = [{"name": name, "value": enc(member.value)[0]} for name, member in members]
            return ref
        hints = hints_of(cls)
        fields = []
        if kind == "pydantic":
            for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
                f = {"name": name, "type": self.type_of(hints.get(name, info.annotation))}
                if not info.is_required():
                    self.default(f, info.default, info.default_factory is not None)
                fields.append(f)
        elif kind == "pydantic_v1":
            for name, mf in cls.__fields__.items():  # type: ignore[attr-defined]
                f = {"name": name, "type": self.type_of(hints.get(name, mf.outer_type_))}
                if not mf.required:
                    self.default(f, mf.default, mf.default_factory is not None)
                fields.append(f)
        elif kind == "dataclass":
            for df in dataclasses.fields(cls):
                f = {"name": df.name, "type": self.type_of(hints.get(df.name, df.type))}
                if df.default is not dataclasses.MISSING:
                    self.default(f, df.default, False)
                elif df.default_factory is not dataclasses.MISSING:
                    self.default(f, None, True)
                if df.kw_only:
                    f["keyword_only"] = True
                if not df.init:
                    f["init"] = False
                fields.append(f)
            params = getattr(cls, "__dataclass_params__", None)
            if params is not None and params.frozen:
                m["frozen"] = True
            if "__slots__" in vars(cls):
                m["slots"] = True
        elif kind == "namedtuple":
            defaults = getattr(cls, "_field_defaults", {})
            for name in cls._fields:  # type: ignore[attr-defined]
                f = {"name": name, "type": self.type_of(hints.get(name, typing.Any))}
                if name in defaults:
                    self.default(f, defaults[name], False)
                fields.append(f)
        m["fields"] = fields
        return ref

    def default(self, f: dict[str, typing.Any], value: typing.Any, factory: bool) -> None:
        f["has_default"] = True
        if factory:
            f["default_factory"] = True
            return
        v, exact = enc(value)
        f["default"] = v
        f["default_repr"] = repr(value)
        if not exact:
            f["default_exact"] = False
        if isinstance(value, enum.Enum):
            self.model(type(value))

    # ---- functions ----
    def function(self, name: str, coroutine: typing.Any, cron: bool, timeout: typing.Any, keep_result: typing.Any,
                 keep_result_forever: typing.Any, max_tries: typing.Any, defaults: dict[str, typing.Any]) -> dict[str, typing.Any]:
        sig = inspect.signature(coroutine)
        hints = hints_of(coroutine)
        params = list(sig.parameters.values())
        if params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            params = params[1:]  # ctx
        out: dict[str, typing.Any] = {"name": name}
        if cron:
            out["cron"] = True
        out["python"] = f"{coroutine.__module__}.{coroutine.__qualname__}"
        ps = []
        for p in params:
            d: dict[str, typing.Any] = {"name": p.name, "kind": p.kind.name.lower()}
            ann = hints.get(p.name, p.annotation)
            d["type"] = self.type_of(ann)
            if p.annotation is not inspect.Parameter.empty:
                d["annotation"] = annotation_text(ann)
            if p.default is not inspect.Parameter.empty:
                self.default(d, p.default, False)
            ps.append(d)
        out["params"] = ps
        ret = hints.get("return", sig.return_annotation)
        out["returns"] = self.type_of(ret)
        if sig.return_annotation is not inspect.Signature.empty:
            out["returns_annotation"] = annotation_text(ret)
        forever = keep_result_forever if keep_result_forever is not None else defaults["keep_result_forever"]
        out["timeout"] = seconds(timeout) if timeout is not None else defaults["job_timeout"]
        out["max_tries"] = int(max_tries) if max_tries is not None else defaults["max_tries"]
        out["keep_result"] = seconds(keep_result) if keep_result is not None else defaults["keep_result"]
        out["keep_result_forever"] = bool(forever)
        return out


def model_kind(cls: type) -> str | None:
    if isinstance(cls, enum.EnumMeta):
        return "enum"
    for mod, kind in (("pydantic", "pydantic"), ("pydantic.v1", "pydantic_v1")):
        m = sys.modules.get(mod)
        if m is not None and isinstance(getattr(m, "BaseModel", None), type) and issubclass(cls, m.BaseModel):
            if kind == "pydantic" and not hasattr(cls, "model_fields"):
                return "pydantic_v1"
            return kind
    if dataclasses.is_dataclass(cls):
        return "dataclass"
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return "namedtuple"
    return None


def hints_of(obj: typing.Any) -> dict[str, typing.Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:
        return {}


def annotation_text(t: typing.Any) -> str:
    if t is None or t is type(None):
        return "None"
    if isinstance(t, type) and not typing.get_args(t):
        if t.__module__ == "builtins":
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return str(t).replace("typing.", "")


def enc(v: typing.Any) -> tuple[typing.Any, bool]:
    """A default as JSON, and whether JSON holds it exactly."""
    if isinstance(v, enum.Enum):
        return {"$enum": f"{type(v).__module__}.{type(v).__qualname__}", "member": v.name}, True
    if v is None or isinstance(v, (bool, str)):
        return v, True
    if isinstance(v, int):
        return v, True
    if isinstance(v, float):
        if math.isfinite(v):
            return v, True
        return repr(v), False
    if isinstance(v, (list, tuple)):
        items = [enc(x) for x in v]
        return [x for x, _ in items], all(ok for _, ok in items) and isinstance(v, list)
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        items = {k: enc(x) for k, x in v.items()}
        return {k: x for k, (x, _) in items.items()}, all(ok for _, ok in items.values())
    return repr(v), False


def export(path: str) -> dict[str, typing.Any]:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as arq's CLI does
    sys.addaudithook(_audit)
    settings = import_string(path)
    queue = setting(settings, "queue_name") or "arq:queue"
    defaults = {
        "job_timeout": seconds(setting(settings, "job_timeout", ARQ_DEFAULTS["job_timeout"])),
        "keep_result": seconds(setting(settings, "keep_result", ARQ_DEFAULTS["keep_result"])),
        "max_tries": setting(settings, "max_tries", ARQ_DEFAULTS["max_tries"]),
        "keep_result_forever": bool(setting(settings, "keep_result_forever", ARQ_DEFAULTS["keep_result_forever"])),
    }
    from arq.worker import func as arq_func

    d = Describer()
    funcs = []
    for f in setting(settings, "functions", []) or []:
        fn = arq_func(f)
        funcs.append(d.function(fn.name, fn.coroutine, False, fn.timeout_s, fn.keep_result_s,
                                fn.keep_result_forever, fn.max_tries, defaults))
    for cj in setting(settings, "cron_jobs", []) or []:
        funcs.append(d.function(cj.name, cj.coroutine, True, cj.timeout_s, cj.keep_result_s,
                                cj.keep_result_forever, cj.max_tries, defaults))
    funcs.sort(key=lambda f: f["name"])
    models = sorted(d.models.values(), key=lambda m: m["ref"])
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "source": {"language": "python", "settings": path},
        "queue": queue,
        "serializer": serializer_name(setting(settings, "job_serializer")),
        "functions": funcs,
        "models": models,
    }


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python - SETTINGS", file=sys.stderr)
        return 2
    try:
        c = export(sys.argv[1])
    except ExportError as e:
        print(e, file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"cannot import {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    json.dump(c, sys.stdout, indent=2, sort_keys=False, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
