"""Managed (lifecycle) variant of the depth node.

configure: read and validate parameters, load the model, create publishers;
activate: subscribe and start inference; deactivate: stop; cleanup: release the model.
"""

from __future__ import annotations

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.parameter import Parameter

from .depth_node import DepthPipeline, init_node_process, spin_until_shutdown
from .settings import NodeSettings


class DepthLifecycleNode(LifecycleNode):
    """``depth_node`` as a managed node (name ``depth_node``)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("depth_node", **node_kwargs)
        NodeSettings.declare(self)
        self.pipeline: DepthPipeline | None = None
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        # Unconfigured: anything goes (configure validates); configured: the pipeline decides.
        if self.pipeline is None:
            return SetParametersResult(successful=True)
        return self.pipeline.on_set_parameters(parameters)

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.pipeline = DepthPipeline(self, NodeSettings.read(self),
                                          self.create_lifecycle_publisher)
        except (ValueError, RuntimeError, OSError) as exc:
            self.get_logger().error(f"configure failed: {str(exc).splitlines()[0]}")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.pipeline.start()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.pipeline.stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            for publisher in self.pipeline.publishers:
                self.destroy_lifecycle_publisher(publisher)
            self.pipeline = None


def main(args: list[str] | None = None) -> int:
    """Run the managed node; it starts unconfigured (drive it with `ros2 lifecycle set`)."""
    init_node_process(args)
    node = DepthLifecycleNode()
    try:
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node._release()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
