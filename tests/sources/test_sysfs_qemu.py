"""A real kernel's sysfs: boot a Debian kernel in QEMU with emulated PCIe switches, capture its sysfs the way
hwloc-gather-topology does (attributes copied, links kept as links, config read as root: 4096 bytes), and read it.

Slow (a VM boot) and skipped unless qemu-system-x86_64 (package qemu-system-x86), a static busybox
(busybox-static), cpio and a kernel with its modules (linux-image-amd64: /boot/vmlinuz-*, /lib/modules/*) exist.
The capture is also decoded with the host's lspci as an independent check.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from lspci_check import LSPCI, check_against_lspci

from p2ptui.cli.main import main
from p2ptui.fabric import AcsSource, DeviceKind, IommuMode
from p2ptui.fabric.acs import CR, RR
from p2ptui.sources import sysfs

pytestmark = pytest.mark.slow

QEMU = shutil.which("qemu-system-x86_64")
BUSYBOX = Path("/bin/busybox")
KERNELS = sorted(Path("/boot").glob("vmlinuz-*"))
WANTED_MODULES = ("nvme", "virtio_pci", "virtio_net", "e1000", "crc64_rocksoft_generic", "crct10dif_generic")
BOOT_TIMEOUT_S = 240

# Two host bridges (pcie.0 and a PCIe expander on bus 0x80), a root port with a TI XIO3130 switch and two NVMe
# drives, a root port with virtio-net, a PCIe-to-PCI bridge with a conventional e1000 behind it, an NVMe placed
# directly on pcie.0 (a Root Complex Integrated Endpoint: no link registers, as Sapphire Rapids' DSA/IAA/QAT
# engines are) and, on the expander, a root port with nothing behind it.
DEVICES = [
    "-device",
    "intel-iommu,intremap=off",
    "-device",
    "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=0x2",
    "-device",
    "x3130-upstream,id=up1,bus=rp1",
    "-device",
    "xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0",
    "-device",
    "xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=1",
    "-device",
    "nvme,serial=p2p0,drive=nv0,bus=dn1",
    "-device",
    "nvme,serial=p2p1,drive=nv1,bus=dn2",
    "-device",
    "pcie-root-port,id=rp2,bus=pcie.0,chassis=4,slot=2,addr=0x3",
    "-device",
    "virtio-net-pci,netdev=n0,bus=rp2",
    "-netdev",
    "user,id=n0",
    "-device",
    "pcie-root-port,id=rp3,bus=pcie.0,chassis=5,slot=3,addr=0x4",
    "-device",
    "pcie-pci-bridge,id=pb1,bus=rp3",
    "-device",
    "e1000,netdev=n1,bus=pb1,addr=0x1",
    "-netdev",
    "user,id=n1",
    "-device",
    "pxb-pcie,id=pxb1,bus_nr=0x80,bus=pcie.0,addr=0x5",
    "-device",
    "pcie-root-port,id=rp4,bus=pxb1,chassis=6,slot=4",
    "-device",
    "nvme,serial=rciep,drive=nv2,bus=pcie.0,addr=0x6",
]
DISKS = 3

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in nvme virtio_pci virtio_net e1000; do modprobe $m; done
sleep 2
S=/snap/root
mkdir -p $S/sys/bus/pci/devices $S/proc/sys/kernel
for l in /sys/bus/pci/devices/*; do
  real=$(readlink -f "$l"); d="$S$real"; mkdir -p "$d"
  for f in vendor device class revision subsystem_vendor subsystem_device numa_node current_link_speed \
           current_link_width max_link_speed max_link_width secondary_bus_number subordinate_bus_number \
           config irq resource enable; do
    [ -f "$real/$f" ] && cat "$real/$f" > "$d/$f" 2>/dev/null
  done
  for k in driver iommu_group physfn; do [ -L "$real/$k" ] && ln -s "$(readlink "$real/$k")" "$d/$k"; done
  [ -L "$real/driver" ] && mkdir -p "$S/sys/bus/pci/drivers/$(basename "$(readlink "$real/driver")")"
  ln -s "$(readlink "$l")" "$S/sys/bus/pci/devices/${l##*/}"
done
for c in nvme net infiniband iommu; do
  [ -d /sys/class/$c ] || continue
  mkdir -p $S/sys/class/$c
  for e in /sys/class/$c/*; do [ -L "$e" ] && ln -s "$(readlink "$e")" "$S/sys/class/$c/${e##*/}"; done
done
for g in /sys/kernel/iommu_groups/*; do
  [ -d "$g" ] && mkdir -p "$S$g" && cat "$g/type" > "$S$g/type" 2>/dev/null
done
for f in cpuinfo cmdline version sys/kernel/osrelease; do cat /proc/$f > $S/proc/$f; done
cd /snap && tar cf - root | gzip | base64 > /dev/ttyS1
echo P2PTUI-CAPTURE-DONE > /dev/ttyS1
poweroff -f
"""


