/**
 * Checks of the operations files: Prometheus config and alert rules, Grafana dashboard, Kubernetes manifests, the
 * Compose file, and the container images the build defines.
 */
package io.forgequeue.systemtest.ops;
