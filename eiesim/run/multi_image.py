"""Several images, one simulation each: per-image results and their spread.

Activation sparsity, and so cycles and energy, change from image to image. A
``MultiImageResult`` holds one ``SimulationResult`` per image (each exactly what
``simulate(arch, workload, input=image)`` gives alone, its fixed-point formats
calibrated on that image) and summarises them: per image, per layer and in total,
mean / min / max.

Its report (``to_dict``) is the first image's report, unchanged, plus ``images`` (each
image's totals and per-layer figures) and ``image_stats`` (mean / min / max per layer
and in total), so that every reader of single-image reports still reads it
(docs/report-schema.md). With one image it is exactly the single-image report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eiesim.config.arch import ArchConfig
from eiesim.inputs.images import expand_image_specs, image_label
from eiesim.network.network_input import prepare_input
from eiesim.network.workload import Workload
from eiesim.run.provenance import array_digest
from eiesim.run.result import SimulationResult
from eiesim.run.simulate import simulate
from eiesim.timing.event_budget import DEFAULT_EVENT_LIMIT_S

#: Per-layer quantities summarised over images.
LAYER_STAT_FIELDS = ("cycles", "compute_cycles", "nonzero_activations", "input_density", "entries_processed",
                     "energy_pj")
#: Whole-inference quantities summarised over images.
TOTAL_STAT_FIELDS = ("cycles", "time_us", "frames_per_s", "energy_pj")


def spread(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "min", "max"}`` of ``values``."""
    vals = [float(v) for v in values]
    return {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals)}


@dataclass
class MultiImageResult:
    """One simulation per image, in the order given."""

    results: list[SimulationResult]
    labels: list[str]
    input_digests: list[str]

    def __post_init__(self) -> None:
        if not self.results or len(self.results) != len(self.labels):
            from eiesim.errors import UsageError

            raise UsageError("a MultiImageResult needs one label per result, and at least one result")

    @property
    def first(self) -> SimulationResult:
        return self.results[0]

    @property
    def warnings(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.results:
            seen.update(dict.fromkeys(r.warnings))
        return list(seen)

    def _energy_pj(self, result: SimulationResult) -> float:
        return float(result.costs.get("energy", {}).get("total_pj", float("nan"))) if result.costs else float("nan")

    def per_image(self) -> list[dict[str, Any]]:
        """Each image's totals and per-layer figures."""
        out = []
        for label, digest, r in zip(self.labels, self.input_digests, self.results):
            priced = r.costs.get("layers", []) if r.costs else []
            out.append({
                "input": label, "input_sha256": digest, "cycles": r.cycles, "time_us": r.time_us,
                "frames_per_s": r.frames_per_s, "energy_pj": self._energy_pj(r),
                "functional": r.check.get("functional", "n/a") if r.check else "n/a",
                "top1": r.check.get("top1") if r.check else None,
                "layers": [{"name": s.name, "cycles": s.cycles, "compute_cycles": s.compute_cycles,
                            "nonzero_activations": s.nonzero_activations, "input_density": s.input_density,
                            "entries_processed": s.entries_processed,
                            "energy_pj": priced[i]["energy_pj"] if i < len(priced) else float("nan")}
                           for i, s in enumerate(r.layers)],
            })
        return out

    def stats(self) -> dict[str, Any]:
        """Mean / min / max over the images, in total and per layer."""
        images = self.per_image()
        totals = {key: spread([img[key] for img in images]) for key in TOTAL_STAT_FIELDS}
        layers = []
        for i, layer in enumerate(images[0]["layers"]):
            entry: dict[str, Any] = {"name": layer["name"]}
            for key in LAYER_STAT_FIELDS:
                entry[key] = spread([img["layers"][i][key] for img in images])
            layers.append(entry)
        return {"images": len(images), "totals": totals, "layers": layers}

    def to_records(self) -> list[dict[str, Any]]:
        """Per-layer rows of every image (``image`` first), as ``SimulationResult.to_records``."""
        return [{"image": label, **row} for label, r in zip(self.labels, self.results) for row in r.to_records()]

    def to_dataframe(self):  # noqa: ANN201 - pandas.DataFrame; pandas is optional
        from eiesim.run.records import dataframe

        return dataframe(self.to_records())

    def to_dict(self) -> dict[str, Any]:
        """The report body: the first image's report, plus ``images`` and ``image_stats`` when there are several."""
        body = self.first.to_dict()
        if len(self.results) > 1:
            body["workload"]["input"] = f"{len(self.results)} images (top-level sections: the first, {self.labels[0]})"
            body["images"] = self.per_image()
            body["image_stats"] = self.stats()
            body["warnings"] = self.warnings
        return body


def simulate_images(arch: ArchConfig, workload: Workload, images: Any, engine: str = "fast", *,
                    check: bool = True, event_limit_s: float | None = DEFAULT_EVENT_LIMIT_S,
                    progress: Callable[[float, int, str], None] | None = None) -> MultiImageResult:
    """Simulate ``workload`` once per image: ``images`` is a list of paths, bundled photo names,
    arrays or folders (each folder contributes its image files in name order; see
    ``eiesim.inputs.images.expand_image_specs``). ``progress(done, total, label)`` counts layers over all images.
    ``event_limit_s``: as in ``simulate``, for each image (None: no limit).
    """
    specs = expand_image_specs(images)
    results, labels, digests = [], [], []
    n_layers = len(workload.layers)
    total = n_layers * len(specs)
    for k, spec in enumerate(specs):
        x = prepare_input(workload, spec)
        label = image_label(spec)
        cb = None
        if progress is not None:
            def cb(done: float, _total: int, name: str, k: int = k, label: str = label) -> None:
                progress(k * n_layers + done, total, f"{label}: {name}")
        results.append(simulate(arch, workload, input=x, engine=engine, check=check, progress=cb,
                                event_limit_s=event_limit_s))
        results[-1].input_description = label
        labels.append(label)
        digests.append(array_digest(x))
    return MultiImageResult(results, labels, digests)
