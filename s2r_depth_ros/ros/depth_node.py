"""The depth node: camera image (+ camera_info) in; depth, camera_info, points, colour out.

This module stays light to import: the model and its libraries (torch, the runtimes)
load when the node is created, after :func:`~.process.run_node` has installed the signal
handlers, so a Ctrl-C during those seconds of loading stops the process too.
"""

from __future__ import annotations

from rclpy.node import Node

from .process import run_node


class DepthNode(Node):
    """Monocular depth from S2R-DepthNet, published the way depth_image_proc users expect."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("depth_node", **node_kwargs)
        # The heavy imports (see the module's docstring).
        from .runtime import DepthRuntime
        from .settings import NodeSettings

        NodeSettings.declare(self)
        self.runtime = DepthRuntime(self, NodeSettings.read(self), self.create_publisher)
        self.add_on_set_parameters_callback(self.runtime.on_set_parameters)
        self.runtime.start()

    def destroy_node(self) -> None:
        self.runtime.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C or shutdown; exit status 1 on a configuration error."""
    return run_node(DepthNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