def _modules(release: str) -> list[Path]:
    """The wanted modules and everything they depend on, from the kernel's modules.dep."""
    base = Path("/lib/modules") / release
    deps: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[Path(path).name.split(".ko")[0].replace("-", "_")] = [path, *rest.split()]
    out: set[str] = set()
    for name in WANTED_MODULES:
        out.update(deps.get(name, []))
    return [base / p for p in sorted(out)]


def _initramfs(work: Path, release: str) -> Path:
    stage = work / "initramfs"
    (stage / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, stage / "bin/busybox")
    (stage / "init").write_text(INIT)
    (stage / "init").chmod(0o755)
    mod_base = Path("/lib/modules") / release
    for module in _modules(release):
        dest = stage / module.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(module, dest)
    for name in ("modules.dep", "modules.alias", "modules.builtin"):
        if (mod_base / name).exists():
            shutil.copy(mod_base / name, stage / "lib/modules" / release / name)
    image = work / "initrd.gz"
    names = subprocess.run(["find", "."], cwd=stage, capture_output=True, check=True).stdout
    cpio = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"], cwd=stage, input=names, capture_output=True, check=True
    ).stdout
    image.write_bytes(gzip.compress(cpio))
    return image


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    if QEMU is None or not BUSYBOX.is_file() or not KERNELS or shutil.which("cpio") is None:
        pytest.skip("needs qemu-system-x86, busybox-static, cpio and linux-image-amd64")
    release = KERNELS[-1].name.removeprefix("vmlinuz-")
    if not (Path("/lib/modules") / release / "modules.dep").exists():
        pytest.skip(f"no modules for {release}")
    return run_capture(tmp_path_factory.mktemp("qemu"))


def run_capture(work: Path) -> Path:
    """Boot the VM and return the snapshot it wrote (a .tar.gz holding root/sys and root/proc)."""
    kernel = KERNELS[-1]
    release = kernel.name.removeprefix("vmlinuz-")
    initrd = _initramfs(work, release)
    for i in range(DISKS):
        with open(work / f"nv{i}.img", "wb") as disk:
            disk.truncate(1 << 20)
    # TCG by default: /dev/kvm inside a VM often exists but hangs or rejects MSRs; opt in where it works.
    accel = "kvm" if os.environ.get("P2PTUI_QEMU_KVM") == "1" and os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
    cmd = [
        QEMU,
        "-machine",
        f"q35,accel={accel}",
        "-cpu",
        "max",
        "-m",
        "512",
        "-smp",
        "1",
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-serial",
        f"file:{work / 'console.log'}",
        "-serial",
        f"file:{work / 'data.b64'}",
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        "console=ttyS0 intel_iommu=on panic=-1 loglevel=4",
        *(arg for i in range(DISKS) for arg in ("-drive", f"if=none,id=nv{i},format=raw,file={work / f'nv{i}.img'}")),
        *DEVICES,
    ]
    subprocess.run(cmd, check=True, timeout=BOOT_TIMEOUT_S, capture_output=True)
    text = (work / "data.b64").read_text(errors="replace")
    assert "P2PTUI-CAPTURE-DONE" in text, (work / "console.log").read_text(errors="replace")[-3000:]
    payload = text.split("P2PTUI-CAPTURE-DONE")[0].replace("\r", "")
    snapshot = work / "qemu-q35.tar.gz"
    snapshot.write_bytes(base64.b64decode(payload))
    return snapshot


