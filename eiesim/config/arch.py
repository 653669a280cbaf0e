"""Architecture configuration: every hardware parameter declared once.

Each parameter has a type, a unit, a default, a valid range and a one-line
description (the ``Field`` declarations below are the single source; ``eiesim
params`` and docs/arch-parameters.md are generated from them). Unknown keys
and out-of-range values are errors naming the key and what would be valid.
YAML is read by the shared safe loader (``eiesim.inputs.text``: ``yaml.safe_load`` rules, duplicate
keys refused); ``--set KEY=VALUE`` overrides use
dotted keys for nested sections.
"""

from __future__ import annotations

import copy
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eiesim.errors import ArchError

#: Narrowest and widest column pointer (bits).
MIN_POINTER_BITS, MAX_POINTER_BITS = 8, 32
#: Technology nodes the cost model can scale between (Stillmaker & Baas 2017, plus 28/22 interpolated).
TECH_NODES_NM = (130, 90, 65, 45, 32, 28, 22, 20, 16, 14, 10, 7)


def _unit(unit: str) -> dict[str, Any]:
    return {"unit": unit}


_StrictT = typing.TypeVar("_StrictT", bound="_Strict")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """``num_pes: true`` (or ``--set num_pes=true``) is an error, not 1 PE (pydantic would coerce it)."""
        if isinstance(data, dict):
            for key, value in data.items():
                f = cls.model_fields.get(key) if isinstance(key, str) else None
                if f is not None and isinstance(value, bool) and _is_numeric(f.annotation):
                    raise ValueError(f"{key} must be a number, got {str(value).lower()} (a boolean)")
        return data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's copy, but a copy with ``update`` is validated like a loaded config (ArchError if invalid).

        pydantic itself does not validate ``update``: ``model_copy(update={"fifo_depth": -3})``
        gave a config that crashed the engine. ``ArchConfig.derive`` is the documented way.
        """
        copied = super().model_copy(update=update, deep=deep)
        if not update:
            return copied
        unknown = sorted(str(k) for k in update if k not in type(self).model_fields)
        if unknown:
            raise ArchError(f"unknown key {unknown[0]!r}; valid keys here: {', '.join(sorted(type(self).model_fields))}")
        return _revalidated(copied)


class SpmatSram(_Strict):
    """Sparse-matrix SRAM of one PE: holds the encoded (v, z) entries."""

    size_bytes: int | Literal["auto"] = Field(
        131072, description="Capacity per PE, or 'auto' = smallest legal size that holds the workload", json_schema_extra=_unit("B"))
    width_bits: int = Field(64, ge=8, le=1024, json_schema_extra=_unit("bit"),
                            description="Read width: one word per read; a whole number of bytes (a multiple of 8)")


class PtrSram(_Strict):
    """Pointer SRAM of one PE: column start pointers, split in banks so p_j and p_j+1 are read together."""

    size_bytes: int | Literal["auto"] = Field(
        32768, description="Capacity per PE (all banks), or 'auto'", json_schema_extra=_unit("B"))
    banks: int = Field(2, ge=1, le=16, description="Single-ported banks (even/odd pointers)", json_schema_extra=_unit("1"))
    pointer_bits: int | Literal["auto"] = Field(
        16, description="Width of one column pointer: it must address the largest count of entries one PE holds "
                        "for one layer (2^bits - 1), or 'auto' = the narrowest width (>= 8) that does",
        json_schema_extra=_unit("bit"))


class ActSram(_Strict):
    """Activation SRAM of one PE: holds activation vectors longer than the register files."""

    size_bytes: int = Field(2048, ge=0, le=1 << 24, description="Capacity per PE", json_schema_extra=_unit("B"))


class Timing(_Strict):
    """Latencies of the timing model (docs/timing-model.md, "Parameters": each value's origin)."""

    broadcast_latency_cycles: int = Field(
        2, ge=0, le=64, description="Cycles from the finder broadcasting an activation to the earliest cycle a PE "
                                    "can pop it (FIFO write, then the pointer-read stage latches the head)",
        json_schema_extra=_unit("cycle"))
    pipeline_depth: int = Field(
        4, ge=1, le=32, description="Stages an entry crosses after it is issued: Spmat read, codebook decode, "
                                    "multiply, accumulate", json_schema_extra=_unit("cycle"))
    writeback_cycles: int = Field(
        2, ge=0, le=32, description="Cycles after the pipeline: the write-back into the destination register and "
                                    "the controller seeing that none is in flight", json_schema_extra=_unit("cycle"))
    empty_column_cycles: int = Field(
        1, ge=0, le=8, description="Cycles a PE spends on a column with no entries for it (the pointer read)",
        json_schema_extra=_unit("cycle"))


class Ccu(_Strict):
    """Design choices of the central control unit (docs/timing-model.md, sections 1 and 3.1)."""

    nonzero_finder: Literal["register_row", "skip_zeros"] = Field(
        "register_row", description="'register_row': the leading-non-zero finder holds one register row of N "
                                    "activations at a time and spends a cycle on a row with nothing (more) to "
                                    "broadcast, as the EIE authors' simulator does; 'skip_zeros': an ideal finder "
                                    "for which zeros cost nothing")
    bias: Literal["column", "output_path"] = Field(
        "column", description="'column': the bias is stored as one more column per row block and broadcast as the "
                              "activation 1.0 after the last input row, as the EIE authors' simulator does; "
                              "'output_path': the bias is added as outputs leave the accumulators, for free")


class LayerMapping(_Strict):
    """How layers are mapped onto the PEs (docs/timing-model.md, section 2, "Pixel groups")."""

    pixel_groups: int | Literal["auto"] = Field(
        1, description="Conv layers: the PEs form this many groups of num_pes / pixel_groups, each "
                                      "holding all rows of the layer (weights stored once per group) and working "
                                      "on every pixel_groups-th output pixel with its own non-zero finder; 1 = one "
                                      "group (the published mapping); 'auto': per layer, the power of two dividing "
                                      "num_pes with the fewest cycles whose replicas fit the SRAMs. fc layers and "
                                      "one-pixel layers always use 1", json_schema_extra=_unit("1"))
    conv3x3: Literal["im2col", "winograd"] = Field(
        "im2col", description="Stride-1 3x3 conv layers: 'im2col' = one M x V per output pixel over its 3x3 patch "
                              "(the published mapping); 'winograd' = F(2x2, 3x3): per 2x2 output tile, the 16 M x V "
                              "of the transformed weights over the transformed 4x4 input tile, as one round of "
                              "their block-diagonal matrix. Other layers always use im2col")
    winograd_weights: Literal["transformed", "repruned"] = Field(
        "transformed", description="Layers run as Winograd (mapping.conv3x3: winograd): 'transformed' = every "
                                   "non-zero of the transformed kernels G g G^T is stored; 'repruned' = the "
                                   "transformed weights are pruned back to the kernel's density at encode time "
                                   "(largest |U| kept, no retraining: the outputs change, and accuracy would need "
                                   "retraining). No effect with im2col")


class Dram(_Strict):
    """Off-chip memory used in I/O mode (feature maps, and weights that do not fit)."""

    bandwidth_gb_per_s: float = Field(
        12.8, gt=0, le=10000, description="Sustained DRAM bandwidth in I/O mode (assumption: one LPDDR3-1600 x64 channel)",
        json_schema_extra=_unit("GB/s"))
    sram_overflow: Literal["error", "stream"] = Field(
        "stream", description="A layer whose weights/pointers exceed the SRAMs: 'error', or 'stream' them from DRAM "
                              "in I/O mode")


_Section = TypeVar("_Section", bound=BaseModel)


def _factory(section: type[_Section]) -> Callable[[], _Section]:
    """A section class as the default factory of its field (how mypy reads pydantic's Field: its overloads cannot
    match a model class, whose fields it thinks have no defaults, to a zero-argument factory)."""
    return cast("Callable[[], _Section]", section)


class ArchConfig(_Strict):
    """One EIE chip. The defaults are the default architecture: the published design (Han et al., ISCA 2016,
    Sec. V and Table II, with the timing of the EIE authors' simulator) with 8-bit codebook indices, so that the
    default network (the authors' Deep-Compression SqueezeNet, 256-entry codebooks) runs on it.
    arch_configs/eie-64pe-8bit.yaml writes every one of them out, and a test holds the two equal, so the design
    is defined once; the paper's 4-bit design is eiesim.config.defaults.paper_arch() (arch_configs/eie-64pe.yaml)."""

    name: str = Field("eie-64pe-8bit", description="Label used in reports")
    num_pes: int = Field(64, ge=1, le=4096, description="Processing elements", json_schema_extra=_unit("1"))
    clock_mhz: float = Field(800.0, gt=0, le=10000, description="Clock frequency", json_schema_extra=_unit("MHz"))
    tech_nm: int = Field(45, description=f"Technology node, one of {list(TECH_NODES_NM)}", json_schema_extra=_unit("nm"))
    fifo_depth: int = Field(
        7, ge=1, le=4096, description="Usable activation FIFO entries per PE (the EIE authors' ring of B slots "
                                      "holds B - 1: their B = 8 is 7)", json_schema_extra=_unit("entry"))
    codebook_bits: int = Field(8, ge=1, le=16, description="Weight (codebook index) bits per entry", json_schema_extra=_unit("bit"))
    rel_index_bits: int = Field(4, ge=1, le=16, description="Relative row index bits per entry", json_schema_extra=_unit("bit"))
    datapath_bits: int = Field(16, ge=8, le=32, description="Fixed-point width of activations and weights", json_schema_extra=_unit("bit"))
    act_regs_per_pe: int = Field(64, ge=1, le=1 << 16, description="Activation registers per PE (source and destination files each)", json_schema_extra=_unit("entry"))
    spmat_sram: SpmatSram = Field(default_factory=_factory(SpmatSram), description="Sparse-matrix SRAM")
    ptr_sram: PtrSram = Field(default_factory=_factory(PtrSram), description="Pointer SRAM")
    act_sram: ActSram = Field(default_factory=_factory(ActSram), description="Activation SRAM")
    timing: Timing = Field(default_factory=_factory(Timing), description="Timing-model latencies")
    ccu: Ccu = Field(default_factory=_factory(Ccu), description="Central control unit: non-zero finder and bias path")
    dram: Dram = Field(default_factory=_factory(Dram), description="Off-chip memory")
    mapping: LayerMapping = Field(default_factory=_factory(LayerMapping), description="How conv layers are mapped onto the PEs")
    cost_model: Literal["default", "hwcomponents"] = Field("default", description="Energy/area model (costs/)")

    @model_validator(mode="after")
    def _check(self) -> ArchConfig:
        if self.tech_nm not in TECH_NODES_NM:
            raise ValueError(f"tech_nm must be one of {list(TECH_NODES_NM)}, got {self.tech_nm}")
        if self.spmat_sram.width_bits % 8:
            raise ValueError(f"spmat_sram.width_bits ({self.spmat_sram.width_bits}) must be a whole number of bytes "
                             "(a multiple of 8): an SRAM word is built from bytes")
        if self.spmat_sram.width_bits < self.entry_bits:
            raise ValueError(
                f"spmat_sram.width_bits ({self.spmat_sram.width_bits}) must hold one entry of "
                f"codebook_bits + rel_index_bits = {self.entry_bits} bits")
        for key, sram in (("spmat_sram", self.spmat_sram), ("ptr_sram", self.ptr_sram)):
            if sram.size_bytes != "auto" and not 64 <= sram.size_bytes <= 1 << 30:
                raise ValueError(f"{key}.size_bytes must be 'auto' or in [64, {1 << 30}], got {sram.size_bytes}")
        groups = self.mapping.pixel_groups
        if groups != "auto" and not 1 <= groups <= self.num_pes:
            raise ValueError(f"mapping.pixel_groups must be 'auto' or in [1, num_pes = {self.num_pes}], got {groups}")
        if groups != "auto" and self.num_pes % groups:
            raise ValueError(f"mapping.pixel_groups ({groups}) must divide num_pes ({self.num_pes}), or be 'auto'")
        bits = self.ptr_sram.pointer_bits
        if bits != "auto" and not MIN_POINTER_BITS <= bits <= MAX_POINTER_BITS:
            raise ValueError(f"ptr_sram.pointer_bits must be 'auto' or in [{MIN_POINTER_BITS}, {MAX_POINTER_BITS}], "
                             f"got {bits}")
        return self

    # -- derived quantities -------------------------------------------------
    @property
    def entry_bits(self) -> int:
        """Bits of one stored entry: codebook index + relative row index."""
        return self.codebook_bits + self.rel_index_bits

    @property
    def entries_per_word(self) -> int:
        """Whole entries per Spmat SRAM word (entries never straddle words)."""
        return self.spmat_sram.width_bits // self.entry_bits

    @property
    def max_zero_run(self) -> int:
        """Largest zero run a relative index can encode (15 for 4 bits)."""
        return (1 << self.rel_index_bits) - 1

    @property
    def act_capacity(self) -> int:
        """Activations the register files of all PEs hold (4096 for 64 x 64)."""
        return self.num_pes * self.act_regs_per_pe

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram.bandwidth_gb_per_s * 1e3 / self.clock_mhz

    def to_dict(self) -> dict[str, Any]:
        """Every key, as YAML / JSON values; ``mapping.conv3x3`` only when it is not the default ``im2col`` and
        ``mapping.winograd_weights`` only when it is not the default ``transformed`` (so the reports of a run
        without them are byte-identical to those of the versions before the keys)."""
        data = self.model_dump(mode="json")
        if data["mapping"]["conv3x3"] == "im2col":
            del data["mapping"]["conv3x3"]
        if data["mapping"]["winograd_weights"] == "transformed":
            del data["mapping"]["winograd_weights"]
        return data

    def derive(self, updates: Mapping[str, Any] | Sequence[str] | None = None, /, **fields: Any) -> ArchConfig:
        """A validated copy with some keys changed; raises ArchError naming the key if the result is invalid.

        ``arch.derive(num_pes=32)``, ``arch.derive({"spmat_sram.width_bits": 128})`` (dotted keys
        for nested sections) or ``arch.derive(["fifo_depth=4"])`` (``--set`` syntax).
        """
        data = self.to_dict()
        if isinstance(updates, Mapping):
            data = apply_overrides(data, dict(updates))
        elif updates is not None:
            if isinstance(updates, str):
                updates = [updates]
            data = apply_overrides(data, list(updates))
        if fields:
            data = apply_overrides(data, fields)
        return arch_from_dict(data)


# -- validation of configs made in code ---------------------------------------------

def _is_numeric(annotation: Any) -> bool:
    """True for int / float fields (also ``int | Literal["auto"]``), not for bool ones."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_numeric(a) for a in typing.get_args(annotation))
    return False


def _field_values(model: BaseModel) -> dict[str, Any]:
    """The fields of a (possibly unvalidated) model as plain values, sections as dicts."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        out[name] = _field_values(value) if isinstance(value, BaseModel) else value
    return out


def content_key(model: BaseModel) -> tuple:
    """The field values of a (possibly unvalidated) model as a hashable key, each value with its type.

    The type is part of the key because Python holds ``True == 1 == 1.0`` (with one hash):
    ``num_pes=True`` set past validation must not find the entry of ``num_pes=1``.
    """
    cls = type(model)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(cls.model_fields)
    values = model.__dict__
    out: list[tuple] = []
    for name in names:
        value = values.get(name)
        kind = type(value)
        is_model = _IS_MODEL.get(kind)
        if is_model is None:
            is_model = _IS_MODEL[kind] = issubclass(kind, BaseModel)
        out.append(content_key(cast(BaseModel, value)) if is_model else (kind, value))
    return (cls, tuple(out))


#: Each model class's field names (pydantic builds ``model_fields`` anew on every access).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
#: Whether a type is a pydantic model (``isinstance`` through pydantic's ABC metaclass is slow).
_IS_MODEL: dict[type, bool] = {}


#: Models validated in this process: content key -> (the validated model, its own content key when stored).
#: Validation is a pure function of the field values, so values seen before give the same model; the
#: second key catches a stored model changed since past its frozen guard (``object.__setattr__``).
_VALIDATED: dict[tuple, tuple[BaseModel, tuple]] = {}
#: Largest number of models kept (the whole memo is dropped when it is full; it refills in a few calls).
_VALIDATED_MAX = 512


def _revalidated(model: _StrictT) -> _StrictT:
    """``model`` validated again from its field values (ArchError if they are invalid).

    A run resolves and copies its config a few times (``resolve_storage``, ``checked_arch``): values
    validated before return the model validated from them then (frozen, so sharing it is safe),
    instead of running pydantic's validators again; invalid values are never kept.
    """
    return _revalidated_keyed(model)[0]


def _revalidated_keyed(model: _StrictT) -> tuple[_StrictT, tuple | None]:
    """``_revalidated(model)`` and the returned model's ``content_key`` (None when a value is unhashable)."""
    key: tuple | None
    try:
        key = content_key(model)
        found = _VALIDATED.get(key)
    except TypeError:  # an unhashable value set past validation: the validators say what is wrong
        key = found = None
    if found is not None:
        stored_key = content_key(found[0])
        if stored_key == found[1]:
            return cast(_StrictT, found[0]), stored_key
    try:
        validated = type(model).model_validate(_field_values(model))
    except ValidationError as exc:
        if isinstance(model, ArchConfig):
            raise ArchError(_describe_error(exc)) from None
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ArchError(f"{type(model).__name__}{'.' + loc if loc else ''}: "
                        f"{err['msg'].removeprefix('Value error, ')}") from None
    if key is None:
        return validated, None
    if len(_VALIDATED) >= _VALIDATED_MAX:
        _VALIDATED.clear()
    validated_key = content_key(validated)
    _VALIDATED[key] = (validated, validated_key)
    return validated, validated_key


def checked_arch(arch: Any) -> ArchConfig:
    """``arch`` if it is a valid ArchConfig; ArchError/UsageError otherwise.

    Configs built in code can bypass pydantic's validation (``model_construct``, pydantic's
    own ``model_copy``, ``object.__setattr__``); ``simulate`` calls this first so that such a
    config is refused with a clean error instead of crashing the engine.
    """
    return checked_arch_keyed(arch)[0]


def checked_arch_keyed(arch: Any) -> tuple[ArchConfig, tuple | None]:
    """``checked_arch(arch)`` and its ``content_key`` (None if a value is unhashable), computed on the way."""
    from eiesim.errors import UsageError

    if not isinstance(arch, ArchConfig):
        raise UsageError(f"the architecture must be an eiesim ArchConfig (from eiesim.load_arch), "
                         f"got {type(arch).__name__}")
    return _revalidated_keyed(arch)


# -- loading and overrides -----------------------------------------------------

def _describe_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(err["loc"][:-1])
        valid = sorted(parent.model_fields) if parent else []
        return f"unknown key {loc!r}; valid keys here: {', '.join(valid)}"
    msg = err["msg"].removeprefix("Value error, ")
    field = _field_at(err["loc"])
    extra = ""
    if field is not None:
        bounds = [f"{m.__class__.__name__.lower()} {getattr(m, m.__class__.__name__.lower())}" for m in field.metadata
                  if m.__class__.__name__.lower() in ("ge", "le", "gt", "lt")]
        unit = (field.json_schema_extra or {}).get("unit") if isinstance(field.json_schema_extra, dict) else None
        extra = f" ({field.description}{', unit ' + unit if unit else ''}{'; ' + ', '.join(bounds) if bounds else ''})"
    return f"{loc + ': ' if loc else ''}{msg}{extra}"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = ArchConfig
    for part in loc:
        f = model.model_fields.get(str(part))
        if f is None or not (isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)):
            return None
        model = f.annotation
    return model


