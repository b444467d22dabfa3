/** Checks of the operations files: Prometheus config and alert rules, Grafana dashboard, Kubernetes manifests. */
package io.forgequeue.systemtest.ops;
