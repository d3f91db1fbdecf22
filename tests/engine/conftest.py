"""Fixtures the engine tests share."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from device_nodes import loop_device as attached_loop_device


@pytest.fixture
def loop_device(tmp_path) -> Iterator[Callable[[bytes], tuple[str, Path]]]:
    """Attach a loop device over an image holding the given bytes: (device, image), detached when the test ends.
    Needs root and losetup; the test skips otherwise."""
    with ExitStack() as attached:

        def attach(data: bytes) -> tuple[str, Path]:
            image = tmp_path / "loop-image"
            image.write_bytes(data)
            return attached.enter_context(attached_loop_device(image)), image

        yield attach