def _field_at(loc: tuple):
    model = _model_at(loc[:-1])
    return model.model_fields.get(str(loc[-1])) if model and loc else None


def arch_from_dict(data: dict[str, Any], source: str | Path | None = None) -> ArchConfig:
    """Validate a plain dict as an architecture; errors name the key and valid values."""
    if not isinstance(data, dict):
        raise ArchError("an architecture must be a YAML mapping of keys to values", source)
    try:
        return ArchConfig.model_validate(data)
    except ValidationError as exc:
        raise ArchError(_describe_error(exc), source) from None


def load_arch(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> ArchConfig:
    """Load an architecture YAML (``None`` = the default architecture, eiesim.config.defaults) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None and not isinstance(path, (str, Path)):
        raise ArchError(f"an architecture path must be a str or Path, got {type(path).__name__}")
    if path is not None:
        path = Path(path)
        data = read_arch_file(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return arch_from_dict(data, path)


def read_arch_file(path: str | Path) -> dict[str, Any]:
    """The mapping of an architecture YAML file, unvalidated (the shared safe loader: eiesim.inputs.text).

    Every command that reads an architecture file (``run``, ``sweep``, ``trace``, ...) goes
    through here, so a bad file gives the same one-line ArchError everywhere.
    """
    from eiesim.inputs.text import load_yaml

    loaded = load_yaml(path, ArchError, "architecture file")
    if loaded is None:  # an empty file, only comments, or '~': a mistake, not a request for the defaults
        raise ArchError("empty architecture file (no keys); write '{}' to simulate the default design, "
                        "or give a file with the keys to change", path)
    if not isinstance(loaded, dict):
        raise ArchError("an architecture must be a YAML mapping of keys to values", path)
    return loaded


def apply_overrides(data: dict[str, Any], overrides: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``KEY=VALUE`` overrides applied (dotted keys for nested sections).

    ``overrides``: a mapping of (dotted) keys to values, or a list of ``KEY=VALUE`` strings (one
    string is one override); anything else is an ArchError, not a TypeError."""
    data = copy.deepcopy(data)
    if isinstance(overrides, str):
        overrides = [overrides]
    items: Iterable[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        bad = [k for k in overrides if not isinstance(k, str)]
        if bad:
            raise ArchError(f"an override key must be a string like 'num_pes' or 'spmat_sram.width_bits', got {bad[0]!r}")
        items = overrides.items()
    elif isinstance(overrides, list | tuple):
        bad = [o for o in overrides if not isinstance(o, str)]
        if bad:
            raise ArchError(f"overrides must be 'KEY=VALUE' strings (e.g. 'num_pes=32'), got {bad[0]!r} "
                            f"({type(bad[0]).__name__})")
        items = (_split_override(o) for o in overrides)
    else:
        raise ArchError(f"overrides must be a list of 'KEY=VALUE' strings or a mapping of keys to values, "
                        f"got {type(overrides).__name__}")
    for key, value in items:
        parts = key.split(".")
        if not all(parts):
            raise ArchError(f"override {key}: empty key component")
        node = data
        model: type[BaseModel] | None = ArchConfig
        for part in parts[:-1]:
            if model is None or part not in model.model_fields:
                valid = ", ".join(sorted(model.model_fields)) if model else ""
                raise ArchError(f"override {key}: unknown key {part!r}; valid keys here: {valid}")
            model = _submodel(model, part)
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ArchError(f"override {key}: {part!r} is not a section")
        if model is None or parts[-1] not in model.model_fields:
            valid = ", ".join(sorted(model.model_fields)) if model else ""
            raise ArchError(f"override {key}: unknown key {parts[-1]!r}; valid keys here: {valid}")
        parsed = _parse_value(key, value) if isinstance(value, str) else value
        if isinstance(parsed, str) and "," in parsed and _is_numeric(model.model_fields[parts[-1]].annotation):
            raise ArchError(f"override {key}={value}: one value per key here; a list of values is a sweep axis "
                            f"(`eiesim sweep`, or eiesim.sweep with the grid {{{key!r}: [...]}})")
        node[parts[-1]] = parsed
    return data


def _submodel(model: type[BaseModel], part: str) -> type[BaseModel] | None:
    ann = model.model_fields[part].annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _split_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ArchError(f"override {text!r}: expected KEY=VALUE, e.g. num_pes=32 or spmat_sram.width_bits=128")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _parse_value(key: str, text: str) -> Any:
    """Parse one override value as a YAML scalar (safe_load: numbers, booleans, strings)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    except (ValueError, RecursionError):  # e.g. an integer of more than 4300 digits
        raise ArchError(f"override {key}={text[:24]}{'...' if len(text) > 24 else ''}: the value cannot be converted") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ArchError(f"override {key}={text}: the value is not a finite number")
    return value


def legal_sram_size(min_bytes: int, width_bits: int, banks: int = 1) -> int:
    """Smallest legal SRAM size holding ``min_bytes``: a power of two, at least 1 KB per bank and one word."""
    need = max(int(min_bytes), 1024 * banks, width_bits // 8)
    return 1 << math.ceil(math.log2(need))


def describe_parameters() -> list[dict[str, Any]]:
    """Every parameter as {key, type, unit, default, description}; the source of docs/arch-parameters.md."""
    rows: list[dict[str, Any]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, f in model.model_fields.items():
            sub = _submodel(model, name)
            if sub is not None:
                walk(sub, f"{prefix}{name}.")
                continue
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            rows.append({"key": prefix + name, "type": getattr(f.annotation, "__name__", str(f.annotation)),
                         "unit": extra.get("unit", ""), "default": f.default, "description": f.description})

    walk(ArchConfig, "")
    return rows
