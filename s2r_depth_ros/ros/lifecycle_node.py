"""Managed (lifecycle) variant of the depth node.

configure: read and validate parameters, load the model, create publishers;
activate: subscribe and start inference; deactivate: stop; cleanup: release the model.
"""

from __future__ import annotations

from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.parameter import Parameter

from ..errors import first_line
from .process import run_node


class DepthLifecycleNode(LifecycleNode):
    """``depth_node`` as a managed node (name ``depth_node``)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("depth_node", **node_kwargs)
        # Imported here, after the signal handlers: see depth_node's docstring.
        from .settings import NodeSettings

        NodeSettings.declare(self)
        self.runtime = None  # a runtime.DepthRuntime while configured
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        # Unconfigured: anything goes (configure validates); configured: the runtime decides.
        if self.runtime is None:
            return SetParametersResult(successful=True)
        return self.runtime.on_set_parameters(parameters)

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        from .runtime import DepthRuntime
        from .settings import NodeSettings

        try:
            self.runtime = DepthRuntime(self, NodeSettings.read(self),
                                        self.create_lifecycle_publisher)
        except (ValueError, RuntimeError, OSError) as exc:
            self.get_logger().error(f"configure failed: {first_line(exc)}")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.runtime.start()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.runtime.stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
            for publisher in self.runtime.publishers:
                self.destroy_lifecycle_publisher(publisher)
            self.runtime = None

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the managed node; it starts unconfigured (drive it with `ros2 lifecycle set`)."""
    return run_node(DepthLifecycleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
