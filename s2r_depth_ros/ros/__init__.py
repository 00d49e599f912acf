"""ROS 2 layer: the depth node, its parameters and the sensor_msgs conversions it uses."""
