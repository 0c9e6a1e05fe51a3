# Import by host; the next apply reads the node and brings it to `image`.
terraform import elemental_node.worker 10.0.0.21
