"""Kernel releases as uname -r prints them: what the fabric layer accepts, what it refuses, and why."""

from __future__ import annotations

import pytest

from p2ptui.fabric.kernel_version import (
    MAX_RELEASE_CHARS,
    KernelVersionError,
    is_newest,
    kernel_release,
    parse_kernel_version,
)


@pytest.mark.parametrize(
    "text, version",
    [
        # distribution kernels, as uname -r prints them
        ("6.8.0-45-generic", (6, 8, 0)),  # Ubuntu
        ("5.14.0-362.el9.x86_64", (5, 14, 0)),  # RHEL 9
        ("4.18.0-477.27.1.el8_8.x86_64", (4, 18, 0)),  # RHEL 8
        ("6.1.0-56-amd64", (6, 1, 0)),  # Debian
        ("4.19.0-0.bpo.6-amd64", (4, 19, 0)),  # Debian backports
        ("5.15.0-1064-azure", (5, 15, 0)),
        ("5.15.133.1-microsoft-standard-WSL2", (5, 15, 133)),  # four numbers
        ("6.9.3-arch1-1", (6, 9, 3)),
        ("6.8.12-2-pve", (6, 8, 12)),
        ("6.1.21-v8+", (6, 1, 21)),  # Raspberry Pi
        ("6.12.23+", (6, 12, 23)),  # a local build from a git tree with changes
        ("6.1.0-rc4+", (6, 1, 0)),
        ("2.6.27.39-0.3-perfctr", (2, 6, 27)),
        ("3.10.0-1160.el7.x86_64", (3, 10, 0)),  # before P2PDMA, but a real machine
        # releases as people write them
        ("4.20.0", (4, 20, 0)),
        ("7.1", (7, 1, None)),
        ("6.15-rc3", (6, 15, None)),
        ("v5.4", (5, 4, None)),
        ("linux-6.12.23", (6, 12, 23)),
        ("  6.8.0-45-generic\n", (6, 8, 0)),
        ("V6.8", (6, 8, None)),
    ],
)
def test_real_release_strings_parse(text, version):
    assert parse_kernel_version(text) == version
    assert kernel_release(text) == text


@pytest.mark.parametrize("text", ["latest", "LATEST", "mainline", "newest", " latest "])
def test_words_for_the_newest_release(text):
    assert is_newest(text)
    assert kernel_release(text) == text
    with pytest.raises(KernelVersionError):
        parse_kernel_version(text)  # a word is not a number: the caller decides what "newest" means


@pytest.mark.parametrize(
    "text, problem",
    [
        ("banana", "'banana' is not a kernel version"),
        ("", "'' is not a kernel version"),
        ("6", "'6' is not a kernel version"),  # a major number alone is no release
        ("6.x", "'6.x' is not a kernel version"),
        ("x6.8", "'x6.8' is not a kernel version"),
        ("6.8.0 #47-Ubuntu SMP", "'6.8.0 #47-Ubuntu SMP' is not a kernel version"),  # uname -v mixed in
        ("6.123456", "'6.123456' is not a kernel version"),  # minor number beyond anything Linux uses
        ("6.8.0-" + "x" * 70, f"is {76} characters long"),
    ],
)
def test_non_versions_are_refused_with_the_accepted_forms(text, problem):
    with pytest.raises(KernelVersionError) as info:
        kernel_release(text)
    err = info.value
    assert problem in err.problem
    assert "uname -r" in err.expected and "latest" in err.expected and "6.8.0-45-generic" in err.expected
    # The YAML reader splits "<problem>: expected <forms>" into a message and a hint.
    assert str(err) == f"{err.problem}: expected {err.expected}"
    assert isinstance(err, ValueError)


def test_the_length_limit_is_the_kernels():
    longest = "6.8.0-" + "a" * (MAX_RELEASE_CHARS - 6)
    assert parse_kernel_version(longest) == (6, 8, 0)
    with pytest.raises(KernelVersionError):
        parse_kernel_version(longest + "a")


def test_a_long_non_version_is_shortened_in_the_message():
    with pytest.raises(KernelVersionError) as info:
        parse_kernel_version("b" * 50)
    assert len(info.value.problem) < 80
