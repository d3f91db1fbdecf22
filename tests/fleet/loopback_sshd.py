"""A throwaway sshd on 127.0.0.1 for the fleet tests, and an ssh config that maps node names onto it.

The daemon gets its own host key, one user key, a free port, and no PAM; it must run as root (privilege
separation needs /run/sshd and the sshd user's set-up, which Debian's openssh-server package provides). Each
node name becomes a Host block: the same sshd, with SetEnv choosing that node's fake sysfs root for the collector.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def why_no_sshd() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run sshd"
    if not os.path.exists(SSHD) or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "needs openssh-server and openssh-client (apt-get install openssh-server openssh-client)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LoopbackSshd:
    directory: Path
    port: int
    garbage_port: int  # the same sshd; logins through this port get a forced command that prints a banner only
    process: subprocess.Popen

    def ssh_config(
        self, nodes: dict[str, str | None], refused: tuple[str, ...] = (), garbage: tuple[str, ...] = ()
    ) -> Path:
        """Write an ssh config: each node of ``nodes`` logs in to this sshd with P2PTUI_SYSROOT set to its value;
        ``refused`` nodes point at a port nothing listens on; ``garbage`` nodes log in through the banner port."""
        dead = free_port()
        blocks = []
        for node in [*nodes, *refused, *garbage]:
            port = dead if node in refused else self.garbage_port if node in garbage else self.port
            lines = [f"Host {node}", "  HostName 127.0.0.1", f"  Port {port}", "  User root"]
            if nodes.get(node):
                lines.append(f"  SetEnv P2PTUI_SYSROOT={nodes[node]}")
            blocks.append("\n".join(lines))
        common = (
            "Host *\n"
            f"  IdentityFile {self.directory / 'user_key'}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.directory / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n"
            "  LogLevel ERROR\n"
        )
        path = self.directory / "ssh_config"
        path.write_text("\n\n".join(blocks) + "\n\n" + common)
        return path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_sshd(directory: Path) -> LoopbackSshd:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / name)], check=True)
    (directory / "authorized_keys").write_text((directory / "user_key.pub").read_text())
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation chroot
    port, garbage_port = free_port(), free_port()
    host_pub = (directory / "host_key.pub").read_text().split()
    (directory / "known_hosts").write_text(
        f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n[127.0.0.1]:{garbage_port} {host_pub[0]} {host_pub[1]}\n"
    )
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nPort {garbage_port}\nListenAddress 127.0.0.1\n"
        f"HostKey {directory / 'host_key'}\nPidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nAcceptEnv P2PTUI_SYSROOT\nPrintMotd no\nLogLevel ERROR\n"
        f"Match LocalPort {garbage_port}\n  ForceCommand echo 'Welcome! This node is managed by Puppet.'\n"
    )
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=open(directory / "sshd.log", "wb")
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {(directory / 'sshd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return LoopbackSshd(directory, port, garbage_port, process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("sshd did not start listening within 10 s")