def test_real_kernel_tree(capture):
    f = sysfs.load(capture)
    assert [str(rb) for rb in f.root_buses] == ["0000:00", "0000:80"]
    kinds = {d.ids: d.kind for d in f}
    assert kinds["104c:8232"] is DeviceKind.SWITCH_UPSTREAM  # TI X3130 upstream port
    assert kinds["104c:8233"] is DeviceKind.SWITCH_DOWNSTREAM
    assert kinds["1b36:000e"] is DeviceKind.PCI_BRIDGE  # QEMU's PCIe-to-PCI bridge
    assert sum(d.kind is DeviceKind.ROOT_PORT for d in f) == 4
    nvme = [d for d in f if d.kind is DeviceKind.NVME and not d.integrated]
    assert len(nvme) == 2
    assert all(f.upstream_bridge(d).kind is DeviceKind.SWITCH_DOWNSTREAM for d in nvme)
    e1000 = next(d for d in f if d.ids == "8086:100e")
    assert f.parent(e1000).ids == "1b36:000e" and e1000.link is None  # conventional PCI: no link
    assert f.find("eth0").driver == "virtio-pci" and f.find("eth1") is e1000
    assert f.root_bus_of(f.find("0000:80:00.0")).host_bridge == "pci0000:80"


def test_real_kernel_config_space_and_host(capture):
    f = sysfs.load(capture)
    # Read as root inside the guest: every function's config space is whole, so ACS is known everywhere.
    assert all(d.acs.source in (AcsSource.HARDWARE, AcsSource.NONE) for d in f)
    assert not any("ACS state unknown" in n for n in f.notes)
    # QEMU's root ports have ACS; with the IOMMU on, the kernel's pci_enable_acs() turned redirection on.
    ports = [d for d in f if d.kind is DeviceKind.ROOT_PORT]
    assert all(d.acs.source is AcsSource.HARDWARE and d.acs.ctrl & (RR | CR) == RR | CR for d in ports)
    assert f.host.iommu is IommuMode.TRANSLATED and all(d.iommu_group is not None for d in f if d.kind.is_endpoint)
    assert f.host.kernel == KERNELS[-1].name.removeprefix("vmlinuz-")
    assert "intel_iommu=on" in f.host.cmdline
    assert all(d.link.mps is not None for d in f if d.link is not None and d.kind is not DeviceKind.HOST_BRIDGE)


@pytest.mark.skipif(LSPCI is None, reason="lspci is not installed")
def test_real_kernel_capture_agrees_with_lspci(capture, tmp_path):
    with tarfile.open(capture) as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "root"
    check_against_lspci(root, sysfs.load(root))


def test_real_kernel_rciep_and_empty_root_port(capture, capsys):
    # Linux 6.1 shows the NVMe on pcie.0 with max_link_width 255, current_link_speed Unknown and width 0; port
    # type 9 in its config space says what it is. Both load, shown as what they are.
    f = sysfs.load(capture)
    rciep = f.find("0000:00:06.0")
    assert rciep.kind is DeviceKind.NVME and rciep.integrated and rciep.link is None and rciep.parent is None
    assert f.upstream_bridge(rciep) is None and f.root_bus_of(rciep).host_bridge == "pci0000:00"
    assert any("root complex integrated endpoint" in n and "0000:00:06.0" in n for n in f.notes)
    empty = f.find("0000:80:00.0")
    assert empty.kind is DeviceKind.ROOT_PORT and f.children(empty) == []
    assert main(["show", str(capture)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "06.0  nvme" in row)
    assert "RCiEP: no link (integrated in the root complex)" in line
    line = next(row for row in out.splitlines() if "80:00.0  root_port" in row)
    assert "nothing below (empty slot or link down)" in line
    assert main(["show", "--json", str(capture)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert next(d for d in data["devices"] if d["bdf"] == "0000:00:06.0")["integrated"] is True
