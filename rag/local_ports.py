"""Who answers on a loopback port. Sourcier sends every prompt (extracts of internal documents, agents' questions)
to its LLM server: whatever answers on the expected port is not trusted for answering there — another local user
who took the port first would read every prompt and write the answers."""

from __future__ import annotations

import os
import pwd

import psutil


def listener(port: int) -> psutil.Process | None:
    """The process listening on `port` on this machine, if the system lets us see it (another user's process is
    hidden from a non-root user: then None)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            if connection.pid is None:
                return None
            try:
                return psutil.Process(connection.pid)
            except psutil.Error:
                return None
    return None


def owner(process: psutil.Process) -> str:
    try:
        return pwd.getpwuid(process.uids().real).pw_name
    except (KeyError, psutil.Error):
        return "?"


def is_ours(process: psutil.Process | None, *markers: str) -> bool:
    """Run by this very user, with every marker in its command line (the module and the model Sourcier starts)."""
    if process is None:
        return False
    try:
        command = " ".join(process.cmdline())
        return process.uids().real == os.getuid() and all(marker in command for marker in markers)
    except psutil.Error:
        return False


def is_ollama(process: psutil.Process | None) -> bool:
    """Ollama's own binary, run by this user, by root or by its service account (`ollama`, as its installer makes)."""
    if process is None:
        return False
    try:
        name = os.path.basename(process.exe() or process.name())
    except psutil.Error:
        try:
            name = process.name()
        except psutil.Error:
            return False
    return name == "ollama" and (owner(process) in {"root", "ollama"} or process.uids().real == os.getuid())
