"""The process around a depth node: transport, signals, spinning, a clean and quick exit."""

from __future__ import annotations

import faulthandler
import os
import signal
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..errors import first_line
from .allocator import keep_freed_memory

# Fast DDS profiles the node applies when the user set none (README, "Transport"): UDP with
# 4 MiB socket buffers and no shared memory, so 1 MB camera images from publishers with
# default settings arrive (a default participant's 512 KB shared-memory segment drops them).
NODE_PROFILE = Path(__file__).resolve().with_name("fastdds_node.xml")
# The same limited to 127.0.0.1, for ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, whose rmw
# settings would replace a profile's transports.
NODE_PROFILE_LOCALHOST = Path(__file__).resolve().with_name("fastdds_node_localhost.xml")
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def choose_transport(environ: dict | os._Environ = os.environ) -> str:
    """Apply the node's Fast DDS profile to ``environ`` unless the user chose one.

    Runs before ``rclpy.init``. Returns a line saying what the node uses, for its log.
    """
    for variable in PROFILE_VARIABLES:
        if environ.get(variable):
            return f"transport: the Fast DDS profile in {variable}={environ[variable]}"
    rmw = environ.get("RMW_IMPLEMENTATION") or "rmw_fastrtps_cpp"
    if rmw != "rmw_fastrtps_cpp":
        return f"transport: {rmw}'s own settings"
    localhost = (environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST"
                 or environ.get("ROS_LOCALHOST_ONLY") == "1")
    profile = NODE_PROFILE_LOCALHOST if localhost else NODE_PROFILE
    if localhost:  # the profile itself keeps discovery and data on 127.0.0.1
        environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SYSTEM_DEFAULT"
        environ.pop("ROS_LOCALHOST_ONLY", None)
    for variable in PROFILE_VARIABLES:
        environ[variable] = str(profile)
    return (f"transport: the package's Fast DDS profile {profile.name} (large UDP buffers "
            "for 1 MB images; set FASTDDS_DEFAULT_PROFILES_FILE to use your own)")


def init_node_process(args: list[str] | None = None) -> None:
    """``rclpy.init`` for a process that runs a depth node, with malloc tuned for its frames.

    ``kill -USR1 <pid>`` makes the node print every thread's stack (where is it stuck?); a
    native crash prints them too before the process dies.

    Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread, through Python's own
    handler; rclpy's are not installed. Those wake executors from a native thread of their
    own, and tearing the executor down while that thread still triggered its guard
    conditions crashed nodes at exit (SIGSEGV in ``unregister_sigint_guard_condition``,
    twice in CI). :func:`spin_until_shutdown` wakes every half second, so the interrupt is
    acted on within that.
    """
    transport = choose_transport()
    tuned = keep_freed_memory()  # before any large buffer exists
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    logger = rclpy.logging.get_logger("depth_node")
    logger.info(transport)
    if not tuned:
        logger.warning("could not tune malloc (not glibc): large frames may cost extra page faults")


def spin_until_shutdown(node: Node) -> None:
    """``rclpy.spin(node)``, but waking at least every half second.

    Python raises the KeyboardInterrupt of a Ctrl-C only once the wait returns, so this bounds
    how long a node that nothing else wakes (an unconfigured lifecycle node has no timer or
    traffic) takes to act on it. Like ``rclpy.spin`` it leaves the global executor alive.
    """
    executor = rclpy.get_global_executor()
    executor.add_node(node)
    try:
        while executor.context.ok():
            executor.spin_once(timeout_sec=0.5)
    finally:
        executor.remove_node(node)


def _hold_further_signals() -> None:
    """Let the cleanup finish: ignore a repeated Ctrl-C, end at once on SIGTERM.

    Under ``ros2 launch`` a Ctrl-C reaches the node twice (from the terminal and from
    launch); the second must not abort the cleanup half-way. SIGTERM, launch's escalation,
    still ends the process at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create a node and spin it until Ctrl-C, SIGTERM or shutdown; then clean up.

    Exit status 0, or 1 when the node cannot start (a configuration error, logged on one
    line).
    """
    init_node_process(args)
    node = None
    try:
        node = make_node()
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError, OSError) as exc:
        rclpy.logging.get_logger("depth_node").fatal(f"cannot start: {first_line(exc)}")
        return 1
    finally:
        _hold_further_signals()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
