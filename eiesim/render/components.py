"""Human names and meaningful colours for the cost model's components and the PE's modules.

Why: the energy and area figures labelled their bars with code names (``ptr_sram``, ``lnzd``,
``filler``) and gave every bar a colour of its own that meant nothing (issue 26). Here each
component has a name a reader understands and a *part* of the chip (weight storage,
pointers, arithmetic, activations, control, clock and filler, DRAM); the colour says the part,
the same in every figure, and :func:`colour_legend` writes the sentence a caption needs to
say which colour is which. Components this table does not know (another cost model's) keep
their own name and fall in the part "other".
"""

from __future__ import annotations

from collections.abc import Iterable

from eiesim.render.style import GREY, LIGHT_GREY, OKABE_ITO, colour_name

#: The chip's parts, in legend order, with their colours (Okabe-Ito; see eiesim.render.style).
PART_COLOURS = {
    "weight storage": OKABE_ITO["blue"],
    "pointers": OKABE_ITO["sky blue"],
    "arithmetic": OKABE_ITO["bluish green"],
    "activations": OKABE_ITO["orange"],
    "control": OKABE_ITO["reddish purple"],
    "DRAM": OKABE_ITO["vermillion"],
    "clock and filler": GREY,
    "other": LIGHT_GREY,
}

#: Cost-model component (energy) or PE module (area) -> (human name, part).
COMPONENTS = {
    "spmat_sram": ("sparse-matrix SRAM", "weight storage"),
    "spmat_read_logic": ("sparse-matrix read logic", "weight storage"),
    "SpmatRead": ("sparse-matrix read unit", "weight storage"),
    "ptr_sram": ("pointer SRAM", "pointers"),
    "ptr_read_logic": ("pointer read logic", "pointers"),
    "PtrRead": ("pointer read unit", "pointers"),
    "codebook": ("codebook (weight decoding)", "arithmetic"),
    "multiplier": ("multiplier", "arithmetic"),
    "adder": ("adder", "arithmetic"),
    "bypass": ("adder bypass", "arithmetic"),
    "pipeline_regs": ("pipeline registers", "arithmetic"),
    "ArithmUnit": ("arithmetic unit", "arithmetic"),
    "act_fifo": ("activation FIFO", "activations"),
    "act_regfiles": ("activation register files", "activations"),
    "act_sram": ("activation SRAM", "activations"),
    "Act_queue": ("activation queue", "activations"),
    "ActRW": ("activation read/write unit", "activations"),
    "lnzd": ("leading non-zero detection", "control"),
    "ccu": ("central control unit", "control"),
    "clock_network": ("clock network", "clock and filler"),
    "filler": ("filler cells", "clock and filler"),
    "dram": ("DRAM", "DRAM"),
}


#: Parts of the cycle breakdown (timing.contract.BREAKDOWN_PARTS) as figure legends write them.
BREAKDOWN_NAMES = {"idle_pes": "idle PEs", "io": "I/O"}


def human_name(component: str) -> str:
    """``"ptr_sram"`` -> ``"pointer SRAM"``; an unknown component keeps its name."""
    return COMPONENTS.get(component, (component, "other"))[0]


def part_of(component: str) -> str:
    """The chip part a component belongs to (``"other"`` when unknown)."""
    return COMPONENTS.get(component, (component, "other"))[1]


def colour_of(component: str) -> str:
    """The colour of the component's part."""
    return PART_COLOURS[part_of(component)]


def colour_legend(components: Iterable[str]) -> str:
    """``"blue: weight storage; sky blue: pointers; ..."`` for the parts the components belong to."""
    parts = {part_of(c) for c in components}
    return "; ".join(f"{colour_name(colour)}: {part}" for part, colour in PART_COLOURS.items() if part in parts)


__all__ = ["BREAKDOWN_NAMES", "COMPONENTS", "PART_COLOURS", "colour_legend", "colour_of", "human_name", "part_of"]
