"""Classes of functions whose rows and columns in the pair matrix are identical (but where they meet themselves).

The verdict for a pair reads only the two upstream chains and facts of the functions on them (live ACS redirect,
per root bus the host-bridge standing, the v5.2 root-complex rule, NUMA node), and through nvidia-smi's class the
bridge units above each end. Take the chosen functions (matrix rows and columns). For a function e, its *junction*
is the lowest device strictly above it whose subtree holds another chosen function, and its *private* part is the
rest of its chain below that junction (e included). Any other chosen function x lies outside e's private part, so
the common device of (e, x) is the junction or above it, and the pair's walk is e's private part followed by the
walk from the junction. Two functions with the same junction, the same private length, the same bridge units above
them and, under every completion of unknown facts, the same count of redirecting devices in their private parts
and the same redirect bit of their own therefore have the same verdict against every x (and against each other,
through their junction, as any two members of their class): one row and one column for the class, plus the cell of
a function against itself, whose common device is the function itself.

A function with no junction (alone in its tree) meets every other through the host bridge: its class is keyed by
root bus instead. A chosen function with another chosen one below it (a bridge given as a row) is a class alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import FabricIndex


@dataclass(frozen=True)
class EndpointClasses:
    members: np.ndarray  # the chosen device indices, sorted and unique
    of_member: np.ndarray  # class of each member
    first: np.ndarray  # per class: a member
    second: np.ndarray  # per class: another member, or -1 for a class of one

    def class_of(self, devices: np.ndarray) -> np.ndarray:
        """Class of each given device index (each must be a member)."""
        return self.of_member[np.searchsorted(self.members, devices)].astype(np.int32)

    def __len__(self) -> int:
        return len(self.first)


def endpoint_classes(index: FabricIndex, chosen: np.ndarray, redirects: list[np.ndarray]) -> EndpointClasses:
    """Classes of the device indices in ``chosen``; ``redirects`` holds the live redirect bit of every device under
    each completion of the facts the fabric does not give (one array when every fact is known)."""
    members = np.unique(chosen)
    m = len(members)
    if not m:
        empty = np.zeros(0, dtype=np.int64)
        return EndpointClasses(members, empty, empty, empty)
    up = np.asarray(index.up, dtype=np.int64)
    tin, tout = index.tin, index.tout
    # Chosen functions in each device's subtree: a preorder range count.
    chosen_tin = np.sort(tin[members])
    below = np.searchsorted(chosen_tin, tout) - np.searchsorted(chosen_tin, tin)
    red = np.stack([np.asarray(r, dtype=np.int64) for r in redirects])  # completions x devices
    # Walk up from every member at once, one level per step, until the subtree holds another chosen function.
    junction = up[members].copy()
    private_len = np.ones(m, dtype=np.int64)
    private_red = red[:, members].copy()
    walking = junction >= 0
    walking[walking] = below[junction[walking]] < 2
    while walking.any():
        at = junction[walking]
        private_len[walking] += 1
        private_red[:, walking] += red[:, at]
        junction[walking] = up[at]
        still = junction >= 0
        still[still] = below[junction[still]] < 2
        walking &= still
    units = np.asarray(index.units, dtype=np.int64)
    above = np.where(up[members] >= 0, units[np.maximum(up[members], 0)], 0)
    root_bus = np.asarray(index.root_bus, dtype=np.int64)[members]
    alone = np.where(below[members] > 1, members, -1)  # chosen functions below it: a class of its own
    key = np.column_stack(
        [
            alone,
            junction,
            np.where(junction < 0, root_bus, -1),
            private_len,
            above,
            *red[:, members],
            *private_red,
        ]
    )
    _, first_pos, of_member = np.unique(key, axis=0, return_index=True, return_inverse=True)
    of_member = of_member.reshape(-1)
    k = len(first_pos)
    # A second member per class: the last member of each class differs from the first when the class has two.
    last_pos = np.zeros(k, dtype=np.int64)
    last_pos[of_member] = np.arange(m)
    second = np.where(last_pos != first_pos, members[last_pos], -1)
    return EndpointClasses(members, of_member, members[first_pos], second)


def singleton_classes(chosen: np.ndarray) -> EndpointClasses:
    """Every chosen function a class of its own: no compression."""
    members = np.unique(chosen)
    return EndpointClasses(members, np.arange(len(members)), members, np.full(len(members), -1, dtype=np.int64))
