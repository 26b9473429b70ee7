"""Cluster deployment files: the ray up, KubeRay and Grafana forms of the same app (docs/CLUSTER.md)."""
