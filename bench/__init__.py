"""sigma-exec benchmarks: sigma-exec's paths against raw docker-SDK baselines measured in the same run."""
